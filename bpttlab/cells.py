"""The registry of recurrent cells: what each cell is, written in one place.

Every part of bpttlab that needs to know about cells reads this module: the sequence
models of both backends (``bpttlab.numpy.seq``, ``bpttlab.torch.seq``), the torch models,
``bpttlab.torch.nnmap``, ``bpttlab.diagnostics``, ``bpttlab.init``,
``bpttlab.params.cell_param_count``, the ensemble trainer, the tests and the lessons.

A :class:`CellSpec` names a cell's parameter, gradient and state containers, the shapes of
its fields, its number of gate blocks, its option (the RNN's activation, the GRU's variant),
its initialiser, its NumPy and torch modules and its torch.nn class. A :class:`Variant` is
one cell with one value of its option; :data:`VARIANTS` lists them all, which is what the
contract tests run over.

Every cell module, on both backends, offers the same functions with the same argument
order (``opts`` is the cell's option as a keyword, for example ``activation="tanh"``)::

    step_forward(x_t, state_prev, params, **opts) -> (state_t, step_cache)
    step_backward(dstate_t, step_cache) -> (dx_t, dstate_prev, grads)
    forward(x, state0, params, **opts)  -> (hs, cache)
    backward(dhs, cache)                -> (dx, dstate0, grads)
    states(x, state0, params, **opts)   -> [state_0, ..., state_T]
    state_at(cache, t)                  -> state after t steps
    zero_state(params, B)               -> the all-zero state
    state_grads(dhs, cache)             -> dL/dh_t for every t (T, B, H)

Shapes are time-first: x (T, B, D), hs (T, B, H). A state is the array h (B, H), or the
state container (``LSTMState(h, c)``); its gradient is the array dh or the matching
gradient container (``LSTMStateGrads(dh, dc)``). On the NumPy backend the backward functions
are written by hand; on the torch backend they are autograd's, so the two can be compared
call for call.

Adding a cell: write ``bpttlab/numpy/<name>.py`` and ``bpttlab/torch/<name>.py`` with the
functions above, add its containers to ``bpttlab.params``, its initialiser to
``bpttlab.init``, and one entry to :data:`CELLS` below (CONTRIBUTING.md walks through it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from bpttlab._checks import check_choice
from bpttlab.params import (
    GRUGrads,
    GRUParams,
    LSTMGrads,
    LSTMParams,
    LSTMState,
    LSTMStateGrads,
    RNNGrads,
    RNNParams,
)


@dataclass(frozen=True)
class CellSpec:
    """One recurrent cell.

    fields: each parameter field's axes, with "G" standing for ``gates * H``;
    option: the name of the cell's one option (or None), choices its values, default the first;
    nn_class: the torch.nn class computing the same function (by name), and ``nn_options``
    the option values it can compute, each with the keyword arguments it takes;
    biases: bias vectors per gate block in bpttlab (torch.nn always has 2).
    """

    name: str
    gates: int
    params: type
    grads: type
    state: type | None
    state_grads: type | None
    fields: dict[str, tuple[str, ...]]
    option: str | None
    choices: tuple[str, ...]
    init: str
    numpy_module: str
    torch_module: str
    nn_class: str
    nn_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    biases: int = 1
    state_names: tuple[str, ...] = ("h",)

    @property
    def default(self) -> str | None:
        return self.choices[0] if self.choices else None

    def numpy(self) -> ModuleType:
        """The NumPy module of this cell (hand-written backward passes)."""
        return importlib.import_module(self.numpy_module)

    def torch(self) -> ModuleType:
        """The torch module of this cell (autograd); imports torch."""
        return importlib.import_module(self.torch_module)

    def module(self, backend: str) -> ModuleType:
        """The cell's module of ``backend`` ("numpy" or "torch")."""
        check_choice("backend", backend, ("numpy", "torch"))
        return self.numpy() if backend == "numpy" else self.torch()

    def initialiser(self) -> Callable[..., Any]:
        """The function of bpttlab.init that makes this cell's parameters."""
        return getattr(importlib.import_module("bpttlab.init"), self.init)

    def options(self, **given: Any) -> dict[str, Any]:
        """The option keyword of this cell, checked, with its default filled in: {} for the LSTM."""
        if self.option is None:
            if given:
                raise ValueError(f"{', '.join(given)}: the {self.name} cell takes no options, got {given}")
            return {}
        extra = set(given) - {self.option}
        if extra:
            raise ValueError(f"{', '.join(sorted(extra))}: the {self.name} cell takes only {self.option!r}")
        value = given.get(self.option, self.default)
        check_choice(self.option, value, self.choices)
        return {self.option: value}

    def nn(self, **options: Any) -> tuple[type, dict[str, Any]] | None:
        """(torch.nn class, its keyword arguments) computing this cell with ``options``, or None if torch.nn has none."""
        value = self.options(**options).get(self.option) if self.option else None
        key = value if self.option else ""
        if key not in self.nn_options:
            return None
        from torch import nn

        return getattr(nn, self.nn_class), dict(self.nn_options[key])

    def param_count(self, D: int, H: int, biases: int | None = None) -> int:
        """gates * H * (D + H + biases); ``biases`` per gate block, default bpttlab's (torch.nn: 2)."""
        from bpttlab._checks import check_int, check_positive_int

        D, H = check_positive_int("D", D), check_positive_int("H", H)
        biases = self.biases if biases is None else check_int("biases", biases, 1, 2)
        return self.gates * H * (D + H + biases)


