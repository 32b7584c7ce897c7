"""Report bpttlab's line coverage per module from pytest-cov's JSON report, and fail under the floor.

Usage: python .ci/coverage.py [_build/coverage.json] [--min 90]

`make test` runs the tests with ``--cov=bpttlab --cov-report=json:_build/coverage.json`` and then
this script, which prints one row per module (statements, missed, percent), writes the same table
to ``_build/coverage.md`` and exits 1 when a module is below the floor (90 % of its lines).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def table(report: dict) -> list[tuple[str, int, int, float]]:
    rows = []
    for path, data in sorted(report["files"].items()):
        name = pathlib.Path(path).as_posix()
        if not name.startswith("bpttlab/"):
            continue
        summary = data["summary"]
        rows.append((name, summary["num_statements"], summary["missing_lines"], summary["percent_covered"]))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", default=str(ROOT / "_build" / "coverage.json"))
    parser.add_argument("--min", type=float, default=90.0, help="the floor for every module, in percent")
    args = parser.parse_args()
    path = pathlib.Path(args.report)
    if not path.exists():
        print(f"{path}: no coverage report; run the tests with --cov=bpttlab --cov-report=json:{path}", file=sys.stderr)
        return 1
    report = json.loads(path.read_text())
    rows = table(report)
    if not rows:
        print(f"{path}: the report covers no bpttlab module", file=sys.stderr)
        return 1
    lines = ["| module | statements | missed | covered |", "|---|---:|---:|---:|"]
    lines += [f"| `{name}` | {n} | {missed} | {pct:.1f} % |" for name, n, missed, pct in rows]
    total = report["totals"]
    lines.append(
        f"| **all** | {total['num_statements']} | {total['missing_lines']} | {total['percent_covered']:.1f} % |"
    )
    text = "\n".join(lines) + "\n"
    print(text)
    (path.parent / "coverage.md").write_text(text)
    low = [(name, pct) for name, _, _, pct in rows if pct < args.min]
    if low:
        for name, pct in low:
            print(f"{name}: {pct:.1f} % of its lines covered, under the floor of {args.min:g} %", file=sys.stderr)
        return 1
    print(f"every module at or above {args.min:g} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
