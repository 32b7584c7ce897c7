"""Backend-neutral descriptions of a sequence model, its parameters, gradients and training log.

Both backends share these: ``bpttlab.numpy.seq`` and ``bpttlab.torch.seq`` compute with
them, ``bpttlab.numpy.train`` and ``bpttlab.torch.train`` return a :class:`TrainLog`.
Nothing here imports NumPy code of a backend or torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from bpttlab import cells
from bpttlab._checks import check_choice
from bpttlab.params import ReadoutGrads, ReadoutParams

LOSSES = ("mse", "xent")


@dataclass(frozen=True, kw_only=True)
class SeqModel:
    """What a sequence model is made of: the cell's kind and options, and its loss.

    cell: a name in bpttlab.cells.CELLS ("rnn" | "lstm" | "gru"); activation: the RNN's
    ("tanh" | "relu" | "linear"); variant: the GRU's ("torch" | "cho"); loss: "mse" | "xent".
    An option of another cell is checked but unused.
    """

    cell: str = "rnn"
    activation: str = "tanh"
    variant: str = "torch"
    loss: str = "mse"

    def __post_init__(self) -> None:
        cells.get(self.cell)
        check_choice("activation", self.activation, cells.CELLS["rnn"].choices)
        check_choice("variant", self.variant, cells.CELLS["gru"].choices)
        check_choice("loss", self.loss, LOSSES)

    @property
    def spec(self) -> cells.CellSpec:
        """The registry entry of the cell."""
        return cells.CELLS[self.cell]

    def options(self) -> dict[str, Any]:
        """The keyword options of the cell's functions, e.g. {"activation": "tanh"} ({} for the LSTM)."""
        spec = self.spec
        return {} if spec.option is None else {spec.option: getattr(self, spec.option)}


def check_model(model: Any) -> SeqModel:
    """Raise TypeError unless ``model`` is a SeqModel."""
    if not isinstance(model, SeqModel):
        raise TypeError(f"model: expected a bpttlab.seqmodel.SeqModel, got {type(model).__name__}")
    return model


class SeqParams(NamedTuple):
    """A cell's parameters (RNNParams, LSTMParams, GRUParams) and the readout's."""

    cell: Any
    readout: ReadoutParams


class SeqGrads(NamedTuple):
    """Gradients of the fields of SeqParams."""

    cell: Any
    readout: ReadoutGrads


class SeqResult(NamedTuple):
    """loss: the objective; grads: its (possibly truncated) gradient; final_state: the state after step T."""

    loss: float
    grads: SeqGrads
    final_state: Any


class TrainLog(NamedTuple):
    """Per update: the loss of its chunk (summed into ``loss`` per training step), the gradient's
    global norm before clipping, and whether clipping changed it. ``loss`` has one entry per
    training step (the whole batch's objective)."""

    loss: np.ndarray
    update_loss: np.ndarray
    grad_norm: np.ndarray
    clipped: np.ndarray
