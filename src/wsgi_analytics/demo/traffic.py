"""Realistic demo traffic: visitors with weighted user agents, sessions that enter from search
engines and social sites and click around (their browsers pulling in each page's stylesheet,
script, image and favicon, and revalidating them on the next page), a crawler or two, feed
readers polling the RSS feed, API clients calling the JSON API with ids in its paths, scanners
probing for 404s and a spammer hammering the contact form. Deterministic for a given seed."""

from __future__ import annotations

import io
import random
import sys
from collections.abc import Callable, Iterable
from importlib.resources import files
from typing import Any, NamedTuple

from ..request.agents import default_classifier
from .site import ASSETS, ETAG, FAVICON, FEED, POSTS, route

__all__ = ["HOST", "Visit", "agents", "drive", "plan"]

HOST = "demo.example"
_SOURCES = (
    (30, ""),
    (24, "https://www.google.com/"),
    (6, "https://duckduckgo.com/"),
    (4, "https://www.bing.com/search?q=wsgi+analytics"),
    (9, "https://news.ycombinator.com/item?id=42424242"),
    (6, "https://www.reddit.com/r/Python/comments/abc/"),
    (4, "https://t.co/x2Yz"),
    (5, "https://github.com/example/wsgi-analytics"),
    (2, "https://lobste.rs/s/abcd/"),
)
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


def agents() -> list[tuple[int, str]]:
    """(weight, user agent) from the packaged traffic mix."""
    text = files("wsgi_analytics").joinpath("data/user-agents.tsv").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        weight, _, agent = line.partition("\t")
        if weight.isdigit() and agent:
            rows.append((int(weight), agent))
    return rows


def _address(rnd: random.Random, index: int) -> str:
    if index % 7 == 3:
        # IPv6 clients each in a /64 of their own: the throttle groups a /64 as one client.
        return f"2001:db8:{index:x}:{rnd.randrange(1 << 16):x}::{rnd.randrange(1, 1 << 16):x}"
    return ".".join(str(n) for n in (rnd.randint(11, 223), *rnd.choices(range(256), k=3)))


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
        (_address(rnd, i), rnd.choices([a for _, a in humans], [w for w, _ in humans])[0])
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
        client, agent = rnd.choices(people, activity)[0]
        if roll < 0.28:  # anything from the mix, bots included, crawling without a referrer
            agent = rnd.choices(uas, weights)[0]
        browser = classify(agent, "", "").bot is None  # crawlers fetch no assets
        cached = False
        path, referrer = (
            _entry(rnd),
            rnd.choices([s for _, s in _SOURCES], [w for w, _ in _SOURCES])[0],
        )
        for _ in range(rnd.choice([1, 1, 2, 2, 3, 4])):
            page = Visit("GET", path, referrer, agent, client)
            visits.append(page)
            if path == "/about":  # the browser follows the redirect
                page = Visit("GET", "/about/", referrer, agent, client)
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
            referrer = f"https://{HOST}{path}"
            path = rnd.choice(["/", _post(rnd), _post(rnd), "/blog/", "/about/", "/contact"])
    visits = visits[: requests - spam]
    spammer = Visit("POST", "/contact", "", people[0][1], _address(rnd, 1))
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
        "QUERY_STRING": "",
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
