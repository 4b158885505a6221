"""The dashboard's pages as HTML strings. Every value from Redis is escaped here: paths,
referrers, sources and agents are text that any client on the internet chose.

No script anywhere (the Content-Security-Policy allows none): ranges are links and a GET form
with date inputs, the drill-down filter is a link, tables open in full through links, the
Endpoints table sorts through links, the live view refreshes with ``<meta http-equiv=refresh>``
and the chart adapts to the screen through the stylesheet (see `chart`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from html import escape
from importlib.resources import files
from typing import Protocol
from urllib.parse import urlencode

from ..reading.countries import country_name
from ..reading.report import TITLES
from ..reading.snapshot import Snapshot, Table
from .chart import charts
from .query import FILTERS, PRESETS, TABLE, Query

__all__ = [
    "HEADERS",
    "LOGIN_HEADERS",
    "PAGE_HEADERS",
    "RouteRow",
    "View",
    "error_page",
    "live_page",
    "login_page",
    "page",
]

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
# Pages with a form may submit it to the dashboard itself, nowhere else: the sign-in page (a
# POST of the token) and the page (the GET form of the date range).
LOGIN_HEADERS = {
    **HEADERS,
    "Content-Security-Policy": HEADERS["Content-Security-Policy"].replace(
        "form-action 'none'", "form-action 'self'"
    ),
}
PAGE_HEADERS = LOGIN_HEADERS

LIVE_MINUTES = 5
LIVE_REFRESH = 10  # seconds between two loads of the live view

# Page titles of the dimensions this page knows (custom ones show their own name), and what one
# member is called in a table's header.
_NAMES = {
    "paths": ("Pages", "Page"),
    "referrers": ("Referrers", "Referring site"),
    "sources": ("Sources", "Source"),
    "channels": ("Channels", "Channel"),
    "utm_campaign": ("Campaigns", "Campaign"),
    "utm_source": ("Campaign sources", "utm_source"),
    "utm_medium": ("Campaign media", "utm_medium"),
    "utm_content": ("Campaign content", "utm_content"),
    "utm_term": ("Campaign terms", "utm_term"),
    "countries": ("Countries", "Country"),
    "browsers": ("Browsers", "Browser"),
    "platforms": ("Platforms", "Platform"),
    "devices": ("Devices", "Device"),
    "bots": ("Bots", "Bot"),
    "not_found": ("Not found (404)", "Path"),
    "statuses": ("Status codes", "Status"),
    "routes": ("Endpoints", "Route"),
    "throttled": ("Refused by the throttle (429)", "Path"),
}
# The campaign parts inside the Campaigns panel say less: the panel already says "campaign".
_SUB_NAMES = {
    "utm_source": ("utm_source", "Source"),
    "utm_medium": ("utm_medium", "Medium"),
    "utm_content": ("utm_content", "Content"),
    "utm_term": ("utm_term", "Term"),
}
# Where each dimension sits on the page: the wide table of pages, the panels of where visitors
# come from and what they use, the endpoints, then what went wrong. A filtered page shows page
# views only (the pairs behind a filter exist for page views), so only `_VISITS`.
_VISITS = (
    "paths", "sources", "channels", "utm_campaign", "referrers", "countries", "browsers",
    "platforms", "devices",
)  # fmt: skip
_CAMPAIGN_PARTS = ("utm_source", "utm_medium", "utm_content", "utm_term")
_REQUESTS = ("not_found", "statuses", "bots", "throttled")
# Read into the Endpoints table (its heading, its rows' error rates), never shown alone.
_ROUTE_TABLES = ("routes", "routes_4xx", "routes_5xx")
_WIDE = frozenset({"paths"})
# Members that are addresses or codes read better in a fixed-width font; names do not.
_MONO = frozenset({"paths", "referrers", "not_found", "throttled", "statuses"})
_CARDS = (
    ("not_found", "Not found", "GET requests answered 404"),
    ("bots", "Bot requests", "crawlers and HTTP clients"),
    ("throttled", "Refused", "by the POST throttle (429)"),
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class RouteRow(Protocol):
    """One row of the Endpoints table (`wsgi_analytics.RouteStats` has this shape)."""

    @property
    def route(self) -> str: ...
    @property
    def requests(self) -> int: ...
    @property
    def client_errors(self) -> int: ...
    @property
    def errors(self) -> int: ...
    @property
    def p50(self) -> float: ...
    @property
    def p95(self) -> float: ...
    @property
    def p99(self) -> float: ...


@dataclass(frozen=True)
class View:
    """Everything one page shows: the snapshot read for the query, and where the page is."""

    snapshot: Snapshot
    query: Query
    base: str  # the page's own path, mount-aware, ending with "/"

    def href(self, query: Query, page: str = "") -> str:
        """A link to ``page`` (``""`` the page itself, ``"export.csv"``...) for ``query``,
        escaped for an attribute. Never a token: the session cookie carries access. Links
        to data name their range even when it is the default: a saved URL keeps its meaning."""
        params = query.params(explicit=bool(page) and page != "live")
        target = self.base + page
        return escape(f"{target}?{_encode(params)}" if params else target)


def _encode(params: list[tuple[str, str]]) -> str:
    # Members are any text a client sent: lone surrogates (from undecodable bytes) would make
    # urlencode raise, so they travel as U+FFFD, as the page shows them.
    clean = [(name, value.encode("utf-8", "replace").decode("utf-8")) for name, value in params]
    return urlencode(clean)


@cache
def _css() -> str:
    return files("wsgi_analytics.dashboard").joinpath("style.css").read_text(encoding="utf-8")


# -- words for dates and numbers -----------------------------------------------------------------


def _day(day: date, *, year: bool = True, weekday: bool = False) -> str:
    text = f"{_MONTHS[day.month - 1]} {day.day}"
    if weekday:
        text = f"{_WEEKDAYS[day.weekday()]}, {text}"
    return f"{text}, {day.year}" if year else text


def _span_words(first: date, last: date) -> str:
    if first == last:
        return _day(first, weekday=True)
    return f"{_day(first, year=first.year != last.year)} \u2013 {_day(last)}"


def _parse_day(label: str | None) -> date | None:
    try:
        return date.fromisoformat(label) if label else None
    except ValueError:
        return None


def _range_title(view: View) -> tuple[str, str]:
    """The range as a heading and its dates: ("Last 7 days", "Nov 25 - Dec 1, 2026")."""
    query, snapshot = view.query, view.snapshot
    first, last = _parse_day(snapshot.first), _parse_day(snapshot.last)
    if query.start is not None and query.end is not None:
        days = (query.end - query.start).days + 1
        return _span_words(query.start, query.end), "1 day" if days == 1 else f"{days:,} days"
    if query.days is None:
        return "All time", f"since {_day(first)}" if first else "nothing recorded yet"
    title = "Today" if query.days == 1 else f"Last {query.days:,} days"
    if last is None:
        return title, ""
    return title, _span_words(last - timedelta(days=query.days - 1), last)


def _before_words(query: Query) -> str:
    """The previous period in words: "yesterday", "the 7 days before"."""
    if query.start is not None and query.end is not None:
        days = (query.end - query.start).days + 1
    else:
        days = query.days or 0
    if query.days == 1 and query.start is None:
        return "yesterday"
    return "the day before" if days == 1 else f"the {days:,} days before"


def _percent(value: float) -> str:
    return f"{value:,.1f}%" if abs(value) < 10 else f"{value:,.0f}%"


def _delta(now: int, before: int | None, words: str) -> str:
    """▲/▼ and the change in %, in words as well as in colour: "▲ +12% vs 1,100 the 7 days
    before"."""
    if before is None:
        return ""
    if before == 0:
        text = "none" if now == 0 else "new"
        return (
            f'<div class="delta flat"><span class="change">{text}</span> '
            f'<span class="vs">vs 0 {escape(words)}</span></div>'
        )
    change = 100 * (now - before) / before
    if round(change, 1) == 0:
        kind, arrow, sign = "flat", "=", "±"
    elif change > 0:
        kind, arrow, sign = "up", "▲", "+"
    else:
        kind, arrow, sign = "down", "▼", "\u2212"
    amount = "0%" if kind == "flat" else _percent(abs(change))
    return (
        f'<div class="delta {kind}"><span class="change"><span aria-hidden="true">{arrow}</span> '
        f"{sign}{amount}</span> "
        f'<span class="vs">vs {before:,} {escape(words)}</span></div>'
    )


