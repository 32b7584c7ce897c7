"""The built site in a real browser: what a reader meets, page by page.

Headless Chromium (Debian's package; `.ci/run` installs it) driven by Playwright's Python
API against `_build/html` served on 127.0.0.1, every other request aborted (see
tests/browser.py). `make test` builds the site first and sets BPTT_REQUIRE_SITE=1, so a
missing build fails; a bare `pytest tests` without a build skips this module and says
why. If a site exists but no browser starts, the tests fail with the reason.

Each page is visited once at 1280 px (with axe-core) and once at 390 px; the tests read
those visits. The counts for the whole site go to `_build/browser_report.json`, and
screenshots of the landing page and one lesson at both widths to `_build/screenshots/`.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlparse

import pytest
from browser import HTML, NARROW, ROOT, WIDE, BrowserUnavailable, Site, alt_ok, site_pages

if not (HTML / "index.html").exists():
    if os.environ.get("BPTT_REQUIRE_SITE") == "1":
        raise RuntimeError(f"{HTML} is missing: run `make book` first")
    pytest.skip("no built site in _build/html (run `make book`); browser tests skipped", allow_module_level=True)

PAGES = site_pages(HTML)
SHOTS = ROOT / "_build" / "screenshots"
SCREENSHOT_PAGES = {"index.html": "landing", "book/bptt.html": "lesson-bptt"}
REPORT = ROOT / "_build" / "browser_report.json"


@pytest.fixture(scope="session")
def site():
    try:
        with Site(HTML) as s:
            yield s
    except BrowserUnavailable as exc:
        pytest.fail(f"no browser: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def visits(site):
    """{page: {1280: report (with axe), 390: report}} for every page of the site."""
    out = {}
    for page in PAGES:
        shot = SCREENSHOT_PAGES.get(page)
        out[page] = {
            WIDE: site.visit(page, WIDE, axe=True, screenshot=SHOTS / f"{shot}-{WIDE}.png" if shot else None),
            NARROW: site.visit(page, NARROW, screenshot=SHOTS / f"{shot}-{NARROW}.png" if shot else None),
        }
    return out


def test_the_site_has_its_pages():
    assert "index.html" in PAGES and "search.html" in PAGES and "genindex.html" in PAGES, PAGES
    lessons = [p for p in PAGES if p.startswith("book/") and (ROOT / p).with_suffix(".ipynb").exists()]
    assert len(lessons) >= 12, lessons


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_without_errors_or_failed_requests(visits, page):
    for width, report in visits[page].items():
        assert not report.errors, f"{page} at {width} px: {report.errors}"
        assert not report.failed, f"{page} at {width} px: {report.failed}"


@pytest.mark.parametrize("page", PAGES)
def test_every_equation_is_rendered(visits, page):
    f = visits[page][WIDE].facts
    assert f["mathsRendered"] == f["maths"], f"{page}: {f['mathsRendered']} of {f['maths']} maths elements rendered"
    assert f["mathErrors"] == 0, f"{page}: {f['mathErrors']} MathJax error nodes"
    assert not f["rawTex"], f"{page}: raw TeX in the text: {f['rawTex']}"


@pytest.mark.parametrize("page", PAGES)
def test_no_display_equation_is_wider_than_the_column(visits, page):
    wide = visits[page][WIDE].facts["wideEquations"]
    assert not wide, f"{page}: {len(wide)} equations wider than the column at {WIDE} px: {wide[:3]}"


@pytest.mark.parametrize("page", PAGES)
def test_no_block_scrolls_sideways(visits, page):
    blocks = visits[page][WIDE].facts["scrolling"]
    assert not blocks, f"{page}: {len(blocks)} blocks scroll sideways at {WIDE} px: {blocks[:3]}"


@pytest.mark.parametrize("page", PAGES)
def test_page_fits_a_phone_screen(visits, page):
    assert not visits[page][NARROW].facts["pageScrollsSideways"], f"{page} scrolls sideways as a whole at {NARROW} px"


@pytest.mark.parametrize("page", PAGES)
def test_images_load_with_alt_text_and_lesson_figures_have_captions(visits, page):
    for img in visits[page][WIDE].facts["images"]:
        assert img["complete"] and img["natural"] > 0, f"{page}: image {img['src']} did not load"
        assert alt_ok(img["alt"], img["src"]), f"{page}: image {img['src']} has alt text {img['alt']!r}"
        if img["inLesson"]:
            assert img["figure"] and img["caption"], f"{page}: figure {img['src']} has no caption"
            assert img["caption"].startswith("Fig."), f"{page}: figure {img['src']} is not numbered: {img['caption']!r}"
            assert img["shown"] <= img["natural"] + 1, f"{page}: {img['src']} is shown larger than its pixels"


@pytest.mark.parametrize("page", PAGES)
def test_no_serious_or_critical_accessibility_violation(visits, page):
    bad = [v for v in visits[page][WIDE].axe if v["impact"] in ("serious", "critical")]
    assert not bad, f"{page}: axe-core: {bad}"


def _internal_links(site, visits):
    links = set()
    for page, by_width in visits.items():
        for url in by_width[WIDE].facts["links"] + by_width[WIDE].facts["resources"]:
            if url.startswith(site.server.base):
                links.add(url)
    return sorted(links)


def test_every_internal_link_and_anchor_resolves(site, visits):
    ids = {page: set(v[WIDE].facts["ids"]) | set(v[WIDE].facts["names"]) for page, v in visits.items()}
    links = _internal_links(site, visits)
    assert len(links) > 100, f"only {len(links)} internal links found"
    dead = [(url, why) for url in links if (why := site.target_exists(url, ids))]
    assert not dead, f"{len(dead)} of {len(links)} internal links are dead: {dead[:10]}"


def test_search_lists_the_truncation_lesson_first(site):
    results = site.search("truncated")
    assert results, "searching 'truncated' found nothing"
    first = urlparse(results[0]).path
    assert first.endswith("book/truncated_bptt.html"), f"first result for 'truncated' is {first}, then {results[1:4]}"


def test_the_video_animation_plays(site, visits):
    from bpttlab.animation import is_animated_png

    page = "book/video_prediction.html"
    animated = [
        img["src"]
        for img in visits[page][WIDE].facts["images"]
        if is_animated_png((HTML / "book" / img["src"]).resolve().read_bytes())
    ]
    assert animated, f"{page}: no animated PNG among its images"
    for src in animated:
        assert site.frames_differ(page, src), f"{page}: {src} shows the same frame throughout"


def test_screenshots_are_written(visits):
    for name in SCREENSHOT_PAGES.values():
        for width in (WIDE, NARROW):
            path = SHOTS / f"{name}-{width}.png"
            assert path.exists() and path.stat().st_size > 10_000, f"{path} missing or empty"


def test_site_counts_are_recorded(site, visits):
    """The whole site's counts (in the closing notes and CONTRIBUTING), written for reading."""
    wide = [v[WIDE] for v in visits.values()]
    images = [img for r in wide for img in r.facts["images"]]
    impacts: dict[str, int] = {}
    for r in wide:
        for v in r.axe:
            impacts[v["impact"]] = impacts.get(v["impact"], 0) + 1
    counts = {
        "pages": len(wide),
        "maths_elements": sum(r.facts["maths"] for r in wide),
        "maths_rendered": sum(r.facts["mathsRendered"] for r in wide),
        "images": len(images),
        "images_with_alt_text": sum(alt_ok(i["alt"], i["src"]) for i in images),
        "figures_with_captions": sum(bool(i["caption"]) for i in images if i["inLesson"]),
        "internal_links_checked": len(_internal_links(site, visits)),
        "axe_violations_by_impact": impacts,
    }
    REPORT.write_text(json.dumps(counts, indent=1) + "\n")
    assert counts["pages"] == len(PAGES) and counts["maths_elements"] > 1000, counts
