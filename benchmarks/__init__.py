"""Benchmarks for wsgi_analytics: run them all with ``nox -s bench`` (or ``python -m benchmarks``).

Every benchmark compares, in one run, the bare app with the same app wrapped in the middleware and
wrapped in the seed's naive middleware (`benchmarks.naive`), so ratios hold across machines even
though absolute numbers do not.
"""