# -- tables --------------------------------------------------------------------------------------


def _title(name: str) -> str:
    return _NAMES[name][0] if name in _NAMES else TITLES.get(name, name)


def _noun(name: str) -> str:
    return _NAMES[name][1] if name in _NAMES else name


def _member_text(view: View, name: str, member: str) -> str:
    """A member as the page shows it (escaped): countries get their name before the code."""
    if not member:
        return '<span class="muted">(empty)</span>'
    if name == "countries":
        country = country_name(member)
        if country:
            return f'{escape(country)} <span class="code">{escape(member)}</span>'
    return escape(member)


def _member_cell(view: View, name: str, member: str, count: int, top: int) -> str:
    shown = _member_text(view, name, member)
    fill = f'<div class="fill" style="width:{100 * count / top:.1f}%"></div>'
    label = escape(member, quote=True)
    mono = ' class="mono"' if name in _MONO else ""
    if name in FILTERS:
        active = view.query.where == (name, member)
        target = view.query.changed(where=(name, member), dimension=None, limit=None)
        what = f"Only page views with {_noun(name).lower()} {member}"
        attributes = f' href="{view.href(target)}" title="{escape(what)}"'
        if active:
            attributes += ' class="on" aria-current="true"'
        return f'<td class="member">{fill}<a{attributes}><span{mono}>{shown}</span></a></td>'
    return f'<td class="member">{fill}<span{mono} title="{label}">{shown}</span></td>'


