"""Workers that speak the ``{event_type, payload}`` envelope publish into runs over Redis.

Some teams already have workers (Kafka or Celery consumers) that report progress with one call,
``publish_event(session_id, event_type, payload)``. :class:`EnvelopeBridge` is the agent that serves such
a run: it hands the job to those workers (your ``dispatch``), then reads what they publish and turns it
into AG-UI events, so the run has a log like any other (resume, threads, every dialect).

.. code-block:: python

    # the web side
    from agui_server.runs.redis.bridge import EnvelopeBridge

    async def dispatch(session_id, input):  # e.g. send to Kafka; the worker publishes to session_id
        await producer.send("jobs", {"session_id": session_id, "query": input.messages[-1].content})

    agent = EnvelopeBridge("redis://localhost:6379/0", dispatch)

    # the worker, as it was
    from agui_server.runs.redis.bridge import publish_event

    publish_event(session_id, "AgentThoughtStream", {"char": "Thinking…"}, redis_url="redis://localhost:6379/0")
    publish_event(session_id, "FinalAnswerStream", {"char": "Paris."}, redis_url=...)
    publish_event(session_id, "FinalAnswerStreamEnd", {}, redis_url=...)

What is published goes into a Redis Stream per session, not a Pub/Sub channel: the bridge reads it from
the start whenever it gets there, so there is no start-up race and no ``worker_ack`` handshake to wait for
(the run's ``RUN_STARTED``, which the envelope dialect shows as ``worker_ack``, goes out at once).

=========================  =======================================================================
published                  AG-UI
=========================  =======================================================================
``worker_ack``             nothing (``RUN_STARTED`` went first)
``AgentThoughtStream``     reasoning text (``payload.char``)
``AgentToolCallStart``     ``TOOL_CALL_START``/``END`` (``payload.tool_name``, ``payload.args``)
``FinalAnswerStream``      assistant text (``payload.char``)
``FinalAnswerStreamEnd``   the run ends (``RUN_FINISHED``)
``error``                  ``RUN_ERROR`` ``WORKER_ERROR`` with ``payload.error``
anything else              ``CUSTOM`` (``name`` = the event type, ``value`` = the payload)
=========================  =======================================================================

Silence longer than ``idle_timeout`` ends the run with ``WORKER_TIMEOUT``.
"""

from __future__ import annotations

import contextlib
import inspect
import uuid
from typing import TYPE_CHECKING, Any, Final

import msgspec
from redis.exceptions import RedisError

from agui_server.protocol import events as ev
from agui_server.runs.codes import ErrorCode
from agui_server.runs.config import REDIS_PREFIX
from agui_server.runs.redis.client import redis_client, sync_redis_client
from agui_server.runs.redis.keys import Keys

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from agui_server.agents.base import RunContext
    from agui_server.protocol.types import RunAgentInput

__all__ = ("EnvelopeBridge", "apublish_event", "publish_event")

_KEEP_MS: Final = 3_600_000
"""A session's published events are kept an hour after the last one (the run has long read them)."""
_MAX_ENTRIES: Final = 100_000
_READ_BATCH: Final = 256

_sync_clients: dict[str, Any] = {}


def _fields(event_type: str, payload: Any) -> dict[Any, Any]:
    return {"e": event_type.encode(), "p": msgspec.json.encode(payload if payload is not None else {})}


def publish_event(
    session_id: str,
    event_type: str,
    payload: Any,
    *,
    redis_url: str = "redis://localhost:6379/0",
    prefix: str = REDIS_PREFIX,
) -> None:
    """Publish one event for a session (blocking; for workers that are not async)."""
    client = _sync_clients.get(redis_url)
    if client is None:
        client = _sync_clients[redis_url] = sync_redis_client(redis_url)
    key = Keys(prefix).session(session_id)
    with client.pipeline(transaction=False) as pipe:
        pipe.xadd(key, _fields(event_type, payload), maxlen=_MAX_ENTRIES, approximate=True)
        pipe.pexpire(key, _KEEP_MS)
        pipe.execute()


async def apublish_event(
    redis: Any, session_id: str, event_type: str, payload: Any, *, prefix: str = REDIS_PREFIX
) -> None:
    """Publish one event for a session with an asyncio Redis client (``redis.asyncio.Redis``)."""
    key = Keys(prefix).session(session_id)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.xadd(key, _fields(event_type, payload), maxlen=_MAX_ENTRIES, approximate=True)
        pipe.pexpire(key, _KEEP_MS)
        await pipe.execute()


