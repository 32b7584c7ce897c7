"""bpttlab.crosscheck: the variants torch.nn has no module for, the largest error and the printed verdicts.

The values and gradients of every cell against the torch twin and torch.nn are tested in
test_cell_contract.py; the line wrapping alone in test_crosscheck_text.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from support import TOL_TORCH, CellDims, make_cell_problem, note, variant

from bpttlab import crosscheck, rel_error
from bpttlab.crosscheck import WIDTH, CrossCheck

SMALL = CellDims(T=3, B=2, D=3, H=4)


@pytest.mark.parametrize("vid, options", [("rnn-linear", {"activation": "linear"}), ("gru-cho", {"variant": "cho"})])
def test_torch_nn_is_refused_for_a_variant_it_has_no_module_for(vid, options):
    p = make_cell_problem(variant(vid), 0, SMALL)
    with pytest.raises(ValueError, match=rf"^backend: torch\.nn has no module for {vid}$"):
        crosscheck.run("torch.nn", p.spec, p.x, p.state0, p.params, p.dhs, **options)


@pytest.mark.parametrize("vid, options", [("rnn-linear", {"activation": "linear"}), ("gru-cho", {"variant": "cho"})])
def test_cross_check_without_torch_nn_compares_numpy_and_the_torch_twin_only(vid, options):
    """No torch.nn entry; every error is rel_error of the torch array against the NumPy one, below TOL_TORCH."""
    p = make_cell_problem(variant(vid), 1, SMALL)
    cc = crosscheck.cross_check(p.spec.name, p.x, p.state0, p.params, p.dhs, **options)
    assert cc.cell == vid
    assert list(cc.values) == ["numpy", "torch"] and list(cc.errors) == ["torch"]
    ours, theirs = cc.values["numpy"], cc.values["torch"]
    assert list(theirs) == list(ours)
    hs, _ = p.spec.numpy().forward(p.x, p.state0, p.params, **options)
    assert np.array_equal(ours["hs"], hs)
    for name, err in cc.errors["torch"].items():
        assert err == rel_error(ours[name], theirs[name]), name
        assert note(f"crosscheck: {vid} numpy vs torch", err) < TOL_TORCH, name
    assert cc.max_error() == max(cc.errors["torch"].values())


def test_torch_nn_gives_both_of_its_biases_the_gradient_of_bpttlab_s_one_bias():
    """The RNN has one bias b_h, torch.nn.RNN two that enter as a sum: each gets dL/db_h = sum over t, b of dL/da."""
    p = make_cell_problem(variant("rnn-tanh"), 2, SMALL)
    cc = crosscheck.cross_check("rnn", p.x, p.state0, p.params, p.dhs, activation="tanh")
    assert list(cc.errors) == ["torch", "torch.nn"]
    nn = cc.values["torch.nn"]
    assert list(nn) == [*cc.values["numpy"], "db_h (bias_hh)"]
    hs = cc.values["numpy"]["hs"]
    da = p.dhs.copy()  # the gradient of L = sum(dhs * hs) on each pre-activation, by hand, last step first
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(len(hs))):
        da[t] = (p.dhs[t] + dh_next) * (1.0 - hs[t] ** 2)
        dh_next = da[t] @ p.params.W_hh
    db_h = da.sum(axis=(0, 1))
    for name in ("db_h", "db_h (bias_hh)"):
        assert rel_error(db_h, nn[name]) < TOL_TORCH, name
        assert cc.errors["torch.nn"][name] == rel_error(cc.values["numpy"]["db_h"], nn[name])
    assert note("crosscheck: rnn-tanh numpy vs torch.nn", cc.max_error()) < TOL_TORCH


def test_run_rejects_an_unknown_backend():
    p = make_cell_problem(variant("lstm"), 0, SMALL)
    with pytest.raises(ValueError, match=r"^backend: expected one of \['numpy', 'torch', 'torch\.nn'\], got 'jax'$"):
        crosscheck.run("jax", "lstm", p.x, p.state0, p.params, p.dhs)


# --- the verdicts, on errors set by hand -----------------------------------------------------

ERRORS = {
    "torch": {"hs": 1e-16, "dx": 3.25e-15, "dW_x": 2e-16},
    "torch.nn": {"hs": 4e-16, "dx": 1e-16, "dW_x": 7.5e-10, "db (bias_hh)": 1e-16},
}
HAND = CrossCheck("lstm", {}, ERRORS)


def test_max_error_is_the_largest_over_every_backend_and_tensor():
    assert HAND.max_error() == 7.5e-10
    assert CrossCheck("gru", {}, {"torch": {"hs": 0.5, "dx": 2.0}}).max_error() == 2.0


def test_report_names_the_worst_tensor_of_each_backend():
    assert HAND.report().split("\n") == [
        "lstm: numpy vs torch     3 tensors, largest rel_error 3.2e-15 (dx)",
        "lstm: numpy vs torch.nn  4 tensors, largest rel_error 7.5e-10 (dW_x)",
    ]


def test_report_moves_a_long_worst_name_onto_a_second_line():
    name = "a_very_long_tensor_name_" * 2
    lines = CrossCheck("gru-cho", {}, {"torch": {"hs": 0.0, name: 1.0}}).report().split("\n")
    assert lines == ["gru-cho: numpy vs torch     2 tensors, largest rel_error 1.0e+00", f"  ({name})"]
    assert all(len(line) <= WIDTH for line in lines)


def test_summary_says_agree_or_lists_the_tensors_that_disagree():
    assert HAND.summary(1e-10).split("\n") == [
        "lstm: numpy vs torch: all 3 tensors agree, rel_error < 1e-10 (hs, dx, dW_x)",
        "lstm: numpy vs torch.nn: 1 of 4 tensors DISAGREE (rel_error >= 1e-10): dW_x",
    ]
    assert HAND.summary(2e-16).split("\n") == [
        "lstm: numpy vs torch: 2 of 3 tensors DISAGREE (rel_error >= 2e-16): dx, dW_x",
        "lstm: numpy vs torch.nn: 2 of 4 tensors DISAGREE (rel_error >= 2e-16):",
        "  hs, dW_x",
    ]


def test_summary_counts_an_error_equal_to_tol_or_nan_as_a_disagreement():
    cc = CrossCheck("rnn", {}, {"torch": {"hs": 1e-10, "dx": math.nan, "dW_xh": 0.0}})
    assert cc.summary(1e-10) == "rnn: numpy vs torch: 2 of 3 tensors DISAGREE (rel_error >= 1e-10): hs, dx"


def test_summary_wraps_a_long_agreement_between_names_and_keeps_the_parentheses():
    names = [f"tensor_number_{i}" for i in range(9)]
    cc = CrossCheck("gru-torch", {}, {"torch.nn": dict.fromkeys(names, 0.0)})
    lines = cc.summary(1e-10).split("\n")
    assert lines[0] == "gru-torch: numpy vs torch.nn: all 9 tensors agree, rel_error < 1e-10"
    assert len(lines) > 2 and all(len(line) <= WIDTH for line in lines)
    assert all(line.startswith("  ") and not line.startswith("   ") for line in lines[1:])
    assert " ".join(lines[1:]).split() == ["(tensor_number_0,", *(f"{n}," for n in names[1:-1]), "tensor_number_8)"]


@pytest.mark.parametrize(
    "tol, error, pattern",
    [
        (0.0, ValueError, r"^tol: expected a positive number, got 0\.0$"),
        (-1e-10, ValueError, r"^tol: expected a positive number, got -1e-10$"),
        (math.inf, ValueError, r"^tol: expected a finite number, got inf$"),
        ("1e-10", TypeError, r"^tol: expected a real number, got str$"),
        (True, TypeError, r"^tol: expected a real number, got bool$"),
    ],
)
def test_summary_rejects_a_tolerance_that_is_not_a_positive_number(tol, error, pattern):
    with pytest.raises(error, match=pattern):
        HAND.summary(tol)
