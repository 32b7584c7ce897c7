"""Saving and loading torch state dicts: atomic writes, read back without unpickling objects.

:func:`save_state` writes ``torch.save`` output through ``bpttlab.saving.atomic_write``
(a temporary file in the same folder, fsynced, renamed onto the target), so a run killed
during a save leaves the previous file intact. :func:`load_state` reads it with
``torch.load(path, weights_only=True, map_location="cpu")``, which rebuilds tensors,
dicts, lists, tuples and plain Python values and refuses every other object, so a file
cannot run code when it is loaded.

File format (``torch.save``'s zip archive; format version 1) holding one dict::

    {"format": "bpttlab.torch.saving",
     "version": 1,
     "meta": "<JSON text of the caller's meta dict>",
     "state": <the state dict: str (or int) keys; values
               tensors, nested dicts, lists, tuples, ints,
               floats, bools, strs or None>}

A module's ``state_dict()`` (an OrderedDict, with its ``_metadata``), an optimiser's
``state_dict()``, a ``torch.Generator().get_state()`` tensor and plain numbers all fit.
Tensors are saved detached and cloned (a view does not drag its whole storage along) on
the device they are on; they load onto the CPU.

torch does not check the archive's CRC-32 checksums when it loads, so :func:`load_state`
first checks them with ``zipfile`` (one extra read of the file): a flipped byte is an
error, not a silently different weight. With a template ``like`` (a state dict, a dict
of tensors or a ``torch.nn.Module``), keys, shapes and dtypes are compared and every
difference is reported with the messages of ``bpttlab.saving``. A killed save leaves
``.<name>.tmp-*`` next to the target (see ``bpttlab.saving.leftover_temp_files``).

This module imports nothing of the NumPy backend.
"""

from __future__ import annotations

import collections
import json
import os
import pickle
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from bpttlab.saving import (
    atomic_write,
    check_expected_meta,
    check_meta,
    check_path,
    describe_array,
    mismatch_error,
)

__all__ = ["FORMAT", "VERSION", "load_state", "read_meta", "save_state"]

FORMAT = "bpttlab.torch.saving"
VERSION = 1
_DICTS = (dict, collections.OrderedDict)
_SEQUENCES = (list, tuple)


def _key_path(prefix: str, key: Any) -> str:
    return f"{prefix}[{key!r}]"


