"""The cell contract of ``bpttlab.cells``, tested once for every registry entry on both backends.

Every test runs over ``bpttlab.cells.VARIANTS`` (rnn-tanh, rnn-relu, rnn-linear, lstm,
gru-torch, gru-cho; ids are the variants' ids), and where it says so over the backends:
the hand-written NumPy cell, its torch twin (autograd) and torch.nn where it has the cell.
The scalar every gradient is taken of is L = sum(dhs * hs). What is checked:

- values and every gradient agree across the backends in float64 to TOL_TORCH (1e-10),
  over hypothesis-drawn sizes including T = 1 and B = 1, and at T = 300;
- the step functions looped by hand equal the sequence functions, on both backends;
- ``states``, ``state_at``, ``zero_state`` and ``state_grads`` agree between the backends;
- finite differences of every gradient (small sizes), random-direction checks at T = 300;
- float32 keeps its dtype and agrees with float64 to TOL_FLOAT32;
- purity: inputs unchanged, the same call twice gives the same result, torch backward
  leaves the callers' ``.grad`` alone; torch forward keeps autograd's graph;
- the registry agrees with the arrays, with torch.nn and with the modules' signatures;
- the tanh derivative is exact in saturation in every cell that has a tanh;
- bad input fails the same way on both backends.

The largest float64 error of each group is recorded (``support.record``) and printed after
the run under "contract: ...", with one line for the contract suite overall.
"""

from __future__ import annotations

import inspect
import re
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from support import (
    SATURATING,
    TOL_DIRECTION,
    TOL_FD,
    TOL_FLOAT32,
    TOL_LOOP,
    TOL_TORCH,
    VARIANT_IDS,
    VARIANTS,
    CellDims,
    cell_dims,
    cell_loss,
    exact_one_minus_square,
    make_cell_problem,
    make_dstate,
    make_state,
    note,
    record,
    seeds,
    state_parts,
    torch_state,
    with_value,
)

from bpttlab import cells, crosscheck, directional_check, numerical_gradient, rel_error
from bpttlab.numpy import activations
from bpttlab.numpy.activations import sigmoid, sigmoid_grad, tanh_grad
from bpttlab.params import GRUParams, LSTMParams, LSTMState, LSTMStateGrads, RNNParams, cell_param_count
from bpttlab.torch import nnmap, to_torch
from bpttlab.tree import tree_map

BACKENDS = ("numpy", "torch")
CONTRACT = ("step_forward", "step_backward", "forward", "backward", "states", "state_at", "zero_state", "state_grads")
SMALL = CellDims(T=4, B=2, D=3, H=5)

by_variant = pytest.mark.parametrize("v", VARIANTS, ids=VARIANT_IDS)
by_backend = pytest.mark.parametrize("backend", BACKENDS)


def np_tree(tree):
    """A tree of tensors (or arrays) as NumPy arrays, containers kept."""
    return tree_map(lambda a: a.detach().numpy() if isinstance(a, torch.Tensor) else a, tree)


def on_backend(p, backend: str, requires_grad: bool = False):
    """(x, state0, params, dhs) of problem ``p`` for ``backend``: the arrays themselves, or tensor copies."""
    if backend == "numpy":
        return p.x, p.state0, p.params, p.dhs
    x = torch.tensor(p.x, requires_grad=requires_grad)
    return x, torch_state(p.spec, p.state0, requires_grad), to_torch(p.params, requires_grad), torch.tensor(p.dhs)


def h_of(spec, state):
    return state_parts(spec, state)[0]


def with_direct_dh(spec, dstate, dh):
    """dstate with ``dh`` added to its h part (the direct loss gradient of that step)."""
    parts = state_parts(spec, dstate)
    return make_dstate(spec, [parts[0] + dh, *parts[1:]])


def zeros_dstate(spec, state):
    zeros = [
        a.new_zeros(a.shape) if isinstance(a, torch.Tensor) else np.zeros_like(a) for a in state_parts(spec, state)
    ]
    return make_dstate(spec, zeros)


# ----------------------------------------------------------------- NumPy vs torch twin vs torch.nn


