"""Small Sphinx adjustments for the book's website (loaded through `_config.yml`).

- myst-nb draws a hidden cell's toggle as `<summary aria-label="Toggle hidden content">`,
  whose accessible name then differs from its visible text ("Show code cell source"):
  axe-core's label-content-name-mismatch. The toggle is drawn here without that label, so
  screen readers announce what sighted readers see.
"""

from __future__ import annotations

from html import escape
from typing import Any

from myst_nb.sphinx_ import HideCodeCellNode
from sphinx.application import Sphinx


def _visit_hidden_cell(self: Any, node: HideCodeCellNode) -> None:
    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n<summary>\n')
    self.body.append(f'<p class="collapsed admonition-title">{escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def _depart_hidden_cell(self: Any, node: HideCodeCellNode) -> None:
    self.body.append("</details>\n")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_node(HideCodeCellNode, override=True, html=(_visit_hidden_cell, _depart_hidden_cell))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
