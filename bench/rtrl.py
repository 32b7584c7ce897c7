"""Benchmark section "rtrl": the cost of online gradients (RTRL, UORO) against BPTT as H grows.

For a plain tanh RNN with D = 1 input and B = 1 sequence, on one thread:

- time per step: RTRL (``rtrl_grads``: the sensitivities P_t carried forward), UORO
  (``uoro_grads``: a rank-one estimate), and BPTT (``rnn.forward`` + ``rnn.backward``), the
  median of repeats interleaved between the three at each H, divided by the number of steps;
- memory: exact byte counts of what each method keeps: RTRL's sensitivities
  P_xh, P_hh, P_b (B H (H D + H^2 + H) numbers, independent of T), UORO's rank-one pair
  (B (H + H D + H^2 + H) numbers, independent of T) and the inputs and states that BPTT's
  forward pass caches over T steps (``cost.cache_nbytes`` without the parameters, proportional to T);
- least-squares slopes of log(cost) against log(H): theory says RTRL's time per step grows
  like H^4 and its memory like H^3, UORO's and BPTT's time per step like H^2, UORO's memory
  like H^2 and BPTT's cache (at fixed T) like H.

The counts are exact; the times depend on the machine (BLAS gets more efficient as the matrices
grow, which flattens the measured slopes at moderate H), and the section reports what it measured.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402

NAME = "rtrl"

THEORY = {
    "rtrl": {"time": 4.0, "memory": 3.0},
    "uoro": {"time": 2.0, "memory": 2.0},
    "bptt": {"time": 2.0, "memory": 1.0},
}


def _problem(H: int, T: int, seed: int = 0):
    from bpttlab import init

    rng = np.random.default_rng(seed)
    params = init.init_rnn(1, H, rng)
    x = rng.standard_normal((T, 1, 1))
    dhs = rng.standard_normal((T, 1, H))
    return params, x, np.zeros((1, H)), dhs


def _slope(sizes: list[int], values: list[float]) -> float:
    """Least-squares slope of log(values) against log(sizes)."""
    A = np.stack([np.log(sizes), np.ones(len(sizes))], axis=1)
    coef, *_ = np.linalg.lstsq(A, np.log(values), rcond=None)
    return float(coef[0])


def _memory(H: int, T: int, with_rtrl: bool) -> dict[str, int]:
    """Bytes each method keeps: RTRL's sensitivities (only where RTRL is run: they are allocated),
    UORO's pair, BPTT's cache of inputs and states over T steps (the parameters, shared with the
    model, left out)."""
    from bpttlab import cost
    from bpttlab.numpy import rnn
    from bpttlab.numpy.rtrl import online_start

    params, x, h0, _ = _problem(H, T)
    pair = online_start(h0, params, "uoro")
    _, cache = rnn.forward(x, h0, params)
    out = {
        "uoro": int(pair.s.nbytes + pair.th_xh.nbytes + pair.th_hh.nbytes + pair.th_b.nbytes),
        "bptt": int(cost.cache_nbytes(cache._replace(params=()))),
    }
    if with_rtrl:
        sens = online_start(h0, params, "rtrl")
        out["rtrl"] = int(sens.P_xh.nbytes + sens.P_hh.nbytes + sens.P_b.nbytes)
    return out


def _times(H: int, T: int, repeats: int, with_rtrl: bool) -> dict[str, float]:
    from bpttlab.numpy import rnn
    from bpttlab.numpy.rtrl import rtrl_grads, uoro_grads

    params, x, h0, dhs = _problem(H, T)
    rng = np.random.default_rng(1)

    def bptt():
        _, cache = rnn.forward(x, h0, params)
        rnn.backward(dhs, cache)

    fns = {"uoro": lambda: uoro_grads(x, h0, params, dhs, rng), "bptt": bptt}
    if with_rtrl:
        fns["rtrl"] = lambda: rtrl_grads(x, h0, params, dhs)
    return {name: seconds / T for name, seconds in common.interleaved_median(fns, repeats=repeats).items()}


def run(quick: bool) -> dict:
    common.one_thread()
    if quick:
        rtrl_sizes, other_sizes, T_rtrl, T_other, repeats = [8, 16, 32], [16, 32, 64], 2, 10, 2
    else:
        rtrl_sizes, other_sizes = [64, 96, 128, 192, 256], [256, 512, 1024, 2048]
        T_rtrl, T_other, repeats = 3, 20, 5
    T_memory = 100
    rows = []
    for H in sorted(set(rtrl_sizes) | set(other_sizes)):
        with_rtrl = H in rtrl_sizes
        # RTRL over few steps (its cost per step does not depend on T); the others over more
        times = _times(H, T_rtrl if with_rtrl else T_other, repeats, with_rtrl)
        if with_rtrl and H in other_sizes:
            times.update({k: v for k, v in _times(H, T_other, repeats, False).items()})
        if H not in other_sizes:
            times = {"rtrl": times["rtrl"]}
        rows.append({"H": H, "seconds_per_step": times, "bytes": _memory(H, T_memory, with_rtrl)})
    fits = {}
    for method, sizes in (("rtrl", rtrl_sizes), ("uoro", other_sizes), ("bptt", other_sizes)):
        sel = [r for r in rows if r["H"] in sizes]
        hs = [r["H"] for r in sel]
        fits[method] = {
            "time": _slope(hs, [r["seconds_per_step"][method] for r in sel]),
            "memory": _slope(hs, [r["bytes"][method] for r in sel]),
            "theory": THEORY[method],
            "sizes": hs,
        }
    return {
        "B": 1,
        "D": 1,
        "T_rtrl": T_rtrl,
        "T_other": T_other,
        "T_memory": T_memory,
        "repeats": repeats,
        "rows": rows,
        "fits": fits,
    }


def markdown(result: dict) -> str:
    lines = [
        "### Online gradients: RTRL and UORO against BPTT",
        "",
        f"Plain tanh RNN, B = {result['B']}, D = {result['D']}, float64, one thread. Time per step: median of "
        f"{result['repeats']} interleaved repeats over {result['T_rtrl']} steps (RTRL) or {result['T_other']} "
        f"steps (UORO, BPTT). Memory: exact bytes of RTRL's sensitivities and UORO's rank-one pair (both "
        f"independent of T) and of BPTT's cache of inputs and states over T = {result['T_memory']} steps "
        f"(the parameters, shared with the model, not counted).",
        "",
        "| H | RTRL ms/step | UORO ms/step | BPTT ms/step | RTRL sensitivities | UORO pair | BPTT cache |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def ms(row, key):
        v = row["seconds_per_step"].get(key)
        return "" if v is None else f"{v * 1e3:.3f}"

    for row in result["rows"]:
        b = row["bytes"]
        rtrl_mib = f"{b['rtrl'] / 2**20:.2f} MiB" if "rtrl" in b else ""
        lines.append(
            f"| {row['H']} | {ms(row, 'rtrl')} | {ms(row, 'uoro')} | {ms(row, 'bptt')} | "
            f"{rtrl_mib} | {b['uoro'] / 2**10:.1f} KiB | {b['bptt'] / 2**10:.1f} KiB |"
        )
    lines += [
        "",
        "Least-squares slopes of log(cost) against log(H):",
        "",
        "| method | sizes H | time: measured | theory | memory: measured | theory |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for method, fit in result["fits"].items():
        lines.append(
            f"| {method.upper()} | {', '.join(map(str, fit['sizes']))} | {fit['time']:.2f} | "
            f"{fit['theory']['time']:.0f} | {fit['memory']:.2f} | {fit['theory']['memory']:.0f} |"
        )
    r = result["fits"]["rtrl"]
    lines += [
        "",
        f"RTRL: measured time exponent {r['time']:.2f} (theory 4, |difference| "
        f"{abs(r['time'] - 4):.2f}), memory exponent {r['memory']:.2f} (theory 3, |difference| "
        f"{abs(r['memory'] - 3):.2f}). The memory counts are exact, B H (H D + H^2 + H) numbers; "
        "the lower-order terms pull the slope a little below 3 at these sizes. Time: the H^4 term is "
        "one matrix product per step whose efficiency grows with H, next to H^3 element-wise work, "
        "so the measured slope is the machine's, not the operation count's.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import json
    import time

    quick = "--quick" in sys.argv
    start = time.perf_counter()
    result = run(quick)
    print(markdown(result))
    print(f"({time.perf_counter() - start:.1f} s)")
    if "--json" in sys.argv:
        print(json.dumps(result, indent=1))
