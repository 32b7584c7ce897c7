"""Section "cells": full BPTT of every registry cell, three ways, against the matmul peak.

For each cell of ``bpttlab.cells.CELLS`` with its default option (RNN tanh, LSTM, GRU
"torch" variant: the ones torch.nn computes), each size and each dtype, one forward and
backward pass over a sequence is timed three ways, interleaved, one thread:

- ``numpy``: bpttlab.numpy, the backward pass written by hand;
- ``torch``: bpttlab.torch, the same maths in torch ops, gradients by autograd;
- ``nn``: torch.nn's own layer with the same weights (``bpttlab.torch.nnmap.to_nn``).

All three get the same x, zero initial state and the same fixed random upstream gradient
dhs, and all three compute the gradients of every weight and of x (their dx are compared).

Flops are those of the matrix products only (2 m n k each). With G = gates * H, a cell does
the input projection (T B) x D x G and T recurrent products B x H x G forward; backward the
same again for dh (recurrent) and dx, plus dW_x (G x T B x D) and dW_h (G x T B x H):
flops = 6 T B G (D + H). The peak is the best rate of the same library's matmul, same dtype,
one thread, over the shapes the cell uses and one big square product, measured alone, and of the
big square product timed interleaved with each cell's passes (so that it shares their conditions).

A last part profiles one float32 LSTM forward+backward at H = 128 with NumPy: how many
NumPy calls one time step makes (counted by wrapping every array) and how their time splits
between the matrix products and everything else.

JSON keys (read by book/performance.ipynb)::

    sizes: [{T, B, D, H}], dtypes: ["float32", "float64"], repeats: {H: n}
    rows: [{cell, dtype, T, B, D, H, G, flops,
            seconds: {numpy, torch, nn},            # medians of interleaved repeats
            ratio_numpy_nn, ratio_numpy_torch,      # numpy median / other median
            gflops: {numpy, torch, nn}, peak_gflops: {numpy, torch},
            square_gflops: {numpy, torch},          # the big square product, interleaved with the passes
            fraction_of_peak: {numpy, torch, nn},   # nn against torch's matmul peak
            dx_rel_diff: {torch, nn},               # max |dx - dx_numpy| / max |dx_numpy|
            target_speed_met, target_peak_met (None below H = 512)}]
    gemm: [{library, dtype, m, k, n, seconds, gflops}]
    nn_top_ops: {cell/dtype: [torch op names by self CPU time]}
    numpy_profile: {T, B, D, H, dtype, seconds_per_step, matmul_seconds_per_step,
                    calls: {ufunc, index, function} (whole pass), calls_total,
                    calls_per_step: the same / T, calls_total_per_step,
                    other_seconds_per_call, tiny_call_seconds, matmuls_per_step}
    targets: {speed, peak_fraction, peak_H}
"""

from __future__ import annotations

import time

import numpy as np
from common import interleaved_median, one_thread

NAME = "cells"
SIZES = [dict(T=100, B=32, D=32, H=128), dict(T=100, B=64, D=32, H=512)]
QUICK_SIZES = [dict(T=5, B=3, D=4, H=8)]
DTYPES = ("float32", "float64")
TARGET_PEAK_FRACTION = 0.75
TARGET_PEAK_H = 512
BIG_GEMM = 1024


def flops(T: int, B: int, D: int, H: int, gates: int) -> int:
    """Flops of the matrix products of one forward + backward pass: 6 T B G (D + H), G = gates H."""
    return 6 * T * B * gates * H * (D + H)


def _variants():
    from bpttlab import cells

    return [(spec, spec.options()) for spec in cells.CELLS.values() if spec.nn(**spec.options()) is not None]


