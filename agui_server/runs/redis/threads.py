"""A thread store in Redis: threads shared by every web and worker process.

With a durable store beside it (``RedisBackend(threads_db="postgresql://…")``), Redis stays where a run's
thread is written as the run ends (the ``FINISH`` script, atomically with the run's end), and the same script
marks the thread in the ``durable`` hash. The process that finished the run then writes that thread to the
durable store and clears the mark (:meth:`RedisThreadStore.settle`); should it die in between, the reaper of
any process finds the mark and writes it (:meth:`RedisThreadStore.settle_pending`). A write is of the whole
thread at its version (its ``updated_at``), which the durable store takes only when newer than what it holds
(``store_run``): written twice it changes nothing, so a turn is neither lost nor doubled. Reads fall back to
the durable store when Redis no longer has a thread (its TTL, eviction, a Redis without persistence), and the
list of an owner's threads comes from it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

import msgspec

from agui_server.principals import owner_of
from agui_server.runs.redis import scripts
from agui_server.runs.threads import Thread, ThreadLimits, ThreadPage, next_cursor, page_of, read_cursor, summary

if TYPE_CHECKING:
    from agui_server.runs.redis.keys import Keys
    from agui_server.runs.threads import DurableThreadStore

__all__ = ("RedisThreadStore",)

SETTLE_AFTER: Final = 2.0
"""Seconds a thread may wait for the process that finished its run to write it to the durable store before
the reaper writes it instead (writing it twice is harmless)."""
SETTLE_BATCH: Final = 100
"""Threads one reaper pass writes to the durable store at most."""
_LIST_ROUNDS: Final = 8
"""Reads of an owner's index a page takes at most (entries of expired threads are dropped as they are met)."""
_decoder: Final = msgspec.json.Decoder(Thread)
_encoder: Final = msgspec.json.Encoder()


