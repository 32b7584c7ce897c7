"""Text from a character language model: sampling with temperature and top-k, and next-word suggestions.

The model is any ``ys, state = model(x, state)`` module of ``bpttlab.torch.models``
that maps one-hot characters (T, B, V) to next-character logits (T, B, V), such as
``CharLM``. Inputs are built in the dtype of the model's parameters; probabilities are
always computed in float64. Randomness comes only from the ``torch.Generator`` passed in:
one uniform number per sampled character, turned into a character by inverting the
cumulative distribution, so a seeded generator gives the same text on every run.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from bpttlab._checks import (
    check_float_input,
    check_number,
    check_positive_int,
    check_torch_generator,
    check_type,
)
from bpttlab.text import CharVocab
from bpttlab.torch.models import detach_state
from bpttlab.tree import tree_map

#: Characters that end a word for ``suggest_words``: space, newline and punctuation.
WORD_END = " \n!'(),.:;?"


class Suggestion(NamedTuple):
    """One completion of the word being typed and its probability under the model."""

    word: str
    probability: float


def _model_dtype(model: Any, vocab: Any) -> torch.dtype:
    """The dtype of a character model's parameters; the model and the vocabulary must fit each other."""
    check_type("model", model, torch.nn.Module, "a torch.nn.Module mapping (x, state) to (logits, state)")
    check_type("vocab", vocab, CharVocab, "a bpttlab.text.CharVocab")
    p = next(model.parameters(), None)
    if p is None:
        raise ValueError("model: expected a torch.nn.Module with parameters")
    V = getattr(model, "V", len(vocab))
    if V != len(vocab):
        raise ValueError(f"vocab: the model reads V = {V} characters, the vocabulary has {len(vocab)}")
    return p.dtype


def _encode(vocab: CharVocab, name: str, text: Any, allow_empty: bool = False) -> list[int]:
    if not isinstance(text, str):
        raise TypeError(f"{name}: expected a str, got {type(text).__name__}")
    if not text and not allow_empty:
        raise ValueError(f"{name}: expected at least one character to start from, got an empty string")
    unknown = sorted(set(text) - set(vocab.chars))
    if unknown:
        raise ValueError(f"{name}: characters {unknown!r} are not in the vocabulary")
    return [vocab.index[c] for c in text]


def _temperature(temperature: Any) -> float:
    """temperature: a finite real number >= 0 (0 means greedy)."""
    return check_number("temperature", temperature, nonnegative=True)


def _top_k(top_k: Any, V: int) -> int | None:
    """top_k: None, or a positive int of at most V."""
    if top_k is None:
        return None
    top_k = check_positive_int("top_k", top_k)
    if top_k > V:
        raise ValueError(f"top_k: expected at most V = {V} (the vocabulary size) or None, got {top_k}")
    return top_k


def _step(
    model: torch.nn.Module, ids: torch.Tensor, state: Any, V: int, dtype: torch.dtype
) -> tuple[torch.Tensor, Any]:
    """Feed one character per row: ids (B,) -> float64 logits (B, V) and the new state."""
    x = torch.nn.functional.one_hot(ids, V).to(dtype)[None]  # (1, B, V)
    ys, state = model(x, state)
    if ys.shape != (1, len(ids), V):
        raise ValueError(f"model: expected logits of shape (1, B, V) = (1, {len(ids)}, {V}), got {tuple(ys.shape)}")
    return ys[0].double(), state


@torch.no_grad()
def prime(model: torch.nn.Module, vocab: CharVocab, prefix: str) -> tuple[torch.Tensor, Any]:
    """Read ``prefix`` from a zero state: float64 logits (V,) for the character after it, and the state."""
    dtype = _model_dtype(model, vocab)
    ids = torch.tensor(_encode(vocab, "prefix", prefix), dtype=torch.long)
    x = torch.nn.functional.one_hot(ids, len(vocab)).to(dtype)[:, None]  # (T, 1, V)
    ys, state = model(x, None)
    if ys.shape != (len(ids), 1, len(vocab)):
        raise ValueError(
            f"model: expected logits of shape (T, 1, V) = ({len(ids)}, 1, {len(vocab)}), got {tuple(ys.shape)}"
        )
    return ys[-1, 0].double(), detach_state(state)


def next_char_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    """softmax(logits / temperature) over the top_k largest logits, float64: (..., V) -> (..., V).

    temperature = 0 or top_k = 1 puts all mass on the largest logit (greedy: the first one if
    several are equal); top_k = None keeps all V, and logits tied with the k-th largest are kept.
    """
    check_float_input("logits", logits, "(..., V)", 1, "torch")
    temperature = _temperature(temperature)
    V = logits.shape[-1]
    top_k = _top_k(top_k, V)
    z = logits.double()
    greedy = torch.nn.functional.one_hot(z.argmax(dim=-1), V).double()
    if temperature == 0 or top_k == 1:
        return greedy
    z = z / temperature
    if not torch.isfinite(z).all():  # a temperature so small that logits / temperature overflows: the limit, greedy
        return greedy
    if top_k is not None and top_k < V:
        kth = torch.topk(z, top_k, dim=-1).values[..., -1:]
        z = z.masked_fill(z < kth, -math.inf)
    return torch.softmax(z, dim=-1)


