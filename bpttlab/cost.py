"""Memory accounting for caches: how many bytes a backward pass keeps alive."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from bpttlab._checks import is_tensor
from bpttlab.tree import paths


def _arrays(cache: Any, prefix: str = "cache") -> Iterator[tuple[str, Any]]:
    """(path, leaf) of a cache: the tree walker of bpttlab.tree, with dict values walked too."""
    if isinstance(cache, dict):
        for key, value in cache.items():
            yield from _arrays(value, f"{prefix}[{key!r}]")
    elif isinstance(cache, (tuple, list)):
        names = getattr(cache, "_fields", None) or [str(i) for i in range(len(cache))]
        for name, item in zip(names, cache):
            yield from _arrays(item, f"{prefix}.{name}")
    else:
        yield from paths(cache, prefix)


def cache_nbytes(cache: Any) -> int:
    """Bytes held by the distinct NumPy arrays in a (nested) cache (see bpttlab.tree; dicts are walked too).

    Parameters stored in the cache are counted too; an array reachable twice (or a
    view of a counted array's whole buffer) is counted once; other leaves (ints,
    strings) count 0. cache: a NumPy array or a tuple, list or dict of them; a torch
    tensor in it raises TypeError (its bytes would be missed).
    """
    if not isinstance(cache, (tuple, list, dict, np.ndarray)):
        raise TypeError(f"cache: expected a cache (a tuple, list or dict of NumPy arrays), got {type(cache).__name__}")
    seen: set[int] = set()
    total = 0
    for path, obj in _arrays(cache):
        if is_tensor(obj):
            raise TypeError(f"{path}: expected NumPy arrays, got a torch.Tensor (cache_nbytes counts NumPy caches)")
        if not isinstance(obj, np.ndarray):
            continue
        base = obj if obj.base is None else obj.base
        if id(base) in seen:
            continue
        seen.add(id(base))
        total += int(base.nbytes) if isinstance(base, np.ndarray) else int(obj.nbytes)
    return total
