"""`make bench` in quick mode: the files it writes, their machine block, and numbers derived from the medians."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RUN = BENCH / "run.py"
SECTIONS = ("cells", "checkpoint", "rtrl", "attention", "lessons", "binder")
MACHINE_KEYS = {"cpu", "blas", "torch_cpu_capability", "torch_threads", "numpy", "torch", "python"}


def _present() -> list[str]:
    return [s for s in SECTIONS if (BENCH / f"{s}.py").exists()]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    present = _present()
    before = {p.name: p.stat().st_mtime_ns for p in (BENCH / "results").glob("*")}
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--out", str(out), "--only", ",".join(present)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    after = {p.name: p.stat().st_mtime_ns for p in (BENCH / "results").glob("*")}
    assert after == before, "a quick run must not touch bench/results"
    return out, present, proc


def _load(out: pathlib.Path, name: str) -> dict:
    return json.loads((out / f"{name}.json").read_text())


def test_quick_run_writes_every_present_section(quick_run):
    out, present, proc = quick_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in present:
        result = _load(out, name)
        assert result["quick"] is True
        assert MACHINE_KEYS <= set(result["machine"]), name
        assert result["machine"]["torch_threads"] == 1
        assert isinstance(result["machine"]["blas"], list) and result["machine"]["blas"], "threadpoolctl saw no BLAS"
        assert all(pool["num_threads"] == 1 for pool in result["machine"]["blas"])
    summary = (out / "summary.md").read_text()
    assert "Machine of each section" in summary


def test_cells_ratios_and_rates_come_from_the_medians(quick_run):
    out, present, _ = quick_run
    if "cells" not in present:
        pytest.skip("bench/cells.py is missing")
    sys.path.insert(0, str(BENCH))
    import cells as section

    result = _load(out, "cells")
    from bpttlab import cells

    expected = {spec.name for spec in cells.CELLS.values() if spec.nn(**spec.options()) is not None}
    assert {r["cell"] for r in result["rows"]} == expected
    assert len(result["rows"]) == len(expected) * len(result["sizes"]) * len(result["dtypes"])
    for r in result["rows"]:
        s = r["seconds"]
        assert set(s) == {"numpy", "torch", "nn"} and min(s.values()) > 0
        assert r["ratio_numpy_nn"] == s["numpy"] / s["nn"]
        assert r["ratio_numpy_torch"] == s["numpy"] / s["torch"]
        assert r["flops"] == section.flops(r["T"], r["B"], r["D"], r["H"], cells.CELLS[r["cell"]].gates)
        for k in s:
            assert r["gflops"][k] == r["flops"] / s[k] / 1e9
            lib = "numpy" if k == "numpy" else "torch"
            assert r["fraction_of_peak"][k] == r["gflops"][k] / r["peak_gflops"][lib]
        for lib in ("numpy", "torch"):
            rates = [
                g["gflops"]
                for g in result["gemm"]
                if g["dtype"] == r["dtype"] and g["H"] == r["H"] and g["library"] == lib
            ]
            rates += [q["square_gflops"][lib] for q in result["rows"] if (q["dtype"], q["H"]) == (r["dtype"], r["H"])]
            assert r["peak_gflops"][lib] == max(rates)
        assert r["target_speed_met"] == (r["ratio_numpy_nn"] <= 1.0)
        # the three implementations compute the same input gradient
        tol = 1e-3 if r["dtype"] == "float32" else 1e-9
        assert max(r["dx_rel_diff"].values()) < tol
    prof = result["numpy_profile"]
    assert prof["calls_total"] == sum(prof["calls"].values())
    assert prof["calls_total_per_step"] == prof["calls_total"] / prof["T"]
    assert prof["matmuls_per_step"] >= 2  # one recurrent product forward and one backward per step
    assert 0 < prof["matmul_seconds_per_step"] and 0 < prof["seconds_per_step"]
    md = section.markdown(result)
    first = result["rows"][0]
    assert f"{first['ratio_numpy_nn']:.2f}" in md
    assert md.count("| met |") + md.count("| **not met** |") >= len(result["rows"])


def test_flop_count_formula():
    sys.path.insert(0, str(BENCH))
    import cells as section

    # LSTM, T=2, B=1, D=1, H=1: G=4; forward 2*2*4*(1+1)=32 flops, backward twice that
    assert section.flops(2, 1, 1, 1, 4) == 96
    assert section.flops(100, 32, 32, 128, 1) == 6 * 100 * 32 * 128 * 160


def test_lessons_quick_sees_the_memory_it_holds(quick_run):
    out, present, _ = quick_run
    if "lessons" not in present:
        pytest.skip("bench/lessons.py is missing")
    sys.path.insert(0, str(BENCH))
    import lessons as section

    result = _load(out, "lessons")
    assert result["budget"] == {"seconds": 60.0, "mb": 1536.0}
    (row,) = result["lessons"]
    assert row["status"] == "ok" and row["seconds"] > 0
    assert row["peak_mb"] >= section.QUICK_MB  # the kernel held QUICK_MB MB: the peak must include it
    assert result["failures"] == []
    order = section.book_order()
    assert order[0] == "book/backprop.ipynb" and len(order) == len(set(order))
    assert set(order) == {str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("*.ipynb")}


def test_missing_section_is_skipped_and_fails(tmp_path, monkeypatch, capsys):
    sys.path.insert(0, str(BENCH))
    import run

    # a section name the orchestrator knows but whose module does not exist
    monkeypatch.setattr(run, "SECTIONS", (*run.SECTIONS, "ghost_section"))
    assert run.load("ghost_section") is None
    assert run.main(["--quick", "--out", str(tmp_path), "--only", "ghost_section"]) == 1
    assert "bench/ghost_section.py does not exist; section skipped" in capsys.readouterr().out
    assert not (tmp_path / "ghost_section.json").exists()


@pytest.mark.parametrize("only", ["nosuch", "cells,nosuch", ","])
def test_bad_only_is_refused(only, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(RUN), "--out", str(tmp_path), "--only", only],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--only: expected names out of" in proc.stderr
