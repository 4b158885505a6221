"""The dashboard page as one HTML string. Every value from Redis is escaped here: paths,
referrers and agents are text that any client on the internet chose."""

from __future__ import annotations

from functools import cache
from html import escape
from importlib.resources import files
from urllib.parse import urlencode

from ..reading.report import TITLES
from ..reading.snapshot import Snapshot, Table
from .chart import chart

__all__ = ["HEADERS", "LOGIN_HEADERS", "RANGES", "error_page", "login_page", "page"]

# Sent with every response of the dashboard, error pages included. Private numbers: never
# cached by a proxy or kept by the browser; an injected script could not run even if some value
# escaped the escaping (no script source is allowed at all); no page can frame it.
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
# The sign-in page is the one page with a form: it may post to itself, nowhere else.
LOGIN_HEADERS = {
    **HEADERS,
    "Content-Security-Policy": HEADERS["Content-Security-Policy"].replace(
        "form-action 'none'", "form-action 'self'"
    ),
}

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


def page(snapshot: Snapshot, *, base: str, selected: str) -> str:
    """The whole page; ``base`` is the page's own path (mount-aware). Links never carry a
    token: the session cookie does (see `wsgi_analytics.dashboard.access`)."""
    nav = "".join(
        f'<a href="{_link(base, {"days": value})}"'
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
    api = _link(f"{base.rstrip('/')}/api.json", {"days": selected})
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


def error_page(title: str, detail: str, *, extra: str = "") -> str:
    """A plain page for a refusal, a Redis outage or a bad query: one readable sentence, no
    traceback; ``extra`` is markup placed after it (already escaped)."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_css()}</style></head><body>"
        f'<div class="panel error"><h2>{escape(title)}</h2><p>{escape(detail)}</p>{extra}</div>'
        "</body></html>"
    )


def login_page(detail: str) -> str:
    """The 401 page when a token is configured: a form that posts the token to the page itself
    (never in a URL, so it stays out of access logs and history); the answer is a redirect that
    sets the session cookie."""
    form = (
        '<form method="post" class="login"><label>Token '
        '<input type="password" name="token" autocomplete="current-password" required autofocus>'
        '</label> <button type="submit">Open</button></form>'
    )
    return error_page("Authentication required", detail, extra=form)
