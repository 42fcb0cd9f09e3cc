"""The Redis run backend for web processes: admit and enqueue runs, stream their logs from any process.

One Redis Stream per run is the single source of truth; live delivery and replay read the same log
(:class:`~agui_server.runs.redis.mirror.StreamHub`, which follows many streams over a few connections).
With ``worker_slots > 0`` the web process also executes runs (all-in-one); with 0 it only admits and
streams, and ``agui-server worker`` processes run the agents. Every process runs the reaper (one at a
time, through a lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec
from redis.exceptions import RedisError

from agui_server.agents.base import DEFAULT_AGENT_ID
from agui_server.observability.telemetry import count_ended, handoff
from agui_server.principals import ANONYMOUS, Principal, client_thread_id, owner_of, thread_key
from agui_server.protocol import events as ev
from agui_server.protocol.compat import is_legacy_client
from agui_server.protocol.encoding import decode_input
from agui_server.runs.backend import (
    REPLAY_WINDOW,
    SETTLE_TIMEOUT,
    BackendUnavailable,
    CursorAhead,
    CursorExpired,
    DisconnectPolicy,
    ResumeRefused,
    RunCaps,
    RunConflict,
    ThreadBusy,
    TooManyRuns,
    cursor_state,
    make_way,
)
from agui_server.runs.config import REDIS_MAX_CONNECTIONS, REDIS_PREFIX, REDIS_TIMEOUT, WORKER_SLOTS
from agui_server.runs.followers import Followers
from agui_server.runs.guard import encode_for_client, run_started
from agui_server.runs.interrupts import (
    INTERRUPT_ALREADY_RESOLVED,
    check_resume,
    has_legacy_resume,
    with_legacy_resume,
)
from agui_server.runs.redis import scripts
from agui_server.runs.redis.client import redis_client
from agui_server.runs.redis.entries import TERMINAL_TYPES, unpack
from agui_server.runs.redis.entries import first_seq as first_seq_of
from agui_server.runs.redis.keys import Keys
from agui_server.runs.redis.mirror import StreamHub
from agui_server.runs.redis.threads import RedisThreadStore
from agui_server.runs.redis.worker import Reaper, RedisWorker, WorkerSettings
from agui_server.runs.reducer import with_history

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agui_server.agents.base import Agent
    from agui_server.observability.telemetry import Telemetry
    from agui_server.protocol.types import RunAgentInput
    from agui_server.runs.backend import CursorState, FrameSource, RunHandle
    from agui_server.runs.threads import DurableThreadStore, Thread, ThreadLimits, ThreadPage

__all__ = ("RedisRun", "RedisRunBackend")

_ENDED: Final = frozenset({b"finished", b"failed", b"cancelled"})


def _over(status: bytes | None, terminal: bytes | None) -> bool:
    """From a run's ``status`` and ``terminal`` fields: it has ended or sent its terminal event (a status
    that is gone counts as ended). ``terminal`` is set in the script that appends the terminal event (and
    cleared when a run is queued once more), so it answers before the worker's finish sets the status."""
    return status is None or status in _ENDED or terminal == b"1"


_SETTLE: Final = SETTLE_TIMEOUT
_WATCH_MS: Final = 30_000
"""How long a wide feed's marker lasts unless renewed (its watchers renew it every third of that)."""
_LOOK_BACK: Final = 64
"""Feed entries searched (newest first) for the start of a thread's run in progress."""
_encoder: Final = msgspec.json.Encoder()


@dataclass(slots=True, eq=False)
class RedisRun:
    """A run as the web side knows it."""

    run_id: str
    thread_id: str
    """The thread's key (``principals.thread_key``)."""
    agent_id: str
    legacy_client: bool
    input: RunAgentInput
    policy: DisconnectPolicy
    followers: Followers | None = field(default=None, repr=False)
    """This process's followers (made by the backend when the first one comes)."""
    started: bytes | None = field(default=None, repr=False)
    """The run's first event (``RUN_STARTED``) as this process's ``SUBMIT`` wrote it, until a follower opens the
    run's log from its start: that follower has it without reading Redis."""


