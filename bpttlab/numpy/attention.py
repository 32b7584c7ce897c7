"""One causal self-attention layer (a single head) with a per-step readout, backward pass by hand.

The layer reads the whole sequence x (T, B, D), time first like the cells, and answers at every
step. Step t (1-based in the maths, index t - 1 in the arrays) sees the inputs x_1 .. x_t only:

    e_t    = W_xe x_t + b_e + p_t                       input projection plus position, (B, H)
    Q_t    = W_q e_t,  K_j = W_k e_j,  V_j = W_v e_j    query, keys, values, (B, H) each
    S_tj   = Q_t . K_j / sqrt(H)  for j <= t,  -inf for j > t          (causal mask)
    A_tj   = exp(S_tj) / sum_r exp(S_tr)                attention weights, each row sums to 1
    U_t    = sum_j A_tj V_j                             what step t reads from the past, (B, H)
    h_t    = e_t + W_o U_t                              residual, (B, H)
    y_t    = W_hy h_t + b_y                             readout, (B, O)

p_t is the fixed sinusoidal encoding of position t (``positional_encoding``); without it
(``positional=False``) the layer cannot tell the order of its inputs. H is the model's width
(the hidden size of the notation table). ``bpttlab.torch.attention`` is the autograd twin.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from bpttlab._checks import (
    check_attention_params,
    check_bool,
    check_callable,
    check_choice,
    check_dtype_arg,
    check_finite,
    check_float_array,
    check_generator,
    check_number,
    check_optional,
    check_positive_int,
    check_same_dtype,
    check_shape,
    check_type,
)
from bpttlab.clip import clip_by_global_norm, global_norm
from bpttlab.init import gaussian
from bpttlab.numpy.seq import masked_loss
from bpttlab.optim import adam_init, adam_step, sgd_step
from bpttlab.params import ATTENTION_DIMS as FIELD_DIMS
from bpttlab.params import AttentionGrads, AttentionParams
from bpttlab.seqmodel import TrainLog
from bpttlab.tasks import ADDING_TOLERANCE, TaskBatch, accuracy, check_task_batch

__all__ = [
    "AttentionCache",
    "AttentionGrads",
    "AttentionParams",
    "FIELD_DIMS",
    "backward",
    "evaluate",
    "forward",
    "init_attention",
    "loss_and_grads",
    "param_count",
    "positional_encoding",
    "train",
]


class AttentionCache(NamedTuple):
    """What backward needs. x (T, B, D); e, Q, K, V, U, hs (T, B, H); A (B, T, T), the attention
    weights of every sequence (row t: the weights step t gives to steps 1 .. T, zero past t)."""

    x: np.ndarray
    e: np.ndarray
    Q: np.ndarray
    K: np.ndarray
    V: np.ndarray
    A: np.ndarray
    U: np.ndarray
    hs: np.ndarray
    params: AttentionParams


def positional_encoding(T: int, H: int, dtype: object = np.float64) -> np.ndarray:
    """The fixed sinusoidal encoding (Vaswani et al. 2017) of positions t = 1 .. T: P (T, H) with

    P[t - 1, 2i] = sin(t / 10000^(2i / H)),  P[t - 1, 2i + 1] = cos(t / 10000^(2i / H)).

    Every row has norm sqrt(H / 2) for even H; the rows of nearby positions are close, those of
    distant positions are not. Computed in float64 and cast to ``dtype``.
    """
    T, H = check_positive_int("T", T), check_positive_int("H", H)
    dtype = check_dtype_arg("dtype", dtype)
    t = np.arange(1, T + 1, dtype=np.float64)[:, None]
    freq = 10000.0 ** (-(np.arange(H) // 2) * 2.0 / H)
    angle = t * freq
    P = np.where(np.arange(H) % 2 == 0, np.sin(angle), np.cos(angle))
    return P.astype(dtype)


def init_attention(D: int, H: int, O: int, rng: np.random.Generator, dtype: object = np.float64) -> AttentionParams:
    """Scaled normal entries as in ``bpttlab.init`` (``gaussian``): W_xe ~ N(0, 1/D) (the LSTM's and GRU's
    input family), W_q, W_k, W_v, W_o and W_hy ~ N(0, 1/H), zero biases."""
    D, H, O = (check_positive_int(n, v) for n, v in (("D", D), ("H", H), ("O", O)))
    check_generator("rng", rng)
    dtype = check_dtype_arg("dtype", dtype)
    W_xe = gaussian(rng, (H, D), D, dtype)
    W_q, W_k, W_v, W_o = (gaussian(rng, (H, H), H, dtype) for _ in range(4))
    W_hy = gaussian(rng, (O, H), H, dtype)
    return AttentionParams(W_xe, np.zeros(H, dtype), W_q, W_k, W_v, W_o, W_hy, np.zeros(O, dtype))


def param_count(D: int, H: int, O: int) -> int:
    """Number of parameters: H D + H + 4 H^2 + O H + O."""
    D, H, O = (check_positive_int(n, v) for n, v in (("D", D), ("H", H), ("O", O)))
    return H * D + H + 4 * H * H + O * H + O


def _check_x(x: Any) -> None:
    check_float_array("x", x, ("T", "B", "D"))
    check_finite("x", x, time_axis=0)


def _causal_mask(T: int) -> np.ndarray:
    """(T, T) bool: True where step t may look at step j (j <= t)."""
    return np.tril(np.ones((T, T), dtype=bool))


def _lin(a: np.ndarray, W: np.ndarray) -> np.ndarray:
    """a (T, B, n) times W^T (m, n) -> (T, B, m), as one 2-D product."""
    T, B, n = a.shape
    return (a.reshape(T * B, n) @ W.T).reshape(T, B, W.shape[0])


def _outer(d: np.ndarray, a: np.ndarray) -> np.ndarray:
    """sum over t, b of d_tb a_tb^T: d (T, B, m), a (T, B, n) -> (m, n)."""
    return d.reshape(-1, d.shape[-1]).T @ a.reshape(-1, a.shape[-1])


def _batch_first(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(1, 0, 2))


def _time_first(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(1, 0, 2))


def forward(x: np.ndarray, params: AttentionParams, positional: bool = True) -> tuple[np.ndarray, AttentionCache]:
    """The layer and its readout at every step.  x (T, B, D) -> ys (T, B, O), cache.

    positional: add the sinusoidal encoding p_t to e_t (True) or not (False).
    """
    _check_x(x)
    positional = check_bool("positional", positional)
    H, _ = check_attention_params(params, x.shape[-1], x.dtype)
    T, B, D = x.shape
    e = _lin(x, params.W_xe) + params.b_e
    if positional:
        e = e + positional_encoding(T, H, x.dtype)[:, None, :]
    Q, K, V = _lin(e, params.W_q), _lin(e, params.W_k), _lin(e, params.W_v)
    # batch first for the (T, T) products: (B, T, H), contiguous so that matmul reaches BLAS
    Qb, Kb, Vb = (_batch_first(a) for a in (Q, K, V))
    S = (Qb @ Kb.transpose(0, 2, 1)) * (1.0 / math.sqrt(H))  # a Python float keeps float32 float32
    S = np.where(_causal_mask(T), S, -np.inf)
    S -= S.max(axis=-1, keepdims=True)  # the diagonal is always allowed, so every row max is finite
    A = np.exp(S)
    A /= A.sum(axis=-1, keepdims=True)
    U = _time_first(A @ Vb)
    hs = e + _lin(U, params.W_o)
    ys = _lin(hs, params.W_hy) + params.b_y
    check_finite("ys", ys, time_axis=0)
    return ys, AttentionCache(x, e, Q, K, V, A, U, hs, params)


def backward(dys: np.ndarray, cache: AttentionCache) -> tuple[np.ndarray, AttentionGrads]:
    """Gradients by hand.  dys (T, B, O) = dL/dys -> dx (T, B, D), AttentionGrads.

    Softmax backward per row: dS_tj = A_tj (dA_tj - sum_r A_tr dA_tr), which is zero where the
    mask made A_tj = 0; the 1/sqrt(H) of the scores scales both dQ and dK.
    """
    check_type("cache", cache, AttentionCache, "the AttentionCache of forward")
    x, e, Q, K, V, A, U, hs, p = cache
    T, B, _ = x.shape
    H, O = p.W_q.shape[0], p.W_hy.shape[0]
    check_float_array("dys", dys, ("T", "B", "O"))
    check_shape("dys", dys, (T, B, O), ("T", "B", "O"))
    check_same_dtype("dys", dys, "the forward pass", x.dtype)
    check_finite("dys", dys, time_axis=0)
    # readout y_t = W_hy h_t + b_y
    dW_hy, db_y = _outer(dys, hs), dys.sum(axis=(0, 1))
    dh = _lin(dys, p.W_hy.T)
    # residual h_t = e_t + W_o U_t
    de = dh.copy()
    dW_o = _outer(dh, U)
    dU = _batch_first(_lin(dh, p.W_o.T))  # (B, T, H)
    # U_t = sum_j A_tj V_j
    dA = dU @ _batch_first(V).transpose(0, 2, 1)  # (B, T, T)
    dV = _time_first(A.transpose(0, 2, 1) @ dU)
    # softmax over each row (masked entries have A = 0, hence dS = 0)
    dS = A * (dA - (A * dA).sum(axis=-1, keepdims=True))
    # S_tj = Q_t . K_j / sqrt(H): the scale reaches both sides
    scale = 1.0 / math.sqrt(H)
    dQ = _time_first(dS @ _batch_first(K)) * scale
    dK = _time_first(dS.transpose(0, 2, 1) @ _batch_first(Q)) * scale
    # Q = W_q e, K = W_k e, V = W_v e
    dW_q, dW_k, dW_v = (_outer(d, e) for d in (dQ, dK, dV))
    de += _lin(dQ, p.W_q.T) + _lin(dK, p.W_k.T) + _lin(dV, p.W_v.T)
    # e_t = W_xe x_t + b_e + p_t (p_t is fixed)
    dW_xe, db_e = _outer(de, x), de.sum(axis=(0, 1))
    dx = _lin(de, p.W_xe.T)
    return dx, AttentionGrads(dW_xe, db_e, dW_q, dW_k, dW_v, dW_o, dW_hy, db_y)


# ----------------------------------------------------------------- the task batches of bpttlab.tasks


def _check_batch(batch: Any, params: AttentionParams, name: str = "batch") -> None:
    check_task_batch(batch, name)
    H, O = check_attention_params(params, batch.x.shape[-1], batch.x.dtype)
    if batch.loss == "mse" and batch.y.shape[-1] != O:
        raise ValueError(
            f"{name}.y: expected O = {O} outputs (from params.W_hy) on its last axis, got shape {tuple(batch.y.shape)}"
        )
    if batch.loss == "xent" and int(batch.y.max()) >= O:
        raise ValueError(
            f"{name}.y: expected class labels in [0, {O - 1}] (O = {O} from params.W_hy), "
            f"got labels up to {int(batch.y.max())}"
        )


def loss_and_grads(batch: TaskBatch, params: AttentionParams, positional: bool = True) -> tuple[float, AttentionGrads]:
    """The masked loss of ``bpttlab.numpy.seq.masked_loss`` over a task batch and its exact gradient.

    batch: a bpttlab.tasks.TaskBatch ("mse" or "xent"); the loss is summed over the steps where
    batch.mask > 0 and divided by the sum of the mask, as for the recurrent models.
    """
    _check_batch(batch, params)
    ys, cache = forward(batch.x, params, positional)
    value, dys = masked_loss(ys, batch.y, batch.mask, batch.loss)
    _, grads = backward(dys, cache)
    return value, grads


def evaluate(
    params: AttentionParams, batch: TaskBatch, positional: bool = True, tolerance: float = ADDING_TOLERANCE
) -> tuple[float, float]:
    """(loss, accuracy) on ``batch``; accuracy as ``bpttlab.tasks.accuracy`` scores it."""
    _check_batch(batch, params)
    check_number("tolerance", tolerance, positive=True)
    ys, _ = forward(batch.x, params, positional)
    value, _ = masked_loss(ys, batch.y, batch.mask, batch.loss)
    return value, accuracy(ys, batch, tolerance)


def train(
    params: AttentionParams,
    make_batch: Callable[[np.random.Generator], TaskBatch],
    steps: int,
    rng: np.random.Generator,
    *,
    lr: float = 1e-2,
    optimizer: str = "adam",
    max_norm: float | None = None,
    positional: bool = True,
) -> tuple[AttentionParams, TrainLog]:
    """Train on ``steps`` batches drawn by ``make_batch(rng)``, one update per batch; returns (params, log).

    The same update rules as ``bpttlab.numpy.train.train`` (``bpttlab.optim``'s Adam or SGD,
    optional clipping by global norm, a clear error when the loss or gradient becomes non-finite).
    The layer sees the whole sequence at once, so there is no truncation.
    """
    check_attention_params(params, None, None)
    check_callable("make_batch", make_batch, "a function rng -> TaskBatch")
    steps = check_positive_int("steps", steps)
    check_generator("rng", rng)
    lr = check_number("lr", lr, positive=True)
    check_choice("optimizer", optimizer, ("adam", "sgd"))
    check_optional(check_number, "max_norm", max_norm, positive=True)
    positional = check_bool("positional", positional)
    state = adam_init(params) if optimizer == "adam" else None
    losses, norms, clipped = [], [], []
    for i in range(steps):
        batch = make_batch(rng)
        try:
            _check_batch(batch, params, "make_batch(rng)")
        except (TypeError, ValueError, FloatingPointError) as err:
            raise type(err)(f"{err} (the batch of training step {i})") from None
        try:
            value, grads = loss_and_grads(batch, params, positional)
            norm = global_norm(grads)
        except FloatingPointError as err:
            raise FloatingPointError(
                f"training diverged at training step {i}: {err}; lower the learning rate or clip the gradient"
            ) from err
        if not np.isfinite(value):
            raise FloatingPointError(f"loss became non-finite at training step {i}; lower the learning rate")
        if max_norm is not None:
            grads, _ = clip_by_global_norm(grads, max_norm, step=i)
        clipped.append(max_norm is not None and norm > max_norm)
        if optimizer == "adam":
            assert state is not None  # adam_init(params) above, for optimizer "adam"
            params, state = adam_step(params, grads, state, lr=lr)
        else:
            params = sgd_step(params, grads, lr=lr)
        losses.append(value)
        norms.append(norm)
    loss = np.array(losses)
    return params, TrainLog(loss, loss.copy(), np.array(norms), np.array(clipped, dtype=bool))
