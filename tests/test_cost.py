"""cache_nbytes: distinct arrays counted once, views of a counted buffer not counted again."""

from __future__ import annotations

import numpy as np
from support import Dims, make_problem

from bpttlab.cost import cache_nbytes
from bpttlab.numpy import rnn


def test_rnn_cache_counts_inputs_states_and_params():
    """An RNN cache holds x, h0, hs and the three parameters: their bytes, each once."""
    d = Dims(T=7, B=3, D=4, H=5, O=1)
    p = make_problem(0, d)
    hs, cache = rnn.forward(p.x, p.h0, p.params)
    expected = p.x.nbytes + p.h0.nbytes + hs.nbytes + sum(w.nbytes for w in p.params)
    assert cache_nbytes(cache) == expected
    assert expected == 8 * (7 * 3 * 4 + 3 * 5 + 7 * 3 * 5 + 5 * 4 + 5 * 5 + 5)


def test_shared_arrays_and_views_count_once():
    """The same array twice, or a view of it, adds nothing; a copy is counted; nesting is walked."""
    a = np.zeros(10)
    assert cache_nbytes((a, a, a[2:5], {"k": [a.reshape(2, 5)]})) == 80
    assert cache_nbytes((a, a.copy())) == 160
    assert cache_nbytes({"x": [(np.zeros(3, np.float32),)], "n": 3, "s": "text"}) == 12


def test_float32_cache_is_half_the_size():
    """The same problem in float32 keeps exactly half the bytes."""
    d = Dims(T=6, B=2, D=3, H=4, O=1)
    p64, p32 = make_problem(1, d), make_problem(1, d, dtype=np.float32)
    c64 = rnn.forward(p64.x, p64.h0, p64.params)[1]
    c32 = rnn.forward(p32.x, p32.h0, p32.params)[1]
    assert 2 * cache_nbytes(c32) == cache_nbytes(c64)
