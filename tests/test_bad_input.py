"""Bad input: each case raises the right exception with a message naming the argument and what was expected."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
import torch

from bpttlab import directional_check, numerical_gradient, rel_error
from bpttlab.init import init_mlp, init_readout, init_rnn
from bpttlab.numpy import layers, mlp, rnn
from bpttlab.optim import adam_init, adam_step, sgd_step
from bpttlab.params import MLPParams, RNNGrads
from bpttlab.tasks import noisy_sine
from bpttlab.torch import rnn as trnn
from bpttlab.torch import to_torch
from support import Dims, make_problem

P = make_problem(0, Dims(T=3, B=2, D=4, H=5, O=2))
X, H0, W, R = P.x, P.h0, P.params, P.readout


def put(a, index, value=np.nan):
    """A copy of ``a`` with ``a[index] = value``."""
    b = a.copy()
    b[index] = value
    return b


def fwd(x=X, h0=H0, params=W, activation="tanh"):
    return rnn.forward(x, h0, params, activation)


def step(x_t=X[0], h_prev=H0, params=W):
    return rnn.step_forward(x_t, h_prev, params)


def bwd(dhs):
    return rnn.backward(dhs, fwd()[1])


def quiet(f, **kwargs):
    """Call f without numpy's overflow warning (the overflow itself is what is being tested)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return f(**kwargs)


def loss(reduction="mean", targets=P.targets):
    return rnn.mse_loss_and_grads(X, targets, H0, W, R, reduction)


class OtherGrads(NamedTuple):
    """A gradient container with RNNGrads' length but the wrong field names."""

    dA: np.ndarray
    dB: np.ndarray
    dC: np.ndarray


