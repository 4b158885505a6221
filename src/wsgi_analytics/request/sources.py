"""Where a page view came from: its source, its channel and its campaign tags.

Pure and memoised: the flusher calls :func:`acquisition` once per page view, off the request path.

- **source**: ``utm_source`` (else ``ref``, ``source``, ``src``) when the URL carries one, a known
  name matched case-insensitively (``utm_source=google`` -> ``Google``, ``hn`` -> ``Hacker
  News``, ``chatgpt.com`` -> ``ChatGPT``); else the referrer's site mapped to a known name across
  its country domains and subdomains (``www.google.fr`` -> ``Google``); else the referrer host
  (lower-case, no ``www.``); else ``(direct)``.
- **channel**: Google Analytics 4's default channel group, from the source's category, the
  ``utm_medium`` and ``utm_campaign`` tags and the ad networks' click ids.
- **campaign**: the ``utm_source`` ... ``utm_term`` values, trimmed, at most 512 characters.

A referrer from the site itself is navigation inside a visit, not a way in: it gives no source
and no channel (``Acquisition.source is None``), just as it gives no ``referrers`` member. That
is what Plausible and GA4 do too: neither starts a new acquisition on a self-referral, their
source belongs to the visit's entry. Without sessions the closest honest count is to leave the
visit's later page views out of ``sources`` and ``channels``; counting them as ``(direct)``
would make ``(direct)`` the top source of every site. A self-referred URL with ``utm_*`` tags or
an ad click id still counts (a tagged link is a way in wherever it was clicked), but ``ref``,
``source`` and ``src`` are not trusted there: sites use those names on their own links.

The known sites live in ``wsgi_analytics/data/sources.tsv`` (where they come from and how to
update them is written at its top).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files
from typing import NamedTuple, TypeVar
from urllib.parse import unquote_plus

__all__ = [
    "CAMPAIGN_DIMENSIONS",
    "CATEGORIES",
    "CHANNELS",
    "DIRECT",
    "Acquisition",
    "Site",
    "acquisition",
    "channel",
    "known_site",
    "referrer_site",
]

DIRECT = "(direct)"
MAX_VALUE = 512  # the member cap every dimension shares (paths, referrers, ...)
MAX_HOST = 253

SEARCH, SOCIAL, VIDEO, EMAIL, SHOPPING, AI = "search", "social", "video", "email", "shopping", "ai"
CATEGORIES = frozenset({SEARCH, SOCIAL, VIDEO, EMAIL, SHOPPING, AI})

CAMPAIGN_DIMENSIONS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
# The hand-written tags that name a source when utm_source is absent, in priority order.
_REF_TAGS = ("ref", "source", "src")

# GA4's default channel group, in the order its rules are tried.
CHANNELS = (
    "Direct",
    "Cross-network",
    "Paid Shopping",
    "Paid Search",
    "Paid Social",
    "Paid Video",
    "Display",
    "Paid Other",
    "Organic Shopping",
    "Organic Social",
    "Organic Video",
    "Organic Search",
    "Email",
    "Affiliates",
    "Referral",
    "Audio",
    "SMS",
    "Mobile Push Notifications",
    "Unassigned",
)


class Site(NamedTuple):
    """A known source: its display name and its category (``None`` for a plain referral)."""

    name: str
    category: str | None


class Acquisition(NamedTuple):
    """How one page view arrived.

    ``source`` and ``channel`` are ``None`` for navigation inside the site (a self-referral
    without campaign tags): count neither. ``campaign`` holds the ``(dimension, member)`` pairs
    of the ``utm_*`` tags present, in ``CAMPAIGN_DIMENSIONS`` order.
    """

    source: str | None
    channel: str | None
    campaign: tuple[tuple[str, str], ...]


# ------------------------------------------------------------------------------------------------
# The known sites

_EXACT: dict[str, Site] = {}  # host -> site; also matches its subdomains
_WILD: dict[str, Site] = {}  # "google" of "google.*" -> site
_NAMES: dict[str, tuple[Site, bool]] = {}  # lower-case name or shorthand -> (site, paid)
_V = TypeVar("_V")

# Second-level labels under which country domains sell names: google.co.uk, amazon.com.au.
_SECOND_LEVELS = frozenset(
    {"ac", "co", "com", "edu", "gen", "go", "gob", "gov", "ne", "net", "nom", "or", "org", "web"}
)


def _load() -> None:
    text = files("wsgi_analytics").joinpath("data/sources.tsv").read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3 or (fields[1] != "-" and fields[1] not in CATEGORIES):
            raise ValueError(f"data/sources.tsv line {number}: expected name, category, keys")
        name, category, keys = fields
        site = Site(name, None if category == "-" else category)
        _NAMES.setdefault(name.lower(), (site, False))
        for key in keys.split():
            if key.endswith(".*"):
                _put(_WILD, key[:-2], site, number)
            elif "." in key:
                _put(_EXACT, key, site, number)
            else:
                _put(_NAMES, key.removeprefix("+"), (site, key.startswith("+")), number)


def _put(table: dict[str, _V], key: str, value: _V, number: int) -> None:
    if table.setdefault(key, value) != value:
        raise ValueError(f"data/sources.tsv line {number}: {key!r} names two sources")


_load()


def _country_suffix(labels: list[str], start: int) -> bool:
    """Whether ``labels[start:]`` is a country or generic suffix: ``fr``, ``com``, ``co.uk``,
    ``com.au``. A guess that needs no public-suffix list: only the ``label.*`` keys use it."""
    rest = len(labels) - start
    if rest == 1:
        return 2 <= len(labels[start]) <= 3
    return rest == 2 and labels[start] in _SECOND_LEVELS and len(labels[start + 1]) == 2


@lru_cache(maxsize=8192)
def known_site(host: str) -> Site | None:
    """The known site a lower-case host (no ``www.``) belongs to, or ``None``. The longest match
    wins: ``mail.google.com`` is Gmail before ``google.*`` makes it Google."""
    labels = host.split(".")[-8:]  # no real site hides behind more labels
    n = len(labels)
    for i in range(n):
        site = _EXACT.get(".".join(labels[i:]))
        if site is not None:
            return site
        for cut in (n - 1, n - 2):
            if cut > i and _country_suffix(labels, cut):
                site = _WILD.get(".".join(labels[i:cut]))
                if site is not None:
                    return site
    return None


# ------------------------------------------------------------------------------------------------
# Hosts

# scheme://authority; the authority ends at the first / ? or #.
_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")


def _bare_host(authority: str) -> str:
    """Lower-case host of an authority: no user info, port, trailing dot or ``www.``."""
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    else:
        host = host.partition(":")[0]
    host = host.rstrip(".").lower()[:MAX_HOST]
    return host[4:] if host.startswith("www.") else host


@lru_cache(maxsize=256)
def _own_host(own_host: str) -> str:
    return _bare_host(own_host)


def _parse_referrer_host(referrer: str) -> str:
    """The referrer's bare host; ``""`` when it has none (junk, ``about:blank``)."""
    match = _AUTHORITY.match(referrer.strip())
    return _bare_host(match.group(1)) if match else ""


