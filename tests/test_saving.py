"""Saving and loading: exact round trips, atomic writes under SIGKILL, and clear errors for bad files."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import bpttlab.saving as saving
from bpttlab import cells, init, optim
from bpttlab.params import GRADS_OF, LSTMState
from bpttlab.seqmodel import SeqParams

REPO = pathlib.Path(__file__).resolve().parents[1]


def _params(cell, D=3, H=4, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    p = init.init_cell(cell, D, H, rng, dtype)
    # random non-zero values everywhere (the initialisers give zero biases)
    return type(p)(*(rng.standard_normal(a.shape).astype(dtype) for a in p))


def _assert_same_tree(a, b):
    assert type(a) is type(b)
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same_tree(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b)
    else:
        assert a == b


# ----------------------------------------------------------------- round trips


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("cell", sorted(cells.CELLS))
def test_params_and_adam_state_round_trip_exactly(tmp_path, cell, dtype):
    params = _params(cell, dtype=dtype)
    grads = GRADS_OF[type(params)](*(0.1 * a for a in params))
    _, adam = optim.adam_step(params, grads, optim.adam_init(params))
    model = SeqParams(cell=params, readout=init.init_readout(4, 2, np.random.default_rng(1), dtype))
    zeros = optim.tree_map(np.zeros_like, params)
    templates = (zeros, optim.adam_init(params), optim.tree_map(np.zeros_like, model))
    for tree, like in zip((params, adam, model), templates):
        path = tmp_path / "ckpt.npz"
        saving.save_tree(path, tree, meta={"cell": cell})
        loaded = saving.load_tree(path, like, expect_meta={"cell": cell})
        _assert_same_tree(loaded, tree)
    assert type(loaded) is SeqParams and type(loaded.cell) is type(params)
    assert all(a.dtype == np.dtype(dtype) for a in loaded.cell)


def test_adam_step_int_comes_back_as_int_and_list_containers_are_kept(tmp_path):
    params = _params("rnn")
    adam = optim.AdamState(7, params, params)
    saving.save_tree(tmp_path / "a.npz", adam)
    loaded = saving.load_tree(tmp_path / "a.npz", optim.adam_init(params))
    assert type(loaded.step) is int and loaded.step == 7
    tree = [np.arange(3), (np.ones((2, 2), np.float32), None), LSTMState(np.zeros(2), np.ones(2)), 2.5, True]
    saving.save_tree(str(tmp_path / "b.npz"), tree)
    loaded = saving.load_tree(tmp_path / "b.npz", tree)
    _assert_same_tree(loaded, tree)
    saving.save_tree(tmp_path / "c.npz", np.arange(5.0))
    assert np.array_equal(saving.load_tree(tmp_path / "c.npz", np.zeros(5)), np.arange(5.0))


def test_the_file_is_a_plain_npz_readable_without_pickle(tmp_path):
    params = _params("lstm")
    saving.save_tree(tmp_path / "p.npz", params, meta={"cell": "lstm", "H": 4})
    with np.load(tmp_path / "p.npz", allow_pickle=False) as z:
        assert set(z.files) == {"W_x", "W_h", "b", saving.HEADER_KEY}
        assert z[saving.HEADER_KEY].dtype == np.uint8
        assert np.array_equal(z["W_h"], params.W_h)
    assert saving.read_meta(tmp_path / "p.npz") == {"cell": "lstm", "H": 4}


def test_a_leaf_named_like_a_savez_argument_is_saved(tmp_path):
    from typing import NamedTuple

    class Odd(NamedTuple):
        file: np.ndarray
        allow_pickle: np.ndarray

    tree = Odd(np.arange(2.0), np.arange(3.0))
    saving.save_tree(tmp_path / "o.npz", tree)
    _assert_same_tree(saving.load_tree(tmp_path / "o.npz", tree), tree)


@pytest.mark.parametrize("bit_generator", saving.BIT_GENERATORS)
def test_train_state_round_trip_restores_the_random_stream(tmp_path, bit_generator):
    rng = np.random.Generator(getattr(np.random, bit_generator)(123))
    rng.random(17)  # a state somewhere in the stream, not the seed's
    params = SeqParams(cell=_params("lstm"), readout=init.init_readout(4, 2, np.random.default_rng(2)))
    adam = optim.AdamState(3, optim.tree_map(np.ones_like, params), optim.tree_map(np.zeros_like, params))
    carry = LSTMState(np.full((5, 4), 0.25), np.full((5, 4), -0.5))
    log = {"loss": np.array([3.0, 2.0, 1.5]), "clipped": np.array([True, False, False])}
    state = saving.TrainState(params, adam, 3, rng.bit_generator.state, carry, log)
    saving.save_train_state(tmp_path / "run.npz", state, meta={"cell": "lstm", "task": "adding"})
    expected = rng.random(5)  # the draws the run would make next

    like = saving.TrainState(
        optim.tree_map(np.zeros_like, params), optim.adam_init(params), 0, {}, optim.tree_map(np.zeros_like, carry), {}
    )
    back = saving.load_train_state(tmp_path / "run.npz", like, expect_meta={"cell": "lstm"})
    assert back.step == 3 and type(back.step) is int
    _assert_same_tree(back.params, params)
    _assert_same_tree(back.opt_state, adam)
    _assert_same_tree(back.carry, carry)
    assert list(back.log) == ["loss", "clipped"]
    for key in log:
        assert back.log[key].dtype == log[key].dtype and np.array_equal(back.log[key], log[key])
    assert np.array_equal(saving.rng_from_state(back.rng_state).random(5), expected)


def test_train_state_without_carry_or_optimiser(tmp_path):
    params = _params("gru")
    state = saving.TrainState(params, None, 0, np.random.default_rng(0).bit_generator.state, None, {"loss": [1.0]})
    saving.save_train_state(tmp_path / "s.npz", state)
    back = saving.load_train_state(tmp_path / "s.npz", saving.TrainState(params, None, 0, {}, None, {}))
    assert back.opt_state is None and back.carry is None
    assert np.array_equal(back.log["loss"], np.array([1.0]))
    with pytest.raises(ValueError, match=r"s\.npz.*extra leaves.*'carry\.h'|s\.npz.*missing leaves.*'carry\.h'"):
        saving.load_train_state(
            tmp_path / "s.npz", saving.TrainState(params, None, 0, {}, LSTMState(np.zeros(2), np.zeros(2)), {})
        )


def test_load_train_state_refuses_a_plain_tree_and_load_tree_a_train_state_template(tmp_path):
    params = _params("rnn")
    saving.save_tree(tmp_path / "t.npz", params)
    with pytest.raises(ValueError, match=r"t\.npz: holds a tree written by save_tree"):
        saving.load_train_state(tmp_path / "t.npz", saving.TrainState(params, None, 0, {}, None, {}))


# ----------------------------------------------------------------- atomic writes


def test_atomic_write_failure_leaves_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def broken(f):
        f.write(b"new, half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        saving.atomic_write(path, broken)
    assert path.read_bytes() == b"old"
    assert saving.leftover_temp_files(path) == [] and sorted(os.listdir(tmp_path)) == ["f.bin"]
    saving.atomic_write(path, lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new" and sorted(os.listdir(tmp_path)) == ["f.bin"]


def test_atomic_write_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    saving.atomic_write(path, lambda f: f.write(b"new"))
    assert (path.stat().st_mode & 0o777) == 0o640
    fresh = tmp_path / "g.bin"
    saving.atomic_write(fresh, lambda f: f.write(b"x"))
    mask = os.umask(0o022)
    os.umask(mask)
    assert (fresh.stat().st_mode & 0o777) == 0o666 & ~mask


_SLOW = r"""
class Slow:
    # a file object that sleeps before each write, so that a save takes seconds
    def __init__(self, f, pause):
        self._f, self._pause = f, pause
    def write(self, data):
        time.sleep(self._pause)
        return self._f.write(data)
    def __getattr__(self, name):
        return getattr(self._f, name)
