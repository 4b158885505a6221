"""Countries from addresses (iptocc and real .mmdb files) and from a CDN header (pure)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from wsgi_analytics.request.geo import (
    UNKNOWN,
    Countries,
    country_from_header,
    header_environ_key,
    header_scope_key,
    open_countries,
)

# Addresses of special-purpose ranges (IANA registries): no country, whatever the data says.
SPECIAL = [
    pytest.param("0.0.0.0", id="this host"),
    pytest.param("10.1.2.3", id="rfc1918 10/8"),
    pytest.param("172.16.0.1", id="rfc1918 172.16/12"),
    pytest.param("192.168.1.1", id="rfc1918 192.168/16"),
    pytest.param("100.64.0.1", id="shared cgnat"),
    pytest.param("127.0.0.1", id="loopback"),
    pytest.param("169.254.1.1", id="link-local v4"),
    pytest.param("192.0.2.1", id="test-net-1"),
    pytest.param("198.51.100.1", id="test-net-2"),
    pytest.param("203.0.113.1", id="test-net-3"),
    pytest.param("198.18.0.1", id="benchmarking"),
    pytest.param("224.0.0.1", id="multicast v4"),
    pytest.param("240.0.0.1", id="reserved"),
    pytest.param("255.255.255.255", id="broadcast"),
    pytest.param("::", id="unspecified v6"),
    pytest.param("::1", id="loopback v6"),
    pytest.param("fe80::1", id="link-local v6"),
    pytest.param("fe80::1%eth0", id="link-local v6 with zone"),
    pytest.param("fd12:3456::1", id="unique local"),
    pytest.param("ff02::1", id="multicast v6"),
    pytest.param("2001:db8::1", id="documentation v6"),
    pytest.param("::ffff:10.0.0.1", id="mapped private"),
]
MALFORMED = [
    pytest.param("", id="empty"),
    pytest.param("unknown", id="word"),
    pytest.param("1.2.3", id="short"),
    pytest.param("999.1.1.1", id="octet too big"),
    pytest.param("8.8.8.8:443", id="with port"),
    pytest.param("2001:4860::8888::1", id="two double colons"),
    pytest.param("\x00", id="nul"),
]


# -- iptocc (the default) --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry() -> Countries:
    countries = open_countries()
    assert countries is not None
    return countries


@pytest.mark.parametrize(
    ("address", "country"),
    [
        pytest.param("8.8.8.8", "US", id="v4"),
        pytest.param(" 8.8.8.8 ", "US", id="spaces"),
        pytest.param("::ffff:8.8.8.8", "US", id="v4-mapped"),
        pytest.param("::FFFF:0808:0808", "US", id="v4-mapped hex"),
        pytest.param("2001:4860:4860::8888", "US", id="v6"),
        pytest.param("2a01:cb00::1", "FR", id="v6 fr"),
        pytest.param("2a01:cb00:1234:5678::/64", "FR", id="v6 network of an identity"),
        pytest.param("193.0.6.139", "NL", id="ripe"),
        pytest.param("1.0.16.1", "JP", id="apnic"),
        pytest.param("200.160.0.8", "BR", id="lacnic"),
        pytest.param("196.216.2.1", "ZA", id="afrinic"),
    ],
)
def test_registry_lookup(registry: Countries, address: str, country: str) -> None:
    assert registry.lookup(address) == country
    assert registry.lookup(address) == country  # memoised answer is the same


@pytest.mark.parametrize("address", [*SPECIAL, *MALFORMED])
def test_registry_unknown(registry: Countries, address: str) -> None:
    assert registry.lookup(address) == UNKNOWN


def test_off() -> None:
    assert open_countries(False) is None


def test_true_is_refused() -> None:
    with pytest.raises(ValueError, match="geoip"):
        open_countries(True)  # type: ignore[arg-type]


# -- MaxMind-format databases ---------------------------------------------------------------------


def _write(path: Path, ip_version: int, database_type: str, records: dict[str, Any]) -> Path:
    writer = MMDBWriter(
        ip_version=ip_version,
        ipv4_compatible=ip_version == 6,
        database_type=database_type,
        languages=["en"],
        description="wsgi_analytics test data",
    )
    for network, record in records.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def _geolite(code: str) -> dict[str, Any]:
    return {
        "continent": {"code": "EU", "geoname_id": 6255148, "names": {"en": "Europe"}},
        "country": {"geoname_id": 1, "iso_code": code, "names": {"en": code}},
        "registered_country": {"geoname_id": 1, "iso_code": code, "names": {"en": code}},
    }


@pytest.fixture(scope="module")
def geolite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Countries]:
    """A GeoLite2-Country-shaped IPv6 database holding IPv4 too, as MaxMind ships it."""
    path = _write(
        tmp_path_factory.mktemp("mmdb") / "GeoLite2-Country.mmdb",
        6,
        "GeoLite2-Country",
        {
            "81.2.69.0/24": _geolite("GB"),
            "2a02:ff0::/32": _geolite("DE"),
            # Anycast and satellite blocks: only the registered country.
            "89.160.20.0/24": {"registered_country": {"iso_code": "SE", "geoname_id": 2}},
            "89.160.21.0/24": {"continent": {"code": "EU"}},  # no country at all
            "89.160.22.0/24": {"country": {"iso_code": "EU"}},  # a region, not a country
            # Whatever a database maker put there, a private range has no country.
            "10.0.0.0/8": _geolite("US"),
        },
    )
    countries = open_countries(path)
    assert countries is not None
    yield countries
    countries.close()


@pytest.mark.parametrize(
    ("address", "country"),
    [
        pytest.param("81.2.69.142", "GB", id="v4"),
        pytest.param("::ffff:81.2.69.142", "GB", id="v4-mapped"),
        pytest.param("2a02:ff0:1::1", "DE", id="v6"),
        pytest.param("2a02:ff0:1:2::/64", "DE", id="v6 network"),
        pytest.param("89.160.20.1", "SE", id="registered country only"),
        pytest.param("89.160.21.1", UNKNOWN, id="no country"),
        pytest.param("89.160.22.1", UNKNOWN, id="region code"),
        pytest.param("10.1.2.3", UNKNOWN, id="private range in the data"),
        pytest.param("8.8.8.8", UNKNOWN, id="not in the data"),
        pytest.param("2001:4860::1", UNKNOWN, id="v6 not in the data"),
    ],
)
def test_geolite_layout(geolite: Countries, address: str, country: str) -> None:
    assert geolite.lookup(address) == country


@pytest.mark.parametrize("address", [*SPECIAL, *MALFORMED])
def test_mmdb_unknown(geolite: Countries, address: str) -> None:
    assert geolite.lookup(address) == UNKNOWN


@pytest.mark.parametrize(
    ("database_type", "record", "country"),
    [
        pytest.param(
            "DBIP-Country-Lite",
            {
                "continent": {"code": "EU", "geoname_id": 6255148, "names": {"en": "Europe"}},
                "country": {"geoname_id": 3017382, "is_in_european_union": True, "iso_code": "FR"},
            },
            "FR",
            id="db-ip",
        ),
        pytest.param("ipinfo country", {"country": "fr", "continent": "EU"}, "FR", id="ipinfo"),
        pytest.param("ip-location-db", {"country_code": "FR"}, "FR", id="ip-location-db"),
        pytest.param("odd", {"country": {"iso_code": 33}}, UNKNOWN, id="not a string"),
        pytest.param("odd", {"country": {"iso_code": "FRA"}}, UNKNOWN, id="three letters"),
    ],
)
def test_other_layouts_ipv4_only(
    tmp_path: Path, database_type: str, record: dict[str, Any], country: str
) -> None:
    # An IPv4-only database, as DB-IP and others ship some: IPv6 lookups are unknown, not errors.
    path = _write(tmp_path / "country.mmdb", 4, database_type, {"90.84.0.0/16": record})
    countries = Countries(path)
    try:
        assert countries.lookup("90.84.1.2") == country
        assert countries.lookup("::ffff:90.84.1.2") == country
        assert countries.lookup("2a01:cb00::1") == UNKNOWN
        assert countries.lookup("91.0.0.1") == UNKNOWN
    finally:
        countries.close()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Countries(tmp_path / "absent.mmdb")


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.mmdb"
    path.write_bytes(b"not a MaxMind DB" * 100)
    with pytest.raises(ValueError, match="MaxMind DB"):
        Countries(str(path))


# -- a trusted CDN's header -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "country"),
    [
        pytest.param("FR", "FR", id="code"),
        pytest.param("fr", "FR", id="lower case"),
        pytest.param(" de ", "DE", id="spaces"),
        pytest.param("XX", UNKNOWN, id="cloudflare unknown"),
        pytest.param("T1", UNKNOWN, id="tor"),
        pytest.param("EU", UNKNOWN, id="region"),
        pytest.param("", UNKNOWN, id="empty"),
        pytest.param(None, UNKNOWN, id="absent"),
        pytest.param("FRA", UNKNOWN, id="alpha-3"),
        pytest.param("F1", UNKNOWN, id="digit"),
        pytest.param("ÉS", UNKNOWN, id="not ascii"),
        pytest.param("US,FR", UNKNOWN, id="list"),
    ],
)
def test_country_header(value: str | None, country: str) -> None:
    assert country_from_header(value) == country


def test_header_keys() -> None:
    assert header_environ_key("CF-IPCountry") == "HTTP_CF_IPCOUNTRY"
    assert header_scope_key("CF-IPCountry") == b"cf-ipcountry"
    assert header_environ_key("CloudFront-Viewer-Country") == "HTTP_CLOUDFRONT_VIEWER_COUNTRY"


@pytest.mark.parametrize("name", ["", "CF IPCountry", "CF-IPCountry:", "Länd"])
def test_header_name_refused(name: str) -> None:
    with pytest.raises(ValueError, match="header name"):
        header_environ_key(name)
