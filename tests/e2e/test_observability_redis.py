"""A traced run over Redis: web → worker → web, against a real redis-server.

The web side is the app with ``RedisBackend(worker_slots=0)`` (it only admits, queues and streams); the worker
is another :class:`RedisRunBackend` with worker slots and none of the web side's objects. Its consume loop was
started before the request, so the run's span can find its parent only in what the run carried through Redis
(SUBMIT's ``trace`` field, CLAIM's reply). Both sides share one in-memory exporter, so the tree is readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from agui_server import AGUIConfig, RedisBackend, create_app
from agui_server.agents.base import FunctionAgent
from agui_server.runs.redis import RedisRunBackend
from agui_server.runs.redis.worker import WorkerSettings
from tests.support.cluster import redis_alone
from tests.support.otel import CLIENT_SPAN_ID, TRACE_ID, TRACEPARENT, Otel, hex_trace, parent_of, span_id
from tests.support.reaping import AGENT, end_runs_four_ways, queued_input, vanished_worker
from tests.support.sse import collect_events, run_input, types

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from litestar import Litestar

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_alone(tmp_path_factory.mktemp("redis-otel")) as url:
        yield url


@contextlib.asynccontextmanager
async def web(config: AGUIConfig) -> AsyncIterator[tuple[Litestar, httpx.AsyncClient]]:
    """The app, started, and a client of it."""
    app = create_app(config)
    transport = httpx.ASGITransport(app=app)
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://web", timeout=20) as client:
        yield app, client


async def chatty(input: Any, ctx: Any) -> AsyncIterator[str]:
    for piece in ("one ", "two ", "three"):
        yield piece


async def test_a_run_over_redis_continues_the_web_requests_trace_on_the_worker(redis_url: str) -> None:
    web_otel, worker_otel = Otel(), Otel()
    prefix = f"o{uuid.uuid4().hex[:8]}"
    worker = RedisRunBackend(
        redis_url,
        agents={"default": FunctionAgent(chatty)},
        worker_slots=2,
        prefix=prefix,
        telemetry=worker_otel.telemetry,
    )
    await worker.startup()
    config = AGUIConfig(
        agent=chatty, backend=RedisBackend(redis_url, worker_slots=0, prefix=prefix), telemetry=web_otel.telemetry
    )
    try:
        async with web(config) as (_app, client):
            response, events, _ids = await collect_events(
                client, "/ag-ui", run_input("hi", protocolVersion="1.0"), headers={"traceparent": TRACEPARENT}
            )
    finally:
        await worker.shutdown()
        web_otel.shutdown()
        worker_otel.shutdown()
    assert response.status_code == 200
    assert types(events)[0] == "RUN_STARTED"
    assert types(events)[-1] == "RUN_FINISHED"

    # the web process has the request's span only; the worker the run's, under it, in the client's trace
    assert [s.name for s in web_otel.spans()] == ["agui.request"]
    assert [s.name for s in worker_otel.spans()] == ["agui.run"]
    request, run = web_otel.one("agui.request"), worker_otel.one("agui.run")
    assert hex_trace(request) == hex_trace(run) == TRACE_ID
    assert parent_of(request) == int(CLIENT_SPAN_ID, 16)
    assert parent_of(run) == span_id(request)
    assert run.parent is not None
    assert run.parent.is_remote  # it came through Redis, not through this process's context
    assert run.attributes is not None
    assert run.attributes["agui.thread.id"] == "t1"
    assert run.attributes["agui.dialect"] == "ag-ui"  # carried with the trace context
    assert run.attributes["agui.run.outcome"] == "success"
    assert run.attributes["agui.run.events"] == len(events)
    # back on the web side: the request's span saw the whole stream the worker wrote
    assert request.attributes is not None
    assert request.attributes["agui.stream.events"] == len(events)
    assert request.attributes["agui.stream.completed"] is True
    assert request.end_time >= run.end_time  # type: ignore[operator]

    # the queue's metrics: a depth at submission (web) and at the claim (worker), the claim's latency
    assert [p.value for _a, p in web_otel.points("agui.redis.queue.depth")] == [1]
    assert [p.value for _a, p in worker_otel.points("agui.redis.queue.depth")] == [0]
    [(_labels, latency)] = worker_otel.points("agui.redis.claim_latency")
    assert latency.count == 1
    assert 0 <= latency.sum < 5
    assert [(a, p.value) for a, p in worker_otel.points("agui.runs.ended")] == [
        ({"agent": "default", "outcome": "success", "code": ""}, 1)
    ]


async def test_an_untraced_web_side_queues_no_trace_context(redis_url: str) -> None:
    prefix = f"o{uuid.uuid4().hex[:8]}"
    config = AGUIConfig(agent=chatty, backend=RedisBackend(redis_url, worker_slots=1, prefix=prefix))
    async with web(config) as (app, client):
        _response, events, _ids = await collect_events(
            client, "/ag-ui", run_input("hi", run_id="plain"), headers={"traceparent": TRACEPARENT}
        )
        runs = app.plugins.get("AGUIPlugin").runs  # type: ignore[attr-defined]
        stored = await runs.redis.hget(runs.keys.meta("plain"), "trace")
    assert types(events)[-1] == "RUN_FINISHED"
    assert stored == b""


async def test_runs_the_reaper_or_a_stop_ends_are_counted_ended_by_the_process_that_ended_them(redis_url: str) -> None:
    """A run whose worker died (``WORKER_LOST``), one no worker took (``NO_WORKER``) and one stopped while queued
    (cancelled) end in a script of the reaper or the stop, in a process that never executed them: that process
    counts them in ``agui.runs.ended``, labelled as a run's own end is (RunScope.ended). A run queued once more
    after its worker died has not ended: not counted. None was active in this process: ``agui.runs.active``
    stays untouched."""
    otel = Otel()
    settings = WorkerSettings(start_timeout=0.3, reap_interval=60)  # (the test makes the reaper's one pass)
    web = RedisRunBackend(
        redis_url, worker_slots=0, prefix=f"o{uuid.uuid4().hex[:8]}", settings=settings, telemetry=otel.telemetry
    )
    await web.startup()
    try:
        reaped = await end_runs_four_ways(web)
        ended = sorted(((a["outcome"], a["code"], a["agent"]), p.value) for a, p in otel.points("agui.runs.ended"))
        active = otel.points("agui.runs.active")
    finally:
        await web.shutdown()
        otel.shutdown()
    assert ended == [
        (("cancelled", "", "helper"), 1),  # stopped
        (("error", "NO_WORKER", "helper"), 1),  # orphan
        (("error", "WORKER_LOST", "helper"), 1),  # lost (not again: queued once more)
    ]
    assert active == []
    assert reaped == 2  # the runs the reaper's pass ended: lost and orphan


async def test_a_run_whose_worker_died_after_writing_its_end_is_not_counted_again_by_the_reaper(
    redis_url: str,
) -> None:
    """The reaper also ends a run whose worker wrote its terminal event (and counted it) but died before it
    stored the thread: that end is the worker's, not counted a second time."""
    otel = Otel()
    settings = WorkerSettings(reap_interval=60)  # (the test makes the reaper's one pass)
    web = RedisRunBackend(
        redis_url, worker_slots=0, prefix=f"o{uuid.uuid4().hex[:8]}", settings=settings, telemetry=otel.telemetry
    )
    await web.startup()
    try:
        await web.start(AGENT, queued_input("done"))
        await vanished_worker(web, 1)
        await web.redis.hset(web.keys.meta("done"), "terminal", 1)  # (what its last APPEND set)
        await asyncio.sleep(0.2)  # past the vanished worker's lease
        reaped = await web.reaper.reap_once()
        status = await web.redis.hget(web.keys.meta("done"), "status")
        ended = otel.points("agui.runs.ended")
    finally:
        await web.shutdown()
        otel.shutdown()
    assert (reaped, status) == (1, b"failed")
    assert ended == []