"""

_CHILD = (
    r"""
import sys, time
import numpy as np
import bpttlab.saving as saving
"""
    + _SLOW
    + r"""

real = saving.atomic_write
saving.atomic_write = lambda path, write: real(path, lambda f: write(Slow(f, 0.1)))
tree = [np.full((256, 1024), -1.0) for _ in range(8)]  # 16 MiB of values unlike the good ones
while True:
    saving.save_tree(sys.argv[1], tree, meta={"good": False})
"""
)


def kill_during_save(path: pathlib.Path, child_source: str) -> list[pathlib.Path]:
    """Run ``child_source`` (a loop of slow saves to ``path``), SIGKILL it once its temporary file holds part of
    a save, and return the temporary files left next to ``path``."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen([sys.executable, "-c", child_source, str(path)], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        # wait until the temporary file holds part of the new content (a save takes seconds)
        while not any(t.stat().st_size > 0 for t in saving.leftover_temp_files(path)):
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child never started its save"
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    return saving.leftover_temp_files(path)


def test_a_save_killed_with_sigkill_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    good = [np.arange(256 * 1024, dtype=np.float64).reshape(256, 1024) + k for k in range(8)]
    saving.save_tree(path, good, meta={"good": True})
    before = path.read_bytes()
    leftovers = kill_during_save(path, _CHILD)
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".ckpt.npz.tmp-")
    assert 0 < leftovers[0].stat().st_size < len(before)  # a partial save really was under way
    assert path.read_bytes() == before
    loaded = saving.load_tree(path, [np.zeros((256, 1024))] * 8, expect_meta={"good": True})
    for a, b in zip(loaded, good):
        assert np.array_equal(a, b)
    # the leftover does not disturb a later save either, and may be removed
    saving.save_tree(path, good[:1], meta={"good": True})
    assert np.array_equal(saving.load_tree(path, [np.zeros((256, 1024))])[0], good[0])
    leftovers[0].unlink()


