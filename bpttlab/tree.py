"""Nested containers of arrays: the one walker every module uses.

A *tree* is an array (NumPy or torch), ``None``, or a tuple or list (a NamedTuple such
as ``SeqParams(cell=RNNParams(...), readout=ReadoutParams(...))``, a plain tuple, a list)
of trees. Other leaves (ints, strings in a cache) are passed to ``fn`` like arrays. Parameters, gradients, optimiser moments, recurrent states and caches are all
trees, so leaf-by-leaf work (an Adam update, a global norm, a copy, a detach, selecting
rows of a state) is written once here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


def _is_node(tree: Any) -> bool:
    return isinstance(tree, (tuple, list))


def _rebuild(node: tuple, items: list[Any]) -> tuple:
    return type(node)(*items) if hasattr(node, "_fields") else type(node)(items)


def paths(tree: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, leaf) for every leaf in field order; ``None`` leaves are skipped."""
    if _is_node(tree):
        names = getattr(tree, "_fields", None) or [str(i) for i in range(len(tree))]
        for name, item in zip(names, tree):
            yield from paths(item, f"{prefix}.{name}" if prefix else name)
    elif tree is not None:
        yield prefix, tree


def leaves(tree: Any) -> list[Any]:
    """The leaves of a tree in field order (``None`` leaves skipped)."""
    return [leaf for _, leaf in paths(tree)]


def tree_map(fn: Callable[..., Any], tree: Any, *others: Any) -> Any:
    """Apply ``fn`` leaf by leaf to trees of the same structure; keep ``tree``'s container types.

    ``None`` leaves stay ``None``.
    """
    if _is_node(tree):
        for k, other in enumerate(others):
            if not _is_node(other) or len(other) != len(tree):
                raise ValueError(
                    f"others[{k}]: expected a container shaped like {type(tree).__name__} "
                    f"({len(tree)} items), got {type(other).__name__}"
                )
        return _rebuild(tree, [tree_map(fn, t, *(o[i] for o in others)) for i, t in enumerate(tree)])
    if tree is None:
        return None
    return fn(tree, *others)


def copy(tree: Any) -> Any:
    """A deep copy of the leaves (``.copy()`` for NumPy, ``.clone()`` for torch)."""
    return tree_map(lambda a: a.clone() if hasattr(a, "clone") else a.copy(), tree)


def detach(tree: Any) -> Any:
    """The tree with every torch tensor detached from its graph (other leaves kept)."""
    return tree_map(lambda a: a.detach() if hasattr(a, "detach") else a, tree)


def add(a: Any, b: Any) -> Any:
    """Leaf-by-leaf sum of two trees of the same structure."""
    return tree_map(lambda x, y: x + y, a, b)


def size(tree: Any) -> int:
    """Number of scalars in all leaves."""
    total = 0
    for path, leaf in paths(tree):
        shape = getattr(leaf, "shape", None)
        if shape is None:
            raise TypeError(f"{path or 'tree'}: expected an array or tensor at the leaves, got {type(leaf).__name__}")
        n = 1
        for s in shape:
            n *= int(s)
        total += n
    return total
