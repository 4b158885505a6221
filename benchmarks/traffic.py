"""A realistic, reproducible request stream: the shared agent mix, Zipf paths, referrers, clients.

The same stream feeds the in-process benchmarks (as WSGI environs and ASGI scopes), the Redis-load
and memory benchmarks, and the HTTP benchmarks (as a ``wrk`` Lua script).
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from wsgi_analytics.demo.traffic import agents

__all__ = [
    "Request",
    "asgi_scope",
    "distinct_agents",
    "load_agents",
    "stream",
    "wrk_script",
    "wsgi_environ",
]

HOST = "shop.example.com"
# (weight, referrer): most page views come from nowhere, a search engine or inside the site.
REFERRERS: tuple[tuple[int, str], ...] = (
    (45, ""),
    (20, "https://www.google.com/"),
    (15, f"https://{HOST}/"),
    (5, "https://www.bing.com/search?q=shop"),
    (4, "https://duckduckgo.com/"),
    (3, "https://news.ycombinator.com/item?id=1"),
    (3, "https://t.co/abc123"),
    (2, "https://www.reddit.com/r/python/"),
    (2, "android-app://com.google.android.gm/"),
    (1, "https://lobste.rs/"),
)
_SECTIONS = ("blog", "products", "docs", "tags", "users")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    agent: str
    referrer: str
    client: str


def load_agents() -> list[tuple[int, str]]:
    """The shared mix: (weight, user agent), read as the demo reads it."""
    return agents()


def _path(rank: int) -> str:
    if rank == 0:
        return "/"
    section = _SECTIONS[rank % len(_SECTIONS)]
    return f"/{section}/item-{rank}/"


def _weighted(
    pairs: Sequence[tuple[int, str]],
) -> tuple[list[float], list[str]]:
    cumulative = list(itertools.accumulate(float(weight) for weight, _ in pairs))
    return cumulative, [value for _, value in pairs]


def stream(
    count: int,
    *,
    distinct_paths: int = 1000,
    zipf: float = 1.1,
    seed: int = 1,
    post_share: float = 0.0,
) -> Iterator[Request]:
    """``count`` requests; path rank ``k`` has weight ``1 / (k + 1) ** zipf``."""
    rng = random.Random(seed)
    agent_cum, agents = _weighted(load_agents())
    ref_cum, referrers = _weighted(REFERRERS)
    path_cum = list(itertools.accumulate(1.0 / (k + 1) ** zipf for k in range(distinct_paths)))
    total_agents, total_refs, total_paths = agent_cum[-1], ref_cum[-1], path_cum[-1]
    for _ in range(count):
        rank = bisect.bisect_left(path_cum, rng.random() * total_paths)
        agent = agents[bisect.bisect_left(agent_cum, rng.random() * total_agents)]
        referrer = referrers[bisect.bisect_left(ref_cum, rng.random() * total_refs)]
        client = f"198.51.{rng.randrange(100)}.{rng.randrange(1, 255)}"
        method = "POST" if post_share and rng.random() < post_share else "GET"
        query = "utm_source=news" if rng.random() < 0.05 else ""
        yield Request(method, _path(min(rank, distinct_paths - 1)), query, agent, referrer, client)


def distinct_agents(count: int, seed: int = 7) -> list[str]:
    """``count`` distinct, real-looking agents: the shared mix with version numbers varied."""
    rng = random.Random(seed)
    base = [agent for _, agent in load_agents()]
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        agent = base[len(out) % len(base)]
        major = rng.randrange(60, 140)
        build = rng.randrange(1000, 7000)
        varied = (
            agent.replace("131.0.0.0", f"{major}.0.{build}.{rng.randrange(200)}")
            .replace("133.0", f"{major}.0")
            .replace("18_1", f"{rng.randrange(12, 19)}_{rng.randrange(8)}")
            .replace("Android 10", f"Android {rng.randrange(8, 16)}")
        )
        if varied == agent:
            varied = f"{agent} build/{build}"
        if varied not in seen:
            seen.add(varied)
            out.append(varied)
    return out


def _latin1(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


def wsgi_environ(request: Request) -> dict[str, Any]:
    """An environ the way gunicorn builds one (the headers a browser sends, PEP 3333 strings)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": _latin1(request.path),
        "QUERY_STRING": request.query,
        "RAW_URI": request.path + ("?" + request.query if request.query else ""),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "0.0.0.0",
        "SERVER_PORT": "8000",
        "SERVER_SOFTWARE": "gunicorn/23.0.0",
        "REMOTE_ADDR": request.client,
        "REMOTE_PORT": "51234",
        "HTTP_HOST": HOST,
        "HTTP_USER_AGENT": request.agent,
        "HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.5",
        "HTTP_ACCEPT_ENCODING": "gzip, deflate, br",
        "HTTP_CONNECTION": "keep-alive",
        "HTTP_UPGRADE_INSECURE_REQUESTS": "1",
        "HTTP_SEC_FETCH_DEST": "document",
        "HTTP_SEC_FETCH_MODE": "navigate",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
        "wsgi.errors": None,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if request.referrer:
        environ["HTTP_REFERER"] = request.referrer
    return environ


def asgi_scope(request: Request) -> dict[str, Any]:
    """An HTTP scope the way uvicorn builds one, headers in the order browsers send them."""
    headers = [
        (b"host", HOST.encode()),
        (b"user-agent", request.agent.encode()),
        (b"accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        (b"accept-language", b"en-US,en;q=0.5"),
        (b"accept-encoding", b"gzip, deflate, br"),
    ]
    if request.referrer:
        headers.append((b"referer", request.referrer.encode()))
    headers += [
        (b"connection", b"keep-alive"),
        (b"upgrade-insecure-requests", b"1"),
        (b"sec-fetch-dest", b"document"),
        (b"sec-fetch-mode", b"navigate"),
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": (request.client, 51234),
        "scheme": "http",
        "method": request.method,
        "root_path": "",
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": request.query.encode(),
        "headers": headers,
        "state": {},
    }


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_script(count: int = 2000, *, distinct_paths: int = 1000, seed: int = 1) -> str:
    """A ``wrk`` Lua script cycling through ``count`` requests of the stream (per thread)."""
    rows = []
    for request in stream(count, distinct_paths=distinct_paths, seed=seed):
        target = request.path + ("?" + request.query if request.query else "")
        rows.append(
            f"{{{_lua_string(target)}, {_lua_string(request.agent)}, "
            f"{_lua_string(request.referrer)}}}"
        )
    body = ",\n".join(rows)
    return f"""-- generated by benchmarks/traffic.py: a rotating stream of paths, agents, referrers
local rows = {{
{body}
}}
local n = #rows
local i = 0
init = function(args)
  i = math.random(n) - 1
end
request = function()
  i = i % n + 1
  local row = rows[i]
  local headers = {{["Host"] = "{HOST}", ["User-Agent"] = row[2], ["Accept"] = "text/html"}}
  if row[3] ~= "" then headers["Referer"] = row[3] end
  return wrk.format("GET", row[1], headers)
end
"""
