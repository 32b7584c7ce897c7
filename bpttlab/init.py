"""Parameter initialisation with an explicit numpy.random.Generator (no global RNG)."""

from __future__ import annotations

import numpy as np

from bpttlab._checks import check_choice, check_generator, check_positive_int
from bpttlab.params import MLPParams, ReadoutParams, RNNParams

DTYPES = (np.float32, np.float64)


def _check_dtype(dtype: object) -> np.dtype:
    if np.dtype(dtype) not in [np.dtype(d) for d in DTYPES]:
        raise TypeError(f"dtype: expected float32 or float64, got {dtype}")
    return np.dtype(dtype)


def gaussian(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, dtype: object = np.float64) -> np.ndarray:
    """Entries drawn from N(0, 1/fan_in)."""
    check_generator("rng", rng)
    return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(_check_dtype(dtype))


def init_rnn(
    D: int, H: int, rng: np.random.Generator, dtype: object = np.float64, recurrent_scale: float = 1.0
) -> RNNParams:
    """W_xh ~ N(0, 1/D), W_hh ~ N(0, recurrent_scale^2 / H), b_h = 0.

    With recurrent_scale = 1 the spectral radius of W_hh is close to 1 for large H.
    """
    D, H = check_positive_int("D", D), check_positive_int("H", H)
    check_generator("rng", rng)
    dtype = _check_dtype(dtype)
    return RNNParams(
        W_xh=gaussian(rng, (H, D), D, dtype),
        W_hh=(recurrent_scale * gaussian(rng, (H, H), H, np.float64)).astype(dtype),
        b_h=np.zeros(H, dtype=dtype),
    )


def init_readout(H: int, O: int, rng: np.random.Generator, dtype: object = np.float64) -> ReadoutParams:
    """W_hy ~ N(0, 1/H), b_y = 0."""
    H, O = check_positive_int("H", H), check_positive_int("O", O)
    dtype = _check_dtype(dtype)
    return ReadoutParams(W_hy=gaussian(rng, (O, H), H, dtype), b_y=np.zeros(O, dtype=dtype))


def init_mlp(
    D: int, H: int, O: int, rng: np.random.Generator, dtype: object = np.float64, activation: str = "tanh"
) -> MLPParams:
    """W_1 ~ N(0, g/D), W_2 ~ N(0, 1/H), zero biases; g = 2 for relu (He), 1 otherwise."""
    D, H, O = (check_positive_int(n, v) for n, v in (("D", D), ("H", H), ("O", O)))
    check_choice("activation", activation, ("tanh", "sigmoid", "relu"))
    dtype = _check_dtype(dtype)
    gain = 2.0 if activation == "relu" else 1.0
    return MLPParams(
        W_1=(np.sqrt(gain) * gaussian(rng, (H, D), D, np.float64)).astype(dtype),
        b_1=np.zeros(H, dtype=dtype),
        W_2=gaussian(rng, (O, H), H, dtype),
        b_2=np.zeros(O, dtype=dtype),
    )