class _Holder:
    """The run that holds a thread's lock, for the busy rule."""

    __slots__ = ("backend", "run_id", "thread_id")

    def __init__(self, backend: RedisRunBackend, thread_id: str, run_id: str) -> None:
        self.backend = backend
        self.thread_id = thread_id
        self.run_id = run_id

    async def ending(self) -> bool:
        status, terminal = await self.backend.redis.hmget(self.backend.keys.meta(self.run_id), "status", "terminal")
        return _over(status, terminal)

    async def supersede(self) -> None:
        await self.backend._request_cancel(self.run_id)

    async def settled(self, deadline: float) -> bool:
        """Until the lock is no longer the run's (its end frees it); a run that vanished (expired) frees it
        here."""
        redis = self.backend.redis
        key = self.backend.keys.active(self.thread_id)
        meta = self.backend.keys.meta(self.run_id)
        holder = self.run_id.encode()
        loop = asyncio.get_running_loop()
        while True:
            if await redis.get(key) != holder:
                return True
            if not await redis.exists(meta):
                async with redis.pipeline(transaction=True) as pipe:
                    await pipe.watch(key)
                    if await pipe.get(key) == holder:
                        pipe.multi()
                        pipe.delete(key)
                        await pipe.execute()
                return True
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.02)


def _never() -> bool:
    return False


def _unavailable(exc: BaseException) -> BackendUnavailable:
    return BackendUnavailable(f"Redis is unreachable ({type(exc).__name__})", retry_after=5)


