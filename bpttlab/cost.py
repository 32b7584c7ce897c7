"""Memory accounting for caches: how many bytes a backward pass keeps alive."""

from __future__ import annotations

from typing import Any

import numpy as np

from bpttlab.tree import leaves


def cache_nbytes(cache: Any) -> int:
    """Bytes held by the distinct NumPy arrays in a (nested) cache (see bpttlab.tree).

    Parameters stored in the cache are counted too; an array reachable twice (or a
    view of a counted array's whole buffer) is counted once; other leaves count 0.
    """
    seen: set[int] = set()
    total = 0
    for obj in leaves(cache):
        if not isinstance(obj, np.ndarray):
            continue
        base = obj if obj.base is None else obj.base
        if id(base) in seen:
            continue
        seen.add(id(base))
        total += int(base.nbytes) if isinstance(base, np.ndarray) else int(obj.nbytes)
    return total
