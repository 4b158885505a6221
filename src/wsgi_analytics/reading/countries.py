"""Country names for the ``countries`` dimension's codes: ``FR`` -> ``France``.

The names are the short English ones in common use, from ``wsgi_analytics/data/countries.tsv``
(all 249 ISO 3166-1 alpha-2 codes and ``XK``). Why a table of our own: the maintained packages
are either large (``pycountry`` ships every subdivision, language and currency with their
translations, some 30 MB) or give ISO's formal names (``iso3166``: "Korea, Republic of",
"United Kingdom of Great Britain and Northern Ireland"), which read badly in a table.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

__all__ = ["country_label", "country_name"]


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    text = files("wsgi_analytics").joinpath("data/countries.tsv").read_text(encoding="utf-8")
    names: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        code, tab, name = line.partition("\t")
        if not tab or len(code) != 2 or not code.isupper() or not name.strip():
            raise ValueError(f"data/countries.tsv line {number}: expected CODE<tab>name")
        names[code] = name.strip()
    return names


def country_name(code: str) -> str | None:
    """The country's name, or ``None`` for ``(unknown)`` and any code not in the table."""
    return _names().get(code)


def country_label(code: str) -> str:
    """What a table shows for a ``countries`` member: ``France (FR)``; the member itself when
    it names no country (``(unknown)``)."""
    name = country_name(code)
    return code if name is None else f"{name} ({code})"
