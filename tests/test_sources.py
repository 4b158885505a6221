"""Sources, channels and campaign tags of page views (pure: no server)."""

from __future__ import annotations

import pytest

from wsgi_analytics.request import sources
from wsgi_analytics.request.sources import (
    CATEGORIES,
    CHANNELS,
    DIRECT,
    Acquisition,
    Site,
    acquisition,
    known_site,
)

OWN = "example.com"


def _p(referrer: str, source: str | None, channel: str | None, id: str) -> object:
    return pytest.param(referrer, source, channel, id=id)


REFERRERS = [
    # search engines, across country domains and subdomains
    _p("https://www.google.com/", "Google", "Organic Search", "google.com"),
    _p("https://www.google.fr/", "Google", "Organic Search", "google.fr"),
    _p("https://www.google.co.uk/", "Google", "Organic Search", "google.co.uk"),
    _p("https://www.google.com.au/search?q=x", "Google", "Organic Search", "google.com.au"),
    _p("https://www.google.de/", "Google", "Organic Search", "google.de"),
    _p("https://www.google.co.jp/", "Google", "Organic Search", "google.co.jp"),
    _p("https://google.com.br/", "Google", "Organic Search", "google.com.br no www"),
    _p("https://WWW.GOOGLE.FR./", "Google", "Organic Search", "upper case, trailing dot"),
    _p("https://news.google.com/", "Google News", "Organic Search", "google news"),
    _p("https://scholar.google.de/", "Google Scholar", "Organic Search", "google scholar"),
    _p(
        "android-app://com.google.android.googlequicksearchbox/",
        "Google",
        "Organic Search",
        "google app",
    ),
    _p("https://www.bing.com/search?q=x", "Bing", "Organic Search", "bing"),
    _p("https://cn.bing.com/", "Bing", "Organic Search", "cn.bing"),
    _p("https://ntp.msn.com/", "Bing", "Organic Search", "edge new tab page"),
    _p("https://www.msn.com/", "MSN", "Organic Search", "msn"),
    _p("https://duckduckgo.com/", "DuckDuckGo", "Organic Search", "duckduckgo"),
    _p("https://yandex.ru/search/?text=x", "Yandex", "Organic Search", "yandex.ru"),
    _p("https://yandex.com.tr/", "Yandex", "Organic Search", "yandex.com.tr"),
    _p("https://ya.ru/", "Yandex", "Organic Search", "ya.ru"),
    _p("https://www.baidu.com/link?url=x", "Baidu", "Organic Search", "baidu"),
    _p("https://m.baidu.com/", "Baidu", "Organic Search", "baidu mobile"),
    _p("https://www.ecosia.org/", "Ecosia", "Organic Search", "ecosia"),
    _p("https://search.yahoo.com/", "Yahoo!", "Organic Search", "yahoo"),
    _p("https://fr.search.yahoo.com/", "Yahoo!", "Organic Search", "yahoo fr"),
    _p("https://search.yahoo.co.jp/", "Yahoo!", "Organic Search", "yahoo japan"),
    _p("https://search.brave.com/", "Brave Search", "Organic Search", "brave"),
    _p("https://www.qwant.com/", "Qwant", "Organic Search", "qwant"),
    _p("https://www.startpage.com/", "Startpage", "Organic Search", "startpage"),
    _p("https://kagi.com/search?q=x", "Kagi", "Organic Search", "kagi"),
    # social networks, aggregators, code hosts
    _p("https://news.ycombinator.com/item?id=1", "Hacker News", "Organic Social", "hn"),
    _p("https://www.reddit.com/r/python/", "Reddit", "Organic Social", "reddit"),
    _p("https://old.reddit.com/r/python/", "Reddit", "Organic Social", "old reddit"),
    _p("https://out.reddit.com/t3_x", "Reddit", "Organic Social", "out reddit"),
    _p("android-app://com.reddit.frontpage/", "Reddit", "Organic Social", "reddit app"),
    _p("https://t.co/abc", "Twitter", "Organic Social", "t.co"),
    _p("https://x.com/someone", "Twitter", "Organic Social", "x.com"),
    _p("https://twitter.com/", "Twitter", "Organic Social", "twitter.com"),
    _p("https://www.facebook.com/", "Facebook", "Organic Social", "facebook"),
    _p("https://l.facebook.com/l.php?u=x", "Facebook", "Organic Social", "l.facebook"),
    _p("https://m.facebook.com/", "Facebook", "Organic Social", "m.facebook"),
    _p("https://lm.facebook.com/", "Facebook", "Organic Social", "lm.facebook"),
    _p("https://www.linkedin.com/feed/", "LinkedIn", "Organic Social", "linkedin"),
    _p("https://lnkd.in/abc", "LinkedIn", "Organic Social", "lnkd.in"),
    _p("https://github.com/org/repo", "GitHub", "Organic Social", "github"),
    _p("https://gist.github.com/x", "GitHub", "Organic Social", "gist"),
    _p("https://www.instagram.com/", "Instagram", "Organic Social", "instagram"),
    _p("https://l.instagram.com/?u=x", "Instagram", "Organic Social", "l.instagram"),
    _p("https://www.pinterest.co.uk/pin/1", "Pinterest", "Organic Social", "pinterest uk"),
    _p("https://pin.it/x", "Pinterest", "Organic Social", "pin.it"),
    _p("https://www.tiktok.com/", "TikTok", "Organic Social", "tiktok"),
    _p("https://bsky.app/profile/x", "Bluesky", "Organic Social", "bluesky"),
    _p("https://lobste.rs/s/x", "Lobsters", "Organic Social", "lobsters"),
    _p("https://www.producthunt.com/", "Product Hunt", "Organic Social", "product hunt"),
    _p("https://stackoverflow.com/questions/1", "Stack Overflow", "Organic Social", "so"),
    _p("https://discord.com/channels/1", "Discord", "Organic Social", "discord"),
    _p("https://app.slack.com/", "Slack", "Organic Social", "slack"),
    # video
    _p("https://www.youtube.com/watch?v=x", "YouTube", "Organic Video", "youtube"),
    _p("https://m.youtube.com/", "YouTube", "Organic Video", "youtube mobile"),
    _p("https://youtu.be/x", "YouTube", "Organic Video", "youtu.be"),
    _p("https://vimeo.com/1", "Vimeo", "Organic Video", "vimeo"),
    _p("https://www.twitch.tv/x", "Twitch", "Organic Video", "twitch"),
    # AI assistants: named, and a Referral as in GA4
    _p("https://chatgpt.com/", "ChatGPT", "Referral", "chatgpt"),
    _p("https://chat.openai.com/", "ChatGPT", "Referral", "chat.openai"),
    _p("https://www.perplexity.ai/search", "Perplexity", "Referral", "perplexity"),
    _p("https://claude.ai/", "Claude", "Referral", "claude"),
    _p("https://gemini.google.com/", "Gemini", "Referral", "gemini, not google"),
    _p("https://copilot.microsoft.com/", "Copilot", "Referral", "copilot"),
    # webmail
    _p("https://mail.google.com/", "Gmail", "Email", "gmail, not google"),
    _p("android-app://com.google.android.gm/", "Gmail", "Email", "gmail app"),
    _p("https://outlook.live.com/", "Outlook", "Email", "outlook.live"),
    _p("https://outlook.office.com/", "Outlook", "Email", "outlook office"),
    _p("https://mail.yahoo.com/", "Yahoo! Mail", "Email", "yahoo mail, not yahoo"),
    _p("https://mail.yahoo.co.jp/", "Yahoo! Mail", "Email", "yahoo mail japan"),
    _p("https://mail.proton.me/", "Proton Mail", "Email", "proton"),
    # shopping
    _p("https://www.amazon.co.uk/dp/x", "Amazon", "Organic Shopping", "amazon uk"),
    _p("https://www.ebay.de/", "eBay", "Organic Shopping", "ebay de"),
    # plain referrals
    _p("https://en.wikipedia.org/wiki/X", "Wikipedia", "Referral", "wikipedia"),
    _p("https://de.m.wikipedia.org/wiki/X", "Wikipedia", "Referral", "wikipedia mobile"),
    _p("https://docs.google.com/document/d/1", "Google Docs", "Referral", "google docs"),
    _p("https://blog.example.org/post", "blog.example.org", "Referral", "unknown blog"),
    _p("https://www.someblog.net/2024/post", "someblog.net", "Referral", "unknown blog www"),
    _p("https://WWW.SomeBlog.NET:8443/", "someblog.net", "Referral", "case and port"),
    _p("https://user:pw@blog.dev/", "blog.dev", "Referral", "user info"),
    _p("http://[2001:db8::1]:8080/", "2001:db8::1", "Referral", "ipv6 literal"),
    _p("http://192.0.2.7/", "192.0.2.7", "Referral", "ipv4 literal"),
    _p("https://google.example.com/", "google.example.com", "Referral", "not google"),
    _p("https://notgoogle.com/", "notgoogle.com", "Referral", "label must match whole"),
    _p("https://shop.example.com/", "shop.example.com", "Referral", "own subdomain"),
    _p("android-app://com.example.app/", "com.example.app", "Referral", "unknown app"),
    # self-referrals: navigation inside the site counts no source
    _p("https://example.com/pricing", None, None, "self"),
    _p("https://www.example.com/pricing", None, None, "self www"),
    _p("http://EXAMPLE.com:8443/", None, None, "self other port and case"),
    # no usable referrer
    _p("", DIRECT, "Direct", "no referrer"),
    _p("about:blank", DIRECT, "Direct", "about blank"),
    _p("not a url", DIRECT, "Direct", "junk"),
]


