"""Bot names read from the agent when ua-parser has none (DESIGN A3, ``bots``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsgi_analytics.request.botnames import CATEGORIES, bot_category, bot_name

NAMED = [
    # The four from the issue: feed fetchers and a crawler ua-parser leaves as "Other".
    ("UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/", "UniversalFeedParser"),
    ("FeedBurner/1.0 (http://www.FeedBurner.com)", "FeedBurner"),
    (
        "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 22 subscribers; "
        "feed-id=10316751302541186385)",
        "Feedfetcher-Google",
    ),
    ("Mozilla/5.0 (compatible; Ezooms/1.0; help@moz.com)", "Ezooms"),
    # HTTP libraries and command-line clients.
    ("python-requests/2.31.0", "python-requests"),
    ("curl/8.0.1", "curl"),
    ("Go-http-client/1.1", "Go-http-client"),
    ("Wget/1.21.4", "Wget"),
    ("okhttp/4.9.0", "okhttp"),
    ("Apache-HttpClient/4.5.13 (Java/11.0.16)", "Apache-HttpClient"),
    ("Python-urllib/3.11", "Python-urllib"),
    ("aiohttp/3.9", "aiohttp"),
    ("Java/1.8.0_151", "Java"),
    ("PycURL/7.45.2 libcurl/7.88.1 OpenSSL/3.0.11 zlib/1.2.13", "PycURL"),
    ("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "node-fetch"),
    ("Ruby", "Ruby"),
    # Feed readers.
    (
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 42 subscribers; like FeedFetcher-Google)",
        "Feedly",
    ),
    ("NetNewsWire (RSS Reader; https://netnewswire.com/)", "NetNewsWire"),
    ("Tiny Tiny RSS/22.08 (Unsupported) (https://tt-rss.org/)", "Tiny Tiny RSS"),
    ("Inoreader/1.0 (+http://www.inoreader.com/feed-fetcher; 3 subscribers)", "Inoreader"),
    ("Miniflux/2.0.50 (https://miniflux.app)", "Miniflux"),
    ("Mozilla/5.0 (compatible; Feedbin feed-id:12345 - 7 subscribers)", "Feedbin"),
    (
        "Mozilla/5.0 (compatible; NewsBlur Feed Fetcher - 12 subscribers - "
        "https://www.newsblur.com/site/123/example)",
        "NewsBlur Feed Fetcher",
    ),
    # Crawlers, previews, monitors, scanners.
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Slackbot-LinkExpanding"),
    (
        "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
        "Yahoo! Slurp",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_1) AppleWebKit/600.2.5 (KHTML, like Gecko) "
        "Version/8.0.2 Safari/600.2.5 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        "Applebot",
    ),
    (
        "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile "
        "Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)",
        "Bytespider",
    ),
    ("Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "UptimeRobot"),
    ("Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)", "MJ12bot"),
    ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", "SemrushBot"),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot"),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot)",
        "GPTBot",
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ClaudeBot/1.0; "
        "+claudebot@anthropic.com)",
        "ClaudeBot",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/79.0.3945.88 Safari/537.36; 360Spider",
        "360Spider",
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/120.0.0.0 Safari/537.36",
        "HeadlessChrome",
    ),
    ("Mozilla/5.0 zgrab/0.x", "zgrab"),
    ("Mozilla/5.0 (compatible; Google-Site-Verification/1.0)", "Google-Site-Verification"),
    ("Mediapartners-Google", "Mediapartners-Google"),
    ("Googlebot-Image/1.0", "Googlebot-Image"),
    ("W3C_Validator/1.3 http://validator.w3.org/services", "W3C_Validator"),
    ("Zabbix", "Zabbix"),
    ("Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)", "CensysInspect"),
    ("masscan/1.3 (https://github.com/robertdavidgraham/masscan)", "masscan"),
    ("l9explore/1.2.2", "l9explore"),
    ("Nuclei - Open-source project (github.com/projectdiscovery/nuclei)", "Nuclei"),
    (
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "facebookexternalhit",
    ),
    ("TelegramBot (like TwitterBot)", "TelegramBot"),
    ("WordPress/6.4.2; https://example.com", "WordPress"),
    (
        "Expanse, a Palo Alto Networks company, searches across the global IPv4 space multiple "
        "times per day to identify customers' presences on the Internet.",
        "Expanse",
    ),
    ("mozilla/5.0 (compatible; Lowercasebot/1.0)", "Lowercasebot"),
    ("  Feedbot/2.0  ", "Feedbot"),
]


@pytest.mark.parametrize(("agent", "expected"), [pytest.param(a, n, id=n) for a, n in NAMED])
def test_named(agent: str, expected: str) -> None:
    assert bot_name(agent) == expected


NAMELESS = [
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("-", id="dash"),
    pytest.param("Mozilla/5.0", id="bare mozilla"),
    pytest.param("Mozilla/5.0 (compatible)", id="compatible alone"),
    pytest.param("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)", id="old IE: no bot name"),
    pytest.param("Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", id="ie11"),
    pytest.param("http://example.com/bot.html", id="a URL only"),
    pytest.param("admin@example.com", id="an address only"),
    pytest.param("1.0", id="a version only"),
    pytest.param("()", id="punctuation"),
]


@pytest.mark.parametrize("agent", NAMELESS)
def test_nameless(agent: str) -> None:
    assert bot_name(agent) is None


def _shared_agents() -> list[str]:
    # tests/ sits in the repository; the shared data folder sits beside the repository.
    shipped = Path(__file__).parents[1] / "src" / "wsgi_analytics" / "data" / "user-agents.tsv"
    lines = shipped.read_text(encoding="utf-8").splitlines()
    return [line.split("\t", 1)[1] for line in lines if line and not line.startswith("#")]


def test_bots_of_the_shipped_mix_are_named() -> None:
    bots = [a for a in _shared_agents() if not a.startswith("Mozilla/5.0 (") or "compatible" in a]
    assert len(bots) >= 6
    for agent in bots:
        name = bot_name(agent)
        assert name is not None, agent
        assert name.lower() != "mozilla"


AGENT_LIKE = "Mozilla/5.0 (compatible;) bot crawl 360 http://x.y @ -"


@given(st.one_of(st.text(max_size=300), st.text(alphabet=AGENT_LIKE, max_size=120)))
def test_never_a_url_an_address_a_version_or_mozilla(agent: str) -> None:
    name = bot_name(agent)
    if name is not None:
        assert 0 < len(name) <= 64
        assert name.lower() != "mozilla"
        assert "://" not in name
        assert "@" not in name
        assert any(c.isascii() and c.isalpha() for c in name)


CATEGORY = [
    pytest.param("Feedfetcher-Google; (+http://www.google.com/feedfetcher.html)", "feed fetcher"),
    pytest.param("UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/", "feed fetcher"),
    pytest.param("Mozilla/5.0 (compatible; Feedbin feed-id:1 - 7 subscribers)", "feed fetcher"),
    pytest.param("Tiny Tiny RSS/22.08 (Unsupported) (https://tt-rss.org/)", "feed fetcher"),
    pytest.param(
        "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "monitor"
    ),
    pytest.param("Zabbix", "monitor"),
    pytest.param("curl/8.0.1", "HTTP library"),
    pytest.param("python-requests/2.31.0", "HTTP library"),
    pytest.param("Go-http-client/1.1", "HTTP library"),
    pytest.param(
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "crawler"
    ),
    pytest.param(
        "Mozilla/5.0 (compatible; Bytespider; spider-feedback@bytedance.com)",
        "crawler",
        id="feedback is not a feed",
    ),
    pytest.param("Mozilla/5.0 zgrab/0.x", None),
    pytest.param("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36", None),
]


@pytest.mark.parametrize(("agent", "expected"), CATEGORY)
def test_category(agent: str, expected: str | None) -> None:
    assert bot_category(agent) == expected
    assert expected is None or expected in CATEGORIES