@by_variant
@settings(deadline=None, max_examples=20)
@given(seed=seeds, d=cell_dims())
@example(seed=0, d=CellDims(T=1, B=1, D=1, H=1))
@example(seed=1, d=CellDims(T=1, B=3, D=2, H=4))
def test_backends_agree_in_float64(v, seed, d):
    """hs, the final state, dx, the initial state's gradient and every weight gradient agree to 1e-10,
    NumPy vs the torch twin vs torch.nn (where it has the cell), pairwise."""
    p = make_cell_problem(v, seed, d)
    cc = crosscheck.cross_check(v.spec, p.x, p.state0, p.params, p.dhs, **p.options)
    assert set(cc.values) == {"numpy", "torch"} | ({"torch.nn"} if v.has_nn else set())
    expected = {"hs", *(f"{n}_T" for n in v.spec.state_names), *p.grad_names}
    ours = cc.values["numpy"]
    for backend, values in cc.values.items():
        assert {name.split(" ")[0] for name in values} == expected, backend  # every tensor is compared
        for name, value in values.items():
            assert value.shape == ours[name.split(" ")[0]].shape, (backend, name)
            assert value.dtype == np.float64, (backend, name)
    context = f"(d={d}, seed={seed})"
    for backend, errors in cc.errors.items():
        for name, err in errors.items():
            note(f"contract: numpy vs {backend}", err)
            assert err <= TOL_TORCH, f"{v.id} numpy vs {backend} {name}: rel_error {err:.2e} {context}"
    if v.has_nn:
        twin, nn = cc.values["torch"], cc.values["torch.nn"]
        for name, value in nn.items():
            err = record("contract: torch vs torch.nn", twin[name.split(" ")[0]], value)
            assert err <= TOL_TORCH, f"{v.id} torch vs torch.nn {name}: rel_error {err:.2e} {context}"


@by_variant
def test_problem_biases_matter(v):
    """Each bias field of the builder's problems changes hs: a dropped bias cannot pass the cross-checks."""
    p = make_cell_problem(v, 3, SMALL)
    forward = v.spec.numpy().forward
    hs, _ = forward(p.x, p.state0, p.params, **p.options)
    biases = [f for f, axes in v.spec.fields.items() if axes == ("G",)]
    assert biases
    for field in biases:
        zeroed = p.params._replace(**{field: np.zeros_like(getattr(p.params, field))})
        assert rel_error(forward(p.x, p.state0, zeroed, **p.options)[0], hs) > 1e-2, field


# ----------------------------------------------------------------- the step functions looped by hand


def looped(mod, spec, x, state0, params, dhs, options):
    """hs, the T + 1 states, dx, dstate0, summed weight gradients and dL/dh_t, from the step functions."""
    T = x.shape[0]
    state, states, caches = state0, [state0], []
    for t in range(T):
        state, cache = mod.step_forward(x[t], state, params, **options)
        states.append(state)
        caches.append(cache)
    dstate, dxs, total, dh_total = zeros_dstate(spec, state0), [None] * T, None, [None] * T
    for t in reversed(range(T)):
        dstate = with_direct_dh(spec, dstate, dhs[t])
        dh_total[t] = h_of(spec, dstate)
        dxs[t], dstate, grads = mod.step_backward(dstate, caches[t])
        total = grads if total is None else type(grads)(*(a + b for a, b in zip(total, grads)))
    stack = torch.stack if isinstance(x, torch.Tensor) else np.stack
    hs = stack([h_of(spec, s) for s in states[1:]])
    return {
        "hs": hs,
        "states": states,
        "dx": stack(dxs),
        "dstate0": dstate,
        "grads": total,
        "state_grads": stack(dh_total),
    }


@by_variant
@by_backend
@settings(deadline=None, max_examples=10)
@given(seed=seeds, d=cell_dims(T=(1, 12)))
@example(seed=2, d=CellDims(T=1, B=1, D=1, H=1))
def test_sequence_functions_equal_the_step_functions_looped(v, backend, seed, d):
    """forward / backward / states / state_at / state_grads equal step_forward and step_backward looped by hand
    (the weight gradients summed over steps) to 1e-12; at T = 1 the sequence is the step."""
    p = make_cell_problem(v, seed, d)
    spec, mod = v.spec, v.spec.module(backend)
    x, state0, params, dhs = on_backend(p, backend)
    loop = np_tree(looped(mod, spec, x, state0, params, dhs, p.options))
    hs, cache = mod.forward(x, state0, params, **p.options)
    dx, dstate0, grads = mod.backward(dhs, cache)
    assert isinstance(cache, mod.Cache)
    assert isinstance(grads, spec.grads)
    names = spec.state_names
    pairs = [("hs", hs, loop["hs"]), ("dx", dx, loop["dx"])]
    pairs += [("state_grads", mod.state_grads(dhs, cache), loop["state_grads"])]
    pairs += [
        (f"d{n}0", a, b) for n, a, b in zip(names, state_parts(spec, dstate0), state_parts(spec, loop["dstate0"]))
    ]
    pairs += list(zip(spec.grads._fields, grads, loop["grads"]))
    for t in range(d.T + 1):
        ours, theirs = state_parts(spec, mod.state_at(cache, t)), state_parts(spec, loop["states"][t])
        pairs += [(f"{n}_{t}", a, b) for n, a, b in zip(names, ours, theirs)]
    for name, ours, theirs in pairs:
        ours = np_tree(ours)
        assert ours.shape == theirs.shape, name
        err = record(f"contract: step loop ({backend})", ours, theirs)
        assert err <= TOL_LOOP, f"{v.id} {backend} {name}: rel_error {err:.2e} (d={d}, seed={seed})"
    if spec.state_grads is not None:
        assert isinstance(dstate0, spec.state_grads)


