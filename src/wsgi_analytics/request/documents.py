"""Is a response a document (a page a person looks at) or one of the requests a page pulls in?

Only documents are page views (DESIGN A3, "Page views are documents"): on a real site every page
pulls in a stylesheet, scripts, images and a favicon, and counting them made ``/favicon.ico`` the
most viewed page.

The rule, applied once per response on the request path, so it must cost next to nothing:

- a ``Content-Type`` of ``text/html`` or ``application/xhtml+xml``, whatever its parameters and
  letter case, is a document; any other ``Content-Type`` is not;
- a response without one (a ``304 Not Modified``, a bare ``HEAD``) is a document only when the
  last segment of its path has no extension, or an HTML-like one (``.html``, ``.htm``,
  ``.xhtml``, ``.php``, ``.asp``, ``.aspx``, ``.jsp``), in any letter case. An empty
  ``Content-Type`` header says nothing either, so it is judged the same way.

The last-segment rule has a known blind spot, accepted because it only applies to responses
without a ``Content-Type``: a page whose last segment contains a dot (``/users/john.doe``) counts
as an asset. The header, when sent, always wins.

Costs (CPython 3.11, see the module's tests for the command): an exact common value such as
``text/html; charset=utf-8`` is one set lookup; anything else is one ``partition`` and a
``lower``. No regular expression runs here.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "DOCUMENT_EXTENSIONS",
    "DOCUMENT_TYPES",
    "asgi_content_type",
    "is_document",
    "path_is_document",
    "wsgi_content_type",
]

DOCUMENT_TYPES = frozenset({"text/html", "application/xhtml+xml"})
DOCUMENT_EXTENSIONS = frozenset({"html", "htm", "xhtml", "php", "asp", "aspx", "jsp"})

# The values frameworks actually send, answered by one hash lookup before any parsing. Both
# tables hold exact strings; anything not in them takes the general path, which gives the same
# answer, so these are an optimisation only.
_KNOWN_DOCUMENTS = frozenset(
    {
        "text/html",
        "text/html; charset=utf-8",  # Starlette, FastAPI, Flask/werkzeug
        "text/html; charset=UTF-8",
        "text/html;charset=utf-8",
        "text/html;charset=UTF-8",
        "text/html; charset=iso-8859-1",
        "application/xhtml+xml",
        "application/xhtml+xml; charset=utf-8",
    }
)
_KNOWN_OTHERS = frozenset(
    {
        "application/json",
        "text/css",
        "text/css; charset=utf-8",
        "text/javascript",
        "text/javascript; charset=utf-8",
        "application/javascript",
        "application/javascript; charset=utf-8",
        "text/plain",
        "text/plain; charset=utf-8",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/svg+xml",
        "image/x-icon",
        "image/vnd.microsoft.icon",
        "font/woff2",
        "application/rss+xml",
        "application/atom+xml",
        "application/xml",
        "text/xml",
        "application/pdf",
        "application/octet-stream",
    }
)


def path_is_document(path: str) -> bool:
    """The rule for a response without a Content-Type: judge the last path segment's extension."""
    segment = path.rpartition("/")[2]
    if "." not in segment:
        return True
    extension = segment.rpartition(".")[2]
    # "/notes." has an empty extension: no extension at all, so a document.
    return not extension or extension.lower() in DOCUMENT_EXTENSIONS


def is_document(content_type: str | None, path: str) -> bool:
    """Whether a response is a document (see the module docstring for the rule)."""
    if content_type:
        if content_type in _KNOWN_DOCUMENTS:
            return True
        if content_type in _KNOWN_OTHERS:
            return False
        # Media types are case-insensitive and may carry parameters and stray spaces (RFC 9110
        # 8.3.1): "Text/HTML ; Charset=UTF-8" is a document.
        return content_type.partition(";")[0].strip().lower() in DOCUMENT_TYPES
    return path_is_document(path)


def wsgi_content_type(headers: Iterable[tuple[str, str]]) -> str | None:
    """The Content-Type value among WSGI response headers, or None; one pass, first match wins.

    Header names are case-insensitive; applications mostly send ``Content-Type`` exactly, which
    is tested first so that the common case lowers no string.
    """
    for name, value in headers:
        if name == "Content-Type" or (len(name) == 12 and name.lower() == "content-type"):
            return value
    return None


def asgi_content_type(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The Content-Type value among ASGI ``http.response.start`` headers, or None.

    The ASGI spec asks for lower-case names; a server tolerating others is matched too. The
    value is decoded as latin-1 (every byte maps, never raises), which keeps ASCII media types
    exact.
    """
    for name, value in headers:
        if name == b"content-type" or (len(name) == 12 and name.lower() == b"content-type"):
            return value.decode("latin-1")
    return None
