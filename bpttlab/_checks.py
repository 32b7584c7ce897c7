"""Input validation for the whole package, both backends: every check is written here once.

Every public function checks its arguments with these helpers, so that bad input fails
early with a message naming the argument, what it got and what was expected:
TypeError for a wrong type, ValueError for a wrong value or shape, FloatingPointError for
a non-finite value (with its time step where there is one). NumPy scalars (np.float32,
np.int64, ...) are accepted wherever a Python number is; bools are not numbers here.

Array checks take NumPy arrays or torch tensors (``backend="numpy"`` or ``"torch"``);
torch is never imported by this module, only recognised when the caller already has it.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
BACKENDS = ("numpy", "torch")


def _shape_str(shape: Sequence[Any]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def _torch() -> Any:
    return sys.modules.get("torch")


def is_tensor(value: Any) -> bool:
    """True if ``value`` is a torch.Tensor (False whenever torch has not been imported)."""
    torch = _torch()
    return torch is not None and isinstance(value, torch.Tensor)


def _finite_mask(value: Any) -> np.ndarray:
    if is_tensor(value):
        return _torch().isfinite(value.detach()).cpu().numpy()
    return np.isfinite(value)


# ----------------------------------------------------------------- arrays and tensors


def check_float_array(name: str, value: Any, dims: Sequence[str], backend: str = "numpy") -> Any:
    """Check that ``value`` is a float32/float64 array (NumPy) or tensor (torch) with ``len(dims)`` non-empty axes.

    ``dims`` names the axes (for example ``("T", "B", "D")``) and is only used in the
    error message. Returns the value unchanged.
    """
    if backend == "torch":
        torch = _torch()
        if torch is None or not isinstance(value, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor of shape {_shape_str(dims)}, got {type(value).__name__}")
        if value.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"{name}: expected dtype torch.float32 or torch.float64, got {value.dtype}")
        if value.is_complex():
            raise TypeError(f"{name}: expected a real tensor, got {value.dtype}")
    else:
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{name}: expected a numpy.ndarray of shape {_shape_str(dims)}, got {type(value).__name__}")
        if value.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name}: expected dtype float32 or float64, got {value.dtype}")
    if value.ndim != len(dims):
        raise ValueError(
            f"{name}: expected {len(dims)} axes {_shape_str(dims)}, got {value.ndim} axes with shape {tuple(value.shape)}"
        )
    if 0 in tuple(value.shape):
        raise ValueError(f"{name}: every axis of {_shape_str(dims)} must be at least 1, got shape {tuple(value.shape)}")
    return value


def check_shape(name: str, value: Any, expected: Sequence[int], dims: Sequence[str]) -> None:
    """Raise ValueError unless ``value.shape == expected``; ``dims`` names the axes."""
    if tuple(value.shape) != tuple(int(e) for e in expected):
        raise ValueError(f"{name}: expected shape {_shape_str(dims)} = {tuple(expected)}, got {tuple(value.shape)}")


def check_same_dtype(name: str, value: Any, reference_name: str, dtype: Any) -> None:
    """Raise TypeError unless ``value`` has ``dtype`` (the dtype of ``reference_name``)."""
    if value.dtype != dtype:
        raise TypeError(
            f"{name}: expected dtype {dtype} (the dtype of {reference_name}), got {value.dtype}; "
            "convert explicitly, nothing is cast silently"
        )


def check_finite(name: str, value: Any, time_axis: int | None = None) -> None:
    """Raise FloatingPointError if ``value`` (array or tensor) holds NaN or inf.

    With ``time_axis`` set, the message names the first time step that holds one.
    """
    finite = _finite_mask(value)
    if np.all(finite):
        return
    bad = ~finite
    if time_axis is not None:
        other = tuple(a for a in range(bad.ndim) if a != time_axis)
        step = int(np.argmax(bad.any(axis=other))) if other else int(np.argmax(bad))
        raise FloatingPointError(f"{name}: non-finite value (NaN or inf) at time step {step}")
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    raise FloatingPointError(f"{name}: non-finite value (NaN or inf) at index {index}")


def check_upstream(name: str, value: Any, like: Any, dims: Sequence[str], backend: str = "numpy") -> Any:
    """Check an upstream gradient against the array it is the gradient of: same shape and dtype, finite.

    A non-finite value is reported with its time step when ``dims`` starts with "T".
    """
    check_float_array(name, value, dims, backend)
    check_shape(name, value, like.shape, dims)
    check_same_dtype(name, value, "the forward pass", like.dtype)
    check_finite(name, value, time_axis=0 if dims and dims[0] == "T" else None)
    return value


def check_array_like(name: str, value: Any, dims: Sequence[str], dtype: Any, backend: str = "numpy") -> Any:
    """check_float_array + same dtype as the reference + finite, in one call (for inputs and states)."""
    check_float_array(name, value, dims, backend)
    check_same_dtype(name, value, "x", dtype)
    check_finite(name, value, time_axis=0 if dims and dims[0] == "T" else None)
    return value


# ----------------------------------------------------------------- Python values


def check_type(name: str, value: Any, cls: type | tuple[type, ...], what: str | None = None) -> Any:
    """Raise TypeError unless ``isinstance(value, cls)``; ``what`` describes the expected type."""
    if not isinstance(value, cls):
        if what is None:
            classes = cls if isinstance(cls, tuple) else (cls,)
            what = " or ".join(c.__name__ for c in classes)
        raise TypeError(f"{name}: expected {what}, got {type(value).__name__}")
    return value


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """Raise ValueError unless ``value`` is one of ``choices`` (TypeError for an unhashable or non-str value)."""
    if choices and all(isinstance(c, str) for c in choices) and not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {list(choices)} (a str), got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool (or numpy.bool_), else raise TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {type(value).__name__}")
    return bool(value)


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int if it is one (NumPy integers too, not bools) in [low, high]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name}: expected an int in [{lo}, {hi}], got {v}")
    return v


def check_positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an int if it is an int >= 1, else raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name}: expected a positive int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value}")
    return int(value)


def check_number(
    name: str,
    value: Any,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    low: float | None = None,
    high: float | None = None,
    open_low: bool = False,
    open_high: bool = False,
) -> float:
    """Return ``value`` as a float if it is a finite real number (int, float or NumPy scalar; not bool).

    positive: > 0; nonnegative: >= 0; low/high: bounds, closed unless open_low/open_high.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {v}")
    if positive and not v > 0:
        raise ValueError(f"{name}: expected a positive number, got {v}")
    if nonnegative and not v >= 0:
        raise ValueError(f"{name}: expected a number >= 0, got {v}")
    if low is not None and (v <= low if open_low else v < low):
        raise ValueError(f"{name}: expected a number {'>' if open_low else '>='} {low}, got {v}")
    if high is not None and (v >= high if open_high else v > high):
        raise ValueError(f"{name}: expected a number {'<' if open_high else '<='} {high}, got {v}")
    return v


