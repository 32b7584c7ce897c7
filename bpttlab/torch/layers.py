"""The layers of ``bpttlab.numpy.layers`` in torch ops; gradients come from autograd.

Same names and arguments as the NumPy backend; each function returns only its
output, since autograd keeps what the backward pass needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bpttlab._checks import (
    check_choice,
    check_finite,
    check_float_array,
    check_float_input,
    check_int_array,
    check_same_dtype,
    check_shape,
)

REDUCTIONS = ("mean", "sum")


def affine_forward(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """out = x W^T + b.  x (..., D), W (M, D), b (M,) -> out (..., M)."""
    check_float_input("x", x, "(..., D)", 1, "torch")
    check_float_array("W", W, ("M", "D"), "torch")
    check_finite("W", W)
    check_float_array("b", b, ("M",), "torch")
    check_finite("b", b)
    if x.shape[-1] != W.shape[1]:
        raise ValueError(f"x: expected last axis D = {W.shape[1]} (from W), got shape {tuple(x.shape)}")
    check_shape("b", b, (W.shape[0],), ("M",))
    check_same_dtype("W", W, "x", x.dtype)
    check_same_dtype("b", b, "x", x.dtype)
    return x @ W.T + b


def tanh_forward(a: torch.Tensor) -> torch.Tensor:
    """h = tanh(a)."""
    return torch.tanh(check_float_input("a", a, "(...)", 1, "torch"))


def sigmoid_forward(a: torch.Tensor) -> torch.Tensor:
    """s = 1 / (1 + exp(-a))."""
    return torch.sigmoid(check_float_input("a", a, "(...)", 1, "torch"))


def relu_forward(a: torch.Tensor) -> torch.Tensor:
    """r = max(a, 0)."""
    return torch.relu(check_float_input("a", a, "(...)", 1, "torch"))


def mse_loss(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean (or sum) of (pred - target)^2 over all elements."""
    check_choice("reduction", reduction, REDUCTIONS)
    check_float_input("pred", pred, "(...)", 1, "torch")
    check_float_input("target", target, "(...)", 1, "torch")
    check_shape("target", target, pred.shape, [str(s) for s in pred.shape])
    check_same_dtype("target", target, "pred", pred.dtype)
    return F.mse_loss(pred, target, reduction=reduction)


def softmax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean (or sum) of -log softmax(logits)[label].  logits (..., C), labels (...) int64."""
    check_choice("reduction", reduction, REDUCTIONS)
    check_float_input("logits", logits, "(..., C)", 1, "torch")
    check_int_array("labels", labels, backend="torch")
    check_shape("labels", labels, logits.shape[:-1], [str(s) for s in logits.shape[:-1]])
    C = logits.shape[-1]
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= C):
        raise ValueError(
            f"labels: expected class indices in [0, {C - 1}], got range [{int(labels.min())}, {int(labels.max())}]"
        )
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction=reduction)