RNN_CASES = {
    # ranks
    "x rank 2": (lambda: fwd(x=X[0]), ValueError, r"^x: expected 3 axes \(T, B, D\), got 2 axes"),
    "x rank 4": (lambda: fwd(x=X[None]), ValueError, r"^x: expected 3 axes \(T, B, D\), got 4 axes"),
    "h0 rank 3": (lambda: fwd(h0=H0[None]), ValueError, r"^h0: expected 2 axes \(B, H\), got 3 axes"),
    "W_xh rank 1": (lambda: fwd(params=W._replace(W_xh=W.W_xh[0])), ValueError,
                    r"^params\.W_xh: expected 2 axes \(H, D\), got 1 axes"),
    "b_h rank 2": (lambda: fwd(params=W._replace(b_h=W.b_h[None])), ValueError,
                   r"^params\.b_h: expected 1 axes \(H,\), got 2 axes"),
    # sizes
    "D of x vs W_xh": (lambda: fwd(x=X[..., :3]), ValueError,
                       r"^params\.W_xh: expected shape \(H, D\) with D = 3 \(from x\), got \(5, 4\)"),
    "H of h0 vs W_hh": (lambda: fwd(h0=H0[:, :4]), ValueError,
                        r"^h0: expected shape \(B, H\) = \(2, 5\), got \(2, 4\)"),
    "B of h0 vs x": (lambda: fwd(h0=H0[:1]), ValueError, r"^h0: expected shape \(B, H\) = \(2, 5\), got \(1, 5\)"),
    "W_hh not square": (lambda: fwd(params=W._replace(W_hh=W.W_hh[:, :4])), ValueError,
                        r"^params\.W_hh: expected shape \(H, H\) = \(5, 5\), got \(5, 4\)"),
    "b_h length": (lambda: fwd(params=W._replace(b_h=W.b_h[:4])), ValueError,
                   r"^params\.b_h: expected shape \(H,\) = \(5,\), got \(4,\)"),
    "T = 0": (lambda: fwd(x=X[:0]), ValueError,
              r"^x: every axis of \(T, B, D\) must be at least 1, got shape \(0, 2, 4\)"),
    "B = 0": (lambda: fwd(x=X[:, :0], h0=H0[:0]), ValueError, r"^x: every axis of \(T, B, D\) must be at least 1"),
    # dtypes
    "int x": (lambda: fwd(x=X.astype(np.int64)), TypeError, r"^x: expected dtype float32 or float64, got int64"),
    "float32 x, float64 params": (lambda: fwd(x=X.astype(np.float32)), TypeError,
                                  r"^params\.W_xh: expected dtype float32 \(the dtype of x\), got float64"),
    "float32 h0, float64 x": (lambda: fwd(h0=H0.astype(np.float32)), TypeError,
                              r"^h0: expected dtype float64 \(the dtype of x\), got float32"),
    "float32 b_h only": (lambda: fwd(params=W._replace(b_h=W.b_h.astype(np.float32))), TypeError,
                         r"^params\.b_h: expected dtype float64 \(the dtype of x\), got float32"),
    "list x": (lambda: fwd(x=X.tolist()), TypeError, r"^x: expected a numpy\.ndarray of shape \(T, B, D\), got list"),
    # non-finite values
    "NaN in x": (lambda: fwd(x=put(X, (2, 1, 3))), FloatingPointError,
                 r"^x: non-finite value \(NaN or inf\) at time step 2"),
    "inf in x": (lambda: fwd(x=put(X, (0, 0, 0), np.inf)), FloatingPointError,
                 r"^x: non-finite value \(NaN or inf\) at time step 0"),
    "NaN in h0": (lambda: fwd(h0=put(H0, (1, 3))), FloatingPointError,
                  r"^h0: non-finite value \(NaN or inf\) at index \(1, 3\)"),
    "inf in W_hh": (lambda: fwd(params=W._replace(W_hh=put(W.W_hh, (0, 2), -np.inf))), FloatingPointError,
                    r"^params\.W_hh: non-finite value \(NaN or inf\) at index \(0, 2\)"),
    "NaN in dhs": (lambda: bwd(put(np.ones((3, 2, 5)), (1, 0, 0))), FloatingPointError,
                   r"^dhs: non-finite value \(NaN or inf\) at time step 1"),
    "overflowing states": (lambda: quiet(fwd, params=W._replace(W_hh=1e200 * W.W_hh), activation="linear"),
                           FloatingPointError,
                           r"^hs \(hidden states\): non-finite value \(NaN or inf\) at time step 1"),
    # types and choices
    "params as tuple": (lambda: fwd(params=tuple(W)), TypeError, r"^params: expected RNNParams, got tuple"),
    "params as MLPParams": (lambda: fwd(params=MLPParams(*W, W.b_h)), TypeError,
                            r"^params: expected RNNParams, got MLPParams"),
    "activation sigmoid": (lambda: fwd(activation="sigmoid"), ValueError,
                           r"^activation: expected one of \['tanh', 'relu', 'linear'\], got 'sigmoid'"),
    "reduction avg": (lambda: loss(reduction="avg"), ValueError,
                      r"^reduction: expected one of \['mean', 'sum'\], got 'avg'"),
    "readout as tuple": (lambda: rnn.readout_forward(X, tuple(R)), TypeError,
                         r"^readout: expected ReadoutParams, got tuple"),
    # backward and step
    "dhs shape": (lambda: bwd(np.ones((3, 2, 4))), ValueError,
                  r"^dhs: expected shape \(T, B, H\) = \(3, 2, 5\), got \(3, 2, 4\)"),
    "dhs float32": (lambda: bwd(np.ones((3, 2, 5), np.float32)), TypeError,
                    r"^dhs: expected dtype float64 \(the dtype of the forward pass\), got float32"),
    "step x_t rank 3": (lambda: step(x_t=X), ValueError, r"^x_t: expected 2 axes \(B, D\), got 3 axes"),
    "step h_prev shape": (lambda: step(h_prev=H0[:, :4]), ValueError,
                          r"^h_prev: expected shape \(B, H\) = \(2, 5\), got \(2, 4\)"),
    "step NaN in x_t": (lambda: step(x_t=put(X[0], (0, 1))), FloatingPointError,
                        r"^x_t: non-finite value \(NaN or inf\)"),
    "step_backward dh_t shape": (lambda: rnn.step_backward(np.ones((2, 4)), step()[1]), ValueError,
                                 r"^dh_t: expected shape \(B, H\) = \(2, 5\), got \(2, 4\)"),
}