def _plain(name: str, value: Any) -> Any:
    """``value`` as what ``torch.load(weights_only=True)`` reads back (tensors detached and cloned), else a TypeError."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":  # before float: np.float64 is a float
        return value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if type(value) in _DICTS:
        out = type(value)()
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"{name}: expected str or int keys, got {key!r} ({type(key).__name__})")
            out[key] = _plain(_key_path(name, key), item)
        metadata = getattr(value, "_metadata", None)
        if metadata is not None:  # a module's state_dict: the versions its load_state_dict reads
            out._metadata = _plain(f"{name}._metadata", metadata)
        return out
    if type(value) in _SEQUENCES:
        return type(value)(_plain(f"{name}[{k}]", item) for k, item in enumerate(value))
    what = type(value).__name__
    hint = " (a NamedTuple: pass value._asdict())" if isinstance(value, tuple) else ""
    raise TypeError(
        f"{name}: expected tensors, dicts, lists, tuples, numbers, str or None (what torch.load(weights_only=True) "
        f"reads back), got {what}{hint}"
    )


def save_state(path: str | os.PathLike, state_dict: Mapping[Any, Any], meta: Mapping[str, Any] | None = None) -> None:
    """Write ``state_dict`` and ``meta`` to ``path`` with ``torch.save``, atomically.

    - ``path``: str or os.PathLike; its folder must exist.
    - ``state_dict``: a dict (or OrderedDict) whose values are tensors, nested dicts, lists,
      tuples, numbers, str or None: ``model.state_dict()``, ``optimiser.state_dict()``,
      ``{"model": ..., "rng": generator.get_state(), "step": 10}``.
    - ``meta``: a dict of JSON values (the cell, sizes, step, ...), checked on loading by
      ``expect_meta``.
    """
    target = check_path("path", path)
    if type(state_dict) not in _DICTS:
        raise TypeError(
            f"state_dict: expected a dict of tensors (model.state_dict() for example), got {type(state_dict).__name__}"
        )
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "meta": json.dumps(check_meta("meta", meta)),
        "state": _plain("state_dict", state_dict),
    }
    atomic_write(target, lambda f: torch.save(payload, f))


def _read(path: Any) -> tuple[str, dict, Any]:
    """(the file's name for messages, its meta, its state) with every read error turned into a clear one."""
    target = check_path("path", path)
    where = str(target)
    if not target.exists():
        raise FileNotFoundError(f"{where}: no such state file")
    if target.is_dir():
        raise IsADirectoryError(f"{where}: is a folder, expected a state file")
    try:
        with zipfile.ZipFile(target) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        if isinstance(exc, PermissionError):
            raise
        raise ValueError(
            f"{where}: cannot read it as a torch state file: it is truncated, corrupted or not a torch.save archive "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if bad is not None:
        raise ValueError(f"{where}: corrupted state file: bad CRC-32 checksum in its member {bad!r}")
    try:
        saved = torch.load(target, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if "WeightsUnpickler error" in line]
        first = lines[0].split("WeightsUnpickler error:", 1)[-1].strip() if lines else type(exc).__name__
        raise ValueError(
            f"{where}: refused: the file holds objects other than tensors and plain Python values, which "
            f"torch.load(weights_only=True) does not unpickle; load only files from save_state ({first})"
        ) from None
    except (RuntimeError, EOFError, KeyError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"{where}: cannot read it as a torch state file: it is truncated or corrupted ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(f"{where}: a torch.save file, but not one written by bpttlab.torch.saving.save_state")
    version = saved.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise ValueError(f"{where}: format version {version!r}; this bpttlab reads version {VERSION} (update bpttlab)")
    try:
        meta = json.loads(saved["meta"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: corrupted state file: its meta is not JSON ({exc})") from None
    if "state" not in saved:
        raise ValueError(f"{where}: corrupted state file: it holds no state")
    return where, meta, saved["state"]


def read_meta(path: str | os.PathLike) -> dict:
    """The ``meta`` dict stored by :func:`save_state`."""
    return _read(path)[1]


def _kind(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return "a tensor"
    if isinstance(value, Mapping):
        return "a dict"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _compare(got: Any, like: Any, name: str, missing: list, extra: list, problems: list) -> None:
    """Walk ``like`` and the loaded value together, collecting every difference."""
    if isinstance(like, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            problems.append(f"{name}: the file holds {_kind(got)}, like has a tensor")
        elif tuple(got.shape) != tuple(like.shape) or got.dtype != like.dtype:
            problems.append(
                f"{name}: the file holds {describe_array(got.shape, got.dtype)}, like has {describe_array(like.shape, like.dtype)}"
            )
        return
    if isinstance(like, Mapping):
        if not isinstance(got, Mapping):
            problems.append(f"{name}: the file holds {_kind(got)}, like has a dict")
            return
        missing.extend(_key_path(name, k) for k in like if k not in got)
        extra.extend(_key_path(name, k) for k in got if k not in like)
        for key in like:
            if key in got:
                _compare(got[key], like[key], _key_path(name, key), missing, extra, problems)
        return
    if isinstance(like, (list, tuple)):
        if not isinstance(got, (list, tuple)) or len(got) != len(like):
            problems.append(f"{name}: the file holds {_kind(got)}, like has {_kind(like)}")
            return
        for k, (g, item) in enumerate(zip(got, like)):
            _compare(g, item, f"{name}[{k}]", missing, extra, problems)
        return
    if isinstance(got, (torch.Tensor, Mapping, list, tuple)):
        problems.append(f"{name}: the file holds {_kind(got)}, like has {_kind(like)}")


def load_state(path: str | os.PathLike, like: Any = None, expect_meta: Mapping[str, Any] | None = None) -> Any:
    """Read a state dict written by :func:`save_state`; tensors land on the CPU.

    - ``path``: the file (str or os.PathLike); read with
      ``torch.load(path, weights_only=True, map_location="cpu")`` after its checksums are checked.
    - ``like``: None, or the state expected: a state dict, a dict of tensors, or a
      ``torch.nn.Module`` (its ``state_dict()``). Keys, tensor shapes and dtypes must match;
      plain values (a learning rate, a step) are not compared.
    - ``expect_meta``: a dict; every key must be in the file's meta with the same value.

    Raises FileNotFoundError for a missing file and ValueError, naming the file, for a
    truncated, corrupted or foreign file, one holding pickled objects other than tensors
    and plain values, missing or extra keys, a tensor of another shape or dtype, and
    metadata that differs from ``expect_meta``.
    """
    if isinstance(like, torch.nn.Module):
        like = like.state_dict()
    if like is not None and not isinstance(like, Mapping):
        raise TypeError(
            f"like: expected None, a state dict (a dict of tensors) or a torch.nn.Module, got {type(like).__name__}"
        )
    check_meta("expect_meta", expect_meta)
    where, meta, state = _read(path)
    check_expected_meta(where, meta, expect_meta)
    if like is not None:
        missing: list[str] = []
        extra: list[str] = []
        problems: list[str] = []
        _compare(state, like, "state_dict", missing, extra, problems)
        error = mismatch_error(where, missing, extra, problems)
        if error is not None:
            raise error
    return state