class RedisThreadStore:
    """Threads as JSON strings with a TTL of ``max_age``, indexed by last update for ``max_threads`` and per
    owner for the list of an owner's threads; each with an ``info`` hash (creation time, title)."""

    def __init__(
        self, redis: Any, keys: Keys, limits: ThreadLimits | None = None, durable: DurableThreadStore | None = None
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.limits = limits or ThreadLimits()
        self.durable = durable
        """Where finished runs' threads are kept for good (PostgreSQL), or ``None``: Redis only."""
        self._settled = redis.register_script(scripts.SETTLED)

    async def get(self, thread_id: str) -> Thread | None:
        """The thread, unless unknown or expired (in Redis, else in the durable store)."""
        thread = self.decode(await self.redis.get(self.keys.thread(thread_id)))
        if thread is None and self.durable is not None:
            return await self.durable.get(thread_id)
        return thread

    async def settle(self, thread_id: str) -> bool:
        """Write the thread, as Redis has it, to the durable store if ``FINISH`` marked it; clear the mark
        unless a later run set it anew. Whether the durable store took a newer version."""
        if self.durable is None:
            return False
        keys = self.keys
        mark = await self.redis.hget(keys.durable, thread_id)
        if mark is None:
            return False
        thread = self.decode(await self.redis.get(keys.thread(thread_id)))
        written = False
        if thread is not None:  # (else the thread was deleted or expired: nothing to keep)
            written = await self.durable.store_run(thread, mark.decode().partition(":")[2])
        await self._settled(keys=[keys.durable], args=[thread_id, mark])
        return written

    async def settle_pending(self, now_ms: int) -> int:
        """Settle the threads marked more than ``SETTLE_AFTER`` seconds before ``now_ms`` (their run's process
        died before writing them, or its write failed), ``SETTLE_BATCH`` at most; how many it wrote."""
        if self.durable is None:
            return 0
        written = 0
        _cursor, marks = await self.redis.hscan(self.keys.durable, 0, count=SETTLE_BATCH)
        for thread_id, mark in list(marks.items())[:SETTLE_BATCH]:
            if int(mark.decode().partition(":")[0]) < now_ms - SETTLE_AFTER * 1000:
                written += await self.settle(thread_id.decode())
        return written

    @staticmethod
    def decode(raw: bytes | None) -> Thread | None:
        """A thread as stored (``None`` stays ``None``)."""
        return None if raw is None else _decoder.decode(raw)

    def encode(self, thread: Thread) -> tuple[bytes, int, int]:
        """``(JSON, TTL in ms or 0 for none, last update in ms)`` of a thread about to be stored: stamped
        with the time and trimmed to the limits. The ``FINISH`` script stores it as a run ends."""
        thread.updated_at = time.time()
        self.limits.trim(thread)
        return _encoder.encode(thread), self.ttl_ms, int(thread.updated_at * 1000)

    @property
    def ttl_ms(self) -> int:
        """How long a stored thread lives, in ms (0: for ever)."""
        return 0 if self.limits.max_age is None else int(self.limits.max_age * 1000)

    async def save(self, thread: Thread) -> None:
        """Store the thread; the least recently updated beyond ``max_threads`` are dropped."""
        payload, ttl, updated_ms = self.encode(thread)
        keys = self.keys
        key = thread.thread_id
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.thread(key), payload, px=ttl or None)
            pipe.zadd(keys.owner_threads(owner_of(key)), {key: updated_ms})
            pipe.hsetnx(keys.thread_info(key), "created", updated_ms)
            if ttl:
                pipe.pexpire(keys.thread_info(key), ttl)
            pipe.zadd(keys.threads, {key: updated_ms})
            pipe.zcard(keys.threads)
            results = await pipe.execute()
        await self.trim(int(results[-1]))

    async def trim(self, stored: int) -> None:
        """With ``stored`` threads stored, drop the least recently updated beyond ``max_threads``, in batches
        (``ThreadLimits.to_drop``)."""
        excess = self.limits.to_drop(stored)
        if excess > 0:
            dropped = await self.redis.zpopmin(self.keys.threads, excess)
            await self._forget([member.decode() for member, _score in dropped])

    async def delete(self, thread_id: str) -> None:
        """Forget the thread: its keys (feed included), its index entries, and its copy in the durable store."""
        await self._forget([thread_id])

    async def _forget(self, thread_ids: list[str]) -> None:
        """Forget these threads, in one round trip to Redis (and one call each to the durable store)."""
        keys = self.keys
        async with self.redis.pipeline(transaction=True) as pipe:
            for thread_id in thread_ids:
                pipe.delete(*keys.of_thread(thread_id))
                pipe.zrem(keys.threads, thread_id)
                pipe.zrem(keys.owner_threads(owner_of(thread_id)), thread_id)
                pipe.hdel(keys.durable, thread_id)
            await pipe.execute()
        if self.durable is not None:
            for thread_id in thread_ids:
                await self.durable.delete(thread_id)

    async def list_threads(self, owner: str, limit: int, cursor: str | None) -> ThreadPage:
        """``owner``'s threads, newest first: from the durable store when there is one, else through the
        owner's index in Redis (entries whose thread expired are dropped from it on the way)."""
        if self.durable is not None:
            return await self.durable.list_threads(owner, limit, cursor)
        keys = self.keys
        index = keys.owner_threads(owner)
        top = "+inf" if cursor is None else round(read_cursor(cursor)[0] * 1000)
        found: list[tuple[float, str, Thread, list[Any]]] = []
        offset = 0
        for _ in range(_LIST_ROUNDS):
            want = limit + 1 - len(found) + 16  # (16 more for entries at the cursor's ms, before it)
            batch = await self.redis.zrevrangebyscore(index, top, "-inf", start=offset, num=want, withscores=True)
            offset += len(batch)
            entries = page_of(((score / 1000, member.decode()) for member, score in batch), owner, want, cursor)
            if entries:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for _, key in entries:
                        pipe.get(keys.thread(key))
                        pipe.hmget(keys.thread_info(key), "created", "title")
                    stored = await pipe.execute()
                gone = []
                for (at, key), raw, info in zip(entries, stored[::2], stored[1::2], strict=True):
                    thread = self.decode(raw)
                    if thread is None:
                        gone.append(key)
                    else:
                        found.append((at, key, thread, info))
                if gone:
                    await self.redis.zrem(index, *gone)
                    await self.redis.zrem(keys.threads, *gone)
            if len(found) > limit or len(batch) < want:
                break
        found = found[: limit + 1]
        page = [(at, key) for at, key, _, _ in found]
        threads = [
            summary(thread, title.decode() if title else None, int(created or 0) / 1000)
            for _, _, thread, (created, title) in found[:limit]
        ]
        return ThreadPage(threads=threads, next_cursor=next_cursor(page, limit))

    async def rename(self, thread_id: str, title: str) -> bool:
        """Give the thread a title (in its info hash, which the ``FINISH`` script leaves as it is)."""
        keys = self.keys
        durable = self.durable is not None and await self.durable.rename(thread_id, title)
        ttl = await self.redis.pttl(keys.thread(thread_id))
        if ttl == -2:
            return durable
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.thread_info(thread_id), "title", title)
            if ttl > 0:
                pipe.pexpire(keys.thread_info(thread_id), ttl)
            await pipe.execute()
        return True

    async def close(self) -> None:
        """The Redis client belongs to the backend; nothing to close here."""
