"""The deterministic workload every server serves, and the request bodies that ask for it.

A run's size comes from the request, so one server process serves both the long single stream and the
short runs: ``forwardedProps`` is ``{"tokens": N}`` (RUN_STARTED, TEXT_MESSAGE_START, N
TEXT_MESSAGE_CONTENT, TEXT_MESSAGE_END, RUN_FINISHED) or ``{"idle": true}`` (RUN_STARTED, then nothing
until the client goes away). Every request carries a fresh ``runId`` and ``threadId``: our server re-attaches
a known ``runId`` to its retained run instead of running the agent again, and concurrent clients are
separate conversations.
"""

from __future__ import annotations

import itertools
import os
from typing import Any, Final

PATH: Final = "/ag-ui"
MESSAGE_ID: Final = "msg-1"
DELTA: Final = "tok "
IDLE_PING_SECONDS: Final = 1.0
"""How often an idle stream sends ``: ping`` in the benchmark's servers (ours and the SDK's): shorter than our
server's default keepalive interval (15 s), so that the idle row's CPU window holds several pings per stream;
no other row idles long enough to send one."""
DEFAULT_PING_SECONDS: Final = 15.0
"""Our server's default keepalive interval: the idle row projects the keepalives' CPU to it."""

EVENTS_AROUND_TOKENS: Final = 4
"""RUN_STARTED, TEXT_MESSAGE_START, TEXT_MESSAGE_END and RUN_FINISHED."""


def expected_events(tokens: int) -> int:
    """How many events a run of ``tokens`` content events carries."""
    return tokens + EVENTS_AROUND_TOKENS


_RUN_COUNTER: Final = itertools.count(1)
_RUN_PREFIX: Final = os.urandom(4).hex()


def new_run_id(label: str) -> str:
    """A ``runId`` no earlier request of this benchmark process used."""
    return f"{label}-{_RUN_PREFIX}-{next(_RUN_COUNTER)}"


def request_body(run_id: str, *, tokens: int = 0, idle: bool = False, thread_id: str | None = None) -> bytes:
    """A minimal ``RunAgentInput`` asking for ``tokens`` content events, or for an idle stream; the thread is
    ``t-<runId>`` unless given."""
    thread_id = f"t-{run_id}" if thread_id is None else thread_id
    props = '{"idle":true}' if idle else f'{{"tokens":{int(tokens)}}}'
    return (
        f'{{"threadId":"{thread_id}","runId":"{run_id}",'
        f'"messages":[{{"id":"m","role":"user","content":"hi"}}],"forwardedProps":{props}}}'
    ).encode()


def read_props(forwarded_props: Any) -> tuple[int, bool]:
    """``(tokens, idle)`` from a request's ``forwardedProps``."""
    if not isinstance(forwarded_props, dict):
        return 0, False
    return int(forwarded_props.get("tokens", 0)), bool(forwarded_props.get("idle", False))