def _table(view: View, name: str, table: Table, *, wide: bool = False, sub: bool = False) -> str:
    title = escape(_SUB_NAMES[name][0] if sub else _title(name))
    noun = _SUB_NAMES[name][1] if sub else _noun(name)
    meta = f"{table.distinct:,} distinct · {table.total:,} in all" if table.total else ""
    kind = "sub" if sub else "panel" + (" wide" if wide or name in _WIDE else "")
    heading = (
        f'<h3>{title}<span class="meta">{meta}</span></h3>'
        if sub
        else f'<h2>{title}<span class="meta">{meta}</span></h2>'
    )
    head = (
        f'<{"div" if sub else "article"} class="{kind}" id="dim-{escape(name)}">{heading}'
        f'<table><thead><tr><th scope="col">{escape(noun)}</th>'
        '<th class="n" scope="col">Count</th><th class="pct" scope="col">Share</th></tr></thead>'
    )
    end = "</table></div>" if sub else "</table></article>"
    if not table.rows:
        return (
            head + '<tbody><tr><td class="none" colspan="3">nothing counted</td></tr></tbody>' + end
        )
    top = table.rows[0][1] or 1
    rows = [
        f'<tr>{_member_cell(view, name, member, count, top)}<td class="n">{count:,}</td>'
        f'<td class="pct">{_percent(100 * table.share(count))}</td></tr>'
        for member, count in table.rows
    ]
    hidden = table.distinct - len(table.rows)
    if hidden > 0:
        rest = table.total - sum(count for _, count in table.rows)
        rows.append(_more_row(view, name, hidden, rest, table))
    return head + "<tbody>" + "".join(rows) + "</tbody>" + end


def _more_row(view: View, name: str, hidden: int, rest: int, table: Table) -> str:
    shown = len(table.rows)
    if view.query.dimension == name:
        more = min(TABLE.most, max(shown * 2, TABLE.default * 5))
        target = view.query.changed(limit=more) if shown < TABLE.most else None
    else:
        target = view.query.changed(dimension=name, limit=None)
    words = f"{hidden:,} more"
    cell = (
        f'<a href="{view.href(target)}#dim-{escape(name)}">{words} · show all</a>'
        if target is not None
        else f"<span>{words} (the first {shown:,} are shown; the CSV has more)</span>"
    )
    return (
        f'<tr class="more"><td class="member">{cell}</td><td class="n">{rest:,}</td>'
        f'<td class="pct">{_percent(100 * table.share(rest))}</td></tr>'
    )


def _campaigns(view: View, tables: dict[str, Table]) -> str:
    """Campaigns: the utm_campaign table, with the sources and media of tagged links beside
    it (and content and terms folded away: few sites use them)."""
    main = _table(view, "utm_campaign", tables["utm_campaign"])
    parts = [
        _table(view, name, tables[name], sub=True)
        for name in _CAMPAIGN_PARTS[:2]
        if name in tables and tables[name].total
    ]
    folded = [
        _table(view, name, tables[name], sub=True)
        for name in _CAMPAIGN_PARTS[2:]
        if name in tables and tables[name].total
    ]
    extra = f'<div class="pair">{"".join(parts)}</div>' if parts else ""
    if folded:
        extra += f"<details><summary>Content and terms</summary>{''.join(folded)}</details>"
    return main.replace("</table></article>", f"</table>{extra}</article>", 1)


