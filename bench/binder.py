"""Section "binder": every lesson run the way a Binder session runs it, against Binder's memory.

A fresh virtual environment is built from `.binder/` alone: `pip install -r
.binder/requirements.txt`, then `.binder/postBuild` (which installs bpttlab), as repo2docker
does. Every lesson is then executed in it, through `.binder/start`, in a fresh kernel on one
thread, two at a time, each in its own worker process (so the peak resident memory read in
the worker is that lesson's kernel alone; bench/lessons.py measures the same way). The
limit is Binder's: 2 GB of memory per session (mybinder.org's documented limit is 1 to 2 GB;
the lessons are written to 1.5 GB, `lessons` checks that budget).

The environment goes to `_build/binder-venv` and is rebuilt on every full run. pip runs
with `PIP_RETRIES=0`: `.binder/requirements.txt` names PyTorch's CPU wheel index, which
Binder reaches and these machines do not; with retries each package would wait on it.

quick=True skips the build and executes lessons.py's two-cell smoke notebook with the
current interpreter (for the tests of bench/run.py).

JSON keys::

    limit_mb: 2048, parallel: 2, quick, python (the environment's), packages {torch, numpy},
    install_seconds,
    lessons: [{file, title, status ("ok" | "over the limit" | "failed"), seconds, peak_mb}]
    failures: [file, ...]
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from concurrent.futures import ThreadPoolExecutor

import lessons as lesson_bench
from common import ONE_THREAD

NAME = "binder"
ROOT = pathlib.Path(__file__).resolve().parents[1]
BINDER = ROOT / ".binder"
ENV = ROOT / "_build" / "binder-venv"
LIMIT_MB = 2048.0
PARALLEL = 2


def build_env(folder: pathlib.Path = ENV) -> pathlib.Path:
    """A fresh virtual environment from .binder/ alone; returns its python."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    venv.EnvBuilder(with_pip=True).create(folder)
    env = {
        **os.environ,
        "PATH": f"{folder / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(folder),
        "PIP_RETRIES": "0",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.pop("PYTHONPATH", None)
    python = folder / "bin" / "python"
    steps = [
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(BINDER / "requirements.txt")],
        ["bash", str(BINDER / "postBuild")],
    ]
    for step in steps:
        proc = subprocess.run(step, cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"binder: `{' '.join(step)}` failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return python


def _measure(python: pathlib.Path, copy: pathlib.Path, use_start: bool) -> dict:
    cmd = [str(python), str(ROOT / "bench" / "lessons.py"), "--worker", str(copy)]
    if use_start:
        cmd = ["bash", str(BINDER / "start"), *cmd]
    env = {**os.environ, **ONE_THREAD, "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        return {"status": "failed", "error": proc.stderr[-2000:]}
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    status = "ok" if r["peak_mb"] < LIMIT_MB else "over the limit"
    return {"status": status, "seconds": r["seconds"], "peak_mb": r["peak_mb"]}


def _packages(python: pathlib.Path) -> dict:
    code = "import json, numpy, torch; print(json.dumps({'torch': torch.__version__, 'numpy': numpy.__version__}))"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return json.loads(proc.stdout) if proc.returncode == 0 else {"error": proc.stderr[-500:]}


def run(quick: bool) -> dict:
    start = time.perf_counter()
    python = pathlib.Path(sys.executable) if quick else build_env()
    install_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "book").mkdir()
        (tmp / "bench").mkdir()
        (tmp / "bench" / "results").symlink_to(ROOT / "bench" / "results", target_is_directory=True)
        if quick:
            jobs = [("book/smoke_test.ipynb", "Smoke test", lesson_bench._quick_notebook(tmp))]
        else:
            jobs = []
            for f in lesson_bench.book_order():
                shutil.copy(ROOT / f, tmp / f)
                jobs.append((f, lesson_bench.title(ROOT / f), tmp / f))

        def one(job):
            r = _measure(python, job[2], use_start=not quick)
            extra = f"{r['seconds']:.1f} s, {r['peak_mb']:.0f} MB peak" if "seconds" in r else "FAILED"
            print(f"binder: {job[0]}: {extra} ({r['status']})", flush=True)
            return r

        with ThreadPoolExecutor(PARALLEL) as pool:
            results = list(pool.map(one, jobs))
    rows = [{"file": f, "title": t, **r} for (f, t, _), r in zip(jobs, results)]
    return {
        "limit_mb": LIMIT_MB,
        "parallel": PARALLEL,
        "quick": quick,
        "python": str(python),
        "packages": _packages(python),
        "install_seconds": install_seconds,
        "lessons": rows,
        "failures": [r["file"] for r in rows if r["status"] != "ok"],
    }


def markdown(result: dict) -> str:
    pk = result.get("packages", {})
    lines = [
        "### A Binder-like session",
        "",
        "Every lesson executed in a fresh virtual environment built from `.binder/` alone "
        f"(torch {pk.get('torch', '?')}, NumPy {pk.get('numpy', '?')}; installed in "
        f"{result['install_seconds']:.0f} s), through `.binder/start`, one thread, "
        f"{result['parallel']} lessons at a time. Limit: a kernel's peak resident memory under "
        f"{result['limit_mb']:.0f} MB, Binder's per-session memory.",
        "",
        "| lesson | peak memory (MB) | time (s) | under the limit |",
        "|---|---:|---:|---|",
    ]
    for r in result["lessons"]:
        mb = f"{r['peak_mb']:.0f}" if "peak_mb" in r else "-"
        sec = f"{r['seconds']:.1f}" if "seconds" in r else "-"
        ok = {"ok": "yes", "over the limit": "**no**"}.get(r["status"], r["status"])
        lines.append(f"| {r['title']} | {mb} | {sec} | {ok} |")
    return "\n".join(lines) + "\n"