_cached_referrer_host = lru_cache(maxsize=4096)(_parse_referrer_host)
_CACHED_REFERRER = 512  # the usual referrers are memoised; a longer one is parsed each time


def _referrer_host(referrer: str) -> str:
    if len(referrer) <= _CACHED_REFERRER:
        return _cached_referrer_host(referrer)
    return _parse_referrer_host(referrer)


@lru_cache(maxsize=8192)
def referrer_site(host: str) -> Site:
    """The source a referrer host stands for: a known site, else the host itself."""
    return known_site(host) or Site(host, None)


# ------------------------------------------------------------------------------------------------
# Query strings

# Ad networks' click ids: the source each implies, and what kind of click it is. Google's own
# ("google") land in Paid Search, Paid Video or Display depending on where they were clicked, as
# GA4 decides from its ad network type; dclid comes from Display & Video 360 ("display").
# fbclid and igshid are added to every outbound link of Facebook and Instagram, ads or not, so
# they only name the source ("organic").
_CLICK_IDS: dict[str, tuple[str, str]] = {
    "gclid": ("Google", "google"),
    "gbraid": ("Google", "google"),
    "wbraid": ("Google", "google"),
    "dclid": ("Google", "display"),
    "msclkid": ("Bing", "paid"),
    "yclid": ("Yandex", "paid"),
    "ttclid": ("TikTok", "paid"),
    "twclid": ("Twitter", "paid"),
    "li_fat_id": ("LinkedIn", "paid"),
    "sccid": ("Snapchat", "paid"),
    "rdt_cid": ("Reddit", "paid"),
    "fbclid": ("Facebook", "organic"),
    "igshid": ("Instagram", "organic"),
}
_WANTED = frozenset((*CAMPAIGN_DIMENSIONS, *_REF_TAGS, *_CLICK_IDS))
_CONTROL = dict.fromkeys([*range(32), 127])


