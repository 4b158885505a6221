"""Run by `test_memory_bound` in a process of its own: hammer a `WSGIAnalytics` app whose
Redis is stalled with requests carrying four-byte characters in every header, and print what
the process's memory did as one JSON line.

    python -m tests.memory_child REDIS_URL SECONDS LIMIT_MB

It stops early once its RSS has grown by more than ``LIMIT_MB`` (the test fails then), so that
an unbounded buffer cannot take the machine down with it.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from typing import Any

from wsgi_analytics import WSGIAnalytics

# One four-byte character as a WSGI server hands it over: its UTF-8 bytes as latin-1 text.
WIDE = "\U0001f600".encode().decode("latin-1")
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36 "


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/html")])
    return [b"hello"]


def environ(number: int) -> dict[str, Any]:
    """A page view whose every header is long and distinct, so every member is new."""
    tag = f"{number:x}"
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": f"/{tag}/" + WIDE * 600,
        "HTTP_HOST": tag + WIDE * 600,
        "HTTP_REFERER": f"https://{tag}.example/" + WIDE * 3000,
        "HTTP_USER_AGENT": AGENT + tag + WIDE * 600,
        "HTTP_X_FORWARDED_FOR": WIDE * 2000 + f", 198.51.{number % 256}.{number // 256 % 256}",
        "HTTP_SEC_CH_UA_PLATFORM": WIDE * 100,
        "HTTP_SEC_CH_UA_MOBILE": WIDE * 10,
        "QUERY_STRING": f"utm_source={tag}&q=" + WIDE * 1200,
        "REMOTE_ADDR": "192.0.2.1",
        "wsgi.url_scheme": "http",
    }


def main() -> None:
    url, seconds, limit = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    app = WSGIAnalytics(hello, redis_url=url, trusted_proxies=1)

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        return None

    for number in range(200):  # warm up: imports, parser caches, the flusher thread
        body = app(environ(number), start_response)
        body.close()  # type: ignore[attr-defined]
    time.sleep(0.5)
    before = rss_mb()
    peak = before
    start = time.monotonic()
    requests = 0
    for number in itertools.count(1000):
        body = app(environ(number), start_response)
        body.close()  # type: ignore[attr-defined]
        requests += 1
        if requests % 500 == 0:
            peak = max(peak, rss_mb())
            if peak - before > limit or time.monotonic() - start > seconds:
                break
    recorder = app.recorder
    print(
        json.dumps(
            {
                "requests": requests,
                "seconds": time.monotonic() - start,
                "rss_before_mb": round(before, 1),
                "rss_peak_mb": round(peak, 1),
                "grown_mb": round(peak - before, 1),
                "dropped": recorder.dropped,
                "pending": recorder.pending,
            }
        ),
        flush=True,
    )
    # Leave at once: the final flush would only wait on the stalled server.
    os._exit(0)


if __name__ == "__main__":
    main()