@pytest.mark.parametrize(("referrer", "source", "channel"), REFERRERS)
def test_referrer(referrer: str, source: str | None, channel: str | None) -> None:
    assert acquisition("", referrer, OWN) == Acquisition(source, channel, ())
    assert channel is None or channel in CHANNELS


def test_table_is_large() -> None:
    assert len(REFERRERS) >= 60


@pytest.mark.parametrize(
    ("own_host", "referrer"),
    [
        pytest.param("example.com:8000", "https://example.com/", id="own port"),
        pytest.param("www.example.com", "https://example.com/", id="own www"),
        pytest.param("Example.COM.", "https://example.com/", id="own case and dot"),
        pytest.param("[2001:db8::1]:8080", "http://[2001:db8::1]/", id="own ipv6"),
        pytest.param("127.0.0.1:5000", "http://127.0.0.1:5000/a", id="own ipv4"),
    ],
)
def test_self_referral(own_host: str, referrer: str) -> None:
    assert acquisition("", referrer, own_host) == Acquisition(None, None, ())


def _t(query: str, referrer: str, source: str | None, channel: str | None, id: str) -> object:
    return pytest.param(query, referrer, source, channel, id=id)


BLOG = "https://someblog.net/post"
SELF = "https://example.com/previous"

TAGGED = [
    # utm_source names: known ones case-insensitively, shorthands, hosts and URLs
    _t("utm_source=google", "", "Google", "Organic Search", "utm google"),
    _t("utm_source=GOOGLE&utm_medium=cpc", "", "Google", "Paid Search", "google cpc"),
    _t("?utm_source=google", "", "Google", "Organic Search", "leading question mark"),
    _t("UTM_SOURCE=Google", "", "Google", "Organic Search", "upper-case name"),
    _t("utm_source=%20%20google%20", "", "Google", "Organic Search", "trimmed"),
    _t("utm_source=hn", "", "Hacker News", "Organic Social", "hn"),
    _t("utm_source=chatgpt.com", "", "ChatGPT", "Referral", "chatgpt's own tag"),
    _t("utm_source=perplexity", "", "Perplexity", "Referral", "perplexity"),
    _t(
        "utm_source=https%3A%2F%2Fnews.ycombinator.com%2F",
        "",
        "Hacker News",
        "Organic Social",
        "a url",
    ),
    _t("utm_source=www.reddit.com", "", "Reddit", "Organic Social", "a host"),
    _t("utm_source=twitter&ref=hn", "", "Twitter", "Organic Social", "utm beats ref"),
    _t("utm_source=&ref=hn", "", "Hacker News", "Organic Social", "empty is absent"),
    _t("utm_source=foo", "", "foo", "Unassigned", "unknown, no medium"),
    _t("utm_source=foo", BLOG, "foo", "Unassigned", "tag beats referrer"),
    _t("utm_source=a+b", "", "a b", "Unassigned", "plus is a space"),
    # GA4 mediums
    _t("utm_source=newsletter&utm_medium=email", "", "newsletter", "Email", "email"),
    _t("utm_source=Newsletter", "", "Newsletter", "Email", "newsletter source"),
    _t("utm_source=fb&utm_medium=paid_social", "", "Facebook", "Paid Social", "paid social"),
    _t("utm_source=fb-ads", "", "Facebook", "Paid Social", "paid shorthand"),
    _t("utm_source=adwords", "", "Google", "Paid Search", "adwords"),
    _t("utm_source=linkedin&utm_medium=social", "", "LinkedIn", "Organic Social", "social"),
    _t("utm_source=youtube&utm_medium=cpv", "", "YouTube", "Paid Video", "paid video"),
    _t("utm_source=youtube&utm_medium=video", "", "YouTube", "Organic Video", "video"),
    _t("utm_source=amazon&utm_medium=cpc", "", "Amazon", "Paid Shopping", "paid shopping"),
    _t(
        "utm_source=google&utm_medium=cpc&utm_campaign=summer-shopping",
        "",
        "Google",
        "Paid Shopping",
        "shopping campaign",
    ),
    _t("utm_source=blog&utm_campaign=spring-shop", "", "blog", "Organic Shopping", "shop"),
    _t("utm_source=blog&utm_campaign=workshop", "", "blog", "Unassigned", "workshop no shop"),
    _t(
        "utm_source=google&utm_medium=cpc&utm_campaign=pmax_cross-network",
        "",
        "Google",
        "Cross-network",
        "cross-network",
    ),
    _t("utm_source=net&utm_medium=display", "", "net", "Display", "display"),
    _t("utm_source=net&utm_medium=cpm", "", "net", "Display", "cpm"),
    _t("utm_source=net&utm_medium=ppc", "", "net", "Paid Other", "paid other"),
    _t("utm_source=partner&utm_medium=affiliate", "", "partner", "Affiliates", "affiliate"),
    _t("utm_source=partner.example&utm_medium=referral", "", "partner.example", "Referral", "r"),
    _t("utm_source=podcast&utm_medium=audio", "", "podcast", "Audio", "audio"),
    _t("utm_source=sms", "", "sms", "SMS", "sms"),
    _t("utm_source=app&utm_medium=push", "", "app", "Mobile Push Notifications", "push"),
    _t("utm_source=firebase", "", "firebase", "Mobile Push Notifications", "firebase"),
    _t("utm_source=foo&utm_medium=bar", "", "foo", "Unassigned", "unknown medium"),
    _t("utm_source=google&utm_medium=organic", "", "Google", "Organic Search", "organic"),
    # a medium or campaign without a source: the source is the referrer's
    _t("utm_medium=email", "", DIRECT, "Email", "medium only"),
    _t("utm_medium=email", "https://mail.google.com/", "Gmail", "Email", "medium gmail"),
    _t("utm_campaign=launch", "https://www.google.fr/", "Google", "Organic Search", "campaign"),
    # ref / source / src
    _t("ref=producthunt", "", "Product Hunt", "Organic Social", "ref known"),
    _t("source=newsletter", "", "newsletter", "Email", "source newsletter"),
    _t("src=someapp", "", "someapp", "Referral", "src unknown"),
    _t("ref=hn", SELF, None, None, "ref on own link is navigation"),
    _t("page=2&sort=asc", SELF, None, None, "own link, no tags"),
    _t("page=2&sort=asc", "https://www.google.fr/", "Google", "Organic Search", "other params"),
    _t("utm_source=newsletter", SELF, "newsletter", "Email", "utm on own link counts"),
    # click ids
    _t("gclid=abc", "", "Google", "Paid Search", "gclid"),
    _t("gclid=abc", "https://www.google.fr/", "Google", "Paid Search", "gclid google"),
    _t("gclid=abc", "https://www.youtube.com/", "YouTube", "Paid Video", "gclid youtube"),
    _t("gclid=abc", BLOG, "someblog.net", "Display", "gclid publisher"),
    _t("gclid=abc", SELF, "Google", "Paid Search", "gclid reload"),
    _t("gbraid=abc", "", "Google", "Paid Search", "gbraid"),
    _t("wbraid=abc", "", "Google", "Paid Search", "wbraid"),
    _t("dclid=abc", "", "Google", "Display", "dclid"),
    _t("msclkid=abc", "", "Bing", "Paid Search", "msclkid"),
    _t("msclkid=abc", "https://duckduckgo.com/", "DuckDuckGo", "Paid Search", "msclkid ddg"),
    _t("yclid=abc", "", "Yandex", "Paid Search", "yclid"),
    _t("fbclid=abc", "", "Facebook", "Organic Social", "fbclid is not paid"),
    _t("fbclid=abc", "https://l.facebook.com/", "Facebook", "Organic Social", "fbclid ref"),
    _t(
        "utm_source=facebook&utm_medium=paid&fbclid=abc",
        "",
        "Facebook",
        "Paid Social",
        "fbclid tagged paid",
    ),
    _t("ttclid=abc", "", "TikTok", "Paid Social", "ttclid"),
    _t("twclid=abc", "", "Twitter", "Paid Social", "twclid"),
    _t("li_fat_id=abc", "", "LinkedIn", "Paid Social", "li_fat_id"),
    _t(
        "utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=abc",
        "",
        "Google",
        "Paid Search",
        "gclid and tags",
    ),
]


