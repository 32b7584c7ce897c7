"""Memory accounting for caches: how many bytes a backward pass keeps alive."""

from __future__ import annotations

from typing import Any

import numpy as np


def cache_nbytes(cache: Any) -> int:
    """Bytes held by the distinct NumPy arrays in a (nested) cache.

    Walks NamedTuples, tuples, lists and dicts. Parameters stored in the cache are
    counted too; an array reachable twice (or a view of a counted array's whole
    buffer) is counted once.
    """
    seen: set[int] = set()

    def walk(obj: Any) -> int:
        if isinstance(obj, np.ndarray):
            base = obj if obj.base is None else obj.base
            if id(base) in seen:
                return 0
            seen.add(id(base))
            return int(base.nbytes) if isinstance(base, np.ndarray) else int(obj.nbytes)
        if isinstance(obj, dict):
            return sum(walk(v) for v in obj.values())
        if isinstance(obj, (tuple, list)):
            return sum(walk(v) for v in obj)
        return 0

    return walk(cache)
