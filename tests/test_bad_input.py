"""Bad input on every public function of both backends, as one table.

Every row is a call that must fail: it names the exception class (TypeError for a wrong
type, ValueError for a wrong value or shape, FloatingPointError for NaN or inf) and a
regular expression the message must match, which names the public argument (``^x:``,
``^params\\.cell\\.W_hh:``, ``^make_batch\\(rng\\)\\.mask:``, ...). The exception class must be
exactly the one named (a subclass such as numpy.linalg.LinAlgError does not count).

The cell rows are generated from the registry: every ``bpttlab.cells.VARIANTS`` entry on
both backends gets the same rows for every function of the cell contract; the sequence
model rows likewise. The helper rows are written out, module by module. A second table
holds GOOD calls: NumPy scalars (np.float32, np.int64, ...) where Python numbers are
accepted, each compared with the same call made with Python numbers.

The ids say where a row belongs: ``numpy/...`` and ``torch/...`` for the two backends,
``helpers/...`` for the backend-neutral modules. ``pytest --collect-only -q`` counts them.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from bpttlab import (  # noqa: E402  # noqa: E402  # noqa: E402
    animation,
    cells,
    clip,
    cost,
    diagnostics,
    gradcheck,
    init,
    metrics,
    optim,
    plotting,
    series,
    tasks,
    text,
    video,
)
from bpttlab import params as P
from bpttlab.numpy import ensemble, layers, mlp, seq  # noqa: E402
from bpttlab.numpy import train as nptrain  # noqa: E402
from bpttlab.params import (  # noqa: E402
    LSTMState,
    LSTMStateGrads,
    ReadoutGrads,
    ReadoutParams,
    RNNGrads,
    RNNParams,
)
from bpttlab.seqmodel import SeqGrads, SeqModel, SeqParams, check_model  # noqa: E402
from bpttlab.tasks import TaskBatch  # noqa: E402
from bpttlab.torch import convert, models, nnmap, pretrain, textgen  # noqa: E402
from bpttlab.torch import layers as tlayers  # noqa: E402
from bpttlab.torch import mlp as tmlp  # noqa: E402
from bpttlab.torch import seq as tseq  # noqa: E402
from bpttlab.torch import train as ttrain  # noqa: E402
from bpttlab.truncation import check_truncation, windows  # noqa: E402

NAN, INF = float("nan"), float("inf")
BACKENDS = ("numpy", "torch")
T, B, D, H, O = 3, 2, 4, 5, 2

CASES: list[Any] = []
GOOD: list[Any] = []

# Rows that fail today in modules this table does not own (the cell modules and bpttlab.cells): reported to
# their owner with the failing call. strict=True: once fixed, the row passes and the marker must go.
_USED: set[str] = set()


def _unique(case_id: str, pattern: str) -> str:
    """``case_id``, or, if a row already has it, the id followed by the expected message (made readable)."""
    if case_id in _USED:
        readable = re.sub(r"\\(.)", r"\1", pattern.lstrip("^"))[:50]
        case_id = f"{case_id} -> {readable}"
    n, base = 2, case_id
    while case_id in _USED:
        case_id, n = f"{base} #{n}", n + 1
    _USED.add(case_id)
    return case_id


def bad(case_id: str, call: Callable[[], Any], exc: type[BaseException], pattern: str) -> None:
    """One row: ``call()`` raises exactly ``exc`` with a message matching ``pattern`` (re.search)."""
    CASES.append(pytest.param(call, exc, pattern, id=_unique(case_id, pattern)))


def good(case_id: str, with_numpy_scalars: Callable[[], Any], with_python_numbers: Callable[[], Any]) -> None:
    """One good row: the call with NumPy scalars succeeds and equals the call with Python numbers."""
    GOOD.append(pytest.param(with_numpy_scalars, with_python_numbers, id=_unique(case_id, "good")))


def label(value: Any) -> str:
    """A short one-line description of an argument, for a row's id."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return f"{type(value).__name__}{tuple(value.shape)} {value.dtype}"
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    text = repr(value).replace("\n", " ")
    return text if len(text) <= 40 else text[:37] + "..."


def kw_label(kw: dict[str, Any]) -> str:
    return ", ".join(f"{k}={label(v)}" for k, v in kw.items())


def put(a: Any, index: Any, value: float = NAN) -> Any:
    """A copy of the array or tensor ``a`` with ``a[index] = value``."""
    b = a.clone() if isinstance(a, torch.Tensor) else a.copy()
    b[index] = value
    return b


def shorten(a: Any, axis: int) -> Any:
    """``a`` with its last entry along ``axis`` dropped."""
    index = [slice(None)] * a.ndim
    index[axis] = slice(0, a.shape[axis] - 1)
    return a[tuple(index)]


def on(backend: str, a: Any) -> Any:
    """A NumPy array moved to ``backend`` (a tensor of the same dtype for "torch")."""
    return torch.tensor(a) if backend == "torch" else a


def other(backend: str, a: Any) -> Any:
    """The same values as the other backend's type: a tensor for NumPy, an array for torch."""
    return a.detach().numpy().copy() if isinstance(a, torch.Tensor) else torch.tensor(a)


def as_dtype(a: Any, kind: str) -> Any:
    """``a`` as float32 ("f32"), float64 ("f64") or int64 ("int"), on its own backend."""
    if isinstance(a, torch.Tensor):
        return a.to({"f32": torch.float32, "f64": torch.float64, "int": torch.int64}[kind])
    return a.astype({"f32": np.float32, "f64": np.float64, "int": np.int64}[kind])


def tmap(fn: Callable[[Any], Any], tree: Any) -> Any:
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(tmap(fn, t) for t in tree))
    return fn(tree)


def dtype_re(name: str) -> str:
    """A dtype in a message on either backend: float32 or torch.float32."""
    return rf"(torch\.)?{name}"


# ----------------------------------------------------------------- one cell on one backend


class CellKit:
    """Good arguments for every function of one cell variant on one backend, and what its messages call them."""

    def __init__(self, variant: cells.Variant, backend: str) -> None:
        self.v, self.spec, self.backend = variant, variant.spec, backend
        self.mod = variant.spec.module(backend)
        self.opts = dict(variant.options)
        rng = np.random.default_rng(0)
        params = self.spec.initialiser()(D, H, rng)
        params = type(params)(*(a + 0.1 * rng.standard_normal(a.shape) if a.ndim == 1 else a for a in params))
        h, c = 0.5 * rng.standard_normal((B, H)), 0.5 * rng.standard_normal((B, H))
        state = LSTMState(h, c) if self.spec.state else h
        self.params = convert.to_torch(params) if backend == "torch" else params
        self.x = on(backend, rng.standard_normal((T, B, D)))
        self.state = tmap(lambda a: on(backend, a), state)
        lstm = self.spec.state is not None
        self.state0 = "state0" if lstm else "h0"
        self.state_prev = "state_prev" if lstm else "h_prev"
        self.dstate = "dstate_t" if lstm else "dh_t"
        self.w_x, self.w_h = list(self.spec.fields)[:2]
        self.hs, self.cache = self.forward()
        self.step_state, self.step_cache = self.step()

    # the calls, each with every argument replaceable
    def forward(self, x: Any = None, state: Any = None, params: Any = None, **opts: Any) -> Any:
        return self.mod.forward(self._x(x), self._s(state), self._p(params), **(opts or self.opts))

    def step(self, x_t: Any = None, state: Any = None, params: Any = None, **opts: Any) -> Any:
        x_t = self.x[0] if x_t is None else x_t
        return self.mod.step_forward(x_t, self._s(state), self._p(params), **(opts or self.opts))

    def states(self, x: Any = None, state: Any = None, params: Any = None, **opts: Any) -> Any:
        return self.mod.states(self._x(x), self._s(state), self._p(params), **(opts or self.opts))

    def backward(self, dhs: Any, cache: Any = None) -> Any:
        return self.mod.backward(dhs, self.cache if cache is None else cache)

    def step_backward(self, dstate: Any, cache: Any = None) -> Any:
        return self.mod.step_backward(dstate, self.step_cache if cache is None else cache)

    def state_grads(self, dhs: Any, cache: Any = None) -> Any:
        return self.mod.state_grads(dhs, self.cache if cache is None else cache)

    def _x(self, x: Any) -> Any:
        return self.x if x is None else x

    def _s(self, state: Any) -> Any:
        return self.state if state is None else state

    def _p(self, params: Any) -> Any:
        return self.params if params is None else params

    # good values of the backward functions
    def dhs(self) -> Any:
        return on(self.backend, np.ones((T, B, H)))

    def dstate_good(self) -> Any:
        ones = on(self.backend, np.ones((B, H)))
        return LSTMStateGrads(ones, ones) if self.spec.state_grads else ones

    def h(self, state: Any) -> Any:
        return state.h if self.spec.state else state

    def with_h(self, state: Any, h: Any) -> Any:
        return state._replace(h=h) if self.spec.state else h


KITS = {(v.id, backend): CellKit(v, backend) for v in cells.VARIANTS for backend in BACKENDS}


def other_cell_cache(kit: CellKit) -> Any:
    """The sequence cache of a different cell on the same backend."""
    for (vid, backend), k in KITS.items():
        if backend == kit.backend and k.spec.name != kit.spec.name:
            return k.cache
    raise AssertionError("no other cell")


def bogus_option(kit: CellKit) -> tuple[dict[str, Any], type[BaseException], str]:
    """An option the cell does not have, or a value its option does not take."""
    if kit.spec.option is None:
        return {"activation": "tanh"}, TypeError, r"unexpected keyword argument 'activation'"
    return {kit.spec.option: "sigmoid"}, ValueError, rf"^{kit.spec.option}: expected one of"


def add_cell_cases(kit: CellKit) -> None:
    pre = f"{kit.backend}/{kit.v.id}"
    s0, sp, ds = kit.state0, kit.state_prev, kit.dstate
    h_part = r"(\.h)?"
    x_type = r"numpy\.ndarray" if kit.backend == "numpy" else r"torch\.Tensor"

    # ---- forward: x
    bad(f"{pre}/forward/x list", lambda: kit.forward(x=kit.x.tolist()), TypeError, rf"^x: expected a {x_type}")
    bad(
        f"{pre}/forward/x of the other backend",
        lambda: kit.forward(x=other(kit.backend, kit.x)),
        TypeError,
        rf"^x: expected a {x_type}",
    )
    bad(f"{pre}/forward/x None", lambda: kit.mod.forward(None, kit.state, kit.params, **kit.opts), TypeError, r"^x:")
    bad(f"{pre}/forward/x rank 2", lambda: kit.forward(x=kit.x[0]), ValueError, r"^x: expected 3 axes \(T, B, D\)")
    bad(f"{pre}/forward/x rank 4", lambda: kit.forward(x=kit.x[None]), ValueError, r"^x: expected 3 axes \(T, B, D\)")
    bad(f"{pre}/forward/x T = 0", lambda: kit.forward(x=kit.x[:0]), ValueError, r"^x: every axis of \(T, B, D\)")
    bad(
        f"{pre}/forward/x D wrong",
        lambda: kit.forward(x=kit.x[..., :3]),
        ValueError,
        rf"^params\.{kit.w_x}: expected shape .*D = 3 \(from x\)",
    )
    bad(
        f"{pre}/forward/x B wrong",
        lambda: kit.forward(x=kit.x[:, :1]),
        ValueError,
        rf"^{s0}{h_part}: expected shape \(B, H\) = \(1, {H}\)",
    )
    bad(
        f"{pre}/forward/x int",
        lambda: kit.forward(x=as_dtype(kit.x, "int")),
        TypeError,
        r"^x: expected dtype (torch\.)?float32 or (torch\.)?float64",
    )
    bad(
        f"{pre}/forward/x float32, params float64",
        lambda: kit.forward(x=as_dtype(kit.x, "f32")),
        TypeError,
        rf"^params\.({kit.w_x}|{kit.w_h}): expected dtype {dtype_re('float32')} \(the dtype of x\)",
    )
    bad(
        f"{pre}/forward/x NaN at step 2",
        lambda: kit.forward(x=put(kit.x, (2, 1, 3))),
        FloatingPointError,
        r"^x: non-finite value \(NaN or inf\) at time step 2",
    )
    bad(
        f"{pre}/forward/x inf at step 0",
        lambda: kit.forward(x=put(kit.x, (0, 0, 0), INF)),
        FloatingPointError,
        r"^x: non-finite value \(NaN or inf\) at time step 0",
    )
    bad(
        f"{pre}/forward/x -inf at step 1",
        lambda: kit.forward(x=put(kit.x, (1, 0, 0), -INF)),
        FloatingPointError,
        r"^x: non-finite value \(NaN or inf\) at time step 1",
    )

    # ---- forward: the state
    h = kit.h(kit.state)
    bad(
        f"{pre}/forward/state B wrong",
        lambda: kit.forward(state=tmap(lambda a: a[:1], kit.state)),
        ValueError,
        rf"^{s0}{h_part}: expected shape \(B, H\) = \({B}, {H}\), got \(1, {H}\)",
    )
    bad(
        f"{pre}/forward/state H wrong",
        lambda: kit.forward(state=tmap(lambda a: a[:, :4], kit.state)),
        ValueError,
        rf"^{s0}{h_part}: expected shape \(B, H\) = \({B}, {H}\), got \({B}, 4\)",
    )
    bad(
        f"{pre}/forward/state rank 3",
        lambda: kit.forward(state=tmap(lambda a: a[None], kit.state)),
        ValueError,
        rf"^{s0}{h_part}: expected 2 axes \(B, H\)",
    )
    bad(
        f"{pre}/forward/state float32",
        lambda: kit.forward(state=tmap(lambda a: as_dtype(a, "f32"), kit.state)),
        TypeError,
        rf"^{s0}{h_part}: expected dtype {dtype_re('float64')} \(the dtype of x\)",
    )
    bad(
        f"{pre}/forward/state int",
        lambda: kit.forward(state=tmap(lambda a: as_dtype(a, "int"), kit.state)),
        TypeError,
        rf"^{s0}{h_part}: expected dtype",
    )
    bad(
        f"{pre}/forward/state NaN",
        lambda: kit.forward(state=kit.with_h(kit.state, put(h, (1, 3)))),
        FloatingPointError,
        rf"^{s0}{h_part}: non-finite value \(NaN or inf\) at index \(1, 3\)",
    )
    bad(
        f"{pre}/forward/state of the other backend",
        lambda: kit.forward(state=tmap(lambda a: other(kit.backend, a), kit.state)),
        TypeError,
        rf"^{s0}{h_part}: expected a {x_type}",
    )
    bad(
        f"{pre}/forward/state None", lambda: kit.mod.forward(kit.x, None, kit.params, **kit.opts), TypeError, rf"^{s0}:"
    )
    if kit.spec.state:
        bad(
            f"{pre}/forward/state a plain tuple",
            lambda: kit.forward(state=tuple(kit.state)),
            TypeError,
            rf"^{s0}: expected LSTMState\(h, c\), got tuple",
        )
        bad(
            f"{pre}/forward/state an array",
            lambda: kit.forward(state=kit.state.h),
            TypeError,
            rf"^{s0}: expected LSTMState\(h, c\)",
        )
        bad(
            f"{pre}/forward/state LSTMStateGrads",
            lambda: kit.forward(state=LSTMStateGrads(*kit.state)),
            TypeError,
            rf"^{s0}: expected LSTMState\(h, c\), got LSTMStateGrads",
        )
        bad(
            f"{pre}/forward/state.c H wrong",
            lambda: kit.forward(state=kit.state._replace(c=kit.state.c[:, :4])),
            ValueError,
            rf"^{s0}\.c: expected shape \(B, H\)",
        )
        bad(
            f"{pre}/forward/state.c NaN",
            lambda: kit.forward(state=kit.state._replace(c=put(kit.state.c, (0, 0)))),
            FloatingPointError,
            rf"^{s0}\.c: non-finite",
        )
    else:
        bad(
            f"{pre}/forward/state an LSTMState",
            lambda: kit.forward(state=LSTMState(h, h)),
            TypeError,
            rf"^{s0}: expected a {x_type}",
        )
        bad(f"{pre}/forward/state a list", lambda: kit.forward(state=[h]), TypeError, rf"^{s0}: expected a {x_type}")

    # ---- forward: every parameter field
    cls = kit.spec.params.__name__
    for f, dims in kit.spec.fields.items():
        value = getattr(kit.params, f)

        def with_field(v: Any, f: str = f) -> Any:
            return kit.params._replace(**{f: v})

        bad(
            f"{pre}/forward/params.{f} NaN",
            lambda v=value, w=with_field: kit.forward(params=w(put(v, (0,) * v.ndim))),
            FloatingPointError,
            rf"^params\.{f}: non-finite value \(NaN or inf\)",
        )
        bad(
            f"{pre}/forward/params.{f} inf",
            lambda v=value, w=with_field: kit.forward(params=w(put(v, (-1,) * v.ndim, INF))),
            FloatingPointError,
            rf"^params\.{f}: non-finite value \(NaN or inf\)",
        )
        bad(
            f"{pre}/forward/params.{f} one axis more",
            lambda v=value, w=with_field: kit.forward(params=w(v[None])),
            ValueError,
            rf"^params\.{f}: expected {len(dims)} axes",
        )
        if len(dims) > 1:
            bad(
                f"{pre}/forward/params.{f} one axis less",
                lambda v=value, w=with_field: kit.forward(params=w(v[0])),
                ValueError,
                rf"^params\.{f}: expected {len(dims)} axes",
            )
        for axis, name in enumerate(dims):
            # a short recurrent weight (its H axis) makes H itself smaller: any field may then be the odd one out
            who = r"\w+" if (f == kit.w_h and name == "H") else f
            bad(
                f"{pre}/forward/params.{f} axis {axis} ({name}) short",
                lambda v=value, w=with_field, a=axis: kit.forward(params=w(shorten(v, a))),
                ValueError,
                rf"^params\.{who}: expected shape",
            )
        bad(
            f"{pre}/forward/params.{f} int",
            lambda v=value, w=with_field: kit.forward(params=w(as_dtype(v, "int"))),
            TypeError,
            rf"^params\.{f}: expected dtype (torch\.)?float32 or",
        )
        bad(
            f"{pre}/forward/params.{f} float32",
            lambda v=value, w=with_field: kit.forward(params=w(as_dtype(v, "f32"))),
            TypeError,
            rf"^params\.{f}: expected dtype {dtype_re('float64')} \(the dtype of x\), got {dtype_re('float32')}",
        )
        bad(
            f"{pre}/forward/params.{f} a list",
            lambda v=value, w=with_field: kit.forward(params=w(v.tolist())),
            TypeError,
            rf"^params\.{f}: expected a {x_type}",
        )
        bad(
            f"{pre}/forward/params.{f} of the other backend",
            lambda v=value, w=with_field: kit.forward(params=w(other(kit.backend, v))),
            TypeError,
            rf"^params\.{f}: expected a {x_type}",
        )
        bad(
            f"{pre}/forward/params.{f} None",
            lambda w=with_field: kit.forward(params=w(None)),
            TypeError,
            rf"^params\.{f}: expected a {x_type}",
        )
    others = [s.params for s in cells.CELLS.values() if s.params is not kit.spec.params]
    bad(
        f"{pre}/forward/params a plain tuple",
        lambda: kit.forward(params=tuple(kit.params)),
        TypeError,
        rf"^params: expected {cls}, got tuple",
    )
    bad(
        f"{pre}/forward/params a list",
        lambda: kit.forward(params=list(kit.params)),
        TypeError,
        rf"^params: expected {cls}, got list",
    )
    bad(
        f"{pre}/forward/params None",
        lambda: kit.mod.forward(kit.x, kit.state, None, **kit.opts),
        TypeError,
        rf"^params: expected {cls}, got NoneType",
    )
    bad(
        f"{pre}/forward/params of another cell",
        lambda: kit.forward(params=others[0](*(np.zeros(1),) * len(others[0]._fields))),
        TypeError,
        rf"^params: expected {cls}, got {others[0].__name__}",
    )
    bad(
        f"{pre}/forward/params a dict",
        lambda: kit.forward(params=kit.params._asdict()),
        TypeError,
        rf"^params: expected {cls}, got dict",
    )

    # ---- forward: the option
    opts, exc, pattern = bogus_option(kit)
    bad(f"{pre}/forward/bogus option", lambda: kit.forward(**opts), exc, pattern)
    bad(f"{pre}/step_forward/bogus option", lambda: kit.step(**opts), exc, pattern)
    bad(f"{pre}/states/bogus option", lambda: kit.states(**opts), exc, pattern)
    if kit.spec.option:
        o = kit.spec.option
        bad(
            f"{pre}/forward/{o} not a str",
            lambda: kit.forward(**{o: 1}),
            TypeError,
            rf"^{o}: expected one of .*\(a str\)",
        )
        bad(f"{pre}/forward/{o} None", lambda: kit.forward(**{o: None}), TypeError, rf"^{o}: expected one of")
        bad(
            f"{pre}/forward/{o} upper case",
            lambda: kit.forward(**{o: kit.opts[o].upper()}),
            ValueError,
            rf"^{o}: expected one of",
        )

    # ---- step_forward
    bad(f"{pre}/step_forward/x_t rank 3", lambda: kit.step(x_t=kit.x), ValueError, r"^x_t: expected 2 axes \(B, D\)")
    bad(f"{pre}/step_forward/x_t rank 1", lambda: kit.step(x_t=kit.x[0, 0]), ValueError, r"^x_t: expected 2 axes")
    bad(
        f"{pre}/step_forward/x_t list",
        lambda: kit.step(x_t=kit.x[0].tolist()),
        TypeError,
        rf"^x_t: expected a {x_type}",
    )
    bad(
        f"{pre}/step_forward/x_t NaN",
        lambda: kit.step(x_t=put(kit.x[0], (1, 2))),
        FloatingPointError,
        r"^x_t: non-finite value \(NaN or inf\)",
    )
    bad(
        f"{pre}/step_forward/x_t int",
        lambda: kit.step(x_t=as_dtype(kit.x[0], "int")),
        TypeError,
        r"^x_t: expected dtype",
    )
    bad(
        f"{pre}/step_forward/x_t D wrong",
        lambda: kit.step(x_t=kit.x[0][:, :3]),
        ValueError,
        rf"^params\.{kit.w_x}: expected shape",
    )
    bad(
        f"{pre}/step_forward/state H wrong",
        lambda: kit.step(state=tmap(lambda a: a[:, :4], kit.state)),
        ValueError,
        rf"^{sp}{h_part}: expected shape \(B, H\) = \({B}, {H}\)",
    )
    bad(
        f"{pre}/step_forward/state B wrong",
        lambda: kit.step(state=tmap(lambda a: a[:1], kit.state)),
        ValueError,
        rf"^{sp}{h_part}: expected shape \(B, H\)",
    )
    bad(
        f"{pre}/step_forward/state float32",
        lambda: kit.step(state=tmap(lambda a: as_dtype(a, "f32"), kit.state)),
        TypeError,
        rf"^{sp}{h_part}: expected dtype",
    )
    bad(
        f"{pre}/step_forward/state NaN",
        lambda: kit.step(state=kit.with_h(kit.state, put(h, (0, 0)))),
        FloatingPointError,
        rf"^{sp}{h_part}: non-finite",
    )
    bad(
        f"{pre}/step_forward/params a tuple",
        lambda: kit.step(params=tuple(kit.params)),
        TypeError,
        rf"^params: expected {cls}",
    )
    bad(
        f"{pre}/step_forward/params.{kit.w_h} NaN",
        lambda: kit.step(params=kit.params._replace(**{kit.w_h: put(getattr(kit.params, kit.w_h), (0, 0))})),
        FloatingPointError,
        rf"^params\.{kit.w_h}: non-finite",
    )
    if kit.spec.state:
        bad(
            f"{pre}/step_forward/state a plain tuple",
            lambda: kit.step(state=tuple(kit.state)),
            TypeError,
            rf"^{sp}: expected LSTMState\(h, c\)",
        )
    else:
        bad(
            f"{pre}/step_forward/state an LSTMState",
            lambda: kit.step(state=LSTMState(h, h)),
            TypeError,
            rf"^{sp}: expected a {x_type}",
        )

    # ---- states
    bad(f"{pre}/states/x rank 2", lambda: kit.states(x=kit.x[0]), ValueError, r"^x: expected 3 axes")
    bad(
        f"{pre}/states/x NaN at step 1",
        lambda: kit.states(x=put(kit.x, (1, 0, 0))),
        FloatingPointError,
        r"^x: non-finite value \(NaN or inf\) at time step 1",
    )
    bad(
        f"{pre}/states/state H wrong",
        lambda: kit.states(state=tmap(lambda a: a[:, :4], kit.state)),
        ValueError,
        rf"^{s0}{h_part}: expected shape",
    )
    bad(
        f"{pre}/states/params a tuple",
        lambda: kit.states(params=tuple(kit.params)),
        TypeError,
        rf"^params: expected {cls}",
    )

    # ---- backward
    dhs = kit.dhs()
    bad(f"{pre}/backward/dhs list", lambda: kit.backward(dhs.tolist()), TypeError, rf"^dhs: expected a {x_type}")
    bad(
        f"{pre}/backward/dhs of the other backend",
        lambda: kit.backward(other(kit.backend, dhs)),
        TypeError,
        rf"^dhs: expected a {x_type}",
    )
    bad(f"{pre}/backward/dhs rank 2", lambda: kit.backward(dhs[0]), ValueError, r"^dhs: expected 3 axes \(T, B, H\)")
    for axis, name in enumerate("TBH"):
        bad(
            f"{pre}/backward/dhs {name} wrong",
            lambda a=axis: kit.backward(shorten(dhs, a)),
            ValueError,
            r"^dhs: expected shape \(T, B, H\) = \(3, 2, 5\)",
        )
    bad(
        f"{pre}/backward/dhs float32",
        lambda: kit.backward(as_dtype(dhs, "f32")),
        TypeError,
        rf"^dhs: expected dtype {dtype_re('float64')} \(the dtype of the forward pass\)",
    )
    bad(f"{pre}/backward/dhs int", lambda: kit.backward(as_dtype(dhs, "int")), TypeError, r"^dhs: expected dtype")
    bad(
        f"{pre}/backward/dhs NaN at step 1",
        lambda: kit.backward(put(dhs, (1, 0, 0))),
        FloatingPointError,
        r"^dhs: non-finite value \(NaN or inf\) at time step 1",
    )
    bad(
        f"{pre}/backward/dhs inf at step 2",
        lambda: kit.backward(put(dhs, (2, 1, 4), -INF)),
        FloatingPointError,
        r"^dhs: non-finite value \(NaN or inf\) at time step 2",
    )
    bad(f"{pre}/backward/cache a tuple", lambda: kit.backward(dhs, tuple(kit.cache)), TypeError, r"^cache: expected")
    bad(f"{pre}/backward/cache None", lambda: kit.mod.backward(dhs, None), TypeError, r"^cache: expected")
    bad(f"{pre}/backward/cache of a step", lambda: kit.backward(dhs, kit.step_cache), TypeError, r"^cache: expected")
    bad(
        f"{pre}/backward/cache of another cell",
        lambda: kit.backward(dhs, other_cell_cache(kit)),
        TypeError,
        r"^cache: expected",
    )

    # ---- state_grads
    bad(f"{pre}/state_grads/dhs H wrong", lambda: kit.state_grads(shorten(dhs, 2)), ValueError, r"^dhs: expected shape")
    bad(
        f"{pre}/state_grads/dhs NaN at step 0",
        lambda: kit.state_grads(put(dhs, (0, 1, 1))),
        FloatingPointError,
        r"^dhs: non-finite value \(NaN or inf\) at time step 0",
    )
    bad(
        f"{pre}/state_grads/dhs float32",
        lambda: kit.state_grads(as_dtype(dhs, "f32")),
        TypeError,
        r"^dhs: expected dtype",
    )
    bad(
        f"{pre}/state_grads/cache a tuple",
        lambda: kit.state_grads(dhs, tuple(kit.cache)),
        TypeError,
        r"^cache: expected",
    )
    bad(
        f"{pre}/state_grads/cache of a step",
        lambda: kit.state_grads(dhs, kit.step_cache),
        TypeError,
        r"^cache: expected",
    )
    bad(
        f"{pre}/state_grads/cache of another cell",
        lambda: kit.state_grads(dhs, other_cell_cache(kit)),
        TypeError,
        r"^cache: expected",
    )

    # ---- step_backward
    good_d = kit.dstate_good()
    dpart = r"(\.dh|\.dc)?"
    bad(
        f"{pre}/step_backward/dstate H wrong",
        lambda: kit.step_backward(tmap(lambda a: a[:, :4], good_d)),
        ValueError,
        rf"^{ds}{dpart}: expected shape \(B, H\) = \({B}, {H}\)",
    )
    bad(
        f"{pre}/step_backward/dstate B wrong",
        lambda: kit.step_backward(tmap(lambda a: a[:1], good_d)),
        ValueError,
        rf"^{ds}{dpart}: expected shape",
    )
    bad(
        f"{pre}/step_backward/dstate float32",
        lambda: kit.step_backward(tmap(lambda a: as_dtype(a, "f32"), good_d)),
        TypeError,
        rf"^{ds}{dpart}: expected dtype {dtype_re('float64')}",
    )
    bad(
        f"{pre}/step_backward/dstate NaN",
        lambda: kit.step_backward(tmap(lambda a: put(a, (0, 0)), good_d)),
        FloatingPointError,
        rf"^{ds}{dpart}: non-finite",
    )
    bad(
        f"{pre}/step_backward/dstate list",
        lambda: kit.step_backward(tmap(lambda a: a.tolist(), good_d)),
        TypeError,
        rf"^{ds}{dpart}: expected a {x_type}",
    )
    bad(
        f"{pre}/step_backward/cache of a sequence",
        lambda: kit.step_backward(good_d, kit.cache),
        TypeError,
        r"^cache: expected",
    )
    bad(
        f"{pre}/step_backward/cache a tuple",
        lambda: kit.step_backward(good_d, tuple(kit.step_cache)),
        TypeError,
        r"^cache: expected",
    )
    if kit.spec.state_grads:
        bad(
            f"{pre}/step_backward/dstate an LSTMState",
            lambda: kit.step_backward(LSTMState(*good_d)),
            TypeError,
            rf"^{ds}: expected LSTMStateGrads\(dh, dc\), got LSTMState",
        )
        bad(
            f"{pre}/step_backward/dstate a plain tuple",
            lambda: kit.step_backward(tuple(good_d)),
            TypeError,
            rf"^{ds}: expected LSTMStateGrads\(dh, dc\), got tuple",
        )
        bad(
            f"{pre}/step_backward/dstate an array",
            lambda: kit.step_backward(good_d.dh),
            TypeError,
            rf"^{ds}: expected LSTMStateGrads",
        )
    else:
        bad(
            f"{pre}/step_backward/dstate an LSTMStateGrads",
            lambda: kit.step_backward(LSTMStateGrads(good_d, good_d)),
            TypeError,
            rf"^{ds}: expected a {x_type}",
        )

    # ---- state_at
    for t, exc, pattern in [
        (-1, ValueError, rf"^t: expected an int in \[0, {T}\], got -1"),
        (T + 1, ValueError, rf"^t: expected an int in \[0, {T}\], got {T + 1}"),
        (1.0, TypeError, r"^t: expected an int, got float"),
        ("1", TypeError, r"^t: expected an int, got str"),
        (True, TypeError, r"^t: expected an int, got bool"),
        (None, TypeError, r"^t: expected an int, got NoneType"),
        (np.float64(1.0), TypeError, r"^t: expected an int, got float64"),
    ]:
        bad(f"{pre}/state_at/t = {t!r}", lambda t=t: kit.mod.state_at(kit.cache, t), exc, pattern)
    bad(f"{pre}/state_at/cache a tuple", lambda: kit.mod.state_at(tuple(kit.cache), 1), TypeError, r"^cache: expected")
    bad(f"{pre}/state_at/cache of a step", lambda: kit.mod.state_at(kit.step_cache, 1), TypeError, r"^cache: expected")
    bad(
        f"{pre}/state_at/cache of another cell",
        lambda: kit.mod.state_at(other_cell_cache(kit), 1),
        TypeError,
        r"^cache: expected",
    )
    good(
        f"{pre}/state_at/t = np.int64(2)",
        lambda: kit.mod.state_at(kit.cache, np.int64(2)),
        lambda: kit.mod.state_at(kit.cache, 2),
    )

    # ---- zero_state
    for b_, exc, pattern in [
        (0, ValueError, r"^B: expected an int in \[1, inf\], got 0"),
        (-2, ValueError, r"^B: expected an int in \[1, inf\], got -2"),
        (2.0, TypeError, r"^B: expected an int, got float"),
        (True, TypeError, r"^B: expected an int, got bool"),
        ("2", TypeError, r"^B: expected an int, got str"),
        (None, TypeError, r"^B: expected an int, got NoneType"),
    ]:
        bad(f"{pre}/zero_state/B = {b_!r}", lambda b_=b_: kit.mod.zero_state(kit.params, b_), exc, pattern)
    bad(
        f"{pre}/zero_state/params a tuple",
        lambda: kit.mod.zero_state(tuple(kit.params), 2),
        TypeError,
        rf"^params: expected {cls}",
    )
    bad(
        f"{pre}/zero_state/params NaN",
        lambda: kit.mod.zero_state(kit.params._replace(**{kit.w_h: put(getattr(kit.params, kit.w_h), (0, 0))}), 2),
        FloatingPointError,
        rf"^params\.{kit.w_h}: non-finite",
    )
    bad(
        f"{pre}/zero_state/params not square",
        lambda: kit.mod.zero_state(kit.params._replace(**{kit.w_h: getattr(kit.params, kit.w_h)[:, :4]}), 2),
        ValueError,
        r"^params\.\w+: expected shape",
    )
    good(
        f"{pre}/zero_state/B = np.int64(3)",
        lambda: kit.mod.zero_state(kit.params, np.int64(3)),
        lambda: kit.mod.zero_state(kit.params, 3),
    )

    # ---- check_params (NumPy cells)
    if kit.backend == "numpy":
        bad(
            f"{pre}/check_params/params a tuple",
            lambda: kit.mod.check_params(tuple(kit.params)),
            TypeError,
            rf"^params: expected {cls}, got tuple",
        )
        bad(
            f"{pre}/check_params/D of another input",
            lambda: kit.mod.check_params(kit.params, 3),
            ValueError,
            rf"^params\.{kit.w_x}: expected shape .*D = 3",
        )
        bad(
            f"{pre}/check_params/dtype of another input",
            lambda: kit.mod.check_params(kit.params, None, np.float32),
            TypeError,
            rf"^params\.{kit.w_x}: expected dtype .*float32",
        )
        good(
            f"{pre}/check_params/np.int64 D",
            lambda: kit.mod.check_params(kit.params, np.int64(D)),
            lambda: kit.mod.check_params(kit.params, D),
        )


