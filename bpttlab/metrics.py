"""Classification metrics for the application lessons: confusion matrices and linear probes.

Labels are integer class indices 0..C-1. Everything is NumPy and deterministic.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from bpttlab._checks import (
    check_finite,
    check_float_array,
    check_int_array,
    check_number,
    check_positive_int,
    check_shape,
)


def _labels(name: str, value: object, n_classes: int, N: int | None = None) -> np.ndarray:
    """Class indices: a 1-D integer array (N,) with values in [0, n_classes)."""
    check_int_array(name, value, ("N",), 0, n_classes - 1)
    if N is not None:
        check_shape(name, value, (N,), ("N",))
    return cast(np.ndarray, value)  # check_int_array raised unless it is one


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts M[i, j] = number of examples of true class i predicted as class j.

    labels (N,) and predictions (N,) int in [0, n_classes) -> M (n_classes, n_classes) int64;
    row sums are the class counts, the trace is the number of correct answers.
    """
    n_classes = check_positive_int("n_classes", n_classes)
    labels = _labels("labels", labels, n_classes)
    predictions = _labels("predictions", predictions, n_classes, labels.shape[0])
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
    lr = check_number("lr", lr, positive=True)
    l2 = check_number("l2", l2, nonnegative=True)
    arrays = []
    for name, value in (("train_features", train_features), ("test_features", test_features)):
        check_float_array(name, value, ("N", "K"))
        check_finite(name, value)
        arrays.append(value.astype(np.float64))
    X, Xt = arrays
    if Xt.shape[1] != X.shape[1]:
        raise ValueError(f"test_features: expected K = {X.shape[1]} columns like train_features, got {Xt.shape[1]}")
    y = _labels("train_labels", train_labels, n_classes, X.shape[0])
    yt = _labels("test_labels", test_labels, n_classes, Xt.shape[0])
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
