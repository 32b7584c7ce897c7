"""Static checks in `make test`: ruff (lint and format) on the package, the tests, the benchmarks, the CI
scripts and the lessons' code (book/ruff.toml: the site's 74-character column), and mypy on bpttlab,
both at the versions pinned in requirements.txt. Each check is also shown to fail on a file that breaks it."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
CHECKED = ["bpttlab", "tests", "bench", ".ci", "book"]


def run(*args: str, cwd: pathlib.Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=600)


def pinned(name: str) -> str:
    text = (ROOT / "requirements.txt").read_text()
    match = re.search(rf"^{re.escape(name)}==(\S+)$", text, re.MULTILINE)
    assert match, f"{name} is not pinned in requirements.txt"
    return match.group(1)


@pytest.mark.parametrize("tool, module", [("ruff", "ruff"), ("mypy", "mypy")])
def test_the_tools_are_the_pinned_versions(tool, module):
    out = run(sys.executable, "-m", module, "--version")
    assert out.returncode == 0, out.stderr
    assert pinned(tool) in out.stdout.split()


def test_ruff_lint_is_clean():
    out = run(sys.executable, "-m", "ruff", "check", "--no-cache", *CHECKED)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_is_clean():
    out = run(sys.executable, "-m", "ruff", "format", "--check", "--no-cache", *CHECKED)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_reads_the_lessons(tmp_path):
    """The lessons are checked as notebooks, with their own line length."""
    out = run(sys.executable, "-m", "ruff", "check", "--no-cache", "--show-files", "book")
    listed = {pathlib.Path(line).name for line in out.stdout.splitlines()}
    lessons = {p.name for p in (ROOT / "book").glob("*.ipynb")}
    assert lessons and lessons <= listed
    out = run(sys.executable, "-m", "ruff", "check", "--no-cache", "--show-settings", "book/bptt.ipynb")
    assert re.search(r"^formatter\.line_width\s*=\s*74$", out.stdout, re.MULTILINE), out.stdout[-2000:]


def test_mypy_is_clean():
    out = run(sys.executable, "-m", "mypy", "--no-incremental")
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"^Success: no issues found in \d+ source files$", out.stdout, re.MULTILINE), out.stdout


def test_the_checks_fail_on_broken_code(tmp_path):
    """The same commands report an unused import, an unformatted line and a type error."""
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f(x: int) -> str:\n    return x  +  1\n")
    lint = run(sys.executable, "-m", "ruff", "check", "--no-cache", "bad.py", cwd=tmp_path)
    assert lint.returncode == 1 and "F401" in lint.stdout
    fmt = run(sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "bad.py", cwd=tmp_path)
    assert fmt.returncode == 1 and "bad.py" in fmt.stdout
    types = run(sys.executable, "-m", "mypy", "--no-incremental", "bad.py", cwd=tmp_path)
    assert types.returncode == 1 and "Incompatible return value type" in types.stdout
