"""Site tests: the built HTML in _build/html holds every lesson, its figures and no failures.

`make test` builds the book first and sets BPTT_REQUIRE_SITE=1, so a missing build
fails there; a bare `pytest tests` without a build skips these tests and says why.
"""

from __future__ import annotations

import os
import pathlib
import re

import pytest
import yaml
from bs4 import BeautifulSoup

ROOT = pathlib.Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"

if not (HTML / "index.html").exists():
    if os.environ.get("BPTT_REQUIRE_SITE") == "1":
        raise RuntimeError(f"{HTML} is missing: run `make book` first")
    pytest.skip("no built site in _build/html (run `make book`); site tests skipped", allow_module_level=True)


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [ch["file"] for ch in part["chapters"]]
    return files


TOC = _toc_files()
LESSONS = [f for f in TOC if (ROOT / f"{f}.ipynb").exists()]


def _page(doc: str) -> BeautifulSoup:
    path = HTML / f"{doc}.html"
    assert path.exists(), f"{doc}: no page {path.relative_to(ROOT)} in the built site"
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_toc_lists_lessons():
    assert len(LESSONS) >= 3, f"expected the lessons of _toc.yml to be notebooks in book/, found {LESSONS}"


@pytest.mark.parametrize("doc", TOC)
def test_every_toc_entry_has_a_page_with_a_title(doc):
    soup = _page(doc)
    assert soup.find("h1") is not None, f"{doc}: page has no title"


@pytest.mark.parametrize("doc", LESSONS)
def test_lesson_figures_are_in_the_site(doc):
    soup = _page(doc)
    images = [img["src"] for img in soup.select(".cell_output img")]
    assert images, f"{doc}: no figure in the cell outputs"
    for src in images:
        target = (HTML / doc).parent / src
        assert target.exists() and target.stat().st_size > 1000, f"{doc}: figure {src} missing or empty"


@pytest.mark.parametrize("doc", LESSONS)
def test_lesson_outputs_hold_no_errors_or_nan(doc):
    soup = _page(doc)
    outputs = soup.select(".cell_output")
    assert outputs, f"{doc}: no cell outputs rendered"
    text = "\n".join(o.get_text(" ") for o in outputs)
    assert "Traceback" not in text, f"{doc}: a traceback is shown in the outputs"
    bad = re.findall(r"\b(nan|NaN|inf)\b", text)
    assert not bad, f"{doc}: non-finite numbers shown in the outputs: {bad[:5]}"


@pytest.mark.parametrize("doc", LESSONS)
def test_lesson_ends_with_summary_and_hidden_solutions(doc):
    soup = _page(doc)
    headings = [h.get_text(" ").strip().rstrip("#").strip().lower() for h in soup.find_all(["h2", "h3"])]
    assert any(h.startswith("summary") for h in headings), f"{doc}: no Summary section"
    assert any(h.startswith("exercise") for h in headings), f"{doc}: no Exercises section"
    dropdowns = soup.select(".admonition.dropdown")
    assert dropdowns, f"{doc}: no solution hidden behind a toggle"


@pytest.mark.parametrize("doc", LESSONS)
def test_lesson_has_launch_buttons_and_citations_resolve(doc):
    soup = _page(doc)
    html = str(soup)
    assert "mybinder.org" in html, f"{doc}: no Binder launch link"
    assert "colab.research.google.com" in html, f"{doc}: no Colab launch link"
    assert "??" not in soup.get_text(), f"{doc}: an unresolved reference (??) is shown"


def test_references_page_lists_the_bibliography():
    soup = _page("book/references")
    entries = soup.select(".citation, dl.citation > dt, div.citation")
    assert len(entries) >= 10, f"references page shows {len(entries)} entries, expected the whole bibliography"


def test_video_lesson_animation_plays_in_the_page():
    """The next-frame lesson's animation reaches the site as an animated PNG (played by <img>)."""
    from bpttlab.animation import is_animated_png

    soup = _page("book/video_prediction")
    sources = [img["src"] for img in soup.select(".cell_output img")]
    animated = [s for s in sources if is_animated_png(((HTML / "book" / s).resolve()).read_bytes())]
    assert animated, "book/video_prediction: no animated PNG among the cell outputs"


def test_every_bibliography_entry_is_cited_and_listed():
    keys = re.findall(r"^@\w+\{([^,\s]+),", (ROOT / "book" / "references.bib").read_text(), re.M)
    sources = "\n".join(
        p.read_text() for p in sorted((ROOT / "book").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.md"))
    )
    cited = set()
    for group in re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", sources):
        cited |= {k.strip() for k in group.split(",")}
    uncited = sorted(set(keys) - cited)
    assert not uncited, f"references.bib entries cited nowhere (cite them or remove them): {uncited}"
    listed = _page("book/references").select("div.citation")
    assert len(listed) == len(set(keys)), f"{len(listed)} entries listed for {len(set(keys))} in references.bib"


def test_reference_labels_are_author_year_like_the_text():
    labels = [s.get_text().strip("[]") for s in _page("book/references").select("div.citation span.label")]
    assert labels and all(re.fullmatch(r"[^\d\[\]]+, (\d{4}[a-z]?|n\.d\.)", lab) for lab in labels), labels[:5]


def test_execution_statistics_list_every_lesson_as_run():
    soup = _page("book/execution_statistics")
    rows = [[td.get_text(" ").strip() for td in tr.find_all("td")] for tr in soup.select("table tbody tr")]
    docs = {r[0] for r in rows if r}
    missing = [doc for doc in LESSONS if doc not in docs]
    assert not missing, f"execution statistics lack {missing} (built with `make site`? run `make book`)"
    for r in rows:
        assert "✅" in r[-1] or "ok" in r[-1].lower(), f"execution statistics: {r}"
        assert float(r[-2]) > 0, r


@pytest.mark.parametrize("doc", LESSONS)
def test_bpttlab_names_in_lesson_code_link_to_the_api_reference(doc):
    """sphinx-codeautolink: a name of bpttlab used in a lesson's code links to its API entry."""
    soup = _page(doc)
    links = [a["href"] for a in soup.select("div.cell a.sphinx-codeautolink-a")]
    api = [h for h in links if re.search(r"api_(core|numpy|torch)\.html#(module-)?bpttlab\b", h)]
    assert api, f"{doc}: no link from its code to the API reference: {links[:5]}"
    for href in api:
        page, anchor = href.split("#")
        target = (HTML / doc).parent / page
        assert target.exists() and f'id="{anchor}"' in target.read_text(encoding="utf-8"), f"{doc}: {href} is dead"


def test_lesson_code_links_many_bpttlab_functions():
    objects = [
        a["href"]
        for doc in LESSONS
        for a in _page(doc).select("div.cell a.sphinx-codeautolink-a")
        if re.search(r"api_(core|numpy|torch)\.html#bpttlab\.", a["href"])
    ]
    assert len(objects) >= 300, f"only {len(objects)} links from lesson code to API entries of functions and classes"