_ROUTE_COLUMNS = (
    # (sort key, header, class, shown under 600 px)
    ("route", "Route", "route", True),
    ("requests", "Requests", "n", True),
    ("client_errors", "4xx", "n", False),
    ("errors", "5xx", "n", True),
    ("p50", "p50", "n", False),
    ("p95", "p95", "n", True),
    ("p99", "p99", "n", False),
)


def _sorted_routes(routes: Sequence[RouteRow], key: str) -> list[RouteRow]:
    if key == "route":
        return sorted(routes, key=lambda r: r.route)
    if key in ("client_errors", "errors"):
        # An error rate, not a count: 3 failures of 4 calls matter more than 5 of 10,000.
        return sorted(
            routes,
            key=lambda r: (-getattr(r, key) / r.requests if r.requests else 0.0, r.route),
        )
    return sorted(routes, key=lambda r: (-float(getattr(r, key)), r.route))


def _ms(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:,.0f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms" if value >= 1 else f"{value:.2f} ms"


def _rate(part: int, whole: int) -> str:
    if not part:
        return '<span class="muted">0%</span>'
    return _percent(100 * part / whole) if whole else "&ndash;"


def _endpoints(view: View, routes: Sequence[RouteRow], table: Table | None) -> str:
    """The Endpoints table: one row per route, error rates and response times; the column
    headers are links that sort it (busiest routes first by default)."""
    key = view.query.sort
    heads = []
    for sort, label, kind, narrow in _ROUTE_COLUMNS:
        classes = kind + ("" if narrow else " opt")
        text = escape(label)
        if sort == key:
            heads.append(
                f'<th class="{classes} on" scope="col" aria-sort="'
                f'{"ascending" if sort == "route" else "descending"}">{text}'
                f'<span aria-hidden="true">{" ▲" if sort == "route" else " ▼"}</span></th>'
            )
        else:
            target = view.query.changed(sort=sort)
            heads.append(
                f'<th class="{classes}" scope="col"><a href="{view.href(target)}#dim-routes" '
                f'title="Sort by {text}">{text}</a></th>'
            )
    meta = ""
    if table is not None and table.total:
        meta = f"{table.distinct:,} routes · {table.total:,} requests"
    head = (
        '<article class="panel wide" id="dim-routes"><h2>Endpoints'
        f'<span class="meta">{meta}</span></h2><div class="scroll"><table class="routes">'
        f"<thead><tr>{''.join(heads)}</tr></thead><tbody>"
    )
    end = "</tbody></table></div></article>"
    if not routes:
        return head + '<tr><td class="none" colspan="7">no requests counted</td></tr>' + end
    rows = [
        (
            f'<tr><td class="route"><span title="{escape(row.route)}">{escape(row.route)}</span>'
            f'</td><td class="n">{row.requests:,}</td>'
            f'<td class="n opt" title="{row.client_errors:,} answered 4xx">'
            f"{_rate(row.client_errors, row.requests)}</td>"
            f'<td class="n{" bad" if row.errors else ""}" title="{row.errors:,} answered 5xx">'
            f"{_rate(row.errors, row.requests)}</td>"
            f'<td class="n opt">{_ms(row.p50)}</td><td class="n">{_ms(row.p95)}</td>'
            f'<td class="n opt">{_ms(row.p99)}</td></tr>'
        )
        for row in _sorted_routes(routes, key)
    ]
    if table is not None and table.distinct > len(routes):
        hidden = table.distinct - len(routes)
        target = view.query.changed(dimension="routes", limit=None)
        link = (
            f'<a href="{view.href(target)}#dim-routes">{hidden:,} more · show all</a>'
            if view.query.dimension != "routes"
            else f"<span>{hidden:,} more</span>"
        )
        rows.append(f'<tr class="more"><td class="member" colspan="7">{link}</td></tr>')
    return head + "".join(rows) + end


# -- the page ------------------------------------------------------------------------------------


def _card(label: str, value: str, note: str, *, extra: str = "", warn: bool = False) -> str:
    return (
        f'<div class="card{" warn" if warn else ""}"><div class="k">{escape(label)}</div>'
        f'<div class="v">{value}</div>{extra}<div class="s">{note}</div></div>'
    )


def _cards(view: View) -> str:
    snapshot, query = view.snapshot, view.query
    before = _before_words(query)
    previous = snapshot.previous
    views_delta = _delta(snapshot.page_views, previous.page_views if previous else None, before)
    cards = [
        _card(
            "Page views",
            f"{snapshot.page_views:,}",
            "" if views_delta else escape(snapshot.label if query.start is None else "these days"),
            extra=views_delta,
        )
    ]
    uniques = snapshot.uniques
    if uniques is None:
        cards.append(
            _card(
                "Unique visitors",
                '<span aria-label="not available">\u2014</span>',
                "not counted per filter" if query.where is not None else "not available",
            )
        )
    else:
        cards.append(
            _card(
                "Unique visitors",
                f"{uniques:,}",
                "approximate",
                extra=_delta(uniques, previous.uniques if previous else None, before),
            )
        )
    if snapshot.live is not None:
        cards.append(
            _card(
                "Visitors now",
                f'<span class="dot" aria-hidden="true"></span>{snapshot.live:,}',
                f'in the last {LIVE_MINUTES} minutes · <a href="{escape(view.base)}live">'
                "live view</a>",
            )
        )
    if query.where is None:
        cards += [
            _card(
                label,
                f"{snapshot.tables[name].total:,}",
                escape(note),
                warn=name == "throttled" and snapshot.tables[name].total > 0,
            )
            for name, label, note in _CARDS
            if name in snapshot.tables
        ]
    return f'<section class="cards" aria-label="Totals">{"".join(cards)}</section>'


def _ranges(view: View) -> str:
    query = view.query
    links = []
    for value, label in PRESETS:
        days = None if value == "all" else int(value)
        target = query.changed(days=days, start=None, end=None)
        current = query.selected == value
        links.append(
            f'<a href="{view.href(target)}"'
            f"{' class=on aria-current=page' if current else ''}>{label}</a>"
        )
    if query.start is not None and query.end is not None:
        first, last = query.start, query.end
    else:
        last = _parse_day(view.snapshot.last) or date.today()
        first = _parse_day(view.snapshot.first) or last
        if query.days is not None:
            first = last - timedelta(days=query.days - 1)
    hidden = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in query.changed(start=None, end=None, days=1, limit=None).params()
        if name in ("where", "dimension", "sort")
    )
    form = (
        f'<form class="dates" method="get" action="{escape(view.base)}" aria-label="Dates">'
        f'<label>From <input type="date" name="from" value="{first.isoformat()}" required '
        f'min="1970-01-02"></label>'
        f'<label>to <input type="date" name="to" value="{last.isoformat()}" required '
        f'min="1970-01-02"></label>{hidden}<button type="submit">Show</button></form>'
    )
    return f'<nav class="ranges" aria-label="Range">{"".join(links)}</nav>{form}'


