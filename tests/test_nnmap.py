"""Mapping bpttlab parameters to and from torch.nn.RNN / LSTM / GRU, and parameter counts against torch.nn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from support import TOL_TORCH, record

from bpttlab import rel_error
from bpttlab.init import init_cell, init_readout, init_rnn
from bpttlab.numpy import gru, lstm, rnn
from bpttlab.params import (
    GRUParams,
    LSTMParams,
    LSTMState,
    MLPParams,
    RNNParams,
    cell_param_count,
    param_count,
)
from bpttlab.torch import nnmap

NN = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
PARAMS = {"rnn": RNNParams, "lstm": LSTMParams, "gru": GRUParams}
SIZES = [(1, 1), (1, 64), (3, 5), (8, 2), (10, 20), (128, 32)]


def random_params(cell: str, D: int, H: int, seed: int):
    """bpttlab parameters with random weights and random non-zero biases (float64)."""
    rng = np.random.default_rng(seed)
    p = init_cell(cell, D, H, rng)
    return type(p)(*(rng.standard_normal(a.shape) * (0.5 if a.ndim == 1 else 1.0) for a in p))


def random_module(cell: str, D: int, H: int, seed: int, **kw) -> torch.nn.Module:
    """A float64 torch.nn module with torch's own random init, then random biases in both vectors."""
    torch.manual_seed(seed)
    module = NN[cell](D, H, **kw).double()
    with torch.no_grad():
        module.bias_ih_l0.normal_(0.0, 0.5)
        module.bias_hh_l0.normal_(0.0, 0.5)
    return module


# ----------------------------------------------------------------- round trips


@pytest.mark.parametrize("cell", list(NN))
@settings(deadline=None, max_examples=15)
@given(D=st.integers(1, 8), H=st.integers(1, 8), seed=st.integers(0, 2**31 - 1))
def test_from_nn_of_to_nn_reproduces_the_parameters(cell, D, H, seed):
    """from_nn(to_nn(p)) == p exactly: RNN and LSTM put b in bias_ih and 0 in bias_hh and sum them back;
    the GRU's two bias vectors map one to one."""
    p = random_params(cell, D, H, seed)
    module = nnmap.to_nn(p)
    assert isinstance(module, NN[cell])
    assert (module.input_size, module.hidden_size, module.num_layers) == (D, H, 1)
    assert not module.batch_first and not module.bidirectional
    assert all(q.dtype == torch.float64 for q in module.parameters())
    back = nnmap.from_nn(module)
    assert type(back) is PARAMS[cell]
    for name, a, b in zip(p._fields, p, back):
        assert isinstance(b, np.ndarray) and b.dtype == np.float64, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    if cell != "gru":
        assert not module.bias_hh_l0.detach().any()  # the single bias went into bias_ih


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_from_nn_sums_the_two_biases(cell):
    """torch.nn's bias_ih and bias_hh enter the same sum: from_nn returns their sum as bpttlab's single bias."""
    module = random_module(cell, 3, 4, seed=1)
    p = nnmap.from_nn(module)
    b = p.b_h if cell == "rnn" else p.b
    expected = (module.bias_ih_l0 + module.bias_hh_l0).detach().numpy()
    np.testing.assert_array_equal(b, expected)
    # and back: a different split of the bias, the same function
    again = nnmap.to_nn(p)
    x = torch.tensor(np.random.default_rng(2).standard_normal((6, 2, 3)))
    assert rel_error(again(x)[0].detach().numpy(), module(x)[0].detach().numpy()) < 1e-14


def _numpy_output(cell: str, p, x: np.ndarray, h0: np.ndarray, c0: np.ndarray | None, **options) -> np.ndarray:
    if cell == "rnn":
        return rnn.forward(x, h0, p, **options)[0]
    if cell == "lstm":
        return lstm.forward(x, LSTMState(h0, c0), p)[0]
    return gru.forward(x, h0, p, "torch")[0]