for _kit in KITS.values():
    add_cell_cases(_kit)


# ----------------------------------------------------------------- the RNN's readout and loss, both backends


def add_rnn_extras(backend: str) -> None:
    kit = KITS[("rnn-tanh", backend)]
    rng = np.random.default_rng(1)
    readout = init.init_readout(H, O, rng)
    R = convert.to_torch(readout) if backend == "torch" else readout
    hs = kit.hs.detach() if backend == "torch" else kit.hs
    targets = on(backend, rng.standard_normal((T, B, O)))
    mod, pre = kit.mod, f"{backend}/rnn-tanh"
    bad(
        f"{pre}/readout_forward/readout a tuple",
        lambda: mod.readout_forward(hs, tuple(R)),
        TypeError,
        r"^readout: expected ReadoutParams, got tuple",
    )
    bad(f"{pre}/readout_forward/readout None", lambda: mod.readout_forward(hs, None), TypeError, r"^readout: expected")
    bad(
        f"{pre}/readout_forward/readout.W_hy H wrong",
        lambda: mod.readout_forward(hs, R._replace(W_hy=R.W_hy[:, :4])),
        ValueError,
        r"^(readout\.W_hy|hs):",
    )
    bad(
        f"{pre}/readout_forward/readout.b_y O wrong",
        lambda: mod.readout_forward(hs, R._replace(b_y=R.b_y[:1])),
        ValueError,
        r"^readout\.b_y:",
    )
    bad(
        f"{pre}/readout_forward/readout.W_hy NaN",
        lambda: mod.readout_forward(hs, R._replace(W_hy=put(R.W_hy, (0, 0)))),
        FloatingPointError,
        r"^readout\.W_hy:",
    )
    bad(
        f"{pre}/readout_forward/hs NaN", lambda: mod.readout_forward(put(hs, (1, 0, 0)), R), FloatingPointError, r"^hs:"
    )
    bad(f"{pre}/readout_forward/hs list", lambda: mod.readout_forward(hs.tolist(), R), TypeError, r"^hs:")
    if backend == "numpy":
        ys, out_cache = mod.readout_forward(hs, R)
        bad(
            f"{pre}/readout_backward/dys O wrong",
            lambda: mod.readout_backward(np.ones((T, B, O + 1)), out_cache),
            ValueError,
            r"^dys:",
        )
        bad(
            f"{pre}/readout_backward/dys NaN",
            lambda: mod.readout_backward(put(np.ones((T, B, O)), (0, 0, 0)), out_cache),
            FloatingPointError,
            r"^dys:",
        )
        bad(
            f"{pre}/readout_backward/cache a tuple",
            lambda: mod.readout_backward(np.ones((T, B, O)), tuple(out_cache)),
            TypeError,
            r"^cache:",
        )
        loss = mod.mse_loss_and_grads
        bad(
            f"{pre}/mse_loss_and_grads/targets O wrong",
            lambda: loss(kit.x, targets[..., :1], kit.state, kit.params, R),
            ValueError,
            r"^targets:",
        )
        bad(
            f"{pre}/mse_loss_and_grads/targets NaN",
            lambda: loss(kit.x, put(targets, (0, 0, 0)), kit.state, kit.params, R),
            FloatingPointError,
            r"^targets:",
        )
        bad(
            f"{pre}/mse_loss_and_grads/reduction",
            lambda: loss(kit.x, targets, kit.state, kit.params, R, "avg"),
            ValueError,
            r"^reduction: expected one of \['mean', 'sum'\], got 'avg'",
        )
        bad(
            f"{pre}/mse_loss_and_grads/activation",
            lambda: loss(kit.x, targets, kit.state, kit.params, R, "mean", "elu"),
            ValueError,
            r"^activation: expected one of",
        )
        bad(
            f"{pre}/mse_loss_and_grads/readout a tuple",
            lambda: loss(kit.x, targets, kit.state, kit.params, tuple(R)),
            TypeError,
            r"^readout: expected ReadoutParams",
        )
        bad(f"{pre}/step_jacobians/cache a tuple", lambda: mod.step_jacobians(tuple(kit.cache)), TypeError, r"^cache:")
        bad(
            f"{pre}/step_jacobians/cache of another cell",
            lambda: mod.step_jacobians(KITS[("gru-torch", "numpy")].cache),
            TypeError,
            r"^cache:",
        )
    else:
        loss = mod.mse_loss
        bad(
            f"{pre}/mse_loss/targets O wrong",
            lambda: loss(kit.x, targets[..., :1], kit.state, kit.params, R),
            ValueError,
            r"^targets:",
        )
        bad(
            f"{pre}/mse_loss/targets NaN",
            lambda: loss(kit.x, put(targets, (0, 0, 0)), kit.state, kit.params, R),
            FloatingPointError,
            r"^targets:",
        )
        bad(
            f"{pre}/mse_loss/reduction",
            lambda: loss(kit.x, targets, kit.state, kit.params, R, "avg"),
            ValueError,
            r"^reduction: expected one of",
        )
        bad(
            f"{pre}/mse_loss/activation",
            lambda: loss(kit.x, targets, kit.state, kit.params, R, "mean", "elu"),
            ValueError,
            r"^activation: expected one of",
        )
        bad(
            f"{pre}/mse_loss/readout a tuple",
            lambda: loss(kit.x, targets, kit.state, kit.params, tuple(R)),
            TypeError,
            r"^readout: expected ReadoutParams",
        )


for _backend in BACKENDS:
    add_rnn_extras(_backend)


# ----------------------------------------------------------------- sequence models, every variant, both backends


def seq_model(v: cells.Variant, loss: str = "mse") -> SeqModel:
    return SeqModel(cell=v.spec.name, loss=loss, **v.options)


class SeqKit:
    """A sequence model of one variant on one backend: parameters, a batch, an initial state."""

    def __init__(self, v: cells.Variant, backend: str, loss: str = "mse") -> None:
        self.v, self.spec, self.backend, self.loss = v, v.spec, backend, loss
        self.model = seq_model(v, loss)
        cell = KITS[(v.id, backend)]
        rng = np.random.default_rng(3)
        readout = init.init_readout(H, O, rng)
        self.params = SeqParams(cell.params, convert.to_torch(readout) if backend == "torch" else readout)
        x = rng.standard_normal((T, B, D))
        y = rng.standard_normal((T, B, O)) if loss == "mse" else rng.integers(0, O, size=(T, B))
        batch = TaskBatch(x, y, np.ones((T, B)), loss)
        self.batch = tseq.batch_to_torch(batch) if backend == "torch" else batch
        self.state0 = cell.state
        self.x = self.batch.x
        self.w_x, self.w_h = cell.w_x, cell.w_h
        self.s0 = "state0"

    def forward(self, x: Any = None, state0: Any = None, params: Any = None, model: Any = None) -> Any:
        mod = tseq if self.backend == "torch" else seq
        return mod.forward(
            self.x if x is None else x,
            self.state0 if state0 is None else state0,
            self.params if params is None else params,
            self.model if model is None else model,
        )

    def loss_call(self, batch: Any = None, state0: Any = None, params: Any = None, model: Any = None, **k: Any) -> Any:
        """loss_and_grads (NumPy) or truncated_objective (torch): the whole objective with TBPTT options."""
        args = (
            self.batch if batch is None else batch,
            self.state0 if state0 is None else state0,
            self.params if params is None else params,
            self.model if model is None else model,
        )
        if self.backend == "torch":
            return tseq.truncated_objective(*args, **k)
        return seq.loss_and_grads(*args, **k)

    def replace_cell(self, **fields: Any) -> SeqParams:
        return self.params._replace(cell=self.params.cell._replace(**fields))

    def replace_readout(self, **fields: Any) -> SeqParams:
        return self.params._replace(readout=self.params.readout._replace(**fields))


def add_seq_cases(kit: SeqKit) -> None:
    pre = f"{kit.backend}/{kit.v.id}/seq"
    x_type = r"numpy\.ndarray" if kit.backend == "numpy" else r"torch\.Tensor"
    h_part = r"(\.h)?"
    cls = kit.spec.params.__name__
    other_spec = next(s for s in cells.CELLS.values() if s.name != kit.spec.name)
    other_model = SeqModel(cell=other_spec.name)
    R = kit.params.readout
    fn = "truncated_objective" if kit.backend == "torch" else "loss_and_grads"

    # forward
    bad(
        f"{pre}/forward/model None",
        lambda: kit.forward(model="rnn"),
        TypeError,
        r"^model: expected a bpttlab\.seqmodel\.SeqModel",
    )
    bad(
        f"{pre}/forward/model of another cell",
        lambda: kit.forward(model=other_model),
        TypeError,
        rf"^params\.cell: expected {other_spec.params.__name__}, got {cls}",
    )
    bad(
        f"{pre}/forward/params a tuple",
        lambda: kit.forward(params=tuple(kit.params)),
        TypeError,
        r"^params: expected a bpttlab\.seqmodel\.SeqParams",
    )
    bad(
        f"{pre}/forward/params the cell's alone",
        lambda: kit.forward(params=kit.params.cell),
        TypeError,
        r"^params: expected a bpttlab\.seqmodel\.SeqParams",
    )
    bad(
        f"{pre}/forward/params.cell a tuple",
        lambda: kit.forward(params=kit.params._replace(cell=tuple(kit.params.cell))),
        TypeError,
        rf"^params\.cell: expected {cls}, got tuple",
    )
    bad(
        f"{pre}/forward/params.readout a tuple",
        lambda: kit.forward(params=kit.params._replace(readout=tuple(R))),
        TypeError,
        r"^params\.readout: expected ReadoutParams, got tuple",
    )
    bad(
        f"{pre}/forward/params.readout.W_hy H wrong",
        lambda: kit.forward(params=kit.replace_readout(W_hy=R.W_hy[:, :4])),
        ValueError,
        rf"^params\.readout\.W_hy: expected shape \(O, H\) with H = {H}",
    )
    bad(
        f"{pre}/forward/params.readout.W_hy rank 1",
        lambda: kit.forward(params=kit.replace_readout(W_hy=R.W_hy[0])),
        ValueError,
        r"^params\.readout\.W_hy: expected 2 axes",
    )
    bad(
        f"{pre}/forward/params.readout.b_y O wrong",
        lambda: kit.forward(params=kit.replace_readout(b_y=R.b_y[:1])),
        ValueError,
        r"^params\.readout\.b_y: expected shape \(O,\)",
    )
    bad(
        f"{pre}/forward/params.readout.W_hy NaN",
        lambda: kit.forward(params=kit.replace_readout(W_hy=put(R.W_hy, (1, 2)))),
        FloatingPointError,
        r"^params\.readout\.W_hy: non-finite",
    )
    bad(
        f"{pre}/forward/params.readout.b_y float32",
        lambda: kit.forward(params=kit.replace_readout(b_y=as_dtype(R.b_y, "f32"))),
        TypeError,
        rf"^params\.readout\.b_y: expected dtype {dtype_re('float64')}",
    )
    bad(
        f"{pre}/forward/params.readout.W_hy list",
        lambda: kit.forward(params=kit.replace_readout(W_hy=R.W_hy.tolist())),
        TypeError,
        rf"^params\.readout\.W_hy: expected a {x_type}",
    )
    w_h = getattr(kit.params.cell, kit.w_h)
    bad(
        f"{pre}/forward/params.cell.{kit.w_h} NaN",
        lambda: kit.forward(params=kit.replace_cell(**{kit.w_h: put(w_h, (0, 1))})),
        FloatingPointError,
        rf"^params\.cell\.{kit.w_h}: non-finite",
    )
    bad(
        f"{pre}/forward/params.cell.{kit.w_h} float32",
        lambda: kit.forward(params=kit.replace_cell(**{kit.w_h: as_dtype(w_h, "f32")})),
        TypeError,
        rf"^params\.cell\.{kit.w_h}: expected dtype",
    )
    bad(
        f"{pre}/forward/x D wrong",
        lambda: kit.forward(x=kit.x[..., :3]),
        ValueError,
        rf"^params\.cell\.{kit.w_x}: expected shape .*D = 3 \(from x\)",
    )
    bad(f"{pre}/forward/x rank 2", lambda: kit.forward(x=kit.x[0]), ValueError, r"^x: expected 3 axes")
    bad(f"{pre}/forward/x list", lambda: kit.forward(x=kit.x.tolist()), TypeError, rf"^x: expected a {x_type}")
    bad(
        f"{pre}/forward/x NaN at step 1",
        lambda: kit.forward(x=put(kit.x, (1, 1, 1))),
        FloatingPointError,
        r"^x: non-finite value \(NaN or inf\) at time step 1",
    )
    bad(
        f"{pre}/forward/x float32",
        lambda: kit.forward(x=as_dtype(kit.x, "f32")),
        TypeError,
        r"^params\.cell\.\w+: expected dtype (torch\.)?float32 \(the dtype of x\)",
    )
    bad(
        f"{pre}/forward/state0 H wrong",
        lambda: kit.forward(state0=tmap(lambda a: a[:, :4], kit.state0)),
        ValueError,
        rf"^state0{h_part}: expected shape \(B, H\) = \({B}, {H}\)",
    )
    bad(
        f"{pre}/forward/state0 B wrong",
        lambda: kit.forward(state0=tmap(lambda a: a[:1], kit.state0)),
        ValueError,
        rf"^state0{h_part}: expected shape",
    )
    bad(
        f"{pre}/forward/state0 float32",
        lambda: kit.forward(state0=tmap(lambda a: as_dtype(a, "f32"), kit.state0)),
        TypeError,
        rf"^state0{h_part}: expected dtype",
    )
    bad(
        f"{pre}/forward/state0 NaN",
        lambda: kit.forward(state0=tmap(lambda a: put(a, (0, 0)), kit.state0)),
        FloatingPointError,
        rf"^state0{h_part}: non-finite",
    )
    bad(f"{pre}/forward/state0 None", lambda: kit.forward(state0=0), TypeError, r"^state0: expected")
    if kit.spec.state:
        bad(
            f"{pre}/forward/state0 a plain tuple",
            lambda: kit.forward(state0=tuple(kit.state0)),
            TypeError,
            r"^state0: expected LSTMState\(h, c\), got tuple",
        )

    # the whole objective: loss_and_grads (NumPy) / truncated_objective (torch)
    b = kit.batch
    bad(f"{pre}/{fn}/k1 = 0", lambda: kit.loss_call(k1=0), ValueError, r"^k1: expected a positive int, got 0")
    bad(f"{pre}/{fn}/k1 = 1.5", lambda: kit.loss_call(k1=1.5), TypeError, r"^k1: expected a positive int, got float")
    bad(f"{pre}/{fn}/k2 < k1", lambda: kit.loss_call(k1=2, k2=1), ValueError, r"^k2: expected k2 >= k1 = 2")
    bad(
        f"{pre}/{fn}/k2 = '3'", lambda: kit.loss_call(k1=2, k2="3"), TypeError, r"^k2: expected a positive int, got str"
    )
    bad(
        f"{pre}/{fn}/batch a tuple",
        lambda: kit.loss_call(batch=tuple(b)),
        TypeError,
        r"^batch: expected a bpttlab\.tasks\.TaskBatch",
    )
    bad(
        f"{pre}/{fn}/batch of the other backend",
        lambda: kit.loss_call(batch=TaskBatch(*(other(kit.backend, a) for a in b[:3]), b.loss)),
        TypeError,
        rf"^batch\.x: expected a {x_type}",
    )
    bad(
        f"{pre}/{fn}/batch.x NaN at step 2",
        lambda: kit.loss_call(batch=b._replace(x=put(b.x, (2, 0, 0)))),
        FloatingPointError,
        r"^batch\.x: non-finite value \(NaN or inf\) at time step 2",
    )
    bad(
        f"{pre}/{fn}/batch.x D wrong",
        lambda: kit.loss_call(batch=b._replace(x=b.x[..., :3])),
        ValueError,
        rf"^params\.cell\.{kit.w_x}: expected shape .*D = 3 \(from x\)",
    )
    bad(
        f"{pre}/{fn}/batch.mask all zero",
        lambda: kit.loss_call(batch=b._replace(mask=0 * b.mask)),
        ValueError,
        r"^batch\.mask: expected at least one step with a loss",
    )
    bad(
        f"{pre}/{fn}/batch.mask (T, 1)",
        lambda: kit.loss_call(batch=b._replace(mask=b.mask[:, :1])),
        ValueError,
        r"^batch\.mask: expected shape \(T, B\) = \(3, 2\), got \(3, 1\)",
    )
    bad(
        f"{pre}/{fn}/batch.mask negative",
        lambda: kit.loss_call(batch=b._replace(mask=put(b.mask, (1, 0), -1.0))),
        ValueError,
        r"^batch\.mask: expected values >= 0, got a negative entry at time step 1",
    )
    bad(
        f"{pre}/{fn}/batch.mask NaN",
        lambda: kit.loss_call(batch=b._replace(mask=put(b.mask, (2, 1)))),
        FloatingPointError,
        r"^batch\.mask: non-finite value \(NaN or inf\) at time step 2",
    )
    bad(
        f"{pre}/{fn}/batch.mask float32",
        lambda: kit.loss_call(batch=b._replace(mask=as_dtype(b.mask, "f32"))),
        TypeError,
        rf"^batch\.mask: expected dtype {dtype_re('float64')}",
    )
    bad(
        f"{pre}/{fn}/batch.mask int",
        lambda: kit.loss_call(batch=b._replace(mask=as_dtype(b.mask, "int"))),
        TypeError,
        r"^batch\.mask: expected dtype",
    )
    bad(
        f"{pre}/{fn}/batch.y O wrong",
        lambda: kit.loss_call(batch=b._replace(y=b.y[..., :1])),
        ValueError,
        rf"^batch\.y: expected O = {O} outputs \(from params\.readout\)",
    )
    bad(
        f"{pre}/{fn}/batch.y T wrong",
        lambda: kit.loss_call(batch=b._replace(y=b.y[:2])),
        ValueError,
        r"^batch\.y: expected shape \(T, B, O\)",
    )
    bad(
        f"{pre}/{fn}/batch.y NaN",
        lambda: kit.loss_call(batch=b._replace(y=put(b.y, (0, 1, 0)))),
        FloatingPointError,
        r"^batch\.y: non-finite value \(NaN or inf\) at time step 0",
    )
    bad(
        f"{pre}/{fn}/batch.y labels for mse",
        lambda: kit.loss_call(batch=b._replace(y=as_dtype(b.y[..., 0], "int"))),
        TypeError,
        r"^batch\.y: expected dtype",
    )
    bad(
        f"{pre}/{fn}/batch.loss not the model's",
        lambda: kit.loss_call(batch=b._replace(y=as_dtype(abs(b.y[..., 0]), "int"), loss="xent")),
        ValueError,
        r"^batch\.loss: expected 'mse' \(model\.loss\), got 'xent'",
    )
    bad(
        f"{pre}/{fn}/batch.loss bogus",
        lambda: kit.loss_call(batch=b._replace(loss="mae")),
        ValueError,
        r"^batch\.loss: expected one of \['mse', 'xent'\], got 'mae'",
    )
    bad(
        f"{pre}/{fn}/state0 H wrong",
        lambda: kit.loss_call(state0=tmap(lambda a: a[:, :4], kit.state0)),
        ValueError,
        rf"^state0{h_part}: expected shape",
    )
    bad(
        f"{pre}/{fn}/params.readout.b_y NaN",
        lambda: kit.loss_call(params=kit.replace_readout(b_y=put(R.b_y, 0))),
        FloatingPointError,
        r"^params\.readout\.b_y: non-finite",
    )
    bad(
        f"{pre}/{fn}/model a str",
        lambda: kit.loss_call(model="rnn"),
        TypeError,
        r"^model: expected a bpttlab\.seqmodel\.SeqModel",
    )
    good(
        f"{pre}/{fn}/k1, k2 = np.int64",
        lambda: kit.loss_call(k1=np.int64(2), k2=np.int64(3)),
        lambda: kit.loss_call(k1=2, k2=3),
    )

    if kit.backend == "torch":
        bad(
            f"{pre}/loss/batch.x NaN",
            lambda: tseq.loss(b._replace(x=put(b.x, (1, 0, 0))), kit.state0, kit.params, kit.model),
            FloatingPointError,
            r"^batch\.x: non-finite value \(NaN or inf\) at time step 1",
        )
        bad(
            f"{pre}/loss/batch.y O wrong",
            lambda: tseq.loss(b._replace(y=b.y[..., :1]), kit.state0, kit.params, kit.model),
            ValueError,
            r"^batch\.y: expected O = 2",
        )
        bad(
            f"{pre}/loss/state0 B wrong",
            lambda: tseq.loss(b, tmap(lambda a: a[:1], kit.state0), kit.params, kit.model),
            ValueError,
            rf"^state0{h_part}: expected shape",
        )
        bad(
            f"{pre}/loss/params a tuple",
            lambda: tseq.loss(b, kit.state0, tuple(kit.params), kit.model),
            TypeError,
            r"^params: expected a bpttlab\.seqmodel\.SeqParams",
        )
        return

    # NumPy: one window
    N = float(b.mask.sum())

    def window(
        batch: Any = b,
        state: Any = kit.state0,
        params: Any = kit.params,
        model: Any = kit.model,
        start: Any = 0,
        first: Any = 1,
        stop: Any = T,
        normaliser: Any = N,
    ) -> Any:
        return seq.window_loss_and_grads(batch, state, params, model, start, first, stop, normaliser)

    bad(
        f"{pre}/window_loss_and_grads/start > first_loss_step",
        lambda: window(start=2, first=1),
        ValueError,
        r"^start, first_loss_step, stop: expected 0 <= start <= first_loss_step < stop <= T",
    )
    bad(
        f"{pre}/window_loss_and_grads/stop > T",
        lambda: window(stop=T + 1),
        ValueError,
        r"^start, first_loss_step, stop:",
    )
    bad(
        f"{pre}/window_loss_and_grads/first_loss_step = stop",
        lambda: window(first=T),
        ValueError,
        r"^start, first_loss_step, stop:",
    )
    bad(
        f"{pre}/window_loss_and_grads/start float",
        lambda: window(start=0.0),
        TypeError,
        r"^start: expected an int, got float",
    )
    bad(
        f"{pre}/window_loss_and_grads/stop str", lambda: window(stop="3"), TypeError, r"^stop: expected an int, got str"
    )
    bad(
        f"{pre}/window_loss_and_grads/first_loss_step bool",
        lambda: window(first=True),
        TypeError,
        r"^first_loss_step: expected an int, got bool",
    )
    bad(
        f"{pre}/window_loss_and_grads/normaliser 0",
        lambda: window(normaliser=0.0),
        ValueError,
        r"^normaliser: expected a positive number, got 0\.0",
    )
    bad(f"{pre}/window_loss_and_grads/normaliser -1", lambda: window(normaliser=-1.0), ValueError, r"^normaliser:")
    bad(f"{pre}/window_loss_and_grads/normaliser NaN", lambda: window(normaliser=NAN), ValueError, r"^normaliser:")
    bad(
        f"{pre}/window_loss_and_grads/normaliser str",
        lambda: window(normaliser="6"),
        TypeError,
        r"^normaliser: expected a real number, got str",
    )
    bad(f"{pre}/window_loss_and_grads/normaliser None", lambda: window(normaliser=None), TypeError, r"^normaliser:")
    bad(
        f"{pre}/window_loss_and_grads/state_start H wrong",
        lambda: window(state=tmap(lambda a: a[:, :4], kit.state0)),
        ValueError,
        rf"^state_start{h_part}: expected shape",
    )
    bad(
        f"{pre}/window_loss_and_grads/state_start NaN",
        lambda: window(state=tmap(lambda a: put(a, (1, 1)), kit.state0)),
        FloatingPointError,
        rf"^state_start{h_part}: non-finite",
    )
    bad(
        f"{pre}/window_loss_and_grads/batch.x NaN at step 0",
        lambda: window(batch=b._replace(x=put(b.x, (0, 1, 2)))),
        FloatingPointError,
        r"^batch\.x: non-finite value \(NaN or inf\) at time step 0",
    )
    bad(
        f"{pre}/window_loss_and_grads/batch.mask negative",
        lambda: window(batch=b._replace(mask=-b.mask)),
        ValueError,
        r"^batch\.mask: expected values >= 0",
    )
    bad(f"{pre}/window_loss_and_grads/batch a dict", lambda: window(batch=b._asdict()), TypeError, r"^batch: expected")
    bad(
        f"{pre}/window_loss_and_grads/params.readout None",
        lambda: window(params=kit.params._replace(readout=None)),
        TypeError,
        r"^params\.readout: expected ReadoutParams",
    )
    bad(f"{pre}/window_loss_and_grads/model None", lambda: window(model=None), TypeError, r"^model:")
    good(
        f"{pre}/window_loss_and_grads/NumPy scalars",
        lambda: window(start=np.int64(0), first=np.int32(1), stop=np.int64(T), normaliser=np.float32(N)),
        lambda: window(start=0, first=1, stop=T, normaliser=N),
    )