# ----------------------------------------------------------------- states, state_at, zero_state, state_grads


@by_variant
def test_state_functions_agree_between_backends(v):
    """states and state_at give the same T + 1 states on both backends (state_at(cache, t) = states[t] exactly);
    state_grads agree to 1e-10, end with dhs[T-1]; zero_state is the zero state in the params' dtype."""
    spec = v.spec
    p = make_cell_problem(v, 5, CellDims(T=6, B=2, D=3, H=4))
    got = {}
    for backend in BACKENDS:
        mod = spec.module(backend)
        x, state0, params, dhs = on_backend(p, backend)
        sts = mod.states(x, state0, params, **p.options)
        hs, cache = mod.forward(x, state0, params, **p.options)
        assert len(sts) == p.x.shape[0] + 1
        for t, s in enumerate(sts):
            assert isinstance(s, spec.state if spec.state else (torch.Tensor if backend == "torch" else np.ndarray))
            for a, b in zip(state_parts(spec, s), state_parts(spec, mod.state_at(cache, t))):
                assert np.array_equal(np_tree(a), np_tree(b)), (backend, t)
        assert np.array_equal(np_tree(h_of(spec, mod.state_at(cache, p.x.shape[0]))), np_tree(hs[-1]))
        for bad in (-1, p.x.shape[0] + 1):
            with pytest.raises(ValueError, match=r"^t: expected an int in \[0, 6\]"):
                mod.state_at(cache, bad)
        gs = np_tree(mod.state_grads(dhs, cache))
        assert gs.shape == p.dhs.shape
        assert np.array_equal(gs[-1], p.dhs[-1])  # no later step adds to the last state's gradient
        zero = mod.zero_state(params, 3)
        parts = state_parts(spec, zero)
        assert isinstance(zero, spec.state if spec.state else type(x))
        for a in parts:
            assert tuple(a.shape) == (3, 4) and not np.any(np_tree(a)) and np_tree(a).dtype == np.float64
        assert len({id(a) for a in parts}) == len(parts)  # h and c are separate arrays
        got[backend] = (np_tree([state_parts(spec, s) for s in sts]), gs)
    (np_states, np_gs), (t_states, t_gs) = got["numpy"], got["torch"]
    for t, (a, b) in enumerate(zip(np_states, t_states)):
        for n, pa, pb in zip(spec.state_names, a, b):
            assert record("contract: states", pa, pb) <= TOL_TORCH, (t, n)
    assert record("contract: state_grads", np_gs, t_gs) <= TOL_TORCH


# ----------------------------------------------------------------- finite differences (NumPy, small)


def relu_margin(p) -> float:
    """For the relu RNN, the smallest |pre-activation| of the run (differences must not straddle the kink)."""
    if p.options.get("activation") != "relu":
        return np.inf
    hs, _ = p.spec.numpy().forward(p.x, p.state0, p.params, **p.options)
    h_prev = np.concatenate([p.state0[None], hs[:-1]])
    a = p.x @ p.params.W_xh.T + h_prev @ p.params.W_hh.T + p.params.b_h
    return float(np.abs(a).min())


@by_variant
def test_sequence_backward_matches_finite_differences(v):
    """Every gradient of backward (x, each state part, each weight) equals central differences of L."""
    p = make_cell_problem(v, 11, SMALL)
    assert relu_margin(p) > 1e-3
    mod = v.spec.numpy()
    hs, cache = mod.forward(p.x, p.state0, p.params, **p.options)
    dx, dstate0, grads = mod.backward(p.dhs, cache)

    def f():
        return mod.forward(p.x, p.state0, p.params, **p.options)[0]

    analytic = [dx, *state_parts(v.spec, dstate0), *grads]
    for name, arr, g in zip(p.grad_names, p.arrays, analytic):
        err = rel_error(g, numerical_gradient(f, arr, p.dhs))
        assert err < TOL_FD, f"{v.id} {name}: rel_error {err:.2e}"


@by_variant
def test_step_backward_matches_finite_differences(v):
    """step_backward's dx_t, the previous state's gradient (every part) and the weight gradients equal
    central differences of one step, with a random upstream gradient on every part of the new state."""
    p = make_cell_problem(v, 31, SMALL)
    assert relu_margin(p._replace(x=p.x[:1], dhs=p.dhs[:1])) > 1e-3
    spec, mod = v.spec, v.spec.numpy()
    x_t, prev = p.x[0].copy(), p.state0
    out, cache = mod.step_forward(x_t, prev, p.params, **p.options)
    rng = np.random.default_rng(32)
    dparts = [rng.standard_normal(a.shape) for a in state_parts(spec, out)]
    dx_t, dprev, grads = mod.step_backward(make_dstate(spec, dparts), cache)

    def f():
        return np.stack(state_parts(spec, mod.step_forward(x_t, prev, p.params, **p.options)[0]))

    checks = [("dx_t", x_t, dx_t)]
    checks += [
        (f"d{n}_prev", a, g) for n, a, g in zip(spec.state_names, state_parts(spec, prev), state_parts(spec, dprev))
    ]
    checks += list(zip(spec.grads._fields, p.params, grads))
    for name, arr, analytic in checks:
        err = rel_error(analytic, numerical_gradient(f, arr, np.stack(dparts)))
        assert err < TOL_FD, f"{v.id} {name}: rel_error {err:.2e}"


