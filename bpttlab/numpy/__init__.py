"""NumPy backend: forward and backward passes written by hand (no autograd)."""

from bpttlab.numpy import gru, layers, lstm, mlp, rnn, seq, train

__all__ = ["gru", "layers", "lstm", "mlp", "rnn", "seq", "train"]