def _draw(probs: torch.Tensor, generator: torch.Generator) -> int:
    """Invert the cumulative distribution at one uniform number in [0, 1) drawn in float64."""
    cdf = torch.cumsum(probs, dim=0)
    u = torch.rand((), generator=generator, dtype=torch.float64) * cdf[-1]
    return min(int(torch.searchsorted(cdf, u, right=True)), len(probs) - 1)


@torch.no_grad()
def sample(
    model: torch.nn.Module,
    vocab: CharVocab,
    prefix: str,
    length: int,
    generator: torch.Generator,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> str:
    """``length`` characters generated after ``prefix`` (which is not included in the result).

    Each character is drawn from ``next_char_probs(logits, temperature, top_k)`` with one
    uniform number from ``generator`` (none is drawn when temperature = 0 or top_k = 1: greedy),
    then fed back into the model.
    """
    length = check_positive_int("length", length)
    check_torch_generator("generator", generator)
    temperature = _temperature(temperature)
    check_type("vocab", vocab, CharVocab, "a bpttlab.text.CharVocab")
    V = len(vocab)
    top_k = _top_k(top_k, V)
    dtype = _model_dtype(model, vocab)
    logits, state = prime(model, vocab, prefix)
    out: list[int] = []
    for i in range(length):
        probs = next_char_probs(logits, temperature, top_k)
        greedy = temperature == 0 or top_k == 1
        c = int(probs.argmax()) if greedy else _draw(probs, generator)
        out.append(c)
        if i + 1 < length:
            step_logits, state = _step(model, torch.tensor([c]), state, V, dtype)
            logits = step_logits[0]
    return vocab.decode(torch.tensor(out).numpy())


def _select_state(state: Any, rows: torch.Tensor) -> Any:
    """Rows of a recurrent state (a tensor (layers, B, H) or a tuple of them) along the batch axis."""
    return tree_map(lambda s: s.index_select(1, rows), state)


@torch.no_grad()
def suggest_words(
    model: torch.nn.Module,
    vocab: CharVocab,
    prefix: str,
    k: int = 3,
    *,
    beam_width: int | None = None,
    max_chars: int = 20,
    word_end: str | None = None,
) -> list[Suggestion]:
    """The k most probable completions of the word being typed at the end of ``prefix``, best first.

    The word being typed is the tail of ``prefix`` after its last ``word_end`` character
    (default: the characters of ``WORD_END`` that are in the vocabulary)
    (empty after a space: then whole next words are suggested). A completion c_1 ... c_n
    has probability P(c_1 ... c_n | prefix) * P(next character in word_end | prefix c_1 ... c_n).
    A beam search over characters keeps the ``beam_width`` (default 4 k) most probable
    unfinished completions, extends them by every non-ending character, and stops when no
    unfinished one can beat the k-th finished word or after ``max_chars`` characters.
    Returns up to k ``Suggestion(word, probability)``, the word including the typed part.
    """
    k = check_positive_int("k", k)
    beam_width = 4 * k if beam_width is None else check_positive_int("beam_width", beam_width)
    if beam_width < k:
        raise ValueError(f"beam_width: expected at least k = {k}, got {beam_width}")
    max_chars = check_positive_int("max_chars", max_chars)
    dtype = _model_dtype(model, vocab)
    if word_end is None:
        word_end = "".join(c for c in WORD_END if c in vocab.index)
    ends = _encode(vocab, "word_end", word_end)
    logits, state = prime(model, vocab, prefix)
    V = len(vocab)
    is_end = torch.zeros(V, dtype=torch.bool)
    is_end[ends] = True
    cut = max(prefix.rfind(c) for c in word_end)
    typed = prefix[cut + 1 :]

    finished: list[tuple[float, str]] = []  # (log probability, completion)
    beams: list[tuple[float, str]] = [(0.0, "")]
    logp = torch.log_softmax(logits, dim=-1)[None]  # (beams, V)
    for depth in range(max_chars + 1):
        p_end = torch.logsumexp(logp[:, is_end], dim=-1)
        for (score, completion), lp in zip(beams, p_end.tolist()):
            if completion or typed:
                finished.append((score + lp, completion))
        finished = sorted(finished, key=lambda f: -f[0])[:k]
        if depth == max_chars:
            break
        scores = torch.tensor([s for s, _ in beams], dtype=torch.float64)[:, None] + logp
        scores[:, is_end] = -math.inf
        flat = scores.flatten()
        n = min(beam_width, int(torch.isfinite(flat).sum()))
        best = torch.topk(flat, n).indices.sort().values  # keep a reproducible order
        bound = -math.inf if len(finished) < k else finished[-1][0]
        best = best[flat[best] > bound]  # an unfinished word cannot become more probable
        if len(best) == 0:
            break
        rows, chars = best // V, best % V
        beams = [(float(flat[i]), beams[int(r)][1] + vocab.chars[int(c)]) for i, r, c in zip(best, rows, chars)]
        step_logits, state = _step(model, chars, _select_state(state, rows), V, dtype)
        logp = torch.log_softmax(step_logits, dim=-1)
    return [Suggestion(typed + completion, math.exp(score)) for score, completion in finished]
