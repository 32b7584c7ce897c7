"""pytest hooks and fixtures; everything tests share lives in support.py."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings
from support import max_errors

# In CI (CI=true) hypothesis draws the same examples on every run, so a red build is reproducible.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() == "true":
    settings.load_profile("ci")


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, fixed-seed generator for tests that need only one data set."""
    return np.random.default_rng(20240611)


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the largest float64 relative error seen in each group of cross-checks.

    A group named "suite: what" also counts towards a line "suite (overall)", printed after
    the suite's groups (for example "contract (overall)" for tests/test_cell_contract.py).
    """
    errors = max_errors()
    if not errors:
        return
    terminalreporter.section("max relative error per group (float64 cross-checks)")
    suites: dict[str, float] = {}
    for group, err in errors.items():
        if ": " in group:
            suite = group.split(": ", 1)[0]
            suites[suite] = max(suites.get(suite, 0.0), err)
    width = max(28, *(len(g) + 1 for g in errors))
    for group, err in sorted(errors.items()):
        terminalreporter.write_line(f"{group:<{width}s} {err:.3e}")
    for suite, err in sorted(suites.items()):
        terminalreporter.write_line(f"{suite + ' (overall)':<{width}s} {err:.3e}")
    terminalreporter.write_line(f"{'overall':<{width}s} {max(errors.values()):.3e}")