def check_generator(name: str, value: Any) -> np.random.Generator:
    """Return ``value`` if it is a ``numpy.random.Generator``, else raise TypeError."""
    if not isinstance(value, np.random.Generator):
        raise TypeError(
            f"{name}: expected a numpy.random.Generator (for example np.random.default_rng(0)), "
            f"got {type(value).__name__}"
        )
    return value


def check_torch_generator(name: str, value: Any) -> Any:
    """Return ``value`` if it is a ``torch.Generator``, else raise TypeError."""
    torch = _torch()
    if torch is None or not isinstance(value, torch.Generator):
        raise TypeError(
            f"{name}: expected a torch.Generator (for example torch.Generator().manual_seed(0)), "
            f"got {type(value).__name__}"
        )
    return value


def check_params_type(name: str, params: Any, cls: type) -> None:
    """Raise TypeError unless ``params`` is an instance of ``cls``."""
    if not isinstance(params, cls):
        raise TypeError(f"{name}: expected {cls.__name__}, got {type(params).__name__}")


def check_dtype_arg(name: str, dtype: Any) -> np.dtype:
    """A NumPy dtype argument: float32 or float64 (given as a type, a string or a dtype)."""
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: expected float32 or float64, got {dtype!r}") from None
    if d not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected float32 or float64, got {d}")
    return d