# ----------------------------------------------------------------- bad files


@pytest.fixture()
def checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    params = _params("lstm", H=8)
    saving.save_tree(path, params, meta={"cell": "lstm", "H": 8})
    return path, params


def test_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.npz: no such checkpoint file"):
        saving.load_tree(tmp_path / "nothere.npz", _params("rnn"))


def test_a_truncated_file(checkpoint):
    path, params = checkpoint
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ValueError, match=r"ckpt\.npz: cannot read it as a checkpoint: the file is truncated, corrupted"
    ):
        saving.load_tree(path, params)


def test_a_corrupted_byte_is_caught_by_the_checksum(checkpoint):
    path, params = checkpoint
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("W_h.npy")
    middle = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    data[middle] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"ckpt\.npz: cannot read it.*corrupted.*Bad CRC-32 for file 'W_h\.npy'"):
        saving.load_tree(path, params)


def test_a_byte_flipped_in_the_middle_of_the_file(checkpoint):
    path, params = checkpoint
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"ckpt\.npz: .*corrupted"):
        saving.load_tree(path, params)


def test_files_that_are_not_checkpoints(tmp_path):
    params = _params("rnn")
    text = tmp_path / "notes.npz"
    text.write_text("not an archive at all\n")
    with pytest.raises(ValueError, match=r"notes\.npz: cannot read it as a checkpoint.*not an \.npz archive"):
        saving.load_tree(text, params)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.npz: cannot read it as a checkpoint"):
        saving.load_tree(empty, params)
    npy = tmp_path / "one.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError, match=r"one\.npy: holds a single \.npy array"):
        saving.load_tree(npy, params)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, W_xh=params.W_xh)
    with pytest.raises(ValueError, match=r"foreign\.npz: an \.npz archive but not a bpttlab checkpoint"):
        saving.load_tree(foreign, params)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __bpttlab__=np.frombuffer(b"{}", np.uint8), x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"pickled\.npz: cannot read it.*(pickle|Object arrays)"):
        saving.load_tree(pickled, params)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        saving.load_tree(tmp_path, params)


# ----------------------------------------------------------------- mismatches


def test_another_cells_params_name_the_leaves(checkpoint):
    path, _ = checkpoint
    with pytest.raises(
        ValueError,
        match=r"ckpt\.npz: .*missing leaves.*'W_xh', 'W_hh', 'b_h'.*extra leaves.*'W_x', 'W_h', 'b'"
        r".*LSTMParams in the file, RNNParams in like",
    ):
        saving.load_tree(path, _params("rnn", H=8))


def test_other_sizes_name_the_leaf_and_both_shapes(checkpoint):
    path, _ = checkpoint
    with pytest.raises(
        ValueError, match=r"leaf 'W_h': the file holds shape \(32, 8\) float64, like has shape \(64, 16\) float64"
    ):
        saving.load_tree(path, _params("lstm", H=16))


def test_another_dtype_names_the_leaf_and_both_dtypes(checkpoint):
    path, _ = checkpoint
    with pytest.raises(
        ValueError, match=r"leaf 'W_x': the file holds shape \(32, 3\) float64, like has shape \(32, 3\) float32"
    ):
        saving.load_tree(path, _params("lstm", H=8, dtype=np.float32))