LAYER_CASES = {
    "affine D": (lambda: layers.affine_forward(X, np.ones((5, 3)), np.ones(5)), ValueError,
                 r"^x: expected last axis D = 3 \(from W\), got shape \(3, 2, 4\)"),
    "affine W rank 1": (lambda: layers.affine_forward(X, np.ones(4), np.ones(5)), ValueError,
                        r"^W: expected 2 axes \(M, D\), got shape \(4,\)"),
    "affine b length": (lambda: layers.affine_forward(X, np.ones((5, 4)), np.ones(4)), ValueError,
                        r"^b: expected shape \(M,\) = \(5,\), got \(4,\)"),
    "affine mixed dtype": (lambda: layers.affine_forward(X, np.ones((5, 4), np.float32), np.ones(5)), TypeError,
                           r"^W: expected dtype float64 \(the dtype of x\), got float32"),
    "affine int x": (lambda: layers.affine_forward(np.ones((2, 4), int), np.ones((5, 4)), np.ones(5)), TypeError,
                     r"^x: expected dtype float32 or float64, got int64"),
    "affine_backward dout shape": (
        lambda: layers.affine_backward(np.ones((3, 2, 4)), layers.affine_forward(X, np.ones((5, 4)), np.ones(5))[1]),
        ValueError, r"^dout: expected shape"),
    "tanh NaN": (lambda: layers.tanh_forward(put(np.ones((2, 2)), (1, 0))), FloatingPointError,
                 r"^a: non-finite value \(NaN or inf\) at index \(1, 0\)"),
    "tanh_backward dh shape": (lambda: layers.tanh_backward(np.ones(3), layers.tanh_forward(np.ones(2))[1]),
                               ValueError, r"^dh: expected shape"),
    "mse target shape": (lambda: layers.mse_loss(np.ones((2, 3)), np.ones((3, 2))), ValueError,
                         r"^target: expected shape .*= \(2, 3\), got \(3, 2\)"),
    "mse mixed dtype": (lambda: layers.mse_loss(np.ones(3), np.ones(3, np.float32)), TypeError,
                        r"^target: expected dtype float64 \(the dtype of pred\), got float32"),
    "mse reduction": (lambda: layers.mse_loss(np.ones(3), np.ones(3), "none"), ValueError,
                      r"^reduction: expected one of \['mean', 'sum'\], got 'none'"),
    "cross-entropy reduction": (lambda: layers.softmax_cross_entropy(np.ones((2, 3)), np.zeros(2, int), "max"),
                                ValueError, r"^reduction: expected one of \['mean', 'sum'\], got 'max'"),
    "labels too large": (lambda: layers.softmax_cross_entropy(np.ones((4, 3)), np.array([0, 3, 1, 2])), ValueError,
                         r"^labels: expected class indices in \[0, 2\], got range \[0, 3\]"),
    "labels negative": (lambda: layers.softmax_cross_entropy(np.ones((2, 3)), np.array([-1, 0])), ValueError,
                        r"^labels: expected class indices in \[0, 2\], got range \[-1, 0\]"),
    "labels float": (lambda: layers.softmax_cross_entropy(np.ones((2, 3)), np.zeros(2)), TypeError,
                     r"^labels: expected an integer numpy\.ndarray, got float64"),
    "labels shape": (lambda: layers.softmax_cross_entropy(np.ones((2, 3)), np.zeros(3, int)), ValueError,
                     r"^labels: expected shape .*= \(2,\), got \(3,\)"),
    "mlp activation": (lambda: mlp.forward(np.ones((2, 3)), init_mlp(3, 4, 2, np.random.default_rng(0)), "linear"),
                       ValueError, r"^activation: expected one of \['tanh', 'sigmoid', 'relu'\], got 'linear'"),
    "mlp x rank 3": (lambda: mlp.forward(X, init_mlp(4, 4, 2, np.random.default_rng(0))), ValueError,
                     r"^x: expected a 2-axis array \(N, D\), got \(3, 2, 4\)"),
    "mlp params type": (lambda: mlp.forward(np.ones((2, 4)), W), TypeError,
                        r"^params: expected MLPParams, got RNNParams"),
}


def _quadratic():
    return lambda: float(np.sum(X**2))


GRADCHECK_CASES = {
    "rel_error shapes": (lambda: rel_error(np.ones((2, 3)), np.ones((3, 2))), ValueError,
                         r"^b: expected the shape of a, \(2, 3\), got \(3, 2\)"),
    "rel_error NaN": (lambda: rel_error(np.ones(2), np.array([1.0, np.nan])), FloatingPointError, r"^a, b: "),
    "numerical_gradient float32": (lambda: numerical_gradient(_quadratic(), X.astype(np.float32)), TypeError,
                                   r"^x: expected a float64 numpy\.ndarray .*got float32"),
    "numerical_gradient eps": (lambda: numerical_gradient(_quadratic(), X.copy(), eps=0.0), ValueError,
                               r"^eps: expected a positive step, got 0\.0"),
    "directional_check rng": (lambda: directional_check(_quadratic(), [X.copy()], [2 * X], 0), TypeError,
                              r"^rng: expected a numpy\.random\.Generator .*got int"),
    "directional_check count": (lambda: directional_check(_quadratic(), [X.copy()], [], np.random.default_rng(0)),
                                ValueError, r"^grads: expected one gradient per array in xs \(1\), got 0"),
    "directional_check shape": (
        lambda: directional_check(_quadratic(), [X.copy()], [np.ones(3)], np.random.default_rng(0)),
        ValueError, r"^grads\[0\]: expected shape \(3, 2, 4\), got \(3,\)"),
}


