"""What the Django and Flask entry points share: options from a settings dict, and the dashboard
served inside the host app behind the host app's own login.

Nothing in the core imports this module; it sits on the public names only.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .request.routes import ROUTE_KEY  # where a framework leaves the route template it matched
from .throttle import Throttle

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .recording.recorder import Recorder

__all__ = ["ROUTE_KEY", "Bridge", "adapter_options"]


def adapter_options(settings: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The adapter options of a settings dict (``settings.WSGI_ANALYTICS``,
    ``app.config["WSGI_ANALYTICS"]``): the same names as `WSGIAnalytics`' keyword arguments,
    except that ``"throttle"`` may also be a dict of `Throttle` arguments."""
    if not isinstance(settings, Mapping):
        raise TypeError(f"{where} must be a dict of options, not {type(settings).__name__}")
    options = dict(settings)
    for name in options:
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"{where}: option names are strings, got {name!r}")
    throttle = options.get("throttle")
    if isinstance(throttle, Mapping):
        try:
            options["throttle"] = Throttle(**throttle)
        except TypeError as error:
            raise TypeError(f"{where}['throttle']: {error}") from None
    elif throttle is not None and not isinstance(throttle, Throttle):
        raise TypeError(f"{where}['throttle'] must be a Throttle or a dict of its arguments")
    return options


class Bridge:
    """The Starlette dashboard of one recorder's data, let in by a secret only the host app
    knows: the host app decides who may see it (staff users, an ``auth`` hook) and then hands
    the request over with that secret, so the dashboard's own access rule never has to guess
    who is local."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.token = secrets.token_urlsafe(32)
        self.authorization = f"Bearer {self.token}"
        self._app: Starlette | None = None

    @property
    def app(self) -> Starlette:
        """Built on first use: a site that never opens its dashboard never imports it. Two
        threads may both build one on a first visit; either is as good as the other."""
        if self._app is None:
            from .dashboard import app

            # The recorder's own client: the page shows the server and prefix that are counted.
            # Not this recorder's retention_days: the one stored under the prefix is the
            # longest of any worker's, and day keys live that long.
            self._app = app(
                client=self.recorder.client, prefix=self.recorder.prefix, token=self.token
            )
        return self._app
