"""Character data: the shipped corpus, a reproducible vocabulary, random windows whose target is the
next character, and parallel streams whose chunks continue one another (for stateful truncated BPTT)."""

from __future__ import annotations

import string

import numpy as np
import pytest

from bpttlab.text import CharVocab, char_batch, load_text, stream_batches


def gen(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture(scope="module")
def corpus() -> str:
    return load_text()


# ----------------------------------------------------------------- corpus and vocabulary


def test_load_text_is_the_shipped_genesis(corpus):
    assert 150_000 < len(corpus) < 250_000  # about 197 kB (bpttlab/data/README.md)
    assert corpus.startswith("In the beginning God created the heaven and the earth.")
    assert set(corpus) <= set(string.ascii_letters + string.digits + string.punctuation + " \n")
    assert load_text("genesis_kjv") == corpus


def test_vocab_is_sorted_and_round_trips_the_corpus(corpus):
    vocab = CharVocab(corpus)
    assert vocab.chars == sorted(set(corpus)) and len(vocab) == len(set(corpus))
    assert vocab.chars[0] == "\n" and vocab.chars[1] == " "  # sorted by code point
    ids = vocab.encode(corpus)
    assert ids.dtype == np.int64 and ids.shape == (len(corpus),)
    assert ids.min() == 0 and ids.max() == len(vocab) - 1
    assert vocab.decode(ids) == corpus
    assert CharVocab(corpus[::-1]).chars == vocab.chars  # the mapping does not depend on the order of the text
    assert vocab.encode("").shape == (0,) and vocab.decode(np.array([], dtype=np.int64)) == ""


def test_one_hot_rows(corpus):
    vocab = CharVocab(corpus)
    ids = vocab.encode("And God said")
    x = vocab.one_hot(ids)
    assert x.shape == (12, len(vocab)) and x.dtype == np.float32
    np.testing.assert_array_equal(x.sum(axis=-1), 1.0)
    np.testing.assert_array_equal(x.argmax(axis=-1), ids)
    assert vocab.one_hot(ids.reshape(3, 4), dtype=np.float64).shape == (3, 4, len(vocab))


def test_unknown_characters_are_named():
    vocab = CharVocab("abc")
    with pytest.raises(ValueError, match=r"^text: characters \['x', 'z'\] are not in the vocabulary"):
        vocab.encode("abzx")
    with pytest.raises(ValueError, match=r"^ids: expected values in \[0, 2\], got values in \[0, 3\]"):
        vocab.decode(np.array([0, 3]))
    with pytest.raises(ValueError, match=r"^ids: expected values"):
        vocab.decode(np.array([-1]))
    with pytest.raises(ValueError, match=r"^text: expected a non-empty str"):
        CharVocab("")
    with pytest.raises(TypeError, match=r"^text: expected a non-empty str"):
        CharVocab(["a", "b"])
    with pytest.raises(ValueError, match=r"^name: expected one of \['genesis_kjv'\]"):
        load_text("hamlet")


# ----------------------------------------------------------------- random windows


def test_char_batch_targets_are_the_next_character():
    """With ids = 0, 1, 2, ... every id is its own position: x[t] spells i + t and y[t] = i + t + 1."""
    N = 60
    ids = np.arange(N)
    batch = char_batch(ids, 9, 2000, gen(3), vocab_size=N)
    assert batch.x.shape == (9, 2000, N) and batch.x.dtype == np.float32
    assert batch.y.shape == (9, 2000) and batch.loss == "xent"
    assert batch.mask.shape == (9, 2000) and np.all(batch.mask == 1)
    np.testing.assert_array_equal(batch.x.sum(axis=-1), 1.0)
    pos = batch.x.argmax(axis=-1)
    start = pos[0]
    np.testing.assert_array_equal(pos, start[None] + np.arange(9)[:, None])
    np.testing.assert_array_equal(batch.y, pos + 1)
    # every window fits; the first and the last possible start are drawn (each missed with probability 1e-17)
    assert start.min() == 0 and batch.y.max() == N - 1


def test_char_batch_on_the_corpus(corpus):
    vocab = CharVocab(corpus)
    ids = vocab.encode(corpus[:5000])
    batch = char_batch(ids, 20, 8, gen(1), vocab_size=len(vocab), dtype=np.float64)
    assert batch.x.dtype == np.float64
    np.testing.assert_array_equal(batch.y[:-1], batch.x[1:].argmax(axis=-1))  # y[t] is the character read at t + 1
    for b in range(8):
        window = vocab.decode(batch.x[:, b].argmax(axis=-1)) + vocab.decode(batch.y[-1:, b])
        assert window in corpus[:5000]
    a, c = char_batch(ids, 20, 8, gen(1), len(vocab)), char_batch(ids, 20, 8, gen(1), len(vocab))
    np.testing.assert_array_equal(a.y, c.y)


# ----------------------------------------------------------------- parallel streams


def test_stream_batches_continue_each_other_and_cover_the_streams():
    """ids = positions: stream b holds positions b n .. (b + 1) n with n = (N - 1) // B; chunk j holds
    [j T, (j + 1) T) of every stream; the next chunk starts with the character the last step predicted."""
    N, T, B = 103, 7, 4
    ids = np.arange(N)
    chunks = list(stream_batches(ids, T, B, vocab_size=N))
    n = (N - 1) // B  # 25 characters per stream (the last one only as a target)
    assert len(chunks) == n // T == 3
    for j, c in enumerate(chunks):
        assert c.x.shape == (T, B, N) and c.y.shape == (T, B) and c.loss == "xent" and np.all(c.mask == 1)
        np.testing.assert_array_equal(c.y[:-1], c.x[1:].argmax(axis=-1))
    for a, b in zip(chunks, chunks[1:]):
        np.testing.assert_array_equal(a.y[-1], b.x[0].argmax(axis=-1))  # continuity across chunks
    read = np.concatenate([c.x.argmax(axis=-1) for c in chunks])  # (3 T, B)
    expected = np.arange(B)[None, :] * n + np.arange(len(chunks) * T)[:, None]
    np.testing.assert_array_equal(read, expected)  # every stream read in order, from its own start
    assert len(np.unique(read)) == read.size  # streams do not overlap


def test_stream_batches_on_the_corpus(corpus):
    vocab = CharVocab(corpus)
    ids = vocab.encode(corpus[:3001])
    chunks = list(stream_batches(ids, 50, 6, len(vocab)))
    assert len(chunks) == 10  # n = 500 characters per stream, 10 chunks of 50
    for a, b in zip(chunks, chunks[1:]):
        np.testing.assert_array_equal(a.y[-1], b.x[0].argmax(axis=-1))
    text0 = "".join(vocab.decode(c.x[:, 0].argmax(axis=-1)) for c in chunks)
    assert text0 == corpus[:500]
    text5 = "".join(vocab.decode(c.x[:, 5].argmax(axis=-1)) for c in chunks)
    assert text5 == corpus[2500:3000]


# ----------------------------------------------------------------- bad input


def test_batches_reject_bad_input():
    ids = np.arange(20)
    with pytest.raises(ValueError, match=r"^ids: expected a 1-D id array with at least T \+ 1 = 21"):
        char_batch(ids, 20, 2, gen(), vocab_size=20)
    with pytest.raises(ValueError, match=r"^ids: expected a 1-D id array"):
        char_batch(ids.reshape(4, 5), 2, 2, gen(), vocab_size=20)
    with pytest.raises(TypeError, match=r"^rng: expected"):
        char_batch(ids, 5, 2, 0, vocab_size=20)
    with pytest.raises(ValueError, match=r"^T: expected"):
        char_batch(ids, 0, 2, gen(), vocab_size=20)
    with pytest.raises(ValueError, match=r"^vocab_size: expected"):
        char_batch(ids, 3, 2, gen(), vocab_size=0)
    # stream_batches checks when called, before any chunk is asked for
    with pytest.raises(ValueError, match=r"^ids: expected at least B \* T \+ 1 = 41 ids for one chunk, got 20"):
        stream_batches(ids, 10, 4, vocab_size=20)
    with pytest.raises(ValueError, match=r"^ids: expected a 1-D id array"):
        stream_batches(ids.reshape(4, 5), 1, 1, vocab_size=20)
    with pytest.raises(ValueError, match=r"^B: expected"):
        stream_batches(ids, 2, 0, vocab_size=20)