def _clean(raw: str) -> str:
    """A tag's value as a member: decoded, control characters removed, trimmed, capped."""
    return unquote_plus(raw, errors="replace").translate(_CONTROL).strip()[:MAX_VALUE].strip()


def _tags(query: str) -> dict[str, str]:
    """The tags and click ids a query string carries (first occurrence wins; empty ignored)."""
    found: dict[str, str] = {}
    for part in query.split("&"):
        name, _, value = part.partition("=")
        name = name.lower()
        if name in _WANTED and name not in found:
            if name in _CLICK_IDS:
                found[name] = "1"  # only its presence matters; the id itself is never kept
            else:
                value = _clean(value)
                if value:
                    found[name] = value
    return found


@lru_cache(maxsize=4096)
def _tagged_site(value: str) -> tuple[Site | None, bool]:
    """The known site a tag value names, and whether the name means paid traffic: a name or a
    shorthand (``Google``, ``fb``, ``adwords``), or a host or URL (``chatgpt.com``)."""
    lowered = value.lower()
    hit = _NAMES.get(lowered)
    if hit is not None:
        return hit
    if "." in lowered and " " not in lowered:
        match = _AUTHORITY.match(lowered)
        host = _bare_host(match.group(1) if match else lowered.partition("/")[0])
        return known_site(host), False
    return None, False


# ------------------------------------------------------------------------------------------------
# Channels

_PAID_MEDIUM = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$")
_SHOP_CAMPAIGN = re.compile(r"^(.*(([^a-df-z]|^)shop|shopping).*)$")
_DISPLAY = frozenset({"display", "banner", "expandable", "interstitial", "cpm"})
_SOCIAL_MEDIUM = frozenset(
    {"social", "social-network", "social-media", "sm", "social network", "social media"}
)
_EMAIL_WORDS = ("email", "e-mail", "e_mail", "e mail", "newsletter")
_REFERRAL_MEDIUM = frozenset({"referral", "app", "link"})


@lru_cache(maxsize=4096)
def channel(
    category: str | None,
    medium: str,
    campaign: str = "",
    source_tag: str = "",
    *,
    click: str = "",
    paid_name: bool = False,
) -> str:
    """GA4's default channel group for a visit (https://support.google.com/analytics/answer/9756891).

    ``category`` is the source's (``search``, ``social``, ...; ``None`` when unknown),
    ``medium``/``campaign``/``source_tag`` the lower-case ``utm_medium``, ``utm_campaign`` and
    source tag (``medium`` is ``"referral"`` or ``"organic"`` for an untagged referrer,
    ``"(none)"`` for a visit with no referrer and no tags), ``click`` the kind of ad click id the
    URL carried (``"google"``, ``"display"``, ``"paid"``, ``"organic"`` or ``""``), ``paid_name``
    whether the source tag is a paid shorthand (``adwords``, ``fb-ads``).

    Where GA4 reads Google's own ad data (its network type), the click id and the source stand in:
    a Google click from a search engine is Paid Search, from a video site Paid Video, from any
    other site Display. An AI assistant is a Referral, as in GA4.
    """
    if medium == "(none)":
        return "Direct"
    if "cross-network" in campaign:
        return "Cross-network"
    if click == "display":
        return "Display"
    paid = paid_name or click in ("google", "paid") or bool(_PAID_MEDIUM.match(medium))
    shopping = category == SHOPPING or bool(_SHOP_CAMPAIGN.match(campaign))
    if paid:
        if shopping:
            return "Paid Shopping"
        if category == SEARCH:
            return "Paid Search"
        if category == SOCIAL:
            return "Paid Social"
        if category == VIDEO:
            return "Paid Video"
    if medium in _DISPLAY or click == "google":
        return "Display"
    if paid:
        return "Paid Other"
    if shopping:
        return "Organic Shopping"
    if category == SOCIAL or medium in _SOCIAL_MEDIUM:
        return "Organic Social"
    if category == VIDEO or "video" in medium:
        return "Organic Video"
    if category == SEARCH or medium == "organic":
        return "Organic Search"
    if category == EMAIL or any(w in medium or w in source_tag for w in _EMAIL_WORDS):
        return "Email"
    if medium == "affiliate":
        return "Affiliates"
    if medium in _REFERRAL_MEDIUM:
        return "Referral"
    if medium == "audio":
        return "Audio"
    if source_tag == "sms" or medium == "sms":
        return "SMS"
    if medium.endswith("push") or "mobile" in medium or "notification" in medium:
        return "Mobile Push Notifications"
    if source_tag == "firebase":
        return "Mobile Push Notifications"
    return "Unassigned"