class RedisRunBackend:
    """Runs in Redis.

    Args:
        url: the Redis URL (``redis://host:6379/0``).
        agents: the agents this process can execute (used by its worker slots).
        worker_slots: runs this process executes at once (0: a web process only).
        prefix: the key prefix, to share one Redis between deployments.
        settings: leases, deadlines, retention, bounds.
        busy_policy: a second run on a busy thread: ``reject`` or ``supersede``.
        disconnect_policy: the default policy when a run's last local follower disconnects.
        thread_limits: bounds of the thread store.
        durable: where finished runs' threads are kept for good (PostgreSQL; ``redis/threads.py``).
        socket_timeout: seconds before a Redis command gives up.
        caps: how many runs may be in progress at once, on all processes (``TooManyRuns`` past them).
        telemetry: where the spans and metrics of the runs this process executes go (``None``: nowhere), and
            where the runs its reaper or a stop ends without a worker are counted (``agui.runs.ended``); the
            trace context of the request that queues a run travels with it to the worker either way.
        max_connections: connections for commands in flight at once (streams are read over connections
            of their own).
    """

    def __init__(
        self,
        url: str,
        *,
        agents: dict[str, Agent] | None = None,
        worker_slots: int = WORKER_SLOTS,
        prefix: str = REDIS_PREFIX,
        settings: WorkerSettings | None = None,
        busy_policy: Literal["reject", "supersede"] = "reject",
        disconnect_policy: DisconnectPolicy | None = None,
        thread_limits: ThreadLimits | None = None,
        durable: DurableThreadStore | None = None,
        socket_timeout: float = REDIS_TIMEOUT,
        max_connections: int = REDIS_MAX_CONNECTIONS,
        caps: RunCaps | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.url = url
        self.telemetry = telemetry
        self.caps = caps or RunCaps()
        self.keys = Keys(prefix)
        self.settings = settings or WorkerSettings()
        self.busy_policy = busy_policy
        self.disconnect_policy = disconnect_policy or DisconnectPolicy()
        self.redis: Any = redis_client(url, name="agui", max_connections=max_connections, socket_timeout=socket_timeout)
        # the stream readers: each holds one connection (a reader follows up to mirror.STREAMS_PER_READER streams)
        # while it waits in XREAD BLOCK (1 s at most)
        self.blocking: Any = redis_client(
            url, name="agui-streams", max_connections=10_000, socket_timeout=socket_timeout + 2.0
        )
        # a stream outlives a Redis outage that its run outlives (the lease), and long enough after it to
        # deliver the run's end (the reaper's WORKER_LOST once the lease ran out)
        self.hub = StreamHub(self.blocking, self.redis, prefix, outage_limit=max(2 * self.settings.lease, 10.0))
        self.threads = RedisThreadStore(self.redis, self.keys, thread_limits, durable)
        self._submit = self.redis.register_script(scripts.SUBMIT)
        self._delete_thread = self.redis.register_script(scripts.DELETE_THREAD)
        self._end_queued = self.redis.register_script(scripts.END_QUEUED)
        self.worker = (
            RedisWorker(
                self.redis,
                self.keys,
                dict(agents or {}),
                self.threads,
                slots=worker_slots,
                settings=self.settings,
                telemetry=telemetry,
            )
            if worker_slots > 0
            else None
        )
        self.reaper = Reaper(self.redis, self.keys, self.settings, self.threads, telemetry=telemetry)
        self._local: dict[str, RedisRun] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._watched: dict[str, int] = {}  # wide feed markers this process keeps set → its subscribers
        self._watching: dict[int, str] = {}  # id(source) → its marker
        self._watcher: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def startup(self) -> None:
        """Start this process's worker slots and reaper."""
        if self.worker is not None:
            await self.worker.start()
        self.reaper.start()

    async def shutdown(self) -> None:
        """Stop the worker slots (their runs end ``cancelled``), the reaper, and close the clients."""
        if self.worker is not None:
            await self.worker.stop()
        await self.reaper.stop()
        for task in list(self._background):
            task.cancel()
        await self.hub.aclose()
        await self.redis.aclose()
        await self.blocking.aclose()
        if self.threads.durable is not None:
            await self.threads.durable.close()

    # -- admission ------------------------------------------------------------------------------

    async def start(
        self,
        agent: Agent,
        input: RunAgentInput,
        *,
        agent_id: str = DEFAULT_AGENT_ID,
        policy: DisconnectPolicy | None = None,
        principal: Principal = ANONYMOUS,
        owner: str | None = None,
    ) -> RedisRun:
        """Admit and enqueue a run for ``principal`` on ``owner``'s thread of that id (default owner: the
        principal), or re-attach to the run."""
        try:
            key = thread_key(principal.id if owner is None else owner, input.thread_id)
            return await self._start(input, agent_id, policy or self.disconnect_policy, key)
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def _start(self, input: RunAgentInput, agent_id: str, policy: DisconnectPolicy, thread_id: str) -> RedisRun:
        keys = self.keys
        legacy = is_legacy_client(input.protocol_version)
        policy_text = policy.mode if policy.mode != "grace" else f"grace:{policy.grace:g}"
        owner = owner_of(thread_id)
        per_owner = self.caps.per_owner if owner != ANONYMOUS.id else None
        if legacy and has_legacy_resume(input):  # (its answers name no interrupt: they need the open ones)
            input = with_legacy_resume(input, await self.threads.get(thread_id))
        resume = input.resume or []
        settings = self.settings
        started = encode_for_client(run_started(input, legacy), legacy)
        args = [
            input.run_id, thread_id, agent_id, "1" if legacy else "0", _encoder.encode(input), policy_text,
            settings.lock_ms, int(settings.start_timeout * 1000), self.caps.total or 0, per_owner or 0,
            started, settings.max_events_per_run, settings.max_events_per_thread, settings.retention_ms,
            self.threads.ttl_ms, handoff(),
            len(resume), *(value for entry in resume for value in (entry.interrupt_id, entry.status)),
        ]  # fmt: skip
        run_keys = [
            keys.meta(input.run_id), keys.queue, keys.queued, keys.active(thread_id), keys.log(input.run_id),
            keys.leases, keys.owner_runs(owner), keys.interrupts(thread_id),
            *keys.appended(input.run_id, thread_id, agent_id)[2:],
        ]  # fmt: skip
        ahead = self.hub.wake_ahead()  # (the stream reader that will follow the run, woken by SUBMIT itself)
        if ahead is not None:
            run_keys.append(ahead[0].wake_key)
        # one round trip in the usual case; the worker that claims the run merges the thread's history
        reply = await self._submit(keys=run_keys, args=args)
        if reply[0] == b"busy":
            await self._admit(thread_id, input.run_id, reply[1].decode())
            reply = await self._submit(keys=run_keys, args=args)
        if reply[0] == b"exists":
            existing = await self._handle(input.run_id)
            if existing is None:
                raise RunConflict(input.run_id)
            if existing.thread_id != thread_id or existing.legacy_client != legacy:
                raise RunConflict(input.run_id)
            return existing
        if reply[0] == b"interrupts":
            await self._refuse_resume(thread_id, input)
        if reply[0] == b"full":
            raise TooManyRuns("server")
        if reply[0] == b"owner_full":
            raise TooManyRuns("owner")
        if reply[0] != b"queued":  # the thread was taken again between the wait and the submission
            raise ThreadBusy(thread_id, reply[1].decode())
        if ahead is not None:
            ahead[0].woken(ahead[1])
        metrics = self.telemetry.metrics if self.telemetry is not None else None
        if metrics is not None and len(reply) > 1:
            metrics.redis_queue_depth.set(int(reply[1]))
        run = RedisRun(input.run_id, thread_id, agent_id, legacy, input, policy, started=started)
        self._local[run.run_id] = run
        return run

    async def _refuse_resume(self, thread_id: str, input: RunAgentInput) -> None:
        """``SUBMIT`` found the answers are not the thread's open interrupts: say which rule they break."""
        stored = await self.threads.get(thread_id)
        check_resume(stored, input.resume)
        raise ResumeRefused(INTERRUPT_ALREADY_RESOLVED, "The thread's interrupts were answered meanwhile.")

    async def _admit(self, thread_id: str, run_id: str, holder_id: str) -> None:
        """Take the thread's lock once its run in progress ``holder_id`` makes way (the busy rule:
        ``backend.make_way``), bounded; the lock may pass to another run meanwhile, which is waited for too."""
        key = self.keys.active(thread_id)
        deadline = asyncio.get_running_loop().time() + _SETTLE
        while True:
            await make_way(self.busy_policy, thread_id, run_id, _Holder(self, thread_id, holder_id), deadline)
            if await self.redis.set(key, run_id, nx=True, px=self.settings.lock_ms):
                return
            holder = await self.redis.get(key)
            if holder is not None:
                holder_id = holder.decode()
                if holder_id == run_id:
                    return

    # -- lookups --------------------------------------------------------------------------------

    async def _handle(self, run_id: str) -> RedisRun | None:
        local = self._local.get(run_id)
        fields = await self.redis.hmget(self.keys.meta(run_id), "thread_id", "agent_id", "legacy", "input", "policy")
        thread_id, agent_id, legacy, raw_input, policy = fields
        if thread_id is None or raw_input is None:
            self._local.pop(run_id, None)
            return None
        if local is not None:
            return local
        return RedisRun(
            run_id=run_id,
            thread_id=thread_id.decode(),
            agent_id=(agent_id.decode() if agent_id else DEFAULT_AGENT_ID),
            legacy_client=legacy == b"1",
            input=decode_input(raw_input),
            policy=DisconnectPolicy.parse((policy or b"cancel").decode()),
        )

    async def get(self, run_id: str) -> RedisRun | None:
        """A running or retained run."""
        try:
            return await self._handle(run_id)
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def active_run(self, thread_id: str) -> RedisRun | None:
        """The thread's run in progress."""
        try:
            holder = await self.redis.get(self.keys.active(thread_id))
            if holder is None:
                return None
            status, terminal = await self.redis.hmget(self.keys.meta(holder.decode()), "status", "terminal")
            if _over(status, terminal):
                return None  # ended, or storing its thread: the stored thread tells the whole story
            run = await self._handle(holder.decode())
            if run is None:
                return None
            # the input as the agent sees it: the worker merges the stored history in when it claims the run
            merged = with_history(run.input, await self.threads.get(thread_id))
            return dataclasses.replace(run, input=merged)
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def cursor_state(self, run: RunHandle, after: int) -> CursorState:
        """Where a resume cursor stands in the run's log."""
        try:
            status, seq, terminal = await self.redis.hmget(self.keys.meta(run.run_id), "status", "seq", "terminal")
            if status is None:
                return "expired"
            last = int(seq or 0)
            if after > last:
                return "ahead"
            first = await self.redis.xrange(self.keys.log(run.run_id), "-", "+", count=1)
            first_seq = first_seq_of(*first[0]) if first else last + 1
            return cursor_state(after, first_seq, last, _over(status, terminal))
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc

    def _ended_check(self, run_id: str) -> Callable[[], Awaitable[bool]]:
        meta = self.keys.meta(run_id)

        async def is_over() -> bool:
            status, terminal = await self.redis.hmget(meta, "status", "terminal")
            return _over(status, terminal)

        return is_over

    def open(self, run: RunHandle, after: int) -> FrameSource:
        """A mirror of the run's log after ``after`` for one follower (the first follower of a run this process
        admitted has its ``RUN_STARTED`` at once)."""
        first = None
        if after == 0 and isinstance(run, RedisRun) and run.started is not None:
            first, run.started = run.started, None
        return self.hub.open(self.keys.log(run.run_id), after, is_over=self._ended_check(run.run_id), first=first)

    # -- followers, stop ------------------------------------------------------------------------

    def follow(self, run: RunHandle) -> None:
        """A local client follows the run."""
        assert isinstance(run, RedisRun)
        self._local.setdefault(run.run_id, run)
        if run.followers is None:
            run.followers = Followers(run.run_id, run.policy)
        run.followers.follow()

    def unfollow(self, run: RunHandle, completed: bool) -> None:
        """A local client left; the run's policy applies when it left early and was the last here. (Whether
        the run has ended is the worker's to know: a cancel of an ended run changes nothing.)"""
        assert isinstance(run, RedisRun)
        assert run.followers is not None
        run_id = run.run_id

        def stop() -> None:
            self._local.pop(run_id, None)
            self._spawn(self._request_cancel(run_id))

        run.followers.unfollow(completed, ended=_never, stop=stop)
        if run.followers.count <= 0 and not run.followers.waiting:
            self._local.pop(run_id, None)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _request_cancel(self, run_id: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            meta = self.keys.meta(run_id)
            if await self.redis.exists(meta):  # (a cancel must not make a bare status for a run that is gone)
                await self.redis.hset(meta, "cancel", 1)
                await self.redis.publish(self.keys.cancel, run_id)

    async def stop(self, run_id: str) -> Literal["cancelled", "finished"] | None:
        """Cancel the run on whatever worker holds it; answer once it has ended (bounded)."""
        try:
            meta = self.keys.meta(run_id)
            status, thread_id, agent_id, legacy = await self.redis.hmget(
                meta, "status", "thread_id", "agent_id", "legacy"
            )
            if status is None:
                return None
            if status in _ENDED:
                return "finished"
            if status == b"queued" and await self._cancel_queued(
                run_id,
                (thread_id or b"").decode(),
                agent_id.decode() if agent_id else DEFAULT_AGENT_ID,
                legacy == b"1",
            ):
                return "cancelled"
            await self.redis.hset(meta, "cancel", 1)
            await self.redis.publish(self.keys.cancel, run_id)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + _SETTLE
            while loop.time() < deadline:
                status = await self.redis.hget(meta, "status")
                if status is None or status in _ENDED:
                    break
                await asyncio.sleep(0.02)
            return "cancelled"
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def _cancel_queued(self, run_id: str, thread_id: str, agent_id: str, legacy: bool) -> bool:
        """End a run no worker has taken yet, now, with the ``cancelled`` outcome: its agent never starts and
        the stored thread stays as it was (as for a run no worker took in time); its ``RUN_FINISHED`` reaches
        every feed its ``RUN_STARTED`` reached, and the run is counted in this process's ``agui.runs.ended``.
        False if a worker claimed it meanwhile, or it was queued once more after a lost worker: then the
        cancel flag reaches the worker that claims it, which ends it cancelled and stores the thread; so is a
        run that answers interrupts (its claim stores the answers with the thread)."""
        input = await self.redis.hget(self.keys.meta(run_id), "input")  # (read for queued runs only)
        if input is None or decode_input(input).resume:
            return False
        finished = ev.RunFinishedEvent(
            thread_id=client_thread_id(thread_id), run_id=run_id, outcome=ev.CancelledOutcome()
        )
        payload = encode_for_client(finished, legacy)
        settings = self.settings
        ended = await self._end_queued(
            keys=self.keys.ended_queued(run_id, thread_id, agent_id),
            args=[
                run_id, payload, settings.retention_ms, settings.max_events_per_run, settings.max_events_per_thread,
                "RUN_FINISHED", "cancelled", 0,
            ],
        )  # fmt: skip
        if ended != 1:
            return False
        count_ended(self.telemetry, agent_id, "RUN_FINISHED", payload)
        return True

    # -- threads --------------------------------------------------------------------------------

    async def thread(self, thread_id: str) -> Thread | None:
        """The stored thread."""
        try:
            return await self.threads.get(thread_id)
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def list_threads(self, owner: str, limit: int, cursor: str | None) -> ThreadPage:
        """``owner``'s stored threads, newest first."""
        try:
            return await self.threads.list_threads(owner, limit, cursor)
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def rename_thread(self, thread_id: str, title: str) -> bool:
        """Give the stored thread a title."""
        try:
            return await self.threads.rename(thread_id, title)
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def delete_thread(self, thread_id: str) -> bool:
        """Delete the stored thread, its feed and its interrupts in one step (``DELETE_THREAD``), unless a run
        holds it (``ThreadBusy``)."""
        keys = self.keys
        try:
            reply = await self._delete_thread(
                keys=[keys.active(thread_id), keys.threads, keys.owner_threads(owner_of(thread_id)), keys.durable,
                      *keys.of_thread(thread_id)],
                args=[thread_id],
            )  # fmt: skip
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc
        if reply[0] == b"busy":
            raise ThreadBusy(thread_id, reply[1].decode())
        durable = self.threads.durable
        kept = durable is not None and await durable.get(thread_id) is not None
        if durable is not None:
            await durable.delete(thread_id)
        return bool(reply[1]) or kept

    async def subscribe(self, thread_id: str, after: int | None) -> FrameSource:
        """Follow every event of the thread after ``after`` (``None``: from now)."""
        keys = self.keys
        start = await self._feed_cursor(keys.feed(thread_id), keys.feed_seq(thread_id), after, ahead="refuse")
        return self.hub.open(keys.feed(thread_id), start, with_event_lines=True, ends_at_terminal=False)

    async def _feed_cursor(
        self, feed: str, feed_seq: str, after: int | None, *, ahead: Literal["refuse", "now"]
    ) -> int:
        """Where a feed's subscriber starts: ``after``, or now (``None``); past the newest event: ``CursorAhead``
        or now; before the oldest kept: ``CursorExpired``."""
        try:
            last = int(await self.redis.get(feed_seq) or 0)
            if after is None:
                return last
            if after > last:
                if ahead == "refuse":
                    raise CursorAhead(after)
                return last
            if after < last:
                first = await self.redis.xrange(feed, "-", "+", count=1)
                first_seq = first_seq_of(*first[0]) if first else last + 1
                if after < first_seq - 1:
                    raise CursorExpired(after)
            return after
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def subscribe_from(self, thread_id: str) -> int | None:
        """Just before the ``RUN_STARTED`` of the thread's latest run (looked for in the feed's latest
        entries) when it is in progress or ended less than ``REPLAY_WINDOW`` seconds ago (by its terminal
        event's timestamp), or ``None``: from now."""
        try:
            running = await self.redis.get(self.keys.active(thread_id)) is not None
            entries = await self.redis.xrevrange(self.keys.feed(thread_id), "+", "-", count=_LOOK_BACK)
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc
        if not entries:
            return None
        if not running:
            _seq, types, payloads = unpack(*entries[0])
            if types[-1] not in TERMINAL_TYPES:
                return None
            ended_ms = msgspec.json.decode(payloads[-1]).get("timestamp")
            if not isinstance(ended_ms, int) or time.time() * 1000 - ended_ms > REPLAY_WINDOW * 1000:
                return None
        for entry_id, fields in entries:
            seq, types, _payloads = unpack(entry_id, fields)
            for n in range(len(types) - 1, -1, -1):
                if types[n] == b"RUN_STARTED":
                    return seq + n - 1
        return None

    async def subscribe_all(self, agent_id: str | None, after: int | None) -> FrameSource:
        """Subscribe to the agent's (or the server's) feed after ``after`` (``None``, or past the newest: from now).

        Runs write to such a feed only while it is watched: a marker key with an expiry that each web
        process with subscribers keeps set, so unwatched feeds cost the runs nothing.
        """
        keys = self.keys
        watched = keys.wide_feed_watched(agent_id)
        try:
            await self.redis.set(watched, 1, px=_WATCH_MS)
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc
        feed = keys.wide_feed(agent_id)
        start = await self._feed_cursor(feed, keys.wide_feed_seq(agent_id), after, ahead="now")
        source = self.hub.open(feed, start, with_event_lines=True, ends_at_terminal=False)
        self._watching[id(source)] = watched
        self._watched[watched] = self._watched.get(watched, 0) + 1
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._keep_watching())
            self._background.add(self._watcher)
            self._watcher.add_done_callback(self._background.discard)
        return source

    async def _keep_watching(self) -> None:
        """Renew the markers of the wide feeds this process has subscribers for, until it has none."""
        while self._watched:
            await asyncio.sleep(_WATCH_MS / 3000)
            for marker in list(self._watched):
                with contextlib.suppress(RedisError, OSError):
                    await self.redis.set(marker, 1, px=_WATCH_MS)

    def unsubscribe(self, source: FrameSource) -> None:
        """The mirror stops when its subscriber releases it (a wide feed's marker then expires unless others
        watch it)."""
        source.release()
        marker = self._watching.pop(id(source), None)
        if marker is not None:
            left = self._watched.get(marker, 1) - 1
            if left > 0:
                self._watched[marker] = left
            else:
                self._watched.pop(marker, None)