# ----------------------------------------------------------------- long sequences


@by_variant
def test_long_sequence_cross_check_and_directional_check(v):
    """At T = 300: the backends still agree to 1e-10, and the slope of L along random directions in
    (x, state0, weights) matches a finite difference to 1e-6."""
    p = make_cell_problem(v, 41, CellDims(T=300, B=3, D=4, H=16))
    cc = crosscheck.cross_check(v.spec, p.x, p.state0, p.params, p.dhs, **p.options)
    for backend, errors in cc.errors.items():
        for name, err in errors.items():
            note(f"contract: T=300 numpy vs {backend}", err)
            assert err <= TOL_TORCH, f"{v.id} T=300 numpy vs {backend} {name}: rel_error {err:.2e}"
    ours = cc.values["numpy"]
    grads = [ours[n] for n in p.grad_names]
    dir_rng = np.random.default_rng(42)
    for _ in range(3):
        analytic, numerical = directional_check(lambda: cell_loss(p), p.arrays, grads, dir_rng)
        err = abs(analytic - numerical) / max(abs(analytic), abs(numerical))
        assert err < TOL_DIRECTION, f"{v.id}: slope {analytic:.6e} vs {numerical:.6e}: rel {err:.2e}"


# ----------------------------------------------------------------- float32


@by_variant
def test_float32_keeps_its_dtype_and_agrees_with_float64(v):
    """A float32 problem stays float32 on every backend (values, gradients, steps, states, zero_state)
    and agrees with the float64 NumPy run of the same problem to 1e-5."""
    d = CellDims(T=20, B=3, D=4, H=8)
    p64, p32 = make_cell_problem(v, 51, d), make_cell_problem(v, 51, d, dtype=np.float32)
    reference = crosscheck.run("numpy", v.spec, p64.x, p64.state0, p64.params, p64.dhs, **p64.options)
    for backend in crosscheck.BACKENDS if v.has_nn else BACKENDS:
        r32 = crosscheck.run(backend, v.spec, p32.x, p32.state0, p32.params, p32.dhs, **p32.options)
        for name, value in r32.items():
            assert value.dtype == np.float32, (backend, name)
            err = rel_error(value, reference[name.split(" ")[0]])
            assert err < TOL_FLOAT32, f"{v.id} {backend} {name}: rel_error {err:.2e}"
    for backend in BACKENDS:
        mod = v.spec.module(backend)
        x, state0, params, dhs = on_backend(p32, backend)
        out, cache = mod.step_forward(x[0], state0, params, **p32.options)
        dx_t, dprev, grads = mod.step_backward(zeros_dstate(v.spec, out), cache)
        hs, seq_cache = mod.forward(x, state0, params, **p32.options)
        leaves = [
            *state_parts(v.spec, out),
            dx_t,
            *state_parts(v.spec, dprev),
            *grads,
            *state_parts(v.spec, mod.zero_state(params, 2)),
            mod.state_grads(dhs, seq_cache),
            *(a for s in mod.states(x, state0, params, **p32.options) for a in state_parts(v.spec, s)),
        ]
        for a in leaves:
            assert np_tree(a).dtype == np.float32, backend


# ----------------------------------------------------------------- purity


def everything(mod, spec, x, state0, params, dhs, options) -> list:
    """Every contract function called once; their outputs (as NumPy) in a flat list."""
    hs, cache = mod.forward(x, state0, params, **options)
    dx, dstate0, grads = mod.backward(dhs, cache)
    out, step_cache = mod.step_forward(x[0], state0, params, **options)
    dstep = mod.step_backward(with_direct_dh(spec, zeros_dstate(spec, out), dhs[0]), step_cache)
    result = [hs, dx, dstate0, grads, out, dstep, mod.states(x, state0, params, **options)]
    result += [mod.state_at(cache, t) for t in range(x.shape[0] + 1)]
    result += [mod.state_grads(dhs, cache), mod.zero_state(params, 2)]
    return [np.array(a, copy=True) for a in _flatten(np_tree(result))]


def _flatten(tree) -> list:
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _flatten(item)]
    return [tree]


