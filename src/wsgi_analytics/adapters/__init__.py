"""The middleware: `wsgi.WSGIAnalytics`, `asgi.ASGIAnalytics`, and what they share (`common`)."""
