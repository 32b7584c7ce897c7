"""How the package is put together: what each import loads, and that the registry is the one list of cells."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

import bpttlab
from bpttlab import cells

PACKAGE = pathlib.Path(bpttlab.__file__).parent


def _loaded_after(statement: str) -> set[str]:
    """The modules loaded by ``statement`` in a fresh interpreter."""
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_numpy_backend_needs_neither_matplotlib_nor_pillow_nor_torch():
    loaded = _loaded_after("import bpttlab.numpy")
    assert "bpttlab.numpy.rnn" in loaded
    for name in ("matplotlib", "PIL", "torch"):
        assert name not in loaded, name


def test_the_torch_backend_loads_nothing_of_the_numpy_backend():
    loaded = _loaded_after("import bpttlab.torch")
    assert "bpttlab.torch.rnn" in loaded
    assert not [m for m in loaded if m.startswith("bpttlab.numpy")]


def _imports(path: pathlib.Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize("path", sorted((PACKAGE / "torch").glob("*.py")), ids=lambda p: p.name)
def test_no_torch_module_imports_the_numpy_backend(path):
    assert not [m for m in _imports(path) if m.startswith("bpttlab.numpy")]


def test_the_drawing_modules_load_on_first_use():
    loaded = _loaded_after("import bpttlab")
    assert not loaded & {"bpttlab.plotting", "bpttlab.animation", "matplotlib", "PIL"}
    assert "matplotlib" in _loaded_after("import bpttlab; bpttlab.plotting")


def test_the_lazy_attributes_are_the_modules():
    import bpttlab.diagnostics
    import bpttlab.plotting

    assert bpttlab.plotting is sys.modules["bpttlab.plotting"]
    assert bpttlab.diagnostics is sys.modules["bpttlab.diagnostics"]
    with pytest.raises(AttributeError, match="no_such_module"):
        bpttlab.no_such_module  # noqa: B018


def test_no_module_keeps_its_own_table_of_cells():
    # the registry is the one place that lists cells: no other module spells out the three names together
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "cells.py":
            continue
        tree = ast.parse(path.read_text())
        exported = {
            id(n)
            for a in ast.walk(tree)
            if isinstance(a, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in a.targets)
            for n in ast.walk(a.value)
        }
        for node in ast.walk(tree):
            if id(node) in exported:
                continue
            if isinstance(node, (ast.Dict, ast.Tuple, ast.List, ast.Set)):
                items = node.keys if isinstance(node, ast.Dict) else node.elts
                names = {k.value for k in items if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                if {"rnn", "lstm", "gru"} <= names:
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_every_registered_cell_names_modules_that_exist_on_both_backends():
    for spec in cells.CELLS.values():
        assert spec.numpy().SPEC is spec
        assert spec.torch().SPEC is spec
        assert callable(spec.initialiser())
