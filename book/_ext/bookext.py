"""Small Sphinx adjustments for the book's website (loaded through `_config.yml`).

- myst-nb draws a hidden cell's toggle as `<summary aria-label="Toggle hidden content">`,
  whose accessible name then differs from its visible text ("Show code cell source"):
  axe-core's label-content-name-mismatch. The toggle is drawn here without that label, so
  screen readers announce what sighted readers see.
- The reference list is labelled the way the text cites: "Gruslys et al., 2016", not
  pybtex's alpha labels ("GMunosDL16"), through the label style ``authoryear`` and the
  formatting style ``bookstyle`` (set as ``bibtex_default_style``).
- docutils marks each bibliography entry ``role="doc-biblioentry"`` inside a
  ``role="list"``: a list whose items are not list items (axe-core's
  aria-required-children, critical). The entries are given ``role="listitem"``.
- The ``colab-install`` directive prints the line that installs bpttlab on Colab, from the
  repository URL set once in ``_config.yml`` (``repository.url``), so a fork changes one
  line. ``install_line(url)`` is that line (tests/test_colab.py installs it from a wheel).
"""

from __future__ import annotations

from html import escape
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive
from myst_nb.sphinx_ import HideCodeCellNode
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx


def _visit_hidden_cell(self: Any, node: HideCodeCellNode) -> None:
    classes = " ".join(node["classes"])
    self.body.append(
        f'<details class="admonition hide {classes}">\n<summary>\n'
    )
    self.body.append(
        f'<p class="collapsed admonition-title">{escape(node["prompt_show"])}</p>\n'
    )
    self.body.append(
        f'<p class="expanded admonition-title">{escape(node["prompt_hide"])}</p>\n'
    )
    self.body.append("</summary>\n")


def _depart_hidden_cell(self: Any, node: HideCodeCellNode) -> None:
    self.body.append("</details>\n")


def _surname(person: Any) -> str:
    return (
        " ".join(person.prelast_names + person.last_names)
        .replace("{", "")
        .replace("}", "")
    )


class AuthorYearLabels(BaseLabelStyle):
    """Labels "Surname, 2016", "Surname and Other, 2016", "Surname et al., 2016"; a letter
    after the year tells apart two works whose labels would otherwise be the same."""

    def format_labels(self, sorted_entries: Any) -> Any:
        labels = []
        for entry in sorted_entries:
            people = (
                entry.persons.get("author")
                or entry.persons.get("editor")
                or []
            )
            names = [_surname(p) for p in people]
            if not names:
                who = entry.fields.get("organization", entry.key)
            elif len(names) == 1:
                who = names[0]
            elif len(names) == 2:
                who = f"{names[0]} and {names[1]}"
            else:
                who = f"{names[0]} et al."
            labels.append(f"{who}, {entry.fields.get('year', 'n.d.')}")
        counts = {label: labels.count(label) for label in labels}
        seen: dict[str, int] = {}
        for label in labels:
            if counts[label] > 1:
                seen[label] = seen.get(label, 0) + 1
                yield (
                    label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
                )
            else:
                yield label


class BookStyle(UnsrtStyle):
    """pybtex's unsrt entries, sorted by author and year, with author-year labels."""

    default_label_style = "authoryear"
    default_sorting_style = "author_year_title"


def _listitems(
    app: Sphinx,
    pagename: str,
    templatename: str,
    context: dict,
    doctree: Any,
) -> None:
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace(
            'role="doc-biblioentry"', 'role="listitem"'
        )


def install_line(url: str) -> str:
    """The notebook line that installs bpttlab from the repository at ``url``."""
    return f'%pip install "bpttlab @ git+{url.rstrip("/")}"'


class ColabInstall(Directive):
    """A code block with ``install_line`` of the book's repository."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        config = self.state.document.settings.env.config
        url = (config.html_theme_options or {}).get("repository_url")
        if not url:
            raise self.error(
                "colab-install: no repository URL; set repository.url in _config.yml"
            )
        line = install_line(url)
        block = nodes.literal_block(line, line, language="ipython")
        return [block]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("colab-install", ColabInstall)
    app.add_node(
        HideCodeCellNode,
        override=True,
        html=(_visit_hidden_cell, _depart_hidden_cell),
    )
    register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "bookstyle", BookStyle)
    app.connect("html-page-context", _listitems)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
