"""Countries: an address to an ISO 3166-1 alpha-2 code, looked up in memory, never stored.

The ``geoip`` option chooses the data:

- ``None``: ``iptocc``, offline Regional Internet Registry data shipped in its wheel (the country
  a block is *assigned* to, which agrees with commercial geolocation for about 95 % of IPv4).
- a path to a MaxMind-format ``.mmdb`` file: GeoLite2-Country or GeoIP2-Country, DB-IP's
  country databases, or any database whose records name a country the same ways (read with
  ``maxminddb``: ``pip install wsgi-analytics[geoip]``).
- ``False``: no countries at all (:func:`open_countries` returns ``None``).

Private, loopback, link-local, reserved, documentation and multicast addresses, addresses the
data does not know, and malformed text are all ``(unknown)``. ``country_header=`` lets a trusted
CDN or proxy name the country instead (``CF-IPCountry``); :func:`country_from_header` reads its
value.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Literal

__all__ = [
    "UNKNOWN",
    "Countries",
    "country_from_header",
    "header_environ_key",
    "header_scope_key",
    "open_countries",
]

UNKNOWN = "(unknown)"

# Two-letter codes that name no country: CDNs' "unknown" (XX) and "Tor" (T1), MaxMind's legacy
# anonymous proxy / satellite / other (A1, A2, O1), the registries' and MaxMind's region codes
# for Europe and Asia-Pacific (EU, AP), and ISO's user-assigned ZZ.
_NOT_COUNTRIES = frozenset({"XX", "T1", "A1", "A2", "O1", "EU", "AP", "ZZ"})
_CODE = re.compile(r"[A-Z]{2}")


def _country(code: object) -> str:
    """A code from the data or a header as a member: two letters A-Z, else ``(unknown)``."""
    if not isinstance(code, str):
        return UNKNOWN
    if len(code) <= 8:
        # The data names a few hundred codes, and every address the memo misses has one.
        return _short_code(code)
    return _code(code)


def _code(code: str) -> str:
    code = code.strip().upper()
    if _CODE.fullmatch(code) is None or code in _NOT_COUNTRIES:
        return UNKNOWN
    return code


_short_code = lru_cache(maxsize=1024)(_code)


def country_from_header(value: str | None) -> str:
    """The country a trusted CDN header names (``CF-IPCountry: fr`` -> ``FR``); ``(unknown)``
    for an absent, empty or malformed value, for ``XX`` (unknown) and ``T1`` (Tor)."""
    return _country(value) if value else UNKNOWN


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 field-name


def _field_name(name: str) -> str:
    if not isinstance(name, str) or _TOKEN.fullmatch(name) is None:
        raise ValueError(f"country_header must be an HTTP header name, not {name!r}")
    return name


def header_environ_key(name: str) -> str:
    """Where a WSGI environ holds a header: ``"CF-IPCountry"`` -> ``"HTTP_CF_IPCOUNTRY"``."""
    return "HTTP_" + _field_name(name).upper().replace("-", "_")


def header_scope_key(name: str) -> bytes:
    """How an ASGI scope's headers name it: ``"CF-IPCountry"`` -> ``b"cf-ipcountry"``."""
    return _field_name(name).lower().encode("ascii")


def _normalised(address: str) -> str | None:
    """The address as the data knows it, or ``None`` when no country can have it.

    IPv4-mapped IPv6 (``::ffff:192.0.2.1``) is unwrapped. A network (``2001:db8:1:2::/64``, as
    client identities group IPv6) is looked up by its first address: one network, one country.
    Private, loopback, link-local, shared, reserved, documentation and multicast addresses are
    ``None`` whatever a database says of them.
    """
    try:
        ip = ipaddress.ip_address(address.partition("/")[0].strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_global or ip.is_multicast:
        return None
    return str(ip)


def _mmdb_country(record: object) -> object:
    """The country code in a MaxMind-format record, whichever layout the database uses:
    GeoLite2 / GeoIP2 / DB-IP ``{"country": {"iso_code": "FR"}}`` (falling back to
    ``registered_country`` where a block has no ``country``), IPinfo ``{"country": "FR"}``,
    ip-location-db ``{"country_code": "FR"}``."""
    if not isinstance(record, Mapping):
        return None
    country = record.get("country")
    if isinstance(country, Mapping):
        return country.get("iso_code")
    if isinstance(country, str):
        return country
    registered = record.get("registered_country")
    if isinstance(registered, Mapping):
        return registered.get("iso_code")
    return record.get("country_code")


class Countries:
    """Looks addresses up in one data set, memoised in a bounded LRU cache.

    ``lookup`` is safe to call from several threads (the flusher calls it). ``close()`` releases
    a ``.mmdb`` file; lookups after it fail.
    """

    def __init__(self, geoip: str | os.PathLike[str] | None = None, *, cache_size: int = 65_536):
        self.source: str
        self._reader: Any = None
        find: Callable[[str], object]
        if geoip is None:
            # Imported here: its data is loaded only by a recorder that asks for it.
            from iptocc import country_code

            self.source = "iptocc"
            find = country_code
            checked = False
        else:
            path = os.fspath(geoip)
            try:
                import maxminddb
            except ImportError as exc:
                raise ImportError(
                    "geoip= a .mmdb file needs maxminddb: pip install 'wsgi-analytics[geoip]'"
                ) from exc
            try:
                self._reader = maxminddb.open_database(path)
            except FileNotFoundError:
                raise
            except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
                raise ValueError(
                    f"geoip={path!r} is not a readable MaxMind DB file: {exc}"
                ) from exc
            self.source = path
            reader = self._reader
            checked = True

            def find(address: str) -> object:
                try:
                    return _mmdb_country(reader.get(address))
                except (ValueError, TypeError, maxminddb.InvalidDatabaseError):
                    # Malformed text (TypeError: a NUL), an IPv6 address in an IPv4-only
                    # database, or a damaged file: no country, and the counting goes on.
                    return None

        def lookup(address: str) -> str:
            # The data first, on the text as given: the usual address costs one look-up. Only a
            # miss or a hit in a .mmdb (whose maker may have put anything in any range) pays for
            # parsing; iptocc's registry data has no private, reserved or special ranges at all.
            code = find(address)
            if code is None:
                normal = _normalised(address)
                if normal is None or normal == address:
                    return UNKNOWN
                code = find(normal)
            elif checked and _normalised(address) is None:
                return UNKNOWN
            return _country(code)

        self.lookup: Callable[[str], str] = lru_cache(maxsize=cache_size)(lookup)
        self.lookup.__doc__ = "The ISO 3166-1 alpha-2 code of an address, else ``(unknown)``."

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    def __repr__(self) -> str:
        return f"Countries({self.source!r})"


def open_countries(
    geoip: str | os.PathLike[str] | Literal[False] | None = None, *, cache_size: int = 65_536
) -> Countries | None:
    """The ``geoip`` option as a :class:`Countries`, or ``None`` for ``geoip=False``."""
    if geoip is False:
        return None
    if isinstance(geoip, bool):  # True: a likely misreading of the option
        raise ValueError("geoip= takes None (bundled data), a .mmdb path, or False")
    return Countries(geoip, cache_size=cache_size)
