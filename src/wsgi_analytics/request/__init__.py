"""Reading a request: pure functions from a request (and its response's head) to what is counted."""
