"""The writer's pipelines, packed in short steps that let the request threads run in between.

A flush sends thousands of members in one ``pipeline(transaction=False)``. redis-py packs the
whole pipeline in one call when it is executed: a few thousand members held the interpreter for
5-10 ms at a time, and every request that arrived meanwhile waited. `Pipeline` takes the same
calls the writer makes, packs them itself in steps (a list comprehension per command, a third of
redis-py's cost per argument), sleeps briefly between steps so that a waiting thread gets the
interpreter, then sends them on one of the client's pooled connections and reads the replies
as redis-py's pipeline does (a command's error reply in its place, a connection error raised).

A cluster client (or any client this does not know) gets a real redis-py pipeline with the
same calls: a cluster pipeline splits the commands by node, which is its job.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis

from .. import connection

__all__ = [
    "PAUSE_SECONDS",
    "STEP_ARGUMENTS",
    "STEP_REPLIES",
    "Pipeline",
    "hurry",
    "pause",
    "release",
]

# Arguments packed per step (~0.2 ms), then a pause long enough for a waiting thread to take the
# interpreter (a zero sleep hands it straight back).
STEP_ARGUMENTS = 512
STEP_REPLIES = 32  # replies read per step
PAUSE_SECONDS = 0.00005


_thread = threading.local()


def pause() -> None:
    """Where the flusher lets the request threads in between two steps of its work (every
    stepped loop of the flusher calls this one function, so a benchmark can time the steps).
    Skipped while the calling flusher is behind (`hurry`)."""
    if not getattr(_thread, "hurry", False):
        time.sleep(PAUSE_SECONDS)


def hurry(behind: bool) -> None:
    """Whether this thread's pauses are skipped: while a flusher is behind (thousands of
    requests queued), not losing counts comes first. A pause costs a busy interpreter up to
    its switch interval (5 ms) before the flusher runs again, and a flush makes hundreds of
    them: at 20,000 requests a second in one process, the flusher fell behind for good and
    the queue's bound dropped half the requests."""
    _thread.hurry = behind


def release(container: dict[Any, Any] | set[Any]) -> None:
    """Empty ``container`` in steps of `STEP_ARGUMENTS` items with a pause between them.

    Freeing is work too: the last reference to a written chunk (tens of thousands of tuples and
    strings) frees them all in one go, a millisecond or more with no chance for a request
    thread to run. Emptied here, each step frees a bounded share.
    """
    pop = container.popitem if isinstance(container, dict) else container.pop
    while container:
        for _ in range(min(len(container), STEP_ARGUMENTS)):
            pop()
        if container:
            pause()


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, float):
        return repr(value).encode()
    raise redis.DataError(f"cannot send a {type(value).__name__} to Redis")


class Pipeline:
    """The subset of redis-py's pipeline the writer uses, packed in steps (module docstring)."""

    def __init__(self, client: connection.Client) -> None:
        self.client = client
        self.commands: list[tuple[Any, ...]] = []

    def execute_command(self, *args: Any) -> None:
        self.commands.append(args)

    def zremrangebyrank(self, key: str, start: int, end: int) -> None:
        self.commands.append(("ZREMRANGEBYRANK", key, start, end))

    def expireat(self, key: str, when: int) -> None:
        self.commands.append(("EXPIREAT", key, when))

    def pfadd(self, key: str, *values: Any) -> None:
        self.commands.append(("PFADD", key, *values))

    def delete(self, *keys: str) -> None:
        self.commands.append(("DEL", *keys))

    def __len__(self) -> int:
        return len(self.commands)

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Every command's reply in order; an error reply is returned in its place (or the
        first one raised with ``raise_on_error``); a connection failure raises. The replies
        are Redis' own (``1``, ``"OK"``): redis-py's response callbacks are not applied."""
        commands, self.commands = self.commands, []
        if not commands:
            return []
        client = self.client
        if type(client) is not redis.Redis:
            pipe = client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            replies: list[Any] = pipe.execute(raise_on_error=raise_on_error)
            return replies
        payload = _pack(commands)
        pause()  # the join of the last step's frames: a few hundred kilobytes
        pool = client.connection_pool
        conn: Any = pool.get_connection()
        try:
            conn.send_packed_command([payload])  # a list: one sendall of the whole
            replies = []
            for start in range(0, len(commands), STEP_REPLIES):
                if start:
                    pause()  # a reply costs ~5 µs to parse: hundreds of them are a long hold
                replies += [_reply(conn) for _ in commands[start : start + STEP_REPLIES]]
        except BaseException:
            # a reply may still be on its way: this connection is out of step for good
            conn.disconnect()
            raise
        finally:
            pool.release(conn)
        if raise_on_error:
            for reply in replies:
                if isinstance(reply, redis.ResponseError):
                    raise reply
        return replies


def _reply(conn: Any) -> Any:
    """One command's reply; an error reply as the exception, in its place."""
    try:
        return conn.read_response()
    except redis.ResponseError as error:
        return error


def _frame(value: Any) -> bytes:
    data = value.encode() if type(value) is str else _bytes(value)
    return b"$%d\r\n%b\r\n" % (len(data), data)


def _pack(commands: list[tuple[Any, ...]]) -> bytes:
    """The RESP framing of ``commands``, built in steps of `STEP_ARGUMENTS` arguments (a long
    command too) with a pause between them."""
    out: list[bytes] = []
    budget = STEP_ARGUMENTS
    for command in commands:
        out.append(b"*%d\r\n" % len(command))
        start, size = 0, len(command)
        while start < size:
            stop = start + budget
            out += [_frame(argument) for argument in command[start:stop]]
            budget -= min(stop, size) - start
            start = stop
            if budget <= 0:
                budget = STEP_ARGUMENTS
                pause()  # a module global, looked up at each call
    return b"".join(out)
