"""Character-level text data: the shipped corpus, a vocabulary and batches for language models."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import cast

import numpy as np

from bpttlab._checks import (
    check_choice,
    check_dtype_arg,
    check_generator,
    check_int_array,
    check_positive_int,
    check_type,
)
from bpttlab.tasks import TaskBatch

DATA = pathlib.Path(__file__).resolve().parent / "data"
CORPORA = {"genesis_kjv": "genesis_kjv.txt"}


def load_text(name: str = "genesis_kjv") -> str:
    """A corpus shipped with bpttlab (see bpttlab/data/README.md for its source and licence)."""
    check_choice("name", name, sorted(CORPORA))
    return (DATA / CORPORA[name]).read_text(encoding="ascii")


class CharVocab:
    """A fixed alphabet: characters <-> integer ids (sorted, so the mapping is reproducible)."""

    def __init__(self, text: str) -> None:
        check_type("text", text, str, "a non-empty str to build the alphabet from")
        if not text:
            raise ValueError("text: expected a non-empty str to build the alphabet from, got ''")
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """ids (len(text),) int64; a character outside the alphabet raises ValueError naming it."""
        check_type("text", text, str)
        unknown = sorted(set(text) - self.index.keys())
        if unknown:
            raise ValueError(f"text: characters {unknown!r} are not in the vocabulary")
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, ids: np.ndarray) -> str:
        """The string spelled by ``ids``: an integer array (or a list of ints) of any shape, values in [0, V)."""
        ids = self._ids(ids)
        return "".join(self.chars[i] for i in ids.ravel())

    def one_hot(self, ids: np.ndarray, dtype: object = np.float32) -> np.ndarray:
        """One-hot rows: ids (...) -> (..., V), in ``dtype`` (float32 or float64)."""
        ids = self._ids(ids)
        return np.eye(len(self.chars), dtype=check_dtype_arg("dtype", dtype))[ids]

    def _ids(self, ids: object) -> np.ndarray:
        if isinstance(ids, (list, tuple)):
            ids = np.asarray(ids, dtype=np.int64) if len(ids) == 0 else np.asarray(ids)
        return check_int_array("ids", ids, None, 0, len(self.chars) - 1)


def char_batch(
    ids: np.ndarray, T: int, B: int, rng: np.random.Generator, vocab_size: int, dtype: object = np.float32
) -> TaskBatch:
    """B random windows of T characters: x one-hot (T, B, V), y the next character's id (T, B)."""
    T, B, V = check_positive_int("T", T), check_positive_int("B", B), check_positive_int("vocab_size", vocab_size)
    check_generator("rng", rng)
    dtype = check_dtype_arg("dtype", dtype)
    _ids_1d(ids, V)
    if len(ids) < T + 1:
        raise ValueError(f"ids: expected a 1-D id array with at least T + 1 = {T + 1} entries, got {len(ids)}")
    starts = rng.integers(0, len(ids) - T, size=B)
    idx = starts[None, :] + np.arange(T)[:, None]
    x = np.eye(V, dtype=dtype)[ids[idx]]
    return TaskBatch(x, ids[idx + 1], np.ones((T, B), dtype=dtype), "xent")


def stream_batches(ids: np.ndarray, T: int, B: int, vocab_size: int, dtype: object = np.float32) -> Iterator[TaskBatch]:
    """Consecutive chunks of B parallel streams (the corpus cut into B equal parts), for stateful TBPTT.

    Chunk j holds characters [j T, (j + 1) T) of every stream, so the state at the end
    of chunk j is the right state to start chunk j + 1 from.
    """
    T, B, V = check_positive_int("T", T), check_positive_int("B", B), check_positive_int("vocab_size", vocab_size)
    dtype = check_dtype_arg("dtype", dtype)
    _ids_1d(ids, V)
    n = (len(ids) - 1) // B
    if n < T:
        raise ValueError(f"ids: expected at least B * T + 1 = {B * T + 1} ids for one chunk, got {len(ids)}")
    streams = np.stack([ids[b * n : (b + 1) * n + 1] for b in range(B)], axis=1)  # (n + 1, B)
    eye = np.eye(V, dtype=dtype)
    # a generator inside, so the checks above run when stream_batches is called, not at the first next()
    return (
        TaskBatch(eye[streams[s : s + T]], streams[s + 1 : s + T + 1], np.ones((T, B), dtype=dtype), "xent")
        for s in range(0, (n // T) * T, T)
    )


def _ids_1d(ids: object, V: int) -> None:
    """ids: a 1-D integer array of character ids in [0, V)."""
    check_int_array("ids", ids, None, 0, V - 1)
    ids = cast(np.ndarray, ids)  # check_int_array raised unless it is one
    if ids.ndim != 1:
        raise ValueError(f"ids: expected a 1-D id array, got shape {ids.shape}")