def _problem(spec, opts, size, dtype, seed=0):
    """Parameters, x, zero state and a fixed random dhs, the same for the three implementations."""
    from bpttlab import init

    rng = np.random.default_rng(seed)
    T, B, D, H = size["T"], size["B"], size["D"], size["H"]
    p = init.init_cell(spec.name, D, H, rng, dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    dhs = rng.standard_normal((T, B, H)).astype(dtype)
    return p, x, dhs


def _passes(spec, opts, p, x, dhs):
    """The three forward+backward passes as functions returning dx (NumPy)."""
    import torch

    import bpttlab.torch as bt
    from bpttlab.torch import nnmap

    np_mod, t_mod = spec.numpy(), spec.torch()
    B, H = dhs.shape[1], dhs.shape[2]
    s0 = np_mod.zero_state(p, B)

    def numpy_pass():
        _, cache = np_mod.forward(x, s0, p, **opts)
        return np_mod.backward(dhs, cache)[0]

    pt = bt.to_torch(p, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    dt = torch.tensor(dhs)
    s0t = bt.to_torch(s0) if isinstance(s0, tuple) else torch.tensor(s0)

    def torch_pass():
        hs, _ = t_mod.forward(xt, s0t, pt, **opts)
        return torch.autograd.grad((hs * dt).sum(), [xt, *pt])[0]

    module = nnmap.to_nn(p, **({"nonlinearity": opts["activation"]} if spec.name == "rnn" else {}))
    h0 = torch.zeros(1, B, H, dtype=xt.dtype)
    state = (h0, h0.clone()) if spec.state is not None else h0

    def nn_pass():
        out, _ = module(xt, state)
        return torch.autograd.grad((out * dt).sum(), [xt, *module.parameters()])[0]

    return {"numpy": numpy_pass, "torch": torch_pass, "nn": nn_pass}


def _dx_diffs(passes) -> dict[str, float]:
    ref = np.asarray(passes["numpy"]())
    scale = float(np.max(np.abs(ref)))
    return {k: float(np.max(np.abs(passes[k]().numpy() - ref)) / scale) for k in ("torch", "nn")}


def _gemm_shapes(size, gates) -> list[tuple[int, int, int]]:
    """(m, k, n) of the products a cell makes: input projection, recurrent step, its backward, dW_h, dW_x, dx."""
    T, B, D, H = size["T"], size["B"], size["D"], size["H"]
    G = gates * H
    return [(T * B, D, G), (B, H, G), (B, G, H), (G, T * B, H), (G, T * B, D), (T * B, G, D)]


def _gemm_rates(shapes, dtype, repeats, quick) -> list[dict]:
    import torch

    rng = np.random.default_rng(1)
    big = 64 if quick else BIG_GEMM
    out = []
    for m, k, n in [*shapes, (big, big, big)]:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        med = interleaved_median({"numpy": lambda: a @ b, "torch": lambda: torch.matmul(ta, tb)}, repeats=repeats)
        for lib, s in med.items():
            out.append(
                {
                    "library": lib,
                    "dtype": dtype,
                    "m": m,
                    "k": k,
                    "n": n,
                    "seconds": s,
                    "gflops": 2 * m * k * n / s / 1e9,
                }
            )
    return out


def _nn_top_ops(nn_pass, k: int = 4) -> list[str]:
    import torch

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        nn_pass()
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    return [e.key for e in events[:k]]


# ----------------------------------------------------------------- where a NumPy step spends its time


class _Counted(np.ndarray):
    """An ndarray that counts every ufunc (arithmetic, activations, matmul) and indexing applied to it."""

    counts = {"ufunc": 0, "index": 0, "function": 0}
    matmuls = 0

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _Counted.counts["ufunc"] += 1
        if ufunc is np.matmul:
            _Counted.matmuls += 1
        inputs = [i.view(np.ndarray) if isinstance(i, _Counted) else i for i in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, _Counted) else o for o in kwargs["out"])
        result = getattr(ufunc, method)(*inputs, **kwargs)
        if isinstance(result, tuple):
            return tuple(_wrap(r) for r in result)
        return _wrap(result)

    def __getitem__(self, key):
        _Counted.counts["index"] += 1
        return _wrap(np.ndarray.__getitem__(self.view(np.ndarray), key))

    def __setitem__(self, key, value):
        _Counted.counts["index"] += 1
        np.ndarray.__setitem__(
            self.view(np.ndarray), key, value.view(np.ndarray) if isinstance(value, _Counted) else value
        )


def _wrap(value):
    return value.view(_Counted) if isinstance(value, np.ndarray) and not isinstance(value, _Counted) else value


class _CountingNumpy:
    """Stands in for ``np`` inside the profiled modules: NumPy functions are counted and return counted arrays."""

    def __getattr__(self, name):
        attr = getattr(np, name)
        if isinstance(attr, np.ufunc) or not callable(attr) or isinstance(attr, type):
            return attr

        def counted(*args, **kwargs):
            _Counted.counts["function"] += 1
            return _wrap(attr(*args, **kwargs))

        return counted


def _count_calls(spec, p, x, dhs) -> tuple[dict[str, int], int]:
    """NumPy calls of one forward+backward, by kind, with every array and np.* function counted."""
    import sys

    np_mod = spec.numpy()
    B = x.shape[1]
    wrap_tree = lambda c: type(c)(*(_wrap(np.array(v)) for v in c))  # noqa: E731
    pc, xc, dc = wrap_tree(p), _wrap(x.copy()), _wrap(dhs.copy())
    s0 = np_mod.zero_state(p, B)
    s0c = wrap_tree(s0) if isinstance(s0, tuple) else _wrap(s0)
    # every bpttlab.numpy module the cell may call into sees the counting stand-in for np
    patched = {
        name: mod
        for name, mod in sys.modules.items()
        if name.startswith("bpttlab.numpy") and getattr(mod, "np", None) is np
    }
    for mod in patched.values():
        mod.np = _CountingNumpy()
    try:
        _Counted.counts = {k: 0 for k in _Counted.counts}
        _Counted.matmuls = 0
        _, cache = np_mod.forward(xc, s0c, pc)
        np_mod.backward(dc, cache)
        return dict(_Counted.counts), _Counted.matmuls
    finally:
        for mod in patched.values():
            mod.np = np


def numpy_profile(quick: bool) -> dict:
    """Time per step of the NumPy LSTM (float32, H = 128), its matrix products alone, and its NumPy calls."""
    from bpttlab import cells

    spec = cells.CELLS["lstm"]
    size = QUICK_SIZES[0] if quick else SIZES[0]
    T, B, D, H = size["T"], size["B"], size["D"], size["H"]
    dtype = "float32"
    p, x, dhs = _problem(spec, {}, size, dtype)
    passes = _passes(spec, {}, p, x, dhs)
    counts, matmuls = _count_calls(spec, p, x, dhs)
    G = 4 * H
    rng = np.random.default_rng(2)
    h = rng.standard_normal((B, H)).astype(dtype)
    da = rng.standard_normal((B, G)).astype(dtype)
    W_h = p.W_h
    W_h_T = W_h.T
    x2 = x.reshape(-1, D)
    das = rng.standard_normal((T * B, G)).astype(dtype)
    hs2 = rng.standard_normal((T * B, H)).astype(dtype)
    W_x = p.W_x

    def matmuls_only():
        """The same matrix products, with the same shapes and layouts, nothing else."""
        _ = x2 @ W_x.T
        for _t in range(T):
            _ = h @ W_h_T
        for _t in range(T):
            _ = da @ W_h
        _ = das.T @ x2, das.T @ hs2, das @ W_x

    tiny = np.ones((1, 1), dtype=dtype)
    repeats = 3 if quick else 9
    med = interleaved_median({"full": passes["numpy"], "matmuls": matmuls_only}, repeats=repeats)
    n_tiny = 2000
    start = time.perf_counter()
    for _ in range(n_tiny):
        np.tanh(tiny)
    tiny_s = (time.perf_counter() - start) / n_tiny
    total = sum(counts.values())
    other = med["full"] - med["matmuls"]
    return {
        "T": T,
        "B": B,
        "D": D,
        "H": H,
        "dtype": dtype,
        "seconds_per_step": med["full"] / T,
        "matmul_seconds_per_step": med["matmuls"] / T,
        "calls": counts,
        "calls_total": total,
        "calls_per_step": {k: v / T for k, v in counts.items()},
        "calls_total_per_step": total / T,
        "matmuls_per_step": matmuls / T,
        "other_seconds_per_call": other / max(total - matmuls, 1),
        "tiny_call_seconds": tiny_s,
    }


# ----------------------------------------------------------------- the section


def run(quick: bool) -> dict:
    import torch

    one_thread()
    torch.use_deterministic_algorithms(False)
    sizes = QUICK_SIZES if quick else SIZES
    repeats = {s["H"]: (2 if quick else (7 if s["H"] < 512 else 3)) for s in sizes}
    rows, gemm, top_ops = [], [], {}
    for size in sizes:
        T, B, D, H = size["T"], size["B"], size["D"], size["H"]
        for dtype in DTYPES:
            shapes = []
            cell_rows = []
            big = 64 if quick else BIG_GEMM
            sq_rng = np.random.default_rng(3)
            sq_a, sq_b = (sq_rng.standard_normal((big, big)).astype(dtype) for _ in range(2))
            sq_ta, sq_tb = torch.from_numpy(sq_a), torch.from_numpy(sq_b)
            squares = {"square_numpy": lambda: sq_a @ sq_b, "square_torch": lambda: torch.matmul(sq_ta, sq_tb)}
            for spec, opts in _variants():
                p, x, dhs = _problem(spec, opts, size, dtype)
                passes = _passes(spec, opts, p, x, dhs)
                diffs = _dx_diffs(passes)
                med = interleaved_median({**passes, **squares}, repeats=repeats[H])
                square_rates = {lib: 2 * big**3 / med.pop(f"square_{lib}") / 1e9 for lib in ("numpy", "torch")}
                n = flops(T, B, D, H, spec.gates)
                if size is sizes[0]:
                    top_ops[f"{spec.name}/{dtype}"] = _nn_top_ops(passes["nn"])
                cell_rows.append(
                    {
                        "cell": spec.name,
                        "options": opts,
                        "dtype": dtype,
                        **size,
                        "G": spec.gates * H,
                        "flops": n,
                        "seconds": med,
                        "ratio_numpy_nn": med["numpy"] / med["nn"],
                        "ratio_numpy_torch": med["numpy"] / med["torch"],
                        "gflops": {k: n / s / 1e9 for k, s in med.items()},
                        "dx_rel_diff": diffs,
                        "square_gflops": square_rates,
                    }
                )
                shapes += [s for s in _gemm_shapes(size, spec.gates) if s not in shapes]
                print(
                    f"cells: {spec.name} {dtype} H={H}: "
                    + ", ".join(f"{k} {1e3 * s:.1f} ms" for k, s in med.items())
                    + f"; numpy/nn {cell_rows[-1]['ratio_numpy_nn']:.2f}",
                    flush=True,
                )
            rates = _gemm_rates(shapes, dtype, 3 if quick else 5, quick)
            gemm += [{**r, "H": H} for r in rates]
            # the best rate of the cells' shapes and the big square, measured alone, and of the big square
            # measured interleaved with each cell's passes (under the same load as the passes)
            peak = {
                lib: max(
                    [r["gflops"] for r in rates if r["library"] == lib]
                    + [row["square_gflops"][lib] for row in cell_rows]
                )
                for lib in ("numpy", "torch")
            }
            for row in cell_rows:
                row["peak_gflops"] = peak
                row["fraction_of_peak"] = {
                    k: row["gflops"][k] / peak["numpy" if k == "numpy" else "torch"] for k in row["gflops"]
                }
                row["target_speed_met"] = row["ratio_numpy_nn"] <= 1.0
                row["target_peak_met"] = (
                    row["fraction_of_peak"]["numpy"] >= TARGET_PEAK_FRACTION if H >= TARGET_PEAK_H else None
                )
            rows += cell_rows
    return {
        "sizes": sizes,
        "dtypes": list(DTYPES),
        "repeats": {str(k): v for k, v in repeats.items()},
        "rows": rows,
        "gemm": gemm,
        "nn_top_ops": top_ops,
        "numpy_profile": numpy_profile(quick),
        "targets": {
            "speed": "numpy time <= torch.nn time",
            "peak_fraction": TARGET_PEAK_FRACTION,
            "peak_H": TARGET_PEAK_H,
        },
    }


def _verdict(flag) -> str:
    return "-" if flag is None else ("met" if flag else "**not met**")


def markdown(result: dict) -> str:
    rows = result["rows"]
    lines = [
        "### BPTT of each cell: by hand, by autograd, torch.nn",
        "",
        "One forward and backward pass over a sequence (gradients of every weight and of x, a fixed random "
        "upstream gradient), medians of interleaved repeats on one thread. *numpy* is bpttlab.numpy (backward "
        "by hand), *torch* is bpttlab.torch (autograd on the same maths), *nn* is torch.nn with the same weights. "
        "Ratios are NumPy's median over the other's: below 1, NumPy is faster. Target: NumPy no slower than "
        "torch.nn.",
        "",
        "Sizes: T, B, D, H = " + "; ".join(sorted({f"{r['T']}, {r['B']}, {r['D']}, {r['H']}" for r in rows})) + ".",
        "",
        "| cell | dtype | H | numpy (ms) | torch (ms) | nn (ms) | numpy / nn | numpy / torch | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        s = r["seconds"]
        lines.append(
            f"| {r['cell']} | {r['dtype']} | {r['H']} | {1e3 * s['numpy']:.1f} | "
            f"{1e3 * s['torch']:.1f} | {1e3 * s['nn']:.1f} | {r['ratio_numpy_nn']:.2f} | "
            f"{r['ratio_numpy_torch']:.2f} | {_verdict(r['target_speed_met'])} |"
        )
    lines += [
        "",
        "### Achieved GFLOP/s against the matmul peak",
        "",
        "Flops count the matrix products only, 2 m n k each. With G = gates H (RNN 1, GRU 3, LSTM 4 gate "
        "blocks), one pass makes the input projection and T recurrent products forward, and the recurrent "
        "product, dx, dW_x and dW_h backward: **flops = 6 T B G (D + H)**, the same count for the three "
        "implementations. The peak is the best rate of the same library's matmul (NumPy's `@` for numpy, "
        "`torch.matmul` for torch and nn), same dtype, one thread, over the shapes the cell uses and a "
        f"{BIG_GEMM} x {BIG_GEMM} x {BIG_GEMM} product, each timed alone, and of that product timed "
        f"interleaved with each cell's passes. Target: NumPy at {TARGET_PEAK_FRACTION:.0%} of its peak or more at "
        f"H = {result['targets']['peak_H']}.",
        "",
        "#### Rates (GFLOP/s)",
        "",
        "| cell | dtype | H | GFLOP | numpy | torch | nn | NumPy peak | torch peak |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        g, pk = r["gflops"], r["peak_gflops"]
        lines.append(
            f"| {r['cell']} | {r['dtype']} | {r['H']} | {r['flops'] / 1e9:.2f} | {g['numpy']:.1f} | {g['torch']:.1f} | "
            f"{g['nn']:.1f} | {pk['numpy']:.1f} | {pk['torch']:.1f} |"
        )
    lines += [
        "",
        "#### Fractions of the peak",
        "",
        "| cell | dtype | H | numpy / NumPy peak | nn / torch peak | target |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        fr = r["fraction_of_peak"]
        lines.append(
            f"| {r['cell']} | {r['dtype']} | {r['H']} | {fr['numpy']:.0%} | {fr['nn']:.0%} | "
            f"{_verdict(r['target_peak_met'])} |"
        )
    prof = result["numpy_profile"]
    calls = prof["calls_per_step"]
    lines += [
        "",
        "### Where a NumPy step spends its time",
        "",
        f"One float32 LSTM forward + backward at T = {prof['T']}, B = {prof['B']}, D = {prof['D']}, "
        f"H = {prof['H']}: {1e6 * prof['seconds_per_step']:.0f} µs per time step, of which the matrix products "
        f"alone take {1e6 * prof['matmul_seconds_per_step']:.0f} µs. One step makes "
        f"{prof['calls_total_per_step']:.1f} NumPy calls ({calls['ufunc']:.1f} ufuncs and operators, "
        f"{calls['index']:.1f} indexings, {calls['function']:.1f} other functions); the time outside the matrix "
        f"products comes to {1e6 * prof['other_seconds_per_call']:.2f} µs per call, against "
        f"{1e6 * prof['tiny_call_seconds']:.2f} µs for one call on a 1 x 1 array (pure overhead).",
        "",
        "torch.nn's busiest operators (self CPU time, first size): "
        + "; ".join(f"{k}: {', '.join(v[:2])}" for k, v in result["nn_top_ops"].items())
        + ".",
    ]
    return "\n".join(lines) + "\n"
