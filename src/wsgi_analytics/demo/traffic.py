"""Realistic demo traffic: visitors from several countries with weighted user agents, sessions
that enter from search engines (Google in the visitor's own country), social and news sites and
a newsletter's and an ad campaign's tagged links, and click around (their browsers pulling in
each page's stylesheet,
script, image and favicon, and revalidating them on the next page), a crawler or two, feed
readers polling the RSS feed, API clients calling the JSON API with ids in its paths, scanners
probing for 404s and a spammer hammering the contact form. Deterministic for a given seed."""

from __future__ import annotations

import io
import ipaddress
import random
import sys
from collections.abc import Callable, Iterable
from importlib.resources import files
from typing import Any, NamedTuple

from ..request.agents import default_classifier
from .site import ASSETS, ETAG, FAVICON, FEED, POSTS, route

__all__ = ["HOST", "Visit", "agents", "drive", "plan"]

HOST = "demo.example"
_GOOGLE = "google"  # stands for the Google of the visitor's country (see _GOOGLES)
# (weight, referrer, query string of the landing URL)
_SOURCES = (
    (26, "", ""),
    (24, _GOOGLE, ""),
    (5, "https://duckduckgo.com/", ""),
    (3, "https://www.bing.com/search?q=wsgi+analytics", ""),
    (8, "https://news.ycombinator.com/item?id=42424242", ""),
    (4, "https://www.reddit.com/r/Python/comments/abc/", ""),
    (2, "https://old.reddit.com/r/django/comments/xyz/", ""),
    (3, "https://t.co/x2Yz", ""),
    (4, "https://github.com/example/wsgi-analytics", ""),
    (2, "https://lobste.rs/s/abcd/", ""),
    (2, "https://chatgpt.com/", ""),
    # The monthly newsletter's links (webmail sends no referrer).
    (6, "", "utm_source=newsletter&utm_medium=email&utm_campaign=december-digest"),
    (1, "", "utm_source=newsletter&utm_medium=email&utm_campaign=november-digest"),
    # A search ad, and a promoted post.
    (
        3,
        _GOOGLE,
        "utm_source=google&utm_medium=cpc&utm_campaign=launch&utm_term=wsgi+analytics"
        "&gclid=Cj0KCQiA",
    ),
    (2, "https://t.co/ad", "utm_source=twitter&utm_medium=social&utm_campaign=launch"),
)
# Where visitors come from: (weight, country, IPv4 blocks, IPv6 blocks), each block assigned to
# that country in the registries' data (iptocc), so the Countries panel reads like a real site's.
_COUNTRIES = (
    (30, "US", ("73.0.0.0/8", "24.0.0.0/12"), ("2600:1700::/28",)),
    (12, "DE", ("84.128.0.0/10",), ("2003::/19",)),
    (10, "GB", ("81.128.0.0/11", "86.128.0.0/10"), ()),
    (9, "FR", ("90.0.0.0/11", "92.128.0.0/10"), ("2a01:cb00::/24",)),
    (8, "IN", ("117.192.0.0/10",), ()),
    (6, "JP", ("153.128.0.0/11",), ("2400:4050::/28",)),
    (5, "BR", ("177.32.0.0/11",), ()),
    (4, "CA", ("70.24.0.0/13",), ()),
    (4, "NL", ("77.160.0.0/12",), ()),
    (3, "AU", ("1.128.0.0/11",), ()),
    (3, "ES", ("83.32.0.0/11",), ()),
)
_GOOGLES = {
    "DE": "https://www.google.de/",
    "GB": "https://www.google.co.uk/",
    "FR": "https://www.google.fr/",
    "IN": "https://www.google.co.in/",
    "JP": "https://www.google.co.jp/",
    "BR": "https://www.google.com.br/",
    "CA": "https://www.google.ca/",
    "NL": "https://www.google.nl/",
    "AU": "https://www.google.com.au/",
    "ES": "https://www.google.es/",
}
_SCANS = ("/wp-login.php", "/.env", "/xmlrpc.php", "/admin/", "/.git/config", "/phpmyadmin/")
_TYPOS = ("/blog/hello-wrld/", "/old-blog/", "/about-us/", "/rss/", "/apple-touch-icon.png")
# Feed readers poll the feed; ua-parser names few of them, the middleware names them all.
_FEED_READERS = (
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 5 subscribers; )",
    "NewsBlur Feed Fetcher - 12 subscribers - https://www.newsblur.com/site/1/demo",
    "Mozilla/5.0 (compatible; Feedbin feed-id:12345 - 7 subscribers)",
    "Tiny Tiny RSS/22.08 (Unsupported) (https://tt-rss.org/)",
    "FeedBurner/1.0 (http://www.FeedBurner.com)",
)
_API_CLIENTS = ("python-requests/2.32.3", "curl/8.5.0", "okhttp/4.12.0", "Go-http-client/1.1")


