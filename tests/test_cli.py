"""The command line against a real server: report text and JSON with exact numbers, one-line
errors with their exit codes, and the demo's counts matching what it sent."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
import redis

from wsgi_analytics.cli import main
from wsgi_analytics.embedded import free_port
from wsgi_analytics.keys import Keys, day_label, today
from wsgi_analytics.reading.stats import PAGE_VIEW_DIMENSIONS, Stats
from wsgi_analytics.recording.recorder import Recorder
from wsgi_analytics.request.facts import from_environ

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)


def request(
    recorder: Recorder, path: str, agent: str = FIREFOX, status: int = 200, referrer: str = ""
) -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "HTTP_HOST": "example.org",
        "HTTP_USER_AGENT": agent,
        "HTTP_REFERER": referrer,
        "REMOTE_ADDR": "198.51.100.7",
    }
    recorder.record(from_environ(environ), status, content_type="text/html; charset=utf-8")


@pytest.fixture
def recorded(client: redis.Redis, redis_url: str) -> str:
    """Today: 3x /, 1x /about/ (from an iPhone, via Google), a 404, a curl request."""
    recorder = Recorder(redis_url)
    for _ in range(3):
        request(recorder, "/")
    request(recorder, "/about/", agent=IPHONE, referrer="https://www.google.com/search")
    request(recorder, "/missing", status=404)
    request(recorder, "/", agent="curl/8.5.0")
    recorder.close()
    return redis_url


def lines_of(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def test_report_text(recorded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--redis-url", recorded]) == 0
    out = capsys.readouterr().out
    lines = lines_of(out)
    assert "page views 4" in lines
    assert "uniques 2 (approximate)" in lines
    assert "/ 3 75.0% ████████████████" in lines
    assert "/about/ 1 25.0% █████" in lines
    assert "google.com 1 25.0% █████" in lines
    assert "(direct) 3 75.0% ████████████████" in lines
    assert "Mobile Safari 1 25.0% █████" in lines
    assert "mobile 1 25.0% █████" in lines
    assert "curl 1 100.0% ████████████████" in lines
    assert "/missing 1 100.0% ████████████████" in lines
    assert "200 5 83.3% ████████████████" in lines
    assert "404 1 16.7% ███" in lines
    titles = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert [t.split("  ")[0] for t in titles[1:]] == [
        "Pages",
        "Referrers",
        "Sources",
        "Channels",
        "Campaign sources",
        "Campaign media",
        "Campaigns",
        "Campaign contents",
        "Campaign terms",
        "Browsers",
        "Platforms",
        "Devices",
        "Countries",
        "Bots",
        "Not found (404)",
        "Status codes",
        "Throttled (429)",
        "Endpoints",
    ]
    # Every request has a route; the 404 matched none. (Recorded without durations: the
    # sketch's floor, 10 µs, shown to two digits rather than as 0.0.)
    assert "GET / 4 0 0 0.01 0.01 0.01" in lines
    assert "GET (unmatched) 1 1 0 0.01 0.01 0.01" in lines


def test_report_columns_are_aligned(recorded: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["report", "--redis-url", recorded])
    rows = [line for line in capsys.readouterr().out.splitlines() if "%" in line]
    assert len({line.index("%") for line in rows}) == 1


def test_report_limit_shows_the_rest(recorded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--redis-url", recorded, "--limit", "1"]) == 0
    assert "(1 more) 1" in lines_of(capsys.readouterr().out)


def test_report_json(recorded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--redis-url", recorded, "--json", "--days", "7"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {
        "schema",
        "prefix",
        "days",
        "dates",
        "first",
        "last",
        "zone",
        "clipped",
        "generated_at",
        "page_views",
        "uniques",
        "where",
        "previous",
        "live",
        "series",
        "dimensions",
        "routes",
    }
    assert (document["schema"], document["days"], document["prefix"]) == (1, 7, "analytics")
    assert (document["page_views"], document["uniques"]) == (4, 2)
    assert document["series"]["unit"] == "day"
    assert len(document["series"]["points"]) == 7
    assert document["series"]["points"][-1]["count"] == 4
    paths = document["dimensions"]["paths"]
    assert paths == {
        "total": 4,
        "distinct": 2,
        "rows": [
            {"member": "/", "count": 3, "share": 0.75},
            {"member": "/about/", "count": 1, "share": 0.25},
        ],
    }
    assert document["dimensions"]["statuses"]["rows"] == [
        {"member": "200", "count": 5, "share": 0.8333},
        {"member": "404", "count": 1, "share": 0.1667},
    ]
    assert document["dimensions"]["throttled"] == {"total": 0, "distinct": 0, "rows": []}


def test_report_all_time(recorded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--redis-url", recorded, "--all", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["days"] is None
    assert document["page_views"] == 4


def test_report_shows_custom_dimensions(recorded: str, capsys: pytest.CaptureFixture[str]) -> None:
    recorder = Recorder(recorded)
    recorder.track("signups", "newsletter", 2)
    recorder.close()
    assert main(["report", "--redis-url", recorded]) == 0
    assert "newsletter 2 100.0% ████████████████" in lines_of(capsys.readouterr().out)


def test_report_escapes_control_characters(
    client: redis.Redis, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = Recorder(redis_url)
    request(recorder, "/\x1b[2Jgotcha")
    recorder.close()
    assert main(["report", "--redis-url", redis_url]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "/\\x1b[2Jgotcha" in out


# Members a terminal would act on: C1 CSI (one byte, "\x9b2J" clears many terminals), a bidi
# override, a line separator, DEL, ESC, a tag character; and text that must stay readable.
HOSTILE = [
    "/\x9b2Jcsi",
    "/\u202egnp.exe",
    "/line\u2028break",
    "/del\x7f",
    "/esc\x1b[31m",
    "/tag\U000e0041",
    "/nbsp\u00a0",
]
READABLE = "/café/日本"


def test_report_json_escapes_what_a_terminal_obeys(
    client: redis.Redis, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = Recorder(redis_url)
    for path in [*HOSTILE, READABLE]:
        request(recorder, path.encode().decode("latin-1"))  # PATH_INFO as a server gives it
    recorder.close()
    assert main(["report", "--redis-url", redis_url, "--json", "--limit", "20"]) == 0
    out = capsys.readouterr().out
    assert [c for c in out if not c.isprintable() and c != "\n"] == []
    for escaped in ("\\u009b2J", "\\u202e", "\\u2028", "\\u007f", "\\u001b", "\\udb40\\udc41"):
        assert escaped in out
    assert READABLE in out  # not \u-escaped: only what is unsafe
    rows = json.loads(out)["dimensions"]["paths"]["rows"]
    assert sorted(row["member"] for row in rows) == sorted([*HOSTILE, READABLE])
    # The text report escapes the same characters.
    assert main(["report", "--redis-url", redis_url, "--limit", "20"]) == 0
    text = capsys.readouterr().out
    assert [c for c in text if not c.isprintable() and c != "\n"] == []
    assert "/\\x9b2Jcsi" in text
    assert READABLE in text


def closed_port_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        pytest.param(
            ["report", "--redis-url", closed_port_url()],
            1,
            r"^wsgi-analytics: cannot reach Redis at redis://127\.0\.0\.1:\d+/0: .*refused",
            id="unreachable",
        ),
        pytest.param(
            ["report", "--redis-url", "http://localhost:6379"],
            2,
            r"^wsgi-analytics: unknown Redis URL scheme 'http'",
            id="bad scheme",
        ),
        pytest.param(
            ["report", "--redis-url", "redis://localhost:notaport/0"],
            2,
            r"^wsgi-analytics: Port could not be cast to integer",
            id="bad port",
        ),
        pytest.param(
            ["report", "--redis-url", "redis://:secret@127.0.0.1:1/0"],
            1,
            r"^wsgi-analytics: cannot reach Redis at redis://\*\*\*@127\.0\.0\.1:1/0",
            id="password hidden",
        ),
        pytest.param(
            ["dashboard", "--redis-url", closed_port_url()],
            1,
            r"^wsgi-analytics: cannot reach Redis",
            id="dashboard unreachable",
        ),
    ],
)
def test_errors_are_one_line(
    argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1
    assert re.search(message, captured.err)


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        pytest.param(
            ["--prefix", "nobody"],
            1,
            r"^wsgi-analytics: nothing recorded under prefix 'nobody' at redis://",
            id="unknown prefix",
        ),
        pytest.param(
            ["--prefix", "bad prefix"], 2, r"^wsgi-analytics: invalid prefix", id="bad prefix"
        ),
    ],
)
def test_prefix_errors(
    recorded: str, extra: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--redis-url", recorded, *extra]) == code
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert re.search(message, err)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["report", "--days", "0"], id="days 0"),
        pytest.param(["report", "--days", "7", "--all"], id="days and all"),
        pytest.param(["report", "--limit", "x"], id="limit"),
        pytest.param(["dashboard", "--port", "70000"], id="port"),
        pytest.param([], id="no command"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_dashboard_refuses_half_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--username", "admin"]) == 2
    assert "--username and --password go together" in capsys.readouterr().err


def test_python_dash_m(recorded: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "wsgi_analytics", "report", "--redis-url", recorded, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["page_views"] == 4


def test_python_dash_m_error_has_no_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "wsgi_analytics", "report", "--redis-url", closed_port_url()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("wsgi-analytics: cannot reach Redis")
    assert "Traceback" not in done.stderr


def test_demo_counts_match_what_it_sent(
    client: redis.Redis, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--redis-url", redis_url, "--no-serve", "--requests", "500"]) == 0
    out = capsys.readouterr().out
    sent = re.search(
        r"Sent 500 requests from [\d,]+ clients: ([\d,]+) page views, ([\d,]+) not found, "
        r"([\d,]+) refused by the throttle, ([\d,]+) from bots\.",
        out,
    )
    assert sent is not None, out
    page_views, not_found, refused, bots = (int(n.replace(",", "")) for n in sent.groups())
    printed = re.search(r"^  page views\s+([\d,]+)$", out, re.M)
    assert printed is not None
    assert int(printed.group(1).replace(",", "")) == page_views
    assert "Check: the report matches the traffic sent." in out
    # Read back independently of the demo's own check.
    with Stats(client=client, prefix="demo") as stats:
        snapshot = stats.snapshot(days=1)
        assert snapshot.page_views == page_views
        assert snapshot.tables["statuses"].total == 500
        assert snapshot.tables["not_found"].total == not_found
        assert snapshot.tables["throttled"].total == refused > 0
        assert snapshot.tables["bots"].total == bots
        assert stats.total(days=7) > page_views  # the simulated past days


def test_demo_twice_gives_the_same_numbers(
    client: redis.Redis, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["demo", "--redis-url", redis_url, "--no-serve", "--requests", "300"]
    assert main(argv) == 0
    first = capsys.readouterr().out.partition("wsgi_analytics report")[0]
    assert main(argv) == 0
    assert capsys.readouterr().out.partition("wsgi_analytics report")[0] == first


@pytest.mark.slow
def test_demo_starts_an_embedded_server_when_none_is_configured() -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("WSGI_ANALYTICS_REDIS_URL", "REDIS_URL")
    }
    done = subprocess.run(
        [sys.executable, "-m", "wsgi_analytics", "demo", "--no-serve", "--requests", "200"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "No Redis configured: started an embedded" in done.stderr
    assert "Check: the report matches the traffic sent." in done.stdout


def test_demo_leaves_other_prefixes_alone(
    client: redis.Redis, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client.set("{demo:shop:paths}:all", "mine")
    client.set("{analytics:paths}:all", "mine too")
    assert main(["demo", "--redis-url", redis_url, "--no-serve", "--requests", "50"]) == 0
    assert main(["demo", "--redis-url", redis_url, "--no-serve", "--requests", "50"]) == 0
    assert client.get("{demo:shop:paths}:all") == "mine"
    assert client.get("{analytics:paths}:all") == "mine too"


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float = 60) -> str:
    """Read the process's stderr until a line holding ``needle``."""
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no {needle!r} in {''.join(seen)!r}")


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def free_port_pair() -> int:
    """A free port whose successor is free too (the demo serves its site on port + 1)."""
    for _ in range(100):
        port = free_port()
        with socket.socket() as first, socket.socket() as second:
            try:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two free ports in a row")


