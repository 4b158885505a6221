"""Recording: turning requests into counts and getting them to Redis."""
