"""`make bench`: run every benchmark section, write its JSON and the Markdown summary.

Sections (each a module bench/<name>.py, contract in bench/common.py), in the order run:

    cells       full BPTT of each cell by hand / autograd / torch.nn, GFLOP/s against the matmul peak
    checkpoint  memory and time of full against checkpointed BPTT
    rtrl        cost exponents of RTRL and UORO
    attention   attention against the LSTM
    lessons     every lesson's time and memory against the 60 s / 1536 MB budget
    binder      every lesson in a fresh environment built from .binder/, against Binder's 2 GB

Each result gets the machine it was measured on (``common.machine()``) and goes to
``<out>/<name>.json``; ``<out>/summary.md`` is rebuilt from every JSON file in ``<out>``, so
``--only`` refreshes some sections and keeps the others' last results. A section whose module
is missing is skipped with a note and makes the exit status non-zero, unless ``--only`` left
it out; so does a section that raises, or whose result lists ``failures``.

Usage: python bench/run.py [--only a,b] [--quick] [--out DIR]
  --quick   a smoke run of each section (small sizes, few repeats): for the tests, not for numbers
  --out     where the files go (default bench/results)
"""

from __future__ import annotations

import argparse
import importlib
import json
import pathlib
import sys
import time
import traceback

BENCH = pathlib.Path(__file__).resolve().parent
ROOT = BENCH.parent
for path in (str(BENCH), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

from common import machine, one_thread  # noqa: E402

SECTIONS = ("cells", "checkpoint", "rtrl", "attention", "lessons", "binder")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description="Run the benchmark sections.")
    parser.add_argument("--only", default=None, help=f"comma-separated sections out of {', '.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes, few repeats")
    parser.add_argument("--out", default=str(BENCH / "results"), help="folder for the JSON files and summary.md")
    args = parser.parse_args(argv)
    if args.only is None:
        args.sections = list(SECTIONS)
    else:
        args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = [s for s in args.sections if s not in SECTIONS]
        if unknown or not args.sections:
            parser.error(f"--only: expected names out of {', '.join(SECTIONS)}, got {args.only!r}")
    return args


def load(name: str):
    """The section module bench/<name>.py, or None if it does not exist."""
    if not (BENCH / f"{name}.py").exists():
        return None
    return importlib.import_module(name)


def write_summary(out: pathlib.Path) -> pathlib.Path:
    """summary.md from every section's JSON in ``out``, in section order."""
    parts = []
    machines = []
    for name in SECTIONS:
        path = out / f"{name}.json"
        if not path.exists():
            continue
        result = json.loads(path.read_text())
        module = load(name)
        if module is None:
            continue
        m = result.get("machine", {})
        desc = f"{m.get('cpu', '?')}, BLAS {_blas(m)}, torch CPU capability {m.get('torch_cpu_capability', '?')}"
        machines.append(
            f"- `{name}`: {desc}, {m.get('torch_threads', '?')} thread(s), {result.get('measured_at', '?')}"
            + (" (quick smoke run: not for reading)" if result.get("quick") else "")
        )
        try:
            parts.append(module.markdown(result))
        except (KeyError, TypeError, ValueError) as err:  # a file from an older version of the section
            parts.append(
                f"### {name}\n\n`{path.name}` could not be read ({type(err).__name__}: {err}); "
                f"run `make bench` again.\n"
            )
    head = [
        "Measured with `make bench` (`bench/run.py`), one thread, medians of interleaved repeats.",
        "",
        "Machine of each section:",
        "",
        *machines,
        "",
    ]
    path = out / "summary.md"
    path.write_text("\n".join(head) + "\n" + "\n".join(parts))
    return path


def _blas(m: dict) -> str:
    blas = m.get("blas")
    if isinstance(blas, list) and blas:
        return ", ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')})" for b in blas)
    return str(blas)


def main(argv: list[str]) -> int:
    args = parse(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    one_thread()
    status = 0
    start_all = time.perf_counter()
    for name in args.sections:
        module = load(name)
        if module is None:
            print(f"{name}: bench/{name}.py does not exist; section skipped", flush=True)
            status = 1
            continue
        start = time.perf_counter()
        try:
            result = module.run(args.quick)
        except Exception:  # report and go on with the other sections
            traceback.print_exc()
            print(f"{name}: the section raised; nothing written", flush=True)
            status = 1
            continue
        seconds = time.perf_counter() - start
        result = {
            **result,
            "machine": machine(),
            "seconds": seconds,
            "quick": args.quick,
            "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        (out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
        print(f"{name}: written {out / (name + '.json')} in {seconds:.0f} s", flush=True)
        if result.get("failures"):
            print(f"{name}: failures: {', '.join(map(str, result['failures']))}", file=sys.stderr, flush=True)
            status = 1
    summary = write_summary(out)
    print(f"summary: {summary}; all sections in {time.perf_counter() - start_all:.0f} s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