def outside_address() -> str | None:
    """An address of this machine that is not loopback (requests to it are not local)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.mark.slow
def test_public_dashboard_gets_a_token(recorded: str) -> None:
    address = outside_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    port = free_port()
    command = [sys.executable, "-m", "wsgi_analytics", "dashboard", "--redis-url", recorded]
    with subprocess.Popen(
        [*command, "--host", "0.0.0.0", "--port", str(port)], stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            token = wait_for_line(process, "generated token").split()[-1]
            wait_for_port(port)
            url = f"http://{address}:{port}/"
            assert httpx.get(url).status_code == 401
            assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
            with httpx.Client() as browser:
                signed_in = browser.get(f"{url}api.json?token={token}")
                assert signed_in.status_code == 303
                assert signed_in.headers["location"] == "/api.json"
                assert browser.get(f"{url}api.json").json()["page_views"] == 4  # the cookie
        finally:
            process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


@pytest.mark.slow
def test_demo_serves_until_ctrl_c_then_stops_its_server() -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("WSGI_ANALYTICS_REDIS_URL", "REDIS_URL")
    }
    port = free_port_pair()
    with subprocess.Popen(
        [sys.executable, "-m", "wsgi_analytics", "demo", "--requests", "100", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # a process group of its own, as a terminal gives it
    ) as process:
        try:
            started = wait_for_line(process, "started an embedded")
            found = re.search(r"127\.0\.0\.1:(\d+)", started)
            assert found is not None
            wait_for_line(process, f"dashboard: http://127.0.0.1:{port}/")
            wait_for_port(port)
            assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
            assert "A small blog" in httpx.get(f"http://127.0.0.1:{port + 1}/").text
        finally:
            # Ctrl-C in a terminal signals the whole foreground process group, children too.
            os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) == 0
        # The embedded server outlived the site's final flush (the visit above was counted).
        assert process.stderr is not None
        rest = process.stderr.read()
        assert "final flush failed" not in rest
        assert "unreachable" not in rest
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=1).close()


# -- ranges, previous periods, CSV, countries, --version ---------------------------------------


def put_day(client: redis.Redis, offset: int, paths: dict[str, int]) -> None:
    """Page views ``offset`` days ago, written with the recorder's key layout."""
    keys = Keys("analytics")
    day = today() - offset
    client.zadd(keys.day("paths", day), paths)
    client.zincrby(keys.all("days"), sum(paths.values()), day_label(day))
    client.zincrby(keys.all("statuses"), sum(paths.values()), "200")


