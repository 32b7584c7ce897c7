"""Every lesson figure is a numbered figure with a caption, an alt text and a name that the
text refers to, and is sized so its smallest text stays legible in the column.

Read from the stored notebooks (no build needed). The browser tests check the same
figures as the site shows them.

Legibility: the column is 684 px wide; a wider PNG is shrunk to fit. Text of s points in
a figure stored at d dpi is s * d / 72 px at full size, so as displayed it is
s * d / 72 * min(1, 684 / width). The smallest s in a figure is taken from its cell's
source (`fontsize=`, `labelsize=`, `prop={"size": ...}`, named sizes; matplotlib's 10 when
none is given; bpttlab.plotting's smallest label for the diagram); it must give 9 px.
"""

from __future__ import annotations

import base64
import io
import json
import pathlib
import re

import pytest
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "book").glob("*.ipynb"))
COLUMN_PX = 684
MIN_TEXT_PX = 9.0
NAMED = {"xx-small": 5.79, "x-small": 6.94, "small": 8.33, "medium": 10.0, "large": 12.0}
SIZE_RE = re.compile(r"""(?:fontsize|labelsize|titlesize|["']size["'])\s*[=:]\s*(?:([0-9.]+)|["']([a-z-]+)["'])""")
DIAGRAM_SMALLEST_PT = 8.0  # bpttlab.plotting.draw_unrolled: labels at 8 pt for T > 8, legend 8 pt


def _figure_cells(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        pngs = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        if pngs:
            yield i, cell, pngs


def _smallest_pt(source: str) -> float:
    sizes = [10.0]
    for number, name in SIZE_RE.findall(source):
        sizes.append(float(number) if number else NAMED.get(name, 10.0))
    if "draw_unrolled" in source:
        sizes.append(DIAGRAM_SMALLEST_PT)
    return min(sizes)


def test_the_diagram_font_floor_is_what_plotting_uses():
    src = (ROOT / "bpttlab" / "plotting.py").read_text()
    literal = [float(v) for v in re.findall(r"fontsize=([0-9.]+)", src)]
    literal += [float(v) for v in re.findall(r"label_size = ([0-9.]+) if T <= 8 else ([0-9.]+)", src)[0]]
    assert min(literal) == DIAGRAM_SMALLEST_PT, literal


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_figure_has_caption_alt_and_a_name_the_text_refers_to(path):
    nb = json.loads(path.read_text())
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    names = []
    cells = list(_figure_cells(path))
    assert cells, f"{path.name}: no figures"
    for i, cell, pngs in cells:
        assert len(pngs) == 1, f"{path.name} cell {i}: {len(pngs)} images in one cell (one figure per cell)"
        meta = cell["metadata"].get("mystnb", {})
        fig, img = meta.get("figure", {}), meta.get("image", {})
        caption, name, alt = fig.get("caption", ""), fig.get("name", ""), img.get("alt", "")
        assert len(caption.split()) >= 5, f"{path.name} cell {i}: caption {caption!r}"
        assert len(alt.split()) >= 5 and not alt.lower().endswith((".png", ".svg")), (
            f"{path.name} cell {i}: alt {alt!r}"
        )
        assert alt.strip() != caption.strip(), f"{path.name} cell {i}: the alt text repeats the caption"
        stem = path.stem.replace("_", "-")
        assert re.fullmatch(rf"fig-{stem}-[a-z0-9-]+", name), f"{path.name} cell {i}: figure name {name!r}"
        assert f"`{name}`" in markdown, f"{path.name}: figure {name} is not referred to ({{numref}}`{name}`)"
        names.append(name)
    assert len(names) == len(set(names)), f"{path.name}: repeated figure names {names}"


def test_figure_names_are_unique_in_the_book():
    names = [
        c["metadata"]["mystnb"]["figure"]["name"]
        for p in LESSONS
        for _, c, _ in _figure_cells(p)
        if "name" in c["metadata"].get("mystnb", {}).get("figure", {})
    ]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_figure_text_is_at_least_9_px_as_displayed(path):
    for i, cell, pngs in _figure_cells(path):
        image = Image.open(io.BytesIO(base64.b64decode(pngs[0])))
        dpi = float(image.info.get("dpi", (72.0, 72.0))[0])
        width = image.size[0]
        smallest = _smallest_pt("".join(cell["source"]))
        shown = smallest * dpi / 72 * min(1.0, COLUMN_PX / width)
        assert shown >= MIN_TEXT_PX, (
            f"{path.name} cell {i}: {smallest:g} pt text at {dpi:.0f} dpi in a {width} px wide PNG shows as "
            f"{shown:.1f} px (needs {MIN_TEXT_PX:g}): narrow the figure or enlarge its fonts"
        )