class Visit(NamedTuple):
    """One request to send."""

    method: str
    path: str
    referrer: str
    agent: str
    client: str
    etag: str = ""  # sent as If-None-Match: the browser has the file cached
    query: str = ""  # the landing URL's query string (campaign tags)


def agents() -> list[tuple[int, str]]:
    """(weight, user agent) from the packaged traffic mix."""
    text = files("wsgi_analytics").joinpath("data/user-agents.tsv").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        weight, _, agent = line.partition("\t")
        if weight.isdigit() and agent:
            rows.append((int(weight), agent))
    return rows


def _located(rnd: random.Random, index: int) -> tuple[str, str]:
    """A client address in a block of some country, and that country."""
    _, country, ipv4, ipv6 = rnd.choices(_COUNTRIES, [row[0] for row in _COUNTRIES])[0]
    if ipv6 and index % 7 == 3:
        # IPv6 clients each in a /64 of their own: the throttle groups a /64 as one client.
        network = ipaddress.IPv6Network(rnd.choice(ipv6))
        host = rnd.randrange(1 << 64) << 64 | rnd.randrange(1, 1 << 16)
        return str(network.network_address + host % network.num_addresses), country
    network4 = ipaddress.IPv4Network(rnd.choice(ipv4))
    return str(network4.network_address + rnd.randrange(1, network4.num_addresses - 1)), country


def _address(rnd: random.Random, index: int) -> str:
    return _located(rnd, index)[0]


def _post(rnd: random.Random) -> str:
    weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(POSTS))]  # Zipf-ish popularity
    return f"/blog/{rnd.choices(POSTS, weights)[0]}/"


def _entry(rnd: random.Random) -> str:
    return rnd.choices(["/", _post(rnd), "/about", "/blog/", "/contact"], [30, 55, 5, 8, 2])[0]


def _assets(page: Visit, cached: bool) -> list[Visit]:
    """What a browser fetches after a page: its assets (and the favicon on a first page), or,
    once it has them, their revalidations (``If-None-Match``: answered 304)."""
    referrer = f"https://{HOST}{page.path}"
    if cached:
        return [Visit("GET", path, referrer, page.agent, page.client, ETAG) for path in ASSETS]
    return [Visit("GET", path, referrer, page.agent, page.client) for path in (*ASSETS, FAVICON)]


def _api_calls(rnd: random.Random, client: str) -> list[Visit]:
    """An API client's calls: the list, a few posts by id (some that do not exist), comments."""
    agent = rnd.choice(_API_CLIENTS)
    calls = [Visit("GET", "/api/posts", "", agent, client)]
    for _ in range(rnd.randint(1, 4)):
        post = rnd.randint(1, len(POSTS) + 3)  # a few ids past the last post: 404
        calls.append(Visit("GET", f"/api/posts/{post}", "", agent, client))
        if rnd.random() < 0.3:
            calls.append(Visit("GET", f"/api/posts/{post}/comments", "", agent, client))
    return calls


