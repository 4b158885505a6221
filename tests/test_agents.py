"""User-agent labels: browser, platform, device class, bot."""

from __future__ import annotations

import pytest
from ua_parser.basic import Resolver as BasicResolver
from ua_parser.loaders import load_lazy_builtins

from wsgi_analytics.request.agents import Agent, Classifier, default_classifier

WIN_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
MAC_FIREFOX = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GPTBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)"
)
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36"
)

CASES = [
    pytest.param(WIN_CHROME, "", "", Agent("Chrome", "Windows", "desktop", None), id="chrome"),
    pytest.param(IPHONE, "", "", Agent("Mobile Safari", "iOS", "mobile", None), id="iphone"),
    pytest.param(IPAD, "", "", Agent("Mobile Safari", "iOS", "tablet", None), id="ipad"),
    pytest.param(
        ANDROID_PHONE, "", "", Agent("Chrome Mobile", "Android", "mobile", None), id="android"
    ),
    pytest.param(
        ANDROID_TABLET, "", "", Agent("Chrome", "Android", "tablet", None), id="android tablet"
    ),
    pytest.param(
        ANDROID_TABLET,
        '"Android"',
        "?1",
        Agent("Chrome", "Android", "mobile", None),
        id="client hint says mobile",
    ),
    pytest.param(
        MAC_FIREFOX, "", "", Agent("Firefox", "Mac OS X", "desktop", None), id="mac firefox"
    ),
    pytest.param(
        GOOGLEBOT, "", "", Agent("Googlebot", "Other", "other", "Googlebot"), id="googlebot"
    ),
    pytest.param(GPTBOT, "", "", Agent("GPTBot", "Other", "other", "GPTBot"), id="gptbot"),
    pytest.param(
        HEADLESS, "", "", Agent("HeadlessChrome", "Linux", "other", "HeadlessChrome"), id="headless"
    ),
    pytest.param("curl/8.5.0", "", "", Agent("curl", "Other", "other", "curl"), id="curl"),
    pytest.param(
        "python-requests/2.32.3",
        "",
        "",
        Agent("Python Requests", "Other", "other", "Python Requests"),
        id="python-requests",
    ),
    pytest.param(
        "python-httpx/0.27.0",
        "",
        "",
        Agent("Other", "Other", "other", "python-httpx"),
        id="httpx unknown to ua-parser",
    ),
    pytest.param(
        "Go-http-client/1.1",
        "",
        "",
        Agent("Go-http-client", "Other", "other", "Go-http-client"),
        id="go",
    ),
    pytest.param("okhttp/4.12.0", "", "", Agent("okhttp", "Other", "other", "okhttp"), id="okhttp"),
    pytest.param("", "", "", Agent("(empty)", "Other", "other", "(empty)"), id="empty"),
    pytest.param("   ", "", "", Agent("(empty)", "Other", "other", "(empty)"), id="blank"),
    pytest.param(
        "garbage!!", "", "", Agent("Other", "Other", "other", "garbage"), id="a word names it"
    ),
    pytest.param(
        "Mozilla/5.0", "", "", Agent("Other", "Other", "other", "(unparseable)"), id="unparseable"
    ),
    pytest.param("-", "", "", Agent("Other", "Other", "other", "(unparseable)"), id="dash"),
    # Bots ua-parser cannot name: named from the agent itself, never (unparseable).
    pytest.param(
        "FeedBurner/1.0 (http://www.FeedBurner.com)",
        "",
        "",
        Agent("Other", "Other", "other", "FeedBurner"),
        id="feedburner",
    ),
    pytest.param(
        "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 22 subscribers; "
        "feed-id=10316751302541186385)",
        "",
        "",
        Agent("Other", "Other", "other", "Feedfetcher-Google"),
        id="feedfetcher",
    ),
    pytest.param(
        "Mozilla/5.0 (compatible; Ezooms/1.0; help@moz.com)",
        "",
        "",
        Agent("Other", "Other", "other", "Ezooms"),
        id="ezooms",
    ),
    pytest.param(
        "Mozilla/5.0 zgrab/0.x", "", "", Agent("Other", "Other", "other", "zgrab"), id="zgrab"
    ),
    # Bots ua-parser names as if they were browsers: its family is kept, and they are bots.
    pytest.param(
        "Tiny Tiny RSS/22.08 (Unsupported) (https://tt-rss.org/)",
        "",
        "",
        Agent("Tiny Tiny RSS", "Other", "other", "Tiny Tiny RSS"),
        id="feed reader ua-parser takes for a browser",
    ),
    pytest.param(
        "Mozilla/5.0 (compatible; Feedbin feed-id:12345 - 7 subscribers)",
        "",
        "",
        Agent("Feedbin", "Other", "other", "Feedbin"),
        id="feedbin",
    ),
    pytest.param(
        "Mediapartners-Google",
        "",
        "",
        Agent("Mediapartners-Google", "Other", "other", "Mediapartners-Google"),
        id="adsense crawler",
    ),
    pytest.param(
        "PycURL/7.45.2 libcurl/7.88.1 OpenSSL/3.0.11 zlib/1.2.13",
        "",
        "",
        Agent("PycURL", "Other", "other", "PycURL"),
        id="pycurl",
    ),
    # A text-mode browser has no platform but is a person.
    pytest.param(
        "Lynx/2.8.9rel.1 libwww-FM/2.14 SSL-MM/1.4.1 OpenSSL/1.1.1d",
        "",
        "",
        Agent("Lynx", "Other", "other", None),
        id="lynx is a person",
    ),
]


@pytest.mark.parametrize(("agent", "platform", "mobile", "expected"), CASES)
def test_labels(agent: str, platform: str, mobile: str, expected: Agent) -> None:
    assert default_classifier()(agent, platform, mobile) == expected


@pytest.mark.parametrize(("agent", "platform", "mobile", "expected"), CASES)
def test_pure_python_fallback_agrees(
    agent: str, platform: str, mobile: str, expected: Agent
) -> None:
    classify = Classifier(BasicResolver(load_lazy_builtins()))
    assert classify(agent, platform, mobile) == expected


def test_memo_returns_the_same_labels_and_stays_bounded() -> None:
    classify = Classifier()
    first = classify(WIN_CHROME)
    assert classify(WIN_CHROME) is first
    for index in range(25_000):
        classify(f"scanner-{index}")
    assert len(classify) <= 20_000
    assert classify(WIN_CHROME) == first
