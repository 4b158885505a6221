"""The dashboard page as one HTML string. Every value from Redis is escaped here: paths,
referrers and agents are text that any client on the internet chose."""

from __future__ import annotations

from functools import cache
from html import escape
from importlib.resources import files
from urllib.parse import urlencode

from ..report import TITLES
from ..snapshot import Snapshot, Table
from .chart import chart

__all__ = ["RANGES", "error_page", "page"]

# (query value, button label, days): the range selector.
RANGES = (("1", "Today", 1), ("7", "7 days", 7), ("30", "30 days", 30), ("all", "All time", None))
_WIDE = frozenset({"paths"})
_CARDS = (
    ("not_found", "Not found", "GET requests answered 404"),
    ("bots", "Bot requests", "crawlers and HTTP clients"),
    ("throttled", "Refused", "by the POST throttle (429)"),
)


@cache
def _css() -> str:
    return files("wsgi_analytics.dashboard").joinpath("style.css").read_text(encoding="utf-8")


def _link(base: str, params: dict[str, str]) -> str:
    return escape(f"{base}?{urlencode(params)}" if params else base)


def _table(name: str, table: Table) -> str:
    title = escape(TITLES.get(name, name))
    meta = f"{table.distinct:,} distinct · {table.total:,} in all" if table.total else ""
    head = (
        f'<article class="panel{" wide" if name in _WIDE else ""}" id="dim-{escape(name)}">'
        f'<h2>{title}<span class="meta">{meta}</span></h2><table>'
        '<tr><th></th><th class="n">Count</th><th class="pct">Share</th></tr>'
    )
    if not table.rows:
        return head + '<tr><td class="none" colspan="3">nothing counted</td></tr></table></article>'
    top = table.rows[0][1] or 1
    rows = []
    for member, count in table.rows:
        text = escape(member)
        rows.append(
            f'<tr><td class="member"><div class="fill" style="width:{100 * count / top:.1f}%">'
            f'</div><span title="{text}">{text}</span></td><td class="n">{count:,}</td>'
            f'<td class="pct">{100 * table.share(count):.1f}%</td></tr>'
        )
    hidden = table.distinct - len(table.rows)
    if hidden > 0:
        rest = table.total - sum(count for _, count in table.rows)
        rows.append(
            f'<tr class="more"><td class="member"><span>{hidden:,} more</span></td>'
            f'<td class="n">{rest:,}</td><td class="pct">{100 * table.share(rest):.1f}%</td></tr>'
        )
    return head + "".join(rows) + "</table></article>"


def _card(label: str, value: int, note: str, warn: bool = False) -> str:
    return (
        f'<div class="card{" warn" if warn and value else ""}"><div class="k">{escape(label)}</div>'
        f'<div class="v">{value:,}</div><div class="s">{escape(note)}</div></div>'
    )


def page(snapshot: Snapshot, *, base: str, selected: str, token: str | None) -> str:
    """The whole page; ``base`` is the page's own path (mount-aware), ``token`` is repeated in
    links only when it came in the query string."""
    keep = {"token": token} if token else {}
    nav = "".join(
        f'<a href="{_link(base, {"days": value, **keep})}"'
        f"{' class=on' if value == selected else ''}>{label}</a>"
        for value, label, _ in RANGES
    )
    span = snapshot.last if snapshot.days == 1 else f"{snapshot.first or '-'} → {snapshot.last}"
    cards = [
        _card("Page views", snapshot.page_views, snapshot.label),
        _card("Unique visitors", snapshot.uniques, "approximate"),
    ]
    cards += [
        _card(label, snapshot.tables[name].total, note, warn=name == "throttled")
        for name, label, note in _CARDS
        if name in snapshot.tables
    ]
    per = "hour" if snapshot.series.unit == "hour" else "day"
    graph = chart(snapshot.series, 24 if snapshot.days == 1 else 0)
    tables = "".join(_table(name, table) for name, table in snapshot.tables.items())
    api = _link(f"{base.rstrip('/')}/api.json", {"days": selected, **keep})
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Analytics · {escape(snapshot.label)}</title><style>{_css()}</style></head>"
        f'<body><header><div class="brand"><span class="logo">◆</span> wsgi_analytics'
        f'<span class="prefix">{escape(snapshot.prefix)}</span></div>'
        f'<nav class="ranges">{nav}</nav></header><main>'
        f'<p class="span">{escape(snapshot.label.capitalize())} · {escape(span)} (UTC)</p>'
        f'<section class="cards">{"".join(cards)}</section>'
        f'<section class="panel"><h2>Page views per {per}<span class="meta">'
        f"{snapshot.page_views:,} in all</span></h2>{graph}</section>"
        f'<section class="tables">{tables}</section></main>'
        f"<footer>Generated {escape(snapshot.generated_at)} · "
        f'<a href="{api}">JSON</a></footer></body></html>'
    )


def error_page(title: str, detail: str) -> str:
    """A plain page for a Redis outage or a bad query: one readable sentence, no traceback."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_css()}</style></head><body>"
        f'<div class="panel error"><h2>{escape(title)}</h2><p>{escape(detail)}</p></div>'
        "</body></html>"
    )