for _v in cells.VARIANTS:
    for _backend in BACKENDS:
        add_seq_cases(SeqKit(_v, _backend))


def add_seq_common_cases(backend: str) -> None:
    """masked_loss (both losses), init_params, truncation_bias, batch_to_torch: not cell-specific."""
    pre = f"{backend}/seq"
    mod = tseq if backend == "torch" else seq
    x_type = r"numpy\.ndarray" if backend == "numpy" else r"torch\.Tensor"
    rng = np.random.default_rng(4)
    ys = on(backend, rng.standard_normal((T, B, O)))
    y = on(backend, rng.standard_normal((T, B, O)))
    labels = on(backend, rng.integers(0, O, size=(T, B)))
    mask = on(backend, np.ones((T, B)))

    def ml(ys: Any = ys, y: Any = y, mask: Any = mask, loss: Any = "mse", normaliser: Any = None) -> Any:
        return mod.masked_loss(ys, y, mask, loss, normaliser)

    for loss, target in (("mse", y), ("xent", labels)):
        p = f"{pre}/masked_loss/{loss}"
        bad(
            f"{p}/ys list",
            lambda t=target, l=loss: ml(ys=ys.tolist(), y=t, loss=l),
            TypeError,
            rf"^ys: expected a {x_type}",
        )
        bad(
            f"{p}/ys rank 2",
            lambda t=target, l=loss: ml(ys=ys[0], y=t, loss=l),
            ValueError,
            r"^ys: expected 3 axes \(T, B, O\)",
        )
        bad(
            f"{p}/ys NaN at step 2",
            lambda t=target, l=loss: ml(ys=put(ys, (2, 0, 1)), y=t, loss=l),
            FloatingPointError,
            r"^ys: non-finite value \(NaN or inf\) at time step 2",
        )
        bad(
            f"{p}/ys int",
            lambda t=target, l=loss: ml(ys=as_dtype(ys, "int"), y=t, loss=l),
            TypeError,
            r"^ys: expected dtype",
        )
        bad(
            f"{p}/mask (T, 1)",
            lambda t=target, l=loss: ml(y=t, mask=mask[:, :1], loss=l),
            ValueError,
            r"^mask: expected shape \(T, B\) = \(3, 2\), got \(3, 1\)",
        )
        bad(
            f"{p}/mask (T,)",
            lambda t=target, l=loss: ml(y=t, mask=mask[:, 0], loss=l),
            ValueError,
            r"^mask: expected 2 axes \(T, B\)",
        )
        bad(
            f"{p}/mask (T, B, 1)",
            lambda t=target, l=loss: ml(y=t, mask=mask[..., None], loss=l),
            ValueError,
            r"^mask: expected 2 axes \(T, B\)",
        )
        bad(
            f"{p}/mask all zero",
            lambda t=target, l=loss: ml(y=t, mask=0 * mask, loss=l),
            ValueError,
            r"^mask: expected at least one step with a loss",
        )
        bad(
            f"{p}/mask negative",
            lambda t=target, l=loss: ml(y=t, mask=put(mask, (1, 1), -0.5), loss=l),
            ValueError,
            r"^mask: expected values >= 0, got a negative entry at time step 1",
        )
        bad(
            f"{p}/mask NaN",
            lambda t=target, l=loss: ml(y=t, mask=put(mask, (0, 1)), loss=l),
            FloatingPointError,
            r"^mask: non-finite value \(NaN or inf\) at time step 0",
        )
        bad(
            f"{p}/mask inf",
            lambda t=target, l=loss: ml(y=t, mask=put(mask, (2, 1), INF), loss=l),
            FloatingPointError,
            r"^mask: non-finite value \(NaN or inf\) at time step 2",
        )
        bad(
            f"{p}/mask float32",
            lambda t=target, l=loss: ml(y=t, mask=as_dtype(mask, "f32"), loss=l),
            TypeError,
            rf"^mask: expected dtype {dtype_re('float64')} \(the dtype of ys\)",
        )
        bad(
            f"{p}/mask bool",
            lambda t=target, l=loss: ml(y=t, mask=mask > 0, loss=l),
            TypeError,
            r"^mask: expected dtype",
        )
        bad(
            f"{p}/mask list",
            lambda t=target, l=loss: ml(y=t, mask=mask.tolist(), loss=l),
            TypeError,
            rf"^mask: expected a {x_type}",
        )
        for value, exc, pattern in [
            (-1.0, ValueError, r"^normaliser: expected a positive number, got -1\.0"),
            (0, ValueError, r"^normaliser: expected a positive number, got 0"),
            (NAN, ValueError, r"^normaliser: expected a finite number, got nan"),
            (INF, ValueError, r"^normaliser: expected a finite number, got inf"),
            ("6", TypeError, r"^normaliser: expected a real number, got str"),
            (True, TypeError, r"^normaliser: expected a real number, got bool"),
            (np.array([6.0]), TypeError, r"^normaliser: expected a real number, got ndarray"),
        ]:
            bad(
                f"{p}/normaliser {value!r}",
                lambda t=target, l=loss, v=value: ml(y=t, loss=l, normaliser=v),
                exc,
                pattern,
            )
        bad(
            f"{p}/loss bogus",
            lambda t=target: ml(y=t, loss="mae"),
            ValueError,
            r"^loss: expected one of \['mse', 'xent'\], got 'mae'",
        )
        bad(f"{p}/loss None", lambda t=target: ml(y=t, loss=None), TypeError, r"^loss: expected one of .*\(a str\)")
        good(
            f"{p}/normaliser np.float32",
            lambda t=target, l=loss: ml(y=t, loss=l, normaliser=np.float32(4.0)),
            lambda t=target, l=loss: ml(y=t, loss=l, normaliser=4.0),
        )
    p = f"{pre}/masked_loss/mse"
    bad(
        f"{p}/y O wrong",
        lambda: ml(y=y[..., :1]),
        ValueError,
        r"^y: expected shape \(T, B, O\) = \(3, 2, 2\), got \(3, 2, 1\)",
    )
    bad(f"{p}/y B wrong", lambda: ml(y=y[:, :1]), ValueError, r"^y: expected shape \(T, B, O\)")
    bad(f"{p}/y rank 2", lambda: ml(y=y[..., 0]), ValueError, r"^y: expected 3 axes")
    bad(
        f"{p}/y NaN at step 1",
        lambda: ml(y=put(y, (1, 1, 1))),
        FloatingPointError,
        r"^y: non-finite value \(NaN or inf\) at time step 1",
    )
    bad(
        f"{p}/y float32",
        lambda: ml(y=as_dtype(y, "f32")),
        TypeError,
        rf"^y: expected dtype {dtype_re('float64')} \(the dtype of ys\)",
    )
    bad(f"{p}/y labels", lambda: ml(y=labels), TypeError, r"^y: expected dtype")
    bad(f"{p}/y list", lambda: ml(y=y.tolist()), TypeError, rf"^y: expected a {x_type}")
    p = f"{pre}/masked_loss/xent"
    bad(f"{p}/y float", lambda: ml(y=as_dtype(labels, "f64"), loss="xent"), TypeError, r"^y: expected")
    bad(
        f"{p}/y label = O",
        lambda: ml(y=put(labels, (0, 0), O), loss="xent"),
        ValueError,
        rf"^y: expected class labels in \[0, {O - 1}\], got range \[0, {O}\]",
    )
    bad(
        f"{p}/y label -1",
        lambda: ml(y=put(labels, (2, 1), -1), loss="xent"),
        ValueError,
        r"^y: expected class labels in",
    )
    bad(f"{p}/y (T, B, 1)", lambda: ml(y=labels[..., None], loss="xent"), ValueError, r"^y: expected shape \(T, B\)")
    bad(f"{p}/y (T, 1)", lambda: ml(y=labels[:, :1], loss="xent"), ValueError, r"^y: expected shape \(T, B\)")
    bad(f"{p}/y list", lambda: ml(y=labels.tolist(), loss="xent"), TypeError, r"^y: expected")

    if backend == "torch":
        batch = TaskBatch(rng.standard_normal((T, B, D)), rng.standard_normal((T, B, O)), np.ones((T, B)), "mse")
        xent = TaskBatch(batch.x, rng.integers(0, O, size=(T, B)), batch.mask, "xent")
        p = f"{pre}/batch_to_torch"
        bad(
            f"{p}/batch a tuple",
            lambda: tseq.batch_to_torch(tuple(batch)),
            TypeError,
            r"^batch: expected a bpttlab\.tasks\.TaskBatch",
        )
        bad(
            f"{p}/dtype torch.int32",
            lambda: tseq.batch_to_torch(batch, torch.int32),
            TypeError,
            r"^dtype: expected torch\.float32 or torch\.float64",
        )
        bad(
            f"{p}/dtype np.float32",
            lambda: tseq.batch_to_torch(batch, np.float32),
            TypeError,
            r"^dtype: expected torch\.float32",
        )
        bad(
            f"{p}/float labels for xent",
            lambda: tseq.batch_to_torch(xent._replace(y=xent.y + 0.5)),
            TypeError,
            r"^batch\.y: expected integer class labels for loss 'xent', got dtype float64",
        )
        bad(
            f"{p}/int x",
            lambda: tseq.batch_to_torch(batch._replace(x=np.ones((T, B, D), int))),
            TypeError,
            r"^batch\.x: expected float values, got dtype int64",
        )
        bad(
            f"{p}/int targets for mse",
            lambda: tseq.batch_to_torch(batch._replace(y=xent.y)),
            TypeError,
            r"^batch\.y: expected float values",
        )
        bad(
            f"{p}/bool mask",
            lambda: tseq.batch_to_torch(batch._replace(mask=batch.mask > 0)),
            TypeError,
            r"^batch\.mask: expected float values, got dtype bool",
        )
        bad(
            f"{p}/x list",
            lambda: tseq.batch_to_torch(batch._replace(x=batch.x.tolist())),
            TypeError,
            r"^batch\.x: expected a numpy\.ndarray or a torch\.Tensor, got list",
        )
        bad(
            f"{p}/loss bogus",
            lambda: tseq.batch_to_torch(batch._replace(loss="l1")),
            ValueError,
            r"^batch\.loss: expected one of \['mse', 'xent'\]",
        )
        bad(
            f"{p}/loss None",
            lambda: tseq.batch_to_torch(batch._replace(loss=None)),
            TypeError,
            r"^batch\.loss: expected one of",
        )
        return

    model = SeqModel()
    p = f"{pre}/init_params"
    bad(f"{p}/model a str", lambda: seq.init_params("rnn", D, H, O, np.random.default_rng(0)), TypeError, r"^model:")
    bad(
        f"{p}/D = 0",
        lambda: seq.init_params(model, 0, H, O, np.random.default_rng(0)),
        ValueError,
        r"^D: expected a positive int",
    )
    bad(
        f"{p}/O = 2.0",
        lambda: seq.init_params(model, D, H, 2.0, np.random.default_rng(0)),
        TypeError,
        r"^O: expected a positive int",
    )
    bad(
        f"{p}/rng an int",
        lambda: seq.init_params(model, D, H, O, 0),
        TypeError,
        r"^rng: expected a numpy\.random\.Generator",
    )
    bad(
        f"{p}/bogus option",
        lambda: seq.init_params(model, D, H, O, np.random.default_rng(0), forget_bias=1.0),
        TypeError,
        r"^forget_bias: not an option of init_rnn",
    )
    bad(
        f"{p}/bad scheme",
        lambda: seq.init_params(model, D, H, O, np.random.default_rng(0), scheme="xavier"),
        ValueError,
        r"^scheme: expected one of",
    )
    good(
        f"{p}/np.int64 sizes",
        lambda: seq.init_params(model, np.int64(D), np.int64(H), np.int64(O), np.random.default_rng(0)),
        lambda: seq.init_params(model, D, H, O, np.random.default_rng(0)),
    )
    kit = SeqKit(cells.VARIANTS[0], "numpy")
    g = seq.loss_and_grads(kit.batch, kit.state0, kit.params, kit.model).grads
    p = f"{pre}/truncation_bias"
    bad(
        f"{p}/truncated of another shape",
        lambda: seq.truncation_bias(g, g._replace(readout=ReadoutGrads(g.readout.dW_hy[:1], g.readout.db_y[:1]))),
        ValueError,
        r"^truncated: expected gradients shaped like full",
    )
    bad(
        f"{p}/truncated another container",
        lambda: seq.truncation_bias(g, tuple(g.cell)),
        TypeError,
        r"^truncated: expected gradients shaped like full",
    )
    bad(f"{p}/full None", lambda: seq.truncation_bias(None, g), TypeError, r"^full: expected a container of arrays")
    bad(
        f"{p}/full NaN",
        lambda: seq.truncation_bias(g._replace(readout=g.readout._replace(db_y=put(g.readout.db_y, 0))), g),
        FloatingPointError,
        r"^full\.readout\.db_y: non-finite",
    )
    bad(
        f"{p}/truncated inf",
        lambda: seq.truncation_bias(g, g._replace(readout=g.readout._replace(db_y=put(g.readout.db_y, 0, INF)))),
        FloatingPointError,
        r"^truncated\.readout\.db_y: non-finite",
    )
    zero = tmap(np.zeros_like, g)
    bad(
        f"{p}/zero gradient",
        lambda: seq.truncation_bias(g, zero),
        ValueError,
        r"^full, truncated: a zero gradient has no direction",
    )


for _backend in BACKENDS:
    add_seq_common_cases(_backend)


# ----------------------------------------------------------------- layers and the MLP, both backends


def add_layer_cases(backend: str) -> None:
    L = tlayers if backend == "torch" else layers
    pre = f"{backend}/layers"
    x_type = r"numpy\.ndarray" if backend == "numpy" else r"torch\.Tensor"
    rng = np.random.default_rng(5)
    x, W, b = (on(backend, rng.standard_normal(s)) for s in ((T, B, D), (O, D), (O,)))
    p = f"{pre}/affine_forward"
    bad(f"{p}/x list", lambda: L.affine_forward(x.tolist(), W, b), TypeError, rf"^x: expected a {x_type}")
    bad(f"{p}/x 0 axes", lambda: L.affine_forward(x[0, 0, 0, ...], W, b), ValueError, r"^x: expected at least 1 axes")
    bad(f"{p}/x empty", lambda: L.affine_forward(x[:0], W, b), ValueError, r"^x: every axis")
    bad(
        f"{p}/x D wrong",
        lambda: L.affine_forward(x[..., :3], W, b),
        ValueError,
        r"^x: expected last axis D = 4 \(from W\)",
    )
    bad(f"{p}/x int", lambda: L.affine_forward(as_dtype(x, "int"), W, b), TypeError, r"^x: expected dtype")
    bad(f"{p}/x NaN", lambda: L.affine_forward(put(x, (0, 1, 2)), W, b), FloatingPointError, r"^x: non-finite")
    bad(f"{p}/W rank 1", lambda: L.affine_forward(x, W[0], b), ValueError, r"^W: expected 2 axes \(M, D\)")
    bad(f"{p}/W rank 3", lambda: L.affine_forward(x, W[None], b), ValueError, r"^W: expected 2 axes")
    bad(f"{p}/W NaN", lambda: L.affine_forward(x, put(W, (1, 1)), b), FloatingPointError, r"^W: non-finite")
    bad(
        f"{p}/W float32",
        lambda: L.affine_forward(x, as_dtype(W, "f32"), b),
        TypeError,
        rf"^W: expected dtype {dtype_re('float64')} \(the dtype of x\)",
    )
    bad(f"{p}/W list", lambda: L.affine_forward(x, W.tolist(), b), TypeError, rf"^W: expected a {x_type}")
    bad(f"{p}/b length", lambda: L.affine_forward(x, W, b[:1]), ValueError, r"^b: expected shape \(M,\) = \(2,\)")
    bad(f"{p}/b rank 2", lambda: L.affine_forward(x, W, b[None]), ValueError, r"^b: expected 1 axes")
    bad(f"{p}/b float32", lambda: L.affine_forward(x, W, as_dtype(b, "f32")), TypeError, r"^b: expected dtype")
    bad(f"{p}/b inf", lambda: L.affine_forward(x, W, put(b, 0, INF)), FloatingPointError, r"^b: non-finite")
    for act in ("tanh", "sigmoid", "relu"):
        f = getattr(L, f"{act}_forward")
        p = f"{pre}/{act}_forward"
        bad(f"{p}/a list", lambda f=f: f(x.tolist()), TypeError, rf"^a: expected a {x_type}")
        bad(
            f"{p}/a NaN",
            lambda f=f: f(put(x, (1, 0, 0))),
            FloatingPointError,
            r"^a: non-finite value \(NaN or inf\) at index \(1, 0, 0\)",
        )
        bad(f"{p}/a int", lambda f=f: f(as_dtype(x, "int")), TypeError, r"^a: expected dtype")
        bad(f"{p}/a 0 axes", lambda f=f: f(x[0, 0, 0, ...]), ValueError, r"^a: expected at least 1 axes")
        bad(f"{p}/a empty", lambda f=f: f(x[:0]), ValueError, r"^a: every axis")
    pred, target = on(backend, rng.standard_normal((B, O))), on(backend, rng.standard_normal((B, O)))
    p = f"{pre}/mse_loss"
    bad(f"{p}/target B wrong", lambda: L.mse_loss(pred, target[:1]), ValueError, r"^target: expected shape")
    bad(
        f"{p}/target float32",
        lambda: L.mse_loss(pred, as_dtype(target, "f32")),
        TypeError,
        rf"^target: expected dtype {dtype_re('float64')} \(the dtype of pred\)",
    )
    bad(f"{p}/target NaN", lambda: L.mse_loss(pred, put(target, (0, 0))), FloatingPointError, r"^target: non-finite")
    bad(f"{p}/pred list", lambda: L.mse_loss(pred.tolist(), target), TypeError, rf"^pred: expected a {x_type}")
    bad(f"{p}/pred NaN", lambda: L.mse_loss(put(pred, (1, 1)), target), FloatingPointError, r"^pred: non-finite")
    bad(
        f"{p}/reduction none",
        lambda: L.mse_loss(pred, target, "none"),
        ValueError,
        r"^reduction: expected one of \['mean', 'sum'\], got 'none'",
    )
    bad(f"{p}/reduction None", lambda: L.mse_loss(pred, target, None), TypeError, r"^reduction: expected one of")
    logits = on(backend, rng.standard_normal((B, 3)))
    labels = on(backend, np.array([0, 2]))
    p = f"{pre}/softmax_cross_entropy"
    sce = L.softmax_cross_entropy
    bad(f"{p}/labels float", lambda: sce(logits, as_dtype(labels, "f64")), TypeError, r"^labels: expected")
    bad(f"{p}/labels bool", lambda: sce(logits, labels > 0), TypeError, r"^labels: expected")
    bad(f"{p}/labels list", lambda: sce(logits, [0, 2]), TypeError, r"^labels: expected")
    bad(
        f"{p}/labels too large",
        lambda: sce(logits, put(labels, 0, 3)),
        ValueError,
        r"^labels: expected class indices in \[0, 2\], got range \[2, 3\]",
    )
    bad(
        f"{p}/labels negative",
        lambda: sce(logits, put(labels, 1, -1)),
        ValueError,
        r"^labels: expected class indices in \[0, 2\]",
    )
    bad(f"{p}/labels shape", lambda: sce(logits, labels[:1]), ValueError, r"^labels: expected shape")
    bad(f"{p}/logits NaN", lambda: sce(put(logits, (0, 1)), labels), FloatingPointError, r"^logits: non-finite")
    bad(f"{p}/logits 0 axes", lambda: sce(logits[0, 0, ...], labels), ValueError, r"^logits: expected at least 1 axes")
    bad(f"{p}/logits int", lambda: sce(as_dtype(logits, "int"), labels), TypeError, r"^logits: expected dtype")
    bad(
        f"{p}/reduction max",
        lambda: sce(logits, labels, "max"),
        ValueError,
        r"^reduction: expected one of \['mean', 'sum'\], got 'max'",
    )
    if backend == "torch":
        bad(
            f"{p}/labels int32",
            lambda: sce(logits, labels.int()),
            TypeError,
            r"^labels: expected dtype torch\.int64, got torch\.int32",
        )
        return
    _, aff = layers.affine_forward(x, W, b)
    p = f"{pre}/affine_backward"
    bad(
        f"{p}/dout shape",
        lambda: layers.affine_backward(np.ones((T, B, O + 1)), aff),
        ValueError,
        r"^dout: expected shape",
    )
    bad(
        f"{p}/dout NaN",
        lambda: layers.affine_backward(put(np.ones((T, B, O)), (0, 0, 0)), aff),
        FloatingPointError,
        r"^dout: non-finite",
    )
    bad(
        f"{p}/dout float32",
        lambda: layers.affine_backward(np.ones((T, B, O), np.float32), aff),
        TypeError,
        r"^dout: expected dtype float64 \(the dtype of the forward pass\)",
    )
    bad(
        f"{p}/dout list",
        lambda: layers.affine_backward(np.ones((T, B, O)).tolist(), aff),
        TypeError,
        r"^dout: expected a numpy\.ndarray",
    )
    bad(
        f"{p}/cache a tuple",
        lambda: layers.affine_backward(np.ones((T, B, O)), tuple(aff)),
        TypeError,
        r"^cache: expected the AffineCache",
    )
    for act, dname in (("tanh", "dh"), ("sigmoid", "ds"), ("relu", "dr")):
        _, c = getattr(layers, f"{act}_forward")(x)
        back = getattr(layers, f"{act}_backward")
        p = f"{pre}/{act}_backward"
        bad(
            f"{p}/{dname} shape",
            lambda back=back, c=c: back(np.ones((T, B)), c),
            ValueError,
            rf"^{dname}: expected shape",
        )
        bad(
            f"{p}/{dname} NaN",
            lambda back=back, c=c: back(put(np.ones((T, B, D)), (0, 0, 0)), c),
            FloatingPointError,
            rf"^{dname}: non-finite",
        )
        bad(
            f"{p}/{dname} float32",
            lambda back=back, c=c: back(np.ones((T, B, D), np.float32), c),
            TypeError,
            rf"^{dname}: expected dtype float64",
        )
        bad(
            f"{p}/cache of affine",
            lambda back=back: back(np.ones((T, B, D)), aff),
            TypeError,
            r"^cache: expected the ActivationCache",
        )