@by_variant
@by_backend
def test_contract_functions_are_pure(v, backend):
    """No contract function changes its inputs; calling everything twice gives bit-identical results;
    on the torch backend, backward, step_backward and state_grads leave the callers' .grad untouched
    (None stays None, an existing .grad keeps its values)."""
    p = make_cell_problem(v, 61, SMALL)
    spec, mod = v.spec, v.spec.module(backend)
    x, state0, params, dhs = on_backend(p, backend, requires_grad=backend == "torch")
    inputs = [x, *state_parts(spec, state0), *params, dhs]
    before = [np_tree(a).copy() for a in inputs]
    sentinels = {}
    if backend == "torch":
        for k, leaf in enumerate(params):  # half the callers' tensors have a .grad already, half have none
            if k % 2 == 0:
                leaf.grad = torch.full_like(leaf, 7.0)
                sentinels[k] = leaf.grad
    first = everything(mod, spec, x, state0, params, dhs, p.options)
    second = everything(mod, spec, x, state0, params, dhs, p.options)
    for k, (a, b) in enumerate(zip(inputs, before)):
        assert np.array_equal(np_tree(a), b), f"input {k} was modified"
    assert len(first) == len(second)
    for k, (a, b) in enumerate(zip(first, second)):
        assert np.array_equal(a, b), f"output {k} differs between two identical calls"
    if backend == "torch":
        assert x.grad is None and all(s.grad is None for s in state_parts(spec, state0))
        for k, leaf in enumerate(params):
            if k in sentinels:
                assert leaf.grad is sentinels[k] and bool(torch.all(leaf.grad == 7.0)), spec.params._fields[k]
            else:
                assert leaf.grad is None, spec.params._fields[k]


@by_variant
def test_torch_forward_keeps_the_graph_on_the_callers_tensors(v):
    """(hs * dhs).sum().backward() after the torch forward gives the gradients that backward returns."""
    p = make_cell_problem(v, 62, SMALL)
    spec, mod = v.spec, v.spec.torch()
    x, state0, params, dhs = on_backend(p, "torch", requires_grad=True)
    hs, cache = mod.forward(x, state0, params, **p.options)
    dx, dstate0, grads = mod.backward(dhs, cache)
    (hs * dhs).sum().backward()
    pairs = [("dx", x.grad, dx)]
    pairs += [
        (f"d{n}0", a.grad, g)
        for n, a, g in zip(spec.state_names, state_parts(spec, state0), state_parts(spec, dstate0))
    ]
    pairs += [(name, leaf.grad, g) for name, leaf, g in zip(spec.grads._fields, params, grads)]
    for name, autograd, ours in pairs:
        assert autograd is not None, name
        assert record("contract: torch graph vs backward", autograd.numpy(), ours.numpy()) <= TOL_LOOP, name


# ----------------------------------------------------------------- the registry


@by_variant
def test_registry_entry_matches_the_arrays_and_torch_nn(v):
    """The CellSpec's fields, shapes, gates, biases, state names and parameter counts are those of the
    arrays its initialiser makes; spec.nn gives the torch.nn module (where it exists) with
    spec.param_count(D, H, biases=2) parameters, and nnmap.to_nn builds that module."""
    spec, (D, H) = v.spec, (3, 5)
    params = spec.initialiser()(D, H, np.random.default_rng(0))
    assert isinstance(params, spec.params) and cells.of_params(params) is spec and cells.get(spec.name) is spec
    assert params._fields == tuple(spec.fields)
    size = {"G": spec.gates * H, "D": D, "H": H}
    for field, axes in spec.fields.items():
        assert getattr(params, field).shape == tuple(size[a] for a in axes), field
    assert spec.grads._fields == tuple("d" + f for f in spec.fields)
    assert sum(1 for axes in spec.fields.values() if axes == ("G",)) == spec.biases
    n = sum(a.size for a in params)
    assert n == spec.param_count(D, H) == cell_param_count(spec.name, D, H)
    if spec.state is None:
        assert spec.state_grads is None and spec.state_names == ("h",)
    else:
        assert spec.state._fields == spec.state_names
        assert spec.state_grads._fields == tuple("d" + s for s in spec.state_names)
    assert spec.options(**v.options) == v.options
    nn = spec.nn(**v.options)
    assert (nn is not None) == v.has_nn
    if nn is not None:
        cls, kwargs = nn
        module = cls(D, H, **kwargs)
        assert sum(q.numel() for q in module.parameters()) == spec.param_count(D, H, biases=2)
        mapped = nnmap.to_nn(params, **({"nonlinearity": v.options["activation"]} if spec.name == "rnn" else {}))
        assert type(mapped) is cls
        assert all(getattr(mapped, k) == val for k, val in kwargs.items())


def test_variants_cover_every_option_of_every_cell_once():
    """VARIANTS is variants(): one entry per cell without an option, one per choice otherwise; ids unique."""
    assert list(cells.VARIANTS) == cells.variants()
    ids = [v.id for v in cells.VARIANTS]
    assert len(set(ids)) == len(ids)
    for spec in cells.CELLS.values():
        mine = [v for v in cells.VARIANTS if v.spec is spec]
        if spec.option is None:
            assert [v.options for v in mine] == [{}]
        else:
            assert [v.options[spec.option] for v in mine] == list(spec.choices)


