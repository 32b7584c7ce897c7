"""Benchmark section "attention": one causal self-attention layer against the LSTM as T grows.

Both models by hand in NumPy, float64, one thread, B = 16 sequences, D = 8 inputs, H = 32, one
output per step (a per-step squared-error loss on random targets, so that every step has a loss):

- time per training step: forward, loss and backward (``bpttlab.numpy.attention.loss_and_grads``
  against ``bpttlab.numpy.seq.loss_and_grads`` with the LSTM cell, full BPTT), the median of
  repeats interleaved between the two at each T;
- memory: exact bytes of the forward cache that the backward pass reads (``cost.cache_nbytes``;
  the parameters, shared with the model, left out): 8 (T B D + 6 T B H + B T^2) for attention,
  8 (T B D + 6 T B H + 2 B H) for the LSTM; each count is checked against its formula;
- least-squares slopes of log(cost) against log(T) over the largest sizes.

The parameter counts differ a little (4 H^2 + H D + H + readout against 4 H (D + H + 1) + readout)
and are reported.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402

NAME = "attention"
B, D, H, O = 16, 8, 32, 1


def _batch(T: int, seed: int = 0):
    from bpttlab import tasks

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, D))
    y = rng.standard_normal((T, B, O))
    return tasks.TaskBatch(x, y, np.ones((T, B)), "mse")


def _models(seed: int = 0):
    from bpttlab.numpy import attention, seq
    from bpttlab.seqmodel import SeqModel

    rng = np.random.default_rng(seed)
    model = SeqModel(cell="lstm", loss="mse")
    return attention.init_attention(D, H, O, rng), model, seq.init_params(model, D, H, O, rng)


def _bytes(T: int) -> dict[str, int]:
    from bpttlab import cost
    from bpttlab.numpy import attention, lstm, seq

    att, model, lstm_params = _models()
    batch = _batch(T)
    _, att_cache = attention.forward(batch.x, att)
    _, lstm_cache = seq.forward(batch.x, lstm.zero_state(lstm_params.cell, B), lstm_params, model)
    return {
        "attention": int(cost.cache_nbytes(att_cache._replace(params=()))),
        "lstm": int(cost.cache_nbytes(lstm_cache._replace(params=()))),
    }


def formula_bytes(T: int) -> dict[str, int]:
    """The cache sizes in float64 numbers, times 8: what the forward passes must keep."""
    return {
        "attention": 8 * (T * B * D + 6 * T * B * H + B * T * T),
        "lstm": 8 * (T * B * D + 6 * T * B * H + 2 * B * H),
    }


def _times(T: int, repeats: int) -> dict[str, float]:
    from bpttlab.numpy import attention, lstm, seq

    att, model, lstm_params = _models()
    batch = _batch(T)
    state0 = lstm.zero_state(lstm_params.cell, B)
    fns = {
        "attention": lambda: attention.loss_and_grads(batch, att),
        "lstm": lambda: seq.loss_and_grads(batch, state0, lstm_params, model),
    }
    return common.interleaved_median(fns, repeats=repeats)


def _slope(sizes: list[int], values: list[float]) -> float:
    A = np.stack([np.log(sizes), np.ones(len(sizes))], axis=1)
    coef, *_ = np.linalg.lstsq(A, np.log(values), rcond=None)
    return float(coef[0])


def run(quick: bool) -> dict:
    from bpttlab.numpy import attention
    from bpttlab.params import cell_param_count

    common.one_thread()
    sizes, repeats = ([10, 20, 40], 2) if quick else ([50, 100, 200, 400, 800], 5)
    rows, failures = [], []
    for T in sizes:
        counted, expected = _bytes(T), formula_bytes(T)
        if counted != expected:
            failures.append(f"T = {T}: cache bytes {counted} differ from the formula {expected}")
        rows.append({"T": T, "seconds_per_step": _times(T, repeats), "bytes": counted})
    fit_sizes = sizes[-3:]
    fit_rows = [r for r in rows if r["T"] in fit_sizes]
    fits = {
        m: {
            "time": _slope(fit_sizes, [r["seconds_per_step"][m] for r in fit_rows]),
            "memory": _slope(fit_sizes, [r["bytes"][m] for r in fit_rows]),
        }
        for m in ("attention", "lstm")
    }
    readout = O * H + O
    params = {"attention": attention.param_count(D, H, O), "lstm": cell_param_count("lstm", D, H) + readout}
    return {
        "B": B,
        "D": D,
        "H": H,
        "O": O,
        "repeats": repeats,
        "params": params,
        "rows": rows,
        "fit_sizes": fit_sizes,
        "fits": fits,
        "failures": failures,
    }


def markdown(result: dict) -> str:
    p = result["params"]
    lines = [
        "### Attention against recurrence",
        "",
        f"One causal self-attention layer (one head) and an LSTM, both by hand in NumPy, B = {result['B']}, "
        f"D = {result['D']}, H = {result['H']}, O = {result['O']}, float64, one thread; parameters: attention "
        f"{p['attention']}, LSTM {p['lstm']}. Time per training step (forward, loss and backward over the "
        f"whole sequence): median of {result['repeats']} interleaved repeats. Memory: exact bytes of the "
        "forward cache (the parameters not counted).",
        "",
        "| T | attention ms/step | LSTM ms/step | ratio | attention cache | LSTM cache |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        s, b = r["seconds_per_step"], r["bytes"]
        lines.append(
            f"| {r['T']} | {s['attention'] * 1e3:.2f} | {s['lstm'] * 1e3:.2f} | "
            f"{s['attention'] / s['lstm']:.2f} | {b['attention'] / 2**20:.2f} MiB | "
            f"{b['lstm'] / 2**20:.2f} MiB |"
        )
    f = result["fits"]
    lines += [
        "",
        f"Slopes of log(cost) against log(T) over T = {', '.join(map(str, result['fit_sizes']))}: "
        f"attention time {f['attention']['time']:.2f}, memory {f['attention']['memory']:.2f}; "
        f"LSTM time {f['lstm']['time']:.2f}, memory {f['lstm']['memory']:.2f}. Attention's cost "
        "approaches T^2 (the B T^2 attention weights) once they outweigh the T B H terms; the LSTM's "
        "stays proportional to T.",
    ]
    if result.get("failures"):
        lines += ["", "Failures: " + "; ".join(result["failures"])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import time

    start = time.perf_counter()
    result = run("--quick" in sys.argv)
    print(markdown(result))
    print(f"({time.perf_counter() - start:.1f} s)")
