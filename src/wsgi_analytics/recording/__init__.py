"""Recording: turning requests into counts and getting them to Redis. `rules` (what one request
counts; pure), `pending` (counts aggregated in memory), `writer` (batches written to Redis,
exactly once), `recorder` (the queue and the flusher thread).
The response-time buckets are `wsgi_analytics.sketch`, shared with the read side."""