class _Translation:
    """The AG-UI events of published envelopes: opens and closes reasoning and text as they alternate."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.reasoning: str | None = None
        self.text: str | None = None

    def close(self) -> list[ev.Event]:
        out: list[ev.Event] = []
        if self.reasoning is not None:
            out += [
                ev.ReasoningMessageEndEvent(message_id=self.reasoning),
                ev.ReasoningEndEvent(message_id=self.reasoning),
            ]
            self.reasoning = None
        if self.text is not None:
            out.append(ev.TextMessageEndEvent(message_id=self.text))
            self.text = None
        return out

    def events(self, kind: str, payload: Any) -> list[ev.Event]:
        body = payload if isinstance(payload, dict) else {}
        if kind == "worker_ack":
            return []
        if kind == "AgentThoughtStream":
            out = [] if self.reasoning is not None else self.close()
            if self.reasoning is None:
                self.reasoning = self.ctx.new_id("reasoning")
                out += [
                    ev.ReasoningStartEvent(message_id=self.reasoning),
                    ev.ReasoningMessageStartEvent(message_id=self.reasoning, role="reasoning"),
                ]
            delta = str(body.get("char", ""))
            return [*out, ev.ReasoningMessageContentEvent(message_id=self.reasoning, delta=delta)] if delta else out
        if kind == "FinalAnswerStream":
            out = [] if self.text is not None else self.close()
            if self.text is None:
                self.text = self.ctx.new_id("msg")
                out.append(ev.TextMessageStartEvent(message_id=self.text, role="assistant"))
            delta = str(body.get("char", ""))
            return [*out, ev.TextMessageContentEvent(message_id=self.text, delta=delta)] if delta else out
        if kind == "AgentToolCallStart":
            call_id = str(body.get("tool_call_id") or self.ctx.new_id("call"))
            out = [
                *self.close(),
                ev.ToolCallStartEvent(tool_call_id=call_id, tool_call_name=str(body.get("tool_name"))),
            ]
            if "args" in body:
                args = body["args"] if isinstance(body["args"], str) else msgspec.json.encode(body["args"]).decode()
                out.append(ev.ToolCallArgsEvent(tool_call_id=call_id, delta=args))
            return [*out, ev.ToolCallEndEvent(tool_call_id=call_id)]
        return [ev.CustomEvent(name=kind, value=payload)]


class EnvelopeBridge:
    """An agent whose work is done by outside workers that publish envelopes (see the module docstring).

    Args:
        redis_url: the Redis the workers publish to.
        dispatch: called with ``(session_id, input)`` when a run starts (may be async): hand the job to
            your workers, telling them the session id to publish to (the run's id).
        idle_timeout: seconds of silence from the workers before the run ends with ``WORKER_TIMEOUT``.
        prefix: the key prefix (the same as the workers' ``publish_event``).
    """

    def __init__(
        self,
        redis_url: str,
        dispatch: Callable[[str, RunAgentInput], Awaitable[None] | None],
        *,
        idle_timeout: float = 60.0,
        prefix: str = REDIS_PREFIX,
    ) -> None:
        self.redis_url = redis_url
        self.dispatch = dispatch
        self.idle_timeout = idle_timeout
        self.keys = Keys(prefix)
        self._redis: Any = None

    def session_id(self, ctx: RunContext) -> str:
        """The session a run's workers publish to: the run's id (made unique when a ``runId`` is reused)."""
        return ctx.run_id if not ctx.generation else f"{ctx.run_id}.{ctx.generation}"

    async def run(self, input: RunAgentInput, ctx: RunContext) -> AsyncIterator[ev.Event]:
        """Dispatch the job, then relay what the workers publish until they end the session."""
        if self._redis is None:
            self._redis = redis_client(self.redis_url, name=f"agui-bridge-{uuid.uuid4().hex[:6]}")
        redis = self._redis
        session_id = self.session_id(ctx)
        key = self.keys.session(session_id)
        sent = self.dispatch(session_id, input)
        if inspect.isawaitable(sent):
            await sent
        translation = _Translation(ctx)
        cursor = b"0-0"
        try:
            while True:
                reply = await redis.xread({key: cursor}, count=_READ_BATCH, block=int(self.idle_timeout * 1000))
                if not reply:
                    for event in translation.close():
                        yield event
                    yield ev.RunErrorEvent(
                        message=f"The worker published nothing for {self.idle_timeout:g} seconds.",
                        code=ErrorCode.WORKER_TIMEOUT,
                    )
                    return
                for entry_id, fields in reply[0][1]:
                    cursor = entry_id
                    kind = fields.get(b"e", b"").decode()
                    try:
                        payload = msgspec.json.decode(fields.get(b"p", b"{}"))
                    except msgspec.DecodeError:
                        payload = {}
                    if kind in ("FinalAnswerStreamEnd", "error"):
                        for event in translation.close():
                            yield event
                        if kind == "error":
                            message = payload.get("error") if isinstance(payload, dict) else None
                            yield ev.RunErrorEvent(
                                message=str(message or "The worker failed."), code=ErrorCode.WORKER_ERROR
                            )
                        return
                    for event in translation.events(kind, payload):
                        yield event
        finally:
            with contextlib.suppress(RedisError, OSError):
                await redis.delete(key)