def add_mlp_cases(backend: str) -> None:
    M = tmlp if backend == "torch" else mlp
    pre = f"{backend}/mlp"
    x_type = r"numpy\.ndarray" if backend == "numpy" else r"torch\.Tensor"
    rng = np.random.default_rng(6)
    prm = init.init_mlp(D, H, O, rng)
    prm = convert.to_torch(prm) if backend == "torch" else prm
    x = on(backend, rng.standard_normal((B, D)))

    def fwd(x: Any = x, params: Any = prm, activation: Any = "tanh") -> Any:
        return M.forward(x, params, activation)

    p = f"{pre}/forward"
    bad(f"{p}/x rank 3", lambda: fwd(x=x[None]), ValueError, r"^x: expected 2 axes \(N, D\)")
    bad(f"{p}/x list", lambda: fwd(x=x.tolist()), TypeError, rf"^x: expected a {x_type}")
    bad(f"{p}/x NaN", lambda: fwd(x=put(x, (1, 1))), FloatingPointError, r"^x: non-finite")
    bad(f"{p}/x D wrong", lambda: fwd(x=x[:, :3]), ValueError, r"^params\.W_1: expected shape \(H, D\)")
    bad(
        f"{p}/x float32",
        lambda: fwd(x=as_dtype(x, "f32")),
        TypeError,
        r"^params\.W_1: expected dtype (torch\.)?float32 \(the dtype of x\)",
    )
    bad(
        f"{p}/params an RNNParams",
        lambda: fwd(params=RNNParams(*prm[:3])),
        TypeError,
        r"^params: expected MLPParams, got RNNParams",
    )
    bad(f"{p}/params a tuple", lambda: fwd(params=tuple(prm)), TypeError, r"^params: expected MLPParams, got tuple")
    bad(
        f"{p}/params.b_1 H wrong",
        lambda: fwd(params=prm._replace(b_1=prm.b_1[:4])),
        ValueError,
        r"^params\.b_1: expected shape \(H,\)",
    )
    bad(
        f"{p}/params.W_2 H wrong",
        lambda: fwd(params=prm._replace(W_2=prm.W_2[:, :4])),
        ValueError,
        r"^params\.W_2: expected shape \(O, H\)",
    )
    bad(
        f"{p}/params.b_2 O wrong",
        lambda: fwd(params=prm._replace(b_2=prm.b_2[:1])),
        ValueError,
        r"^params\.b_2: expected shape \(O,\)",
    )
    bad(
        f"{p}/params.W_2 NaN",
        lambda: fwd(params=prm._replace(W_2=put(prm.W_2, (0, 0)))),
        FloatingPointError,
        r"^params\.W_2: non-finite",
    )
    bad(
        f"{p}/params.b_2 float32",
        lambda: fwd(params=prm._replace(b_2=as_dtype(prm.b_2, "f32"))),
        TypeError,
        r"^params\.b_2: expected dtype",
    )
    bad(
        f"{p}/params.W_1 rank 1",
        lambda: fwd(params=prm._replace(W_1=prm.W_1[0])),
        ValueError,
        r"^params\.W_1: expected 2 axes",
    )
    bad(
        f"{p}/activation linear",
        lambda: fwd(activation="linear"),
        ValueError,
        r"^activation: expected one of \['tanh', 'sigmoid', 'relu'\], got 'linear'",
    )
    bad(f"{p}/activation None", lambda: fwd(activation=None), TypeError, r"^activation: expected one of")
    if backend == "torch":
        return
    y, cache = mlp.forward(x, prm)
    p = f"{pre}/backward"
    bad(
        f"{p}/dy O wrong",
        lambda: mlp.backward(np.ones((B, O + 1)), cache),
        ValueError,
        r"^dy: expected shape \(N, O\) = \(2, 2\)",
    )
    bad(f"{p}/dy rank 3", lambda: mlp.backward(np.ones((1, B, O)), cache), ValueError, r"^dy: expected 2 axes")
    bad(
        f"{p}/dy NaN", lambda: mlp.backward(put(np.ones((B, O)), (0, 1)), cache), FloatingPointError, r"^dy: non-finite"
    )
    bad(
        f"{p}/dy float32",
        lambda: mlp.backward(np.ones((B, O), np.float32), cache),
        TypeError,
        r"^dy: expected dtype float64",
    )
    bad(
        f"{p}/cache a tuple",
        lambda: mlp.backward(np.ones((B, O)), tuple(cache)),
        TypeError,
        r"^cache: expected the MLPCache",
    )


for _backend in BACKENDS:
    add_layer_cases(_backend)
    add_mlp_cases(_backend)


# ----------------------------------------------------------------- training loops and the ensemble


def adding(rng: np.random.Generator) -> TaskBatch:
    return tasks.adding_problem(6, 3, rng)


def adding_f32(rng: np.random.Generator) -> TaskBatch:
    return tasks.adding_problem(6, 3, rng, dtype=np.float32)


def add_training_cases() -> None:
    model = SeqModel()
    prm = seq.init_params(model, 2, 4, 1, np.random.default_rng(0))
    rng = np.random.default_rng

    def tr(**kw: Any) -> Any:
        args = dict(model=model, params=prm, make_batch=adding, steps=2, rng=rng(0)) | kw
        return nptrain.train(
            args.pop("model"), args.pop("params"), args.pop("make_batch"), args.pop("steps"), args.pop("rng"), **args
        )

    def returning(**changes: Any) -> Callable[[np.random.Generator], TaskBatch]:
        return lambda r: adding(r)._replace(**changes)

    # the arguments both training loops share (bpttlab.training): the same checks and messages
    contract_cases = [
        ({"k1": 4, "k2": 2}, ValueError, r"^k2: expected k2 >= k1 = 4"),
        ({"k2": 3}, ValueError, r"^k2: expected k1 as well \(TBPTT\(k1, k2\)\)"),
        ({"lr": lambda step: -1.0}, ValueError, r"^lr\(0\): expected a positive number, got -1\.0 \(lr is a schedule"),
        ({"lr": lambda step: "1e-3"}, TypeError, r"^lr\(0\): expected a real number, got str"),
        ({"lr": lambda step: 1e-3 if step == 0 else NAN}, ValueError, r"^lr\(1\): expected a finite number"),
        ({"carry_state": 1}, TypeError, r"^carry_state: expected True or False"),
        ({"checkpoint": 3}, TypeError, r"^checkpoint: expected a str or os\.PathLike"),
        ({"checkpoint": ""}, ValueError, r"^checkpoint: expected a file name"),
        ({"checkpoint_every": 0}, ValueError, r"^checkpoint_every: expected a positive int"),
        ({"checkpoint_every": None}, TypeError, r"^checkpoint_every: expected a positive int"),
        ({"resume": "yes"}, TypeError, r"^resume: expected True or False"),
        ({"resume": True}, ValueError, r"^resume: expected a checkpoint path to resume from"),
        ({"progress": "yes"}, TypeError, r"^progress: expected True or False, got str"),
    ]

    p = "numpy/train/train"
    for kw, exc, pattern in contract_cases + [
        ({"model": "rnn"}, TypeError, r"^model: expected a bpttlab\.seqmodel\.SeqModel"),
        ({"model": SeqModel(cell="lstm")}, TypeError, r"^params\.cell: expected LSTMParams, got RNNParams"),
        ({"params": tuple(prm)}, TypeError, r"^params: expected a bpttlab\.seqmodel\.SeqParams"),
        (
            {"params": prm._replace(readout=prm.readout._replace(b_y=put(prm.readout.b_y, 0)))},
            FloatingPointError,
            r"^params\.readout\.b_y: non-finite",
        ),
        (
            {"make_batch": adding(rng(0))},
            TypeError,
            r"^make_batch: expected a function rng -> TaskBatch, got TaskBatch",
        ),
        ({"steps": 0}, ValueError, r"^steps: expected a positive int, got 0"),
        ({"steps": 2.0}, TypeError, r"^steps: expected a positive int, got float"),
        ({"rng": 0}, TypeError, r"^rng: expected a numpy\.random\.Generator"),
        ({"lr": 0.0}, ValueError, r"^lr: expected a positive number, got 0\.0"),
        ({"lr": "0.01"}, TypeError, r"^lr: expected a real number, got str"),
        ({"lr": INF}, ValueError, r"^lr: expected a finite number"),
        ({"optimizer": "rmsprop"}, ValueError, r"^optimizer: expected one of \['adam', 'sgd'\]"),
        ({"optimizer": None}, TypeError, r"^optimizer: expected one of"),
        ({"max_norm": -1.0}, ValueError, r"^max_norm: expected a positive number"),
        ({"max_norm": "1"}, TypeError, r"^max_norm: expected a real number"),
        ({"clip_value": 0}, ValueError, r"^clip_value: expected a positive number"),
        (
            {"max_norm": 1.0, "clip_value": 1.0},
            ValueError,
            r"^max_norm, clip_value: expected at most one clipping rule",
        ),
        ({"k1": 0}, ValueError, r"^k1: expected a positive int"),
        ({"k1": 2.5}, TypeError, r"^k1: expected a positive int"),
        (
            {"make_batch": lambda r: tuple(adding(r))},
            TypeError,
            r"^make_batch: expected it to return a TaskBatch, got tuple",
        ),
        (
            {"make_batch": returning(mask=np.zeros((6, 3)))},
            ValueError,
            r"^make_batch: batch of training step 0 has no step with a loss",
        ),
        (
            {"make_batch": lambda r: adding(r)._replace(x=put(adding(r).x, (4, 0, 0)))},
            FloatingPointError,
            r"^make_batch\(rng\)\.x: non-finite value \(NaN or inf\) at time step 4 \(the batch of training step 0\)",
        ),
        ({"make_batch": returning(loss="xent")}, TypeError, r"^make_batch\(rng\)\.y: expected an integer"),
        (
            {"make_batch": returning(mask=np.ones((6, 1)))},
            ValueError,
            r"^make_batch\(rng\)\.mask: expected shape \(T, B\)",
        ),
        (
            {"make_batch": lambda r: adding(r)._replace(y=adding(r).y[..., [0, 0]])},
            ValueError,
            r"^make_batch\(rng\)\.y: expected O = 1 outputs",
        ),
        (
            {"make_batch": lambda r: adding(r)._replace(x=adding(r).x[..., :1])},
            ValueError,
            r"^make_batch\(rng\)\.x: expected D = 2 \(from params\.cell\)",
        ),
        (
            {"make_batch": adding_f32},
            TypeError,
            r"^make_batch\(rng\)\.x: expected dtype float64 \(the dtype of params\)",
        ),
    ]:
        bad(f"{p}/{kw_label(kw)}", lambda kw=kw: tr(**kw), exc, pattern)
    good(
        f"{p}/NumPy scalars",
        lambda: tr(steps=np.int64(2), lr=np.float32(0.01), max_norm=np.float32(1.0), k1=np.int64(3), k2=np.int64(4)),
        lambda: tr(steps=2, lr=float(np.float32(0.01)), max_norm=1.0, k1=3, k2=4),
    )
    batch = adding(rng(1))
    p = "numpy/train/evaluate"
    bad(f"{p}/model a str", lambda: nptrain.evaluate("rnn", prm, batch), TypeError, r"^model:")
    bad(f"{p}/batch a tuple", lambda: nptrain.evaluate(model, prm, tuple(batch)), TypeError, r"^batch: expected")
    bad(
        f"{p}/tolerance 0",
        lambda: nptrain.evaluate(model, prm, batch, 0.0),
        ValueError,
        r"^tolerance: expected a positive number",
    )
    bad(f"{p}/params a tuple", lambda: nptrain.evaluate(model, tuple(prm), batch), TypeError, r"^params: expected")
    good(
        f"{p}/tolerance np.float32",
        lambda: nptrain.evaluate(model, prm, batch, np.float32(0.5)),
        lambda: nptrain.evaluate(model, prm, batch, float(np.float32(0.5))),
    )

    # the ensemble
    members = [seq.init_params(model, 2, 3, 1, rng(s)) for s in range(2)]
    p = "numpy/ensemble"

    def ts(**kw: Any) -> Any:
        args = dict(model=model, params_list=members, make_batch=adding, steps=2, rngs=[rng(0), rng(1)]) | kw
        return ensemble.train_seeds(
            args.pop("model"),
            args.pop("params_list"),
            args.pop("make_batch"),
            args.pop("steps"),
            args.pop("rngs"),
            **args,
        )

    for kw, exc, pattern in [
        ({"model": None}, TypeError, r"^model:"),
        ({"params_list": []}, ValueError, r"^params_list: expected a non-empty list"),
        ({"params_list": members[0]}, TypeError, r"^params_list\[0\]: expected a bpttlab\.seqmodel\.SeqParams"),
        ({"params_list": {"a": 1}}, TypeError, r"^params_list: expected a non-empty list of SeqParams, got dict"),
        (
            {"params_list": [members[0], tuple(members[1])]},
            TypeError,
            r"^params_list\[1\]: expected a bpttlab\.seqmodel\.SeqParams",
        ),
        (
            {"params_list": [members[0], seq.init_params(model, 2, 4, 1, rng(2))]},
            ValueError,
            r"^params_list\[1\]: expected the shapes of params_list\[0\]",
        ),
        (
            {
                "params_list": [
                    members[0],
                    members[1]._replace(cell=members[1].cell._replace(W_hh=put(members[1].cell.W_hh, (0, 0)))),
                ]
            },
            FloatingPointError,
            r"^params_list\[1\]\.cell\.W_hh: non-finite",
        ),
        (
            {"params_list": [members[0], tmap(lambda a: a.astype(np.float32), members[1])]},
            TypeError,
            r"^params_list\[1\]\.cell\.W_xh: expected dtype float64",
        ),
        ({"steps": 0}, ValueError, r"^steps: expected a positive int"),
        ({"rngs": [rng(0)]}, ValueError, r"^rngs: expected a list of 2 generators \(one per parameter set\), got 1"),
        ({"rngs": rng(0)}, TypeError, r"^rngs: expected a list of 2 generators"),
        ({"rngs": [rng(0), 1]}, TypeError, r"^rngs\[1\]: expected a numpy\.random\.Generator"),
        ({"lr": -0.1}, ValueError, r"^lr: expected a positive number"),
        ({"max_norm": 0.0}, ValueError, r"^max_norm: expected a positive number"),
        ({"make_batch": "adding"}, TypeError, r"^make_batch: expected a function rng -> TaskBatch"),
        (
            {"make_batch": lambda r: adding(r)._replace(mask=np.zeros((6, 3)))},
            ValueError,
            r"^make_batch\(rngs\[0\]\)\.mask: expected at least one step with a loss",
        ),
        (
            {"make_batch": lambda r: adding(r)._replace(x=put(adding(r).x, (1, 0, 1)))},
            FloatingPointError,
            r"^make_batch\(rngs\[0\]\)\.x: non-finite value \(NaN or inf\) at time step 1 \(the batch of training step 0\)",
        ),
        ({"make_batch": adding_f32}, TypeError, r"^make_batch\(rngs\[0\]\)\.x: expected dtype float64"),
    ]:
        bad(f"{p}/train_seeds/{kw_label(kw)}", lambda kw=kw: ts(**kw), exc, pattern)
    good(
        f"{p}/train_seeds/NumPy scalars",
        lambda: ts(steps=np.int64(2), lr=np.float32(0.01), max_norm=np.float64(0.5)),
        lambda: ts(steps=2, lr=float(np.float32(0.01)), max_norm=0.5),
    )
    bad(
        f"{p}/pack/params_list empty",
        lambda: ensemble.pack(model, []),
        ValueError,
        r"^params_list: expected a non-empty list",
    )
    bad(
        f"{p}/pack/model of another cell",
        lambda: ensemble.pack(SeqModel(cell="gru"), members),
        TypeError,
        r"^params_list\[0\]\.cell: expected GRUParams, got RNNParams",
    )
    packed = ensemble.pack(model, members)
    bad(
        f"{p}/unpack/S = 0",
        lambda: ensemble.unpack(model, packed, 0, 2, 3, 1),
        ValueError,
        r"^S: expected a positive int",
    )
    bad(
        f"{p}/unpack/H = 1.5",
        lambda: ensemble.unpack(model, packed, 2, 2, 1.5, 1),
        TypeError,
        r"^H: expected a positive int",
    )
    bad(
        f"{p}/unpack/sizes that do not fit",
        lambda: ensemble.unpack(model, packed, 3, 2, 3, 1),
        ValueError,
        r"^packed(\.cell\.\w+)?: expected",
    )
    bad(
        f"{p}/unpack/packed a tuple",
        lambda: ensemble.unpack(model, tuple(packed), 2, 2, 3, 1),
        TypeError,
        r"^packed: expected",
    )

    # the torch loop
    def tmodel(dtype: torch.dtype = torch.float64) -> torch.nn.Module:
        return models.SequenceRegressor(2, 4, 1, cell="rnn", generator=0).to(dtype)

    def ttr(**kw: Any) -> Any:
        args = dict(model=tmodel(), make_batch=adding, steps=2, rng=rng(0)) | kw
        return ttrain.train(args.pop("model"), args.pop("make_batch"), args.pop("steps"), args.pop("rng"), **args)

    device_cases = [
        ({"device": 0}, TypeError, r"^device: expected a str such as 'cpu' or 'cuda' or a torch\.device, got int"),
        ({"device": "abacus"}, ValueError, r"^device: expected a device such as 'cpu' or 'cuda:0', got 'abacus'"),
        ({"device": "meta"}, ValueError, r"^device: expected a 'cpu' or 'cuda' device, got 'meta'"),
    ]
    if not torch.cuda.is_available():
        device_cases.append(({"device": "cuda"}, ValueError, r"^device: 'cuda' asks for a GPU, and torch finds none"))
    p = "torch/train/train"
    for kw, exc, pattern in (
        contract_cases
        + device_cases
        + [
            ({"model": lambda x, s: (x, s)}, TypeError, r"^model: expected a torch\.nn\.Module"),
            ({"model": torch.nn.ReLU()}, ValueError, r"^model: expected a torch\.nn\.Module with parameters"),
            ({"make_batch": None}, TypeError, r"^make_batch: expected a function rng -> TaskBatch"),
            ({"steps": -1}, ValueError, r"^steps: expected a positive int"),
            ({"steps": "2"}, TypeError, r"^steps: expected a positive int, got str"),
            ({"rng": torch.Generator()}, TypeError, r"^rng: expected a numpy\.random\.Generator"),
            ({"lr": 0}, ValueError, r"^lr: expected a positive number"),
            ({"lr": True}, TypeError, r"^lr: expected a real number, got bool"),
            ({"optimizer": "lbfgs"}, ValueError, r"^optimizer: expected one of"),
            ({"k1": 0}, ValueError, r"^k1: expected a positive int"),
            ({"k1": 1.0}, TypeError, r"^k1: expected a positive int"),
            ({"max_norm": NAN}, ValueError, r"^max_norm: expected a finite number"),
            ({"clip_value": -1}, ValueError, r"^clip_value: expected a positive number"),
            (
                {"max_norm": 1.0, "clip_value": 1.0},
                ValueError,
                r"^max_norm, clip_value: expected at most one clipping rule",
            ),
            (
                {"make_batch": lambda r: list(adding(r))},
                TypeError,
                r"^make_batch: expected it to return a TaskBatch, got list",
            ),
            (
                {"make_batch": lambda r: adding(r)._replace(mask=np.zeros((6, 3)))},
                ValueError,
                r"^make_batch: batch of training step 0 has no step with a loss",
            ),
            (
                {"make_batch": lambda r: adding(r)._replace(x=put(adding(r).x, (3, 1, 0), INF))},
                FloatingPointError,
                r"^make_batch\(rng\)\.x: non-finite value \(NaN or inf\) at time step 3 \(the batch of training step 0\)",
            ),
            (
                {"make_batch": lambda r: adding(r)._replace(mask=-adding(r).mask)},
                ValueError,
                r"^make_batch\(rng\)\.mask: expected values >= 0",
            ),
            (
                {"make_batch": lambda r: adding(r)._replace(loss="xent")},
                TypeError,
                r"^make_batch\(rng\)\.y: expected an integer",
            ),
            (
                {"make_batch": lambda r: adding(r)._replace(x=adding(r).x[..., :1])},
                ValueError,
                r"^x: expected D = 2 \(from the model\)",
            ),
        ]
    ):
        bad(f"{p}/{kw_label(kw)}", lambda kw=kw: ttr(**kw), exc, pattern)

    def ttr_same(**kw: Any) -> Any:
        torch.manual_seed(0)  # the Adam state and nothing else random: the same seeds for both calls
        m = tmodel()
        log = ttrain.train(m, adding, kw.pop("steps"), rng(0), **kw)
        return log, [t.detach().clone() for t in m.parameters()]

    good(
        f"{p}/NumPy scalars",
        lambda: ttr_same(
            steps=np.int64(2), lr=np.float32(1e-2), max_norm=np.float32(0.5), k1=np.int64(3), k2=np.int64(3)
        ),
        lambda: ttr_same(steps=2, lr=float(np.float32(1e-2)), max_norm=float(np.float32(0.5)), k1=3, k2=3),
    )
    m = tmodel()
    batch = adding(rng(1))
    p = "torch/train"
    bad(
        f"{p}/evaluate/model a function",
        lambda: ttrain.evaluate(lambda x: x, batch),
        TypeError,
        r"^model: expected a torch\.nn\.Module",
    )
    bad(f"{p}/evaluate/batch a tuple", lambda: ttrain.evaluate(m, tuple(batch)), TypeError, r"^batch: expected")
    bad(
        f"{p}/evaluate/tolerance '0.1'",
        lambda: ttrain.evaluate(m, batch, "0.1"),
        TypeError,
        r"^tolerance: expected a real number",
    )
    bad(
        f"{p}/evaluate/batch.x NaN",
        lambda: ttrain.evaluate(m, batch._replace(x=put(batch.x, (5, 0, 0)))),
        FloatingPointError,
        r"^batch\.x: non-finite value \(NaN or inf\) at time step 5",
    )
    good(
        f"{p}/evaluate/tolerance np.float32",
        lambda: ttrain.evaluate(m, batch, np.float32(0.25)),
        lambda: ttrain.evaluate(m, batch, 0.25),
    )
    bad(
        f"{p}/to_tensors/batch a tuple",
        lambda: ttrain.to_tensors(tuple(batch), torch.float64),
        TypeError,
        r"^batch: expected",
    )
    bad(
        f"{p}/to_tensors/dtype a str",
        lambda: ttrain.to_tensors(batch, "float64"),
        TypeError,
        r"^dtype: expected torch\.float32",
    )
    bad(
        f"{p}/show_progress/'yes'", lambda: ttrain.show_progress("yes"), TypeError, r"^progress: expected True or False"
    )
    params = [torch.zeros(3, requires_grad=True)]
    params[0].grad = torch.tensor([3.0, 4.0, 0.0])
    bad(
        f"{p}/clip_grad_norm/max_norm 0",
        lambda: ttrain.clip_grad_norm(params, 0.0),
        ValueError,
        r"^max_norm: expected a positive number",
    )
    bad(
        f"{p}/clip_grad_norm/max_norm None",
        lambda: ttrain.clip_grad_norm(params, None),
        TypeError,
        r"^max_norm: expected a real number",
    )
    bad(
        f"{p}/clip_grad_norm/params a tensor",
        lambda: ttrain.clip_grad_norm(params[0], 1.0),
        TypeError,
        r"^params: expected a list of tensors",
    )
    bad(
        f"{p}/clip_grad_norm/params[1] an array",
        lambda: ttrain.clip_grad_norm([params[0], np.zeros(2)], 1.0),
        TypeError,
        r"^params\[1\]: expected a torch\.Tensor, got ndarray",
    )
    nan_grad = [torch.zeros(2, requires_grad=True)]
    nan_grad[0].grad = torch.tensor([NAN, 1.0])
    bad(
        f"{p}/clip_grad_norm/NaN gradient",
        lambda: ttrain.clip_grad_norm(nan_grad, 1.0),
        FloatingPointError,
        r"^params\[0\]\.grad: non-finite gradient",
    )

    def clipped(max_norm: Any) -> Any:
        q = [torch.zeros(3, requires_grad=True)]
        q[0].grad = torch.tensor([3.0, 4.0, 0.0])
        return ttrain.clip_grad_norm(q, max_norm), q[0].grad

    good(f"{p}/clip_grad_norm/max_norm np.float32", lambda: clipped(np.float32(1.0)), lambda: clipped(1.0))


add_training_cases()


# ----------------------------------------------------------------- the backend-neutral helpers


