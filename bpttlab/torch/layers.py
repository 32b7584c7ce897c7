"""The layers of ``bpttlab.numpy.layers`` in torch ops; gradients come from autograd.

Same names and arguments as the NumPy backend; each function returns only its
output, since autograd keeps what the backward pass needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bpttlab.torch._checks import check_dtype, check_shape


def affine_forward(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """out = x W^T + b.  x (..., D), W (M, D), b (M,) -> out (..., M)."""
    if W.dim() != 2 or x.shape[-1] != W.shape[1]:
        raise ValueError(f"x: expected last axis D = W.shape[1], got x {tuple(x.shape)} and W {tuple(W.shape)}")
    check_shape("b", b, (W.shape[0],))
    check_dtype("W", W, "x", x.dtype)
    return x @ W.T + b


def tanh_forward(a: torch.Tensor) -> torch.Tensor:
    """h = tanh(a)."""
    return torch.tanh(a)


def sigmoid_forward(a: torch.Tensor) -> torch.Tensor:
    """s = 1 / (1 + exp(-a))."""
    return torch.sigmoid(a)


def relu_forward(a: torch.Tensor) -> torch.Tensor:
    """r = max(a, 0)."""
    return torch.relu(a)


def mse_loss(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean (or sum) of (pred - target)^2 over all elements."""
    check_shape("target", target, pred.shape)
    return F.mse_loss(pred, target, reduction=reduction)


def softmax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean (or sum) of -log softmax(logits)[label].  logits (..., C), labels (...) int64."""
    check_shape("labels", labels, logits.shape[:-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction=reduction)
