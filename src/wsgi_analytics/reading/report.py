"""The reports of `wsgi-analytics report`: the text (totals, the previous period, one aligned
table per dimension, the endpoints) and the JSON text, both safe to print to a terminal."""

from __future__ import annotations

import json
import unicodedata

from .countries import country_label
from .routes import RouteStats
from .snapshot import Snapshot, Table

__all__ = ["ROUTE_TABLES", "TITLES", "json_text", "render", "terminal_safe"]

TITLES = {
    "paths": "Pages",
    "referrers": "Referrers",
    "sources": "Sources",
    "channels": "Channels",
    "utm_source": "Campaign sources",
    "utm_medium": "Campaign media",
    "utm_campaign": "Campaigns",
    "utm_content": "Campaign contents",
    "utm_term": "Campaign terms",
    "browsers": "Browsers",
    "platforms": "Platforms",
    "devices": "Devices",
    "countries": "Countries",
    "bots": "Bots",
    "not_found": "Not found (404)",
    "statuses": "Status codes",
    "routes": "Routes",
    "routes_4xx": "Routes answered 4xx",
    "routes_5xx": "Routes answered 5xx",
    "throttled": "Throttled (429)",
}
# Shown together as the Endpoints section rather than as three tables.
ROUTE_TABLES = frozenset({"routes", "routes_4xx", "routes_5xx"})
_WIDTH = 48  # member column; longer members are cut with an ellipsis
_BAR = 16


def terminal_safe(text: str) -> str:
    """Paths and referrers come from clients: escape control characters (an ANSI escape in a
    URL must not repaint the reader's terminal)."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}"
        for c in text
    )


def _escape_json(char: str) -> str:
    if ord(char) > 0xFFFF:  # JSON spells these as a UTF-16 surrogate pair
        high, low = divmod(ord(char) - 0x10000, 0x400)
        return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"
    return f"\\u{ord(char):04x}"


def json_text(document: object, *, indent: int | None = None) -> str:
    """``document`` as JSON that keeps readable text readable (``/café``, ``/日本``) but escapes
    every character that is not printable: C0 and C1 controls (U+009B is a one-byte CSI that
    many terminals obey), DEL, bidi overrides (U+202E reverses what follows), line and
    paragraph separators, lone surrogates, other format and unassigned characters. A JSON
    parser reads back exactly the same strings; a terminal shows ``\\u009b`` instead of obeying.
    Compact (no spaces) without ``indent``."""
    separators = None if indent is not None else (",", ":")
    text = json.dumps(document, ensure_ascii=False, indent=indent, separators=separators)
    # Outside strings, json.dumps writes only printable ASCII and the newlines of ``indent``;
    # inside them it already escapes C0 controls, quotes and backslashes.
    if all(line.isprintable() for line in text.split("\n")):
        return text
    return "".join(c if c.isprintable() or c == "\n" else _escape_json(c) for c in text)


def _cell(text: str, width: int) -> str:
    text = terminal_safe(text)
    # Wide characters (CJK, emoji) take two columns; pad by display width, not by length.
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    if columns > width:
        while columns > width - 1:
            columns -= 2 if unicodedata.east_asian_width(text[-1]) in "WF" else 1
            text = text[:-1]
        return text + "…" + " " * (width - 1 - columns)
    return text + " " * (width - columns)


def _table(name: str, table: Table) -> list[str]:
    title = TITLES.get(name, name)
    lines = [f"{_cell(title, _WIDTH + 2)}{'count':>9}  {'share':>6}"]
    if not table.rows:
        return [*lines, "  (none)"]
    top = table.rows[0][1] or 1
    for member, count in table.rows:
        bar = "█" * max(1, round(_BAR * count / top)) if count else ""
        share = f"{100 * table.share(count):.1f}%"
        label = country_label(member) if name == "countries" else member
        lines.append(f"  {_cell(label, _WIDTH)}{count:>9,}  {share:>6}  {bar}")
    hidden = table.distinct - len(table.rows)
    if hidden > 0:
        rest = table.total - sum(count for _, count in table.rows)
        more = f"({hidden:,} more)" if not table.error_bound else f"(at least {hidden:,} more)"
        lines.append(f"  {_cell(more, _WIDTH)}{rest:>9,}")
    if table.error_bound:
        lines.append(f"  (counts may be up to {table.error_bound:,} too low: the days were full)")
    return lines


def _endpoints(routes: list[RouteStats]) -> list[str]:
    """The Endpoints section: one row per route."""
    head = f"{'requests':>9} {'4xx':>6} {'5xx':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    lines = [f"{_cell('Endpoints', _WIDTH + 2)}{head}"]
    if not routes:
        return [*lines, "  (none)"]
    lines += [
        f"  {_cell(row.route, _WIDTH)}{row.requests:>9,} {row.client_errors:>6,} "
        f"{row.errors:>6,} {_ms(row.p50):>8} {_ms(row.p95):>8} {_ms(row.p99):>8}"
        for row in routes
    ]
    return lines


def _ms(value: float) -> str:
    """Milliseconds with two significant digits below 10 ms: a static file's 0.04 ms must not
    read 0.0 (the sketch is good to 2 %, so more digits would be noise)."""
    if value >= 10 or value == 0:  # 0: no time was recorded (requests counted without one)
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _change(now: int, before: int | None) -> str:
    if before is None:
        return "—"
    if before == 0:
        return "new" if now else "="
    percent = 100 * (now - before) / before
    return f"{'▲' if percent > 0 else '▼' if percent < 0 else '='} {percent:+.0f}%"


def render(snapshot: Snapshot, where: str) -> str:
    """The report as text; ``where`` names the server (without its password)."""
    span = (
        snapshot.last
        if snapshot.first == snapshot.last and snapshot.days is not None
        else f"{snapshot.first or '-'} to {snapshot.last}"
    )
    lines = [
        f"wsgi_analytics report: {snapshot.label} ({span}, {snapshot.zone}), prefix "
        f"{snapshot.prefix!r}, {where}",
    ]
    if snapshot.clipped:
        lines.append(f"  (cut at the retention: the days before {snapshot.first} have expired)")
    if snapshot.where is not None:
        dimension, member = snapshot.where
        lines += [
            f"  filtered: {TITLES.get(dimension, dimension)} = {terminal_safe(member)}",
            "  (page views only: tables a filter cannot apply to, such as bots, are left out)",
        ]
    uniques = "—" if snapshot.uniques is None else f"{snapshot.uniques:,}"
    lines += [
        "",
        f"  page views  {snapshot.page_views:>10,}",
        f"  uniques     {uniques:>10}  (approximate)"
        if snapshot.uniques is not None
        else f"  uniques     {uniques:>10}  (not counted per filter)",
    ]
    previous = snapshot.previous
    if previous is not None:
        before = "—" if previous.uniques is None else f"{previous.uniques:,}"
        now_uniques = snapshot.uniques
        lines += [
            "",
            f"  previous period ({previous.first} to {previous.last}):",
            f"  page views  {previous.page_views:>10,}  "
            f"{_change(snapshot.page_views, previous.page_views)}",
            f"  uniques     {before:>10}  "
            + (_change(now_uniques, previous.uniques) if now_uniques is not None else "—"),
        ]
    if snapshot.live is not None:
        lines += ["", f"  visitors now {snapshot.live:>9,}"]
    for name, table in snapshot.tables.items():
        if name not in ROUTE_TABLES:
            lines += ["", *_table(name, table)]
    if snapshot.routes or "routes" in snapshot.tables:
        lines += ["", *_endpoints(snapshot.routes)]
    return "\n".join(lines) + "\n"
