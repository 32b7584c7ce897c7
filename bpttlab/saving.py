"""Saving and loading trees of arrays and training state: no pickle, atomic writes.

A checkpoint written here is read back with ``np.load(path, allow_pickle=False)``, so a
file can never run code when it is loaded, and a save never damages the file it replaces:
:func:`atomic_write` writes a temporary file in the same folder, flushes and fsyncs it,
and renames it onto the target (``os.replace``), so a run killed during a save leaves the
previous checkpoint intact.

File format (an ``.npz`` archive as written by ``np.savez``; format version 1):

- one ``.npy`` member per leaf of the tree, named by the leaf's dotted path from
  :func:`bpttlab.tree.paths` (``"cell.W_xh"``, ``"m.readout.b_y"``, ``"0.h"``; the empty
  name ``""`` when the tree is a single array). Array leaves keep their shape and dtype;
  Python ``int``, ``float`` and ``bool`` leaves (such as ``AdamState.step``) are stored as
  0-d int64, float64 and bool arrays and come back as Python numbers. ``None`` leaves are
  not stored (they come back as ``None`` where the template has ``None``);
- one member ``__bpttlab__``: a uint8 array holding UTF-8 JSON
  ``{"format": "bpttlab.saving", "version": 1, "kind": "tree" | "train_state",
  "leaves": {path: "array" | "int" | "float" | "bool"}, "nodes": {path: container type
  name}, "meta": {...}}``; a training state adds ``"train_state": {"step": int,
  "rng_state": {...}, "log": [names]}`` (its log arrays are the leaves ``log.0``,
  ``log.1``, ...). ``meta`` is the caller's JSON object (the cell name, sizes, ...).

Reading needs a template tree ``like`` (for example freshly initialised parameters): the
loaded tree has ``like``'s container types, and every difference between the file and the
template (a missing or extra leaf, another shape or dtype) is an error that names the file
and the leaf. Container types are not stored as classes: only their names, for messages.

A save killed before its rename leaves a temporary file ``.<name>.tmp-<random>`` next to
the target. It never affects loading and may be removed; :func:`leftover_temp_files`
lists them.

This module is backend-neutral (NumPy only, never torch); ``bpttlab.torch.saving`` writes
torch state dicts with the same atomic write and the same checks and messages, which it
imports from here.
"""

from __future__ import annotations

import json
import numbers
import os
import pathlib
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

from bpttlab._checks import check_callable, check_int, check_type
from bpttlab.tree import paths, tree_map

__all__ = [
    "FORMAT",
    "VERSION",
    "TrainState",
    "atomic_write",
    "leftover_temp_files",
    "load_train_state",
    "load_tree",
    "read_meta",
    "rng_from_state",
    "save_train_state",
    "save_tree",
]

FORMAT = "bpttlab.saving"
VERSION = 1
HEADER_KEY = "__bpttlab__"
# The bit generators of numpy.random whose state is plain ints, strings and int arrays.
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
_INT64 = (-(2**63), 2**63 - 1)


# ----------------------------------------------------------------- shared helpers (also used by bpttlab.torch.saving)


def check_path(name: str, path: Any) -> pathlib.Path:
    """A file path argument: a str or an ``os.PathLike`` naming a str path; returned as a pathlib.Path."""
    if isinstance(path, (bytes, bytearray)) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a str or os.PathLike (a pathlib.Path), got {type(path).__name__}")
    p = os.fspath(path)
    if not isinstance(p, str):
        raise TypeError(f"{name}: expected a str path, got a {type(p).__name__} path")
    if not p:
        raise ValueError(f"{name}: expected a file name, got an empty string")
    return pathlib.Path(p)


