"""Section "checkpoint": memory and time of full BPTT against checkpointed BPTT (bpttlab.numpy.checkpoint).

Keys of the result (read by book/memory_efficient_bptt.ipynb and book/performance.ipynb):

    sizes      {"B", "D", "H", "dtype"}: every measurement below uses them
    sweep      rows {"cell", "T", "full_ms", "checkpoint_ms", "time_ratio", "full_bytes", "checkpoint_bytes",
               "memory_ratio", "full_traced_bytes", "checkpoint_traced_bytes", "forward_steps"}: full BPTT
               (cell.forward + cell.backward) against the default schedule checkpoint.uniform(T)
               (c = ceil(sqrt(T))); *_bytes are the exact bytes each keeps for the backward pass
               (CheckpointStats.peak_bytes and full_bytes), *_traced_bytes (LSTM rows only) the peak that
               tracemalloc saw during one forward + backward pass, above what existed before it and not
               counting the dx (T, B, D) that both return
    frontier   {"cell", "T", "sizes", "full_ms", "full_bytes", "full_records_bytes",
               "budget": rows {"slots", "forward_steps", "peak_bytes", "kept_bytes", "ms"},
               "uniform": rows {"segment", "forward_steps", "peak_bytes", "kept_bytes", "ms"}}: memory against time for
               checkpoint.budget(T, slots) (Gruslys et al. 2016) and checkpoint.uniform(T, segment);
               kept_bytes counts stored states and records only (peak_bytes adds the fixed buffers),
               full_records_bytes the records of full BPTT
    targets    {"T", "memory_ratio_max", "time_ratio_max", "rows": {"cell", "memory_ratio", "time_ratio", "met"}}

Timings are medians of interleaved repeats (bench/common.py), one thread, float64.
"""

from __future__ import annotations

import tracemalloc

import common  # bench/ is on sys.path when bench/run.py runs
import numpy as np

from bpttlab import cells, init
from bpttlab.numpy import checkpoint as ck

NAME = "checkpoint"
MEMORY_RATIO_MAX = 0.05  # the targets at T = 10,000
TIME_RATIO_MAX = 1.5


