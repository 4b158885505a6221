"""``manage.py analytics_report``: the report of ``wsgi-analytics report``, for this site.

The options are the report's own; the Redis URL and the prefix default to the site's
``settings.WSGI_ANALYTICS``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from typing import Any, ClassVar

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ....cli import add_report_arguments, run_report
from ...config import settings_options


class Command(BaseCommand):
    help = "Print the web analytics counted for this site (the options of wsgi-analytics report)."
    requires_system_checks: ClassVar[list[str]] = []  # reads Redis only

    def add_arguments(self, parser: CommandParser) -> None:
        options = settings_options()
        recorder = options.get("recorder")
        parser.add_argument("--redis-url", help="Redis URL (default: the site's)")
        add_report_arguments(parser)
        parser.set_defaults(
            redis_url=options.get("redis_url"),
            prefix=recorder.prefix if recorder is not None else options.get("prefix", "analytics"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run_report(argparse.Namespace(**options))
        self.stdout.write(out.getvalue(), ending="")
        if code:
            # The report's one-line error, as Django reports a command's failure.
            message = err.getvalue().strip().removeprefix("wsgi-analytics: ")
            raise CommandError(message, returncode=code)
        self.stderr.write(err.getvalue(), ending="")
