"""Torch backend: the same maths as ``bpttlab.numpy`` in torch ops; gradients by autograd."""

from bpttlab.torch import (
    attention,
    checkpoint,
    convert,
    gru,
    layers,
    lstm,
    mlp,
    models,
    nnmap,
    rnn,
    saving,
    seq,
    textgen,
    train,
)
from bpttlab.torch.convert import grads_of, to_numpy, to_torch

__all__ = [
    "attention",
    "checkpoint",
    "convert",
    "gru",
    "layers",
    "lstm",
    "mlp",
    "models",
    "nnmap",
    "rnn",
    "saving",
    "seq",
    "textgen",
    "train",
    "grads_of",
    "to_numpy",
    "to_torch",
]