def _filter_bar(view: View) -> str:
    where = view.query.where
    if where is None:
        return ""
    name, member = where
    clear = view.href(view.query.changed(where=None))
    return (
        '<p class="filter" role="status"><span class="k">Filtered:</span> '
        f"{escape(_noun(name))} is <strong>{_member_text(view, name, member)}</strong> "
        f'<a class="clear" href="{clear}"><span aria-hidden="true">\u00d7</span> clear filter</a>'
        '<span class="note">Page views only: bots, errors and endpoints are not filtered.</span>'
        "</p>"
    )


def _panels(view: View) -> str:
    snapshot, query = view.snapshot, view.query
    tables = snapshot.tables
    if query.dimension is not None:
        # One table alone, in full: the "N more" links.
        back = view.href(query.changed(dimension=None, limit=None))
        top = f'<p class="back"><a href="{back}">← all panels</a></p>'
        if query.dimension == "routes":
            return top + _endpoints(view, snapshot.routes, tables.get("routes"))
        if query.dimension in tables:
            return top + _table(view, query.dimension, tables[query.dimension], wide=True)
        return top
    visits = [name for name in _VISITS if name in tables]
    parts = []
    for name in visits:
        if name == "utm_campaign":
            parts.append(_campaigns(view, tables))
        else:
            parts.append(_table(view, name, tables[name]))
    sections = [f'<section class="tables" aria-label="Visits">{"".join(parts)}</section>']
    if query.where is None:
        if snapshot.routes:
            endpoints = _endpoints(view, snapshot.routes, tables.get("routes"))
            sections.append(f'<section class="tables">{endpoints}</section>')
        known = {*_VISITS, *_CAMPAIGN_PARTS, *_ROUTE_TABLES}
        rest = [name for name in _REQUESTS if name in tables]
        rest += [name for name in tables if name not in known and name not in _REQUESTS]
        requests = "".join(_table(view, name, tables[name]) for name in rest)
        sections.append(f'<section class="tables" aria-label="Requests">{requests}</section>')
    return "".join(sections)