def test_a_missing_and_an_extra_leaf(tmp_path):
    path = tmp_path / "t.npz"
    saving.save_tree(path, [np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match=r"t\.npz: .*missing leaves \(in like, not in the file\): '2'"):
        saving.load_tree(path, [np.zeros(2), np.zeros(3), np.zeros(4)])
    with pytest.raises(ValueError, match=r"t\.npz: .*extra leaves \(in the file, not in like\): '1'"):
        saving.load_tree(path, [np.zeros(2)])
    with pytest.raises(ValueError, match=r"t\.npz: .*extra leaves.*'1'"):
        saving.load_tree(path, [np.zeros(2), None])
    with pytest.raises(
        ValueError,
        match=r"leaf '1': the file holds an array|leaf '1': the file holds shape \(3,\) float64, like has a Python int",
    ):
        saving.load_tree(path, [np.zeros(2), 3])


def test_expect_meta_mismatch_names_the_key_and_both_values(checkpoint):
    path, params = checkpoint
    with pytest.raises(ValueError, match=r"ckpt\.npz: .*meta\['cell'\]: expected 'gru', the file holds 'lstm'"):
        saving.load_tree(path, params, expect_meta={"cell": "gru"})
    with pytest.raises(ValueError, match=r"meta\['H'\]: expected 16, the file holds 8"):
        saving.load_tree(path, params, expect_meta={"cell": "lstm", "H": 16})
    with pytest.raises(ValueError, match=r"meta\['task'\]: expected 'adding', the file has no such key"):
        saving.load_tree(path, params, expect_meta={"task": "adding"})
    assert saving.load_tree(path, params, expect_meta={"H": np.int64(8)}).W_x.shape == (32, 3)


# ----------------------------------------------------------------- bad arguments


def test_bad_arguments(tmp_path):
    params = _params("rnn")
    with pytest.raises(TypeError, match=r"path: expected a str or os\.PathLike"):
        saving.save_tree(3, params)
    with pytest.raises(TypeError, match=r"path: expected a str or os\.PathLike"):
        saving.load_tree(b"x.npz", params)
    with pytest.raises(ValueError, match="path: expected a file name"):
        saving.save_tree("", params)
    with pytest.raises(TypeError, match=r"tree: expected a tree"):
        saving.save_tree(tmp_path / "x.npz", {"W": np.zeros(2)})
    with pytest.raises(TypeError, match=r"tree\.1: expected a numpy\.ndarray or a Python int"):
        saving.save_tree(tmp_path / "x.npz", [np.zeros(2), "text"])
    with pytest.raises(TypeError, match=r"tree\.0: expected a numeric or bool array, got dtype object"):
        saving.save_tree(tmp_path / "x.npz", [np.array([None])])
    with pytest.raises(TypeError, match=r"meta\['sizes'\]\[1\]: expected JSON values.*ndarray"):
        saving.save_tree(tmp_path / "x.npz", params, meta={"sizes": (3, np.zeros(1))})
    with pytest.raises(TypeError, match=r"meta: expected str keys"):
        saving.save_tree(tmp_path / "x.npz", params, meta={1: "a"})
    with pytest.raises(ValueError, match=r"meta\['lr'\]: expected a finite number"):
        saving.save_tree(tmp_path / "x.npz", params, meta={"lr": float("nan")})
    with pytest.raises(TypeError, match=r"meta: expected a dict"):
        saving.save_tree(tmp_path / "x.npz", params, meta="lstm")
    with pytest.raises(FileNotFoundError, match=r"path: the folder .*nofolder.* does not exist"):
        saving.save_tree(tmp_path / "nofolder" / "x.npz", params)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        saving.save_tree(tmp_path, params)
    with pytest.raises(TypeError, match=r"write: expected a callable"):
        saving.atomic_write(tmp_path / "x.bin", b"data")
    assert os.listdir(tmp_path) == []
    saving.save_tree(tmp_path / "x.npz", params)
    with pytest.raises(TypeError, match=r"like: expected a tree"):
        saving.load_tree(tmp_path / "x.npz", "params")
    with pytest.raises(TypeError, match=r"expect_meta: expected a dict"):
        saving.load_tree(tmp_path / "x.npz", params, expect_meta=["cell"])


def test_bad_train_state_arguments(tmp_path):
    params = _params("rnn")
    rng_state = np.random.default_rng(0).bit_generator.state
    good = saving.TrainState(params, None, 1, rng_state, None, {})
    path = tmp_path / "s.npz"
    with pytest.raises(TypeError, match=r"state: expected a bpttlab\.saving\.TrainState"):
        saving.save_train_state(path, tuple(good))
    with pytest.raises(ValueError, match=r"state\.step: expected an int in \[0, inf\], got -1"):
        saving.save_train_state(path, good._replace(step=-1))
    with pytest.raises(TypeError, match=r"state\.step: expected an int"):
        saving.save_train_state(path, good._replace(step=1.5))
    with pytest.raises(TypeError, match=r"state\.rng_state: expected a dict"):
        saving.save_train_state(path, good._replace(rng_state=np.random.default_rng(0)))
    with pytest.raises(ValueError, match=r"rng_state\['bit_generator'\]: expected one of"):
        saving.save_train_state(path, good._replace(rng_state={"bit_generator": "Mystery"}))
    with pytest.raises(ValueError, match=r"rng_state: not a valid PCG64 state"):
        saving.save_train_state(path, good._replace(rng_state={"bit_generator": "PCG64", "state": {}}))
    with pytest.raises(ValueError, match=r"state\.log\['loss'\]: expected a 1-D array, got shape \(2, 2\)"):
        saving.save_train_state(path, good._replace(log={"loss": np.zeros((2, 2))}))
    with pytest.raises(TypeError, match=r"state\.log: expected a dict"):
        saving.save_train_state(path, good._replace(log=[1.0]))
    with pytest.raises(TypeError, match=r"state\.carry: expected a tree"):
        saving.save_train_state(path, good._replace(carry="h"))
    assert not path.exists()
    with pytest.raises(TypeError, match=r"rng_state: expected a dict"):
        saving.rng_from_state("PCG64")
    with pytest.raises(TypeError, match=r"like: expected a bpttlab\.saving\.TrainState"):
        saving.load_train_state(path, params)


# ----------------------------------------------------------------- torch


def _torch():
    return pytest.importorskip("torch", reason="torch is not installed: the torch saving tests need it")


def test_torch_state_dict_and_generator_round_trip(tmp_path):
    torch = _torch()
    from bpttlab.torch import saving as tsaving

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 5, num_layers=2)
    generator = torch.Generator().manual_seed(7)
    torch.rand(4, generator=generator)
    state = {"model": lstm.state_dict(), "rng": generator.get_state(), "step": 12, "lr": np.float64(0.01)}
    path = tmp_path / "run.pt"
    tsaving.save_state(path, state, meta={"cell": "lstm", "H": 5})
    expected = torch.rand(6, generator=generator)

    back = tsaving.load_state(path, like=state, expect_meta={"cell": "lstm"})
    assert set(back["model"]) == set(lstm.state_dict())
    for key, value in lstm.state_dict().items():
        assert back["model"][key].dtype == value.dtype and torch.equal(back["model"][key], value)
    assert back["step"] == 12 and back["lr"] == 0.01 and type(back["lr"]) is float
    restored = torch.Generator()
    restored.set_state(back["rng"])
    assert torch.equal(torch.rand(6, generator=restored), expected)
    fresh = torch.nn.LSTM(3, 5, num_layers=2)
    fresh.load_state_dict(
        tsaving.load_state(path, like={"model": fresh.state_dict(), "rng": back["rng"], "step": 0, "lr": 0.0})["model"]
    )
    assert all(torch.equal(a, b) for a, b in zip(fresh.parameters(), lstm.parameters()))
    assert tsaving.read_meta(path) == {"cell": "lstm", "H": 5}
    tsaving.save_state(path, lstm.state_dict())
    assert torch.equal(tsaving.load_state(path, like=lstm)["weight_hh_l1"], lstm.weight_hh_l1.detach())


