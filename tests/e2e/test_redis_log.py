"""The Redis run log as stored (a batch of events per stream entry), against a real redis-server.

One process runs the backend with worker slots, so the tests can look at the log, the cursors and the
followers directly: cursors that fall inside an entry, trimming of long runs and feeds, thread
subscriptions, and a follower that does not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import uuid
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from agui_server.agents.base import FunctionAgent
from agui_server.protocol import events as ev
from agui_server.protocol.types import RunAgentInput
from agui_server.runs.log import CursorExpired
from agui_server.runs.redis import RedisRunBackend
from agui_server.runs.redis import mirror as mirror_module
from agui_server.runs.redis.entries import MAX_BATCH, Outbox, first_seq, unpack
from agui_server.runs.redis.mirror import STREAMS_PER_READER, StreamMirror
from agui_server.runs.redis.worker import Reaper, WorkerSettings
from agui_server.runs.threads import ThreadLimits
from tests.support.cluster import redis_alone

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from agui_server.runs.backend import FrameSource

_FRAME = re.compile(rb"^(?:event: ([A-Z_]+)\n)?data: ([^\n]*)\nid: (\d+)\n\n$")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_alone(tmp_path_factory.mktemp("redis-log")) as url:
        yield url


async def numbered(input: RunAgentInput, ctx: Any) -> AsyncIterator[Any]:
    """``forwardedProps.events`` numbered pieces of text, ``pause`` seconds apart (default: none)."""
    assert isinstance(input.forwarded_props, dict)
    pause = float(input.forwarded_props.get("pause", 0))
    yield ev.TextMessageStartEvent(message_id=f"m-{ctx.run_id}")
    for n in range(int(input.forwarded_props["events"])):
        if pause:
            await asyncio.sleep(pause)
        yield ev.TextMessageContentEvent(message_id=f"m-{ctx.run_id}", delta=f"{n} ")
    yield ev.TextMessageEndEvent(message_id=f"m-{ctx.run_id}")


@contextlib.asynccontextmanager
async def backend(
    url: str,
    prefix: str | None = None,
    *,
    slots: int = 2,
    thread_limits: ThreadLimits | None = None,
    **settings: Any,
) -> AsyncIterator[RedisRunBackend]:
    """A backend with ``slots`` worker slots running ``numbered``, on a prefix of its own unless given one."""
    runs = RedisRunBackend(
        url,
        agents={"default": FunctionAgent(numbered)},
        worker_slots=slots,
        prefix=prefix or f"t{uuid.uuid4().hex[:8]}",
        settings=WorkerSettings(**settings),
        thread_limits=thread_limits,
    )
    await runs.startup()
    try:
        yield runs
    finally:
        await runs.shutdown()


def run_input(events: int, thread_id: str | None = None, pause: float = 0) -> RunAgentInput:
    run_id = f"r-{uuid.uuid4().hex[:8]}"
    props = {"events": events, "pause": pause}
    return RunAgentInput(thread_id=thread_id or run_id, run_id=run_id, messages=[], forwarded_props=props)


async def next_frames(source: FrameSource, cursor: int) -> list[bytes]:
    """The frames after ``cursor``, waiting for some; empty once ``source`` has closed."""
    while True:
        frames = source.frames_after(cursor)
        if frames or source.closed:
            return frames
        waiter = source.waiter()
        try:
            await waiter
        finally:
            source.forget(waiter)


async def take(source: FrameSource, after: int, count: int | None = None) -> list[bytes]:
    """The frames of ``source`` after ``after``: ``count`` of them, or (``None``) all until it closes."""
    frames: list[bytes] = []
    async with asyncio.timeout(30):
        while count is None or len(frames) < count:
            more = await next_frames(source, after + len(frames))
            if not more:
                break
            frames += more
    return frames


async def drain(source: FrameSource, after: int) -> list[bytes]:
    """Every frame of ``source`` after ``after``, until it closes; then let it go."""
    frames = await take(source, after)
    source.release()
    return frames


async def read_until_expired(source: FrameSource) -> tuple[int, bool]:
    """Read ``source`` from the start, checking that what comes is contiguous: ``(last id read, whether
    frames_after said the rest was gone)``."""
    cursor = 0
    async with asyncio.timeout(30):
        while True:
            try:
                more = await next_frames(source, cursor)
            except CursorExpired:
                return cursor, True
            if not more:
                return cursor, False
            assert ids(more) == list(range(cursor + 1, cursor + len(more) + 1))
            cursor += len(more)


def ids(frames: list[bytes]) -> list[int]:
    out = []
    for frame in frames:
        match = _FRAME.match(frame)
        assert match, frame
        out.append(int(match.group(3)))
    return out


async def finished_run(runs: RedisRunBackend, events: int, thread_id: str | None = None) -> tuple[Any, list[bytes]]:
    """Start a run of ``events`` pieces and read it whole from the start."""
    input = run_input(events, thread_id)
    run = await runs.start(FunctionAgent(numbered), input)
    frames = await drain(runs.open(run, 0), 0)
    return run, frames


def test_an_outbox_packs_a_batch_that_unpacks_to_the_same_events() -> None:
    outbox = Outbox()
    events = [ev.RunStartedEvent(thread_id="t", run_id="r")] + [
        ev.TextMessageContentEvent(message_id="m", delta=f'line\n{n} "quoted" ') for n in range(5)
    ]
    for event in events:
        outbox.add(msgspec.json.encode(event), "RUN_STARTED" if event is events[0] else "TEXT_MESSAGE_CONTENT")
    count, types, payloads, terminal = outbox.batch(4)
    assert (count, terminal, len(outbox)) == (4, 0, 6)
    outbox.drop(4)
    assert len(outbox) == 2
    assert outbox.size == sum(len(msgspec.json.encode(e)) for e in events[4:])
    assert isinstance(types, str)
    assert isinstance(payloads, bytes)
    fields = {b"t": types.encode(), b"d": payloads}
    first, got_types, got_payloads = unpack(b"0-14", fields)
    assert first == first_seq(b"0-14", fields) == 11
    assert got_types == [b"RUN_STARTED"] + [b"TEXT_MESSAGE_CONTENT"] * 3
    assert got_payloads == [msgspec.json.encode(e) for e in events[:4]]
    outbox.add(msgspec.json.encode(ev.RunFinishedEvent(thread_id="t", run_id="r")), "RUN_FINISHED")
    assert outbox.batch()[0::3] == [3, 1]


async def test_a_run_is_stored_in_batches_and_every_cursor_resumes_after_exactly_its_event(redis_url: str) -> None:
    async with backend(redis_url) as runs:
        run, whole = await finished_run(runs, 20_000)
        assert ids(whole) == list(range(1, 20_005))
        entries = await runs.redis.xlen(runs.keys.log(run.run_id))
        assert entries < 20_004 // 10, f"{entries} entries: events are not batched"
        assert await runs.cursor_state(run, 20_004) == "drained"
        assert await runs.cursor_state(run, 20_005) == "ahead"
        rng = random.Random(7)
        for after in [0, 1, 2, 20_003, *rng.sample(range(3, 20_003), 20)]:
            assert await runs.cursor_state(run, after) == "ok"
            assert await drain(runs.open(run, after), after) == whole[after:]


async def ended(runs: RedisRunBackend, run_id: str) -> None:
    """Wait until the run has ended (bounded; polling Redis, as there is no local event to wait on)."""
    async with asyncio.timeout(30):
        while True:
            status = await runs.redis.hget(runs.keys.meta(run_id), "status")
            if status in (b"finished", b"failed", b"cancelled"):
                return
            await asyncio.sleep(0.02)


async def test_a_long_run_keeps_its_last_events_and_older_cursors_expire(redis_url: str) -> None:
    async with backend(redis_url, max_events_per_run=2_000, max_events_per_thread=2_000) as runs:
        run = await runs.start(FunctionAgent(numbered), run_input(30_000))
        await ended(runs, run.run_id)
        kept = 0
        for entry_id, fields in await runs.redis.xrange(runs.keys.log(run.run_id)):
            kept += len(unpack(entry_id, fields)[1])
        assert 2_000 <= kept <= 2_000 + 2 * MAX_BATCH
        assert await runs.cursor_state(run, 0) == "expired"
        assert await runs.cursor_state(run, 30_004 - kept - 1) == "expired"
        tail = 30_004 - 1_500
        assert await runs.cursor_state(run, tail) == "ok"
        frames = await drain(runs.open(run, tail), tail)
        assert ids(frames) == list(range(tail + 1, 30_005))
        assert b'"type":"RUN_FINISHED"' in frames[-1]
        feed_kept = 0
        for entry_id, fields in await runs.redis.xrange(runs.keys.feed(run.thread_id)):
            feed_kept += len(unpack(entry_id, fields)[1])
        assert 2_000 <= feed_kept <= 2_000 + 2 * MAX_BATCH


async def test_a_follower_that_falls_behind_what_the_log_keeps_is_told_never_skipped(redis_url: str) -> None:
    async with backend(redis_url, max_events_per_run=2_000) as runs:
        run = await runs.start(FunctionAgent(numbered), run_input(60_000))
        source = runs.open(run, 0)  # follows from the start, but does not read until the run has ended
        await ended(runs, run.run_id)
        cursor, told = await read_until_expired(source)
        assert told, "the follower was not told that events are missing"
        source.release()
        assert cursor < 60_000  # a contiguous start (perhaps empty, on a busy machine), then word that the rest is gone


async def test_a_thread_subscription_numbers_every_run_and_resumes_inside_a_batch(redis_url: str) -> None:
    async with backend(redis_url, max_events_per_thread=10_000) as runs:
        thread_id = f"thread-{uuid.uuid4().hex[:8]}"
        live = await runs.subscribe(thread_id, None)
        _first, first_frames = await finished_run(runs, 3_000, thread_id)
        _second, second_frames = await finished_run(runs, 3_000, thread_id)
        total = len(first_frames) + len(second_frames)
        seen = await take(live, 0, total)
        runs.unsubscribe(live)
        assert ids(seen) == list(range(1, total + 1))
        as_run = [re.sub(rb"\nid: \d+\n\n$", b"", re.sub(rb"^event: [A-Z_]+\n", b"", frame)) for frame in seen]
        assert as_run == [re.sub(rb"\nid: \d+\n\n$", b"", frame) for frame in first_frames + second_frames]
        types = [_FRAME.match(frame).group(1) for frame in seen]  # type: ignore[union-attr]
        assert types.count(b"RUN_STARTED") == 2
        assert types[-1] == b"RUN_FINISHED"
        after = len(first_frames) + 1_234
        resumed = await runs.subscribe(thread_id, after)
        tail = await take(resumed, after, total - after)
        runs.unsubscribe(resumed)
        assert tail == seen[after:]


async def test_a_follower_that_does_not_read_holds_a_bounded_stretch_of_the_log(redis_url: str) -> None:
    async with backend(redis_url) as runs:
        run, _whole = await finished_run(runs, 100_000)
        source = runs.open(run, 0)
        assert isinstance(source, StreamMirror)
        await asyncio.sleep(1.0)  # the reader reads ahead, then waits for the follower
        read_ahead = len(source)
        assert 0 < read_ahead <= 8192 + 16 * MAX_BATCH
        frames = await drain(source, 0)
        assert ids(frames) == list(range(1, 100_005))


async def test_the_worker_does_not_hold_events_back_to_fill_a_batch(redis_url: str) -> None:
    async with backend(redis_url) as runs:
        input = run_input(20)
        input.forwarded_props = {"events": 20, "pause": 0.01}
        run = await runs.start(FunctionAgent(numbered), input)
        whole = await drain(runs.open(run, 0), 0)
        log = await runs.redis.xrange(runs.keys.log(run.run_id))
        sizes = [len(unpack(entry_id, fields)[1]) for entry_id, fields in log]
        assert sum(sizes) == len(whole) == 24
        assert len(sizes) >= 20, sizes  # an agent that pauses gets its events written one by one


async def test_a_run_whose_agent_is_silent_longer_than_the_retention_keeps_its_log(redis_url: str) -> None:
    async with backend(redis_url, retention=1.0, lease=0.6, start_timeout=1.0) as runs:
        input = run_input(2)
        input.forwarded_props = {"events": 2, "pause": 1.6}  # the keys would expire in between, but for renewal
        run = await runs.start(FunctionAgent(numbered), input)
        frames = await drain(runs.open(run, 0), 0)
    assert ids(frames) == list(range(1, 7))
    assert b'"type":"RUN_FINISHED"' in frames[-1]


async def test_many_followers_share_a_few_connections_and_idle_ones_cost_no_reads(redis_url: str) -> None:
    async with backend(redis_url) as runs:
        runs.worker.slots = 250  # type: ignore[union-attr]
        started = []
        for _ in range(250):
            input = run_input(1)
            input.forwarded_props = {"events": 1, "pause": 3.0}  # then quiet for 3 s
            started.append(await runs.start(FunctionAgent(numbered), input))
        sources = [runs.open(run, 0) for run in started]
        await asyncio.sleep(0.5)
        await runs.redis.config_resetstat()
        await asyncio.sleep(2.0)
        reads = (await runs.redis.info("commandstats")).get("cmdstat_xread", {}).get("calls", 0)
        clients = await runs.redis.client_list()
        readers = [c for c in clients if c["name"] == "agui-streams"]
        results = await asyncio.gather(*(drain(source, 0) for source in sources))
    most = -(-250 // STREAMS_PER_READER)  # 250 streams, STREAMS_PER_READER per reader
    assert len(readers) <= most
    assert reads <= most * 4  # each reader's 1 s blocking read, not one read per stream per second
    for frames in results:
        assert ids(frames) == [1, 2, 3, 4, 5]
        assert b'"type":"RUN_FINISHED"' in frames[-1]


async def test_a_follower_that_does_not_read_does_not_hold_up_one_that_shares_its_reader(redis_url: str) -> None:
    async with backend(redis_url) as runs:
        slow_run = await runs.start(FunctionAgent(numbered), run_input(60_000))
        fast_run = await runs.start(FunctionAgent(numbered), run_input(60_000))
        slow = runs.open(slow_run, 0)
        fast = runs.open(fast_run, 0)
        assert len(runs.hub.readers) == 1  # the two share one reader (and one connection)
        frames = await drain(fast, 0)
        assert ids(frames) == list(range(1, 60_005))
        assert 0 < len(slow) <= 8192 + 16 * MAX_BATCH  # left out of the reads once far enough ahead
        assert ids(await drain(slow, 0)) == list(range(1, 60_005))  # and taken back in as it reads


async def test_a_run_nobody_takes_fails_at_the_deadline_its_web_process_set_whoever_reaps(redis_url: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    web = RedisRunBackend(
        redis_url, worker_slots=0, prefix=prefix, settings=WorkerSettings(start_timeout=0.5, reap_interval=60)
    )
    await web.startup()
    try:
        run = await web.start(FunctionAgent(numbered), run_input(1))
        await asyncio.sleep(0.7)
        # a worker's reaper, with its own (default, 30 s) start timeout, finds the run past the web's deadline
        reaper = Reaper(web.redis, web.keys, WorkerSettings())
        assert await reaper.reap_once() == 1
        frames = await drain(web.open(run, 0), 0)
    finally:
        await web.shutdown()
    assert len(frames) == 2  # RUN_STARTED (written at admission), then RUN_ERROR
    assert b'"code":"NO_WORKER"' in frames[1]


async def test_a_follower_far_behind_a_finished_run_gets_all_of_it_after_a_quiet_spell(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirror_module, "_QUIET_CHECK", 0.2)  # the check for runs that are over, made often
    async with backend(redis_url) as runs:
        slow_run = await runs.start(FunctionAgent(numbered), run_input(40_000))
        source = runs.open(slow_run, 0)
        await ended(runs, slow_run.run_id)
        await asyncio.sleep(1.0)  # several checks while the follower reads nothing: the run is over
        frames = await drain(source, 0)
    assert ids(frames) == list(range(1, 40_005))


async def test_a_thread_feed_keeps_its_numbering_after_the_feed_itself_expired(redis_url: str) -> None:
    async with backend(redis_url, retention=0.5) as runs:
        thread_id = f"thread-{uuid.uuid4().hex[:8]}"
        live = await runs.subscribe(thread_id, None)
        _first, first_frames = await finished_run(runs, 3, thread_id)
        await asyncio.sleep(1.0)  # the feed (and the first run) expire; the subscriber is still there
        assert not await runs.redis.exists(runs.keys.feed(thread_id))
        _second, second_frames = await finished_run(runs, 3, thread_id)
        total = len(first_frames) + len(second_frames)
        seen = await take(live, 0, total)
        runs.unsubscribe(live)
    assert ids(seen) == list(range(1, total + 1))


async def test_a_full_thread_store_drops_its_oldest_threads_a_batch_at_a_time(redis_url: str) -> None:
    """Past ``max_threads`` the store drops its least recently updated threads down to 1 % below the limit in
    one go, so that a full store does not pay two more round trips on every run's end."""
    async with backend(redis_url, slots=8, thread_limits=ThreadLimits(max_threads=300)) as runs:
        await runs.redis.config_resetstat()
        batches: list[list[str]] = []
        for _ in range(8):  # 400 runs, each on a thread of its own, 50 at a time
            started = [await runs.start(FunctionAgent(numbered), run_input(1)) for _ in range(50)]
            for run in started:
                assert b"RUN_FINISHED" in (await drain(runs.open(run, 0), 0))[-1]
            batches.append([run.thread_id for run in started])
        await asyncio.sleep(0.3)  # (the last run's worker drops after its end reached the client)
        stored = await runs.redis.zcard(runs.keys.threads)
        pops = (await runs.redis.info("commandstats")).get("cmdstat_zpopmin", {}).get("calls", 0)
        kept = [[await runs.redis.exists(runs.keys.thread(thread)) for thread in batch] for batch in batches]
    assert 297 <= stored <= 300
    assert pops <= 26  # 100 threads too many, dropped 4 at a time (one over the limit and 1 % of 300)
    assert kept[0] == kept[1] == [0] * 50  # the least recently updated went first
    assert all(flags == [1] * 50 for flags in kept[3:])