def add_helper_cases() -> None:
    rng = np.random.default_rng
    X = rng(7).standard_normal((3, 2, 4))

    # gradcheck
    p = "helpers/gradcheck"
    for a, b_, exc, pattern in [
        (np.ones((2, 3)), np.ones((3, 2)), ValueError, r"^b: expected the shape of a, \(2, 3\), got \(3, 2\)"),
        (np.array([1.0, NAN]), np.ones(2), FloatingPointError, r"^a: non-finite value \(NaN or inf\) at index \(1,\)"),
        (np.ones(2), np.array([INF, 1.0]), FloatingPointError, r"^b: non-finite value"),
        (np.array([1 + 1j]), np.array([1.0]), TypeError, r"^a: expected real numbers .*got dtype complex128"),
        (np.ones(2), np.array([1, 1j]), TypeError, r"^b: expected real numbers"),
        (np.array(["a"]), np.ones(1), TypeError, r"^a: expected real numbers .*got dtype <U1"),
        (
            [[1.0], [1.0, 2.0]],
            [[1.0], [1.0, 2.0]],
            TypeError,
            r"^a: expected an array of real numbers, got a ragged list",
        ),
        (True, 1.0, TypeError, r"^a: expected real numbers, got bool"),
        (np.array([True]), np.array([1.0]), TypeError, r"^a: expected real numbers"),
        (None, 1.0, TypeError, r"^a: expected real numbers .*got dtype object"),
    ]:
        bad(f"{p}/rel_error/{label(a)} vs {label(b_)}", lambda a=a, b_=b_: gradcheck.rel_error(a, b_), exc, pattern)
    good(
        f"{p}/rel_error/NumPy scalars",
        lambda: gradcheck.rel_error(np.float32(1.5), np.int64(2)),
        lambda: gradcheck.rel_error(1.5, 2),
    )

    def quad() -> float:
        return float(np.sum(X**2))

    ng = gradcheck.numerical_gradient
    for kw, exc, pattern in [
        ({"f": None}, TypeError, r"^f: expected a function of no arguments"),
        ({"x": X.astype(np.float32)}, TypeError, r"^x: expected a float64 numpy\.ndarray .*got float32"),
        ({"x": X.tolist()}, TypeError, r"^x: expected a float64 numpy\.ndarray .*got list"),
        ({"x": put(X, (0, 0, 0))}, FloatingPointError, r"^x: non-finite"),
        ({"eps": 0.0}, ValueError, r"^eps: expected a positive number, got 0\.0"),
        ({"eps": "1e-6"}, TypeError, r"^eps: expected a real number, got str"),
        ({"eps": NAN}, ValueError, r"^eps: expected a finite number"),
        ({"df": np.ones(3)}, ValueError, r"^df: expected the shape of f's output, \(\), got \(3,\)"),
        ({"df": NAN}, ValueError, r"^df: expected a finite number"),
        ({"df": [1.0]}, TypeError, r"^df: expected a real number, got list"),
        ({"df": np.array([NAN])}, FloatingPointError, r"^df: non-finite"),
        ({"f": lambda: NAN}, FloatingPointError, r"^f: returned a non-finite value"),
        ({"f": lambda: "loss"}, TypeError, r"^f: expected it to return a number or a float array"),
        ({"f": lambda: 1j}, TypeError, r"^f: expected it to return a number or a float array"),
    ]:
        args = dict(f=quad, x=X.copy()) | kw
        bad(f"{p}/numerical_gradient/{kw_label(kw)}", lambda args=args: ng(**args), exc, pattern)
    x1 = np.array([0.3, -1.2])
    good(
        f"{p}/numerical_gradient/NumPy scalars",
        lambda: ng(lambda: x1**3, x1, df=np.float32(2.0), eps=np.float64(1e-5)),
        lambda: ng(lambda: x1**3, x1, df=2.0, eps=1e-5),
    )

    dc = gradcheck.directional_check
    for kw, exc, pattern in [
        ({"loss": 1.0}, TypeError, r"^loss: expected a function of no arguments"),
        ({"xs": X}, TypeError, r"^xs: expected a list of float64 arrays, got ndarray"),
        ({"xs": []}, ValueError, r"^xs: expected at least one array"),
        ({"grads": []}, ValueError, r"^grads: expected one gradient per array in xs \(1\), got 0"),
        ({"grads": 2 * X}, TypeError, r"^grads: expected a list of arrays"),
        ({"grads": [np.ones(3)]}, ValueError, r"^grads\[0\]: expected shape \(3, 2, 4\), got \(3,\)"),
        ({"grads": [(2 * X).tolist()]}, TypeError, r"^grads\[0\]: expected a numpy\.ndarray"),
        ({"grads": [put(2 * X, (0, 0, 0))]}, FloatingPointError, r"^grads\[0\]: non-finite"),
        ({"xs": [X.astype(np.float32)]}, TypeError, r"^xs\[0\]: expected a float64 numpy\.ndarray"),
        ({"xs": [put(X, (1, 1, 1))]}, FloatingPointError, r"^xs\[0\]: non-finite"),
        ({"rng": 0}, TypeError, r"^rng: expected a numpy\.random\.Generator"),
        ({"eps": -1e-5}, ValueError, r"^eps: expected a positive number"),
        ({"loss": lambda: NAN}, FloatingPointError, r"^loss: returned a non-finite value"),
        ({"loss": lambda: np.ones(2)}, ValueError, r"^loss: expected it to return one number"),
        ({"loss": lambda: None}, TypeError, r"^loss: expected it to return a number"),
    ]:
        base = X.copy()
        args = dict(loss=lambda base=base: float(np.sum(base**2)), xs=[base], grads=[2 * X], rng=rng(0)) | kw
        bad(f"{p}/directional_check/{kw_label(kw)}", lambda args=args: dc(**args), exc, pattern)
    x2 = X.copy()
    good(
        f"{p}/directional_check/eps np.float32",
        lambda: dc(lambda: float(np.sum(x2**2)), [x2], [2 * X], rng(0), np.float32(1e-5)),
        lambda: dc(lambda: float(np.sum(x2**2)), [x2], [2 * X], rng(0), float(np.float32(1e-5))),
    )

    # init
    p = "helpers/init"
    G = r"^rng: expected a numpy\.random\.Generator \(for example np\.random\.default_rng\(0\)\), got "
    for name, call, exc, pattern in [
        ("gaussian/rng int", lambda: init.gaussian(0, (2, 2), 2), TypeError, G + "int"),
        (
            "gaussian/shape with 0",
            lambda: init.gaussian(rng(0), (2, 0), 2),
            ValueError,
            r"^shape\[1\]: expected a positive int, got 0",
        ),
        (
            "gaussian/shape float",
            lambda: init.gaussian(rng(0), 2.0, 2),
            TypeError,
            r"^shape: expected a tuple of positive ints",
        ),
        (
            "gaussian/shape a list",
            lambda: init.gaussian(rng(0), [2, 2], 2),
            TypeError,
            r"^shape: expected a tuple of positive ints",
        ),
        (
            "gaussian/fan_in 0",
            lambda: init.gaussian(rng(0), (2, 2), 0),
            ValueError,
            r"^fan_in: expected a positive number",
        ),
        (
            "gaussian/fan_in str",
            lambda: init.gaussian(rng(0), (2, 2), "2"),
            TypeError,
            r"^fan_in: expected a real number",
        ),
        (
            "gaussian/dtype int",
            lambda: init.gaussian(rng(0), (2, 2), 2, np.int32),
            TypeError,
            r"^dtype: expected float32 or float64",
        ),
        (
            "gaussian/dtype bogus",
            lambda: init.gaussian(rng(0), (2, 2), 2, "floaty"),
            TypeError,
            r"^dtype: expected float32 or float64",
        ),
        ("orthogonal/n 0", lambda: init.orthogonal(rng(0), 0), ValueError, r"^n: expected a positive int, got 0"),
        (
            "orthogonal/n 2.0",
            lambda: init.orthogonal(rng(0), 2.0),
            TypeError,
            r"^n: expected a positive int, got float",
        ),
        ("orthogonal/rng None", lambda: init.orthogonal(None, 2), TypeError, G + "NoneType"),
        ("orthogonal/dtype complex", lambda: init.orthogonal(rng(0), 2, np.complex128), TypeError, r"^dtype:"),
        (
            "spectral_radius/list",
            lambda: init.spectral_radius([[1.0]]),
            TypeError,
            r"^W: expected a square numpy\.ndarray",
        ),
        (
            "spectral_radius/not square",
            lambda: init.spectral_radius(np.ones((2, 3))),
            ValueError,
            r"^W: expected a square 2-axis array",
        ),
        (
            "spectral_radius/rank 1",
            lambda: init.spectral_radius(np.ones(3)),
            ValueError,
            r"^W: expected a square 2-axis array",
        ),
        (
            "spectral_radius/empty",
            lambda: init.spectral_radius(np.ones((0, 0))),
            ValueError,
            r"^W: expected a square 2-axis array \(H, H\) with H >= 1",
        ),
        (
            "spectral_radius/complex",
            lambda: init.spectral_radius(np.eye(2) * 1j),
            TypeError,
            r"^W: expected real numbers",
        ),
        (
            "spectral_radius/bool",
            lambda: init.spectral_radius(np.eye(2, dtype=bool)),
            TypeError,
            r"^W: expected real numbers",
        ),
        (
            "spectral_radius/NaN",
            lambda: init.spectral_radius(put(np.eye(2), (0, 1))),
            FloatingPointError,
            r"^W: non-finite",
        ),
        (
            "rescale_spectral_radius/int W",
            lambda: init.rescale_spectral_radius(2 * np.eye(3, dtype=int), 0.5),
            TypeError,
            r"^W: expected float32 or float64, got dtype int64",
        ),
        (
            "rescale_spectral_radius/radius 0",
            lambda: init.rescale_spectral_radius(np.eye(2), 0.0),
            ValueError,
            r"^radius: expected a positive number",
        ),
        (
            "rescale_spectral_radius/radius NaN",
            lambda: init.rescale_spectral_radius(np.eye(2), NAN),
            ValueError,
            r"^radius: expected a finite number",
        ),
        (
            "rescale_spectral_radius/radius str",
            lambda: init.rescale_spectral_radius(np.eye(2), "1"),
            TypeError,
            r"^radius: expected a real number",
        ),
        (
            "rescale_spectral_radius/nilpotent W",
            lambda: init.rescale_spectral_radius(np.triu(np.ones((2, 2)), 1), 1.0),
            ValueError,
            r"^W: has spectral radius 0",
        ),
        ("init_rnn/D 0", lambda: init.init_rnn(0, 4, rng(0)), ValueError, r"^D: expected a positive int, got 0"),
        ("init_rnn/H 2.5", lambda: init.init_rnn(3, 2.5, rng(0)), TypeError, r"^H: expected a positive int, got float"),
        (
            "init_rnn/H True",
            lambda: init.init_rnn(3, True, rng(0)),
            TypeError,
            r"^H: expected a positive int, got bool",
        ),
        ("init_rnn/rng int", lambda: init.init_rnn(3, 4, 0), TypeError, G + "int"),
        (
            "init_rnn/rng RandomState",
            lambda: init.init_rnn(3, 4, np.random.RandomState(0)),
            TypeError,
            G + "RandomState",
        ),
        (
            "init_rnn/dtype int",
            lambda: init.init_rnn(3, 4, rng(0), dtype=np.int32),
            TypeError,
            r"^dtype: expected float32 or float64",
        ),
        (
            "init_rnn/scheme bogus",
            lambda: init.init_rnn(3, 4, rng(0), scheme="xavier"),
            ValueError,
            r"^scheme: expected one of",
        ),
        (
            "init_rnn/scheme None",
            lambda: init.init_rnn(3, 4, rng(0), scheme=None),
            TypeError,
            r"^scheme: expected one of",
        ),
        (
            "init_rnn/recurrent_scale NaN",
            lambda: init.init_rnn(3, 4, rng(0), recurrent_scale=NAN),
            ValueError,
            r"^recurrent_scale: expected a finite number",
        ),
        (
            "init_rnn/recurrent_scale str",
            lambda: init.init_rnn(3, 4, rng(0), recurrent_scale="1"),
            TypeError,
            r"^recurrent_scale: expected a real number",
        ),
        (
            "init_rnn/radius -1",
            lambda: init.init_rnn(3, 4, rng(0), radius=-1.0),
            ValueError,
            r"^radius: expected a positive number",
        ),
        (
            "init_rnn/radius with a zero matrix",
            lambda: init.init_rnn(3, 4, rng(0), recurrent_scale=0.0, radius=1.0),
            ValueError,
            r"^W: has spectral radius 0",
        ),
        ("init_readout/O 0", lambda: init.init_readout(4, 0, rng(0)), ValueError, r"^O: expected a positive int"),
        ("init_readout/rng module", lambda: init.init_readout(4, 2, np.random), TypeError, G + "module"),
        (
            "init_mlp/activation linear",
            lambda: init.init_mlp(3, 4, 2, rng(0), activation="linear"),
            ValueError,
            r"^activation: expected one of \['tanh', 'sigmoid', 'relu'\]",
        ),
        ("init_mlp/rng None", lambda: init.init_mlp(3, 4, 2, None), TypeError, G + "NoneType"),
        (
            "init_lstm/forget_bias NaN",
            lambda: init.init_lstm(3, 4, rng(0), forget_bias=NAN),
            ValueError,
            r"^forget_bias: expected a finite number",
        ),
        (
            "init_lstm/forget_bias str",
            lambda: init.init_lstm(3, 4, rng(0), forget_bias="1"),
            TypeError,
            r"^forget_bias: expected a real number",
        ),
        ("init_lstm/H 0", lambda: init.init_lstm(3, 0, rng(0)), ValueError, r"^H: expected a positive int"),
        (
            "init_gru/dtype float16",
            lambda: init.init_gru(3, 4, rng(0), np.float16),
            TypeError,
            r"^dtype: expected float32 or float64, got float16",
        ),
        ("init_gru/rng int", lambda: init.init_gru(3, 4, 1), TypeError, G + "int"),
        (
            "init_cell/cell bogus",
            lambda: init.init_cell("tcn", 3, 4, rng(0)),
            ValueError,
            r"^cell: expected one of \['rnn', 'lstm', 'gru'\]",
        ),
        ("init_cell/cell None", lambda: init.init_cell(None, 3, 4, rng(0)), TypeError, r"^cell: expected one of"),
        (
            "init_cell/bogus option",
            lambda: init.init_cell("gru", 3, 4, rng(0), forget_bias=1.0),
            TypeError,
            r"^forget_bias: not an option of init_gru",
        ),
        (
            "init_cell/an option of another cell",
            lambda: init.init_cell("lstm", 3, 4, rng(0), scheme="identity"),
            TypeError,
            r"^scheme: not an option of init_lstm \(its options: forget_bias\)",
        ),
    ]:
        bad(f"{p}/{name}", call, exc, pattern)
    good(
        f"{p}/init_rnn/NumPy scalars",
        lambda: init.init_rnn(
            np.int64(3),
            np.int32(4),
            rng(0),
            recurrent_scale=np.float32(0.5),
            scheme="orthogonal",
            radius=np.float64(1.1),
        ),
        lambda: init.init_rnn(3, 4, rng(0), recurrent_scale=float(np.float32(0.5)), scheme="orthogonal", radius=1.1),
    )
    good(
        f"{p}/init_lstm/forget_bias np.float32",
        lambda: init.init_lstm(3, 4, rng(0), forget_bias=np.float32(2.0)),
        lambda: init.init_lstm(3, 4, rng(0), forget_bias=2.0),
    )
    good(
        f"{p}/init_cell/np.int64 sizes",
        lambda: init.init_cell("gru", np.int64(2), np.int64(3), rng(0)),
        lambda: init.init_cell("gru", 2, 3, rng(0)),
    )
    good(
        f"{p}/gaussian/np.int64 shape and fan_in",
        lambda: init.gaussian(rng(0), (np.int64(2), 3), np.int64(3)),
        lambda: init.gaussian(rng(0), (2, 3), 3),
    )
    good(f"{p}/orthogonal/np.int64 n", lambda: init.orthogonal(rng(0), np.int64(3)), lambda: init.orthogonal(rng(0), 3))
    good(
        f"{p}/rescale_spectral_radius/np.float32 radius",
        lambda: init.rescale_spectral_radius(np.diag([2.0, 1.0]), np.float32(0.5)),
        lambda: init.rescale_spectral_radius(np.diag([2.0, 1.0]), 0.5),
    )

    # optim
    p = "helpers/optim"
    prm = init.init_rnn(4, 5, rng(0))
    grads = RNNGrads(*(np.ones_like(a) for a in prm))

    class OtherGrads(NamedTuple):
        dA: Any
        dB: Any
        dC: Any

    state = optim.adam_init(prm)
    for name, call, exc, pattern in [
        (
            "sgd_step/lr 0",
            lambda: optim.sgd_step(prm, grads, 0.0),
            ValueError,
            r"^lr: expected a positive number, got 0\.0",
        ),
        ("sgd_step/lr -0.1", lambda: optim.sgd_step(prm, grads, -0.1), ValueError, r"^lr: expected a positive number"),
        (
            "sgd_step/lr True",
            lambda: optim.sgd_step(prm, grads, True),
            TypeError,
            r"^lr: expected a real number, got bool",
        ),
        (
            "sgd_step/lr str",
            lambda: optim.sgd_step(prm, grads, "0.1"),
            TypeError,
            r"^lr: expected a real number, got str",
        ),
        ("sgd_step/lr inf", lambda: optim.sgd_step(prm, grads, INF), ValueError, r"^lr: expected a finite number"),
        (
            "sgd_step/params an array",
            lambda: optim.sgd_step(prm.W_hh, grads.dW_hh, 0.1),
            TypeError,
            r"^params: expected a parameter container",
        ),
        (
            "sgd_step/params NaN",
            lambda: optim.sgd_step(prm._replace(b_h=put(prm.b_h, 0)), grads, 0.1),
            FloatingPointError,
            r"^params\.b_h: non-finite",
        ),
        (
            "sgd_step/params int",
            lambda: optim.sgd_step(prm._replace(b_h=np.zeros(5, int)), grads, 0.1),
            TypeError,
            r"^params\.b_h: expected dtype",
        ),
        (
            "sgd_step/grads of another container",
            lambda: optim.sgd_step(prm, ReadoutGrads(np.ones(1), np.ones(1)), 0.1),
            TypeError,
            r"^grads: expected a container shaped like RNNParams, got ReadoutGrads",
        ),
        (
            "sgd_step/grads field names",
            lambda: optim.sgd_step(prm, OtherGrads(*grads), 0.1),
            TypeError,
            r"^grads: expected the gradient container of RNNParams \(fields \['dW_xh', 'dW_hh', 'db_h'\]\)",
        ),
        (
            "sgd_step/grads shape",
            lambda: optim.sgd_step(prm, grads._replace(dW_hh=np.ones((5, 4))), 0.1),
            ValueError,
            r"^grads\.dW_hh: expected shape \(5, 5\), got \(5, 4\)",
        ),
        (
            "sgd_step/grads float32",
            lambda: optim.sgd_step(prm, grads._replace(db_h=np.ones(5, np.float32)), 0.1),
            TypeError,
            r"^grads\.db_h: expected dtype float64 \(the dtype of the parameter\), got float32",
        ),
        (
            "sgd_step/grads a list leaf",
            lambda: optim.sgd_step(prm, grads._replace(db_h=[1.0] * 5), 0.1),
            TypeError,
            r"^grads\.db_h: expected a numpy\.ndarray",
        ),
        (
            "sgd_step/grads NaN",
            lambda: optim.sgd_step(prm, grads._replace(db_h=put(np.ones(5), 2)), 0.1),
            FloatingPointError,
            r"^grads\.db_h: non-finite gradient",
        ),
        (
            "sgd_step/grads None",
            lambda: optim.sgd_step(prm, None, 0.1),
            TypeError,
            r"^grads: expected a container shaped like RNNParams",
        ),
        ("adam_init/params None", lambda: optim.adam_init(None), TypeError, r"^params: expected a parameter container"),
        (
            "adam_init/params with a str",
            lambda: optim.adam_init(prm._replace(b_h="0")),
            TypeError,
            r"^params\.b_h: expected a numpy\.ndarray",
        ),
        (
            "adam_step/state a tuple",
            lambda: optim.adam_step(prm, grads, (0, (), ())),
            TypeError,
            r"^state: expected AdamState from adam_init, got tuple",
        ),
        (
            "adam_step/state of other params",
            lambda: optim.adam_step(prm, grads, optim.adam_init(init.init_readout(4, 2, rng(0)))),
            TypeError,
            r"^state\.m: expected a container shaped like params",
        ),
        (
            "adam_step/state.m shapes",
            lambda: optim.adam_step(prm, grads, state._replace(m=state.m._replace(b_h=np.zeros(4)))),
            ValueError,
            r"^state\.m\.b_h: expected shape \(5,\)",
        ),
        (
            "adam_step/state.v NaN",
            lambda: optim.adam_step(prm, grads, state._replace(v=state.v._replace(b_h=put(np.zeros(5), 0)))),
            FloatingPointError,
            r"^state\.v\.b_h: non-finite",
        ),
        (
            "adam_step/state.step -1",
            lambda: optim.adam_step(prm, grads, state._replace(step=-1)),
            ValueError,
            r"^state\.step: expected an int in \[0, inf\]",
        ),
        (
            "adam_step/state.step float",
            lambda: optim.adam_step(prm, grads, state._replace(step=1.0)),
            TypeError,
            r"^state\.step: expected an int",
        ),
        (
            "adam_step/lr NaN",
            lambda: optim.adam_step(prm, grads, state, lr=NAN),
            ValueError,
            r"^lr: expected a finite number, got nan",
        ),
        (
            "adam_step/betas (1.0, 0.999)",
            lambda: optim.adam_step(prm, grads, state, betas=(1.0, 0.999)),
            ValueError,
            r"^betas\[0\]: expected a number < 1\.0, got 1\.0",
        ),
        (
            "adam_step/betas (0.9, -0.1)",
            lambda: optim.adam_step(prm, grads, state, betas=(0.9, -0.1)),
            ValueError,
            r"^betas\[1\]: expected a number >= 0\.0",
        ),
        (
            "adam_step/betas one value",
            lambda: optim.adam_step(prm, grads, state, betas=(0.9,)),
            ValueError,
            r"^betas: expected a pair \(beta1, beta2\), got 1 values",
        ),
        (
            "adam_step/betas a float",
            lambda: optim.adam_step(prm, grads, state, betas=0.9),
            TypeError,
            r"^betas: expected a pair",
        ),
        (
            "adam_step/betas with a str",
            lambda: optim.adam_step(prm, grads, state, betas=("0.9", 0.999)),
            TypeError,
            r"^betas\[0\]: expected a real number",
        ),
        (
            "adam_step/eps 0",
            lambda: optim.adam_step(prm, grads, state, eps=0.0),
            ValueError,
            r"^eps: expected a positive number",
        ),
        (
            "adam_step/eps None",
            lambda: optim.adam_step(prm, grads, state, eps=None),
            TypeError,
            r"^eps: expected a real number",
        ),
        (
            "adam_step/grads NaN",
            lambda: optim.adam_step(prm, grads._replace(dW_xh=put(grads.dW_xh, (0, 0))), state),
            FloatingPointError,
            r"^grads\.dW_xh: non-finite gradient",
        ),
    ]:
        bad(f"{p}/{name}", call, exc, pattern)
    good(
        f"{p}/sgd_step/lr np.float32",
        lambda: optim.sgd_step(prm, grads, np.float32(0.5)),
        lambda: optim.sgd_step(prm, grads, 0.5),
    )
    good(
        f"{p}/adam_step/NumPy scalars",
        lambda: optim.adam_step(
            prm, grads, state, lr=np.float32(0.5), betas=(np.float32(0.5), np.float64(0.75)), eps=np.float64(1e-8)
        ),
        lambda: optim.adam_step(prm, grads, state, lr=0.5, betas=(0.5, 0.75), eps=1e-8),
    )
    good(
        f"{p}/adam_step/state.step np.int64",
        lambda: optim.adam_step(prm, grads, state._replace(step=np.int64(3))),
        lambda: optim.adam_step(prm, grads, state._replace(step=3)),
    )

    # clip
    p = "helpers/clip"
    g = SeqGrads(RNNGrads(np.ones((3, 2)), np.ones((3, 3)), np.ones(3)), ReadoutGrads(np.ones((1, 3)), np.ones(1)))
    g_nan = g._replace(cell=g.cell._replace(dW_hh=put(g.cell.dW_hh, (1, 1))))
    for name, call, exc, pattern in [
        (
            "global_norm/NaN",
            lambda: clip.global_norm(g_nan),
            FloatingPointError,
            r"^grads\.cell\.dW_hh: non-finite gradient",
        ),
        ("global_norm/empty", lambda: clip.global_norm(()), ValueError, r"^grads: expected at least one array"),
        ("global_norm/None", lambda: clip.global_norm(None), TypeError, r"^grads: expected a container of arrays"),
        (
            "global_norm/a str leaf",
            lambda: clip.global_norm(("g",)),
            TypeError,
            r"^grads\.0: expected a numpy\.ndarray",
        ),
        (
            "global_norm/an int leaf",
            lambda: clip.global_norm((np.ones(2, int),)),
            TypeError,
            r"^grads\.0: expected dtype float32 or float64",
        ),
        (
            "global_norm/a tensor leaf",
            lambda: clip.global_norm((torch.ones(2),)),
            TypeError,
            r"^grads\.0: expected a numpy\.ndarray",
        ),
        (
            "clip_by_global_norm/max_norm 0",
            lambda: clip.clip_by_global_norm(g, 0.0),
            ValueError,
            r"^max_norm: expected a positive number",
        ),
        (
            "clip_by_global_norm/max_norm NaN",
            lambda: clip.clip_by_global_norm(g, NAN),
            ValueError,
            r"^max_norm: expected a finite number",
        ),
        (
            "clip_by_global_norm/max_norm str",
            lambda: clip.clip_by_global_norm(g, "1"),
            TypeError,
            r"^max_norm: expected a real number",
        ),
        (
            "clip_by_global_norm/max_norm True",
            lambda: clip.clip_by_global_norm(g, True),
            TypeError,
            r"^max_norm: expected a real number, got bool",
        ),
        (
            "clip_by_global_norm/step -1",
            lambda: clip.clip_by_global_norm(g, 1.0, step=-1),
            ValueError,
            r"^step: expected an int in \[0, inf\]",
        ),
        (
            "clip_by_global_norm/step 1.5",
            lambda: clip.clip_by_global_norm(g, 1.0, step=1.5),
            TypeError,
            r"^step: expected an int",
        ),
        (
            "clip_by_global_norm/NaN with a step",
            lambda: clip.clip_by_global_norm(g_nan, 1.0, step=7),
            FloatingPointError,
            r"^grads\.cell\.dW_hh: non-finite gradient \(NaN or inf\) at training step 7",
        ),
        (
            "clip_by_value/clip_value -1",
            lambda: clip.clip_by_value(g, -1.0),
            ValueError,
            r"^clip_value: expected a positive number",
        ),
        (
            "clip_by_value/clip_value None",
            lambda: clip.clip_by_value(g, None),
            TypeError,
            r"^clip_value: expected a real number",
        ),
        (
            "clip_by_value/inf",
            lambda: clip.clip_by_value(g._replace(readout=g.readout._replace(db_y=np.array([INF]))), 1.0),
            FloatingPointError,
            r"^grads\.readout\.db_y: non-finite gradient",
        ),
        (
            "clip_by_value/grads a dict",
            lambda: clip.clip_by_value({"a": np.ones(2)}, 1.0),
            TypeError,
            r"^grads: expected a container of arrays",
        ),
    ]:
        bad(f"{p}/{name}", call, exc, pattern)
    good(
        f"{p}/clip_by_global_norm/NumPy scalars",
        lambda: clip.clip_by_global_norm(g, np.float32(0.5), step=np.int64(3)),
        lambda: clip.clip_by_global_norm(g, 0.5, step=3),
    )
    good(
        f"{p}/clip_by_value/NumPy scalars",
        lambda: clip.clip_by_value(g, np.float32(0.5), step=np.int64(3)),
        lambda: clip.clip_by_value(g, 0.5, step=3),
    )

    # tasks
    p = "helpers/tasks"
    for name, call, exc, pattern in [
        ("noisy_sine/T 0", lambda: tasks.noisy_sine(0, 2, rng(0)), ValueError, r"^T: expected a positive int, got 0"),
        (
            "noisy_sine/B 2.5",
            lambda: tasks.noisy_sine(5, 2.5, rng(0)),
            TypeError,
            r"^B: expected a positive int, got float",
        ),
        ("noisy_sine/rng int", lambda: tasks.noisy_sine(5, 2, 42), TypeError, G + "int"),
        (
            "noisy_sine/noise -0.1",
            lambda: tasks.noisy_sine(5, 2, rng(0), noise=-0.1),
            ValueError,
            r"^noise: expected a number >= 0",
        ),
        (
            "noisy_sine/noise NaN",
            lambda: tasks.noisy_sine(5, 2, rng(0), noise=NAN),
            ValueError,
            r"^noise: expected a finite number",
        ),
        (
            "noisy_sine/noise str",
            lambda: tasks.noisy_sine(5, 2, rng(0), noise="0.1"),
            TypeError,
            r"^noise: expected a real number",
        ),
        (
            "noisy_sine/period_range reversed",
            lambda: tasks.noisy_sine(5, 2, rng(0), period_range=(10.0, 5.0)),
            ValueError,
            r"^period_range: expected finite numbers with 0\.0 < low <= high, got \(10\.0, 5\.0\)",
        ),
        (
            "noisy_sine/period_range from 0",
            lambda: tasks.noisy_sine(5, 2, rng(0), period_range=(0.0, 5.0)),
            ValueError,
            r"^period_range: expected",
        ),
        (
            "noisy_sine/period_range to inf",
            lambda: tasks.noisy_sine(5, 2, rng(0), period_range=(1.0, INF)),
            ValueError,
            r"^period_range: expected finite",
        ),
        (
            "noisy_sine/period_range 3 values",
            lambda: tasks.noisy_sine(5, 2, rng(0), period_range=(1.0, 2.0, 3.0)),
            ValueError,
            r"^period_range: expected a pair \(low, high\) of numbers, got 3 values",
        ),
        (
            "noisy_sine/period_range a str",
            lambda: tasks.noisy_sine(5, 2, rng(0), period_range="ab"),
            TypeError,
            r"^period_range: expected a pair",
        ),
        (
            "noisy_sine/period_range with None",
            lambda: tasks.noisy_sine(5, 2, rng(0), period_range=(None, 2.0)),
            TypeError,
            r"^period_range: expected a pair",
        ),
        (
            "noisy_sine/dtype int",
            lambda: tasks.noisy_sine(5, 2, rng(0), dtype=np.int64),
            TypeError,
            r"^dtype: expected float32 or float64",
        ),
        (
            "adding_problem/T 1",
            lambda: tasks.adding_problem(1, 2, rng(0)),
            ValueError,
            r"^T: expected at least 2 steps",
        ),
        (
            "adding_problem/window 1",
            lambda: tasks.adding_problem(10, 2, rng(0), window=1),
            ValueError,
            r"^window: expected 2 <= window <= T = 10",
        ),
        (
            "adding_problem/window > T",
            lambda: tasks.adding_problem(10, 2, rng(0), window=11),
            ValueError,
            r"^window: expected 2 <= window",
        ),
        (
            "adding_problem/window 2.5",
            lambda: tasks.adding_problem(10, 2, rng(0), window=2.5),
            TypeError,
            r"^window: expected a positive int",
        ),
        (
            "adding_problem/dtype str",
            lambda: tasks.adding_problem(10, 2, rng(0), dtype="int8"),
            TypeError,
            r"^dtype: expected float32 or float64",
        ),
        ("adding_problem/rng None", lambda: tasks.adding_problem(10, 2, None), TypeError, G + "NoneType"),
        (
            "adding_baseline/tolerance 0",
            lambda: tasks.adding_baseline(0.0),
            ValueError,
            r"^tolerance: expected a number > 0\.0",
        ),
        (
            "adding_baseline/tolerance 1.5",
            lambda: tasks.adding_baseline(1.5),
            ValueError,
            r"^tolerance: expected a number <= 1\.0",
        ),
        (
            "adding_baseline/tolerance str",
            lambda: tasks.adding_baseline("0.04"),
            TypeError,
            r"^tolerance: expected a real number",
        ),
        ("copy_task/delay 0", lambda: tasks.copy_task(0, 2, rng(0)), ValueError, r"^delay: expected a positive int"),
        (
            "copy_task/length 0",
            lambda: tasks.copy_task(3, 2, rng(0), length=0),
            ValueError,
            r"^length: expected a positive int",
        ),
        (
            "copy_task/n_symbols 1",
            lambda: tasks.copy_task(3, 2, rng(0), n_symbols=1),
            ValueError,
            r"^n_symbols: expected at least 2",
        ),
        ("copy_task/rng int", lambda: tasks.copy_task(3, 2, 0), TypeError, G + "int"),
        (
            "copy_task/dtype int",
            lambda: tasks.copy_task(3, 2, rng(0), dtype=int),
            TypeError,
            r"^dtype: expected float32 or float64",
        ),
        ("copy_baseline/n_symbols 1", lambda: tasks.copy_baseline(1), ValueError, r"^n_symbols: expected at least 2"),
        (
            "copy_baseline/n_symbols 2.0",
            lambda: tasks.copy_baseline(2.0),
            TypeError,
            r"^n_symbols: expected a positive int",
        ),
        (
            "temporal_order/T 9",
            lambda: tasks.temporal_order(9, 2, rng(0)),
            ValueError,
            r"^T: expected at least 10 steps",
        ),
        ("temporal_order/B 0", lambda: tasks.temporal_order(10, 0, rng(0)), ValueError, r"^B: expected a positive int"),
        (
            "temporal_order/dtype complex",
            lambda: tasks.temporal_order(10, 2, rng(0), dtype=complex),
            TypeError,
            r"^dtype:",
        ),
    ]:
        bad(f"{p}/{name}", call, exc, pattern)
    add_b = tasks.adding_problem(6, 4, rng(1))
    add_ys = rng(2).uniform(0, 2, size=(6, 4, 1))
    copy_b = tasks.copy_task(2, 4, rng(3), length=2, n_symbols=3)
    copy_ys = rng(4).standard_normal((6, 4, 5))
    acc = tasks.accuracy
    for name, call, exc, pattern in [
        ("accuracy/ys list", lambda: acc(add_ys.tolist(), add_b), TypeError, r"^ys: expected a numpy\.ndarray"),
        ("accuracy/ys rank 2", lambda: acc(add_ys[..., 0], add_b), ValueError, r"^ys: expected 3 axes \(T, B, O\)"),
        ("accuracy/ys T wrong", lambda: acc(add_ys[:5], add_b), ValueError, r"^ys: expected shape \(T, B, O\)"),
        (
            "accuracy/ys O wrong for mse",
            lambda: acc(add_ys[..., [0, 0]], add_b),
            ValueError,
            r"^ys: expected shape \(T, B, O\) = \(6, 4, 1\)",
        ),
        (
            "accuracy/ys NaN",
            lambda: acc(put(add_ys, (5, 0, 0)), add_b),
            FloatingPointError,
            r"^ys: non-finite value \(NaN or inf\) at time step 5",
        ),
        ("accuracy/ys int", lambda: acc(add_ys.astype(int), add_b), TypeError, r"^ys: expected dtype"),
        (
            "accuracy/batch a tuple",
            lambda: acc(add_ys, tuple(add_b)),
            TypeError,
            r"^batch: expected a bpttlab\.tasks\.TaskBatch",
        ),
        (
            "accuracy/batch.mask all zero",
            lambda: acc(add_ys, add_b._replace(mask=0 * add_b.mask)),
            ValueError,
            r"^batch\.mask: expected at least one step with mask > 0",
        ),
        (
            "accuracy/batch.mask (T, 1)",
            lambda: acc(add_ys, add_b._replace(mask=add_b.mask[:, :1])),
            ValueError,
            r"^batch\.mask: expected shape",
        ),
        (
            "accuracy/batch.loss bogus",
            lambda: acc(add_ys, add_b._replace(loss="l1")),
            ValueError,
            r"^batch\.loss: expected one of",
        ),
        (
            "accuracy/tolerance 0",
            lambda: acc(add_ys, add_b, 0.0),
            ValueError,
            r"^tolerance: expected a positive number",
        ),
        ("accuracy/tolerance str", lambda: acc(add_ys, add_b, "0.1"), TypeError, r"^tolerance: expected a real number"),
        (
            "accuracy/labels >= O",
            lambda: acc(copy_ys[..., :3], copy_b),
            ValueError,
            r"^batch\.y: expected class labels below O = 3",
        ),
        (
            "accuracy/labels float",
            lambda: acc(copy_ys, copy_b._replace(y=copy_b.y + 0.0)),
            TypeError,
            r"^batch\.y: expected an integer dtype",
        ),
        (
            "accuracy/labels negative",
            lambda: acc(copy_ys, copy_b._replace(y=-copy_b.y)),
            ValueError,
            r"^batch\.y: expected values in \[0, inf\]",
        ),
        (
            "check_task_batch/batch.y (T, B) for mse",
            lambda: tasks.check_task_batch(add_b._replace(y=add_b.y[..., 0])),
            ValueError,
            r"^batch\.y: expected 3 axes \(T, B, O\)",
        ),
        (
            "check_task_batch/batch.x int",
            lambda: tasks.check_task_batch(add_b._replace(x=add_b.x.astype(int))),
            TypeError,
            r"^batch\.x: expected dtype",
        ),
    ]:
        bad(f"{p}/{name}", call, exc, pattern)
    good(
        f"{p}/noisy_sine/NumPy scalars",
        lambda: tasks.noisy_sine(
            np.int64(5), np.int32(2), rng(0), noise=np.float32(0.1), period_range=(np.float32(8), np.int64(20))
        ),
        lambda: tasks.noisy_sine(5, 2, rng(0), noise=float(np.float32(0.1)), period_range=(8.0, 20.0)),
    )
    good(
        f"{p}/adding_problem/NumPy scalars",
        lambda: tasks.adding_problem(np.int64(10), np.int64(2), rng(0), window=np.int64(4)),
        lambda: tasks.adding_problem(10, 2, rng(0), window=4),
    )
    good(
        f"{p}/adding_baseline/np.float32",
        lambda: tasks.adding_baseline(np.float32(0.25)),
        lambda: tasks.adding_baseline(0.25),
    )
    good(
        f"{p}/copy_task/NumPy scalars",
        lambda: tasks.copy_task(np.int64(3), np.int64(2), rng(0), length=np.int64(2), n_symbols=np.int64(4)),
        lambda: tasks.copy_task(3, 2, rng(0), length=2, n_symbols=4),
    )
    good(f"{p}/copy_baseline/np.int64", lambda: tasks.copy_baseline(np.int64(5)), lambda: tasks.copy_baseline(5))
    good(
        f"{p}/temporal_order/np.int64",
        lambda: tasks.temporal_order(np.int64(12), np.int64(3), rng(0)),
        lambda: tasks.temporal_order(12, 3, rng(0)),
    )
    good(
        f"{p}/accuracy/tolerance np.float32",
        lambda: acc(add_ys, add_b, np.float32(0.5)),
        lambda: acc(add_ys, add_b, 0.5),
    )

    # series
    p = "helpers/series"
    s30 = np.arange(30.0)
    for name, call, exc, pattern in [
        ("mackey_glass/n 0", lambda: series.mackey_glass(0), ValueError, r"^n: expected a positive int"),
        ("mackey_glass/n 2.0", lambda: series.mackey_glass(2.0), TypeError, r"^n: expected a positive int"),
        (
            "mackey_glass/tau 0",
            lambda: series.mackey_glass(5, tau=0.0),
            ValueError,
            r"^tau: expected a positive number",
        ),
        (
            "mackey_glass/tau NaN",
            lambda: series.mackey_glass(5, tau=NAN),
            ValueError,
            r"^tau: expected a finite number",
        ),
        ("mackey_glass/tau str", lambda: series.mackey_glass(5, tau="17"), TypeError, r"^tau: expected a real number"),
        (
            "mackey_glass/dt -0.1",
            lambda: series.mackey_glass(5, dt=-0.1),
            ValueError,
            r"^dt: expected a positive number",
        ),
        (
            "mackey_glass/dt 0.3",
            lambda: series.mackey_glass(5, dt=0.3),
            ValueError,
            r"^dt: expected a step that divides tau",
        ),
        (
            "mackey_glass/sample_every 0",
            lambda: series.mackey_glass(5, sample_every=0.0),
            ValueError,
            r"^sample_every: expected a positive number",
        ),
        (
            "mackey_glass/beta NaN",
            lambda: series.mackey_glass(5, beta=NAN),
            ValueError,
            r"^beta: expected a finite number",
        ),
        (
            "mackey_glass/gamma str",
            lambda: series.mackey_glass(5, gamma="0.1"),
            TypeError,
            r"^gamma: expected a real number",
        ),
        (
            "mackey_glass/power inf",
            lambda: series.mackey_glass(5, power=INF),
            ValueError,
            r"^power: expected a finite number",
        ),
        ("mackey_glass/x0 None", lambda: series.mackey_glass(5, x0=None), TypeError, r"^x0: expected a real number"),
        (
            "mackey_glass/discard -1",
            lambda: series.mackey_glass(5, discard=-1),
            ValueError,
            r"^discard: expected an int in \[0, inf\]",
        ),
        (
            "mackey_glass/discard 1.5",
            lambda: series.mackey_glass(5, discard=1.5),
            TypeError,
            r"^discard: expected an int",
        ),
        ("mackey_glass/rng 1", lambda: series.mackey_glass(5, rng=1), TypeError, G + "int"),
        (
            "mackey_glass/a fractional power of a negative value",
            lambda: series.mackey_glass(5, x0=-1.2, power=0.5, discard=0),
            FloatingPointError,
            r"^x0, beta, gamma, power: the integration became non-finite",
        ),
        (
            "multi_sine/noise -1",
            lambda: series.multi_sine(5, 2, rng(0), noise=-1.0),
            ValueError,
            r"^noise: expected a number >= 0",
        ),
        (
            "multi_sine/period_range reversed",
            lambda: series.multi_sine(5, 2, rng(0), period_range=(5.0, 2.0)),
            ValueError,
            r"^period_range: expected",
        ),
        (
            "multi_sine/n_components 0",
            lambda: series.multi_sine(5, 2, rng(0), n_components=0),
            ValueError,
            r"^n_components: expected a positive int",
        ),
        ("multi_sine/rng None", lambda: series.multi_sine(5, 2, None), TypeError, G + "NoneType"),
        (
            "forecast_task/series list",
            lambda: series.forecast_task(list(s30), 5, 2, rng(0)),
            TypeError,
            r"^series: expected a numpy\.ndarray",
        ),
        (
            "forecast_task/series 2-D",
            lambda: series.forecast_task(s30[:, None], 5, 2, rng(0)),
            ValueError,
            r"^series: expected a 1-D array",
        ),
        (
            "forecast_task/series NaN",
            lambda: series.forecast_task(put(s30, 3), 5, 2, rng(0)),
            FloatingPointError,
            r"^series: non-finite",
        ),
        (
            "forecast_task/series complex",
            lambda: series.forecast_task(s30 + 1j, 5, 2, rng(0)),
            TypeError,
            r"^series: expected real numbers",
        ),
        (
            "forecast_task/series too short",
            lambda: series.forecast_task(s30, 30, 2, rng(0), horizon=3),
            ValueError,
            r"^series: expected at least T \+ horizon = 33 values",
        ),
        (
            "forecast_task/horizon 0",
            lambda: series.forecast_task(s30, 5, 2, rng(0), horizon=0),
            ValueError,
            r"^horizon: expected a positive int",
        ),
        (
            "forecast_task/dtype int",
            lambda: series.forecast_task(s30, 5, 2, rng(0), dtype=np.int32),
            TypeError,
            r"^dtype: expected float32 or float64",
        ),
        ("forecast_task/rng None", lambda: series.forecast_task(s30, 5, 2, None), TypeError, G + "NoneType"),
        ("persistence/list", lambda: series.persistence([1.0, 2.0]), TypeError, r"^x: expected a numpy\.ndarray"),
        ("persistence/NaN", lambda: series.persistence(np.array([1.0, NAN])), FloatingPointError, r"^x: non-finite"),
        (
            "persistence/0 axes",
            lambda: series.persistence(np.array(1.0)),
            ValueError,
            r"^x: expected an array with at least 1 axis",
        ),
        ("persistence/str", lambda: series.persistence(np.array(["a"])), TypeError, r"^x: expected real numbers"),
        (
            "ar_fit/series 2-D",
            lambda: series.ar_fit(s30.reshape(5, 6), 1),
            ValueError,
            r"^series: expected a 1-D array",
        ),
        (
            "ar_fit/series too short",
            lambda: series.ar_fit(s30[:6], 3),
            ValueError,
            r"^series: expected more than 2p = 6 values",
        ),
        ("ar_fit/p 0", lambda: series.ar_fit(s30, 0), ValueError, r"^p: expected a positive int"),
        ("ar_fit/ridge -1", lambda: series.ar_fit(s30, 2, ridge=-1.0), ValueError, r"^ridge: expected a number >= 0"),
        ("ar_fit/ridge str", lambda: series.ar_fit(s30, 2, ridge="0"), TypeError, r"^ridge: expected a real number"),
        ("ar_fit/series inf", lambda: series.ar_fit(put(s30, 0, INF), 2), FloatingPointError, r"^series: non-finite"),
        (
            "ar_predict/coef 2-D",
            lambda: series.ar_predict(np.zeros((2, 3)), np.zeros(5)),
            ValueError,
            r"^coef: expected a 1-D array",
        ),
        (
            "ar_predict/coef of length 1",
            lambda: series.ar_predict(np.zeros(1), np.zeros(5)),
            ValueError,
            r"^coef: expected \[c, a_1, \.\.\., a_p\]",
        ),
        (
            "ar_predict/coef NaN",
            lambda: series.ar_predict(put(np.zeros(3), 1), np.zeros(5)),
            FloatingPointError,
            r"^coef: non-finite",
        ),
        (
            "ar_predict/coef complex",
            lambda: series.ar_predict(np.zeros(3) * 1j, np.zeros(5)),
            TypeError,
            r"^coef: expected real numbers",
        ),
        (
            "ar_predict/coef list",
            lambda: series.ar_predict([0.0, 1.0], np.zeros(5)),
            TypeError,
            r"^coef: expected a numpy\.ndarray",
        ),
        (
            "ar_predict/history shorter than p",
            lambda: series.ar_predict(np.zeros(4), np.zeros(2)),
            ValueError,
            r"^history: expected at least p = 3",
        ),
        (
            "ar_predict/history 0 axes",
            lambda: series.ar_predict(np.zeros(3), np.array(1.0)),
            ValueError,
            r"^history: expected an array with at least 1 axis",
        ),
        (
            "ar_predict/history NaN",
            lambda: series.ar_predict(np.zeros(3), put(np.zeros(5), 4)),
            FloatingPointError,
            r"^history: non-finite",
        ),
        (
            "ar_predict/steps 0",
            lambda: series.ar_predict(np.zeros(3), np.zeros(5), steps=0),
            ValueError,
            r"^steps: expected a positive int",
        ),
    ]:
        bad(f"{p}/{name}", call, exc, pattern)
    good(
        f"{p}/mackey_glass/NumPy scalars",
        lambda: series.mackey_glass(np.int64(20), tau=np.float64(17.0), beta=np.float32(0.25), discard=np.int64(10)),
        lambda: series.mackey_glass(20, tau=17.0, beta=float(np.float32(0.25)), discard=10),
    )
    good(
        f"{p}/multi_sine/NumPy scalars",
        lambda: series.multi_sine(np.int64(5), np.int64(2), rng(0), n_components=np.int64(2), noise=np.float32(0.5)),
        lambda: series.multi_sine(5, 2, rng(0), n_components=2, noise=0.5),
    )
    good(
        f"{p}/forecast_task/NumPy scalars",
        lambda: series.forecast_task(s30, np.int64(5), np.int64(2), rng(0), horizon=np.int64(2)),
        lambda: series.forecast_task(s30, 5, 2, rng(0), horizon=2),
    )
    good(
        f"{p}/ar_fit/NumPy scalars",
        lambda: series.ar_fit(np.sin(s30), np.int64(2), ridge=np.float32(0.5)),
        lambda: series.ar_fit(np.sin(s30), 2, ridge=0.5),
    )
    good(
        f"{p}/ar_predict/np.int64 steps",
        lambda: series.ar_predict(np.array([0.1, 0.5, 0.2]), np.sin(s30), np.int64(3)),
        lambda: series.ar_predict(np.array([0.1, 0.5, 0.2]), np.sin(s30), 3),
    )

    # video
    p = "helpers/video"
    frames, labels = video.motion_clips(3, 4, rng(0), size=8)
    centres = np.full((2, 1, 2), 3.0)
    for name, call, exc, pattern in [
        (
            "render/centres list",
            lambda: video.render(centres.tolist(), 8, 1.5),
            TypeError,
            r"^centres: expected a numpy\.ndarray",
        ),
        (
            "render/centres (n, 3)",
            lambda: video.render(np.zeros((1, 3)), 8, 1.5),
            ValueError,
            r"^centres: expected \(row, column\) pairs",
        ),
        (
            "render/centres rank 1",
            lambda: video.render(np.zeros(2), 8, 1.5),
            ValueError,
            r"^centres: expected at least 2 axes",
        ),
        (
            "render/centres NaN",
            lambda: video.render(put(centres, (0, 0, 0)), 8, 1.5),
            FloatingPointError,
            r"^centres: non-finite",
        ),
        (
            "render/centres int",
            lambda: video.render(centres.astype(int), 8, 1.5),
            TypeError,
            r"^centres: expected dtype",
        ),
        ("render/size 0", lambda: video.render(centres, 0, 1.5), ValueError, r"^size: expected a positive int"),
        (
            "render/radius -1",
            lambda: video.render(centres, 8, -1.0),
            ValueError,
            r"^radius: expected a positive number",
        ),
        ("render/radius str", lambda: video.render(centres, 8, "1"), TypeError, r"^radius: expected a real number"),
        (
            "render/wrap 'yes'",
            lambda: video.render(centres, 8, 1.5, wrap="yes"),
            TypeError,
            r"^wrap: expected True or False",
        ),
        (
            "bouncing_balls/radius 7.5",
            lambda: video.bouncing_balls(4, 2, rng(0), size=16, radius=7.5),
            ValueError,
            r"^radius: expected 0 < radius",
        ),
        (
            "bouncing_balls/radius str",
            lambda: video.bouncing_balls(4, 2, rng(0), radius="1"),
            TypeError,
            r"^radius: expected a real number",
        ),
        (
            "bouncing_balls/speed_range too fast",
            lambda: video.bouncing_balls(4, 2, rng(0), speed_range=(0.5, 12.5)),
            ValueError,
            r"^speed_range: expected speeds",
        ),
        (
            "bouncing_balls/speed_range negative",
            lambda: video.bouncing_balls(4, 2, rng(0), speed_range=(-1.0, 1.0)),
            ValueError,
            r"^speed_range: expected",
        ),
        (
            "bouncing_balls/speed_range NaN",
            lambda: video.bouncing_balls(4, 2, rng(0), speed_range=(NAN, 1.0)),
            ValueError,
            r"^speed_range: expected finite",
        ),
        (
            "bouncing_balls/n_balls 0",
            lambda: video.bouncing_balls(4, 2, rng(0), n_balls=0),
            ValueError,
            r"^n_balls: expected a positive int",
        ),
        (
            "bouncing_balls/dtype int",
            lambda: video.bouncing_balls(4, 2, rng(0), dtype=np.uint8),
            TypeError,
            r"^dtype: expected float32 or float64",
        ),
        ("bouncing_balls/rng int", lambda: video.bouncing_balls(4, 2, 0), TypeError, G + "int"),
        (
            "next_frame_task/list",
            lambda: video.next_frame_task(frames.tolist()),
            TypeError,
            r"^frames: expected a numpy\.ndarray",
        ),
        (
            "next_frame_task/rank 3",
            lambda: video.next_frame_task(frames[0]),
            ValueError,
            r"^frames: expected 4 axes \(T, B, S, S\)",
        ),
        (
            "next_frame_task/T 1",
            lambda: video.next_frame_task(frames[:1]),
            ValueError,
            r"^frames: expected T >= 2 frames",
        ),
        (
            "next_frame_task/int",
            lambda: video.next_frame_task((frames * 255).astype(np.uint8)),
            TypeError,
            r"^frames: expected dtype",
        ),
        (
            "next_frame_task/NaN",
            lambda: video.next_frame_task(put(frames, (2, 0, 0, 0))),
            FloatingPointError,
            r"^frames: non-finite value \(NaN or inf\) at time step 2",
        ),
        ("motion_clips/T 1", lambda: video.motion_clips(1, 2, rng(0)), ValueError, r"^T: expected at least 2 frames"),
        (
            "motion_clips/speed 8",
            lambda: video.motion_clips(4, 2, rng(0), size=16, speed=8.0),
            ValueError,
            r"^speed: expected 0 < speed < size / 2",
        ),
        (
            "motion_clips/speed NaN",
            lambda: video.motion_clips(4, 2, rng(0), speed=NAN),
            ValueError,
            r"^speed: expected a finite number",
        ),
        (
            "motion_clips/speed str",
            lambda: video.motion_clips(4, 2, rng(0), speed="1"),
            TypeError,
            r"^speed: expected a real number",
        ),
        (
            "motion_clips/radius 0",
            lambda: video.motion_clips(4, 2, rng(0), radius=0.0),
            ValueError,
            r"^radius: expected a positive number",
        ),
        (
            "motion_clips/dtype int",
            lambda: video.motion_clips(4, 2, rng(0), dtype=int),
            TypeError,
            r"^dtype: expected float32 or float64",
        ),
        (
            "motion_clips/labels float",
            lambda: video.motion_clips(4, 2, rng(0), labels=np.array([0.0, 1.0])),
            TypeError,
            r"^labels: expected an integer dtype",
        ),
        (
            "motion_clips/labels out of range",
            lambda: video.motion_clips(4, 2, rng(0), labels=np.array([0, 4])),
            ValueError,
            r"^labels: expected values in \[0, 3\], got values in \[0, 4\]",
        ),
        (
            "motion_clips/labels shape",
            lambda: video.motion_clips(4, 2, rng(0), labels=np.array([0, 1, 2])),
            ValueError,
            r"^labels: expected shape \(B,\) = \(2,\)",
        ),
        (
            "motion_clips/labels list",
            lambda: video.motion_clips(4, 2, rng(0), labels=[0, 1]),
            TypeError,
            r"^labels: expected an integer numpy\.ndarray",
        ),
        (
            "action_task/frames rank 3",
            lambda: video.action_task(frames.reshape(3, 4, 64), labels),
            ValueError,
            r"^frames: expected 4 axes",
        ),
        (
            "action_task/frames NaN",
            lambda: video.action_task(put(frames, (1, 0, 0, 0)), labels),
            FloatingPointError,
            r"^frames: non-finite value .* at time step 1",
        ),
        (
            "action_task/labels list",
            lambda: video.action_task(frames, list(labels)),
            TypeError,
            r"^labels: expected an integer numpy\.ndarray",
        ),
        (
            "action_task/labels shape",
            lambda: video.action_task(frames, labels[:3]),
            ValueError,
            r"^labels: expected shape \(B,\) = \(4,\)",
        ),
        (
            "action_task/labels negative",
            lambda: video.action_task(frames, -1 - labels),
            ValueError,
            r"^labels: expected values in \[0, inf\]",
        ),
        (
            "action_task/labels float",
            lambda: video.action_task(frames, labels + 0.0),
            TypeError,
            r"^labels: expected an integer dtype",
        ),
    ]:
        bad(f"{p}/{name}", call, exc, pattern)
    good(
        f"{p}/render/NumPy scalars",
        lambda: video.render(centres, np.int64(8), np.float32(1.5), wrap=np.bool_(True)),
        lambda: video.render(centres, 8, 1.5, wrap=True),
    )
    good(
        f"{p}/bouncing_balls/NumPy scalars",
        lambda: video.bouncing_balls(
            np.int64(3),
            np.int64(2),
            rng(0),
            size=np.int64(16),
            n_balls=np.int64(2),
            radius=np.float32(1.5),
            speed_range=(np.float32(0.5), np.int64(1)),
        ),
        lambda: video.bouncing_balls(3, 2, rng(0), size=16, n_balls=2, radius=1.5, speed_range=(0.5, 1.0)),
    )
    good(
        f"{p}/motion_clips/NumPy scalars",
        lambda: video.motion_clips(
            np.int64(3), np.int64(2), rng(0), size=np.int64(8), radius=np.float32(2.0), speed=np.float32(1.0)
        ),
        lambda: video.motion_clips(3, 2, rng(0), size=8, radius=2.0, speed=1.0),
    )

    # text
    p = "helpers/text"
    vocab = text.CharVocab("abc de.")
    ids = np.arange(20) % len(vocab)
    for name, call, exc, pattern in [
        (
            "load_text/unknown corpus",
            lambda: text.load_text("hamlet"),
            ValueError,
            r"^name: expected one of \['genesis_kjv'\], got 'hamlet'",
        ),
        ("load_text/None", lambda: text.load_text(None), TypeError, r"^name: expected one of"),
        ("CharVocab/list", lambda: text.CharVocab(["a", "b"]), TypeError, r"^text: expected a non-empty str"),
        ("CharVocab/empty", lambda: text.CharVocab(""), ValueError, r"^text: expected a non-empty str"),
        ("CharVocab.encode/list", lambda: vocab.encode(["a", "b"]), TypeError, r"^text: expected str, got list"),
        (
            "CharVocab.encode/unknown characters",
            lambda: vocab.encode("abzx"),
            ValueError,
            r"^text: characters \['x', 'z'\] are not in the vocabulary",
        ),
        (
            "CharVocab.decode/floats",
            lambda: vocab.decode(np.array([0.0, 1.0])),
            TypeError,
            r"^ids: expected an integer dtype",
        ),
        (
            "CharVocab.decode/out of range",
            lambda: vocab.decode(np.array([0, 7])),
            ValueError,
            r"^ids: expected values in \[0, 6\], got values in \[0, 7\]",
        ),
        (
            "CharVocab.decode/negative",
            lambda: vocab.decode(np.array([-1])),
            ValueError,
            r"^ids: expected values in \[0, 6\]",
        ),
        ("CharVocab.decode/a str", lambda: vocab.decode("ab"), TypeError, r"^ids: expected an integer numpy\.ndarray"),
        (
            "CharVocab.decode/a tensor",
            lambda: vocab.decode(torch.tensor([0, 1])),
            TypeError,
            r"^ids: expected an integer numpy\.ndarray",
        ),
        (
            "CharVocab.one_hot/floats",
            lambda: vocab.one_hot(np.array([0.5])),
            TypeError,
            r"^ids: expected an integer dtype",
        ),
        ("CharVocab.one_hot/negative", lambda: vocab.one_hot(np.array([-1])), ValueError, r"^ids: expected values in"),
        (
            "CharVocab.one_hot/dtype int",
            lambda: vocab.one_hot(np.array([1]), dtype=np.int64),
            TypeError,
            r"^dtype: expected float32 or float64",
        ),
        (
            "char_batch/ids floats",
            lambda: text.char_batch(ids + 0.0, 5, 2, rng(0), len(vocab)),
            TypeError,
            r"^ids: expected an integer dtype",
        ),
        (
            "char_batch/ids 2-D",
            lambda: text.char_batch(ids.reshape(4, 5), 2, 2, rng(0), len(vocab)),
            ValueError,
            r"^ids: expected a 1-D id array",
        ),
        (
            "char_batch/ids too short",
            lambda: text.char_batch(ids, 20, 2, rng(0), len(vocab)),
            ValueError,
            r"^ids: expected a 1-D id array with at least T \+ 1 = 21 entries, got 20",
        ),
        (
            "char_batch/ids >= vocab_size",
            lambda: text.char_batch(ids, 5, 2, rng(0), 3),
            ValueError,
            r"^ids: expected values in \[0, 2\]",
        ),
        (
            "char_batch/T 0",
            lambda: text.char_batch(ids, 0, 2, rng(0), len(vocab)),
            ValueError,
            r"^T: expected a positive int",
        ),
        ("char_batch/rng int", lambda: text.char_batch(ids, 5, 2, 0, len(vocab)), TypeError, G + "int"),
        (
            "char_batch/vocab_size 0",
            lambda: text.char_batch(ids, 5, 2, rng(0), 0),
            ValueError,
            r"^vocab_size: expected a positive int",
        ),
        (
            "char_batch/dtype int",
            lambda: text.char_batch(ids, 5, 2, rng(0), len(vocab), dtype=np.int8),
            TypeError,
            r"^dtype: expected float32 or float64",
        ),
        (
            "stream_batches/ids too short",
            lambda: text.stream_batches(ids, 10, 4, len(vocab)),
            ValueError,
            r"^ids: expected at least B \* T \+ 1 = 41 ids for one chunk, got 20",
        ),
        (
            "stream_batches/ids 2-D",
            lambda: text.stream_batches(ids.reshape(4, 5), 1, 1, len(vocab)),
            ValueError,
            r"^ids: expected a 1-D id array",
        ),
        (
            "stream_batches/ids list",
            lambda: text.stream_batches(list(ids), 2, 2, len(vocab)),
            TypeError,
            r"^ids: expected an integer numpy\.ndarray",
        ),
        (
            "stream_batches/B 0",
            lambda: text.stream_batches(ids, 2, 0, len(vocab)),
            ValueError,
            r"^B: expected a positive int",
        ),
        (
            "stream_batches/dtype None",
            lambda: text.stream_batches(ids, 2, 2, len(vocab), dtype="int32"),
            TypeError,
            r"^dtype: expected float32 or float64",
        ),
    ]:
        bad(f"{p}/{name}", call, exc, pattern)
    good(
        f"{p}/char_batch/NumPy scalars",
        lambda: text.char_batch(ids, np.int64(5), np.int64(2), rng(0), np.int64(len(vocab))),
        lambda: text.char_batch(ids, 5, 2, rng(0), len(vocab)),
    )
    good(
        f"{p}/stream_batches/NumPy scalars",
        lambda: list(text.stream_batches(ids, np.int64(2), np.int64(3), np.int64(len(vocab)))),
        lambda: list(text.stream_batches(ids, 2, 3, len(vocab))),
    )
    good(
        f"{p}/CharVocab.decode/a list of np.int64",
        lambda: vocab.decode([np.int64(1), np.int64(2)]),
        lambda: vocab.decode([1, 2]),
    )

    # metrics
    p = "helpers/metrics"
    lab = np.array([0, 1, 2, 2])
    feats = rng(0).standard_normal((4, 2))
    lp = metrics.linear_probe
    for name, call, exc, pattern in [
        (
            "confusion_matrix/labels float",
            lambda: metrics.confusion_matrix(lab + 0.0, lab, 3),
            TypeError,
            r"^labels: expected an integer dtype",
        ),
        (
            "confusion_matrix/labels list",
            lambda: metrics.confusion_matrix(list(lab), lab, 3),
            TypeError,
            r"^labels: expected an integer numpy\.ndarray",
        ),
        (
            "confusion_matrix/labels 2-D",
            lambda: metrics.confusion_matrix(lab[None], lab, 3),
            ValueError,
            r"^labels: expected 1 axes \(N,\)",
        ),
        (
            "confusion_matrix/labels out of range",
            lambda: metrics.confusion_matrix(lab + 1, lab, 3),
            ValueError,
            r"^labels: expected values in \[0, 2\]",
        ),
        (
            "confusion_matrix/predictions shape",
            lambda: metrics.confusion_matrix(lab, lab[:3], 3),
            ValueError,
            r"^predictions: expected shape \(N,\) = \(4,\)",
        ),
        (
            "confusion_matrix/predictions negative",
            lambda: metrics.confusion_matrix(lab, -lab, 3),
            ValueError,
            r"^predictions: expected values in \[0, 2\]",
        ),
        (
            "confusion_matrix/n_classes 0",
            lambda: metrics.confusion_matrix(lab, lab, 0),
            ValueError,
            r"^n_classes: expected a positive int",
        ),
        (
            "confusion_matrix/n_classes 3.0",
            lambda: metrics.confusion_matrix(lab, lab, 3.0),
            TypeError,
            r"^n_classes: expected a positive int",
        ),
        (
            "linear_probe/train_features 1-D",
            lambda: lp(feats[:, 0], lab, feats, lab, 3),
            ValueError,
            r"^train_features: expected 2 axes \(N, K\)",
        ),
        (
            "linear_probe/train_features int",
            lambda: lp(feats.astype(int), lab, feats, lab, 3),
            TypeError,
            r"^train_features: expected dtype",
        ),
        (
            "linear_probe/test_features NaN",
            lambda: lp(feats, lab, put(feats, (0, 0)), lab, 3),
            FloatingPointError,
            r"^test_features: non-finite",
        ),
        (
            "linear_probe/test_features K wrong",
            lambda: lp(feats, lab, feats[:, :1], lab, 3),
            ValueError,
            r"^test_features: expected K = 2",
        ),
        (
            "linear_probe/train_labels shape",
            lambda: lp(feats, lab[:3], feats, lab, 3),
            ValueError,
            r"^train_labels: expected shape \(N,\) = \(4,\)",
        ),
        (
            "linear_probe/test_labels out of range",
            lambda: lp(feats, lab, feats, lab + 1, 3),
            ValueError,
            r"^test_labels: expected values in \[0, 2\]",
        ),
        (
            "linear_probe/steps 0",
            lambda: lp(feats, lab, feats, lab, 3, steps=0),
            ValueError,
            r"^steps: expected a positive int",
        ),
        (
            "linear_probe/lr 0",
            lambda: lp(feats, lab, feats, lab, 3, lr=0.0),
            ValueError,
            r"^lr: expected a positive number",
        ),
        (
            "linear_probe/lr str",
            lambda: lp(feats, lab, feats, lab, 3, lr="0.5"),
            TypeError,
            r"^lr: expected a real number",
        ),
        (
            "linear_probe/l2 -1",
            lambda: lp(feats, lab, feats, lab, 3, l2=-1.0),
            ValueError,
            r"^l2: expected a number >= 0",
        ),
    ]:
        bad(f"{p}/{name}", call, exc, pattern)
    good(
        f"{p}/confusion_matrix/np.int64 n_classes",
        lambda: metrics.confusion_matrix(lab, lab, np.int64(3)),
        lambda: metrics.confusion_matrix(lab, lab, 3),
    )
    good(
        f"{p}/linear_probe/NumPy scalars",
        lambda: lp(feats, lab, feats, lab, np.int64(3), steps=np.int64(5), lr=np.float32(0.5), l2=np.float64(0.0)),
        lambda: lp(feats, lab, feats, lab, 3, steps=5, lr=0.5, l2=0.0),
    )

    # cost, diagnostics
    kit = KITS[("rnn-tanh", "numpy")]
    for name, call, exc, pattern in [
        ("cost/cache_nbytes/None", lambda: cost.cache_nbytes(None), TypeError, r"^cache: expected a cache"),
        ("cost/cache_nbytes/an int", lambda: cost.cache_nbytes(5), TypeError, r"^cache: expected a cache"),
        ("cost/cache_nbytes/a str", lambda: cost.cache_nbytes("cache"), TypeError, r"^cache: expected a cache"),
        (
            "cost/cache_nbytes/a torch cache",
            lambda: cost.cache_nbytes(KITS[("rnn-tanh", "torch")].cache),
            TypeError,
            r"^cache\.x: expected NumPy arrays, got a torch\.Tensor",
        ),
        (
            "diagnostics/state_grad_norms/dhs shape",
            lambda: diagnostics.state_grad_norms(np.ones((3, 2, 4)), kit.cache),
            ValueError,
            r"^dhs: expected shape",
        ),
        (
            "diagnostics/state_grad_norms/dhs NaN",
            lambda: diagnostics.state_grad_norms(put(np.ones((3, 2, 5)), (1, 0, 0)), kit.cache),
            FloatingPointError,
            r"^dhs: non-finite value .* at time step 1",
        ),
        (
            "diagnostics/state_grad_norms/cache a tuple",
            lambda: diagnostics.state_grad_norms(np.ones((3, 2, 5)), tuple(kit.cache)),
            TypeError,
            r"^cache: expected",
        ),
        (
            "diagnostics/state_grad_norms/torch cache",
            lambda: diagnostics.state_grad_norms(np.ones((3, 2, 5)), KITS[("rnn-tanh", "torch")].cache),
            TypeError,
            r"^cache: expected the cache of a NumPy cell",
        ),
        (
            "diagnostics/jacobian_product_norms/an LSTM cache",
            lambda: diagnostics.jacobian_product_norms(KITS[("lstm", "numpy")].cache),
            TypeError,
            r"^cache: expected the cache of bpttlab\.numpy\.rnn\.forward",
        ),
        (
            "diagnostics/jacobian_product_norms/None",
            lambda: diagnostics.jacobian_product_norms(None),
            TypeError,
            r"^cache: expected",
        ),
        (
            "diagnostics/gradient_vs_lag/cache a tuple",
            lambda: diagnostics.gradient_vs_lag(tuple(kit.cache)),
            TypeError,
            r"^cache: expected",
        ),
        (
            "diagnostics/gradient_vs_lag/rng an int",
            lambda: diagnostics.gradient_vs_lag(kit.cache, 0),
            TypeError,
            G + "int",
        ),
        (
            "diagnostics/spectral_radius/list",
            lambda: diagnostics.spectral_radius([[0.5]]),
            TypeError,
            r"^W: expected a square numpy\.ndarray",
        ),
    ]:
        bad(f"helpers/{name}", call, exc, pattern)

    # plotting, animation
    fig, ax = plt.subplots()
    plt.close(fig)
    du = plotting.draw_unrolled
    clip_ = np.zeros((4, 5, 5))
    for name, call, exc, pattern in [
        (
            "plotting/draw_unrolled/ax None",
            lambda: du(None, 3),
            TypeError,
            r"^ax: expected a matplotlib Axes, got NoneType",
        ),
        ("plotting/draw_unrolled/T 0", lambda: du(ax, 0), ValueError, r"^T: expected a positive int"),
        ("plotting/draw_unrolled/T 2.0", lambda: du(ax, 2.0), TypeError, r"^T: expected a positive int"),
        (
            "plotting/draw_unrolled/highlight {4}",
            lambda: du(ax, 3, highlight={4}),
            ValueError,
            r"^highlight: expected an int in \[0, 3\], got 4",
        ),
        (
            "plotting/draw_unrolled/highlight {1.0}",
            lambda: du(ax, 3, highlight={1.0}),
            TypeError,
            r"^highlight: expected an int",
        ),
        (
            "plotting/draw_unrolled/highlight 2",
            lambda: du(ax, 3, highlight=2),
            TypeError,
            r"^highlight: expected a set of time steps",
        ),
        (
            "plotting/draw_unrolled/highlight '12'",
            lambda: du(ax, 3, highlight="12"),
            TypeError,
            r"^highlight: expected a set of time steps",
        ),
        (
            "plotting/draw_unrolled/window (2, 1)",
            lambda: du(ax, 3, window=(2, 1)),
            ValueError,
            r"^window: expected start <= stop",
        ),
        (
            "plotting/draw_unrolled/window (1, 4)",
            lambda: du(ax, 3, window=(1, 4)),
            ValueError,
            r"^window\[1\] \(stop\): expected an int in \[0, 3\]",
        ),
        (
            "plotting/draw_unrolled/window (1, 2, 3)",
            lambda: du(ax, 3, window=(1, 2, 3)),
            ValueError,
            r"^window: expected a pair",
        ),
        (
            "plotting/draw_unrolled/window [0, 1]",
            lambda: du(ax, 3, window=[0, 1]),
            TypeError,
            r"^window: expected a pair",
        ),
        (
            "plotting/draw_unrolled/window (0.0, 1)",
            lambda: du(ax, 3, window=(0.0, 1)),
            TypeError,
            r"^window\[0\] \(start\): expected an int",
        ),
        (
            "plotting/draw_unrolled/window_label without window",
            lambda: du(ax, 3, window_label="k"),
            ValueError,
            r"^window_label: given without a window",
        ),
        (
            "plotting/draw_unrolled/window_label 3",
            lambda: du(ax, 3, window=(0, 1), window_label=3),
            TypeError,
            r"^window_label: expected a str or None",
        ),
        (
            "plotting/draw_unrolled/show_backward 'yes'",
            lambda: du(ax, 3, show_backward="yes"),
            TypeError,
            r"^show_backward: expected True or False",
        ),
        (
            "plotting/draw_unrolled/loss_per_step 1",
            lambda: du(ax, 3, loss_per_step=1),
            TypeError,
            r"^loss_per_step: expected True or False",
        ),
        (
            "plotting/draw_unrolled/weight_labels None",
            lambda: du(ax, 3, weight_labels=None),
            TypeError,
            r"^weight_labels: expected True or False",
        ),
        (
            "animation/tile_frames/rows an array",
            lambda: animation.tile_frames(clip_),
            TypeError,
            r"^rows: expected a list of clips",
        ),
        (
            "animation/tile_frames/rows empty",
            lambda: animation.tile_frames([]),
            ValueError,
            r"^rows: expected at least one clip",
        ),
        (
            "animation/tile_frames/gap -1",
            lambda: animation.tile_frames([clip_, clip_], gap=-1),
            ValueError,
            r"^gap: expected an int in \[0, inf\]",
        ),
        (
            "animation/tile_frames/gap 1.5",
            lambda: animation.tile_frames([clip_, clip_], gap=1.5),
            TypeError,
            r"^gap: expected an int",
        ),
        (
            "animation/tile_frames/rows[1] T wrong",
            lambda: animation.tile_frames([clip_, clip_[:3]]),
            ValueError,
            r"^rows\[1\]: expected an array \(T, S, S\) with T = 4",
        ),
        (
            "animation/tile_frames/rows[0] list",
            lambda: animation.tile_frames([clip_.tolist()]),
            TypeError,
            r"^rows\[0\]: expected an array",
        ),
        (
            "animation/tile_frames/rows[1] NaN",
            lambda: animation.tile_frames([clip_, put(clip_, (0, 0, 0))]),
            FloatingPointError,
            r"^rows\[1\]: non-finite",
        ),
        (
            "animation/tile_frames/rows[0] complex",
            lambda: animation.tile_frames([clip_ * 1j]),
            TypeError,
            r"^rows\[0\]: expected real numbers",
        ),
        (
            "animation/apng_bytes/list",
            lambda: animation.apng_bytes(clip_.tolist()),
            TypeError,
            r"^frames: expected an array",
        ),
        (
            "animation/apng_bytes/rank 2",
            lambda: animation.apng_bytes(clip_[0]),
            ValueError,
            r"^frames: expected an array \(T, h, w\)",
        ),
        (
            "animation/apng_bytes/T 0",
            lambda: animation.apng_bytes(clip_[:0]),
            ValueError,
            r"^frames: expected an array \(T, h, w\) with T >= 1",
        ),
        (
            "animation/apng_bytes/NaN",
            lambda: animation.apng_bytes(put(clip_, (1, 1, 1))),
            FloatingPointError,
            r"^frames: non-finite",
        ),
        (
            "animation/apng_bytes/str",
            lambda: animation.apng_bytes(np.array([[["a"]]])),
            TypeError,
            r"^frames: expected real numbers",
        ),
        (
            "animation/apng_bytes/scale 0",
            lambda: animation.apng_bytes(clip_, scale=0),
            ValueError,
            r"^scale: expected a positive int",
        ),
        (
            "animation/apng_bytes/duration_ms 1.5",
            lambda: animation.apng_bytes(clip_, duration_ms=1.5),
            TypeError,
            r"^duration_ms: expected a positive int",
        ),
        (
            "animation/is_animated_png/a str",
            lambda: animation.is_animated_png("png"),
            TypeError,
            r"^data: expected bytes, got str",
        ),
        (
            "animation/is_animated_png/None",
            lambda: animation.is_animated_png(None),
            TypeError,
            r"^data: expected bytes",
        ),
    ]:
        bad(f"helpers/{name}", call, exc, pattern)
    good(
        "helpers/animation/tile_frames/np.int64 gap",
        lambda: animation.tile_frames([clip_, clip_], gap=np.int64(2)),
        lambda: animation.tile_frames([clip_, clip_], gap=2),
    )
    good(
        "helpers/animation/apng_bytes/np.int64",
        lambda: animation.apng_bytes(clip_, scale=np.int64(2), duration_ms=np.int64(100)),
        lambda: animation.apng_bytes(clip_, scale=2, duration_ms=100),
    )

    def drawn(T_: Any, highlight: Any, window: Any) -> Any:
        fig, ax = plt.subplots()
        d = du(ax, T_, highlight=highlight, window=window, show_backward=np.bool_(True))
        plt.close(fig)
        return sorted(d.nodes), len(d.forward), len(d.backward)

    good(
        "helpers/plotting/draw_unrolled/NumPy ints",
        lambda: drawn(np.int64(3), {np.int64(1)}, (np.int64(0), np.int64(2))),
        lambda: drawn(3, {1}, (0, 2)),
    )

    # params, and the modules of the registry that the others build on
    for name, call, exc, pattern in [
        (
            "params/grads_like/unknown container",
            lambda: P.grads_like(LSTMState(1, 2), [1, 2]),
            TypeError,
            r"^params: no gradient container for LSTMState",
        ),
        (
            "params/grads_like/too few values",
            lambda: P.grads_like(prm, [1, 2]),
            ValueError,
            r"^values: expected one gradient per field",
        ),
        (
            "params/grads_like/values a generator",
            lambda: P.grads_like(prm, (v for v in prm)),
            TypeError,
            r"^values: expected a list",
        ),
        (
            "params/param_count/a str leaf",
            lambda: P.param_count(("W",)),
            TypeError,
            r"^params\.0: expected arrays or tensors at the leaves, got str",
        ),
        (
            "params/param_count/an int",
            lambda: P.param_count(5),
            TypeError,
            r"^params: expected a container of arrays or tensors, got int",
        ),
        ("params/param_count/None", lambda: P.param_count(None), TypeError, r"^params: expected a container"),
        (
            "params/cell_param_count/cell bogus",
            lambda: P.cell_param_count("transformer", 1, 1),
            ValueError,
            r"^cell: expected one of \['rnn', 'lstm', 'gru'\]",
        ),
        (
            "params/cell_param_count/D 0",
            lambda: P.cell_param_count("gru", 0, 2),
            ValueError,
            r"^D: expected a positive int, got 0",
        ),
        (
            "params/cell_param_count/H 2.0",
            lambda: P.cell_param_count("lstm", 2, 2.0),
            TypeError,
            r"^H: expected a positive int, got float",
        ),
        (
            "params/cell_param_count/biases 3",
            lambda: P.cell_param_count("rnn", 1, 1, biases=3),
            ValueError,
            r"^biases: expected an int in \[1, 2\], got 3",
        ),
        (
            "params/cell_param_count/biases True",
            lambda: P.cell_param_count("rnn", 1, 1, biases=True),
            TypeError,
            r"^biases: expected an int, got bool",
        ),
        (
            "params/cell_param_count/biases '2'",
            lambda: P.cell_param_count("rnn", 1, 1, biases="2"),
            TypeError,
            r"^biases: expected an int, got str",
        ),
        (
            "cells/get/bogus",
            lambda: cells.get("tcn"),
            ValueError,
            r"^cell: expected one of \['rnn', 'lstm', 'gru'\], got 'tcn'",
        ),
        ("cells/get/None", lambda: cells.get(None), TypeError, r"^cell: expected one of"),
        (
            "cells/of_params/ReadoutParams",
            lambda: cells.of_params(init.init_readout(2, 1, rng(0))),
            TypeError,
            r"^params: expected one of RNNParams, LSTMParams, GRUParams",
        ),
        (
            "cells/CellSpec.options/bogus",
            lambda: cells.CELLS["lstm"].options(activation="tanh"),
            ValueError,
            r"^activation: the lstm cell takes no options",
        ),
        (
            "cells/CellSpec.module/backend jax",
            lambda: cells.CELLS["rnn"].module("jax"),
            ValueError,
            r"^backend: expected one of \['numpy', 'torch'\]",
        ),
        (
            "cells/CellSpec.options/a bad value",
            lambda: cells.CELLS["gru"].options(variant="keras"),
            ValueError,
            r"^variant: expected one of",
        ),
        (
            "cells/CellSpec.options/an option of another cell",
            lambda: cells.CELLS["rnn"].options(variant="cho"),
            ValueError,
            r"^variant: the rnn cell takes only 'activation'",
        ),
        (
            "cells/CellSpec.nn/a bad value",
            lambda: cells.CELLS["rnn"].nn(activation="elu"),
            ValueError,
            r"^activation: expected one of",
        ),
        (
            "cells/CellSpec.param_count/D 0",
            lambda: cells.CELLS["gru"].param_count(0, 4),
            ValueError,
            r"^D: expected a positive int",
        ),
        (
            "cells/CellSpec.param_count/H str",
            lambda: cells.CELLS["gru"].param_count(2, "4"),
            TypeError,
            r"^H: expected a positive int",
        ),
        (
            "cells/CellSpec.param_count/biases 3",
            lambda: cells.CELLS["gru"].param_count(2, 4, 3),
            ValueError,
            r"^biases: expected",
        ),
        (
            "truncation/check_truncation/T 0",
            lambda: check_truncation(0, None, None),
            ValueError,
            r"^T: expected a positive int",
        ),
        (
            "truncation/check_truncation/k1 '2'",
            lambda: check_truncation(5, "2", None),
            TypeError,
            r"^k1: expected a positive int",
        ),
        ("seqmodel/SeqModel/cell bogus", lambda: SeqModel(cell="tcn"), ValueError, r"^cell: expected one of"),
        (
            "seqmodel/SeqModel/loss bogus",
            lambda: SeqModel(loss="l1"),
            ValueError,
            r"^loss: expected one of \['mse', 'xent'\]",
        ),
        ("seqmodel/SeqModel/activation 1", lambda: SeqModel(activation=1), TypeError, r"^activation: expected one of"),
        (
            "seqmodel/SeqModel/variant bogus",
            lambda: SeqModel(cell="gru", variant="keras"),
            ValueError,
            r"^variant: expected one of \['torch', 'cho'\]",
        ),
        (
            "seqmodel/check_model/a dict",
            lambda: check_model({}),
            TypeError,
            r"^model: expected a bpttlab\.seqmodel\.SeqModel, got dict",
        ),
        ("truncation/windows/T 0", lambda: windows(0), ValueError, r"^T: expected a positive int"),
        ("truncation/windows/k1 1.5", lambda: windows(5, 1.5), TypeError, r"^k1: expected a positive int"),
        ("truncation/windows/k2 < k1", lambda: windows(5, 3, 2), ValueError, r"^k2: expected k2 >= k1 = 3"),
    ]:
        bad(f"helpers/{name}", call, exc, pattern)
    good(
        "helpers/params/cell_param_count/NumPy ints",
        lambda: P.cell_param_count("gru", np.int64(1), np.int64(64), biases=np.int64(2)),
        lambda: P.cell_param_count("gru", 1, 64, biases=2),
    )
    good(
        "helpers/truncation/windows/NumPy ints",
        lambda: windows(np.int64(7), np.int64(2), np.int64(3)),
        lambda: windows(7, 2, 3),
    )


