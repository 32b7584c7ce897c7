"""Cross-check a cell's hand-written backward pass against autograd, in one call.

For any cell of ``bpttlab.cells``, :func:`cross_check` runs the same problem three ways:

- ``"numpy"``: ``bpttlab.numpy.<cell>``, forward and backward written by hand;
- ``"torch"``: the torch twin ``bpttlab.torch.<cell>``, differentiated by autograd;
- ``"torch.nn"``: the torch.nn module with the same weights (``bpttlab.torch.nnmap.to_nn``),
  where torch.nn has one (not for the linear RNN or Cho's GRU);

with the scalar L = sum(dhs * hs), and compares every tensor with the NumPy one by
``bpttlab.rel_error``: the hidden states hs, the final state, dL/dx, dL/d(initial state)
and every parameter gradient. The tests and the lessons after the BPTT lesson use it.
Imports torch.
"""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import numpy as np
import torch

from bpttlab import cells
from bpttlab.gradcheck import rel_error
from bpttlab.torch import nnmap
from bpttlab.torch.convert import to_torch

BACKENDS = ("numpy", "torch", "torch.nn")


def _state_parts(spec: cells.CellSpec, state: Any) -> list[Any]:
    return [state] if spec.state is None else list(state)


def _numpy(spec: cells.CellSpec, x, state0, params, dhs, options) -> dict[str, np.ndarray]:
    cell = spec.numpy()
    hs, cache = cell.forward(x, state0, params, **options)
    dx, dstate0, grads = cell.backward(dhs, cache)
    out = {"hs": hs}
    out.update({f"{n}_T": v for n, v in zip(spec.state_names, _state_parts(spec, cell.state_at(cache, x.shape[0])))})
    out["dx"] = dx
    out.update({f"d{n}0": v for n, v in zip(spec.state_names, _state_parts(spec, dstate0))})
    out.update(grads._asdict())
    return out


def _torch(spec: cells.CellSpec, x, state0, params, dhs, options) -> dict[str, np.ndarray]:
    cell = spec.torch()
    parts = [torch.tensor(p) for p in _state_parts(spec, state0)]
    s0 = parts[0] if spec.state is None else spec.state(*parts)
    hs, cache = cell.forward(torch.tensor(x), s0, to_torch(params), **options)
    dx, dstate0, grads = cell.backward(torch.tensor(dhs), cache)
    out = {"hs": hs.detach().numpy()}
    final = _state_parts(spec, cell.state_at(cache, x.shape[0]))
    out.update({f"{n}_T": v.detach().numpy() for n, v in zip(spec.state_names, final)})
    out["dx"] = dx.numpy()
    out.update({f"d{n}0": v.numpy() for n, v in zip(spec.state_names, _state_parts(spec, dstate0))})
    out.update({k: v.numpy() for k, v in grads._asdict().items()})
    return out


def _nn(spec: cells.CellSpec, x, state0, params, dhs, options) -> dict[str, np.ndarray]:
    # Any: torch.nn registers weight_ih_l0, ... at run time, so its stubs type them (and their .grad) Tensor | Module
    module: Any = nnmap.to_nn(params, **({"nonlinearity": options["activation"]} if spec.name == "rnn" else {}))
    x_t = torch.tensor(x, requires_grad=True)
    parts = [torch.tensor(p[None], requires_grad=True) for p in _state_parts(spec, state0)]  # (1, B, H)
    out_t, final = module(x_t, parts[0] if spec.state is None else tuple(parts))
    (torch.tensor(dhs) * out_t).sum().backward()
    final = [final] if spec.state is None else list(final)
    out = {"hs": out_t.detach().numpy()}
    out.update({f"{n}_T": v[0].detach().numpy() for n, v in zip(spec.state_names, final)})
    assert x_t.grad is not None  # the backward pass above reached x_t
    out["dx"] = x_t.grad.numpy()
    # the backward pass above reached every part of the initial state
    out.update({f"d{n}0": cast(torch.Tensor, p.grad)[0].numpy() for n, p in zip(spec.state_names, parts)})
    g_x, g_h, *g_b = cast("type[NamedTuple]", spec.grads)._fields  # a NamedTuple class (CellSpec: a plain type)
    out[g_x] = module.weight_ih_l0.grad.numpy()
    out[g_h] = module.weight_hh_l0.grad.numpy()
    if len(g_b) == 2:
        out[g_b[0]], out[g_b[1]] = module.bias_ih_l0.grad.numpy(), module.bias_hh_l0.grad.numpy()
    else:  # one bpttlab bias, two in torch.nn: both enter as a sum, so both receive its gradient
        out[g_b[0]] = module.bias_ih_l0.grad.numpy()
        out[f"{g_b[0]} (bias_hh)"] = module.bias_hh_l0.grad.numpy()
    return out


_RUNNERS = {"numpy": _numpy, "torch": _torch, "torch.nn": _nn}


