"""`Recorder.track` counts into names of your own, never into the built-in dimensions (a
tracked ``paths`` member would be a fake page view, read as one everywhere)."""

from __future__ import annotations

import pytest

from wsgi_analytics import Recorder
from wsgi_analytics.keys import DIMENSIONS


def test_the_built_in_dimensions_are_the_contracts() -> None:
    """A2's list (routes_4xx and routes_5xx are the error rates' own counts)."""
    assert set(DIMENSIONS) >= {
        "paths", "referrers", "sources", "channels", "utm_source", "utm_medium",
        "utm_campaign", "utm_content", "utm_term", "browsers", "platforms", "devices",
        "countries", "bots", "not_found", "statuses", "routes", "throttled",
    }  # fmt: skip


@pytest.mark.parametrize("name", DIMENSIONS)
def test_track_refuses_a_built_in_dimension(name: str, recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="built-in dimension"):
        recorder.track(name, "/fake/")
    recorder.track("signups", "pro")  # a name of your own is fine
    recorder.flush()
    assert recorder.pending == 0