@pytest.mark.parametrize(("query", "referrer", "source", "channel"), TAGGED)
def test_tags_and_click_ids(
    query: str, referrer: str, source: str | None, channel: str | None
) -> None:
    result = acquisition(query, referrer, OWN)
    assert (result.source, result.channel) == (source, channel)
    assert channel is None or channel in CHANNELS


def test_campaign_dimensions() -> None:
    query = (
        "utm_term=running+shoes&utm_content=hero&utm_campaign=Spring%20Sale"
        "&utm_medium=email&utm_source=newsletter&page=2"
    )
    assert acquisition(query, "", OWN).campaign == (
        ("utm_source", "newsletter"),
        ("utm_medium", "email"),
        ("utm_campaign", "Spring Sale"),
        ("utm_content", "hero"),
        ("utm_term", "running shoes"),
    )


@pytest.mark.parametrize(
    ("query", "campaign"),
    [
        pytest.param("utm_campaign=", (), id="empty"),
        pytest.param("utm_campaign=%20%09", (), id="blank"),
        pytest.param("utm_campaign=a&utm_campaign=b", (("utm_campaign", "a"),), id="first wins"),
        pytest.param("utm_campaign=a%0Ab%00c", (("utm_campaign", "abc"),), id="control chars"),
        pytest.param("utm_campaign=%FF%FE", (("utm_campaign", "\ufffd\ufffd"),), id="bad utf-8"),
        pytest.param("utm_campaign=" + "x" * 600, (("utm_campaign", "x" * 512),), id="capped"),
        pytest.param("utm_campaignx=a&xutm_campaign=b", (), id="other names"),
    ],
)
def test_campaign_values(query: str, campaign: tuple[tuple[str, str], ...]) -> None:
    assert acquisition(query, "", OWN).campaign == campaign


def test_campaign_on_internal_navigation() -> None:
    # Tags on the site's own link still count in the campaign dimensions.
    result = acquisition("utm_content=footer", SELF, OWN)
    assert result.campaign == (("utm_content", "footer"),)


def test_click_id_value_never_kept() -> None:
    result = acquisition("gclid=SECRET-ID&utm_source=google&utm_medium=cpc", "", OWN)
    assert "SECRET-ID" not in repr(result)


def test_long_query_and_referrer_are_not_memoised_but_work() -> None:
    query = "utm_source=hn&pad=" + "x" * 5000
    referrer = "https://news.ycombinator.com/item?id=" + "1" * 3000
    assert acquisition(query, "", OWN).source == "Hacker News"
    assert acquisition("", referrer, OWN).source == "Hacker News"


def test_data_file() -> None:
    # Every site has a category the channels know (the loader refuses a key named twice).
    names = {site for site, _ in sources._NAMES.values()}
    assert all(site.category is None or site.category in CATEGORIES for site in names)
    assert known_site("google.fr") == Site("Google", "search")
    assert known_site("mail.google.com") == Site("Gmail", "email")
    assert known_site("example.org") is None
    assert len(names) >= 90