def _chart_panel(view: View) -> str:
    snapshot = view.snapshot
    per = "hour" if snapshot.series.unit == "hour" else "day"
    return (
        f'<section class="panel" aria-label="Chart"><h2>Page views per {per}<span class="meta">'
        f"{snapshot.page_views:,} in all</span></h2>{charts(snapshot.series)}</section>"
    )


def _head(title: str, extra: str = "") -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{extra}<title>{escape(title)}</title><style>{_css()}</style></head>"
    )


def _brand(view: View) -> str:
    home = escape(view.base)
    return (
        f'<a class="brand" href="{home}"><span class="logo" aria-hidden="true">◆</span> '
        f'wsgi_analytics<span class="prefix">{escape(view.snapshot.prefix)}</span></a>'
    )


def page(view: View) -> str:
    """The whole page for ``view``."""
    snapshot, query = view.snapshot, view.query
    title, dates = _range_title(view)
    where = ""
    if query.where is not None:
        where = f" · {_noun(query.where[0])} {query.where[1]}"
    body = [
        f"<body><header>{_brand(view)}{_ranges(view)}</header><main>",
        f'<h1 class="range">{escape(title)} <span class="dates">{escape(dates)} · '
        f"{escape(snapshot.zone)}</span></h1>",
        _filter_bar(view),
    ]
    first = _parse_day(snapshot.first)
    if snapshot.clipped and first is not None:
        body.append(
            f'<p class="note">Days before {escape(_day(first))} are no longer kept (the '
            "recorder's retention): the range starts there.</p>"
        )
    if query.dimension is None:
        body += [_cards(view), _chart_panel(view)]
    body.append(_panels(view))
    export = view.href(query.changed(limit=None), "export.csv")
    api = view.href(query.changed(dimension=None, sort="requests"), "api.json")
    body.append(
        f"</main><footer>Generated {escape(snapshot.generated_at)} · "
        f'<a href="{export}" download>Export CSV</a> · <a href="{api}">JSON</a> · '
        f'<a href="{escape(view.base)}live">Live view</a></footer></body></html>'
    )
    return _head(f"Analytics · {title}{where}") + "".join(body)


def live_page(view: View) -> str:
    """The live view: visitors in the last minutes, today's page views and top pages; the
    browser reloads it every `LIVE_REFRESH` seconds (no script: a meta refresh)."""
    snapshot = view.snapshot
    now = snapshot.live or 0
    tables = "".join(
        _table(view, name, snapshot.tables[name])
        for name in ("paths", "sources")
        if name in snapshot.tables
    )
    return (
        _head(
            f"{now:,} now · Analytics",
            f'<meta http-equiv="refresh" content="{LIVE_REFRESH}">',
        )
        + f'<body><header>{_brand(view)}<nav class="ranges" aria-label="Range">'
        f'<a href="{escape(view.base)}">← Dashboard</a><a class="on" aria-current="page" '
        f'href="{escape(view.base)}live">Live</a></nav></header><main>'
        f'<h1 class="range">Live <span class="dates">updated every {LIVE_REFRESH} seconds, '
        f"last at {escape(snapshot.generated_at[11:19])} UTC</span></h1>"
        '<section class="cards live" aria-label="Now">'
        + _card(
            "Visitors now",
            f'<span class="dot" aria-hidden="true"></span>{now:,}',
            f"with a page view in the last {LIVE_MINUTES} minutes",
        )
        + _card("Page views today", f"{snapshot.page_views:,}", f"today in {escape(snapshot.zone)}")
        + f'</section><section class="tables" aria-label="Today">{tables}</section></main>'
        "</body></html>"
    )


def error_page(title: str, detail: str, *, extra: str = "") -> str:
    """A plain page for a refusal, a Redis outage or a bad query: one readable sentence, no
    traceback; ``extra`` is markup placed after it (already escaped)."""
    return (
        _head(title)
        + f'<body><div class="panel error"><h2>{escape(title)}</h2><p>{escape(detail)}</p>'
        f"{extra}</div></body></html>"
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
