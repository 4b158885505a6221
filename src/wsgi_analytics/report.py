"""The text report of `wsgi-analytics report`: totals, then one aligned table per dimension."""

from __future__ import annotations

import unicodedata

from .snapshot import Snapshot, Table

__all__ = ["TITLES", "render", "terminal_safe"]

TITLES = {
    "paths": "Pages",
    "referrers": "Referrers",
    "browsers": "Browsers",
    "platforms": "Platforms",
    "devices": "Devices",
    "bots": "Bots",
    "not_found": "Not found (404)",
    "statuses": "Status codes",
    "throttled": "Throttled (429)",
}
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
        lines.append(f"  {_cell(member, _WIDTH)}{count:>9,}  {share:>6}  {bar}")
    hidden = table.distinct - len(table.rows)
    if hidden > 0:
        rest = table.total - sum(count for _, count in table.rows)
        lines.append(f"  {_cell(f'({hidden:,} more)', _WIDTH)}{rest:>9,}")
    return lines


def render(snapshot: Snapshot, where: str) -> str:
    """The report as text; ``where`` names the server (without its password)."""
    span = snapshot.last if snapshot.days == 1 else f"{snapshot.first or '-'} to {snapshot.last}"
    lines = [
        f"wsgi_analytics report: {snapshot.label} ({span}, UTC), prefix {snapshot.prefix!r}, "
        f"{where}",
        "",
        f"  page views  {snapshot.page_views:>10,}",
        f"  uniques     {snapshot.uniques:>10,}  (approximate)",
    ]
    for name, table in snapshot.tables.items():
        lines += ["", *_table(name, table)]
    return "\n".join(lines) + "\n"
