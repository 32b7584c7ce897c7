"""Drive the built site in headless Chromium and report what a reader would meet.

Used by tests/test_browser.py, and from the command line while working on pages:

    .venv/bin/python tests/browser.py --build book/bptt      # private build, then report
    .venv/bin/python tests/browser.py book/bptt book/gru     # report on _build/html

The site is served on 127.0.0.1 by a thread of this process; every request to any
other address is aborted and recorded, so a page that needs the network fails.
The browser is Debian's Chromium (`/usr/bin/chromium`, or `BPTT_CHROMIUM`), driven by
Playwright's Python API; Playwright's own browser download is never used.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urljoin, urlparse

ROOT = pathlib.Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WIDE, NARROW = 1280, 390
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


class BrowserUnavailable(RuntimeError):
    """No browser could be started; the message says why and what to install."""


def chromium_path() -> str:
    path = os.environ.get("BPTT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise BrowserUnavailable(
            "no Chromium found: install Debian's `chromium` package (`.ci/run` does this with "
            "apt-get) or set BPTT_CHROMIUM to a Chromium executable"
        )
    return path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # the tests report failures themselves
        pass


class Server:
    """The built site on 127.0.0.1 with a free port, served from a daemon thread."""

    def __init__(self, root: pathlib.Path):
        handler = functools.partial(_Quiet, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def site_pages(html: pathlib.Path) -> list[str]:
    """Every HTML page of the site, as paths relative to its root (`book/bptt.html`)."""
    pages = []
    for path in sorted(html.rglob("*.html")):
        rel = path.relative_to(html).as_posix()
        if rel.startswith(("_static/", "_sources/", "mathjax/", "_images/")):
            continue
        pages.append(rel)
    return pages


# One evaluation per page, after MathJax has finished: everything the tests look at.
_FACTS_JS = r"""
async () => {
  const facts = {};
  if (document.querySelector('.math')) {
    for (let i = 0; i < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
      await new Promise(r => setTimeout(r, 50));
    if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
  }
  const visible = e => !!(e.offsetParent || e.getClientRects().length);
  const article = document.querySelector('article.bd-article') || document.body;
  // maths
  const maths = [...document.querySelectorAll('span.math, div.math')];
  facts.maths = maths.length;
  facts.mathsRendered = maths.filter(m => m.querySelectorAll('mjx-container').length === 1).length;
  facts.mathErrors = document.querySelectorAll('mjx-merror, [data-mjx-error]').length;
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, textarea').forEach(e => e.remove());
  const text = clone.textContent;
  const raw = text.match(/\\\(|\\\)|\\\[|\\\]|\$\$|\\(frac|mathbf|sum|partial|begin)\b/g);
  facts.rawTex = raw ? raw.slice(0, 5) : [];
  facts.wideEquations = [];
  if (window.MathJax && MathJax.startup && MathJax.startup.document) {
    for (const item of MathJax.startup.document.math) {
      const root = item.typesetRoot;
      if (!root || !item.display || !visible(root)) continue;
      const inner = root.firstElementChild;
      const need = inner ? inner.getBoundingClientRect().width : root.scrollWidth;
      const have = root.parentElement.clientWidth;
      if (need > have + 1) facts.wideEquations.push({tex: item.math.trim().slice(0, 120), need: Math.round(need), have});
    }
  }
  // blocks that scroll sideways
  facts.scrolling = [];
  for (const e of article.querySelectorAll('pre, div.highlight, div.cell_output, table, div.math, div.pst-scrollable-table-container, div.table-wrapper')) {
    if (!visible(e)) continue;
    if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible')
      facts.scrolling.push({tag: e.tagName.toLowerCase() + '.' + [...e.classList].join('.'),
                            text: e.textContent.trim().slice(0, 80), over: e.scrollWidth - e.clientWidth});
  }
  facts.pageScrollsSideways = document.documentElement.scrollWidth > document.documentElement.clientWidth + 1;
  // images
  facts.images = [...document.querySelectorAll('img')].filter(visible).map(img => ({
    src: img.getAttribute('src'), alt: img.getAttribute('alt'), complete: img.complete,
    natural: img.naturalWidth, shown: Math.round(img.getBoundingClientRect().width),
    inLesson: !!img.closest('.cell_output'), figure: !!img.closest('figure'),
    caption: (img.closest('figure') && img.closest('figure').querySelector('figcaption')) ?
             img.closest('figure').querySelector('figcaption').textContent.trim().slice(0, 120) : null}));
  // links and anchors
  facts.ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  facts.names = [...document.querySelectorAll('a[name]')].map(e => e.getAttribute('name'));
  facts.links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  facts.resources = [...document.querySelectorAll('link[href]')].map(l => l.href);
  return facts;
}
"""


@dataclass
class PageReport:
    """What one page did in the browser at one viewport width."""

    page: str
    width: int
    errors: list[str] = field(default_factory=list)  # page errors and console errors
    failed: list[str] = field(default_factory=list)  # failed, blocked or HTTP >= 400 requests
    facts: dict[str, Any] = field(default_factory=dict)
    axe: list[dict[str, Any]] = field(default_factory=list)


class Site:
    """A browser on a served copy of the built site; one page at a time."""

    def __init__(self, html: pathlib.Path = HTML):
        if not (html / "index.html").exists():
            raise FileNotFoundError(f"{html} has no index.html: build the site first (`make book`)")
        self.html = html
        self.server = Server(html)
        self._pw = None
        self.browser = None

    def __enter__(self) -> Site:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        executable = chromium_path()
        self.server.__enter__()
        self._pw = sync_playwright().start()
        try:
            self.browser = self._pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            self.__exit__()
            raise BrowserUnavailable(f"Chromium at {executable} did not start: {exc}") from exc
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.browser is not None:
            self.browser.close()
        if self._pw is not None:
            self._pw.stop()
        self.server.__exit__()

    def url(self, page: str) -> str:
        return urljoin(self.server.base, page)

    def local(self, url: str) -> bool:
        return url.startswith(self.server.base) or url.startswith(("data:", "blob:", "about:"))

    def open(self, page: str, width: int):
        """A new context and page at `width` px with every non-local request aborted."""
        context = self.browser.new_context(viewport={"width": width, "height": 900}, reduced_motion="no-preference")
        tab = context.new_page()
        report = PageReport(page, width)

        def route(r):
            if self.local(r.request.url):
                r.continue_()
            else:
                report.failed.append(f"blocked (not local): {r.request.url}")
                r.abort()

        tab.route("**/*", route)
        tab.on("pageerror", lambda e: report.errors.append(f"page error: {e}"))
        tab.on("console", lambda m: report.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        tab.on(
            "requestfailed",
            lambda r: report.failed.append(f"failed: {r.url} ({r.failure})") if self.local(r.url) else None,
        )
        tab.on("response", lambda r: report.failed.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
        return context, tab, report

    def visit(
        self, page: str, width: int = WIDE, axe: bool = False, screenshot: pathlib.Path | None = None
    ) -> PageReport:
        context, tab, report = self.open(page, width)
        try:
            tab.goto(self.url(page), wait_until="load")
            tab.wait_for_load_state("networkidle")
            report.facts = tab.evaluate(_FACTS_JS)
            if axe:
                tab.add_script_tag(path=str(AXE))
                result = tab.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
                report.axe = [
                    {
                        "id": v["id"],
                        "impact": v["impact"],
                        "help": v["help"],
                        "targets": [n["target"] for n in v["nodes"]][:5],
                    }
                    for v in result["violations"]
                ]
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                tab.screenshot(path=str(screenshot), full_page=False)
        finally:
            context.close()
        return report

    def frames_differ(self, page: str, src: str, wait_ms: int = 900) -> bool:
        """Whether the image `src` on `page` shows another frame within `wait_ms`.

        Pictures of the element as the page paints it, a few times over: a canvas would
        not do, since drawing an animated image onto one gives its first frame only.
        """
        context, tab, _ = self.open(page, WIDE)
        try:
            tab.goto(self.url(page), wait_until="load")
            img = tab.locator(f'img[src="{src}"]')
            img.scroll_into_view_if_needed()
            seen = {img.screenshot(animations="allow")}
            for _ in range(6):
                tab.wait_for_timeout(wait_ms // 6)
                seen.add(img.screenshot(animations="allow"))
            return len(seen) > 1
        finally:
            context.close()

    def search(self, query: str) -> list[str]:
        """The result links of the site's search page for `query`, in order."""
        context, tab, report = self.open("search.html", WIDE)
        try:
            tab.goto(self.url(f"search.html?q={query}"), wait_until="load")
            tab.wait_for_selector("#search-results ul.search li a", timeout=20000)
            links = tab.eval_on_selector_all("#search-results ul.search li > a", "as => as.map(a => a.href)")
        finally:
            context.close()
        if report.errors or report.failed:
            raise AssertionError(f"search page: {report.errors + report.failed}")
        return links

    def target_exists(self, url: str, ids_by_page: dict[str, set[str]]) -> str | None:
        """None if an internal link resolves (file and anchor), else what is missing."""
        page_url, anchor = urldefrag(url)
        rel = urlparse(page_url).path.lstrip("/")
        path = self.html / rel
        if rel == "" or path.is_dir():
            path = path / "index.html"
            rel = (pathlib.Path(rel) / "index.html").as_posix()
        if not path.exists():
            return f"no file {rel}"
        if anchor and rel.endswith(".html"):
            ids = ids_by_page.get(rel)
            if ids is None:
                return None if not anchor else f"{rel} was not visited, cannot check #{anchor}"
            if anchor not in ids:
                return f"no anchor #{anchor} in {rel}"
        return None


def problems(report: PageReport) -> list[str]:
    """What is wrong on a page, in words (the command-line report)."""
    f = report.facts
    out = [*report.errors, *report.failed]
    if f.get("maths") != f.get("mathsRendered"):
        out.append(f"maths: {f.get('mathsRendered')} of {f.get('maths')} rendered")
    if f.get("mathErrors"):
        out.append(f"maths: {f['mathErrors']} MathJax error nodes")
    if f.get("rawTex"):
        out.append(f"raw TeX in the text: {f['rawTex']}")
    for eq in f.get("wideEquations", []):
        out.append(f"wide equation ({eq['need']} px in {eq['have']} px): {eq['tex']}")
    for block in f.get("scrolling", []):
        out.append(f"scrolls sideways by {block['over']} px: {block['tag']}: {block['text']!r}")
    if f.get("pageScrollsSideways"):
        out.append(f"the page scrolls sideways at {report.width} px")
    for img in f.get("images", []):
        if not img["complete"] or not img["natural"]:
            out.append(f"image not loaded: {img['src']}")
        if not alt_ok(img["alt"], img["src"]):
            out.append(f"image without a real alt text: {img['src']} alt={img['alt']!r}")
        if img["inLesson"] and not img["caption"]:
            out.append(f"figure without a caption: {img['src']}")
    for v in report.axe:
        out.append(f"axe {v['impact']}: {v['id']} ({v['help']}) at {v['targets']}")
    return out


def alt_ok(alt: str | None, src: str | None) -> bool:
    """An alt text that says something: not empty, not the file's name or path."""
    if not alt or not alt.strip():
        return False
    a = alt.strip().lower()
    name = pathlib.PurePosixPath(src or "").name.lower()
    return a != name and a != (src or "").lower() and not a.endswith((".png", ".svg", ".jpg", ".gif"))


def _build_private() -> pathlib.Path:
    """Build the site from stored outputs into a temporary folder (no lesson is executed)."""
    out = pathlib.Path(tempfile.mkdtemp(prefix="bptt-site-"))
    config = out / "config.yml"
    text = (ROOT / "_config.yml").read_text().replace("execute_notebooks: force", "execute_notebooks: 'off'")
    config.write_text(text.replace("bookext: book/_ext", f"bookext: {ROOT}/book/_ext"))  # relative to the config
    if not (ROOT / "_build" / "extra" / "mathjax").exists():
        subprocess.run(["make", "-C", str(ROOT), "site-extra"], check=True)
    jb = pathlib.Path(sys.executable).with_name("jupyter-book")
    run = subprocess.run(
        [
            str(jb),
            "build",
            str(ROOT),
            "--builder",
            "html",
            "-n",
            "--keep-going",
            "--config",
            str(config),
            "--path-output",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    warnings = [line for line in run.stdout.splitlines() + run.stderr.splitlines() if "WARNING" in line]
    for line in warnings:
        print(line)
    if run.returncode:
        sys.exit(f"private build failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    return out / "_build" / "html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="*", help="docs such as book/bptt (default: every page)")
    parser.add_argument("--build", action="store_true", help="build a private copy from stored outputs first")
    parser.add_argument("--site", type=pathlib.Path, default=None, help="a built site (default _build/html)")
    parser.add_argument("--width", type=int, default=WIDE)
    parser.add_argument("--axe", action="store_true", help="also run axe-core")
    parser.add_argument("--json", action="store_true", help="print the raw facts")
    args = parser.parse_args(argv)
    html = _build_private() if args.build else (args.site or HTML)
    pages = [p if p.endswith(".html") else f"{p}.html" for p in args.pages] or site_pages(html)
    bad = 0
    with Site(html) as site:
        for page in pages:
            report = site.visit(page, args.width, axe=args.axe)
            if args.json:
                print(
                    json.dumps(
                        {
                            "page": page,
                            "facts": report.facts,
                            "errors": report.errors,
                            "failed": report.failed,
                            "axe": report.axe,
                        },
                        indent=1,
                    )
                )
                continue
            found = problems(report)
            bad += bool(found)
            f = report.facts
            print(f"{page}: {f.get('maths', 0)} maths, {len(f.get('images', []))} images, {len(found)} problems")
            for line in found:
                print(f"  - {line}")
    if args.build:
        shutil.rmtree(html.parents[1], ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