GEN = r"^rng: expected a numpy\.random\.Generator \(for example np\.random\.default_rng\(0\)\), got "
SGD_PARAMS = init_rnn(4, 5, np.random.default_rng(0))
SGD_GRADS = RNNGrads(*(np.ones_like(p) for p in SGD_PARAMS))

INIT_TASK_OPTIM_CASES = {
    "init_rnn seed int": (lambda: init_rnn(3, 4, 0), TypeError, GEN + "int"),
    "init_rnn RandomState": (lambda: init_rnn(3, 4, np.random.RandomState(0)), TypeError, GEN + "RandomState"),
    "init_readout legacy module": (lambda: init_readout(4, 2, np.random), TypeError, GEN + "module"),
    "init_mlp None": (lambda: init_mlp(3, 4, 2, None), TypeError, GEN + "NoneType"),
    "noisy_sine seed int": (lambda: noisy_sine(10, 2, 42), TypeError, GEN + "int"),
    "init_rnn D = 0": (lambda: init_rnn(0, 4, np.random.default_rng(0)), ValueError,
                       r"^D: expected a positive int, got 0"),
    "init_rnn H float": (lambda: init_rnn(3, 2.5, np.random.default_rng(0)), TypeError,
                         r"^H: expected a positive int, got float"),
    "init_rnn dtype int": (lambda: init_rnn(3, 4, np.random.default_rng(0), dtype=np.int32), TypeError,
                           r"^dtype: expected float32 or float64, got"),
    "init_mlp activation": (lambda: init_mlp(3, 4, 2, np.random.default_rng(0), activation="linear"), ValueError,
                            r"^activation: expected one of \['tanh', 'sigmoid', 'relu'\], got 'linear'"),
    "noisy_sine dtype int": (lambda: noisy_sine(5, 2, np.random.default_rng(0), dtype=np.int64), TypeError,
                             r"^dtype: expected float32 or float64, got"),
    "noisy_sine T = 0": (lambda: noisy_sine(0, 2, np.random.default_rng(0)), ValueError,
                         r"^T: expected a positive int, got 0"),
    "noisy_sine noise < 0": (lambda: noisy_sine(5, 2, np.random.default_rng(0), noise=-0.1), ValueError,
                             r"^noise: expected a standard deviation >= 0, got -0\.1"),
    "noisy_sine period_range": (lambda: noisy_sine(5, 2, np.random.default_rng(0), period_range=(10.0, 5.0)),
                                ValueError, r"^period_range: expected 0 < low <= high, got \(10\.0, 5\.0\)"),
    "sgd lr = 0": (lambda: sgd_step(SGD_PARAMS, SGD_GRADS, 0.0), ValueError,
                   r"^lr: expected a positive finite learning rate, got 0\.0"),
    "sgd lr < 0": (lambda: sgd_step(SGD_PARAMS, SGD_GRADS, -0.1), ValueError,
                   r"^lr: expected a positive finite learning rate, got -0\.1"),
    "adam lr NaN": (lambda: adam_step(SGD_PARAMS, SGD_GRADS, adam_init(SGD_PARAMS), lr=float("nan")), ValueError,
                    r"^lr: expected a positive finite learning rate, got nan"),
    "sgd grads of another container": (lambda: sgd_step(SGD_PARAMS, R, 0.1), TypeError,
                                       r"^grads: expected a container shaped like RNNParams, got ReadoutParams"),
    "sgd grads field names": (lambda: sgd_step(SGD_PARAMS, OtherGrads(*SGD_GRADS), 0.1), TypeError,
                              r"^grads: expected the gradient container of RNNParams "
                              r"\(fields \['dW_xh', 'dW_hh', 'db_h'\]\)"),
    "sgd grads shape": (lambda: sgd_step(SGD_PARAMS, SGD_GRADS._replace(dW_hh=np.ones((5, 4))), 0.1), ValueError,
                        r"^grads\.dW_hh: expected shape \(5, 5\), got \(5, 4\)"),
    "adam non-finite grads": (
        lambda: adam_step(SGD_PARAMS, SGD_GRADS._replace(db_h=put(np.ones(5), 2)), adam_init(SGD_PARAMS)),
        FloatingPointError, r"^grads\.db_h: non-finite gradient"),
    "adam state": (lambda: adam_step(SGD_PARAMS, SGD_GRADS, (0, (), ())), TypeError,
                   r"^state: expected AdamState from adam_init, got tuple"),
}


# ----------------------------------------------------------------- the torch twin

