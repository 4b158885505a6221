"""``python -m wsgi_analytics``: the same command line as ``wsgi-analytics``."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
