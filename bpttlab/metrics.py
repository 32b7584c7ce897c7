"""Classification metrics for the application lessons: confusion matrices and linear probes.

Labels are integer class indices 0..C-1. Everything is NumPy and deterministic.
"""

from __future__ import annotations

import numpy as np

from bpttlab._checks import check_positive_int


def _check_labels(name: str, value: object, n_classes: int, shape: tuple[int, ...] | None = None) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.ndim != 1 or not np.issubdtype(value.dtype, np.integer):
        raise TypeError(
            f"{name}: expected a 1-D integer numpy array of class indices, got "
            f"{type(value).__name__} with shape {getattr(value, 'shape', None)} and dtype {getattr(value, 'dtype', None)}"
        )
    if shape is not None and value.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {value.shape}")
    if value.size and (value.min() < 0 or value.max() >= n_classes):
        raise ValueError(f"{name}: expected class indices in [0, {n_classes - 1}], got values in [{value.min()}, {value.max()}]")
    return value


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts M[i, j] = number of examples of true class i predicted as class j.

    labels (N,) and predictions (N,) int in [0, n_classes) -> M (n_classes, n_classes) int64;
    row sums are the class counts, the trace is the number of correct answers.
    """
    n_classes = check_positive_int("n_classes", n_classes)
    labels = _check_labels("labels", labels, n_classes)
    predictions = _check_labels("predictions", predictions, n_classes, labels.shape)
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts


def linear_probe(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    n_classes: int,
    steps: int = 300,
    lr: float = 0.5,
    l2: float = 1e-3,
) -> float:
    """Test accuracy of a softmax regression p(y | z) = softmax(W z + b) fitted on the training features.

    Features are standardised with the training mean and standard deviation; W, b start at zero and take
    ``steps`` full-batch gradient steps on the mean cross-entropy plus (l2 / 2) ||W||^2, so the result is
    deterministic. train_features (N, K), train_labels (N,), test_features (M, K), test_labels (M,) -> accuracy.
    """
    n_classes = check_positive_int("n_classes", n_classes)
    steps = check_positive_int("steps", steps)
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: expected a positive finite step size, got {lr!r}")
    if not (np.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2: expected a finite penalty >= 0, got {l2!r}")
    arrays = []
    for name, value in (("train_features", train_features), ("test_features", test_features)):
        if not isinstance(value, np.ndarray) or value.ndim != 2 or not np.issubdtype(value.dtype, np.floating):
            raise TypeError(f"{name}: expected a 2-D float numpy array (N, K), got {getattr(value, 'shape', type(value).__name__)}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name}: expected finite values")
        arrays.append(value.astype(np.float64))
    X, Xt = arrays
    if Xt.shape[1] != X.shape[1]:
        raise ValueError(f"test_features: expected K = {X.shape[1]} columns like train_features, got {Xt.shape[1]}")
    y = _check_labels("train_labels", train_labels, n_classes, (X.shape[0],))
    yt = _check_labels("test_labels", test_labels, n_classes, (Xt.shape[0],))
    mean, std = X.mean(axis=0), X.std(axis=0) + 1e-8
    X, Xt = (X - mean) / std, (Xt - mean) / std
    W, b = np.zeros((X.shape[1], n_classes)), np.zeros(n_classes)
    Y = np.eye(n_classes)[y]
    for _ in range(steps):
        z = X @ W + b
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        W -= lr * (X.T @ (p - Y) / len(X) + l2 * W)
        b -= lr * (p - Y).mean(axis=0)
    return float(((Xt @ W + b).argmax(axis=1) == yt).mean())
