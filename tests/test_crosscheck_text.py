"""The cross-check's printed verdicts fit a page's code column and keep every name."""

from __future__ import annotations

from bpttlab.crosscheck import WIDTH, _wrap


def test_a_line_that_fits_stays_one_line():
    assert _wrap("lstm: all agree", ["(hs,", "dx)"]) == ["lstm: all agree (hs, dx)"]


def test_a_long_line_breaks_between_words_and_keeps_them_all():
    words = [f"tensor_{i}," for i in range(40)]
    lines = _wrap("gru: numpy vs torch: all 40 tensors agree, rel_error < 1e-10", words)
    assert len(lines) > 2
    assert all(len(line) <= WIDTH for line in lines), [len(line) for line in lines]
    assert all(line.startswith("  ") for line in lines[1:])
    assert " ".join(" ".join(lines[1:]).split()) == " ".join(words)


def test_a_single_overlong_word_is_not_split():
    word = "x" * (WIDTH + 10)
    assert _wrap("head", [word]) == ["head", "  " + word]
