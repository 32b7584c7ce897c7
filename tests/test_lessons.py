"""Static checks of the lessons' stored notebooks (the rules of CONTRIBUTING.md, "Lessons").

nbval compares the stored outputs with a fresh run; these tests check what nbval does
not: that the outputs come from one fresh top-to-bottom run, that no test marker is
visible to readers, that a cell whose output nbval ignores still asserts its claims,
and that every lesson is in the table of contents.
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "book").glob("*.ipynb"))
IGNORE_TAG = "nbval-ignore-output"
# A cell that only measures time prints and asserts nothing: speed targets live in `make bench`.
TIMING = re.compile(r"perf_counter|timeit|process_time")
# Calls that train, evaluate or run a model: a cell making one computes new run-dependent figures.
COMPUTES = re.compile(
    r"\b(train|train_seeds|train_charlm|fit|evaluate|backward|loss_and_grads|forward|rollout|model|net|"
    r"predict)\("
)


def _code_cells(path: pathlib.Path) -> list[dict]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def test_there_are_lessons():
    assert len(LESSONS) >= 12, f"expected the book's lessons in book/, found {[p.name for p in LESSONS]}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_outputs_come_from_one_fresh_run(path):
    cells = _code_cells(path)
    counts = [c.get("execution_count") for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: execution counts {counts}; run `make execute`"
    errors = [o.get("ename") for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: stored error outputs {errors}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_no_test_marker_is_visible(path):
    visible = [i for i, c in enumerate(_code_cells(path), 1) if "NBVAL_" in _source(c)]
    assert not visible, f"{path.name}: code cells {visible} carry a visible NBVAL comment; use the cell tag"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_ignored_outputs_still_assert_their_claims(path):
    """A cell whose output nbval ignores must check its claims itself.

    Exempt: timing cells, and cells that only display figures computed (and asserted)
    in earlier cells, recognised by calling nothing that trains, evaluates or runs a model.
    """
    silent = [
        i
        for i, c in enumerate(_code_cells(path), 1)
        if IGNORE_TAG in c.get("metadata", {}).get("tags", [])
        and "assert" not in _source(c)
        and not TIMING.search(_source(c))
        and COMPUTES.search(_source(c))
    ]
    assert not silent, f"{path.name}: code cells {silent} are tagged {IGNORE_TAG}, compute, and assert nothing"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_glued_figures_are_defined_in_the_lesson(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    text = "".join(_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    used = set(re.findall(r"\{glue(?::\w+)?\}`([\w.-]+)", text))
    # myst-nb stores each glued value as an output whose metadata names it
    glued = {
        o.get("metadata", {}).get("scrapbook", {}).get("name")
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
    }
    missing = sorted(used - glued)
    assert not missing, f"{path.name}: the text cites glued figures no cell glues: {missing}"


def test_every_lesson_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = {ch["file"] for part in toc["parts"] for ch in part["chapters"]}
    missing = [p.stem for p in LESSONS if f"book/{p.stem}" not in listed]
    assert not missing, f"lessons not in _toc.yml: {missing}"


def test_portability_selections_change_only_what_they_name(monkeypatch):
    sys.path.insert(0, str(ROOT / ".ci"))
    try:
        import portability
    finally:
        sys.path.remove(str(ROOT / ".ci"))
    monkeypatch.setenv("OPENBLAS_CORETYPE", "SkylakeX")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "1048576")
    assert portability.environment("native")["OPENBLAS_CORETYPE"] == "SkylakeX"
    unset = portability.environment("openblas-unset")
    assert "OPENBLAS_CORETYPE" not in unset and "OPENBLAS_L2_SIZE" not in unset
    assert portability.environment("openblas-haswell")["OPENBLAS_CORETYPE"] == "Haswell"
    avx2 = portability.environment("torch-avx2")
    assert avx2["ATEN_CPU_CAPABILITY"] == "avx2" and avx2["OPENBLAS_CORETYPE"] == "SkylakeX"
    for name in portability.SELECTIONS:
        assert portability.environment(name)["OMP_NUM_THREADS"] == "1", f"{name}: lessons run on one thread"


def test_portability_credits_each_failure_to_its_own_lesson():
    import xml.etree.ElementTree as ET

    sys.path.insert(0, str(ROOT / ".ci"))
    try:
        import portability
    finally:
        sys.path.remove(str(ROOT / ".ci"))
    case = ET.fromstring('<testcase classname="book.rnn_lstm_gru.ipynb" name="Cell 3"/>')
    assert portability._lesson_of(case) == "rnn_lstm_gru"
    assert portability._lesson_of(ET.fromstring('<testcase file="book/lstm.ipynb" name="Cell 1"/>')) == "lstm"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_glued_numbers_can_be_formatted(path):
    """{glue:text}`key:.2f` formats the stored text; a NumPy scalar is stored as 'np.float64(...)'."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    bad = [
        o["metadata"]["scrapbook"]["name"]
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
        if "scrapbook" in o.get("metadata", {})
        and "".join(o.get("data", {}).get("application/papermill.record/text/plain", "")).startswith("np.")
    ]
    assert not bad, f"{path.name}: glued NumPy scalars (glue float(x) instead): {bad}"