# ----------------------------------------------------------------- recurrent cells (any registry entry)


def check_cell_params(spec: Any, params: Any, D: int | None = None, dtype: Any = None, backend: str = "numpy") -> int:
    """Check a cell's parameters against its registry entry ``spec`` (shapes, dtypes, finiteness); return H.

    The recurrent weight (axes ("G", "H")) gives H; every field with a "G" axis must have
    gates * H rows; ``D`` (from x) and ``dtype`` (of x) are checked when given.
    """
    return check_cell_params_named("params", spec, params, D, dtype, backend)


def check_cell_params_named(
    name: str, spec: Any, params: Any, D: int | None = None, dtype: Any = None, backend: str = "numpy"
) -> int:
    """check_cell_params for parameters passed as ``name`` (for example "params.cell"); return H.

    The messages name the fields ``name.field``; ``check_cell_params`` is this with name "params".
    """
    check_params_type(name, params, spec.params)
    G = spec.gates
    names = {f: tuple((f"{G}H" if G > 1 else "H") if a == "G" else a for a in dims) for f, dims in spec.fields.items()}
    w_h = next(f for f, dims in spec.fields.items() if dims == ("G", "H"))
    W_h = check_float_array(f"{name}.{w_h}", getattr(params, w_h), names[w_h], backend)
    H = int(W_h.shape[1])
    if dtype is None:
        dtype = W_h.dtype
    elif not is_tensor(W_h):
        dtype = np.dtype(dtype)
    for f, dims in spec.fields.items():
        value = check_float_array(f"{name}.{f}", getattr(params, f), names[f], backend)
        expected = []
        for a in dims:
            if a == "G":
                expected.append(G * H)
            elif a == "H":
                expected.append(H)
            else:
                expected.append(value.shape[len(expected)] if D is None else D)
        if tuple(value.shape) != tuple(expected):
            axis = next(a for a, got, want in zip(dims, value.shape, expected) if got != want)
            source = "its own columns" if f == w_h else f"the columns of {name}.{w_h}"
            hint = f"D = {D} (from x)" if axis == "D" else f"H = {H} (from {source})"
            raise ValueError(
                f"{name}.{f}: expected shape {_shape_str(names[f])} with {hint} = {tuple(expected)}, "
                f"got {tuple(value.shape)}"
            )
        check_same_dtype(f"{name}.{f}", value, "x", dtype)
        check_finite(f"{name}.{f}", value)
    return H


def check_cell_inputs(
    spec: Any, x: Any, state: Any, params: Any, options: dict[str, Any], step: bool, backend: str = "numpy"
) -> int:
    """Validate the arguments of a cell's forward function on either backend; return H.

    step: x_t (B, D) and state_prev (h_prev for a one-array state) of step_forward, else x (T, B, D)
    and state0 (h0) of forward; options: the cell's option keyword, checked against the registry.
    """
    spec.options(**options)
    dims: tuple[str, ...]
    if step:
        xname, sname, dims = "x_t", "state_prev" if spec.state else "h_prev", ("B", "D")
    else:
        xname, sname, dims = "x", "state0" if spec.state else "h0", ("T", "B", "D")
    check_float_array(xname, x, dims, backend)
    check_finite(xname, x, time_axis=None if step else 0)
    H = check_cell_params(spec, params, x.shape[-1], x.dtype, backend)
    check_cell_state(spec, sname, state, x.shape[-2], H, x.dtype, backend)
    return H


def check_cell_state(
    spec: Any, name: str, state: Any, B: int, H: int, dtype: Any, backend: str = "numpy", grads: bool = False
) -> None:
    """Check a state (or, with ``grads``, a state gradient) of cell ``spec``: the array h (B, H) or its container."""
    cls = spec.state_grads if grads else spec.state
    if cls is None:
        parts = [(name, state)]
    else:
        if not isinstance(state, cls):
            fields = ", ".join(cls._fields)
            raise TypeError(f"{name}: expected {cls.__name__}({fields}), got {type(state).__name__}")
        parts = [(f"{name}.{f}", v) for f, v in zip(cls._fields, state)]
    for part, value in parts:
        check_float_array(part, value, ("B", "H"), backend)
        check_shape(part, value, (B, H), ("B", "H"))
        check_same_dtype(part, value, "x" if not grads else "the forward pass", dtype)
        check_finite(part, value)