@pytest.mark.parametrize("cell, nonlinearity", [("rnn", "tanh"), ("rnn", "relu"), ("lstm", None), ("gru", None)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_torch_nn_module_to_numpy_forward(cell, nonlinearity, seed):
    """A torch.nn module with random weights -> from_nn -> the NumPy forward gives the module's outputs
    (and final state) to 1e-10, from a random initial state."""
    kw = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    D, H, T, B = 3 + seed, 5, 17, 2
    module = random_module(cell, D, H, seed, **kw)
    rng = np.random.default_rng(seed + 10)
    x, h0, c0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    with torch.no_grad():
        if cell == "lstm":
            out, (hT, _) = module(torch.tensor(x), (torch.tensor(h0[None]), torch.tensor(c0[None])))
        else:
            out, hT = module(torch.tensor(x), torch.tensor(h0[None]))
    options = {"activation": nonlinearity} if cell == "rnn" else {}
    hs = _numpy_output(cell, nnmap.from_nn(module), x, h0, c0, **options)
    err = record(f"{cell} torch.nn module -> from_nn", hs, out.numpy())
    assert err < TOL_TORCH, f"rel_error {err:.2e}"
    assert rel_error(hs[-1], hT[0].numpy()) < TOL_TORCH


def test_from_nn_keeps_float32():
    """A default float32 module maps to float32 arrays; to_nn of float32 params gives a float32 module."""
    torch.manual_seed(0)
    module = torch.nn.GRU(2, 3)
    p = nnmap.from_nn(module)
    assert all(a.dtype == np.float32 for a in p)
    again = nnmap.to_nn(p)
    assert all(q.dtype == torch.float32 for q in again.parameters())
    x = np.random.default_rng(0).standard_normal((5, 1, 2)).astype(np.float32)
    hs, _ = gru.forward(x, np.zeros((1, 3), np.float32), p)
    assert rel_error(hs, module(torch.tensor(x))[0].detach().numpy()) < 1e-6


def test_to_nn_rnn_nonlinearity():
    """to_nn passes the RNN's nonlinearity to torch.nn.RNN and rejects one torch.nn.RNN lacks."""
    p = random_params("rnn", 2, 3, 0)
    assert nnmap.to_nn(p, nonlinearity="relu").nonlinearity == "relu"
    with pytest.raises(
        ValueError,
        match=r"^nonlinearity: expected one of \['tanh', 'relu'\] \(torch.nn.RNN has no "
        r"linear cell\), got 'linear'",
    ):
        nnmap.to_nn(p, nonlinearity="linear")


# ----------------------------------------------------------------- rejections


@pytest.mark.parametrize("cell", list(NN))
@pytest.mark.parametrize(
    "kw, shown",
    [
        ({"batch_first": True}, "batch_first=True"),
        ({"num_layers": 2}, "num_layers=2"),
        ({"bidirectional": True}, "bidirectional=True"),
        ({"bias": False}, "bias=False"),
    ],
)
def test_from_nn_rejects_unsupported_modules(cell, kw, shown):
    """batch_first, two layers, bidirectional or no biases: a ValueError that says what was expected and got."""
    module = NN[cell](3, 4, **kw)
    with pytest.raises(ValueError, match=r"module: expected one layer, unidirectional, time-first.*" + shown):
        nnmap.from_nn(module)


@pytest.mark.parametrize("module", [torch.nn.Linear(2, 3), torch.nn.LSTMCell(2, 3), torch.nn.GRUCell(2, 3)])
def test_from_nn_rejects_other_modules(module):
    with pytest.raises(TypeError, match=r"module: expected torch.nn.RNN, LSTM or GRU, got " + type(module).__name__):
        nnmap.from_nn(module)


@pytest.mark.parametrize(
    "params",
    [
        init_readout(3, 2, np.random.default_rng(0)),
        MLPParams(np.zeros((2, 2)), np.zeros(2), np.zeros((1, 2)), np.zeros(1)),
        tuple(init_rnn(2, 3, np.random.default_rng(0))),
        {"W_xh": np.zeros((3, 2))},
        LSTMState(np.zeros((1, 2)), np.zeros((1, 2))),
    ],
    ids=["ReadoutParams", "MLPParams", "plain tuple", "dict", "LSTMState"],
)
def test_to_nn_rejects_unknown_containers(params):
    with pytest.raises(
        TypeError, match=r"^params: expected one of RNNParams, LSTMParams, GRUParams, got " + type(params).__name__
    ):
        nnmap.to_nn(params)


# ----------------------------------------------------------------- parameter counts


def nn_count(cell: str, D: int, H: int) -> int:
    return sum(p.numel() for p in NN[cell](D, H).parameters())


@pytest.mark.parametrize("cell", list(NN))
@pytest.mark.parametrize("D, H", SIZES)
def test_param_count_of_mapped_module_matches_torch_nn(cell, D, H):
    """param_count of the parameters read back from a torch.nn module, and of bpttlab's own, against torch.nn.

    from_nn merges RNN / LSTM bias pairs, so those differ from torch.nn by exactly one bias vector (G * H).
    """
    module = NN[cell](D, H)
    total = sum(p.numel() for p in module.parameters())
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    merged = 0 if cell == "gru" else gates * H
    assert param_count(nnmap.from_nn(module)) == total - merged
    assert param_count(tuple(module.parameters())) == total  # param_count reads tensors too
    assert cell_param_count(cell, D, H, biases=2) == total


def test_gru_1_64_has_12864_parameters():
    """A GRU layer with one input and 64 units has 12864 parameters: 3 * 64 * (1 + 64 + 2).

    This is the figure the source articles quote from Keras's model summary (Keras's default
    reset_after=True GRU keeps two bias vectors, like torch.nn.GRU); torch.nn.GRU(1, 64) agrees.
    """
    assert cell_param_count("gru", 1, 64) == 12864
    assert cell_param_count("gru", 1, 64, biases=2) == 12864
    assert nn_count("gru", 1, 64) == 12864
    assert param_count(init_cell("gru", 1, 64, np.random.default_rng(0))) == 12864


@pytest.mark.parametrize("cell", list(NN))
@pytest.mark.parametrize("D, H", SIZES)
def test_cell_param_count_matches_torch_nn_and_bpttlab(cell, D, H):
    """biases=2 is torch.nn's count for all three cells; the default is the count of bpttlab's own containers."""
    assert cell_param_count(cell, D, H, biases=2) == nn_count(cell, D, H)
    ours = param_count(init_cell(cell, D, H, np.random.default_rng(0)))
    assert cell_param_count(cell, D, H) == ours
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    assert cell_param_count(cell, D, H, biases=1) == gates * H * (D + H + 1)
    # bpttlab's default: one bias vector for rnn and lstm, two for the gru
    assert nn_count(cell, D, H) - ours == (0 if cell == "gru" else gates * H)


def test_cell_param_count_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"cell: expected one of \['rnn', 'lstm', 'gru'\], got 'transformer'"):
        cell_param_count("transformer", 1, 1)
    with pytest.raises(ValueError, match=r"H: expected a positive int, got 0"):
        cell_param_count("gru", 1, 0)
    with pytest.raises(TypeError, match=r"D: expected a positive int, got float"):
        cell_param_count("lstm", 2.0, 3)
    with pytest.raises(ValueError, match=r"biases: expected an int in \[1, 2\], got 3"):
        cell_param_count("rnn", 1, 1, biases=3)
    with pytest.raises(TypeError, match=r"biases: expected an int, got bool"):
        cell_param_count("rnn", 1, 1, biases=True)
    with pytest.raises(TypeError, match=r"params\.0: expected arrays or tensors at the leaves, got str"):
        param_count(("W",))
