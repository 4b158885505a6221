"""Simulated past days for the demo, so that the 7- and 30-day views have a shape to show.

Each past day gets its own batch of planned visits, answered by the sample site's pure `route`
and counted by the same pure `increments` the recorder uses, at hours that follow a daily
rhythm; the counts are written with the recorder's key layout and expiry. Today is never
touched: today's numbers are exactly what the demo sent through the middleware.
"""

from __future__ import annotations

import math
import random
from collections import Counter

from .. import connection
from ..keys import Keys, today
from ..recording.rules import Event, increments, viewed
from ..request.agents import default_classifier
from ..request.facts import from_environ
from .site import API_TEMPLATES, api_template, content_type, route
from .traffic import Visit, environ, plan

__all__ = ["backfill"]

RETENTION_DAYS = 90
# Share of a day's traffic by UTC hour: quiet nights, a morning climb, an evening peak.
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


def backfill(client: connection.Client, prefix: str, days: int, per_day: int, seed: int) -> int:
    """Write ``days`` simulated days before today (about ``per_day`` requests each); returns
    the number of simulated requests."""
    keys, classify, rnd = Keys(prefix), default_classifier(), random.Random(seed)
    first = today()
    sent = 0
    for offset in range(1, days + 1):
        day = first - offset
        weekend = day % 7 in (2, 3)  # day 0 (1970-01-01) was a Thursday
        growth = 1.0 - offset / (days * 2.2)
        volume = int(per_day * growth * (0.62 if weekend else 1.0) * rnd.uniform(0.85, 1.15))
        counts: Counter[tuple[str, str]] = Counter()
        visitors: set[str] = set()
        for visit in plan(volume, seed + offset):
            facts = from_environ(environ(visit))
            status_line, headers, _ = route(visit.method, visit.path, visit.etag)
            template = api_template(visit.path)
            hour = day * 24 + rnd.choices(range(24), _RHYTHM)[0]
            agent = classify(facts.user_agent, facts.ch_platform, facts.ch_mobile)
            event = Event(
                hour,
                facts,
                int(status_line[:3]),
                False,
                0,
                content_type(headers),
                template,
                _seconds(rnd, visit, template),
            )
            counts.update(increments(event, agent))
            if viewed(event, agent):
                visitors.add(f"{offset}:{visit.client}:{visit.agent}")
        pipe = client.pipeline(transaction=False)
        expiring: set[str] = set()
        for (dimension, member), amount in counts.items():
            for key in keys.targets(dimension, day):
                pipe.zincrby(key, amount, member)
                if not key.endswith(":all"):
                    expiring.add(key)
        if visitors:
            pipe.pfadd(keys.uniques(day), *visitors)
            pipe.pfadd(keys.uniques(None), *visitors)
            expiring.add(keys.uniques(day))
        for key in expiring:
            pipe.expireat(key, (day + 1 + RETENTION_DAYS) * 86400)
        pipe.execute()
        sent += volume
    return sent