# ----------------------------------------------------------------- more shapes of argument
#
# Added for the helpers (gradcheck, init, optim, clip, the data modules, the layers, the
# models): the same rules (TypeError for a type, ValueError for a value or shape,
# FloatingPointError for NaN or inf), for the arguments the cell checks above do not cover.


def _check_float_dtype(name: str, value: Any, backend: str) -> None:
    if backend == "torch":
        torch = _torch()
        if value.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"{name}: expected dtype torch.float32 or torch.float64, got {value.dtype}")
    elif value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {value.dtype}")


def check_float_input(
    name: str, value: Any, shape: str = "(...)", min_ndim: int = 1, backend: str = "numpy", finite: bool = True
) -> Any:
    """A float32/float64 array (or tensor) of any rank >= ``min_ndim``, non-empty and (unless told) finite.

    ``shape`` describes the expected layout in the messages, for example "(..., D)".
    """
    if backend == "torch":
        torch = _torch()
        if torch is None or not isinstance(value, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor of shape {shape}, got {type(value).__name__}")
    elif not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray of shape {shape}, got {type(value).__name__}")
    _check_float_dtype(name, value, backend)
    if value.ndim < min_ndim:
        raise ValueError(
            f"{name}: expected at least {min_ndim} axes {shape}, got {value.ndim} axes with shape {tuple(value.shape)}"
        )
    if 0 in tuple(value.shape):
        raise ValueError(f"{name}: every axis of {shape} must be at least 1, got shape {tuple(value.shape)}")
    if finite:
        check_finite(name, value)
    return value


def check_real_array(name: str, value: Any) -> np.ndarray:
    """``value`` (a number, a nested list, a NumPy array or a CPU tensor) as a float64 array of real numbers.

    TypeError for complex, bool, str or object entries (nothing is dropped or cast silently)
    and for ragged lists.
    """
    if is_tensor(value):
        value = value.detach().cpu().numpy()
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected real numbers, got bool")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        raise TypeError(f"{name}: expected an array of real numbers, got a ragged {type(value).__name__}") from None
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected real numbers (an int or float dtype), got dtype {array.dtype}")
    return array.astype(np.float64, copy=False)


def check_int_array(
    name: str,
    value: Any,
    dims: Sequence[str] | None = None,
    low: int | None = None,
    high: int | None = None,
    backend: str = "numpy",
) -> Any:
    """An integer NumPy array (or int64 tensor) with ``len(dims)`` axes (any rank when None), entries in [low, high].

    An empty array passes the range check.
    """
    if backend == "torch":
        torch = _torch()
        if torch is None or not isinstance(value, torch.Tensor):
            raise TypeError(f"{name}: expected an int64 torch.Tensor, got {type(value).__name__}")
        if value.dtype != torch.int64:
            raise TypeError(f"{name}: expected dtype torch.int64, got {value.dtype}")
    else:
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{name}: expected an integer numpy.ndarray, got {type(value).__name__}")
        if value.dtype.kind not in "iu":
            raise TypeError(f"{name}: expected an integer dtype, got {value.dtype}")
    if dims is not None and value.ndim != len(dims):
        raise ValueError(
            f"{name}: expected {len(dims)} axes {_shape_str(dims)}, got {value.ndim} axes with shape {tuple(value.shape)}"
        )
    n = int(value.numel()) if backend == "torch" else int(value.size)
    if n:
        lo, hi = int(value.min()), int(value.max())
        if (low is not None and lo < low) or (high is not None and hi > high):
            span = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
            raise ValueError(f"{name}: expected values in {span}, got values in [{lo}, {hi}]")
    return value


def check_axis(name: str, value: Any, axis: int, size: int, dims: Sequence[str], source: str) -> None:
    """Raise ValueError unless ``value.shape[axis] == size``; ``source`` says where ``size`` comes from."""
    if int(value.shape[axis]) != int(size):
        raise ValueError(
            f"{name}: expected {dims[axis]} = {size} (from {source}) on axis {axis} of {_shape_str(dims)}, "
            f"got shape {tuple(value.shape)}"
        )


def check_interval(name: str, value: Any, low: float = 0.0, open_low: bool = True) -> tuple[float, float]:
    """A pair (lo, hi) of finite real numbers with low < lo (low <= lo unless ``open_low``) and lo <= hi."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name}: expected a pair (low, high) of numbers, got {type(value).__name__}")
    if len(value) != 2:
        raise ValueError(f"{name}: expected a pair (low, high) of numbers, got {len(value)} values")
    for v in value:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.integer, np.floating)):
            raise TypeError(f"{name}: expected a pair (low, high) of real numbers, got a {type(v).__name__} in it")
    lo, hi = float(value[0]), float(value[1])
    sign = "<" if open_low else "<="
    if not (math.isfinite(lo) and math.isfinite(hi) and (low < lo if open_low else low <= lo) and lo <= hi):
        raise ValueError(f"{name}: expected finite numbers with {low} {sign} low <= high, got {tuple(value)}")
    return lo, hi


def check_callable(name: str, value: Any, what: str = "a callable") -> Any:
    """Raise TypeError unless ``value`` can be called."""
    if not callable(value):
        raise TypeError(f"{name}: expected {what}, got {type(value).__name__}")
    return value


def check_optional(check: Any, name: str, value: Any, *args: Any, **kwargs: Any) -> Any:
    """None, or ``check(name, value, ...)``: for arguments whose default None means 'not used'."""
    return None if value is None else check(name, value, *args, **kwargs)


def check_array_tree(name: str, tree: Any, backend: str = "numpy", finite: bool = True) -> list[tuple[str, Any]]:
    """Every leaf of a container (a NamedTuple, tuple or list of arrays) a float array, finite unless told; >= 1 leaf.

    Returns the (path, leaf) pairs, paths starting with ``name`` (for example "grads.cell.dW_hh").
    """
    from bpttlab.tree import paths

    if not isinstance(tree, (tuple, list)) and not isinstance(tree, np.ndarray) and not is_tensor(tree):
        raise TypeError(f"{name}: expected a container of arrays (a NamedTuple of them), got {type(tree).__name__}")
    found = list(paths(tree, name))
    if not found:
        raise ValueError(f"{name}: expected at least one array, got an empty container")
    for path, leaf in found:
        check_float_input(path, leaf, "(...)", 0, backend, finite)
    return found


def check_same_tree(name: str, tree: Any, like: Any, like_name: str) -> None:
    """Raise unless ``tree`` has the structure of ``like``: the same container types (TypeError) and leaf shapes (ValueError)."""
    if isinstance(like, tuple) or isinstance(like, list):
        if not isinstance(tree, (tuple, list)) or len(tree) != len(like):
            raise TypeError(
                f"{name}: expected a container shaped like {like_name} ({type(like).__name__}, {len(like)} items), "
                f"got {type(tree).__name__}"
            )
        names = getattr(tree, "_fields", None) or [str(i) for i in range(len(tree))]
        for item_name, item, ref in zip(names, tree, like):
            check_same_tree(f"{name}.{item_name}", item, ref, like_name)
        return
    if tuple(getattr(tree, "shape", ())) != tuple(getattr(like, "shape", ())) or not hasattr(tree, "shape"):
        raise ValueError(
            f"{name}: expected shape {tuple(getattr(like, 'shape', ()))} (as in {like_name}), "
            f"got {tuple(getattr(tree, 'shape', ())) if hasattr(tree, 'shape') else type(tree).__name__}"
        )


def leading_dims(a: Any, last: str) -> tuple[str, ...]:
    """Axis names for an array (T, B, last), or (n0, ..., last) for another number of leading axes."""
    ndim = getattr(a, "ndim", 3)
    return ("T", "B", last) if ndim == 3 else tuple(f"n{i}" for i in range(max(ndim - 1, 0))) + (last,)


def check_attention_params(params: Any, D: int | None, dtype: Any, backend: str = "numpy") -> tuple[int, int]:
    """AttentionParams of float arrays (or tensors) in ``dtype``, finite, with the axes of ATTENTION_DIMS; (H, O).

    D: the input size from x (None: read it from params.W_xe); dtype None: that of params.W_q.
    """
    from bpttlab.params import ATTENTION_DIMS, AttentionParams

    check_params_type("params", params, AttentionParams)
    for field, dims in ATTENTION_DIMS.items():
        check_float_array(f"params.{field}", getattr(params, field), dims, backend)
    H, O = int(params.W_q.shape[0]), int(params.W_hy.shape[0])
    sizes = {"H": H, "O": O, "D": int(params.W_xe.shape[1]) if D is None else int(D)}
    dtype = params.W_q.dtype if dtype is None else dtype
    for field, dims in ATTENTION_DIMS.items():
        value = getattr(params, field)
        where = "D from x" if "D" in dims and D is not None else "H from params.W_q, O from params.W_hy"
        if tuple(value.shape) != tuple(sizes[a] for a in dims):
            raise ValueError(
                f"params.{field}: expected shape ({', '.join(dims)}{',' if len(dims) == 1 else ''}) = "
                f"{tuple(sizes[a] for a in dims)} ({where}), got {tuple(value.shape)}"
            )
        check_same_dtype(f"params.{field}", value, "x", dtype)
        check_finite(f"params.{field}", value)
    return H, O


def check_readout_params(name: str, readout: Any, H: int, dtype: Any, backend: str = "numpy") -> int:
    """A ReadoutParams W_hy (O, H), b_y (O,) in ``dtype``, finite, with H from the cell; return O."""
    from bpttlab.params import ReadoutParams

    check_params_type(name, readout, ReadoutParams)
    W = check_float_array(f"{name}.W_hy", readout.W_hy, ("O", "H"), backend)
    b = check_float_array(f"{name}.b_y", readout.b_y, ("O",), backend)
    O = int(W.shape[0])
    if int(W.shape[1]) != int(H):
        raise ValueError(
            f"{name}.W_hy: expected shape (O, H) with H = {H} (from the cell) = ({O}, {H}), got {tuple(W.shape)}"
        )
    check_shape(f"{name}.b_y", b, (O,), ("O",))
    for field, value in (("W_hy", W), ("b_y", b)):
        check_same_dtype(f"{name}.{field}", value, "x", dtype)
        check_finite(f"{name}.{field}", value)
    return O


def check_nonnegative(name: str, value: Any, time_axis: int | None = None) -> None:
    """Raise ValueError if ``value`` (array or tensor) has a negative entry, naming its time step when told."""
    v = value.detach().cpu().numpy() if is_tensor(value) else np.asarray(value)
    negative = v < 0
    if not negative.any():
        return
    if time_axis is not None:
        other = tuple(a for a in range(negative.ndim) if a != time_axis)
        step = int(np.argmax(negative.any(axis=other))) if other else int(np.argmax(negative))
        raise ValueError(f"{name}: expected values >= 0, got a negative entry at time step {step}")
    index = tuple(int(i) for i in np.argwhere(negative)[0])
    raise ValueError(f"{name}: expected values >= 0, got a negative entry at index {index}")


# ----------------------------------------------------------------- the MLP and the sequence models (both backends)


def check_mlp_params(params: Any, x: Any, backend: str = "numpy") -> None:
    """params: MLPParams with W_1 (H, D), b_1 (H,), W_2 (O, H), b_2 (O,) in x's dtype, finite; x (N, D) finite."""
    from bpttlab.params import MLPParams

    check_params_type("params", params, MLPParams)
    check_float_array("x", x, ("N", "D"), backend)
    check_finite("x", x)
    dims = {"W_1": ("H", "D"), "b_1": ("H",), "W_2": ("O", "H"), "b_2": ("O",)}
    for field, names in dims.items():
        check_float_array(f"params.{field}", getattr(params, field), names, backend)
    H, O = params.W_1.shape[0], params.W_2.shape[0]
    sizes = {"D": x.shape[1], "H": H, "O": O}
    for field, names in dims.items():
        value = getattr(params, field)
        check_shape(f"params.{field}", value, tuple(sizes[n] for n in names), names)
        check_same_dtype(f"params.{field}", value, "x", x.dtype)
        check_finite(f"params.{field}", value)


def check_seq_params(
    model: Any, params: Any, D: int | None, dtype: Any, backend: str = "numpy", name: str = "params"
) -> tuple[int, int]:
    """params: SeqParams(cell, readout) of ``model``'s cell, input size D, in ``dtype``, finite; return (H, O).

    Messages name the fields as the caller passed them: "params.cell.W_hh", "params.readout.b_y"
    (``name`` replaces "params", for example "params_list[2]").
    """
    from bpttlab.seqmodel import SeqParams

    check_type(name, params, SeqParams, "a bpttlab.seqmodel.SeqParams(cell, readout)")
    H = check_cell_params_named(f"{name}.cell", model.spec, params.cell, D, dtype, backend)
    if dtype is None:
        dtype = getattr(params.cell, next(iter(model.spec.fields))).dtype
    O = check_readout_params(f"{name}.readout", params.readout, H, dtype, backend)
    return H, O


def check_seq_batch(batch: Any, model: Any, O: int | None = None, name: str = "batch", backend: str = "numpy") -> Any:
    """A TaskBatch for ``model`` (bpttlab.tasks.check_task_batch; tensors on the torch backend): its loss is
    model.loss and, for "mse", its targets have O outputs (the readout's) when O is given."""
    from bpttlab.tasks import check_task_batch

    check_task_batch(batch, name, backend=backend)
    if batch.loss != model.loss:
        raise ValueError(f"{name}.loss: expected {model.loss!r} (model.loss), got {batch.loss!r}")
    if O is not None and batch.loss == "mse" and batch.y.shape[-1] != O:
        raise ValueError(
            f"{name}.y: expected O = {O} outputs (from params.readout) on its last axis, got shape {tuple(batch.y.shape)}"
        )
    return batch


def _check_mask(name: str, mask: Any, like: Any, backend: str = "numpy") -> None:
    """mask (T, B): finite weights >= 0 in the dtype of ``like`` (the outputs it weighs)."""
    check_float_array(name, mask, ("T", "B"), backend)
    check_shape(name, mask, tuple(like.shape[:2]), ("T", "B"))
    check_same_dtype(name, mask, "ys", like.dtype)
    check_finite(name, mask, time_axis=0)
    check_nonnegative(name, mask, time_axis=0)


def check_masked_loss_args(
    ys: Any, y: Any, mask: Any, loss: str, normaliser: Any, backend: str = "numpy"
) -> float | None:
    """The checks of masked_loss on both backends; returns the normaliser as a float (or None)."""
    from bpttlab.seqmodel import LOSSES

    check_choice("loss", loss, LOSSES)
    check_float_array("ys", ys, ("T", "B", "O"), backend)
    check_finite("ys", ys, time_axis=0)
    _check_mask("mask", mask, ys, backend)
    normaliser = check_optional(check_number, "normaliser", normaliser, positive=True)
    if loss == "mse":
        check_float_array("y", y, ("T", "B", "O"), backend)
        check_shape("y", y, tuple(ys.shape), ("T", "B", "O"))
        check_same_dtype("y", y, "ys", ys.dtype)
        check_finite("y", y, time_axis=0)
    else:
        if backend == "numpy":
            if not isinstance(y, np.ndarray) or not np.issubdtype(y.dtype, np.integer):
                raise TypeError(
                    f"y: expected integer class labels for loss 'xent', got {getattr(y, 'dtype', type(y).__name__)}"
                )
        else:
            check_int_array("y", y, None, backend="torch")
        check_shape("y", y, tuple(ys.shape[:2]), ("T", "B"))
        C = ys.shape[-1]
        if int(y.min()) < 0 or int(y.max()) >= C:
            raise ValueError(f"y: expected class labels in [0, {C - 1}], got range [{int(y.min())}, {int(y.max())}]")
    return normaliser


def check_seq_inputs(
    model: Any, x: Any, x_name: str, state: Any, state_name: str, params: Any, backend: str = "numpy"
) -> tuple[int, int]:
    """x (T, B, D) float, finite; params of model's cell (check_seq_params) in x's dtype; the state (B, H).

    ``x_name`` and ``state_name`` are how the caller's arguments are called ("batch.x", "state_start").
    Returns (H, O).
    """
    check_float_array(x_name, x, ("T", "B", "D"), backend)
    check_finite(x_name, x, time_axis=0)
    H, O = check_seq_params(model, params, x.shape[-1], x.dtype, backend)
    check_cell_state(model.spec, state_name, state, x.shape[1], H, x.dtype, backend)
    return H, O


def check_seq_call(batch: Any, state: Any, state_name: str, params: Any, model: Any, backend: str = "numpy") -> int:
    """The arguments of an objective over a whole batch (loss_and_grads, window_loss_and_grads, loss, ...): the
    model, the batch (check_seq_batch), the state it starts from and the parameters, which must fit one another.

    Returns O, the readout's number of outputs.
    """
    from bpttlab.seqmodel import check_model

    check_model(model)
    check_seq_batch(batch, model, backend=backend)
    _, O = check_seq_inputs(model, batch.x, "batch.x", state, state_name, params, backend)
    check_seq_batch(batch, model, O, backend=backend)
    return O


# ----------------------------------------------------------------- randomised gradient estimators


def check_keep(keep: Any, T: int) -> np.ndarray:
    """The keep probabilities c_t as a float64 array (T,): a number in (0, 1], or an array (T,) of such numbers.

    Entry 0 is checked but unused (there is no boundary before the first step).
    """
    if isinstance(keep, np.ndarray):
        values = check_real_array("keep", keep)
        if values.shape != (T,):
            raise ValueError(
                f"keep: expected an array of shape ({T},) (one entry per step, T = {T}), got shape {values.shape}"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError("keep: expected finite numbers in (0, 1], got a NaN or an infinity")
        if not np.all((values > 0) & (values <= 1)):
            bad = values[~((values > 0) & (values <= 1))]
            raise ValueError(f"keep: expected every entry in (0, 1], got {bad[0]!r}")
        return values.copy()
    if isinstance(keep, (bool, np.bool_, str, bytes)) or not np.isscalar(keep):
        raise TypeError(
            f"keep: expected a number in (0, 1] or a numpy.ndarray of shape ({T},), got {type(keep).__name__}"
        )
    c = check_number("keep", keep, low=0.0, open_low=True, high=1.0)
    return np.full(T, c)


def check_cuts(cuts: Any, T: int) -> np.ndarray:
    """A cut pattern: a bool numpy array (T,) with cuts[0] False; returned as a copy."""
    if not isinstance(cuts, np.ndarray):
        raise TypeError(f"cuts: expected a bool numpy.ndarray of shape ({T},), got {type(cuts).__name__}")
    if cuts.dtype != np.bool_:
        raise TypeError(f"cuts: expected dtype bool, got {cuts.dtype}")
    if cuts.shape != (T,):
        raise ValueError(f"cuts: expected shape ({T},) (one entry per step, T = {T}), got shape {cuts.shape}")
    if cuts[0]:
        raise ValueError("cuts: entry 0 must be False (there is no boundary before the first step)")
    return cuts.copy()


def check_signs(signs: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Random signs given explicitly (UORO): a numpy array of ``shape`` whose entries are all +1 or -1."""
    if not isinstance(signs, np.ndarray):
        raise TypeError(f"signs: expected a numpy.ndarray of shape {shape} of +1 and -1, got {type(signs).__name__}")
    if signs.shape != tuple(shape):
        raise ValueError(f"signs: expected shape {tuple(shape)} (T, B, H), got {signs.shape}")
    if not np.all(np.abs(signs) == 1):
        raise ValueError("signs: expected every entry to be +1 or -1")
    return signs