def _problem(cell: str, T: int, B: int, D: int, H: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    spec = cells.get(cell)
    params = init.init_cell(cell, D, H, rng)
    x = rng.standard_normal((T, B, D))
    dhs = rng.standard_normal((T, B, H))
    return spec.numpy(), params, x, spec.numpy().zero_state(params, B), dhs


def _traced(fn, dx_bytes: int) -> int:
    """Peak bytes allocated by fn() above what was allocated when it started (tracemalloc), less dx's."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base - dx_bytes


def _sweep(lengths, cell_list, sizes, repeats) -> list[dict]:
    rows = []
    for cell in cell_list:
        for T in lengths:
            mod, p, x, s0, dhs = _problem(cell, T, **sizes)

            def full():
                _, cache = mod.forward(x, s0, p)
                return mod.backward(dhs, cache)

            def checkpointed():
                return ck.bptt(x, s0, p, dhs)

            warmup = 1 if T < 5000 else 0
            med = common.interleaved_median({"full": full, "checkpoint": checkpointed}, repeats=repeats, warmup=warmup)
            stats = checkpointed().stats
            traced = cell == "lstm"
            row = {
                "cell": cell,
                "T": T,
                "full_ms": 1e3 * med["full"],
                "checkpoint_ms": 1e3 * med["checkpoint"],
                "time_ratio": med["checkpoint"] / med["full"],
                "full_bytes": stats.full_bytes,
                "checkpoint_bytes": stats.peak_bytes,
                "memory_ratio": stats.peak_bytes / stats.full_bytes,
                "full_traced_bytes": _traced(full, x.nbytes) if traced else None,
                "checkpoint_traced_bytes": _traced(checkpointed, x.nbytes) if traced else None,
                "forward_steps": stats.forward_steps,
            }
            rows.append(row)
            print(
                f"  checkpoint {cell} T={T}: time x{row['time_ratio']:.2f}, memory {row['memory_ratio']:.3%}",
                flush=True,
            )
    return rows


def _frontier(T: int, sizes: dict, slots_list, c_list, repeats) -> dict:
    mod, p, x, s0, dhs = _problem("lstm", T, **sizes)
    stats = {}

    def full():
        _, cache = mod.forward(x, s0, p)
        return mod.backward(dhs, cache)

    def scheduled(key, schedule):
        def fn():
            stats[key] = ck.bptt(x, s0, p, dhs, schedule).stats

        return fn

    fns = {"full": full}
    fns.update({f"budget{m}": scheduled(f"budget{m}", ck.budget(T, m)) for m in slots_list})
    fns.update({f"uniform{c}": scheduled(f"uniform{c}", ck.uniform(T, c)) for c in c_list})
    med = common.interleaved_median(fns, repeats=repeats, warmup=0)

    def row(key, st):
        return {
            "forward_steps": st.forward_steps,
            "peak_bytes": st.peak_bytes,
            "kept_bytes": st.states_bytes + st.records_bytes,
            "ms": 1e3 * med[key],
        }

    budget_rows = [{"slots": m, **row(f"budget{m}", stats[f"budget{m}"])} for m in slots_list]
    uniform_rows = [{"segment": c, **row(f"uniform{c}", stats[f"uniform{c}"])} for c in c_list]
    widths = sum(mod.KERNEL.record_widths(sizes["H"]))
    return {
        "cell": "lstm",
        "T": T,
        "sizes": dict(sizes),
        "full_ms": 1e3 * med["full"],
        "full_bytes": stats[f"uniform{c_list[0]}"].full_bytes,
        "full_records_bytes": T * sizes["B"] * widths * x.dtype.itemsize,
        "budget": budget_rows,
        "uniform": uniform_rows,
    }


def run(quick: bool) -> dict:
    common.one_thread()
    if quick:
        sizes = {"B": 2, "D": 3, "H": 4}
        sweep = _sweep((50, 200), ("rnn", "lstm"), sizes, repeats=1)
        frontier = _frontier(60, sizes, (1, 2, 4), (4, 8), repeats=1)
        target_T = 200
    else:
        sizes = {"B": 16, "D": 32, "H": 64}
        sweep = _sweep((100, 1000, 10_000), ("rnn", "lstm", "gru"), sizes, repeats=3)
        sweep.sort(key=lambda r: (r["cell"], r["T"]))
        frontier = _frontier(
            1000, {"B": 4, "D": 16, "H": 32}, (3, 4, 6, 8, 16, 32, 64), (8, 16, 32, 64, 125, 250), repeats=3
        )
        target_T = 10_000
    rows = [r for r in sweep if r["T"] == target_T]
    targets = {
        "T": target_T,
        "memory_ratio_max": MEMORY_RATIO_MAX,
        "time_ratio_max": TIME_RATIO_MAX,
        "rows": [
            {
                "cell": r["cell"],
                "memory_ratio": r["memory_ratio"],
                "time_ratio": r["time_ratio"],
                "met": r["memory_ratio"] <= MEMORY_RATIO_MAX and r["time_ratio"] <= TIME_RATIO_MAX,
            }
            for r in rows
        ],
    }
    return {"sizes": {**sizes, "dtype": "float64"}, "sweep": sweep, "frontier": frontier, "targets": targets}


def markdown(result: dict) -> str:
    s = result["sizes"]
    lines = [
        "### Checkpointed BPTT: memory and time against T",
        "",
        f"Full BPTT against checkpointed BPTT (segments of ceil(sqrt(T)) steps), B = {s['B']}, D = {s['D']}, "
        f"H = {s['H']}, {s['dtype']}; memory is what each keeps for the backward pass (exact bytes), time the "
        "median of interleaved repeats.",
        "",
        "#### Time",
        "",
        "| cell | T | full (ms) | checkpointed (ms) | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["sweep"]:
        lines.append(
            f"| {r['cell']} | {r['T']} | {r['full_ms']:.1f} | {r['checkpoint_ms']:.1f} | {r['time_ratio']:.2f} |"
        )
    lines += [
        "",
        "#### Memory",
        "",
        "Kept for the backward pass (exact bytes), and the peak that tracemalloc saw during the whole "
        "pass where it was traced (the LSTM).",
        "",
        "| cell | T | full (MiB) | checkpointed (MiB) | ratio | tracemalloc peaks (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["sweep"]:
        traced = (
            "-"
            if r["full_traced_bytes"] is None
            else f"{r['full_traced_bytes'] / 2**20:.1f} / {r['checkpoint_traced_bytes'] / 2**20:.1f}"
        )
        lines.append(
            f"| {r['cell']} | {r['T']} | {r['full_bytes'] / 2**20:.2f} | {r['checkpoint_bytes'] / 2**20:.2f} "
            f"| {r['memory_ratio']:.2%} | {traced} |"
        )
    t = result["targets"]
    lines += [
        "",
        "#### Targets",
        "",
        f"Targets at T = {t['T']}: memory at most {t['memory_ratio_max']:.0%} of full BPTT's, "
        f"time at most {t['time_ratio_max']}x.",
        "",
        "| cell | memory ratio | time ratio | target |",
        "|---|---:|---:|---|",
    ]
    for r in t["rows"]:
        lines.append(
            f"| {r['cell']} | {r['memory_ratio']:.2%} | {r['time_ratio']:.2f} | {'met' if r['met'] else 'not met'} |"
        )
    f = result["frontier"]
    fs = f["sizes"]
    lines += [
        "",
        "#### The memory/time frontier",
        "",
        f"The memory/time frontier of the LSTM at T = {f['T']}, B = {fs['B']}, D = {fs['D']}, H = {fs['H']} "
        f"(full BPTT: {f['full_ms']:.1f} ms, {f['full_bytes'] / 2**20:.2f} MiB):",
        "",
        "| schedule | forward steps / T | kept (MiB) | time (ms) |",
        "|---|---:|---:|---:|",
    ]
    for r in f["budget"]:
        lines.append(
            f"| budget, {r['slots']} slots | {r['forward_steps'] / f['T']:.2f} | "
            f"{r['peak_bytes'] / 2**20:.3f} | {r['ms']:.1f} |"
        )
    for r in f["uniform"]:
        lines.append(
            f"| segments of {r['segment']} | {r['forward_steps'] / f['T']:.2f} | {r['peak_bytes'] / 2**20:.3f} | {r['ms']:.1f} |"
        )
    return "\n".join(lines) + "\n"