def plan(requests: int, seed: int) -> list[Visit]:
    """``requests`` visits, in order."""
    rnd = random.Random(seed)
    mix = agents()
    classify = default_classifier()
    humans = [(w, a) for w, a in mix if classify(a, "", "").bot is None]
    people = [
        (*_located(rnd, i), rnd.choices([a for _, a in humans], [w for w, _ in humans])[0])
        for i in range(max(8, requests // 5))
    ]
    activity = [1.0 / (rank + 1) ** 0.6 for rank in range(len(people))]
    weights, uas = [w for w, _ in mix], [a for _, a in mix]
    visits: list[Visit] = []
    # The spammer: more POSTs to the contact form than the throttle allows.
    spam = min(requests // 2, max(8, requests // 40))
    while len(visits) < requests - spam:
        roll = rnd.random()
        if roll < 0.05:  # a scanner or a stale link
            path = rnd.choice(_SCANS if rnd.random() < 0.6 else _TYPOS)
            visits.append(Visit("GET", path, "", rnd.choices(uas, weights)[0], _address(rnd, 0)))
            continue
        if roll < 0.08:  # a feed reader polls the feed
            visits.append(Visit("GET", FEED, "", rnd.choice(_FEED_READERS), _address(rnd, 2)))
            continue
        if roll < 0.16:  # an API client
            visits += _api_calls(rnd, _address(rnd, 4))
            continue
        client, country, agent = rnd.choices(people, activity)[0]
        if roll < 0.28:  # anything from the mix, bots included, crawling without a referrer
            agent = rnd.choices(uas, weights)[0]
        browser = classify(agent, "", "").bot is None  # crawlers fetch no assets
        cached = False
        path = _entry(rnd)
        _, referrer, query = rnd.choices(_SOURCES, [row[0] for row in _SOURCES])[0]
        if referrer == _GOOGLE:
            referrer = _GOOGLES.get(country, "https://www.google.com/")
        for _ in range(rnd.choice([1, 1, 2, 2, 3, 4])):
            page = Visit("GET", path, referrer, agent, client, query=query)
            visits.append(page)
            if path == "/about":  # the browser follows the redirect (and keeps the tags)
                page = Visit("GET", "/about/", referrer, agent, client, query=query)
                visits.append(page)
            elif path == "/contact" and rnd.random() < 0.4:
                if browser:
                    visits += _assets(page, cached)
                    cached = True
                page = Visit("POST", "/contact", f"https://{HOST}/contact", agent, client)
                visits.append(page)
            if browser and route(page.method, page.path)[0].startswith("200"):
                visits += _assets(page, cached)
                cached = True
            referrer, query = f"https://{HOST}{path}", ""
            path = rnd.choice(["/", _post(rnd), _post(rnd), "/blog/", "/about/", "/contact"])
    visits = visits[: requests - spam]
    spammer = Visit("POST", "/contact", "", people[0][2], _address(rnd, 1))
    for _ in range(spam):
        visits.insert(rnd.randrange(len(visits) + 1), spammer)
    return visits


def environ(visit: Visit) -> dict[str, Any]:
    """A WSGI environ as a server would build it for ``visit``."""
    body = b"m=Buy+cheap+watches" if visit.method == "POST" else b""
    env: dict[str, Any] = {
        "REQUEST_METHOD": visit.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": visit.path,
        "QUERY_STRING": visit.query,
        "SERVER_NAME": HOST,
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": visit.client,
        "HTTP_HOST": HOST,
        "HTTP_USER_AGENT": visit.agent,
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "CONTENT_TYPE": "application/x-www-form-urlencoded" if body else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if visit.referrer:
        env["HTTP_REFERER"] = visit.referrer
    if visit.etag:
        env["HTTP_IF_NONE_MATCH"] = visit.etag
    return env


def drive(
    app: Callable[..., Iterable[bytes]],
    visits: list[Visit],
    progress: Callable[[int], None] = lambda done: None,
) -> list[int]:
    """Send every visit through the WSGI ``app`` in-process; the status codes it answered."""
    statuses: list[int] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(int(status[:3]))
        return lambda data: None

    for done, visit in enumerate(visits, 1):
        body = app(environ(visit), start_response)
        try:
            for _ in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()  # the middleware counts the request when its body is closed
        progress(done)
    return statuses
