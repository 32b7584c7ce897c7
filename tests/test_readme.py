"""The README's usage examples run as written: the cross-check holds, and the training example resumes."""

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


def test_readme_training_example_runs_and_resumes(tmp_path, monkeypatch):
    """Run in a temporary folder (its checkpoint lands there): once, then again as after a crash, which resumes
    from the finished checkpoint and returns the same weights without training further."""
    import numpy as np

    text = (ROOT / "README.md").read_text()
    section = text.split("## Training, stopping and resuming", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "README: no python example under 'Training, stopping and resuming'"
    monkeypatch.chdir(tmp_path)
    first: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), first)
    assert (tmp_path / "adding.npz").exists() and len(first["log"].loss) == 200
    assert first["log"].loss[-20:].mean() < first["log"].loss[:20].mean()
    again: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), again)
    for a, b in zip(first["trained"], again["trained"]):
        for x, y in zip(a, b):
            assert np.array_equal(x, y)