def _layer(gates: int, bias_names: tuple[str, ...], w_x: str, w_h: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {w_x: ("G", "D"), w_h: ("G", "H")}
    out.update({b: ("G",) for b in bias_names})
    return out


#: Every cell bpttlab knows, by name (``"rnn"``, ``"lstm"``, ``"gru"``).
CELLS: dict[str, CellSpec] = {
    "rnn": CellSpec(
        name="rnn",
        gates=1,
        params=RNNParams,
        grads=RNNGrads,
        state=None,
        state_grads=None,
        fields=_layer(1, ("b_h",), "W_xh", "W_hh"),
        option="activation",
        choices=("tanh", "relu", "linear"),
        init="init_rnn",
        numpy_module="bpttlab.numpy.rnn",
        torch_module="bpttlab.torch.rnn",
        nn_class="RNN",
        nn_options={"tanh": {"nonlinearity": "tanh"}, "relu": {"nonlinearity": "relu"}},
    ),
    "lstm": CellSpec(
        name="lstm",
        gates=4,
        params=LSTMParams,
        grads=LSTMGrads,
        state=LSTMState,
        state_grads=LSTMStateGrads,
        fields=_layer(4, ("b",), "W_x", "W_h"),
        option=None,
        choices=(),
        init="init_lstm",
        numpy_module="bpttlab.numpy.lstm",
        torch_module="bpttlab.torch.lstm",
        nn_class="LSTM",
        nn_options={"": {}},
        state_names=("h", "c"),
    ),
    "gru": CellSpec(
        name="gru",
        gates=3,
        params=GRUParams,
        grads=GRUGrads,
        state=None,
        state_grads=None,
        fields=_layer(3, ("b_x", "b_hh"), "W_x", "W_h"),
        option="variant",
        choices=("torch", "cho"),
        init="init_gru",
        numpy_module="bpttlab.numpy.gru",
        torch_module="bpttlab.torch.gru",
        nn_class="GRU",
        nn_options={"torch": {}},
        biases=2,
    ),
}

NAMES: tuple[str, ...] = tuple(CELLS)


def get(cell: Any) -> CellSpec:
    """The CellSpec of ``cell`` ("rnn", "lstm" or "gru"; a CellSpec is returned as it is)."""
    if isinstance(cell, CellSpec):
        return cell
    check_choice("cell", cell, NAMES)
    return CELLS[cell]


def of_params(params: Any) -> CellSpec:
    """The CellSpec whose parameter container ``params`` is."""
    for spec in CELLS.values():
        if isinstance(params, spec.params):
            return spec
    names = ", ".join(s.params.__name__ for s in CELLS.values())
    raise TypeError(f"params: expected one of {names}, got {type(params).__name__}")


@dataclass(frozen=True)
class Variant:
    """One cell with one value of its option, for example the GRU with variant "cho"."""

    spec: CellSpec
    options: dict[str, Any]

    @property
    def id(self) -> str:
        return self.spec.name if not self.options else f"{self.spec.name}-{next(iter(self.options.values()))}"

    @property
    def has_nn(self) -> bool:
        """Whether torch.nn has a module computing this variant (linear RNN and Cho's GRU: no)."""
        key = next(iter(self.options.values())) if self.options else ""
        return key in self.spec.nn_options


def variants() -> list[Variant]:
    """Every registered cell with every value of its option, in registry order."""
    out = []
    for spec in CELLS.values():
        if spec.option is None:
            out.append(Variant(spec, {}))
        else:
            out.extend(Variant(spec, {spec.option: c}) for c in spec.choices)
    return out


#: Every cell with every value of its option, in registry order.
VARIANTS: tuple[Variant, ...] = tuple(variants())
