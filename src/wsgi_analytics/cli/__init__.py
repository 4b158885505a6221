"""The ``wsgi-analytics`` command: ``report``, ``dashboard`` and ``demo``.

Exit codes: 0 success, 1 a runtime problem (Redis unreachable, nothing recorded under the
prefix, port in use), 2 a usage problem (bad option, bad URL or prefix), 130 interrupted. Every
problem is one line on stderr, never a traceback (set ``WSGI_ANALYTICS_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import redis

from .. import connection
from ..reading.report import json_text, render
from ..reading.stats import Stats
from ..reading.where import FILTERS, parse_where

__all__ = ["CommandError", "add_report_arguments", "main", "run_report"]


class CommandError(Exception):
    """A problem to report in one line, with the exit code to use."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = 0
    if days < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of days, got {text!r}")
    return days


def _date(text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _where(text: str) -> tuple[str, str]:
    try:
        return parse_where(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{error}, got {text!r}") from None


def version() -> str:
    """The installed package's version (or the checkout's, when run from a source tree)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("wsgi-analytics")
    except PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[3] / "pyproject.toml"
        try:
            for line in pyproject.read_text(encoding="utf-8").splitlines():
                if line.startswith("version = "):
                    return line.split('"')[1]
        except (OSError, IndexError):
            pass
        return "unknown"


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"expected a limit from 1 to 1000, got {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wsgi-analytics", description="Read and show the web analytics counted in Redis."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--redis-url",
        help="Redis URL (default: $WSGI_ANALYTICS_REDIS_URL, $REDIS_URL, redis://localhost:6379/0)",
    )

    report = commands.add_parser("report", parents=[common], help="print the numbers")
    add_report_arguments(report)

    board = commands.add_parser("dashboard", parents=[common], help="serve the web dashboard")
    board.add_argument("--prefix", default="analytics", help="key prefix (default: analytics)")
    board.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    board.add_argument("--port", type=_port, default=8050, help="port (default 8050)")
    board.add_argument(
        "--token",
        default=os.environ.get("WSGI_ANALYTICS_DASHBOARD_TOKEN"),
        help="token required of every request ($WSGI_ANALYTICS_DASHBOARD_TOKEN)",
    )
    board.add_argument("--username", help="HTTP basic user name required of every request")
    board.add_argument(
        "--password",
        default=os.environ.get("WSGI_ANALYTICS_DASHBOARD_PASSWORD"),
        help="HTTP basic password ($WSGI_ANALYTICS_DASHBOARD_PASSWORD)",
    )
    board.set_defaults(handler=_dashboard)

    demo = commands.add_parser(
        "demo", parents=[common], help="sample site + traffic + report + dashboard"
    )
    demo.add_argument("--requests", type=_count, default=3000, help="requests to send (3000)")
    demo.add_argument("--seed", type=int, default=2026, help="random seed of the traffic")
    demo.add_argument("--port", type=_port, default=8050, help="dashboard port (default 8050)")
    demo.add_argument(
        "--no-serve", dest="serve", action="store_false", help="stop after the report"
    )
    demo.set_defaults(handler=_demo)
    return parser


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The report's options (``--redis-url`` aside), for the commands that embed the report:
    ``manage.py analytics_report`` and ``flask analytics report``. Run it with `run_report`."""
    parser.add_argument("--prefix", default="analytics", help="key prefix (default: analytics)")
    span = parser.add_mutually_exclusive_group()
    span.add_argument(
        "--days", type=_days, default=None, help="today and the N-1 days before (default 1: today)"
    )
    span.add_argument("--all", dest="all_time", action="store_true", help="all time")
    span.add_argument(
        "--from", dest="start", type=_date, metavar="DATE", help="first day, YYYY-MM-DD (with --to)"
    )
    parser.add_argument(
        "--to", dest="end", type=_date, metavar="DATE", help="last day, YYYY-MM-DD (default today)"
    )
    parser.add_argument(
        "--where",
        type=_where,
        metavar="DIMENSION:MEMBER",
        help=f"only the page views whose DIMENSION ({', '.join(FILTERS)}) is MEMBER, e.g. "
        "sources:Google or paths:/pricing/ (split at the first colon). As on the dashboard, "
        "the tables a filter cannot apply to (bots, 404s, status codes, endpoints, custom "
        "dimensions...) are left out; uniques and visitors now are not shown",
    )
    parser.add_argument("--limit", type=_limit, default=10, help="rows per table (default 10)")
    parser.add_argument(
        "--retention-days",
        type=_count,
        default=None,
        help="the recorder's retention_days: ranges are cut there (default: what the recorder "
        "stored, else 90)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON document (schema 1)")
    output.add_argument(
        "--csv", action="store_true", help="CSV: a dimension,member,count header, a row a member"
    )
    parser.set_defaults(handler=_report)


def run_report(args: argparse.Namespace) -> int:
    """The report for options parsed with `add_report_arguments` (and a ``redis_url``): printed
    to stdout, problems as one line on stderr, as ``wsgi-analytics report`` does. Returns the
    exit code."""
    return _run(_report, args)


def open_stats(url: str | None, prefix: str, *, retention_days: int | None = None) -> Stats:
    """A `Stats` on a server that answers, or a `CommandError` saying what is wrong
    (``retention_days=None``: the one stored under the prefix, as `Stats` reads it)."""
    try:
        stats = Stats(url, prefix=prefix, retention_days=retention_days)
    except ValueError as error:
        raise CommandError(str(error), code=2) from None
    try:
        stats.client.ping()
    except BaseException:
        stats.close()
        raise
    return stats


def _report_range(args: argparse.Namespace) -> tuple[int | None, date | None, date | None]:
    """The range options as `Stats.snapshot`'s ``days``, ``start``, ``end``; a `CommandError`
    when they clash (argparse already refuses --days, --all and --from together)."""
    start, end = getattr(args, "start", None), getattr(args, "end", None)
    if end is not None and start is None:
        raise CommandError("--to needs --from", code=2)
    if start is not None:
        if end is not None and end < start:
            raise CommandError(f"--to {end} is before --from {start}", code=2)
        return 1, start, end
    if getattr(args, "all_time", False):
        return None, None, None
    days = getattr(args, "days", None)
    return (1 if days is None else days), None, None


def _report(args: argparse.Namespace) -> int:
    where = connection.describe(connection.resolve_url(args.redis_url))
    days, start, end = _report_range(args)
    retention = getattr(args, "retention_days", None)
    filter_ = getattr(args, "where", None)
    with open_stats(args.redis_url, args.prefix, retention_days=retention) as stats:
        if not stats.exists():
            raise CommandError(
                f"nothing recorded under prefix {args.prefix!r} at {where} "
                "(check --prefix and --redis-url)"
            )
        try:
            snapshot = stats.snapshot(
                days,
                args.limit,
                stats.dimensions(),
                start=start,
                end=end,
                where=filter_,
                # Neither routes nor visitors now are counted per filter member: a filtered
                # report leaves them out rather than show unfiltered numbers under its filter.
                routes=args.limit if filter_ is None else 0,
                live=5 if filter_ is None else None,
            )
        except ValueError as error:
            raise CommandError(str(error), code=2) from None
    if args.json:
        print(json_text(snapshot.to_json(), indent=2))
    elif getattr(args, "csv", False):
        from ..dashboard.export import csv_text

        sys.stdout.write(csv_text(snapshot))
    else:
        sys.stdout.write(render(snapshot, where))
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from ..dashboard import app
    from ..dashboard.access import is_loopback_address
    from ..dashboard.server import PortInUse, serve

    if bool(args.username) != bool(args.password):
        raise CommandError("--username and --password go together", code=2)
    token = args.token
    # Local requests are trusted without a secret only on a loopback bind: on any other address
    # a TCP forwarder or a NAT rule could hand the internet a loopback-looking request.
    loopback = args.host == "localhost" or is_loopback_address(args.host)
    if not loopback and not token and not args.password:
        # Never an open analytics page by accident: a public bind gets a fresh secret.
        token = secrets.token_urlsafe(24)
        print(f"no --token or --password given: generated token {token}", file=sys.stderr)
    with open_stats(args.redis_url, args.prefix) as stats:
        if not stats.exists():
            where = connection.describe(connection.resolve_url(args.redis_url))
            print(f"note: nothing recorded under prefix {args.prefix!r} at {where} yet",
                  file=sys.stderr)  # fmt: skip
        page = app(
            client=stats.client,
            prefix=args.prefix,
            token=token,
            username=args.username,
            password=args.password,
            trust_local=loopback,
        )
        try:
            serve(page, args.host, args.port, token=token)
        except PortInUse as error:
            raise CommandError(str(error)) from None
    return 0


def _demo(args: argparse.Namespace) -> int:
    # The apps raise their own errors; only the command line turns them into one-line exits.
    from ..dashboard.server import PortInUse
    from ..demo import run
    from ..embedded import ServerNotFound

    try:
        return run(redis_url=args.redis_url, requests=args.requests, seed=args.seed,
                   port=args.port, serve=args.serve)  # fmt: skip
    except (PortInUse, ServerNotFound) as error:
        raise CommandError(str(error)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    return _run(args.handler, args)


def _run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return int(handler(args))
    except CommandError as error:
        return _fail(str(error), error.code)
    except (redis.ConnectionError, redis.TimeoutError) as error:
        where = connection.describe(connection.resolve_url(args.redis_url))
        return _fail(f"cannot reach Redis at {where}: {error}")
    except redis.RedisError as error:
        return _fail(f"Redis error: {error}")
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if os.environ.get("WSGI_ANALYTICS_DEBUG"):
            raise
        return _fail(f"unexpected error ({type(error).__name__}): {error}")


def _fail(message: str, code: int = 1) -> int:
    print(f"wsgi-analytics: {' '.join(message.split())}", file=sys.stderr)
    return code