TX, TH0, TW = torch.tensor(X), torch.tensor(H0), to_torch(W)


def tfwd(x=TX, h0=TH0, params=TW, activation="tanh"):
    return trnn.forward(x, h0, params, activation)


def tput(t, index, value=float("nan")):
    s = t.clone()
    s[index] = value
    return s


TORCH_CASES = {
    "x rank 2": (lambda: tfwd(x=TX[0]), ValueError, r"^x: expected 3 axes \(T, B, D\), got 2 axes"),
    "h0 rank 3": (lambda: tfwd(h0=TH0[None]), ValueError, r"^h0: expected 2 axes \(B, H\), got 3 axes"),
    "W_xh rank 1": (lambda: tfwd(params=TW._replace(W_xh=TW.W_xh[0])), ValueError,
                    r"^params\.W_xh: expected 2 axes \(H, D\), got 1 axes"),
    "D of x vs W_xh": (lambda: tfwd(x=TX[..., :3]), ValueError,
                       r"^params\.W_xh: expected shape \(H, D\) with D = 3 \(from x\), got \(5, 4\)"),
    "H of h0 vs W_hh": (lambda: tfwd(h0=TH0[:, :4]), ValueError, r"^h0: expected shape \(2, 5\), got \(2, 4\)"),
    "W_hh not square": (lambda: tfwd(params=TW._replace(W_hh=TW.W_hh[:, :4])), ValueError,
                        r"^params\.W_hh: expected shape \(5, 5\), got \(5, 4\)"),
    "b_h length": (lambda: tfwd(params=TW._replace(b_h=TW.b_h[:4])), ValueError,
                   r"^params\.b_h: expected shape \(5,\), got \(4,\)"),
    "T = 0": (lambda: tfwd(x=TX[:0]), ValueError, r"^x: every axis of \(T, B, D\) must be at least 1"),
    "int x": (lambda: tfwd(x=TX.long()), TypeError,
              r"^x: expected dtype torch\.float32 or torch\.float64, got torch\.int64"),
    "float32 x, float64 params": (lambda: tfwd(x=TX.float()), TypeError,
                                  r"^params\.W_xh: expected dtype torch\.float32 \(the dtype of x\), "
                                  r"got torch\.float64"),
    "float32 h0": (lambda: tfwd(h0=TH0.float()), TypeError,
                   r"^h0: expected dtype torch\.float64 \(the dtype of x\), got torch\.float32"),
    "NaN in x": (lambda: tfwd(x=tput(TX, (2, 1, 3))), FloatingPointError,
                 r"^x: non-finite value \(NaN or inf\) at time step 2"),
    "NaN in h0": (lambda: tfwd(h0=tput(TH0, (1, 3))), FloatingPointError, r"^h0: non-finite value \(NaN or inf\)"),
    "inf in W_hh": (lambda: tfwd(params=TW._replace(W_hh=tput(TW.W_hh, (0, 2), float("inf")))), FloatingPointError,
                    r"^params\.W_hh: non-finite value \(NaN or inf\)"),
    "numpy x": (lambda: tfwd(x=X), TypeError, r"^x: expected a torch\.Tensor of shape \(T, B, D\), got ndarray"),
    "params as tuple": (lambda: tfwd(params=tuple(TW)), TypeError, r"^params: expected RNNParams, got tuple"),
    "activation sigmoid": (lambda: tfwd(activation="sigmoid"), ValueError,
                           r"^activation: expected one of \['tanh', 'relu', 'linear'\], got 'sigmoid'"),
}


def _params(cases):
    return [pytest.param(*case, id=name) for name, case in cases.items()]


@pytest.mark.parametrize(
    "call, exc, message",
    _params(RNN_CASES) + _params(LAYER_CASES) + _params(GRADCHECK_CASES) + _params(INIT_TASK_OPTIM_CASES),
)
def test_numpy_backend_rejects(call, exc, message):
    """NumPy backend, checkers, init, tasks and optimisers: exception type and message."""
    with pytest.raises(exc, match=message):
        call()


@pytest.mark.parametrize("call, exc, message", _params(TORCH_CASES))
def test_torch_twin_rejects(call, exc, message):
    """The torch twin rejects the same core cases with the same kind of message."""
    with pytest.raises(exc, match=message):
        call()


def test_rejected_input_is_left_untouched():
    """A failing call does not modify what it was given (the NaN stays where it was, nothing else changes)."""
    x = put(X, (1, 0, 0))
    before = x.copy()
    with pytest.raises(FloatingPointError):
        fwd(x=x)
    np.testing.assert_array_equal(x, before)
