"""bpttlab.numpy.ensemble: several seeds trained at once, each exactly as train.train trains it alone."""

import numpy as np
import pytest

from bpttlab import init, tasks
from bpttlab.numpy import ensemble, seq, train

CASES = [
    ("rnn", "mse", 2, 1, lambda r: tasks.adding_problem(9, 5, r)),
    ("lstm", "xent", 6, 4, lambda r: tasks.temporal_order(10, 5, r)),
    ("gru", "xent", 6, 6, lambda r: tasks.copy_task(3, 5, r, length=2, n_symbols=4)),
]


def members(cell, D, O, H=4, S=3, dtype=np.float64):
    out = []
    for s in range(S):
        rng = np.random.default_rng(s)
        out.append(
            seq.SeqParams(init.init_cell(cell, D, H, rng, dtype=dtype), init.init_readout(H, O, rng, dtype=dtype))
        )
    return out


@pytest.mark.parametrize("cell, loss, D, O, make", CASES)
def test_each_seed_is_trained_as_train_train_trains_it(cell, loss, D, O, make):
    model = seq.SeqModel(cell=cell, loss=loss)
    start = members(cell, D, O)
    trained, losses = ensemble.train_seeds(
        model, start, make, 15, [np.random.default_rng(10 + s) for s in range(3)], lr=1e-2, max_norm=0.3
    )
    assert losses.shape == (3, 15)
    clipped_any = False
    for s in range(3):
        ref, log = train.train(model, start[s], make, 15, np.random.default_rng(10 + s), lr=1e-2, max_norm=0.3)
        clipped_any |= bool(log.clipped.any())
        for a, b in zip([*ref.cell, *ref.readout], [*trained[s].cell, *trained[s].readout]):
            assert a.shape == b.shape
            assert np.max(np.abs(a - b)) < 1e-10
        assert np.max(np.abs(log.loss - losses[s])) < 1e-10
    assert clipped_any  # the per-seed clipping was exercised


def test_seeds_do_not_interact():
    model = seq.SeqModel(cell="lstm", loss="xent")
    make = CASES[1][4]
    start = members("lstm", 6, 4)
    both, _ = ensemble.train_seeds(model, start, make, 5, [np.random.default_rng(s) for s in range(3)], max_norm=1.0)
    changed = list(start)
    changed[1] = members("lstm", 6, 4, S=4)[3]  # another start for seed 1 only
    other, _ = ensemble.train_seeds(model, changed, make, 5, [np.random.default_rng(s) for s in range(3)], max_norm=1.0)
    for s in (0, 2):
        for a, b in zip([*both[s].cell, *both[s].readout], [*other[s].cell, *other[s].readout]):
            assert np.array_equal(a, b)
    assert not np.array_equal(both[1].cell.W_h, other[1].cell.W_h)


def test_pack_and_unpack_round_trip():
    model = seq.SeqModel(cell="gru")
    start = members("gru", 3, 2, H=4)
    packed = ensemble.pack(model, start)
    assert packed.cell.W_h.shape == (3 * 3 * 4, 3 * 4) and packed.readout.W_hy.shape == (3 * 2, 3 * 4)
    back = ensemble.unpack(model, packed, 3, 3, 4, 2)
    for a, b in zip(start, back):
        for x, y in zip([*a.cell, *a.readout], [*b.cell, *b.readout]):
            assert np.array_equal(x, y)


def test_float32_stays_float32():
    model = seq.SeqModel(cell="rnn")
    out, _ = ensemble.train_seeds(
        model,
        members("rnn", 2, 1, dtype=np.float32),
        lambda r: tasks.adding_problem(6, 4, r, dtype=np.float32),
        3,
        [np.random.default_rng(s) for s in range(3)],
        max_norm=1.0,
    )
    assert all(a.dtype == np.float32 for p in out for a in [*p.cell, *p.readout])


def test_bad_input():
    model = seq.SeqModel(cell="rnn")
    good = members("rnn", 2, 1)
    make = CASES[0][4]
    rngs = [np.random.default_rng(s) for s in range(3)]
    with pytest.raises(TypeError, match="model"):
        ensemble.train_seeds("rnn", good, make, 2, rngs)
    with pytest.raises(ValueError, match="params_list"):
        ensemble.train_seeds(model, [], make, 2, rngs)
    with pytest.raises(TypeError, match=r"params_list\[1\]"):
        ensemble.train_seeds(model, [good[0], "x", good[2]], make, 2, rngs)
    with pytest.raises(ValueError, match=r"params_list\[2\]"):
        ensemble.train_seeds(model, [good[0], good[1], members("rnn", 2, 1, H=5)[2]], make, 2, rngs)
    with pytest.raises(ValueError, match="rngs"):
        ensemble.train_seeds(model, good, make, 2, rngs[:2])
    with pytest.raises(TypeError, match=r"rngs\[0\]"):
        ensemble.train_seeds(model, good, make, 2, [0, rngs[1], rngs[2]])
    with pytest.raises(ValueError, match="max_norm"):
        ensemble.train_seeds(model, good, make, 2, rngs, max_norm=-1.0)
    with pytest.raises(TypeError, match="steps"):
        ensemble.train_seeds(model, good, make, 2.5, rngs)
    with pytest.raises(TypeError, match="make_batch"):
        ensemble.train_seeds(model, good, lambda r: None, 2, rngs)