@by_variant
def test_both_backends_expose_the_contract_with_the_same_signatures(v):
    """Every contract function exists in the NumPy and the torch module of the cell with the same
    parameter names, kinds and defaults, in the order of bpttlab.cells: data, state, params, then the
    option (the registry's, with its default) for the forward functions; (gradient, cache) for the backward ones."""
    spec = v.spec
    modules = {backend: spec.module(backend) for backend in BACKENDS}
    for name in CONTRACT:
        sigs = {b: inspect.signature(getattr(m, name)) for b, m in modules.items()}
        shapes = {b: [(q.name, q.kind, q.default) for q in s.parameters.values()] for b, s in sigs.items()}
        assert shapes["numpy"] == shapes["torch"], name
        params = list(sigs["numpy"].parameters.values())
        if name in ("step_forward", "forward", "states"):
            assert params[2].name == "params" and len(params) == 3 + (spec.option is not None), name
            if spec.option is not None:
                assert (params[3].name, params[3].default) == (spec.option, spec.default), name
        elif name in ("step_backward", "backward", "state_grads"):
            assert len(params) == 2 and params[1].name == "cache", name
        elif name == "state_at":
            assert [q.name for q in params] == ["cache", "t"]
        else:
            assert [q.name for q in params] == ["params", "B"]


# ----------------------------------------------------------------- tanh in saturation


def _ones(*shape):
    return np.ones(shape)


def _saturated_rnn(options):
    """RNN, a = W_xh x with x = 1: db_h of one step is tanh'(a)."""
    n = len(SATURATING)
    params = RNNParams(SATURATING[:, None].copy(), np.zeros((n, n)), np.zeros(n))
    mod = cells.CELLS["rnn"].numpy()
    hs, cache = mod.forward(_ones(1, 1, 1), np.zeros((1, n)), params, **options)
    _, _, seq_grads = mod.backward(_ones(1, 1, n), cache)
    h, step_cache = mod.step_forward(_ones(1, 1), np.zeros((1, n)), params, **options)
    _, _, step_grads = mod.step_backward(_ones(1, n), step_cache)
    return hs[0, 0], [seq_grads.db_h, step_grads.db_h]


def _saturated_lstm_candidate(options):
    """LSTM, the candidate g = tanh(a_g) with a_g = SATURATING, i = sigmoid(0) = 1/2 exactly; from dc_t = 1,
    the g block of db is i tanh'(a_g) = tanh'(a_g) / 2."""
    n = len(SATURATING)
    W_x = np.zeros((4 * n, 1))
    W_x[2 * n : 3 * n, 0] = SATURATING
    params = LSTMParams(W_x, np.zeros((4 * n, n)), np.zeros(4 * n))
    mod = cells.CELLS["lstm"].numpy()
    zero = np.zeros((1, n))
    out, cache = mod.step_forward(_ones(1, 1), LSTMState(zero, zero.copy()), params)
    _, _, grads = mod.step_backward(LSTMStateGrads(zero.copy(), _ones(1, n)), cache)
    g = cache.gates[0, 2 * n : 3 * n]
    return g, [2.0 * grads.db[2 * n : 3 * n]]


def _saturated_lstm_cell_output(options):
    """LSTM, h = o tanh(c) with c = c_prev = SATURATING (f = sigmoid(50) = 1, i = sigmoid(-50) = 0, exactly),
    o = 1/2: from dh_t = 1, dc_prev = o tanh'(c) = tanh'(c) / 2 (sequence and step backward)."""
    n = len(SATURATING)
    b = np.zeros(4 * n)
    b[:n], b[n : 2 * n] = -50.0, 50.0
    params = LSTMParams(np.zeros((4 * n, 1)), np.zeros((4 * n, n)), b)
    mod = cells.CELLS["lstm"].numpy()
    state0 = LSTMState(np.zeros((1, n)), SATURATING[None].copy())
    hs, cache = mod.forward(_ones(1, 1, 1), state0, params)
    assert np.array_equal(cache.cs[0, 0], SATURATING)  # the cell state passed through unchanged
    _, dstate0, _ = mod.backward(_ones(1, 1, n), cache)
    out, step_cache = mod.step_forward(_ones(1, 1), state0, params)
    _, dprev, _ = mod.step_backward(LSTMStateGrads(_ones(1, n), np.zeros((1, n))), step_cache)
    return np.tanh(cache.cs[0, 0]), [2.0 * dstate0.dc[0], 2.0 * dprev.dc[0]]


