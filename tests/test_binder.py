"""The Binder-like run: every lesson in an environment built from .binder/ alone stays under
Binder's 2 GB (bench/binder.py, the `binder` section of `make bench`).

It builds a virtual environment and executes every lesson (minutes), so it runs where
BPTT_BINDER=1 is set, which `make test` does; elsewhere it is skipped and says so. Its
results go to `_build/bench-binder/` (binder.json and summary.md); `make bench` writes the
same section to bench/results, shown on the benchmarks page.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "bench-binder"

pytestmark = pytest.mark.skipif(
    os.environ.get("BPTT_BINDER") != "1", reason="the Binder-like run takes minutes: set BPTT_BINDER=1 (make test does)"
)


def test_every_lesson_runs_in_a_binder_environment_under_2_gb():
    OUT.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--only", "binder", "--out", str(OUT)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    print(proc.stdout)
    result = json.loads((OUT / "binder.json").read_text())
    lessons = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; sys.path.insert(0, 'bench'); import json, lessons; "
                "print(json.dumps(lessons.book_order()))",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout
    )
    assert [r["file"] for r in result["lessons"]] == lessons
    assert result["packages"].get("torch", "").startswith("2."), result["packages"]
    for r in result["lessons"]:
        assert r["status"] == "ok", f"{r['file']}: {r['status']} {r.get('peak_mb')} MB {r.get('error', '')}"
        assert 50 < r["peak_mb"] < 2048, r
    assert proc.returncode == 0, proc.stderr[-3000:]