def run(
    backend: str, cell: Any, x: np.ndarray, state0: Any, params: Any, dhs: np.ndarray, **options: Any
) -> dict[str, np.ndarray]:
    """Every tensor of one backend as NumPy arrays: hs, the final state, dx, the initial state's gradient, the weights'.

    backend: "numpy", "torch" or "torch.nn"; cell: a name or CellSpec of bpttlab.cells; x (T, B, D),
    state0 (as the NumPy cell takes it), params (NumPy), dhs (T, B, H); options: the cell's option.
    """
    from bpttlab._checks import check_choice

    check_choice("backend", backend, BACKENDS)
    spec = cells.get(cell)
    options = spec.options(**options)
    if backend == "torch.nn" and not cells.Variant(spec, options).has_nn:
        raise ValueError(f"backend: torch.nn has no module for {cells.Variant(spec, options).id}")
    return _RUNNERS[backend](spec, x, state0, params, dhs, options)


class CrossCheck(NamedTuple):
    """values[backend][name]: every array; errors[backend][name]: its rel_error against the NumPy array."""

    cell: str
    values: dict[str, dict[str, np.ndarray]]
    errors: dict[str, dict[str, float]]

    def max_error(self) -> float:
        """The largest relative error over every backend and tensor."""
        return max(e for per in self.errors.values() for e in per.values())

    def report(self) -> str:
        """One entry per backend: how many tensors were compared and the largest relative error (machine-dependent).

        Each entry is one line, or, where that line would be wider than ``WIDTH`` characters, two: the
        name of the worst tensor goes onto an indented second line.
        """
        lines = []
        for backend, per in self.errors.items():
            worst = max(per, key=per.__getitem__)
            head = f"{self.cell}: numpy vs {backend:<8} {len(per):>2} tensors, largest rel_error {per[worst]:.1e}"
            lines.extend(_wrap(head, [f"({worst})"]))
        return "\n".join(lines)

    def summary(self, tol: float) -> str:
        """One entry per backend saying whether every tensor agrees within ``tol``: the same text on every machine
        as long as the verdict holds (the errors themselves change in their last digits between CPUs).

        Each entry is one line, or, where that line would be wider than ``WIDTH`` characters, the verdict
        followed by the tensor names on indented lines, broken between names.
        """
        from bpttlab._checks import check_number

        tol = check_number("tol", tol, positive=True)
        lines = []
        for backend, per in self.errors.items():
            bad = [name for name, e in per.items() if not e < tol]
            if bad:
                head = (
                    f"{self.cell}: numpy vs {backend}: {len(bad)} of {len(per)} tensors DISAGREE "
                    f"(rel_error >= {tol:.0e}):"
                )
                lines.extend(_wrap(head, [f"{name}," for name in bad[:-1]] + [bad[-1]]))
            else:
                head = f"{self.cell}: numpy vs {backend}: all {len(per)} tensors agree, rel_error < {tol:.0e}"
                names = list(per)
                lines.extend(
                    _wrap(
                        head,
                        [
                            "(" * (i == 0) + f"{name}" + ("," if i < len(names) - 1 else ")")
                            for i, name in enumerate(names)
                        ],
                    )
                )
        return "\n".join(lines)


WIDTH = 76
"""The widest line that :meth:`CrossCheck.report` and :meth:`CrossCheck.summary` print (a page's code column)."""


def _wrap(head: str, words: list[str]) -> list[str]:
    """``head`` and ``words`` joined by spaces on one line if it fits in WIDTH; else ``head``, then the words
    on lines indented by two spaces, broken between words (a single word is never split)."""
    one = " ".join([head, *words])
    if len(one) <= WIDTH:
        return [one]
    lines, current = [head], "  "
    for word in words:
        if current.strip() and len(current) + 1 + len(word) > WIDTH:
            lines.append(current)
            current = "  "
        current = f"{current}{word}" if not current.strip() else f"{current} {word}"
    lines.append(current)
    return lines


def cross_check(cell: Any, x: np.ndarray, state0: Any, params: Any, dhs: np.ndarray, **options: Any) -> CrossCheck:
    """Run NumPy, the torch twin and torch.nn (where it exists) on one problem; compare every tensor.

    The NumPy arrays should be float64 for a meaningful comparison (autograd runs in their dtype).
    """
    spec = cells.get(cell)
    options = spec.options(**options)
    variant = cells.Variant(spec, options)
    ours = run("numpy", spec, x, state0, params, dhs, **options)
    values, errors = {"numpy": ours}, {}
    for backend in ("torch", "torch.nn"):
        if backend == "torch.nn" and not variant.has_nn:
            continue
        theirs = run(backend, spec, x, state0, params, dhs, **options)
        values[backend] = theirs
        errors[backend] = {name: rel_error(ours[name.split(" ")[0]], v) for name, v in theirs.items()}
    return CrossCheck(variant.id, values, errors)
