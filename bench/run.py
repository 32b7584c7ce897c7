"""Benchmarks behind `make bench`: lesson budgets and the cost of BPTT.

1. Every lesson is executed in a fresh kernel on one thread (on a temporary copy, so
   the stored outputs are untouched); its wall time and the kernel's peak resident
   memory are compared with the budget (60 s, 1.5 GB).
2. Forward + backward over a sequence, for each cell, by hand (bpttlab.numpy), by
   autograd on the same maths (bpttlab.torch) and by torch.nn's built-in layer, with
   the bytes the NumPy forward pass keeps for the backward pass.

Results go to bench/results/lessons.json, bench/results/bptt.json and a Markdown
summary bench/results/summary.md that the book's benchmark page includes.
Usage: python bench/run.py [--skip-lessons] [--skip-bptt]
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BUDGET_SECONDS = 60.0
BUDGET_MB = 1536.0
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _execute_worker(path: str) -> None:
    """Run in a child process: execute one notebook, print wall time and the kernel's peak RSS."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(pathlib.Path(path).parent)}}).execute()
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))


def bench_lessons() -> dict:
    lessons = sorted((ROOT / "book").glob("*.ipynb"))
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for nb in lessons:
            copy = pathlib.Path(tmp) / "book" / nb.name
            copy.parent.mkdir(exist_ok=True)
            shutil.copy(nb, copy)
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", str(copy)],
                env={**os.environ, **ONE_THREAD}, capture_output=True, text=True, cwd=ROOT,
            )
            if proc.returncode != 0:
                out[nb.stem] = {"status": "failed", "error": proc.stderr[-2000:]}
                print(f"{nb.stem}: FAILED", flush=True)
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            ok = r["seconds"] <= BUDGET_SECONDS and r["peak_mb"] <= BUDGET_MB
            out[nb.stem] = {"status": "ok" if ok else "over budget", "seconds": round(r["seconds"], 1),
                            "peak_mb": round(r["peak_mb"])}
            print(f"{nb.stem}: {r['seconds']:.1f} s, {r['peak_mb']:.0f} MB peak ({out[nb.stem]['status']})", flush=True)
    return out


def _best_of(fn, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_bptt() -> list[dict]:
    import numpy as np
    import torch

    import bpttlab.torch as bt
    from bpttlab import cells, cost, init
    from bpttlab.torch import nnmap

    torch.set_num_threads(1)
    B, D, H = 16, 8, 64
    rows = []
    for cell in ("rnn", "lstm", "gru"):
        np_mod, t_mod = cells.CELLS[cell].numpy(), cells.CELLS[cell].torch()
        for T in (50, 200, 800):
            rng = np.random.default_rng(0)
            p = init.init_cell(cell, D, H, rng)
            x = rng.standard_normal((T, B, D))
            s0 = np_mod.zero_state(p, B)
            dhs = rng.standard_normal((T, B, H))

            def numpy_pass():
                hs, cache = np_mod.forward(x, s0, p)
                np_mod.backward(dhs, cache)

            pt = bt.to_torch(p, requires_grad=True)
            xt, dt = torch.tensor(x), torch.tensor(dhs)
            s0t = bt.to_torch(s0) if isinstance(s0, tuple) else torch.tensor(s0)

            def autograd_pass():
                hs, _ = t_mod.forward(xt, s0t, pt)
                torch.autograd.grad((hs * dt).sum(), list(pt))

            module = nnmap.to_nn(p)
            h0n = torch.zeros(1, B, H, dtype=torch.float64)
            init_state = (h0n, h0n.clone()) if cell == "lstm" else h0n

            def nn_pass():
                out, _ = module(xt, init_state)
                torch.autograd.grad((out * dt).sum(), list(module.parameters()))

            _, cache = np_mod.forward(x, s0, p)
            rows.append({
                "cell": cell, "T": T, "B": B, "D": D, "H": H,
                "numpy_ms": round(1e3 * _best_of(numpy_pass), 2),
                "torch_autograd_ms": round(1e3 * _best_of(autograd_pass), 2),
                "torch_nn_ms": round(1e3 * _best_of(nn_pass), 2),
                "cache_bytes": cost.cache_nbytes(cache),
            })
            print(rows[-1], flush=True)
    return rows


def write_summary(lessons: dict | None, bptt: list[dict] | None) -> None:
    lines = [f"Measured with `make bench` on {platform.machine()}, Python {platform.python_version()}, one thread.", ""]
    if lessons:
        lines += ["| lesson | time (s) | peak memory (MB) | budget 60 s / 1536 MB |", "|---|---:|---:|---|"]
        for name, r in lessons.items():
            lines.append(f"| {name} | {r.get('seconds', '-')} | {r.get('peak_mb', '-')} | {r['status']} |")
        lines.append("")
    if bptt:
        lines += ["| cell | T | NumPy by hand (ms) | torch autograd, same maths (ms) | torch.nn (ms) | forward cache (KiB) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in bptt:
            lines.append(f"| {r['cell']} | {r['T']} | {r['numpy_ms']} | {r['torch_autograd_ms']} | {r['torch_nn_ms']} | {r['cache_bytes'] / 1024:.0f} |")
        lines.append("")
        lines.append(f"Forward and backward over a batch of B = {bptt[0]['B']} sequences, D = {bptt[0]['D']}, H = {bptt[0]['H']}, float64; best of 5.")
    (RESULTS / "summary.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        _execute_worker(argv[1])
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    lessons = bptt = None
    if "--skip-lessons" not in argv:
        lessons = bench_lessons()
        (RESULTS / "lessons.json").write_text(json.dumps(lessons, indent=2) + "\n")
    elif (RESULTS / "lessons.json").exists():
        lessons = json.loads((RESULTS / "lessons.json").read_text())
    if "--skip-bptt" not in argv:
        bptt = bench_bptt()
        (RESULTS / "bptt.json").write_text(json.dumps(bptt, indent=2) + "\n")
    elif (RESULTS / "bptt.json").exists():
        bptt = json.loads((RESULTS / "bptt.json").read_text())
    write_summary(lessons, bptt)
    over = [n for n, r in (lessons or {}).items() if r["status"] != "ok"]
    if over:
        print("over budget or failed:", ", ".join(over), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
