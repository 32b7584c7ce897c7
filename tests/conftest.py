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
    """Print the largest NumPy-vs-torch relative error seen in each group of cross-checks."""
    errors = max_errors()
    if not errors:
        return
    terminalreporter.section("max relative error, NumPy vs torch (float64)")
    for group, err in sorted(errors.items()):
        terminalreporter.write_line(f"{group:<28s} {err:.3e}")
    terminalreporter.write_line(f"{'overall':<28s} {max(errors.values()):.3e}")
