"""NumPy backend: forward and backward passes written by hand (no autograd)."""

from bpttlab.numpy import artbp, attention, checkpoint, gru, layers, lstm, mlp, rnn, rtrl, seq, train

__all__ = ["artbp", "attention", "checkpoint", "gru", "layers", "lstm", "mlp", "rnn", "rtrl", "seq", "train"]