def _saturated_gru(options):
    """GRU, h = n = tanh(a_n) with a_n = SATURATING (z = sigmoid(-50) = 0 exactly, h_prev = 0): the n block
    of db_x is tanh'(a_n)."""
    n = len(SATURATING)
    W_x = np.zeros((3 * n, 1))
    W_x[2 * n :, 0] = SATURATING
    b_x = np.zeros(3 * n)
    b_x[n : 2 * n] = -50.0
    params = GRUParams(W_x, np.zeros((3 * n, n)), b_x, np.zeros(3 * n))
    mod = cells.CELLS["gru"].numpy()
    hs, cache = mod.forward(_ones(1, 1, 1), np.zeros((1, n)), params, **options)
    _, _, seq_grads = mod.backward(_ones(1, 1, n), cache)
    h, step_cache = mod.step_forward(_ones(1, 1), np.zeros((1, n)), params, **options)
    _, _, step_grads = mod.step_backward(_ones(1, n), step_cache)
    return cache.n[0, 0], [seq_grads.db_x[2 * n :], step_grads.db_x[2 * n :]]


SATURATED = {  # case -> (the variant whose tanh it drives into saturation, builder, options)
    "rnn-tanh": ("rnn-tanh", _saturated_rnn, {"activation": "tanh"}),
    "lstm candidate g": ("lstm", _saturated_lstm_candidate, {}),
    "lstm cell output tanh(c)": ("lstm", _saturated_lstm_cell_output, {}),
    "gru-torch candidate n": ("gru-torch", _saturated_gru, {"variant": "torch"}),
    "gru-cho candidate n": ("gru-cho", _saturated_gru, {"variant": "cho"}),
}


@pytest.mark.parametrize("case", list(SATURATED), ids=list(SATURATED))
def test_tanh_derivative_is_exact_in_saturation(case):
    """At pre-activations 0.5 .. 18 the derivative the backward pass uses is the exact 1 - y^2 (computed
    with fractions, rounded once) to 0 error, and it is bit for bit activations.tanh_grad(y); the naive
    1 - y*y, which cancels, would be wrong there (a check of the check)."""
    _, build, options = SATURATED[case]
    y, derivatives = build(options)
    exact = exact_one_minus_square(y)
    assert np.abs(y[2:]).min() > 0.9999997  # |a| >= 8: deep saturation
    for d in derivatives:
        assert np.array_equal(d, tanh_grad(y)), case  # the cell uses the factored form
        assert np.array_equal(d, exact), f"{case}: max rel error {np.max(np.abs(d / exact - 1)):.1e}"
    assert not np.array_equal(1.0 - y * y, exact)


def test_factored_derivatives_are_within_one_rounding_of_exact():
    """tanh_grad = (1 - y)(1 + y) is within one rounding (2^-52 relative) of the exact 1 - y^2 over
    a in [8, 18], where 1 - y*y is off by up to 1e-10; sigmoid_grad = y (1 - y) likewise."""
    y = np.tanh(np.linspace(8.0, 18.0, 401))
    exact = exact_one_minus_square(y)
    assert np.max(np.abs(tanh_grad(y) / exact - 1)) <= 2.0**-52
    assert np.max(np.abs((1.0 - y * y) / exact - 1)) > 1e-12
    s = sigmoid(np.linspace(-18.0, 18.0, 401))
    exact_s = np.array([float(Fraction(float(v)) * (1 - Fraction(float(v)))) for v in s])
    assert np.max(np.abs(sigmoid_grad(s) / exact_s - 1)) <= 2.0**-52


DERIVATIVES = ("tanh_grad", "sigmoid_grad", "activation_grad")


def spy_on_derivatives(monkeypatch, module) -> Counter:
    """Count the calls of activations' derivative functions, from the cell module and from inside activations."""
    calls: Counter = Counter()
    for name in DERIVATIVES:
        original = getattr(activations, name)

        def wrapper(*args, _name=name, _f=original, **kwargs):
            calls[_name] += 1
            return _f(*args, **kwargs)

        monkeypatch.setattr(activations, name, wrapper)
        for attr, value in list(vars(module).items()):
            if value is original:
                monkeypatch.setattr(module, attr, wrapper)
    return calls


@by_variant
def test_each_numpy_backward_takes_its_derivatives_from_the_activations_module(v, monkeypatch):
    """backward, step_backward and state_grads of every NumPy cell call bpttlab.numpy.activations for their
    derivatives (so the factored forms above are what they use); every variant that calls tanh_grad has a
    saturation case in SATURATED."""
    p = make_cell_problem(v, 9, SMALL)
    mod = v.spec.numpy()
    _, cache = mod.forward(p.x, p.state0, p.params, **p.options)
    out, step_cache = mod.step_forward(p.x[0], p.state0, p.params, **p.options)
    calls = spy_on_derivatives(monkeypatch, mod)
    used = {}
    for name, call in (
        ("backward", lambda: mod.backward(p.dhs, cache)),
        (
            "step_backward",
            lambda: mod.step_backward(with_direct_dh(v.spec, zeros_dstate(v.spec, out), p.dhs[0]), step_cache),
        ),
        ("state_grads", lambda: mod.state_grads(p.dhs, cache)),
    ):
        calls.clear()
        call()
        assert sum(calls.values()) > 0, f"{v.id} {name} computes no derivative through bpttlab.numpy.activations"
        used[name] = set(calls)
    assert used["backward"] == used["step_backward"] == used["state_grads"]
    covered = {variant_id for variant_id, _, _ in SATURATED.values()}
    assert ("tanh_grad" in used["backward"]) == (v.id in covered), f"{v.id}: a tanh without a saturation case"


