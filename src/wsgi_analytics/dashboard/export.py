"""``/export.csv``: the tables of a range as CSV, one row per member.

The columns are those of ``wsgi-analytics report --csv``: ``dimension,member,count``, and with a
filter a fourth, ``where``, holding it as ``--where`` and ``?where=`` write it
(``sources:Google``) on every row. Members
are text that any client chose, and a spreadsheet runs a cell that starts with ``=``, ``+``,
``-`` or ``@`` (or a tab or carriage return, which some read past) as a formula: such a cell gets
a leading apostrophe, which spreadsheets show as text and do not evaluate (OWASP's advice for
CSV injection). A program reading the file back sees the apostrophe; nothing else changes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from ..reading.snapshot import Snapshot

__all__ = ["FORMULA_STARTS", "csv_text", "filename", "neutralise"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """``cell`` as a spreadsheet will show it without running it."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def csv_text(snapshot: Snapshot, dimensions: Iterable[str] | None = None) -> str:
    """The CSV of ``snapshot``'s tables (all, or ``dimensions`` in that order): a header row,
    then each dimension's rows, highest count first."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    # A column rather than a comment line: the header stays the first row (csv.DictReader, a
    # spreadsheet's import), unfiltered files are unchanged, and filtered files concatenated
    # together still say which rows came from which filter.
    extra = [] if snapshot.where is None else [f"{snapshot.where[0]}:{snapshot.where[1]}"]
    writer.writerow(["dimension", "member", "count", *(["where"] if extra else [])])
    names = list(snapshot.tables) if dimensions is None else list(dimensions)
    for name in names:
        writer.writerows(
            [name, neutralise(member), count, *extra]
            for member, count in snapshot.tables[name].rows
        )
    return out.getvalue()


def filename(snapshot: Snapshot, label: str) -> str:
    """A file name for the download: ``analytics-2026-11-01-2026-11-30.csv`` (ASCII only, the
    prefix's unusual characters replaced)."""
    prefix = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in label)
    first = snapshot.first or snapshot.last
    span = first if first == snapshot.last else f"{first}-{snapshot.last}"
    return f"{prefix or 'analytics'}-{span}.csv"
