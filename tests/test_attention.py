"""The causal self-attention layer: NumPy by hand against its torch twin, finite differences,
causality, order awareness from the positional encoding, float32, the task loss, training, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support import TOL_FD, TOL_FLOAT32, TOL_SAME, TOL_TORCH, record, seeds, with_value

from bpttlab import cost, numerical_gradient, rel_error, tasks
from bpttlab.numpy import attention as na
from bpttlab.torch import attention as ta
from bpttlab.torch import to_torch


def _problem(seed: int, T: int, B: int, D: int, H: int, O: int, dtype=np.float64):
    """Parameters with non-zero biases, inputs and an upstream gradient dys, from one seed."""
    rng = np.random.default_rng(seed)
    p = na.init_attention(D, H, O, rng)
    p = p._replace(b_e=0.3 * rng.standard_normal(H), b_y=0.3 * rng.standard_normal(O))
    x = rng.standard_normal((T, B, D))
    dys = rng.standard_normal((T, B, O))
    p = na.AttentionParams(*(a.astype(dtype) for a in p))
    return x.astype(dtype), p, dys.astype(dtype)


def _torch_grads(x, p, dys, positional=True):
    xt = torch.tensor(x, requires_grad=True)
    pt = to_torch(p, requires_grad=True)
    ys, _ = ta.forward(xt, pt, positional)
    grads = torch.autograd.grad((ys * torch.tensor(dys)).sum(), [xt, *pt])
    return ys.detach().numpy(), [g.numpy() for g in grads]


sizes = st.tuples(st.integers(1, 12), st.integers(1, 3), st.integers(1, 5), st.integers(1, 7), st.integers(1, 3))


@settings(deadline=None, max_examples=25)
@given(seed=seeds, size=sizes, positional=st.booleans())
@example(seed=0, size=(1, 1, 1, 1, 1), positional=True)
@example(seed=1, size=(1, 3, 2, 4, 2), positional=False)
def test_numpy_equals_torch_in_float64(seed, size, positional):
    x, p, dys = _problem(seed, *size)
    ys, cache = na.forward(x, p, positional)
    dx, grads = na.backward(dys, cache)
    ys_t, grads_t = _torch_grads(x, p, dys, positional)
    assert record("attention: forward", ys, ys_t) < TOL_TORCH
    for name, ours, theirs in zip(["dx", *na.AttentionGrads._fields], [dx, *grads], grads_t):
        assert record("attention: gradients", ours, theirs) < TOL_TORCH, name


def test_numpy_equals_torch_at_a_long_sequence():
    x, p, dys = _problem(3, 200, 2, 3, 8, 2)
    ys, cache = na.forward(x, p)
    dx, grads = na.backward(dys, cache)
    ys_t, grads_t = _torch_grads(x, p, dys)
    assert rel_error(ys, ys_t) < TOL_TORCH
    for ours, theirs in zip([dx, *grads], grads_t):
        assert rel_error(ours, theirs) < TOL_TORCH


@pytest.mark.parametrize("positional", [True, False])
@pytest.mark.parametrize("size", [(1, 2, 2, 3, 2), (5, 2, 3, 4, 2), (6, 1, 2, 5, 1)], ids=str)
def test_finite_differences_of_every_parameter_and_the_input(size, positional):
    x, p, dys = _problem(sum(size), *size)
    _, cache = na.forward(x, p, positional)
    dx, grads = na.backward(dys, cache)
    for name, arr, analytic in zip(["x", *p._fields], [x, *p], [dx, *grads]):
        numeric = numerical_gradient(lambda: na.forward(x, p, positional)[0], arr, dys)
        assert rel_error(analytic, numeric) < TOL_FD, name


def test_the_weights_are_causal_and_sum_to_one():
    x, p, _ = _problem(4, 9, 3, 2, 5, 2)
    _, cache = na.forward(x, p)
    A = cache.A
    assert A.shape == (3, 9, 9)
    assert np.all(A[:, np.triu_indices(9, 1)[0], np.triu_indices(9, 1)[1]] == 0.0)
    assert np.all(A[:, np.tril_indices(9)[0], np.tril_indices(9)[1]] > 0.0)
    assert np.max(np.abs(A.sum(axis=-1) - 1.0)) < TOL_SAME
    assert np.all(A[:, 0, 0] == 1.0)  # the first step can only look at itself


@pytest.mark.parametrize("u", [0, 3, 7])
def test_changing_x_at_step_u_changes_no_earlier_output_exactly(u):
    x, p, _ = _problem(5, 8, 2, 3, 6, 2)
    ys, _ = na.forward(x, p)
    x2 = x.copy()
    x2[u] += 1.0
    ys2, _ = na.forward(x2, p)
    assert np.array_equal(ys[:u], ys2[:u])  # bit for bit: the future gets weight exactly 0
    assert np.max(np.abs(ys2[u] - ys[u])) > 1e-3
    # and no gradient flows from a step's output to a later input
    dys = np.zeros_like(ys)
    dys[u] = 1.0
    dx, _ = na.backward(dys, na.forward(x, p)[1])
    assert np.all(dx[u + 1 :] == 0.0)
    assert np.all(np.abs(dx[: u + 1]).sum(axis=(1, 2)) > 0)


def test_positional_encoding_values_and_twin():
    P = na.positional_encoding(5, 4)
    assert P.shape == (5, 4)
    assert P[0, 0] == np.sin(1.0) and P[0, 1] == np.cos(1.0)
    assert P[2, 2] == np.sin(3.0 / 100.0) and P[2, 3] == np.cos(3.0 / 100.0)
    assert np.max(np.abs(np.linalg.norm(na.positional_encoding(50, 8), axis=1) - 2.0)) < TOL_SAME
    assert na.positional_encoding(3, 5, np.float32).dtype == np.float32
    for T, H in ((1, 1), (7, 5), (30, 16)):
        assert rel_error(na.positional_encoding(T, H), ta.positional_encoding(T, H).numpy()) < TOL_SAME


def test_the_positional_encoding_makes_the_layer_order_aware():
    # swap the inputs of steps 1 and 2: without p_t the last output is a sum over the same terms
    x, p, _ = _problem(6, 6, 2, 3, 6, 2)
    swapped = x.copy()
    swapped[[0, 1]] = x[[1, 0]]
    plain, _ = na.forward(x, p, positional=False)
    plain_swapped, _ = na.forward(swapped, p, positional=False)
    assert rel_error(plain[-1], plain_swapped[-1]) < TOL_SAME
    with_p, _ = na.forward(x, p)
    with_p_swapped, _ = na.forward(swapped, p)
    assert rel_error(with_p[-1], with_p_swapped[-1]) > 1e-3


def test_float32_runs_and_agrees_with_float64():
    x, p, dys = _problem(7, 10, 3, 2, 6, 2)
    x32, p32, dys32 = _problem(7, 10, 3, 2, 6, 2, np.float32)
    ys, cache = na.forward(x, p)
    ys32, cache32 = na.forward(x32, p32)
    assert ys32.dtype == np.float32 and cache32.A.dtype == np.float32
    assert rel_error(ys32, ys) < TOL_FLOAT32
    dx, grads = na.backward(dys, cache)
    dx32, grads32 = na.backward(dys32, cache32)
    for a32, a64 in zip([dx32, *grads32], [dx, *grads]):
        assert a32.dtype == np.float32
        assert rel_error(a32, a64) < TOL_FLOAT32
    ys_t, _ = ta.forward(torch.tensor(x32), to_torch(p32))
    assert ys_t.dtype == torch.float32
    assert rel_error(ys_t.numpy(), ys) < TOL_FLOAT32


def test_inputs_are_not_changed():
    x, p, dys = _problem(8, 5, 2, 2, 4, 2)
    copies = [a.copy() for a in (x, dys, *p)]
    _, cache = na.forward(x, p)
    na.backward(dys, cache)
    assert all(np.array_equal(a, b) for a, b in zip(copies, (x, dys, *p)))


def test_cache_bytes_are_exact():
    T, B, D, H, O = 11, 3, 2, 5, 4
    x, p, _ = _problem(9, T, B, D, H, O)
    _, cache = na.forward(x, p)
    params = H * D + H + 4 * H * H + O * H + O
    assert params == na.param_count(D, H, O)
    assert cost.cache_nbytes(cache) == 8 * (T * B * D + 6 * T * B * H + B * T * T + params)


def _task(name, T, B, rng):
    if name == "adding":
        return tasks.adding_problem(T, B, rng), 1
    if name == "copy":
        return tasks.copy_task(T - 4, B, rng, length=2, n_symbols=3), 5
    return tasks.temporal_order(T, B, rng), 4


@pytest.mark.parametrize("task", ["adding", "copy", "temporal"])
def test_task_loss_equals_torch(task):
    rng = np.random.default_rng(10)
    batch, O = _task(task, 12, 3, rng)
    p = na.init_attention(batch.x.shape[-1], 5, O, rng)
    value, grads = na.loss_and_grads(batch, p)
    pt = to_torch(p, requires_grad=True)
    bt = tasks.TaskBatch(*(torch.tensor(a) for a in batch[:3]), batch.loss)
    lt = ta.loss(bt, pt)
    assert abs(value - lt.item()) <= TOL_TORCH * abs(value)
    for ours, theirs in zip(grads, torch.autograd.grad(lt, list(pt))):
        assert rel_error(ours, theirs.numpy()) < TOL_TORCH
    ev_loss, acc = na.evaluate(p, batch)
    assert ev_loss == value and 0.0 <= acc <= 1.0


def test_training_lowers_the_loss_and_is_reproducible():
    def make(r):
        return tasks.copy_task(6, 8, r, length=2, n_symbols=3)

    rng = np.random.default_rng(0)
    p0 = na.init_attention(5, 8, 5, rng)
    p1, log = na.train(p0, make, 40, np.random.default_rng(1), lr=0.02, max_norm=1.0)
    p2, log2 = na.train(p0, make, 40, np.random.default_rng(1), lr=0.02, max_norm=1.0)
    assert log.loss.shape == (40,) and log.grad_norm.shape == (40,) and log.clipped.dtype == bool
    assert np.array_equal(log.loss, log2.loss) and all(np.array_equal(a, b) for a, b in zip(p1, p2))
    assert log.loss[-5:].mean() < 0.5 * log.loss[:5].mean()
    _, log_sgd = na.train(p0, make, 3, np.random.default_rng(1), lr=0.01, optimizer="sgd")
    assert np.all(np.isfinite(log_sgd.loss))


# ----------------------------------------------------------------- bad input


def test_bad_forward_input_is_named_on_both_backends():
    x, p, dys = _problem(11, 4, 2, 3, 5, 2)
    pt = to_torch(p)
    xt = torch.tensor(x)
    cases = [
        (TypeError, "^x: expected a", lambda: na.forward(x.tolist(), p), lambda: ta.forward(x, pt)),
        (
            TypeError,
            "^x: expected dtype",
            lambda: na.forward(x.astype(int), p),
            lambda: ta.forward(xt.to(torch.int64), pt),
        ),
        (ValueError, "^x: expected 3 axes", lambda: na.forward(x[0], p), lambda: ta.forward(xt[0], pt)),
        (
            FloatingPointError,
            "^x: .*time step 2",
            lambda: na.forward(with_value(x, (2, 1, 0)), p),
            lambda: ta.forward(torch.tensor(with_value(x, (2, 1, 0))), pt),
        ),
        (
            TypeError,
            "^params: expected AttentionParams",
            lambda: na.forward(x, tuple(p)),
            lambda: ta.forward(xt, tuple(pt)),
        ),
        (
            ValueError,
            r"^params\.W_xe: expected shape",
            lambda: na.forward(x, p._replace(W_xe=p.W_xe[:, :2])),
            lambda: ta.forward(xt, pt._replace(W_xe=pt.W_xe[:, :2])),
        ),
        (
            ValueError,
            r"^params\.W_k: expected shape",
            lambda: na.forward(x, p._replace(W_k=p.W_k[:4])),
            lambda: ta.forward(xt, pt._replace(W_k=pt.W_k[:4])),
        ),
        (
            ValueError,
            r"^params\.b_y: expected shape",
            lambda: na.forward(x, p._replace(b_y=p.b_y[:1])),
            lambda: ta.forward(xt, pt._replace(b_y=pt.b_y[:1])),
        ),
        (
            TypeError,
            r"^params\.W_o: expected dtype",
            lambda: na.forward(x, p._replace(W_o=p.W_o.astype(np.float32))),
            lambda: ta.forward(xt, pt._replace(W_o=pt.W_o.float())),
        ),
        (
            FloatingPointError,
            r"^params\.W_v",
            lambda: na.forward(x, p._replace(W_v=with_value(p.W_v, (0, 0)))),
            lambda: ta.forward(xt, pt._replace(W_v=torch.tensor(with_value(p.W_v, (0, 0))))),
        ),
        (TypeError, "^positional", lambda: na.forward(x, p, 1), lambda: ta.forward(xt, pt, 1)),
    ]
    for exc, match, numpy_call, torch_call in cases:
        with pytest.raises(exc, match=match):
            numpy_call()
        with pytest.raises(exc, match=match):
            torch_call()


def test_bad_backward_and_helper_input_is_named():
    x, p, dys = _problem(12, 4, 2, 3, 5, 2)
    _, cache = na.forward(x, p)
    with pytest.raises(TypeError, match="^cache"):
        na.backward(dys, tuple(cache))
    with pytest.raises(ValueError, match="^dys: expected shape"):
        na.backward(dys[:, :, :1], cache)
    with pytest.raises(TypeError, match="^dys: expected dtype"):
        na.backward(dys.astype(np.float32), cache)
    with pytest.raises(FloatingPointError, match="^dys: .*time step 3"):
        na.backward(with_value(dys, (3, 0, 1)), cache)
    with pytest.raises(ValueError, match="^T"):
        na.positional_encoding(0, 4)
    with pytest.raises(TypeError, match="^dtype"):
        na.positional_encoding(3, 4, np.int64)
    with pytest.raises(TypeError, match="^dtype"):
        ta.positional_encoding(3, 4, torch.int64)
    with pytest.raises(TypeError, match="^rng"):
        na.init_attention(2, 3, 1, 0)
    with pytest.raises(ValueError, match="^H"):
        na.init_attention(2, 0, 1, np.random.default_rng(0))
    with pytest.raises(TypeError, match="^O"):
        na.param_count(2, 3, 1.5)


def test_bad_task_and_training_input_is_named():
    rng = np.random.default_rng(13)
    batch = tasks.adding_problem(6, 2, rng)
    p = na.init_attention(2, 4, 1, rng)
    with pytest.raises(TypeError, match="^batch: expected a bpttlab.tasks.TaskBatch"):
        na.loss_and_grads((batch.x, batch.y), p)
    with pytest.raises(ValueError, match=r"^params\.W_xe"):
        na.loss_and_grads(batch, na.init_attention(3, 4, 1, rng))
    with pytest.raises(ValueError, match=r"^batch\.y: expected O = 2"):
        na.loss_and_grads(batch, na.init_attention(2, 4, 2, rng))
    order = tasks.temporal_order(12, 2, rng)
    order = order._replace(y=np.where(order.mask > 0, 3, 0))
    with pytest.raises(ValueError, match=r"^batch\.y: expected class labels in \[0, 2\]"):
        na.loss_and_grads(order, na.init_attention(6, 4, 3, rng))
    with pytest.raises(ValueError, match="^tolerance"):
        na.evaluate(p, batch, tolerance=0.0)
    with pytest.raises(TypeError, match="^make_batch"):
        na.train(p, batch, 2, rng)
    with pytest.raises(ValueError, match="^steps"):
        na.train(p, lambda r: batch, 0, rng)
    with pytest.raises(ValueError, match="^optimizer"):
        na.train(p, lambda r: batch, 2, rng, optimizer="adagrad")
    with pytest.raises(ValueError, match="^max_norm"):
        na.train(p, lambda r: batch, 2, rng, max_norm=-1.0)
    with pytest.raises(TypeError, match=r"^make_batch\(rng\).*training step 0"):
        na.train(p, lambda r: (batch.x, batch.y), 2, rng)
    with pytest.raises(TypeError, match="^batch"):
        ta.loss(batch.x, to_torch(p))