add_helper_cases()


# ----------------------------------------------------------------- the torch helpers: models, text generation, conversion, torch.nn


def add_torch_helper_cases() -> None:
    rng = np.random.default_rng
    p = "torch/models"
    M = models
    for name, call, exc, pattern in [
        (
            "SequenceRegressor/cell bogus",
            lambda: M.SequenceRegressor(3, 5, 2, cell="transformer"),
            ValueError,
            r"^cell: expected one of \['rnn', 'lstm', 'gru'\]",
        ),
        (
            "SequenceRegressor/cell None",
            lambda: M.SequenceRegressor(3, 5, 2, cell=None),
            TypeError,
            r"^cell: expected one of",
        ),
        (
            "SequenceRegressor/H 0",
            lambda: M.SequenceRegressor(3, 0, 2),
            ValueError,
            r"^H: expected a positive int, got 0",
        ),
        (
            "SequenceRegressor/D 2.5",
            lambda: M.SequenceRegressor(2.5, 4, 2),
            TypeError,
            r"^D: expected a positive int, got float",
        ),
        (
            "SequenceRegressor/O True",
            lambda: M.SequenceRegressor(3, 4, True),
            TypeError,
            r"^O: expected a positive int, got bool",
        ),
        (
            "SequenceRegressor/generator str",
            lambda: M.SequenceRegressor(3, 4, 2, generator="0"),
            TypeError,
            r"^generator: expected a torch\.Generator, an int seed or None",
        ),
        (
            "SequenceRegressor/generator -1",
            lambda: M.SequenceRegressor(3, 4, 2, generator=-1),
            ValueError,
            r"^generator: expected an int in \[0, inf\]",
        ),
        ("FrameEncoder/size 10", lambda: M.FrameEncoder(10, 6), ValueError, r"^size: expected a multiple of 4"),
        ("FrameEncoder/size 8.0", lambda: M.FrameEncoder(8.0, 6), TypeError, r"^size: expected a positive int"),
        ("FrameEncoder/features 0", lambda: M.FrameEncoder(8, 0), ValueError, r"^features: expected a positive int"),
        (
            "FrameEncoder/channels str",
            lambda: M.FrameEncoder(8, 6, "8"),
            TypeError,
            r"^channels: expected a positive int",
        ),
        ("FrameDecoder/size 6", lambda: M.FrameDecoder(6, 4), ValueError, r"^size: expected a multiple of 4"),
        ("FrameDecoder/features -1", lambda: M.FrameDecoder(8, -1), ValueError, r"^features: expected a positive int"),
        (
            "NextFramePredictor/base_rate 0",
            lambda: M.NextFramePredictor(8, 6, 5, base_rate=0.0),
            ValueError,
            r"^base_rate: expected a number > 0\.0",
        ),
        (
            "NextFramePredictor/base_rate 1",
            lambda: M.NextFramePredictor(8, 6, 5, base_rate=1),
            ValueError,
            r"^base_rate: expected a number < 1\.0",
        ),
        (
            "NextFramePredictor/base_rate str",
            lambda: M.NextFramePredictor(8, 6, 5, base_rate="0.1"),
            TypeError,
            r"^base_rate: expected a real number",
        ),
        (
            "NextFramePredictor/size 6",
            lambda: M.NextFramePredictor(6, 6, 5),
            ValueError,
            r"^size: expected a multiple of 4",
        ),
        ("NextFramePredictor/H 0", lambda: M.NextFramePredictor(8, 6, 0), ValueError, r"^H: expected a positive int"),
        (
            "NextFramePredictor/cell lstmx",
            lambda: M.NextFramePredictor(8, 6, 5, cell="lstmx"),
            ValueError,
            r"^cell: expected one of",
        ),
        (
            "PerFrameClassifier/normalize 'no'",
            lambda: M.PerFrameClassifier(8, normalize="no"),
            TypeError,
            r"^normalize: expected True or False, got str",
        ),
        (
            "PerFrameClassifier/n_classes 0",
            lambda: M.PerFrameClassifier(8, n_classes=0),
            ValueError,
            r"^n_classes: expected a positive int",
        ),
        (
            "PooledFrameClassifier/hidden 2.5",
            lambda: M.PooledFrameClassifier(8, hidden=2.5),
            TypeError,
            r"^hidden: expected a positive int, got float",
        ),
        (
            "PooledFrameClassifier/size 6",
            lambda: M.PooledFrameClassifier(size=6),
            ValueError,
            r"^size: expected a multiple of 4",
        ),
        (
            "CNNRNNClassifier/cell cnn",
            lambda: M.CNNRNNClassifier(size=8, cell="cnn"),
            ValueError,
            r"^cell: expected one of",
        ),
        (
            "CNNRNNClassifier/normalize 1",
            lambda: M.CNNRNNClassifier(size=8, normalize=1),
            TypeError,
            r"^normalize: expected True or False",
        ),
        ("CharLM/V str", lambda: M.CharLM("7"), TypeError, r"^V: expected a positive int, got str"),
        ("CharLM/V 0", lambda: M.CharLM(0), ValueError, r"^V: expected a positive int, got 0"),
        ("CharLM/layers 0", lambda: M.CharLM(7, layers=0), ValueError, r"^layers: expected a positive int"),
        ("CharLM/H -2", lambda: M.CharLM(7, cell="gru", H=-2), ValueError, r"^H: expected a positive int"),
    ]:
        bad(f"{p}/{name}", call, exc, pattern)
    reg = M.SequenceRegressor(3, 4, 2, cell="lstm", generator=0).double()
    frames_model = M.PooledFrameClassifier(8, n_classes=4, features=6, hidden=7, generator=0).double()
    x = torch.rand((4, 2, 3), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    fx = torch.rand((4, 2, 64), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    _, state = reg(x)
    _, pooled_state = frames_model(fx)
    for name, call, exc, pattern in [
        (
            "SequenceRegressor.forward/x D wrong",
            lambda: reg(x[..., :2]),
            ValueError,
            r"^x: expected D = 3 \(from the model\) on axis 2",
        ),
        ("SequenceRegressor.forward/x numpy", lambda: reg(x.numpy()), TypeError, r"^x: expected a torch\.Tensor"),
        (
            "SequenceRegressor.forward/x float32",
            lambda: reg(x.float()),
            TypeError,
            r"^x: expected dtype torch\.float64 \(the dtype of the model's parameters\)",
        ),
        (
            "SequenceRegressor.forward/x NaN",
            lambda: reg(put(x, (3, 0, 0))),
            FloatingPointError,
            r"^x: non-finite value \(NaN or inf\) at time step 3",
        ),
        (
            "SequenceRegressor.forward/state a tensor",
            lambda: reg(x, state[0]),
            TypeError,
            r"^state: expected a pair \(h, c\)",
        ),
        (
            "SequenceRegressor.forward/state B wrong",
            lambda: reg(x[:, :1], state),
            ValueError,
            r"^state\[0\] \(h\): expected shape \(layers, B, H\) = \(1, 1, 4\)",
        ),
        (
            "SequenceRegressor.forward/state NaN",
            lambda: reg(x, (put(state[0], (0, 0, 0)), state[1])),
            FloatingPointError,
            r"^state\[0\] \(h\): non-finite",
        ),
        (
            "SequenceRegressor.forward/state 3 parts",
            lambda: reg(x, (*state, state[0])),
            ValueError,
            r"^state: expected a pair \(h, c\)",
        ),
        (
            "PooledFrameClassifier.forward/state count a float",
            lambda: frames_model(fx, (pooled_state[0], 4.0)),
            TypeError,
            r"^state\[1\] \(count\): expected a 0-axis tensor",
        ),
        (
            "PooledFrameClassifier.forward/state count negative",
            lambda: frames_model(fx, (pooled_state[0], -pooled_state[1])),
            ValueError,
            r"^state\[1\] \(count\): expected a number of frames >= 0",
        ),
        (
            "PooledFrameClassifier.forward/state sum K wrong",
            lambda: frames_model(fx, (pooled_state[0][:, :5], pooled_state[1])),
            ValueError,
            r"^state\[0\] \(sum\): expected shape \(B, K\)",
        ),
        (
            "PooledFrameClassifier.forward/x D wrong",
            lambda: frames_model(fx[..., :63]),
            ValueError,
            r"^x: expected D = 64 \(from the model\)",
        ),
        (
            "FrameEncoder.forward/frames width",
            lambda: frames_model.encoder(fx[0, :, :63]),
            ValueError,
            r"^frames: expected S\*S = 64 \(from the module\)",
        ),
        (
            "FrameEncoder.forward/frames rank 3",
            lambda: frames_model.encoder(fx),
            ValueError,
            r"^frames: expected 2 axes \(N, S\*S\)",
        ),
        (
            "FrameDecoder.forward/features width",
            lambda: M.FrameDecoder(8, 4).double()(torch.zeros(2, 5, dtype=torch.float64)),
            ValueError,
            r"^features: expected F = 4 \(from the module\)",
        ),
        (
            "rollout/model a function",
            lambda: M.rollout(lambda x, s: (x, s), x, 2),
            TypeError,
            r"^model: expected a torch\.nn\.Module",
        ),
        (
            "rollout/context numpy",
            lambda: M.rollout(reg, x.numpy(), 2),
            TypeError,
            r"^context: expected a torch\.Tensor",
        ),
        (
            "rollout/context rank 2",
            lambda: M.rollout(reg, x[0], 2),
            ValueError,
            r"^context: expected 3 axes \(T0, B, D\)",
        ),
        (
            "rollout/context NaN",
            lambda: M.rollout(reg, put(x, (0, 0, 0)), 2),
            FloatingPointError,
            r"^context: non-finite",
        ),
        ("rollout/steps 0", lambda: M.rollout(reg, x, 0), ValueError, r"^steps: expected a positive int, got 0"),
        ("rollout/steps 2.0", lambda: M.rollout(reg, x, 2.0), TypeError, r"^steps: expected a positive int, got float"),
        (
            "rollout/outputs not in the input space",
            lambda: M.rollout(reg, x, 2),
            ValueError,
            r"^model: expected outputs shaped like its inputs",
        ),
        (
            "detach_state/a str",
            lambda: M.detach_state("state"),
            TypeError,
            r"^state: expected None, a tensor or a tuple of tensors, got str",
        ),
        (
            "detach_state/an array inside",
            lambda: M.detach_state((state[0], np.zeros(2))),
            TypeError,
            r"^state\.1: expected a torch\.Tensor",
        ),
        (
            "seeded/a float seed",
            lambda: M.seeded(1.5).__enter__(),
            TypeError,
            r"^generator: expected a torch\.Generator, an int seed or None",
        ),
    ]:
        bad(f"{p}/{name}", call, exc, pattern)
    good(
        f"{p}/SequenceRegressor/NumPy ints",
        lambda: M.SequenceRegressor(np.int64(3), np.int64(4), np.int32(2), generator=np.int64(5)),
        lambda: M.SequenceRegressor(3, 4, 2, generator=5),
    )
    good(
        f"{p}/NextFramePredictor/np.float32 base_rate",
        lambda: M.NextFramePredictor(np.int64(8), 6, 5, base_rate=np.float32(0.25), generator=1),
        lambda: M.NextFramePredictor(8, 6, 5, base_rate=0.25, generator=1),
    )
    good(
        f"{p}/PooledFrameClassifier/NumPy ints and bool",
        lambda: M.PooledFrameClassifier(
            np.int64(8), np.int64(4), np.int64(6), np.int64(7), np.bool_(False), generator=2
        ),
        lambda: M.PooledFrameClassifier(8, 4, 6, 7, False, generator=2),
    )
    good(
        f"{p}/CharLM/NumPy ints",
        lambda: M.CharLM(np.int64(7), np.int64(5), layers=np.int64(2), generator=3),
        lambda: M.CharLM(7, 5, layers=2, generator=3),
    )
    rolling = M.SequenceRegressor(3, 4, 3, cell="gru", generator=0).double()
    good(f"{p}/rollout/np.int64 steps", lambda: M.rollout(rolling, x, np.int64(3)), lambda: M.rollout(rolling, x, 3))

    # text generation
    p = "torch/textgen"
    vocab = text.CharVocab("abc de.")
    lm = M.CharLM(len(vocab), H=6, generator=0).double()
    gen = torch.Generator().manual_seed
    logits = torch.tensor([0.5, 1.5, -1.0, 0.0, 2.0, 0.1, 0.2], dtype=torch.float64)
    for name, call, exc, pattern in [
        (
            "prime/model a function",
            lambda: textgen.prime(lambda x, s: (x, s), vocab, "ab"),
            TypeError,
            r"^model: expected a torch\.nn\.Module",
        ),
        (
            "prime/vocab a str",
            lambda: textgen.prime(lm, "abc de.", "ab"),
            TypeError,
            r"^vocab: expected a bpttlab\.text\.CharVocab",
        ),
        (
            "prime/vocab of another size",
            lambda: textgen.prime(lm, text.CharVocab("abc"), "ab"),
            ValueError,
            r"^vocab: the model reads V = 7",
        ),
        (
            "prime/prefix empty",
            lambda: textgen.prime(lm, vocab, ""),
            ValueError,
            r"^prefix: expected at least one character",
        ),
        (
            "prime/prefix unknown",
            lambda: textgen.prime(lm, vocab, "abz"),
            ValueError,
            r"^prefix: characters \['z'\] are not in the vocabulary",
        ),
        ("prime/prefix bytes", lambda: textgen.prime(lm, vocab, b"ab"), TypeError, r"^prefix: expected a str"),
        (
            "next_char_probs/logits numpy",
            lambda: textgen.next_char_probs(logits.numpy()),
            TypeError,
            r"^logits: expected a torch\.Tensor",
        ),
        (
            "next_char_probs/logits NaN",
            lambda: textgen.next_char_probs(put(logits, 2)),
            FloatingPointError,
            r"^logits: non-finite",
        ),
        (
            "next_char_probs/logits int",
            lambda: textgen.next_char_probs(logits.long()),
            TypeError,
            r"^logits: expected dtype",
        ),
        (
            "next_char_probs/logits 0 axes",
            lambda: textgen.next_char_probs(logits[0]),
            ValueError,
            r"^logits: expected at least 1 axes",
        ),
        (
            "next_char_probs/temperature -1",
            lambda: textgen.next_char_probs(logits, -1.0),
            ValueError,
            r"^temperature: expected a number >= 0",
        ),
        (
            "next_char_probs/temperature NaN",
            lambda: textgen.next_char_probs(logits, NAN),
            ValueError,
            r"^temperature: expected a finite number",
        ),
        (
            "next_char_probs/temperature str",
            lambda: textgen.next_char_probs(logits, "hot"),
            TypeError,
            r"^temperature: expected a real number",
        ),
        (
            "next_char_probs/top_k 0",
            lambda: textgen.next_char_probs(logits, 1.0, 0),
            ValueError,
            r"^top_k: expected a positive int",
        ),
        (
            "next_char_probs/top_k V + 1",
            lambda: textgen.next_char_probs(logits, 1.0, 8),
            ValueError,
            r"^top_k: expected at most V = 7",
        ),
        (
            "next_char_probs/top_k 2.5",
            lambda: textgen.next_char_probs(logits, 1.0, 2.5),
            TypeError,
            r"^top_k: expected a positive int",
        ),
        (
            "sample/length 0",
            lambda: textgen.sample(lm, vocab, "ab", 0, gen(0)),
            ValueError,
            r"^length: expected a positive int",
        ),
        (
            "sample/generator an int",
            lambda: textgen.sample(lm, vocab, "ab", 3, 0),
            TypeError,
            r"^generator: expected a torch\.Generator",
        ),
        (
            "sample/generator numpy",
            lambda: textgen.sample(lm, vocab, "ab", 3, rng(0)),
            TypeError,
            r"^generator: expected a torch\.Generator",
        ),
        (
            "sample/vocab None",
            lambda: textgen.sample(lm, None, "ab", 3, gen(0)),
            TypeError,
            r"^vocab: expected a bpttlab\.text\.CharVocab",
        ),
        (
            "sample/top_k V + 1",
            lambda: textgen.sample(lm, vocab, "ab", 3, gen(0), top_k=8),
            ValueError,
            r"^top_k: expected at most V = 7",
        ),
        (
            "suggest_words/k 0",
            lambda: textgen.suggest_words(lm, vocab, "ab c", 0),
            ValueError,
            r"^k: expected a positive int",
        ),
        (
            "suggest_words/beam_width < k",
            lambda: textgen.suggest_words(lm, vocab, "ab c", 3, beam_width=2),
            ValueError,
            r"^beam_width: expected at least k = 3",
        ),
        (
            "suggest_words/max_chars 0",
            lambda: textgen.suggest_words(lm, vocab, "ab c", max_chars=0),
            ValueError,
            r"^max_chars: expected a positive int",
        ),
        (
            "suggest_words/word_end empty",
            lambda: textgen.suggest_words(lm, vocab, "ab c", word_end=""),
            ValueError,
            r"^word_end: expected at least one character",
        ),
        (
            "suggest_words/word_end unknown",
            lambda: textgen.suggest_words(lm, vocab, "ab c", word_end="#"),
            ValueError,
            r"^word_end: characters",
        ),
        (
            "suggest_words/word_end an int",
            lambda: textgen.suggest_words(lm, vocab, "ab c", word_end=3),
            TypeError,
            r"^word_end: expected a str",
        ),
        (
            "suggest_words/prefix empty",
            lambda: textgen.suggest_words(lm, vocab, ""),
            ValueError,
            r"^prefix: expected at least one character",
        ),
    ]:
        bad(f"{p}/{name}", call, exc, pattern)
    good(
        f"{p}/next_char_probs/NumPy scalars",
        lambda: textgen.next_char_probs(logits, np.float32(0.5), np.int64(3)),
        lambda: textgen.next_char_probs(logits, 0.5, 3),
    )
    good(
        f"{p}/sample/NumPy scalars",
        lambda: textgen.sample(lm, vocab, "ab", np.int64(5), gen(1), temperature=np.float32(0.75), top_k=np.int64(4)),
        lambda: textgen.sample(lm, vocab, "ab", 5, gen(1), temperature=0.75, top_k=4),
    )
    good(
        f"{p}/suggest_words/NumPy ints",
        lambda: textgen.suggest_words(lm, vocab, "ab c", np.int64(2), beam_width=np.int64(3), max_chars=np.int64(3)),
        lambda: textgen.suggest_words(lm, vocab, "ab c", 2, beam_width=3, max_chars=3),
    )

    # conversion and torch.nn
    p = "torch/convert"
    prm = init.init_rnn(2, 3, rng(0))
    tprm = convert.to_torch(prm, requires_grad=True)
    for name, call, exc, pattern in [
        (
            "to_torch/a dict",
            lambda: convert.to_torch(prm._asdict()),
            TypeError,
            r"^container: expected a NamedTuple of arrays",
        ),
        (
            "to_torch/an array",
            lambda: convert.to_torch(prm.W_hh),
            TypeError,
            r"^container: expected a NamedTuple of arrays",
        ),
        (
            "to_torch/int field",
            lambda: convert.to_torch(prm._replace(b_h=np.zeros(3, int))),
            TypeError,
            r"^container\.b_h: expected dtype float32 or float64 \(nothing is cast\), got int64",
        ),
        (
            "to_torch/list field",
            lambda: convert.to_torch(prm._replace(b_h=[0.0] * 3)),
            TypeError,
            r"^container\.b_h: expected a numpy\.ndarray, got list",
        ),
        (
            "to_torch/a tensor field",
            lambda: convert.to_torch(tprm),
            TypeError,
            r"^container\.W_xh: expected a numpy\.ndarray, got Tensor",
        ),
        (
            "to_torch/requires_grad 'yes'",
            lambda: convert.to_torch(prm, requires_grad="yes"),
            TypeError,
            r"^requires_grad: expected True or False",
        ),
        (
            "to_torch/nested field",
            lambda: convert.to_torch(SeqParams(prm, ReadoutParams(np.zeros((1, 3)), [0.0]))),
            TypeError,
            r"^container\.readout\.b_y: expected a numpy\.ndarray",
        ),
        (
            "to_numpy/array fields",
            lambda: convert.to_numpy(prm),
            TypeError,
            r"^container\.W_xh: expected a torch\.Tensor, got ndarray",
        ),
        ("to_numpy/a list", lambda: convert.to_numpy(list(tprm)), TypeError, r"^container: expected a NamedTuple"),
        ("grads_of/no gradient yet", lambda: convert.grads_of(tprm), ValueError, r"^params\.W_xh: has no gradient"),
        (
            "grads_of/array fields",
            lambda: convert.grads_of(prm),
            TypeError,
            r"^params\.W_xh: expected a torch\.Tensor, got ndarray",
        ),
        ("grads_of/a tuple", lambda: convert.grads_of(tuple(tprm)), TypeError, r"^params: expected a NamedTuple"),
    ]:
        bad(f"{p}/{name}", call, exc, pattern)
    good(f"{p}/to_torch/np.bool_", lambda: convert.to_torch(prm, np.bool_(True)), lambda: convert.to_torch(prm, True))
    p = "torch/nnmap"
    lstm = init.init_lstm(2, 3, rng(0))
    for name, call, exc, pattern in [
        (
            "to_nn/a (1, H) W_hh",
            lambda: nnmap.to_nn(prm._replace(W_hh=prm.W_hh[:1])),
            ValueError,
            r"^params\.\w+: expected shape",
        ),
        (
            "to_nn/a (H,) b_h of length 1",
            lambda: nnmap.to_nn(prm._replace(b_h=prm.b_h[:1])),
            ValueError,
            r"^params\.b_h: expected shape",
        ),
        (
            "to_nn/int params",
            lambda: nnmap.to_nn(RNNParams(*(a.astype(int) for a in prm))),
            TypeError,
            r"^params\.W_hh: expected dtype float32 or float64",
        ),
        (
            "to_nn/mixed dtypes",
            lambda: nnmap.to_nn(prm._replace(b_h=prm.b_h.astype(np.float32))),
            TypeError,
            r"^params\.b_h: expected dtype float64",
        ),
        (
            "to_nn/NaN",
            lambda: nnmap.to_nn(prm._replace(W_xh=put(prm.W_xh, (0, 0)))),
            FloatingPointError,
            r"^params\.W_xh: non-finite",
        ),
        ("to_nn/tensors", lambda: nnmap.to_nn(tprm), TypeError, r"^params\.W_hh: expected a numpy\.ndarray"),
        (
            "to_nn/ReadoutParams",
            lambda: nnmap.to_nn(init.init_readout(3, 2, rng(0))),
            TypeError,
            r"^params: expected one of RNNParams, LSTMParams, GRUParams",
        ),
        (
            "to_nn/nonlinearity linear",
            lambda: nnmap.to_nn(prm, "linear"),
            ValueError,
            r"^nonlinearity: expected one of \['tanh', 'relu'\] \(torch\.nn\.RNN has no linear cell\)",
        ),
        ("to_nn/nonlinearity 1", lambda: nnmap.to_nn(prm, 1), TypeError, r"^nonlinearity: expected a str, got int"),
        (
            "to_nn/nonlinearity for an LSTM",
            lambda: nnmap.to_nn(lstm, "relu"),
            ValueError,
            r"^nonlinearity: only an RNN has one to choose",
        ),
        (
            "from_nn/Linear",
            lambda: nnmap.from_nn(torch.nn.Linear(2, 3)),
            TypeError,
            r"^module: expected torch\.nn\.RNN, LSTM or GRU, got Linear",
        ),
        (
            "from_nn/batch_first",
            lambda: nnmap.from_nn(torch.nn.GRU(2, 3, batch_first=True)),
            ValueError,
            r"^module: expected one layer, unidirectional, time-first",
        ),
        (
            "from_nn/two layers",
            lambda: nnmap.from_nn(torch.nn.LSTM(2, 3, num_layers=2)),
            ValueError,
            r"^module: expected one layer",
        ),
    ]:
        bad(f"{p}/{name}", call, exc, pattern)

    # pretraining helpers
    p = "torch/pretrain"
    ids = np.arange(100) % len(vocab)
    for name, call, exc, pattern in [
        (
            "split_chapters/text bytes",
            lambda: pretrain.split_chapters(b"a\n\nb", 1),
            TypeError,
            r"^text: expected str, got bytes",
        ),
        (
            "split_chapters/held_out_chapters 0",
            lambda: pretrain.split_chapters("a\n\nb", 0),
            ValueError,
            r"^held_out_chapters: expected 1 to 1",
        ),
        (
            "split_chapters/held_out_chapters 2.0",
            lambda: pretrain.split_chapters("a\n\nb", 2.0),
            TypeError,
            r"^held_out_chapters: expected an int",
        ),
        (
            "heldout_batch/ids floats",
            lambda: pretrain.heldout_batch(ids + 0.0, len(vocab)),
            TypeError,
            r"^ids: expected an integer dtype",
        ),
        (
            "heldout_batch/ids too few",
            lambda: pretrain.heldout_batch(ids[:20], len(vocab)),
            ValueError,
            r"^ids: expected at least 2 \* streams \+ 1 = 33 ids",
        ),
        (
            "heldout_batch/streams 0",
            lambda: pretrain.heldout_batch(ids, len(vocab), 0),
            ValueError,
            r"^streams: expected a positive int",
        ),
        (
            "heldout_batch/vocab_size too small",
            lambda: pretrain.heldout_batch(ids, 3),
            ValueError,
            r"^ids: expected values in \[0, 2\]",
        ),
        (
            "save/model not a CharLM",
            lambda: pretrain.save(reg, vocab, pretrain.CONFIG),
            TypeError,
            r"^model: expected a bpttlab\.torch\.models\.CharLM",
        ),
        (
            "save/vocab of another size",
            lambda: pretrain.save(lm, text.CharVocab("ab"), pretrain.CONFIG),
            ValueError,
            r"^vocab: the model reads V = 7",
        ),
        (
            "save/config missing keys",
            lambda: pretrain.save(lm, vocab, {"H": 6}),
            ValueError,
            r"^config: expected the keys of pretrain\.CONFIG",
        ),
        (
            "save/path an int",
            lambda: pretrain.save(lm, vocab, pretrain.CONFIG, 5),
            TypeError,
            r"^path: expected a pathlib\.Path or str",
        ),
        (
            "load_pretrained/dtype int32",
            lambda: pretrain.load_pretrained(dtype=torch.int32),
            TypeError,
            r"^dtype: expected torch\.float32 or torch\.float64",
        ),
        (
            "load_pretrained/path an int",
            lambda: pretrain.load_pretrained(3),
            TypeError,
            r"^path: expected a pathlib\.Path or str",
        ),
        (
            "load_pretrained/no such file",
            lambda: pretrain.load_pretrained(pathlib.Path("/nonexistent/weights.pt")),
            FileNotFoundError,
            r"^path: no weights at weights\.pt",
        ),
        ("main/argv a str", lambda: pretrain.main("train"), TypeError, r"^argv: expected a list of str"),
        (
            "train_charlm/config a list",
            lambda: pretrain.train_charlm([]),
            TypeError,
            r"^config: expected a dict like pretrain\.CONFIG",
        ),
        (
            "train_charlm/lrs empty",
            lambda: pretrain.train_charlm(dict(pretrain.CONFIG, lrs=[])),
            ValueError,
            r"^config\['lrs'\]: expected at least one",
        ),
        (
            "train_charlm/log not callable",
            lambda: pretrain.train_charlm(pretrain.CONFIG, log=None),
            TypeError,
            r"^log: expected a function taking one str",
        ),
    ]:
        bad(f"{p}/{name}", call, exc, pattern)
    text_ = "one\n\ntwo\n\nthree\n\nfour"
    good(
        f"{p}/split_chapters/np.int64",
        lambda: pretrain.split_chapters(text_, np.int64(2)),
        lambda: pretrain.split_chapters(text_, 2),
    )
    good(
        f"{p}/heldout_batch/np.int64",
        lambda: pretrain.heldout_batch(ids, np.int64(len(vocab)), np.int64(4)),
        lambda: pretrain.heldout_batch(ids, len(vocab), 4),
    )


add_torch_helper_cases()


# ----------------------------------------------------------------- the tests


def same(a: Any, b: Any) -> bool:
    """Equal results, leaf by leaf: arrays and tensors bit for bit with the same dtype, containers by type."""
    if isinstance(a, torch.nn.Module):
        return type(a) is type(b) and same(list(a.state_dict().values()), list(b.state_dict().values()))
    if isinstance(a, torch.Tensor):
        if not (isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape):
            return False
        return bool(((a == b) | (a.isnan() & b.isnan())).all()) if a.is_floating_point() else torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("call, exc, pattern", CASES)
def test_bad_input_is_refused_naming_the_argument(call, exc, pattern):
    """The call raises exactly ``exc`` (no subclass), and its message names the argument (``pattern``)."""
    with np.errstate(all="ignore"), pytest.raises(Exception) as info:
        call()
    assert type(info.value) is exc, f"expected {exc.__name__}, got {type(info.value).__name__}: {info.value}"
    assert re.search(pattern, str(info.value)), f"message {str(info.value)!r} does not match {pattern!r}"


@pytest.mark.parametrize("with_numpy_scalars, with_python_numbers", GOOD)
def test_numpy_scalars_are_accepted_where_python_numbers_are(with_numpy_scalars, with_python_numbers):
    """np.float32, np.int64, ... work wherever a Python number does, and give the same result."""
    assert same(with_numpy_scalars(), with_python_numbers())


def test_a_refused_call_leaves_its_input_untouched():
    """A failing call does not modify what it was given (the NaN stays where it was, nothing else changes)."""
    for backend in BACKENDS:
        kit = KITS[("rnn-tanh", backend)]
        x = put(kit.x, (1, 0, 0))
        before = x.clone() if backend == "torch" else x.copy()
        with pytest.raises(FloatingPointError):
            kit.forward(x=x)
        assert same(x, before)