def test_torch_refuses_pickled_objects(tmp_path):
    torch = _torch()
    from bpttlab.torch import saving as tsaving

    path = tmp_path / "evil.pt"
    torch.save({"format": tsaving.FORMAT, "version": 1, "meta": "{}", "state": {"x": _Custom()}}, path)
    with pytest.raises(ValueError, match=r"evil\.pt: refused: the file holds objects other than tensors.*_Custom"):
        tsaving.load_state(path)
    with pytest.raises(TypeError, match=r"state_dict\['x'\]: expected tensors, dicts.*got _Custom"):
        tsaving.save_state(tmp_path / "y.pt", {"x": _Custom()})
    with pytest.raises(TypeError, match=r"state_dict\['s'\]: .*a NamedTuple"):
        tsaving.save_state(tmp_path / "y.pt", {"s": LSTMState(torch.zeros(2), torch.zeros(2))})
    assert not (tmp_path / "y.pt").exists()


class _Custom:
    """An arbitrary class: torch.save pickles it, weights_only loading must refuse it."""

    def __init__(self):
        self.value = 3


def test_torch_mismatches_and_bad_files(tmp_path):
    torch = _torch()
    from bpttlab.torch import saving as tsaving

    path = tmp_path / "m.pt"
    lstm = torch.nn.LSTM(3, 4)
    tsaving.save_state(path, lstm.state_dict(), meta={"cell": "lstm"})
    with pytest.raises(
        ValueError,
        match=r"m\.pt: .*state_dict\['weight_hh_l0'\]: the file holds shape \(16, 4\) torch\.float32, "
        r"like has shape \(32, 8\) torch\.float32",
    ):
        tsaving.load_state(path, like=torch.nn.LSTM(3, 8))
    with pytest.raises(
        ValueError,
        match=r"state_dict\['weight_ih_l0'\]: the file holds shape \(16, 3\) torch\.float32, "
        r"like has shape \(16, 3\) torch\.float64",
    ):
        tsaving.load_state(path, like=torch.nn.LSTM(3, 4).double())
    with pytest.raises(ValueError, match=r"missing leaves.*state_dict\['weight_ih_l1'\]"):
        tsaving.load_state(path, like=torch.nn.LSTM(3, 4, num_layers=2))
    with pytest.raises(ValueError, match=r"extra leaves.*state_dict\['bias_hh_l0'\]"):
        tsaving.load_state(path, like={k: v for k, v in lstm.state_dict().items() if k != "bias_hh_l0"})
    with pytest.raises(ValueError, match=r"m\.pt: .*meta\['cell'\]: expected 'gru', the file holds 'lstm'"):
        tsaving.load_state(path, expect_meta={"cell": "gru"})

    data = path.read_bytes()
    with zipfile.ZipFile(path) as z:
        info = max(z.infolist(), key=lambda i: i.compress_size)
    corrupted = bytearray(data)
    corrupted[info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2] ^= 0x01
    (tmp_path / "c.pt").write_bytes(bytes(corrupted))
    with pytest.raises(ValueError, match=r"c\.pt: corrupted state file: bad CRC-32"):
        tsaving.load_state(tmp_path / "c.pt")
    (tmp_path / "t.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"t\.pt: cannot read it as a torch state file: it is truncated"):
        tsaving.load_state(tmp_path / "t.pt")
    torch.save(lstm.state_dict(), tmp_path / "plain.pt")
    with pytest.raises(ValueError, match=r"plain\.pt: a torch\.save file, but not one written by"):
        tsaving.load_state(tmp_path / "plain.pt")
    with pytest.raises(FileNotFoundError, match=r"none\.pt: no such state file"):
        tsaving.load_state(tmp_path / "none.pt")
    with pytest.raises(TypeError, match=r"state_dict: expected a dict of tensors"):
        tsaving.save_state(path, lstm)
    with pytest.raises(TypeError, match=r"like: expected None, a state dict"):
        tsaving.load_state(path, like=[1])
    with pytest.raises(TypeError, match=r"path: expected a str or os\.PathLike"):
        tsaving.save_state(None, {})
    with pytest.raises(TypeError, match=r"meta\['x'\]: expected JSON values"):
        tsaving.save_state(path, {}, meta={"x": torch.zeros(1)})
    assert torch.equal(tsaving.load_state(path)["weight_ih_l0"], lstm.weight_ih_l0.detach())


def test_the_torch_side_loads_no_numpy_backend_and_the_numpy_side_no_torch():
    code = (
        "import sys, bpttlab.torch.saving, bpttlab.saving; "
        "assert not [m for m in sys.modules if m.startswith('bpttlab.numpy')], 'numpy backend'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    code = "import sys, bpttlab.saving; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_torch_nested_mismatches_and_foreign_headers(tmp_path):
    """Nested state (an optimiser's state dict has lists of dicts): every kind of difference is named."""
    torch = _torch()
    from bpttlab.torch import saving as tsaving

    path = tmp_path / "n.pt"
    state = {"w": torch.zeros(2), "groups": [{"lr": 0.1, "params": [0, 1]}], "pair": (torch.ones(1), 3), "n": 4}
    tsaving.save_state(path, state)
    cases = [
        ({**state, "w": {"a": torch.zeros(2)}}, r"state_dict\['w'\]: the file holds a tensor, like has a dict"),
        ({**state, "n": torch.zeros(1)}, r"state_dict\['n'\]: the file holds an int, like has a tensor"),
        (
            {**state, "groups": {"lr": 0.1}},
            r"state_dict\['groups'\]: the file holds a list of 1 items, like has a dict",
        ),
        (
            {**state, "pair": (torch.ones(1),)},
            r"state_dict\['pair'\]: the file holds a tuple of 2 items, like has a tuple of 1",
        ),
        ({**state, "w": [torch.zeros(2)]}, r"state_dict\['w'\]: the file holds a tensor, like has a list of 1 items"),
        ({**state, "pair": 5}, r"state_dict\['pair'\]: the file holds a tuple of 2 items, like has an int"),
        (
            {**state, "groups": [{"lr": 0.1, "params": [0, 1], "momentum": 0.9}]},
            r"missing leaves.*state_dict\['groups'\]\[0\]\['momentum'\]",
        ),
    ]
    for like, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            tsaving.load_state(path, like=like)
    assert tsaving.load_state(path, like=state)["groups"] == [{"lr": 0.1, "params": [0, 1]}]
    with pytest.raises(TypeError, match=r"state_dict: expected str or int keys, got \(1, 2\) \(tuple\)"):
        tsaving.save_state(path, {(1, 2): torch.zeros(1)})
    with pytest.raises(TypeError, match=r"state_dict: expected str or int keys, got True \(bool\)"):
        tsaving.save_state(path, {True: 1})
    with pytest.raises(IsADirectoryError, match=r"is a folder, expected a state file"):
        tsaving.load_state(tmp_path)
    headers = [
        (
            {"format": tsaving.FORMAT, "version": 99, "meta": "{}", "state": {}},
            r"format version 99; this bpttlab reads version 1",
        ),
        ({"format": tsaving.FORMAT, "version": "1", "meta": "{}", "state": {}}, r"format version '1'"),
        (
            {"format": tsaving.FORMAT, "version": 1, "meta": "{not json", "state": {}},
            r"corrupted state file: its meta is not JSON",
        ),
        ({"format": tsaving.FORMAT, "version": 1, "state": {}}, r"corrupted state file: its meta is not JSON"),
        ({"format": tsaving.FORMAT, "version": 1, "meta": "{}"}, r"corrupted state file: it holds no state"),
        ([1, 2], r"a torch\.save file, but not one written by bpttlab\.torch\.saving\.save_state"),
    ]
    for k, (saved, pattern) in enumerate(headers):
        foreign = tmp_path / f"h{k}.pt"
        torch.save(saved, foreign)
        with pytest.raises(ValueError, match=rf"h{k}\.pt: {pattern}"):
            tsaving.load_state(foreign)


_TORCH_CHILD = (
    r"""
import sys, time
import torch
import bpttlab.saving as saving
import bpttlab.torch.saving as tsaving
"""
    + _SLOW
    + r"""

real = saving.atomic_write
tsaving.atomic_write = lambda path, write: real(path, lambda f: write(Slow(f, 0.1)))
state = {f"w{k}": torch.full((256, 256), -1.0) for k in range(64)}  # values unlike the good ones
while True:
    tsaving.save_state(sys.argv[1], state, meta={"good": False})
"""
)


def test_a_torch_save_killed_with_sigkill_leaves_the_previous_file(tmp_path):
    torch = _torch()
    from bpttlab.torch import saving as tsaving

    path = tmp_path / "model.pt"
    good = {f"w{k}": torch.arange(256 * 256, dtype=torch.float32).reshape(256, 256) + k for k in range(64)}
    tsaving.save_state(path, good, meta={"good": True})
    before = path.read_bytes()
    leftovers = kill_during_save(path, _TORCH_CHILD)
    assert len(leftovers) == 1 and 0 < leftovers[0].stat().st_size < len(before)
    assert path.read_bytes() == before
    loaded = tsaving.load_state(path, like=good, expect_meta={"good": True})
    assert all(torch.equal(loaded[k], v) for k, v in good.items())
