"""Sampling and word suggestions (bpttlab.torch.textgen) and the shipped pretrained weights."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from bpttlab.text import CharVocab, load_text
from bpttlab.torch import pretrain, textgen
from bpttlab.torch.models import CharLM

VOCAB = CharVocab("abc de.")


def small_model(cell: str = "lstm", H: int = 8, dtype: torch.dtype = torch.float64, seed: int = 0) -> CharLM:
    torch.manual_seed(seed)
    model = CharLM(len(VOCAB), H, cell).to(dtype).eval()
    with torch.no_grad():  # larger weights than the default, so that distributions are far from uniform
        for p in model.parameters():
            p.mul_(4.0)
    return model


def greedy_by_hand(model: CharLM, prefix: str, length: int) -> str:
    text = prefix
    for _ in range(length):
        logits, _ = textgen.prime(model, VOCAB, text)
        text += VOCAB.chars[int(logits.argmax())]
    return text[len(prefix) :]


def word_probability(model: CharLM, prefix: str, completion: str, word_end: str) -> float:
    """P(completion, then a word end | prefix), one prime per character (no beam, no state reuse)."""
    p = 1.0
    for i in range(len(completion) + 1):
        probs = torch.softmax(textgen.prime(model, VOCAB, prefix + completion[:i])[0], dim=-1)
        if i < len(completion):
            p *= float(probs[VOCAB.index[completion[i]]])
        else:
            p *= float(sum(probs[VOCAB.index[c]] for c in word_end))
    return p


# --- sampling -------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_seeded_generator_gives_the_same_text(cell):
    model = small_model(cell)
    a = textgen.sample(model, VOCAB, "ab", 60, torch.Generator().manual_seed(3), temperature=1.0)
    b = textgen.sample(model, VOCAB, "ab", 60, torch.Generator().manual_seed(3), temperature=1.0)
    c = textgen.sample(model, VOCAB, "ab", 60, torch.Generator().manual_seed(4), temperature=1.0)
    assert a == b
    assert a != c
    assert len(a) == 60 and set(a) <= set(VOCAB.chars)


def test_global_rng_is_not_used():
    model = small_model()
    torch.manual_seed(0)
    a = textgen.sample(model, VOCAB, "ab", 40, torch.Generator().manual_seed(1))
    torch.manual_seed(123)
    b = textgen.sample(model, VOCAB, "ab", 40, torch.Generator().manual_seed(1))
    assert a == b


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_temperature_to_zero_and_top_k_one_are_greedy(dtype):
    model = small_model(dtype=dtype)
    greedy = greedy_by_hand(model, "cab", 30)
    assert textgen.sample(model, VOCAB, "cab", 30, torch.Generator().manual_seed(0), temperature=0) == greedy
    assert textgen.sample(model, VOCAB, "cab", 30, torch.Generator().manual_seed(0), top_k=1) == greedy
    assert textgen.sample(model, VOCAB, "cab", 30, torch.Generator().manual_seed(0), temperature=1e-6) == greedy
    # a high temperature does not give the greedy text
    assert textgen.sample(model, VOCAB, "cab", 30, torch.Generator().manual_seed(0), temperature=5.0) != greedy


def test_next_char_probs():
    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0, 3.0], [0.0, 0.0, 0.0, 0.0, 0.0]], dtype=torch.float32)
    p = textgen.next_char_probs(logits)
    assert p.dtype == torch.float64 and p.shape == logits.shape
    assert torch.allclose(p, torch.softmax(logits.double(), dim=-1), rtol=0, atol=1e-15)
    assert torch.allclose(p.sum(-1), torch.ones(2, dtype=torch.float64), rtol=0, atol=1e-15)
    top2 = textgen.next_char_probs(logits[0], top_k=2)
    assert top2.nonzero().flatten().tolist() == [0, 4]
    assert math.isclose(float(top2[4] / top2[0]), math.exp(1.0), rel_tol=1e-12)
    assert textgen.next_char_probs(logits[0], temperature=0).tolist() == [0, 0, 0, 0, 1]
    assert textgen.next_char_probs(logits[0], temperature=1e-320).tolist() == [0, 0, 0, 0, 1]  # overflow: greedy
    entropy = [
        float(-(q * q.log()).sum())
        for q in (textgen.next_char_probs(logits[0], temperature=t) for t in (0.5, 1.0, 2.0))
    ]
    assert entropy[0] < entropy[1] < entropy[2]  # a higher temperature flattens the distribution
    assert textgen.next_char_probs(logits[1], temperature=0).tolist() == [1, 0, 0, 0, 0]  # ties: first index


def test_draws_follow_the_distribution_and_respect_top_k():
    probs = textgen.next_char_probs(torch.tensor([1.0, 0.0, 2.0, -0.5, 1.5], dtype=torch.float64), top_k=3)
    g = torch.Generator().manual_seed(0)
    n = 20_000
    counts = np.bincount([textgen._draw(probs, g) for _ in range(n)], minlength=5)
    assert counts[1] == counts[3] == 0  # outside the top 3: never drawn
    expected = n * probs.numpy()
    sigma = np.sqrt(n * probs.numpy() * (1 - probs.numpy()))
    assert np.all(np.abs(counts - expected) <= 5 * sigma + 1e-12)


# --- suggestions ----------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("prefix", ["ab c", "ab ", "d.a"])
def test_suggestions_are_the_exact_top_k(cell, prefix):
    model = small_model(cell, seed=5)
    word_end = " ."
    letters = "abcde"
    typed = prefix[max(prefix.rfind(" "), prefix.rfind(".")) + 1 :]
    max_chars = 3
    exact = []
    for n in range(0 if typed else 1, max_chars + 1):
        for completion in map("".join, itertools.product(letters, repeat=n)):
            exact.append((word_probability(model, prefix, completion, word_end), typed + completion))
    exact.sort(reverse=True)
    got = textgen.suggest_words(model, VOCAB, prefix, 4, beam_width=200, max_chars=max_chars, word_end=word_end)
    assert [s.word for s in got] == [w for _, w in exact[:4]]
    for s, (p, _) in zip(got, exact):
        assert math.isclose(s.probability, p, rel_tol=1e-10)


def test_suggestions_are_valid_and_sorted():
    model = small_model(seed=2)
    for prefix in ("ab c", "e", "de. "):
        got = textgen.suggest_words(model, VOCAB, prefix, 5, max_chars=6)
        probs = [s.probability for s in got]
        assert len(got) == 5
        assert all(0 < p <= 1 for p in probs) and sum(probs) <= 1 + 1e-12
        assert probs == sorted(probs, reverse=True)
        assert len({s.word for s in got}) == 5
        typed = prefix.split(" ")[-1].split(".")[-1]
        assert all(s.word.startswith(typed) and s.word and not set(s.word) & set(" .") for s in got)


def test_a_narrow_beam_still_returns_sorted_valid_words():
    model = small_model(seed=1)
    got = textgen.suggest_words(model, VOCAB, "ab c", 2, beam_width=2, max_chars=4)
    assert 1 <= len(got) <= 2
    assert [s.probability for s in got] == sorted((s.probability for s in got), reverse=True)


# --- bad arguments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"generator": np.random.default_rng(0)}, TypeError, "generator"),
        ({"generator": 0}, TypeError, "generator"),
        ({"temperature": -0.5}, ValueError, "temperature"),
        ({"temperature": float("nan")}, ValueError, "temperature"),
        ({"temperature": "hot"}, TypeError, "temperature"),
        ({"top_k": 0}, ValueError, "top_k"),
        ({"top_k": len(VOCAB) + 1}, ValueError, "top_k"),
        ({"top_k": 2.5}, TypeError, "top_k"),
        ({"length": 0}, ValueError, "length"),
        ({"prefix": ""}, ValueError, "prefix"),
        ({"prefix": "abz"}, ValueError, "prefix"),
        ({"prefix": b"ab"}, TypeError, "prefix"),
        ({"vocab": CharVocab("abc")}, ValueError, "vocab"),
        ({"vocab": "abc de."}, TypeError, "vocab"),
        ({"model": lambda x, s: (x, s)}, TypeError, "model"),
    ],
)
def test_sample_rejects_bad_arguments(kwargs, error, name):
    args = {
        "model": small_model(),
        "vocab": VOCAB,
        "prefix": "ab",
        "length": 5,
        "generator": torch.Generator().manual_seed(0),
    }
    args.update(kwargs)
    with pytest.raises(error, match=f"^{name}:"):
        textgen.sample(
            args.pop("model"), args.pop("vocab"), args.pop("prefix"), args.pop("length"), args.pop("generator"), **args
        )


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"k": 0}, ValueError, "k"),
        ({"k": 3, "beam_width": 2}, ValueError, "beam_width"),
        ({"max_chars": 0}, ValueError, "max_chars"),
        ({"word_end": "#"}, ValueError, "word_end"),
        ({"word_end": ""}, ValueError, "word_end"),
        ({"prefix": ""}, ValueError, "prefix"),
    ],
)
def test_suggest_words_rejects_bad_arguments(kwargs, error, name):
    prefix = kwargs.pop("prefix", "ab c")
    with pytest.raises(error, match=f"^{name}:"):
        textgen.suggest_words(small_model(), VOCAB, prefix, **kwargs)


def test_next_char_probs_rejects_bad_logits():
    with pytest.raises(FloatingPointError, match=r"^logits: non-finite value \(NaN or inf\) at index \(1,\)"):
        textgen.next_char_probs(torch.tensor([1.0, float("nan")]))
    with pytest.raises(TypeError, match=r"^logits: expected a torch\.Tensor of shape \(\.\.\., V\), got ndarray"):
        textgen.next_char_probs(np.zeros(3))
    with pytest.raises(TypeError, match=r"^logits: expected dtype torch\.float32 or torch\.float64, got torch\.int64"):
        textgen.next_char_probs(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"^logits: expected at least 1 axes"):
        textgen.next_char_probs(torch.tensor(1.0))


# --- the shipped weights and the held-out split ---------------------------------------------


def test_split_chapters():
    text = load_text("genesis_kjv")
    train_text, held = pretrain.split_chapters(text, 5)
    assert train_text + held == text
    assert len(held.split("\n\n")) == 5 and train_text.endswith("\n\n") and held[0] != "\n"
    with pytest.raises(ValueError, match="^held_out_chapters:"):
        pretrain.split_chapters(text, 0)
    with pytest.raises(TypeError, match="^held_out_chapters:"):
        pretrain.split_chapters(text, 2.0)


def test_shipped_weights_load_safely_and_match_the_corpus():
    assert pretrain.WEIGHTS.stat().st_size < 5 * 2**20
    saved = torch.load(pretrain.WEIGHTS, weights_only=True)
    assert all(t.dtype == torch.float32 for t in saved["state_dict"].values())
    model, vocab, config = pretrain.load_pretrained(dtype=torch.float64)
    assert vocab.chars == CharVocab(load_text(config["corpus"])).chars
    assert all(p.dtype == torch.float64 for p in model.parameters()) and not model.training
    best = textgen.suggest_words(model, vocab, "And God sa", 1)[0]
    assert best.word == "said" and best.probability > 0.5
    with pytest.raises(TypeError, match="^dtype:"):
        pretrain.load_pretrained(dtype=torch.int32)


def _tiny_config(**changes):
    """CONFIG with a model and a schedule small enough for a test (one short epoch)."""
    return dict(pretrain.CONFIG, H=4, B=64, T=200, lrs=[1e-2], **changes)


def test_train_charlm_seeds_its_own_generator_and_leaves_the_global_one_alone():
    """The same config gives the same weights whatever the global seed, and the global state is untouched."""
    logs: list[str] = []
    runs = []
    for global_seed in (0, 99):
        torch.manual_seed(global_seed)
        before = torch.get_rng_state()
        model, vocab = pretrain.train_charlm(_tiny_config(), log=logs.append)
        assert torch.equal(torch.get_rng_state(), before)
        runs.append([t.detach().clone() for t in model.state_dict().values()])
    assert all(torch.equal(a, b) for a, b in zip(*runs))
    assert len(logs) == 2 and logs[0].startswith("epoch  1 lr 1e-02: training ")
    other, _ = pretrain.train_charlm(_tiny_config(seed=1), log=logs.append)
    assert not all(torch.equal(a, b) for a, b in zip(runs[0], other.state_dict().values()))


@pytest.mark.parametrize(
    "config, error, pattern",
    [
        ([("H", 4)], TypeError, r"^config: expected a dict like pretrain\.CONFIG, got list"),
        ({"H": 4}, ValueError, r"^config: expected the keys of pretrain\.CONFIG; missing \["),
        (dict(pretrain.CONFIG, H=0), ValueError, r"^config\['H'\]: expected a positive int, got 0"),
        (dict(pretrain.CONFIG, lrs=[]), ValueError, r"^config\['lrs'\]: expected at least one"),
        (dict(pretrain.CONFIG, lrs=[1e-2, -1.0]), ValueError, r"^config\['lrs'\]\[1\]: expected a positive number"),
        (dict(pretrain.CONFIG, cell="tcn"), ValueError, r"^cell: expected one of \['rnn', 'lstm', 'gru'\]"),
        (dict(pretrain.CONFIG, seed=1.5), TypeError, r"^config\['seed'\]: expected an int, got float"),
    ],
    ids=["list", "missing keys", "H = 0", "no epochs", "negative lr", "unknown cell", "float seed"],
)
def test_train_charlm_rejects_bad_configs_before_training(config, error, pattern):
    with pytest.raises(error, match=pattern):
        pretrain.train_charlm(config, log=print)
    with pytest.raises(TypeError, match=r"^log: expected a function taking one str"):
        pretrain.train_charlm(_tiny_config(), log="print")
