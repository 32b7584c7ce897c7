"""NumPy backend: forward and backward passes written by hand (no autograd)."""

from bpttlab.numpy import layers, mlp, rnn, seq, train

__all__ = ["layers", "mlp", "rnn", "seq", "train"]