# ----------------------------------------------------------------- bad input, both backends


def _other_params(spec, params):
    other = cells.CELLS["lstm" if spec.name != "lstm" else "gru"]
    return other.params(*(list(params) + list(params))[: len(other.fields)])


def _bad_cases(spec):
    """name -> (mutate(x, state0, params) -> args of forward, exception type, message start)."""
    w_h = next(f for f, axes in spec.fields.items() if axes == ("G", "H"))
    b = next(f for f, axes in spec.fields.items() if axes == ("G",))
    s0 = "state0" if spec.state else "h0"
    first = f"{s0}.h" if spec.state else s0

    def short(params, field):
        return params._replace(**{field: getattr(params, field)[:-1]})

    def nan_at(x, t):
        y = x.clone() if isinstance(x, torch.Tensor) else x.copy()
        y[t, 0, 0] = float("nan")
        return y

    def first_part(state, fn):
        parts = state_parts(spec, state)
        return make_state(spec, [fn(parts[0]), *parts[1:]])

    def float32(params, field):
        a = getattr(params, field)
        return params._replace(**{field: a.float() if isinstance(a, torch.Tensor) else a.astype(np.float32)})

    return {
        "x rank 2": (lambda x, s, q: (x[0], s, q), ValueError, r"x: expected 3 axes \(T, B, D\), got 2 axes"),
        "T = 0": (lambda x, s, q: (x[:0], s, q), ValueError, r"x: every axis of \(T, B, D\) must be at least 1"),
        "NaN in x": (
            lambda x, s, q: (nan_at(x, 2), s, q),
            FloatingPointError,
            r"x: non-finite value \(NaN or inf\) at time step 2",
        ),
        "D mismatch": (
            lambda x, s, q: (x[..., :2], s, q),
            ValueError,
            r"params\.\w+: expected shape .* with D = 2 \(from x\)",
        ),
        f"{w_h} short": (lambda x, s, q: (x, s, short(q, w_h)), ValueError, rf"params\.{w_h}: expected shape"),
        f"{b} short": (lambda x, s, q: (x, s, short(q, b)), ValueError, rf"params\.{b}: expected shape"),
        f"{b} float32": (
            lambda x, s, q: (x, s, float32(q, b)),
            TypeError,
            rf"params\.{b}: expected dtype .*float64 \(the dtype of x\)",
        ),
        "state wrong batch": (
            lambda x, s, q: (x, first_part(s, lambda a: a[:1]), q),
            ValueError,
            rf"{re.escape(first)}: expected shape \(B, H\) = \(2, 5\), got \(1, 5\)",
        ),
        "params of another cell": (
            lambda x, s, q: (x, s, _other_params(spec, q)),
            TypeError,
            rf"params: expected {spec.params.__name__}, got",
        ),
    }


@by_variant
def test_bad_input_fails_the_same_way_on_both_backends(v):
    """Each bad argument of forward raises the same exception on both backends, with the same message
    (up to the 'torch.' of dtype names), naming the argument, what it got and what was expected."""
    p = make_cell_problem(v, 7, SMALL)
    cases = _bad_cases(v.spec)
    for name, (mutate, error, match) in cases.items():
        messages = {}
        for backend in BACKENDS:
            mod = v.spec.module(backend)
            x, state0, params, _ = on_backend(p, backend)
            with pytest.raises(error, match="^" + match) as info:
                mod.forward(*mutate(x, state0, params), **p.options)
            messages[backend] = str(info.value).replace("torch.", "")
        assert messages["numpy"] == messages["torch"], name
    # the backward functions check their upstream gradient in the same way
    for backend in BACKENDS:
        mod = v.spec.module(backend)
        x, state0, params, dhs = on_backend(p, backend)
        _, cache = mod.forward(x, state0, params, **p.options)
        with pytest.raises(ValueError, match=r"^dhs: expected shape \(T, B, H\) = \(4, 2, 5\), got \(3, 2, 5\)"):
            mod.backward(dhs[:3], cache)
        bad = torch.tensor(with_value(p.dhs, (1, 0, 0))) if backend == "torch" else with_value(p.dhs, (1, 0, 0))
        with pytest.raises(FloatingPointError, match=r"^dhs: non-finite value \(NaN or inf\) at time step 1"):
            mod.backward(bad, cache)
        if v.spec.option is not None:
            expected = re.escape(f"{v.spec.option}: expected one of {list(v.spec.choices)}, got 'nope'")
            with pytest.raises(ValueError, match="^" + expected):
                mod.forward(x, state0, params, **{v.spec.option: "nope"})
