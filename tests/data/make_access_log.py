"""Writes tests/data/access.log: one day of a personal site, laid out visit by visit.

The log is committed; this script documents how it was laid out and rebuilds it byte for byte
(``python tests/data/make_access_log.py``). Every line records what the app answered: the
status and, as one extra quoted field after the agent, the Content-Type (``"-"`` for none).
The expected numbers in ``tests/access_log.py`` are counted from the layout below, with the
rule a person applies by hand, not with the middleware's code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

HTML = "text/html; charset=utf-8"
CSS = "text/css"
JS = "application/javascript"
PNG = "image/png"
JPEG = "image/jpeg"
ICO = "image/vnd.microsoft.icon"
WOFF2 = "font/woff2"
RSS = "application/rss+xml"
ATOM = "application/atom+xml"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
XML = "application/xml"
PDF = "application/pdf"
NONE = "-"

BROWSERS = {
    "win-chrome": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    ),
    "iphone": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
    ),
    "mac-firefox": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0"
    ),
    "android": (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36"
    ),
    "mac-safari": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15"
    ),
    "win-edge": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
    ),
    "ipad": (
        "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1"
    ),
    "linux-firefox": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "samsung": (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36"
    ),
}

BOTS = {
    "Googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "bingbot": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Ezooms": "Mozilla/5.0 (compatible; Ezooms/1.0; help@moz.com)",
    "UniversalFeedParser": "UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/",
    "FeedBurner": "FeedBurner/1.0 (http://www.FeedBurner.com)",
    "Feedfetcher-Google": (
        "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 22 subscribers; "
        "feed-id=10316751302541186385)"
    ),
    "Python Requests": "python-requests/2.32.3",
    "curl": "curl/8.5.0",
    "Go-http-client": "Go-http-client/1.1",
    "Wget": "Wget/1.21.4",
    "zgrab": "Mozilla/5.0 zgrab/0.x",
    "(empty)": "",
}

PAGES = {
    "/": "home",
    "/about/": "about",
    "/blog/": "blog",
    "/blog/my-first-post/": "post",
    "/blog/rust-vs-go/": "post",
    "/blog/self-hosting-email/": "post",
    "/projects/": "projects",
    "/contact/": "contact",
    "/contact/thanks/": "contact",
    "/now/": "now",
}
SITE_ASSETS = [("/css/reset.css", CSS), ("/css/style2.css", CSS), ("/js/site.js", JS)]
FIRST_ASSETS = [("/img/header.png", PNG), ("/fonts/inter.woff2", WOFF2), ("/favicon.ico", ICO)]


@dataclass
class Line:
    when: datetime
    ip: str
    method: str
    target: str
    status: int
    size: int
    referer: str
    agent: str
    content_type: str

    def render(self) -> str:
        stamp = self.when.strftime("%d/%b/%Y:%H:%M:%S +0000")
        size = "-" if self.size == 0 else str(self.size)
        agent = self.agent or "-"
        return (
            f'{self.ip} - - [{stamp}] "{self.method} {self.target} HTTP/1.1" {self.status} {size} '
            f'"{self.referer}" "{agent}" "{self.content_type}"'
        )


class Day:
    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.rng = random.Random(20261201)
        self.start = datetime(2026, 12, 1, tzinfo=timezone.utc)

    def at(self, hh: int, mm: int, ss: int = 0) -> datetime:
        return self.start + timedelta(hours=hh, minutes=mm, seconds=ss)

    def add(
        self,
        when: datetime,
        ip: str,
        agent: str,
        target: str,
        status: int = 200,
        content_type: str = HTML,
        *,
        method: str = "GET",
        referer: str = "-",
    ) -> None:
        size = 0 if status in (204, 304) or method == "HEAD" else self.rng.randint(180, 24000)
        self.lines.append(
            Line(when, ip, method, target, status, size, referer, agent, content_type)
        )

    def visit(
        self,
        when: datetime,
        ip: str,
        browser: str,
        targets: list[str],
        *,
        referer: str = "-",
        cached: bool = False,
        status: int = 200,
    ) -> None:
        """A browser session: each page with the assets it pulls in, one page every ~40 s.

        ``cached``: a returning visitor; its first page is revalidated (304, no Content-Type)
        and so are the site assets; images and the favicon come from the cache. ``status``: the
        first page's status (a dead link's styled 404 page pulls in the assets too).
        """
        agent = BROWSERS[browser]
        seen_site = False
        for number, target in enumerate(targets):
            path = target.partition("?")[0]
            page_status = (304 if cached else status) if number == 0 else 200
            self.add(
                when,
                ip,
                agent,
                target,
                page_status,
                NONE if page_status == 304 else HTML,
                referer=referer,
            )
            page_url = "https://example.org" + path
            step = 1
            if not seen_site:
                for asset, kind in SITE_ASSETS:
                    if cached:
                        self.add(
                            when + timedelta(seconds=step),
                            ip,
                            agent,
                            asset,
                            304,
                            NONE,
                            referer=page_url,
                        )
                    else:
                        self.add(
                            when + timedelta(seconds=step),
                            ip,
                            agent,
                            asset,
                            200,
                            kind,
                            referer=page_url,
                        )
                    step += 1
                if not cached:
                    for asset, kind in FIRST_ASSETS:
                        self.add(
                            when + timedelta(seconds=step),
                            ip,
                            agent,
                            asset,
                            200,
                            kind,
                            referer=page_url,
                        )
                        step += 1
                seen_site = True
            if path == "/about/" and not cached:
                self.add(
                    when + timedelta(seconds=step),
                    ip,
                    agent,
                    "/img/avatar.png",
                    200,
                    PNG,
                    referer=page_url,
                )
            if PAGES.get(path) == "post":
                slug = path.strip("/").rpartition("/")[2]
                self.add(
                    when + timedelta(seconds=step + 1),
                    ip,
                    agent,
                    f"/img/posts/{slug}.jpg",
                    200,
                    JPEG,
                    referer=page_url,
                )
            referer = page_url
            when += timedelta(seconds=35 + self.rng.randint(0, 30))


def build() -> list[Line]:
    d = Day()
    googlebot, bingbot = BOTS["Googlebot"], BOTS["bingbot"]
    # Night: crawlers and feed fetchers.
    d.add(d.at(0, 4), "66.249.66.1", googlebot, "/robots.txt", 200, TEXT)
    d.add(d.at(0, 4, 2), "66.249.66.1", googlebot, "/sitemap.xml", 200, XML)
    d.add(d.at(0, 5), "66.249.66.1", googlebot, "/blog/rust-vs-go/")
    d.add(d.at(0, 6), "66.249.66.1", googlebot, "/blog/self-hosting-email/")
    d.add(d.at(0, 7), "66.249.66.3", googlebot, "/img/header.png", 200, PNG)
    for hour in range(0, 24, 2):
        d.add(
            d.at(hour, 15),
            "64.233.172.9",
            BOTS["Feedfetcher-Google"],
            "/feed.xml",
            200 if hour == 0 else 304,
            RSS if hour == 0 else NONE,
        )
        d.add(
            d.at(hour, 20),
            "208.53.230.10",
            BOTS["FeedBurner"],
            "/feed.xml",
            200 if hour in (0, 12) else 304,
            RSS if hour in (0, 12) else NONE,
        )
        if hour % 4 == 0:
            d.add(
                d.at(hour, 31), "104.131.1.5", BOTS["UniversalFeedParser"], "/atom.xml", 200, ATOM
            )
    d.add(d.at(1, 2), "207.46.13.5", bingbot, "/robots.txt", 200, TEXT)
    d.add(d.at(1, 3), "207.46.13.5", bingbot, "/")
    d.add(d.at(1, 4), "207.46.13.5", bingbot, "/about/")
    d.add(d.at(1, 5), "207.46.13.5", bingbot, "/blog/old-post/", 404, HTML)
    d.add(d.at(2, 11), "216.244.66.8", BOTS["Ezooms"], "/robots.txt", 200, TEXT)
    for minute, page in enumerate(["/", "/blog/", "/blog/my-first-post/", "/projects/", "/now/"]):
        d.add(d.at(2, 12 + minute), "216.244.66.8", BOTS["Ezooms"], page)
    # A scanner with no agent, one with zgrab, one with a Go client: 404s and a 403.
    for second, path in enumerate(["/wp-login.php", "/.env", "/xmlrpc.php", "/.git/config"]):
        d.add(d.at(3, 33, second), "45.155.205.7", BOTS["(empty)"], path, 404, HTML)
    d.add(d.at(3, 40), "162.142.125.2", BOTS["zgrab"], "/", 200, HTML)
    for second, path in enumerate(["/wp-admin/", "/.env", "/phpmyadmin/", "/admin.php"]):
        d.add(d.at(4, 1, second), "193.35.18.4", BOTS["Go-http-client"], path, 404, HTML)
    d.add(d.at(4, 2), "193.35.18.4", BOTS["Go-http-client"], "/server-status", 403, HTML)

    # Morning visitors.
    d.visit(
        d.at(6, 58),
        "203.0.113.10",
        "win-chrome",
        ["/", "/blog/", "/blog/rust-vs-go/"],
        referer="https://www.google.com/",
    )
    d.visit(
        d.at(7, 21),
        "198.51.100.23",
        "iphone",
        ["/blog/rust-vs-go/?utm_source=newsletter&utm_medium=email&utm_campaign=december"],
    )
    d.visit(
        d.at(7, 45),
        "192.0.2.45",
        "mac-firefox",
        ["/about/", "/projects/"],
        referer="https://github.com/",
    )
    d.add(d.at(8, 2), "192.0.2.45", BROWSERS["mac-firefox"], "/feed.xml", 200, RSS)
    d.visit(d.at(8, 30), "203.0.113.77", "android", ["/", "/now/"], referer="https://www.bing.com/")
    d.add(d.at(8, 50), "140.82.112.4", BOTS["Python Requests"], "/api/users/123", 200, JSON)
    d.add(
        d.at(8, 50, 1), "140.82.112.4", BOTS["Python Requests"], "/api/users/123/posts", 200, JSON
    )
    d.add(d.at(8, 50, 2), "140.82.112.4", BOTS["Python Requests"], "/api/users/456", 404, JSON)
    d.add(
        d.at(8, 50, 3),
        "140.82.112.4",
        BOTS["Python Requests"],
        "/api/comments",
        201,
        JSON,
        method="POST",
    )
    d.visit(
        d.at(9, 5),
        "198.51.100.9",
        "mac-safari",
        ["/blog/self-hosting-email/?ref=hn", "/blog/", "/blog/my-first-post/"],
        referer="https://news.ycombinator.com/",
    )
    d.add(d.at(9, 40), "66.249.66.1", googlebot, "/blog/")
    d.add(d.at(9, 41), "66.249.66.1", googlebot, "/blog/my-first-post/", 304, NONE)
    d.visit(
        d.at(10, 12), "192.0.2.200", "win-edge", ["/contact/"], referer="https://example.org/about/"
    )
    d.add(
        d.at(10, 14),
        "192.0.2.200",
        BROWSERS["win-edge"],
        "/contact/",
        303,
        NONE,
        method="POST",
        referer="https://example.org/contact/",
    )
    d.add(
        d.at(10, 14, 1),
        "192.0.2.200",
        BROWSERS["win-edge"],
        "/contact/thanks/",
        referer="https://example.org/contact/",
    )
    d.add(
        d.at(10, 30),
        "203.0.113.150",
        BROWSERS["ipad"],
        "/blog",
        301,
        HTML,
        referer="https://duckduckgo.com/",
    )
    d.visit(
        d.at(10, 30, 1),
        "203.0.113.150",
        "ipad",
        ["/blog/", "/blog/rust-vs-go/"],
        referer="https://duckduckgo.com/",
    )
    d.add(d.at(11, 0), "203.0.113.5", BOTS["curl"], "/", 200, HTML)
    d.add(d.at(11, 0, 30), "203.0.113.5", BOTS["curl"], "/feed.xml", 200, RSS)
    d.add(d.at(11, 1), "203.0.113.5", BOTS["curl"], "/", 200, HTML, method="HEAD")
    # Midday: a returning visitor (304s), a broken link, a download, the API again.
    d.visit(
        d.at(12, 3),
        "203.0.113.10",
        "win-chrome",
        ["/blog/", "/blog/self-hosting-email/"],
        cached=True,
    )
    d.visit(
        d.at(12, 40),
        "198.51.100.180",
        "linux-firefox",
        ["/blog/old-post/"],
        referer="https://lobste.rs/",
        status=404,
    )
    d.visit(d.at(13, 10), "198.51.100.180", "linux-firefox", ["/blog/", "/projects/"])
    d.add(d.at(13, 20), "192.0.2.99", BOTS["Wget"], "/files/cv.pdf", 200, PDF)
    d.add(d.at(13, 50), "140.82.112.4", BOTS["Python Requests"], "/api/users/789", 200, JSON)
    d.add(
        d.at(13, 50, 1), "140.82.112.4", BOTS["Python Requests"], "/api/users/789/posts", 200, JSON
    )
    d.add(
        d.at(13, 51),
        "140.82.112.4",
        BOTS["Python Requests"],
        "/api/users/550e8400-e29b-41d4-a716-446655440000",
        200,
        JSON,
    )
    d.add(
        d.at(13, 52),
        "140.82.112.4",
        BOTS["Python Requests"],
        "/api/comments",
        422,
        JSON,
        method="POST",
    )
    d.visit(
        d.at(14, 5),
        "2001:db8:85a3::8a2e:370:7334",
        "win-chrome",
        ["/", "/about/", "/contact/"],
        referer="https://www.linkedin.com/",
    )
    d.visit(
        d.at(14, 44),
        "192.0.2.99",
        "samsung",
        ["/blog/my-first-post/?utm_source=mastodon&utm_medium=social"],
        referer="https://mastodon.social/",
    )
    d.add(d.at(15, 0), "207.46.13.5", bingbot, "/blog/rust-vs-go/")
    d.add(d.at(15, 1), "207.46.13.5", bingbot, "/css/style2.css", 200, CSS)
    d.visit(d.at(15, 30), "198.51.100.23", "iphone", ["/blog/rust-vs-go/", "/"], cached=True)
    # Afternoon and evening.
    d.visit(
        d.at(16, 12),
        "203.0.113.33",
        "win-chrome",
        ["/", "/blog/", "/blog/rust-vs-go/", "/about/"],
        referer="https://www.google.fr/",
    )
    d.add(d.at(16, 40), "203.0.113.33", BROWSERS["win-chrome"], "/favicon.ico", 304, NONE)
    d.visit(d.at(17, 5), "198.51.100.61", "android", ["/now/"], referer="https://t.co/")
    d.add(d.at(17, 30), "45.155.205.7", BOTS["(empty)"], "/wp-login.php", 404, HTML)
    d.add(
        d.at(17, 30, 1), "45.155.205.7", BOTS["(empty)"], "/wp-login.php", 404, HTML, method="POST"
    )
    d.visit(
        d.at(18, 2),
        "192.0.2.45",
        "mac-firefox",
        ["/blog/", "/blog/self-hosting-email/"],
        cached=True,
    )
    d.visit(
        d.at(19, 15),
        "203.0.113.200",
        "mac-safari",
        ["/projects/", "/about/", "/contact/"],
        referer="https://github.com/",
    )
    d.add(
        d.at(19, 18),
        "203.0.113.200",
        BROWSERS["mac-safari"],
        "/contact/",
        303,
        NONE,
        method="POST",
        referer="https://example.org/contact/",
    )
    d.add(
        d.at(19, 18, 1),
        "203.0.113.200",
        BROWSERS["mac-safari"],
        "/contact/thanks/",
        referer="https://example.org/contact/",
    )
    d.add(d.at(20, 45), "66.249.66.1", googlebot, "/about/")
    d.add(d.at(20, 46), "66.249.66.1", googlebot, "/wp-login.php", 404, HTML)
    d.visit(d.at(21, 10), "198.51.100.9", "mac-safari", ["/blog/rust-vs-go/"], cached=True)
    d.visit(d.at(22, 30), "203.0.113.77", "android", ["/", "/blog/", "/blog/my-first-post/"])
    d.add(d.at(23, 59), "203.0.113.77", BROWSERS["android"], "/apple-touch-icon.png", 404, HTML)

    # More of the day's readers.
    d.visit(
        d.at(7, 2),
        "198.51.100.140",
        "win-edge",
        ["/blog/my-first-post/", "/blog/"],
        referer="https://www.google.com/",
    )
    d.visit(
        d.at(9, 55),
        "192.0.2.61",
        "linux-firefox",
        ["/blog/rust-vs-go/", "/about/"],
        referer="https://www.reddit.com/r/programming/",
    )
    d.visit(
        d.at(11, 20),
        "203.0.113.90",
        "iphone",
        ["/", "/projects/", "/now/"],
        referer="https://www.instagram.com/",
    )
    d.visit(
        d.at(12, 15),
        "198.51.100.33",
        "mac-safari",
        ["/?utm_source=newsletter&utm_medium=email&utm_campaign=december"],
    )
    d.visit(
        d.at(14, 25),
        "192.0.2.150",
        "android",
        ["/blog/self-hosting-email/"],
        referer="https://news.ycombinator.com/item?id=4242",
    )
    d.visit(
        d.at(16, 55),
        "203.0.113.61",
        "ipad",
        ["/blog/", "/blog/self-hosting-email/", "/blog/my-first-post/"],
        referer="https://www.google.de/",
    )
    d.visit(
        d.at(18, 40),
        "198.51.100.77",
        "win-chrome",
        ["/about/"],
        referer="https://www.linkedin.com/",
    )
    d.visit(d.at(20, 5), "192.0.2.45", "mac-firefox", ["/now/"], cached=True)
    d.visit(
        d.at(21, 40),
        "203.0.113.120",
        "samsung",
        ["/", "/blog/rust-vs-go/"],
        referer="https://www.google.com/",
    )
    d.add(d.at(22, 10), "66.249.66.1", googlebot, "/projects/")
    d.add(d.at(22, 11), "66.249.66.1", googlebot, "/now/")
    d.lines.sort(key=lambda line: line.when)
    return d.lines


def main() -> None:
    lines = build()
    out = Path(__file__).with_name("access.log")
    out.write_text("".join(line.render() + "\n" for line in lines), encoding="utf-8")
    print(f"{len(lines)} lines -> {out}")


if __name__ == "__main__":
    main()