def test_report_between_dates(
    recorded: str, client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    put_day(client, 2, {"/old": 5, "=cmd|' /C calc'!A0": 2})
    put_day(client, 4, {"/older": 7})
    first, last = day_label(today() - 2), day_label(today() - 1)
    assert main(["report", "--redis-url", recorded, "--from", first, "--to", last, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["first"], document["last"], document["days"]) == (first, last, 2)
    assert document["dates"] is True
    assert document["page_views"] == 7
    assert document["previous"] == {
        "first": day_label(today() - 4),
        "last": day_label(today() - 3),
        "page_views": 7,
        "uniques": 0,
    }
    assert [row["member"] for row in document["dimensions"]["paths"]["rows"]] == [
        "/old",
        "=cmd|' /C calc'!A0",
    ]
    assert document["routes"] == []
    assert main(["report", "--redis-url", recorded, "--from", first, "--to", last]) == 0
    text = capsys.readouterr().out
    assert f"wsgi_analytics report: {first} to {last} ({first} to {last}, UTC)" in text
    assert "page views 7 ▲ +0%" not in lines_of(text)
    assert f"previous period ({day_label(today() - 4)} to {day_label(today() - 3)}):" in text
    assert "page views 7 = +0%" in lines_of(text)


def test_report_from_alone_runs_to_today(
    recorded: str, client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    put_day(client, 1, {"/": 6})
    since = day_label(today() - 1)
    assert main(["report", "--redis-url", recorded, "--from", since, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["first"], document["last"], document["page_views"]) == (
        since,
        day_label(today()),
        10,
    )


def test_report_csv_parses_back(
    recorded: str, client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    put_day(client, 0, {'=HYPERLINK("http://evil")': 1, "-2+3": 1, "@SUM(A1)": 1, "/a,b": 1})
    assert main(["report", "--redis-url", recorded, "--csv", "--limit", "20"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out, newline="")))
    assert rows[0] == ["dimension", "member", "count"]
    paths = [row[1:] for row in rows[1:] if row[0] == "paths"]
    assert paths == [
        ["/", "3"],
        ["'-2+3", "1"],
        ["/a,b", "1"],
        ["/about/", "1"],
        ['\'=HYPERLINK("http://evil")', "1"],
        ["'@SUM(A1)", "1"],
    ]
    assert ["statuses", "200", "5"] in rows
    assert {row[0] for row in rows[1:]} >= {"paths", "referrers", "browsers", "statuses"}


def test_report_countries_by_name(
    recorded: str, client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = Keys("analytics")
    client.zadd(keys.day("countries", today()), {"FR": 3, "KR": 2, "(unknown)": 1})
    assert main(["report", "--redis-url", recorded]) == 0
    text = lines_of(capsys.readouterr().out)
    assert "France (FR) 3 50.0% ████████████████" in text
    assert "South Korea (KR) 2 33.3% ███████████" in text
    assert "(unknown) 1 16.7% █████" in text
    assert main(["report", "--redis-url", recorded, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["dimensions"]["countries"]["rows"]
    assert [(row["member"], row["name"]) for row in rows] == [
        ("FR", "France"),
        ("KR", "South Korea"),
        ("(unknown)", None),
    ]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert re.fullmatch(r"wsgi-analytics \d+\.\d+\S*\n", capsys.readouterr().out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--to", "2026-01-01"], "--to needs --from", id="to alone"),
        pytest.param(
            ["--from", "2026-01-02", "--to", "2026-01-01"], "is before --from", id="backwards"
        ),
    ],
)
def test_report_range_errors(
    recorded: str, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--redis-url", recorded, *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
    assert len(captured.err.splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--days", "7", "--from", "2026-01-01"], id="days and from"),
        pytest.param(["--all", "--from", "2026-01-01"], id="all and from"),
        pytest.param(["--from", "2026-1-1"], id="short date"),
        pytest.param(["--from", "yesterday"], id="words"),
        pytest.param(["--json", "--csv"], id="json and csv"),
    ],
)
def test_report_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["report", *argv])
    assert stopped.value.code == 2
    assert "usage:" in capsys.readouterr().err


# -- --where: the report filtered to one page, source or country -------------------------------

HN = "https://news.ycombinator.com/item?id=42"
GOOGLE = "https://www.google.com/search"
# Hacker News sends 3 page views of /a and 1 of /b, Google 2 of /a, and /talk:x (a path with a
# colon) has 1 direct view: 7 page views. A bot's request and a 404 are requests, not page views.
STREAM = [("/a", HN)] * 3 + [("/b", HN)] + [("/a", GOOGLE)] * 2 + [("/talk:x", "")]


@pytest.fixture
def referred(client: redis.Redis, redis_url: str) -> str:
    recorder = Recorder(redis_url)
    for path, referrer in STREAM:
        request(recorder, path, referrer=referrer)
    request(recorder, "/a", agent="curl/8.5.0", referrer=HN)
    request(recorder, "/missing", status=404, referrer=HN)
    recorder.close()
    return redis_url


def rows_of(document: dict[str, Any], name: str) -> list[tuple[str, int]]:
    return [(row["member"], row["count"]) for row in document["dimensions"][name]["rows"]]


@pytest.mark.parametrize(
    ("where", "page_views", "paths", "sources"),
    [
        pytest.param(
            None,
            7,
            [("/a", 5), ("/b", 1), ("/talk:x", 1)],
            [("Hacker News", 4), ("Google", 2), ("(direct)", 1)],
            id="no filter",
        ),
        pytest.param(
            "sources:Hacker News",
            4,
            [("/a", 3), ("/b", 1)],
            [("Hacker News", 4)],
            id="a source's pages",
        ),
        pytest.param(
            "paths:/a", 5, [("/a", 5)], [("Hacker News", 3), ("Google", 2)], id="a page's sources"
        ),
        pytest.param(
            "paths:/talk:x", 1, [("/talk:x", 1)], [("(direct)", 1)], id="colon in the member"
        ),
        pytest.param("sources:Bing", 0, [], [], id="a source that sent nothing"),
    ],
)
def test_report_where_json(
    referred: str,
    where: str | None,
    page_views: int,
    paths: list[tuple[str, int]],
    sources: list[tuple[str, int]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["report", "--redis-url", referred, "--json"]
    assert main([*argv, "--where", where] if where else argv) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["page_views"] == page_views
    assert rows_of(document, "paths") == paths
    assert rows_of(document, "sources") == sources
    if where is None:
        assert document["where"] is None
        assert {"bots", "statuses", "not_found", "routes"} <= set(document["dimensions"])
        assert document["routes"] != []
        return
    dimension, _, member = where.partition(":")
    assert document["where"] == {"dimension": dimension, "member": member}
    # Left out, as on the dashboard: what is not counted per filter member.
    assert set(document["dimensions"]) <= set(PAGE_VIEW_DIMENSIONS)
    assert (document["routes"], document["uniques"], document["live"]) == ([], None, None)


def test_report_where_text(referred: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--redis-url", referred, "--where", "sources:Hacker News"]) == 0
    out = capsys.readouterr().out
    lines = lines_of(out)
    assert "filtered: Sources = Hacker News" in lines
    assert "(page views only: tables a filter cannot apply to, such as bots, are left out)" in lines
    assert "page views 4" in lines
    assert "uniques — (not counted per filter)" in lines
    assert "/a 3 75.0% ████████████████" in lines
    assert "/b 1 25.0% █████" in lines
    titles = {line.split("  ")[0] for line in out.splitlines() if line and line[0] != " "}
    assert titles.isdisjoint({"Bots", "Not found (404)", "Status codes", "Endpoints"})
    assert "visitors now" not in out
    # Unfiltered, the report says nothing of a filter.
    assert main(["report", "--redis-url", referred]) == 0
    assert "filtered:" not in capsys.readouterr().out


def test_report_where_csv_parses_back(referred: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--redis-url", referred, "--csv", "--where", "paths:/a"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out, newline="")))
    assert rows[0] == ["dimension", "member", "count", "where"]
    assert {row[3] for row in rows[1:]} == {"paths:/a"}
    assert [row[1:3] for row in rows if row[0] == "sources"] == [
        ["Hacker News", "3"],
        ["Google", "2"],
    ]
    assert [row[1:3] for row in rows if row[0] == "paths"] == [["/a", "5"]]
    assert {row[0] for row in rows[1:]} <= set(PAGE_VIEW_DIMENSIONS)


@pytest.mark.parametrize(
    "where",
    [
        pytest.param("browsers:Firefox", id="not a filter dimension"),
        pytest.param("Sources:Google", id="dimension is case-sensitive"),
        pytest.param("sources", id="no colon"),
        pytest.param("sources:", id="no member"),
        pytest.param(":Google", id="no dimension"),
    ],
)
def test_report_where_refused(where: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["report", "--where", where])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "wsgi-analytics report: error: argument --where: where must be one of paths, sources, "
        f"countries, a colon and a member, got {where!r}"
    )


def test_report_where_member_too_long(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["report", "--where", "paths:/" + "x" * 1024])
    assert stopped.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(
        "wsgi-analytics report: error: argument --where: the member of where is at most 1024 "
        "characters, got 'paths:/xxx"
    )
