"""Strict nbval on every lesson under several CPU-kernel selections of this machine.

Usage: python .ci/portability.py [--jobs N] [--only NAME,...] [book/lesson.ipynb ...]
(``make portability``; default: every lesson in book/, every selection below).

Training runs turn last-bit differences between BLAS and vector kernels into visible
ones, so a stored output that passes nbval on one CPU can fail on another. Each
selection below makes this machine compute with other kernels; the same stored
notebooks must pass under all of them. The table (lesson x selection) is printed and
written to _build/portability.md (a full run) and beside each run's logs. Each run first prints which kernels it really got
(OpenBLAS core, torch CPU capability), so a selection that had no effect is visible.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

ROOT = pathlib.Path(__file__).resolve().parents[1]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
TORCH_AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}

# name -> (variables to set, variables to remove). "native" keeps the machine's own settings.
SELECTIONS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "native": ({}, ()),
    "openblas-haswell": ({"OPENBLAS_CORETYPE": "Haswell"}, ()),
    "openblas-unset": ({}, OPENBLAS_VARS),
    "torch-avx2": (TORCH_AVX2, ()),
    # Two more, because a machine without AVX-512 gives the same kernels for the first three:
    # OpenBLAS's AVX kernels without FMA, and torch's plain (non-vectorised) kernels.
    "openblas-sandybridge": ({"OPENBLAS_CORETYPE": "SandyBridge"}, ()),
    "torch-default": ({"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}, ()),
}

PROBE = (
    "import ctypes, numpy, torch\n"
    "core = '?'\n"
    "try:\n"
    "    import numpy._core._multiarray_umath as m\n"
    "    lib = ctypes.CDLL(m.__file__)\n"
    "    for name in ('scipy_openblas_get_corename64_', 'openblas_get_corename64_', 'openblas_get_corename'):\n"
    "        if hasattr(lib, name):\n"
    "            f = getattr(lib, name); f.restype = ctypes.c_char_p; core = f().decode(); break\n"
    "except Exception as exc:\n"
    "    core = f'unknown ({exc})'\n"
    "print(f'OpenBLAS core {core}, torch CPU capability {torch.backends.cpu.get_cpu_capability()}')\n"
)


def environment(name: str) -> dict[str, str]:
    setv, unset = SELECTIONS[name]
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(ONE_THREAD)
    env.update(setv)
    return env


def kernels(name: str) -> str:
    proc = subprocess.run([sys.executable, "-c", PROBE], env=environment(name), capture_output=True, text=True)
    return (proc.stdout.strip() or proc.stderr.strip().splitlines()[-1]) if proc.returncode == 0 else "probe failed"


def _lesson_of(case: ET.Element) -> str:
    """The lesson a junit test case belongs to: nbval names them book.<lesson>.ipynb::Cell N."""
    if case.get("file"):
        return pathlib.Path(case.get("file")).stem
    classname = case.get("classname", "")
    return classname.removesuffix(".ipynb").rsplit(".", 1)[-1]


def run_selection(name: str, lessons: list[pathlib.Path], outdir: pathlib.Path) -> dict[str, list[str]]:
    """Strict nbval on the lessons under one selection; lesson -> failing cells ([] when it passed)."""
    xml = outdir / f"{name}.xml"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--nbval",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        str(ROOT / "tests" / "nbval_sanitize.cfg"),
        f"--junitxml={xml}",
        *[str(p) for p in lessons],
    ]
    log = outdir / f"{name}.log"
    with open(log, "w") as fh:
        subprocess.run(cmd, env=environment(name), cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    result: dict[str, list[str]] = {p.stem: ["no result"] for p in lessons}
    if not xml.exists():
        return result
    for p in lessons:
        result[p.stem] = []
    for case in ET.parse(xml).getroot().iter("testcase"):
        stem = _lesson_of(case)
        if case.find("failure") is not None or case.find("error") is not None:
            result.setdefault(stem, []).append(case.get("name", "?"))
    return result


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lessons", nargs="*", type=pathlib.Path)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--only", default="", help="comma-separated selection names")
    args = ap.parse_args(argv)
    lessons = [p.resolve() for p in args.lessons] or sorted((ROOT / "book").glob("*.ipynb"))
    names = [n for n in args.only.split(",") if n] or list(SELECTIONS)
    unknown = [n for n in names if n not in SELECTIONS]
    if unknown:
        ap.error(f"--only: unknown selection(s) {unknown}; expected some of {list(SELECTIONS)}")
    for name in names:
        print(f"{name:22s} {kernels(name)}", flush=True)
    (ROOT / "_build" / "portability").mkdir(parents=True, exist_ok=True)
    # One folder per run, so that two runs at the same time do not overwrite each other's files.
    outdir = pathlib.Path(tempfile.mkdtemp(prefix="run-", dir=ROOT / "_build" / "portability"))
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = dict(zip(names, pool.map(lambda n: run_selection(n, lessons, outdir), names)))
    header = "| lesson | " + " | ".join(names) + " |"
    rows = [header, "|" + "---|" * (len(names) + 1)]
    failed = False
    for p in lessons:
        cells = [results[n].get(p.stem, ["no result"]) for n in names]
        failed |= any(cells)
        rows.append(f"| {p.stem} | " + " | ".join("pass" if not c else "FAIL: " + ", ".join(c) for c in cells) + " |")
    table = "\n".join(rows)
    (outdir / "table.md").write_text(table + "\n")
    if not args.lessons and len(names) == len(SELECTIONS):
        (ROOT / "_build" / "portability.md").write_text(table + "\n")
    print(table)
    if failed:
        print(f"\nnbval logs of each selection: {outdir.relative_to(ROOT)}/<selection>.log", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
