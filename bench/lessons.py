"""Section "lessons": every lesson's wall time and its kernel's peak memory against the budget.

Each lesson is executed in a fresh kernel on one thread, on a temporary copy of book/ (the
stored outputs are untouched). Two lessons run at a time, each in its own worker process
whose child is the kernel, so the peak resident memory read in the worker is that lesson's
kernel alone. Budget: 60 s and 1536 MB per lesson. Lessons are listed in book order
(``_toc.yml``), titled by their first heading; a lesson not (yet) in the table of contents
comes last.

quick=True executes a two-cell notebook that holds 200 MB instead (the smoke test checks
that the measured peak sees it).

JSON keys (read by book/performance.ipynb)::

    budget: {seconds, mb}, parallel: 2,
    lessons: [{file, title, in_toc, status ("ok" | "over budget" | "failed"), seconds, peak_mb}]
    failures: [file, ...]   # over budget or failed; bench/run.py exits non-zero if any
"""

from __future__ import annotations

import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from common import ONE_THREAD

NAME = "lessons"
ROOT = pathlib.Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 60.0
BUDGET_MB = 1536.0
PARALLEL = 2
QUICK_MB = 200


def book_order() -> list[str]:
    """Lesson files (book/x.ipynb) in the order of _toc.yml, then any other lesson in book/ by name."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = [ch["file"] for part in toc.get("parts", []) for ch in part.get("chapters", [])]
    lessons = [f + ".ipynb" for f in listed if (ROOT / (f + ".ipynb")).exists()]
    rest = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("*.ipynb"))
    return lessons + [f for f in rest if f not in lessons]


def title(path: pathlib.Path) -> str:
    """The lesson's first Markdown heading."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def _worker(path: str) -> None:
    """In a child process: execute one notebook, print wall time and the kernel's peak RSS as JSON."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(pathlib.Path(path).parent)}}
    ).execute()
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))


def _measure(copy: pathlib.Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", str(copy)],
        env={**os.environ, **ONE_THREAD},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        return {"status": "failed", "error": proc.stderr[-2000:]}
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    ok = r["seconds"] <= BUDGET_SECONDS and r["peak_mb"] <= BUDGET_MB
    return {"status": "ok" if ok else "over budget", "seconds": r["seconds"], "peak_mb": r["peak_mb"]}


def _last_seconds() -> dict[str, float]:
    """Each lesson's time in the last bench/results/lessons.json, or {} if there is none readable."""
    try:
        last = json.loads((ROOT / "bench" / "results" / "lessons.json").read_text())
        return {r["file"]: r["seconds"] for r in last["lessons"] if "seconds" in r}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _measure_and_say(name: str, copy: pathlib.Path) -> dict:
    r = _measure(copy)
    extra = f"{r['seconds']:.1f} s, {r['peak_mb']:.0f} MB peak" if "seconds" in r else "FAILED"
    print(f"lessons: {name}: {extra} ({r['status']})", flush=True)
    return r


def _quick_notebook(folder: pathlib.Path) -> pathlib.Path:
    cells = [
        {"cell_type": "markdown", "id": "q0", "metadata": {}, "source": ["# Smoke test\n"]},
        {
            "cell_type": "code",
            "id": "q1",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": [f"import numpy as np\nheld = np.ones({QUICK_MB} * 2**20 // 8)\nheld.sum()\n"],
        },
    ]
    nb = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = folder / "book" / "smoke_test.ipynb"
    path.write_text(json.dumps(nb))
    return path


def run(quick: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "book").mkdir()
        # lessons that read the benchmark results by a relative path (../bench/results) find them
        (tmp / "bench").mkdir()
        (tmp / "bench" / "results").symlink_to(ROOT / "bench" / "results", target_is_directory=True)
        if quick:
            jobs = [("book/smoke_test.ipynb", "Smoke test", False, _quick_notebook(tmp))]
        else:
            import yaml

            listed = {
                ch["file"] + ".ipynb"
                for part in yaml.safe_load((ROOT / "_toc.yml").read_text())["parts"]
                for ch in part.get("chapters", [])
            }
            jobs = []
            for f in book_order():
                copy = tmp / f
                shutil.copy(ROOT / f, copy)
                jobs.append((f, title(ROOT / f), f in listed, copy))
        # longest first (by the last results, if any), so that the two workers finish together
        last = _last_seconds()
        order = sorted(range(len(jobs)), key=lambda i: -last.get(jobs[i][0], BUDGET_SECONDS))
        with ThreadPoolExecutor(PARALLEL) as pool:
            futures = {i: pool.submit(_measure_and_say, jobs[i][0], jobs[i][3]) for i in order}
            results = [futures[i].result() for i in range(len(jobs))]
    lessons = [{"file": f, "title": name, "in_toc": in_toc, **r} for (f, name, in_toc, _), r in zip(jobs, results)]
    return {
        "budget": {"seconds": BUDGET_SECONDS, "mb": BUDGET_MB},
        "parallel": PARALLEL,
        "quick": quick,
        "lessons": lessons,
        "failures": [r["file"] for r in lessons if r["status"] != "ok"],
    }


def markdown(result: dict) -> str:
    b = result["budget"]
    lines = [
        "### Lesson budgets",
        "",
        f"Each lesson executed in a fresh kernel on one thread ({result['parallel']} lessons at a time), "
        f"in book order; budget {b['seconds']:.0f} s and {b['mb']:.0f} MB of peak resident memory.",
        "",
        "| lesson | time (s) | peak memory (MB) | budget |",
        "|---|---:|---:|---|",
    ]
    for r in result["lessons"]:
        sec = f"{r['seconds']:.1f}" if "seconds" in r else "-"
        mb = f"{r['peak_mb']:.0f}" if "peak_mb" in r else "-"
        note = "" if r["in_toc"] else " (not in the table of contents)"
        lines.append(f"| {r['title']}{note} | {sec} | {mb} | {r['status']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        _worker(sys.argv[2])
