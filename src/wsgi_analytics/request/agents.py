"""User-Agent string -> the labels we count: browser, platform, device class, bot.

ua-parser does the parsing. With its ``regex`` extra (ua-parser-rs) an uncached agent costs
about 20 µs; the pure-Python resolver costs ~0.7 ms, so it is only a fallback. Either way the
final labels are memoised per (agent, client hints): real traffic repeats a few hundred agents.

A bot's label (DESIGN A3, ``bots``) is ua-parser's family when it has one (``Googlebot``,
``Python Requests``), else the name the agent gives itself (`botnames.bot_name`:
``FeedBurner``, ``Ezooms``), ``(empty)`` for no agent, and ``(unparseable)`` only when nothing
names it. What is a bot: ua-parser's spiders, HTTP libraries, headless browsers, agents with a
bot word, agents `botnames.bot_category` puts in a category (feed readers such as Feedbin or
Tiny Tiny RSS, which ua-parser takes for browsers), and agents ua-parser can place on no
browser and no platform.
"""

from __future__ import annotations

import re
import threading
from typing import NamedTuple

import ua_parser
from ua_parser import Domain, PartialResult

from .botnames import bot_category, bot_name

__all__ = ["Agent", "Classifier", "default_classifier"]


class Agent(NamedTuple):
    browser: str
    platform: str
    device: str  # "desktop", "mobile", "tablet" or "other"
    bot: str | None  # the bot's family when this agent is a bot


# HTTP libraries and command-line clients: software, not people. ua-parser names most of them
# (family "curl", "Python Requests", ...) but classifies them as no device at all.
_LIBRARY = re.compile(
    r"^(?:curl|wget|python-requests|python-urllib|python-httpx|python/|go-http-client|okhttp"
    r"|java/|libwww-perl|apache-httpclient|axios|node-fetch|undici|aiohttp|httpie|scrapy"
    r"|postmanruntime|insomnia|guzzlehttp|ruby|faraday|rest-client|dart:io|http_request2"
    r"|php/|winhttp|powershell|lwp-|mechanize|httpclient|reqwest|got |ky/|nutch)",
    re.IGNORECASE,
)
_BOT_WORDS = re.compile(r"bot\b|crawl|spider|slurp|headless|preview|externalhit|monitor", re.I)
_DESKTOP_OS = frozenset(
    {
        "Windows",
        "Mac OS X",
        "Linux",
        "Ubuntu",
        "Chrome OS",
        "Fedora",
        "Debian",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "Solaris",
        "Arch Linux",
        "Mint",
        "Gentoo",
        "Red Hat",
        "SUSE",
    }
)
_MOBILE_OS = frozenset(
    {
        "iOS",
        "Android",
        "Windows Phone",
        "BlackBerry OS",
        "KaiOS",
        "Symbian OS",
        "Tizen",
        "Firefox OS",
        "HarmonyOS",
        "Sailfish",
        "webOS",
        "Ubuntu Touch",
    }
)
# Sec-CH-UA-Platform values (RFC 8941 strings) -> ua-parser's OS family names.
_HINT_PLATFORMS = {
    "windows": "Windows",
    "macos": "Mac OS X",
    "android": "Android",
    "ios": "iOS",
    "chrome os": "Chrome OS",
    "chromeos": "Chrome OS",
    "linux": "Linux",
}
_MAX_MEMO = 20_000  # ASCII agents of at most 512 characters: about 16 MB at most
# ua-parser families of crawlers that ua-parser does not mark as spiders and whose agents carry
# no bot word or category (AdSense's crawler sends just its name).
_CRAWLER_FAMILIES = frozenset({"Mediapartners-Google"})
UNPARSEABLE = "(unparseable)"


def _device_class(result: PartialResult, agent: str, platform: str, mobile_hint: str) -> str:
    device = result.device
    family = device.family if device else "Other"
    brand = (device.brand or "") if device else ""
    # Chrome's own word wins: it sends "?1" on phones and "?0" on tablets and desktops.
    if mobile_hint == "?1":
        return "mobile"
    if family == "iPad" or "Tablet" in brand or "Tablet" in family or "Kindle" in family:
        return "tablet"
    if platform == "Android":
        # Android browsers say "Mobile" on phones and leave it out on tablets.
        return "mobile" if "Mobile" in agent else "tablet"
    if platform in _MOBILE_OS or "Mobile" in agent:
        return "mobile"
    if platform in _DESKTOP_OS:
        return "desktop"
    return "other"


def _hint_platform(hint: str) -> str | None:
    return _HINT_PLATFORMS.get(hint.strip().strip('"').lower())


class Classifier:
    """A memoising user-agent classifier; one per process is enough (see `default_classifier`)."""

    def __init__(self, resolver: ua_parser.Resolver | None = None) -> None:
        if resolver is None:
            matchers = ua_parser.load_lazy_builtins()
            resolver = ua_parser.BestAvailableResolver(matchers)
        self._resolve = resolver
        self._memo: dict[tuple[str, str, str], Agent] = {}
        self._lock = threading.Lock()

    def __call__(self, agent: str, ch_platform: str = "", ch_mobile: str = "") -> Agent:
        key = (agent, ch_platform, ch_mobile)
        found = self._memo.get(key)
        if found is None:
            found = self._classify(agent, ch_platform, ch_mobile)
            if not (agent.isascii() and ch_platform.isascii()):
                # Browsers send ASCII; memoising other text (up to 4 bytes a character)
                # would let a scanner fill the memo with four times the memory.
                return found
            with self._lock:
                if len(self._memo) >= _MAX_MEMO:
                    # A scanner rotating random agents must not grow the memo without bound;
                    # real traffic refills the few hundred agents it repeats within seconds.
                    self._memo.clear()
                self._memo[key] = found
        return found

    def __len__(self) -> int:
        """How many (agent, client hints) labels are memoised."""
        return len(self._memo)

    def _classify(self, agent: str, ch_platform: str, ch_mobile: str) -> Agent:
        if not agent.strip():
            return Agent("(empty)", "Other", "other", "(empty)")
        try:
            result = self._resolve(agent, Domain.ALL)
        except Exception:  # a resolver bug must not reach the request
            return Agent("Other", "Other", "other", bot_name(agent) or UNPARSEABLE)
        browser = result.user_agent.family if result.user_agent else "Other"
        platform = result.os.family if result.os else "Other"
        if platform == "Other":
            platform = _hint_platform(ch_platform) or "Other"
        device = result.device
        if (
            (device is not None and device.family == "Spider")
            or _LIBRARY.match(agent)
            or browser == "HeadlessChrome"
            or browser in _CRAWLER_FAMILIES
            or _BOT_WORDS.search(agent)
            or bot_category(agent) is not None
            or (browser == "Other" and platform == "Other")
        ):
            # ua-parser's family first (it knows "Python Requests" better than the token does).
            label = browser if browser != "Other" else (bot_name(agent) or UNPARSEABLE)
            return Agent(browser, platform, "other", label)
        return Agent(browser, platform, _device_class(result, agent, platform, ch_mobile), None)


_default: Classifier | None = None
_default_lock = threading.Lock()


def default_classifier() -> Classifier:
    """The process-wide classifier, built on first use (loading the rules takes ~50 ms)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Classifier()
    return _default
