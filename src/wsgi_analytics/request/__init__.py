"""Reading a request: pure functions from a request (and its response's head) to what is counted.
WSGI environ or ASGI scope -> `facts.Facts`; who the client is (`identity`); what the user agent
is (`agents`); the lookups the counting rules use (`documents`, `exclude`, `routes`). No I/O."""