# ------------------------------------------------------------------------------------------------
# The one call the recorder makes

# Cheap test before a query string is split: could it hold a tag or a click id at all?
_TAG_NAMES = "|".join(f"{name}=" for name in sorted(_WANTED - {*CAMPAIGN_DIMENSIONS}))
_MAYBE_TAGGED = re.compile(f"(?:^|&)(?:utm_|{_TAG_NAMES})", re.IGNORECASE)
_CACHED_QUERY = 512  # longer query strings are worked out each time, never kept


def acquisition(query: str, referrer: str, own_host: str) -> Acquisition:
    """Source, channel and campaign tags of a page view.

    ``query`` is the page's query string (with or without its ``?``), ``referrer`` the
    ``Referer`` header (``""`` when absent), ``own_host`` the site's ``Host`` (its port, user
    info and ``www.`` are ignored when comparing). Memoised on the referrer and the query
    string (up to 512 characters), so a repeated call costs a few dictionary look-ups.
    """
    host = _referrer_host(referrer) if referrer else ""
    if not query:
        return _untagged(host, own_host)
    if len(query) <= _CACHED_QUERY:
        return _with_query_cached(query, host, own_host)
    return _with_query(query, host, own_host)


@lru_cache(maxsize=8192)
def _untagged(host: str, own_host: str) -> Acquisition:
    if not host:
        return _DIRECT
    if host == _own_host(own_host):
        return _INTERNAL
    source, category = referrer_site(host)
    return Acquisition(
        source, channel(category, "organic" if category == SEARCH else "referral"), ()
    )


_DIRECT = Acquisition(DIRECT, "Direct", ())
_INTERNAL = Acquisition(None, None, ())


def _with_query(query: str, host: str, own_host: str) -> Acquisition:
    query = query.removeprefix("?")
    tags = _tags(query) if _MAYBE_TAGGED.search(query) else None
    if not tags:
        return _untagged(host, own_host)
    external = bool(host) and host != _own_host(own_host)
    campaign = tuple((d, tags[d]) for d in CAMPAIGN_DIMENSIONS if d in tags)
    click_source, click = "", ""
    for name, (implied, kind) in _CLICK_IDS.items():
        if name in tags:
            click_source, click = implied, kind
            break
    if host and not external and not (campaign or click):
        return _INTERNAL  # ref/source/src on the site's own links: navigation inside the site

    utm_source = tags.get("utm_source", "")
    tagged = utm_source
    if not tagged and not (host and not external):
        tagged = next((tags[t] for t in _REF_TAGS if t in tags), "")
    site: Site | None = None
    paid_name = False
    category: str | None
    if tagged:
        site, paid_name = _tagged_site(tagged)
        source = site.name if site is not None else tagged
        category = site.category if site is not None else None
    elif external:
        source, category = referrer_site(host)
    elif click_source:
        # An ad click whose referrer was dropped (apps, in-app browsers): the network is the source.
        source, category = _NAMES[click_source.lower()][0]
    else:
        source, category = DIRECT, None

    medium = tags.get("utm_medium", "").lower()
    if not medium and (site is not None or not utm_source):
        # What GA4 gives an untagged visit: organic from a search engine, else referral, and
        # (none) with neither a referrer nor a click id. A utm_source without a medium stays
        # GA4's "(not set)" (Unassigned) unless it names a known site: ChatGPT tags its links
        # utm_source=chatgpt.com, and that visit is the same Referral as an untagged one.
        if tagged or external:
            medium = "organic" if category == SEARCH else "referral"
        elif not click:
            medium = "(none)"
    name = channel(
        category,
        medium,
        tags.get("utm_campaign", "").lower(),
        tagged.lower(),
        click=click,
        paid_name=paid_name,
    )
    return Acquisition(source, name, campaign)


_with_query_cached = lru_cache(maxsize=4096)(_with_query)
