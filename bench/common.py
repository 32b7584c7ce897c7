"""What every benchmark section shares: one thread, interleaved repeats, the machine's description.

A section is a module `bench/<name>.py` with

    NAME = "<name>"                 # results go to bench/results/<name>.json
    def run(quick: bool) -> dict    # measure; JSON-serialisable; quick=True is a smoke run for the tests
    def markdown(result: dict) -> str  # the section's tables for bench/results/summary.md

`bench/run.py` calls each section, adds `machine()` to its result and writes the files.
Timings are medians of repeats interleaved between the competitors (A B C A B C ...), so a slow
moment of the machine hits all of them alike; a comparison is reported as a ratio of two medians
measured side by side in the same run.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable

ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def one_thread() -> None:
    """Pin NumPy's BLAS and torch to one thread (call before measuring)."""
    for key, value in ONE_THREAD.items():
        os.environ.setdefault(key, value)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # threadpoolctl is pinned in requirements.txt; without it the env variables hold
        pass
    import torch

    torch.set_num_threads(1)


def interleaved_median(fns: dict[str, Callable[[], object]], repeats: int = 7, warmup: int = 1) -> dict[str, float]:
    """Median wall time in seconds of each function, the repeats interleaved across the functions."""
    if not fns:
        raise ValueError("fns: expected at least one function to time")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def machine() -> dict:
    """CPU model, Python, NumPy's BLAS and its kernel (threadpoolctl), torch's CPU capability, threads."""
    info: dict = {"machine": platform.machine(), "python": platform.python_version(), "cpu": _cpu_model()}
    try:
        import numpy

        info["numpy"] = numpy.__version__
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: pool.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for pool in threadpool_info()
            if pool.get("user_api") == "blas"
        ]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    import torch

    info["torch"] = torch.__version__
    info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    info["torch_threads"] = torch.get_num_threads()
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
