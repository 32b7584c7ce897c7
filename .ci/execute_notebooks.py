"""Re-execute lessons in place, each in a fresh kernel, and report time and peak memory.

Usage: python .ci/execute_notebooks.py [book/lesson.ipynb ...]   (default: every lesson in book/)

Stored outputs go stale whenever bpttlab changes; run this (``make execute``)
before committing so that nbval compares against the truth. Each notebook runs in
its own worker process so that its kernel's peak resident memory can be read.
"""

from __future__ import annotations

import json
import os
import pathlib
import resource
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def execute_one(path: pathlib.Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    client.execute()
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        execute_one(pathlib.Path(argv[1]))
        return 0
    paths = [pathlib.Path(a) for a in argv] or sorted((ROOT / "book").glob("*.ipynb"))
    env = {**os.environ, **ONE_THREAD}
    report = {}
    failed = []
    for path in paths:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--one", str(path)], env=env)
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        name = str(path.resolve().relative_to(ROOT))
        status = "ok" if proc.returncode == 0 else "FAILED"
        print(f"{name}: {status}, {seconds:.1f} s, peak RSS of any process so far {peak_mb:.0f} MB", flush=True)
        report[name] = {"seconds": round(seconds, 1), "status": status}
        if proc.returncode != 0:
            failed.append(name)
    out = ROOT / "_build" / "lesson_times.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