def _json_value(name: str, value: Any) -> Any:
    """``value`` as plain JSON (tuples become lists, NumPy scalars Python numbers), else a TypeError naming where."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (numbers.Integral, np.integer)):
        return int(value)
    if isinstance(value, (numbers.Real, np.floating)):
        v = float(value)
        if not np.isfinite(v):
            raise ValueError(f"{name}: expected a finite number (JSON has no NaN or inf), got {v}")
        return v
    if isinstance(value, (list, tuple)):
        return [_json_value(f"{name}[{k}]", item) for k, item in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{name}: expected str keys (JSON object), got the key {key!r} ({type(key).__name__})")
            out[key] = _json_value(f"{name}[{key!r}]", item)
        return out
    raise TypeError(
        f"{name}: expected JSON values (None, bool, int, float, str, lists and dicts of them), got {type(value).__name__}"
    )


def check_meta(name: str, meta: Any) -> dict:
    """A metadata argument: None (meaning ``{}``) or a dict with str keys and JSON values; returned as plain JSON."""
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise TypeError(
            f"{name}: expected a dict of JSON values (for example {{'cell': 'lstm'}}), got {type(meta).__name__}"
        )
    return _json_value(name, meta)


def _same_json(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def check_expected_meta(where: str, meta: dict, expect_meta: Any) -> None:
    """Raise ValueError unless every key of ``expect_meta`` is in ``meta`` with the same (JSON) value.

    ``where`` names the file; the message names each key that differs and both values.
    """
    expected = check_meta("expect_meta", expect_meta)
    problems = []
    for key, want in expected.items():
        if key not in meta:
            problems.append(f"meta[{key!r}]: expected {want!r}, the file has no such key (its keys: {sorted(meta)})")
        elif not _same_json(meta[key], want):
            problems.append(f"meta[{key!r}]: expected {want!r}, the file holds {meta[key]!r}")
    if problems:
        raise ValueError(f"{where}: the checkpoint's metadata does not match expect_meta: " + "; ".join(problems))


def mismatch_error(
    where: str, missing: Iterable[str], extra: Iterable[str], problems: Iterable[str], hints: Iterable[str] = ()
) -> ValueError | None:
    """The ValueError for a file that does not match its template (None when it matches).

    ``missing``: leaves of the template not in the file; ``extra``: leaves of the file not in
    the template; ``problems``: one line per leaf of another shape, dtype or kind; ``hints``:
    further context (container types that differ).
    """
    missing, extra, problems, hints = list(missing), list(extra), list(problems), list(hints)
    if not (missing or extra or problems):
        return None
    parts = []
    if missing:
        parts.append(f"missing leaves (in like, not in the file): {', '.join(missing)}")
    if extra:
        parts.append(f"extra leaves (in the file, not in like): {', '.join(extra)}")
    parts.extend(problems)
    parts.extend(hints)
    return ValueError(f"{where}: the checkpoint does not match like: " + "; ".join(parts))


def describe_array(shape: Any, dtype: Any) -> str:
    """``shape (3, 4) float64``: how the messages describe an array or tensor."""
    return f"shape {tuple(int(s) for s in shape)} {dtype}"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_folder(folder: pathlib.Path) -> None:
    if os.name == "nt":  # Windows cannot open a folder; its rename is durable enough
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Any], Any]) -> None:
    """Write a file so that it is either its old content or its complete new content, never a mix.

    ``write(fileobj)`` writes the content to a binary temporary file ``.<name>.tmp-<random>``
    created in the folder of ``path``; the file is flushed and fsynced, renamed onto ``path``
    with ``os.replace`` (atomic on POSIX and Windows), and the folder is fsynced so that the
    rename survives a power loss. On any exception (or KeyboardInterrupt) the temporary
    file is removed, ``path`` is untouched and the exception propagates. A process killed
    before the rename leaves the temporary file behind (see :func:`leftover_temp_files`).
    The new file keeps the permissions of the file it replaces (a new file gets
    ``0o666 & ~umask``, as ``open`` would give it).

    - ``path``: str or os.PathLike; its folder must exist; not a folder itself.
    - ``write``: a callable taking the open binary file object.
    """
    target = check_path("path", path)
    check_callable("write", write, "a callable write(fileobj)")
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"path: the folder {str(folder)!r} of {str(target)!r} does not exist")
    if target.is_dir():
        raise IsADirectoryError(f"path: {str(target)!r} is a folder, expected a file name")
    mode = (target.stat().st_mode & 0o7777) if target.exists() else (0o666 & ~_umask())
    tmp = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{target.name}.tmp-", delete=False, mode="wb")
    try:
        with tmp:
            write(tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp.name, mode)
        os.replace(tmp.name, target)
    except BaseException:
        try:
            os.unlink(tmp.name)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


def leftover_temp_files(path: str | os.PathLike) -> list[pathlib.Path]:
    """The temporary files ``.<name>.tmp-*`` that saves of ``path`` killed before their rename left behind.

    They never affect loading ``path``; remove them when no save of ``path`` is running.
    """
    target = check_path("path", path)
    if not target.parent.is_dir():
        return []
    return sorted(target.parent.glob(f".{target.name}.tmp-*"))


# ----------------------------------------------------------------- trees of NumPy arrays


def _leaf_kind(name: str, leaf: Any) -> str:
    if isinstance(leaf, np.ndarray):
        if leaf.dtype.kind not in "biufc":
            raise TypeError(
                f"{name}: expected a numeric or bool array, got dtype {leaf.dtype} "
                "(object, string and structured arrays are not saved: they would need pickle)"
            )
        return "array"
    if isinstance(leaf, (bool, np.bool_)):
        return "bool"
    if isinstance(leaf, (numbers.Integral, np.integer)):
        return "int"
    if isinstance(leaf, (numbers.Real, np.floating)):
        return "float"
    hint = "; save torch tensors with bpttlab.torch.saving" if type(leaf).__module__.startswith("torch") else ""
    raise TypeError(
        f"{name}: expected a numpy.ndarray or a Python int, float or bool at the leaves, got {type(leaf).__name__}{hint}"
    )


def _leaf_name(path: str) -> str:
    return repr(path) if path else "'' (the tree itself)"


def _node_types(tree: Any, prefix: str = "") -> dict[str, str]:
    """{dotted path: container type name} for every container of the tree."""
    if not isinstance(tree, (tuple, list)):
        return {}
    out = {prefix: type(tree).__name__}
    names = getattr(tree, "_fields", None) or [str(i) for i in range(len(tree))]
    for name, item in zip(names, tree):
        out.update(_node_types(item, f"{prefix}.{name}" if prefix else name))
    return out


def _check_tree_arg(name: str, tree: Any) -> list[tuple[str, Any, str]]:
    """(path, leaf, kind) for every leaf; TypeError for a value that is not a tree of arrays and numbers."""
    if not isinstance(tree, (tuple, list, np.ndarray)):
        raise TypeError(
            f"{name}: expected a tree (a NamedTuple, tuple or list of arrays, or an array), got {type(tree).__name__}"
        )
    found = []
    for path, leaf in paths(tree):
        found.append((path, leaf, _leaf_kind(f"{name}.{path}" if path else name, leaf)))
    return found


def _stored(path: str, leaf: Any, kind: str) -> np.ndarray:
    if kind == "array":
        return leaf
    if kind == "int":
        v = int(leaf)
        if not _INT64[0] <= v <= _INT64[1]:
            raise ValueError(f"tree.{path}: an int leaf must fit in int64, got {v}")
        return np.array(v, dtype=np.int64)
    return np.array(leaf, dtype=np.float64 if kind == "float" else np.bool_)


def _write(path: Any, tree: Any, meta: Any, kind: str, extra: dict | None = None, tree_name: str = "tree") -> None:
    target = check_path("path", path)
    leaves = _check_tree_arg(tree_name, tree)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "leaves": {p: k for p, _, k in leaves},
        "nodes": _node_types(tree),
        "meta": check_meta("meta", meta),
    }
    if extra:
        header.update(extra)
    arrays = {p: _stored(p, leaf, k) for p, leaf, k in leaves}
    arrays[HEADER_KEY] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    atomic_write(target, lambda f: _savez(f, arrays))


def _savez(fileobj: Any, arrays: dict[str, np.ndarray]) -> None:
    """What ``np.savez(fileobj, allow_pickle=False, **arrays)`` writes (a stored zip of ``<name>.npy``
    members), written out because a leaf may be named ``file`` or ``allow_pickle``, which
    ``np.savez`` takes as its own arguments."""
    with zipfile.ZipFile(fileobj, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def save_tree(path: str | os.PathLike, tree: Any, meta: Mapping[str, Any] | None = None) -> None:
    """Write ``tree`` (parameters, optimiser state, a recurrent state, ...) to the ``.npz`` file ``path``, atomically.

    - ``path``: str or os.PathLike; no suffix is added (the name is used as given).
    - ``tree``: a NamedTuple, tuple or list (nested) of NumPy arrays (numeric or bool) and
      Python ints, floats or bools, or one array; ``None`` leaves are skipped.
    - ``meta``: a dict of JSON values stored with the arrays (the cell, sizes, step, ...),
      checked on loading by ``expect_meta``.

    The format is described in the module docstring; :func:`load_tree` reads it.
    """
    _write(path, tree, meta, "tree")


def _read(path: Any) -> tuple[str, dict, dict[str, np.ndarray]]:
    """(the file's name for messages, its header, its arrays) with every read error turned into a clear one."""
    target = check_path("path", path)
    where = str(target)
    if not target.exists():
        raise FileNotFoundError(f"{where}: no such checkpoint file")
    if target.is_dir():
        raise IsADirectoryError(f"{where}: is a folder, expected a checkpoint file")
    broken = (zipfile.BadZipFile, ValueError, EOFError, KeyError, UnicodeDecodeError, struct.error, zlib.error, OSError)
    try:
        loaded = np.load(target, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError(f"{where}: holds a single .npy array, not a bpttlab checkpoint (.npz archive)")
        with loaded:
            if HEADER_KEY not in loaded.files:
                raise ValueError(
                    f"{where}: an .npz archive but not a bpttlab checkpoint (it has no {HEADER_KEY} entry)"
                )
            header = json.loads(bytes(loaded[HEADER_KEY]).decode("utf-8"))
            arrays = {name: loaded[name] for name in loaded.files if name != HEADER_KEY}
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except ValueError as exc:
        if str(exc).startswith(where + ":"):
            raise
        raise ValueError(
            f"{where}: cannot read it as a checkpoint: the file is truncated, corrupted or not an .npz archive ({exc})"
        ) from exc
    except broken as exc:
        raise ValueError(
            f"{where}: cannot read it as a checkpoint: the file is truncated, corrupted or not an .npz archive "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(
            f"{where}: not a bpttlab checkpoint (its header names the format {header.get('format') if isinstance(header, dict) else None!r})"
        )
    version = header.get("version")
    if not isinstance(version, int) or version > VERSION or version < 1:
        raise ValueError(f"{where}: format version {version!r}; this bpttlab reads version {VERSION} (update bpttlab)")
    listed = header.get("leaves", {})
    if set(listed) != set(arrays):
        raise ValueError(
            f"{where}: corrupted checkpoint: its header lists the leaves {sorted(listed)}, the archive holds {sorted(arrays)}"
        )
    return where, header, arrays


def read_meta(path: str | os.PathLike) -> dict:
    """The ``meta`` dict stored in a checkpoint written by :func:`save_tree` or :func:`save_train_state`."""
    return _read(path)[1]["meta"]


def _match(where: str, header: dict, arrays: dict[str, np.ndarray], like: Any, like_name: str = "like") -> Any:
    """The tree of ``like``'s structure filled from ``arrays``; ValueError naming every difference."""
    template = _check_tree_arg(like_name, like) if like is not None else []
    kinds = header["leaves"]
    want = {p: (leaf, k) for p, leaf, k in template}
    missing = [_leaf_name(p) for p in want if p not in arrays]
    extra = [_leaf_name(p) for p in kinds if p not in want]
    problems = []
    for p, (leaf, k) in want.items():
        if p not in arrays:
            continue
        got, got_kind = arrays[p], kinds[p]
        if got_kind != k:
            held = describe_array(got.shape, got.dtype) if got_kind == "array" else f"a Python {got_kind}"
            problems.append(
                f"leaf {_leaf_name(p)}: the file holds {held}, like has {'an array' if k == 'array' else 'a Python ' + k}"
            )
        elif k == "array" and (got.shape != leaf.shape or got.dtype != leaf.dtype):
            problems.append(
                f"leaf {_leaf_name(p)}: the file holds {describe_array(got.shape, got.dtype)}, "
                f"like has {describe_array(leaf.shape, leaf.dtype)}"
            )
    hints = []
    if missing or extra:
        theirs, ours = header.get("nodes", {}), _node_types(like)
        for node in sorted(set(theirs) & set(ours)):
            if theirs[node] != ours[node]:
                hints.append(f"container {_leaf_name(node)}: {theirs[node]} in the file, {ours[node]} in like")
    error = mismatch_error(where, missing, extra, problems, hints)
    if error is not None:
        raise error
    values = []
    for p, leaf, k in template:
        got = arrays[p]
        values.append(got if k == "array" else {"int": int, "float": float, "bool": bool}[k](got[()]))
    it = iter(values)
    return tree_map(lambda _: next(it), like)


def load_tree(path: str | os.PathLike, like: Any, expect_meta: Mapping[str, Any] | None = None) -> Any:
    """Read a tree written by :func:`save_tree`, with the structure of the template ``like``.

    - ``path``: the file (str or os.PathLike); read with ``np.load(path, allow_pickle=False)``.
    - ``like``: a tree of the structure expected (for example freshly initialised
      parameters of the same cell, sizes and dtype); its values are not used. The result
      has ``like``'s container types.
    - ``expect_meta``: a dict; every key must be in the file's meta with the same value.

    Raises FileNotFoundError for a missing file and ValueError, naming the file, for a
    truncated, corrupted or foreign file, for missing or extra leaves, a leaf of another
    shape or dtype, and metadata that differs from ``expect_meta``.
    """
    _check_tree_arg("like", like)
    check_meta("expect_meta", expect_meta)
    where, header, arrays = _read(path)
    check_expected_meta(where, header.get("meta", {}), expect_meta)
    return _match(where, header, arrays, like)


# ----------------------------------------------------------------- training state


class TrainState(NamedTuple):
    """Everything a training run needs to continue where it stopped.

    - ``params``: the parameter tree; ``opt_state``: the optimiser's state tree (an
      ``AdamState``, or None for SGD); ``step``: the number of steps done (int);
    - ``rng_state``: ``rng.bit_generator.state`` of the run's ``numpy.random.Generator``
      (plain ints and str; int arrays of MT19937, Philox and SFC64 are kept as lists);
      :func:`rng_from_state` rebuilds the generator;
    - ``carry``: the hidden state carried between the chunks of the streams (a tree or None);
    - ``log``: the log so far, a dict of 1-D arrays (``TrainLog._asdict()`` for example).
    """

    params: Any
    opt_state: Any
    step: int
    rng_state: dict
    carry: Any
    log: dict


class _Stored(NamedTuple):
    """The arrays of a TrainState as one tree (the file's leaves ``params.*``, ``opt_state.*``, ``carry.*``, ``log.<k>``)."""

    params: Any
    opt_state: Any
    carry: Any
    log: list


def _plain_state(name: str, state: Any) -> Any:
    if isinstance(state, np.ndarray):
        if state.dtype.kind not in "iu":
            raise TypeError(f"{name}: expected an int array in a bit-generator state, got dtype {state.dtype}")
        return state.tolist()
    if isinstance(state, Mapping):
        return {k: _plain_state(f"{name}[{k!r}]", v) for k, v in state.items()}
    return state


def rng_from_state(rng_state: Mapping[str, Any]) -> np.random.Generator:
    """A ``numpy.random.Generator`` in the exact state ``rng_state`` (``rng.bit_generator.state``).

    Its next draws equal those the generator whose state was taken would have made.
    ``rng_state`` may hold the int arrays as lists (as :func:`load_train_state` returns it).
    """
    check_type("rng_state", rng_state, Mapping, "a dict (rng.bit_generator.state)")
    name = rng_state.get("bit_generator")
    if name not in BIT_GENERATORS:
        raise ValueError(f"rng_state['bit_generator']: expected one of {list(BIT_GENERATORS)}, got {name!r}")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = dict(rng_state)
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ValueError(f"rng_state: not a valid {name} state ({type(exc).__name__}: {exc})") from None
    return np.random.Generator(bit_generator)


def _check_rng_state(rng_state: Any) -> dict:
    check_type("state.rng_state", rng_state, Mapping, "a dict (rng.bit_generator.state)")
    plain = _json_value("state.rng_state", _plain_state("state.rng_state", rng_state))
    try:
        rng_from_state(plain)
    except ValueError as exc:
        raise ValueError(f"state.{exc}") from None
    return plain


def _check_log(log: Any) -> tuple[list[str], list[np.ndarray]]:
    check_type("state.log", log, Mapping, "a dict of 1-D arrays (TrainLog._asdict() for example)")
    names, arrays = [], []
    for key, value in log.items():
        name = f"state.log[{key!r}]"
        if not isinstance(key, str):
            raise TypeError(f"state.log: expected str keys, got {key!r} ({type(key).__name__})")
        if isinstance(value, (list, tuple)):
            value = np.asarray(value)
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{name}: expected a 1-D numpy.ndarray (or a list of numbers), got {type(value).__name__}")
        _leaf_kind(name, value)
        if value.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D array, got shape {value.shape}")
        names.append(key)
        arrays.append(value)
    return names, arrays


def save_train_state(path: str | os.PathLike, state: TrainState, meta: Mapping[str, Any] | None = None) -> None:
    """Write a :class:`TrainState` to the ``.npz`` file ``path``, atomically (the format of :func:`save_tree`).

    The trees ``params``, ``opt_state`` and ``carry`` and the log's arrays are the file's
    arrays; ``step``, ``rng_state`` and the log's names go into the JSON header next to
    ``meta`` (a dict of JSON values: the cell, sizes, task, ...).
    """
    target = check_path("path", path)
    check_type("state", state, TrainState, "a bpttlab.saving.TrainState")
    step = check_int("state.step", state.step, 0)
    rng_state = _check_rng_state(state.rng_state)
    names, log = _check_log(state.log)
    check_type("state.params", state.params, (tuple, list, np.ndarray), "a tree of arrays (a NamedTuple of them)")
    for field in ("opt_state", "carry"):
        value = getattr(state, field)
        if value is not None:
            _check_tree_arg(f"state.{field}", value)
    tree = _Stored(state.params, state.opt_state, state.carry, log)
    extra = {"train_state": {"step": step, "rng_state": rng_state, "log": names}}
    _write(target, tree, meta, "train_state", extra, tree_name="state")


def load_train_state(
    path: str | os.PathLike, like: TrainState, expect_meta: Mapping[str, Any] | None = None
) -> TrainState:
    """Read a :class:`TrainState` written by :func:`save_train_state`.

    - ``like``: a TrainState whose ``params``, ``opt_state`` and ``carry`` are templates of
      the trees expected (None where nothing was saved); its ``step``, ``rng_state`` and
      ``log`` are not used (the log's length comes from the file).
    - ``expect_meta``: as in :func:`load_tree`.

    The errors are those of :func:`load_tree`, and a ValueError for a file that holds a
    plain tree. ``rng_state`` comes back as plain JSON (lists for int arrays); pass it to
    :func:`rng_from_state`.
    """
    check_type("like", like, TrainState, "a bpttlab.saving.TrainState (templates for params, opt_state, carry)")
    check_type("like.params", like.params, (tuple, list, np.ndarray), "a tree of arrays (a NamedTuple of them)")
    for field in ("opt_state", "carry"):
        value = getattr(like, field)
        if value is not None:
            _check_tree_arg(f"like.{field}", value)
    check_meta("expect_meta", expect_meta)
    where, header, arrays = _read(path)
    if header.get("kind") != "train_state" or not isinstance(header.get("train_state"), dict):
        raise ValueError(f"{where}: holds a tree written by save_tree, not a training state; read it with load_tree")
    check_expected_meta(where, header.get("meta", {}), expect_meta)
    info = header["train_state"]
    names = info["log"]
    log_like = [arrays.get(f"log.{k}") for k in range(len(names))]
    if any(a is None for a in log_like):
        raise ValueError(
            f"{where}: corrupted checkpoint: the header lists {len(names)} log arrays, some are not in the archive"
        )
    template = _Stored(like.params, like.opt_state, like.carry, log_like)
    stored = _match(where, header, arrays, template)
    return TrainState(
        params=stored.params,
        opt_state=stored.opt_state,
        step=int(info["step"]),
        rng_state=info["rng_state"],
        carry=stored.carry,
        log=dict(zip(names, stored.log)),
    )
