"""A self-contained HTML page: relative links to ``figures/`` and ``audio/``
beside it, inline CSS, no script and no network, so it opens from disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Iterable, Sequence

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1300px; margin: 1em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
figure { margin: 1em 0 1.5em; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.95em; color: #333; background: #f6f6f6; padding: 0.4em 0.7em;
             border-left: 3px solid #1f77b4; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; vertical-align: middle; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
audio { height: 2em; vertical-align: middle; }
nav ul { columns: 3; font-size: 0.95em; }
.example { display: inline-block; margin: 0.3em 1em 0.3em 0; }
.note { color: #555; font-size: 0.92em; }
details { margin: 0.5em 0 1em; }
code { background: #f3f3f3; padding: 0 0.2em; }
"""


def figure(src: str, caption: str, alt: str | None = None) -> str:
    """An ``<img>`` with its caption (caption is plain text)."""
    return (f'<figure><img src="{escape(src)}" alt="{escape(alt or caption[:80])}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def audio(src: str, label: str = "") -> str:
    """An ``<audio>`` player (nothing loaded until played)."""
    player = f'<audio controls preload="none" src="{escape(src)}"></audio>'
    return f"{escape(label)} {player}" if label else player


def paragraph(text: str, cls: str | None = None) -> str:
    return f'<p class="{cls}">{escape(text)}</p>' if cls else f"<p>{escape(text)}</p>"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]],
          raw_columns: Sequence[int] = ()) -> str:
    """A table; cells are escaped except in ``raw_columns`` (HTML, e.g. a player);
    numbers are right-aligned."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if i in raw_columns:
                cells.append(f"<td>{cell}</td>")
            elif isinstance(cell, (int, float)):
                cells.append(f'<td class="num">{cell:,}</td>' if isinstance(cell, int)
                             else f'<td class="num">{cell:.3g}</td>')
            else:
                cells.append(f"<td>{escape(str(cell))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def details(summary: str, inner: str) -> str:
    """A collapsed block (long lists)."""
    return f"<details><summary>{escape(summary)}</summary>{inner}</details>"


@dataclass
class Section:
    """One numbered part of the report."""

    anchor: str
    title: str
    blocks: list[str] = field(default_factory=list)

    def add(self, *html: str) -> "Section":
        self.blocks.extend(html)
        return self


def page(title: str, intro: Sequence[str], sections: Sequence[Section]) -> str:
    """The whole document."""
    toc = "".join(f'<li><a href="#{escape(s.anchor)}">{escape(s.title)}</a></li>'
                  for s in sections)
    body = "".join(f'<section id="{escape(s.anchor)}"><h2>{escape(s.title)}</h2>'
                   + "\n".join(s.blocks) + "</section>\n" for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>"
            f"<h1>{escape(title)}</h1>{''.join(intro)}<nav><ul>{toc}</ul></nav>\n"
            f"{body}</body></html>\n")
