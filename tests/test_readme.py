"""The README's usage example runs as written and its cross-check holds."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_usage_example_runs():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Using bpttlab from a lesson", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "README: no python example under 'Using bpttlab from a lesson'"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # the example ends with its own assert
    assert namespace["loss"] > 0 and namespace["hs"].shape == (50, 8, 16)
