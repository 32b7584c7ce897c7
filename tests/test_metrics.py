"""Tests for bpttlab.metrics and the fixed-label option of motion_clips."""

from __future__ import annotations

import numpy as np
import pytest

from bpttlab import metrics, video


def test_confusion_matrix_counts():
    labels = np.array([0, 0, 1, 2, 2, 2])
    preds = np.array([0, 1, 1, 2, 0, 2])
    m = metrics.confusion_matrix(labels, preds, 3)
    assert m.dtype == np.int64
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    np.testing.assert_array_equal(m.sum(axis=1), np.bincount(labels, minlength=3))
    assert np.trace(m) == int((labels == preds).sum())


@pytest.mark.parametrize(
    "labels, preds, match",
    [
        (np.array([0.0, 1.0]), np.array([0, 1]), "labels: expected an integer dtype"),
        (np.array([0, 3]), np.array([0, 1]), r"labels: expected values in \[0, 2\]"),
        (np.array([0, 1]), np.array([0, 1, 1]), r"predictions: expected shape \(N,\) = \(2,\)"),
    ],
)
def test_confusion_matrix_rejects_bad_input(labels, preds, match):
    with pytest.raises((TypeError, ValueError), match=match):
        metrics.confusion_matrix(labels, preds, 3)


def test_linear_probe_separable_and_label_independent():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=600)
    centres = np.array([[3.0, 0.0], [0.0, 3.0], [-3.0, -3.0]])
    X = centres[y] + 0.3 * rng.standard_normal((600, 2))
    acc = metrics.linear_probe(X[:400], y[:400], X[400:], y[400:], 3)
    assert acc > 0.97
    assert acc == metrics.linear_probe(X[:400], y[:400], X[400:], y[400:], 3)  # deterministic
    noise = rng.standard_normal((600, 2))
    chance = metrics.linear_probe(noise[:400], y[:400], noise[400:], y[400:], 3)
    assert chance < 0.5


def test_linear_probe_rejects_bad_input():
    X = np.zeros((4, 2))
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="test_features: expected K = 2"):
        metrics.linear_probe(X, y, np.zeros((4, 3)), y, 2)
    with pytest.raises(ValueError, match="lr: expected a positive"):
        metrics.linear_probe(X, y, X, y, 2, lr=0.0)
    with pytest.raises(ValueError, match=r"train_features: expected 2 axes \(N, K\)"):
        metrics.linear_probe(np.zeros(4), y, X, y, 2)
    with pytest.raises(TypeError, match="train_features: expected dtype float32 or float64"):
        metrics.linear_probe(X.astype(int), y, X, y, 2)


def test_motion_clips_fixed_labels():
    labels = np.array([0, 1, 2, 3, 3])
    frames, got = video.motion_clips(6, 5, np.random.default_rng(0), labels=labels)
    np.testing.assert_array_equal(got, labels)
    assert frames.shape == (6, 5, 16, 16)
    # None keeps the random stream of the default call
    a = video.motion_clips(6, 5, np.random.default_rng(1))
    b = video.motion_clips(6, 5, np.random.default_rng(1), labels=None)
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="labels"):
        video.motion_clips(6, 5, np.random.default_rng(0), labels=np.array([0, 9, 0, 0, 0]))
