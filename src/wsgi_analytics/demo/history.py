"""Simulated past days for the demo, so that the 7- and 30-day views have a shape to show.

Each past day gets its own batch of planned visits, answered by the sample site's pure `route`
at hours that follow a daily rhythm, and counted by the recorder's own parts: `Pending`
aggregates them, `Writer` writes them (the same keys, salts, expiries and trims as live
traffic). Today is never touched: today's numbers are exactly what the demo sent through the
middleware.
"""

from __future__ import annotations

import math
import random
from collections import deque

from .. import connection
from ..keys import Keys
from ..recording.pending import Pending, pack
from ..recording.rules import Event, Setup
from ..recording.writer import Writer
from ..request.agents import default_classifier
from ..request.clock import SiteClock
from ..request.facts import from_environ
from ..request.geo import open_countries
from ..request.identity import client_identity
from .site import API_TEMPLATES, api_template, content_type, route
from .traffic import Visit, environ, plan

__all__ = ["backfill"]

RETENTION_DAYS = 90
# Share of a day's traffic by local hour: quiet nights, a morning climb, an evening peak.
_RHYTHM = [0.25 + math.sin(math.pi * max(0.0, (h - 5) / 19)) ** 2 for h in range(24)]


def _seconds(rnd: random.Random, visit: Visit, template: str | None) -> float:
    """A plausible response time: files and 304s fast, pages a few ms, the API's list slower,
    with the long right tail real servers have."""
    if template == API_TEMPLATES[0]:
        median = 0.009
    elif template is not None:
        median = 0.0025
    elif visit.etag or "." in visit.path.rpartition("/")[2]:
        median = 0.0004
    else:
        median = 0.003 if visit.method == "GET" else 0.006
    return rnd.lognormvariate(math.log(median), 0.6)


def backfill(
    client: connection.Client,
    prefix: str,
    days: int,
    per_day: int,
    seed: int,
    *,
    timezone: str = "UTC",
) -> int:
    """Write ``days`` simulated days before today in ``timezone`` (about ``per_day`` requests
    each, with countries from the bundled data, like the demo's recorder); returns the number
    of simulated requests."""
    classify, rnd = default_classifier(), random.Random(seed)
    clock = SiteClock(timezone)
    countries = open_countries()
    setup = Setup(clock, countries.lookup if countries is not None else None)
    writer = Writer(
        client, Keys(prefix), retention_days=RETENTION_DAYS, max_members=10_000, clock=clock
    )
    first = clock.today()
    sent = 0
    for offset in range(1, days + 1):
        day = first - offset
        weekend = day % 7 in (2, 3)  # day 0 (1970-01-01) was a Thursday
        growth = 1.0 - offset / (days * 2.2)
        volume = int(per_day * growth * (0.62 if weekend else 1.0) * rnd.uniform(0.85, 1.15))
        events: deque[bytes] = deque()  # as the recorder queues them (`pending.pack`)
        for visit in plan(volume, seed + offset):
            facts = from_environ(environ(visit))
            status_line, headers, _ = route(visit.method, visit.path, visit.etag)
            template = api_template(visit.path)
            hour = rnd.choices(range(24), _RHYTHM)[0]
            # Local hours (a day of 23 hours has its last one twice: never past its end).
            start, end = clock.day_start(day), clock.day_end(day)
            when = min(start + hour * 3600 + rnd.randrange(3600), end - 1)
            events.append(
                pack(
                    Event(
                        when,
                        facts,
                        int(status_line[:3]),
                        False,
                        client_identity(facts.client, facts.forwarded_for),
                        content_type(headers),
                        template,
                        _seconds(rnd, visit, template),
                    )
                )
            )
        pending = Pending(max_pending=len(events) * 16 + 100, setup=setup)
        pending.drain(events, classify)
        writer.write(pending)
        sent += volume
    return sent
