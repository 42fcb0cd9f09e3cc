"""A thread store in Redis: threads shared by every web and worker process."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

import msgspec

from agui_server.principals import owner_of
from agui_server.runs.threads import Thread, ThreadLimits, ThreadPage, next_cursor, page_of, read_cursor, summary

if TYPE_CHECKING:
    from agui_server.runs.redis.keys import Keys

__all__ = ("RedisThreadStore",)

_LIST_ROUNDS: Final = 8
"""Reads of an owner's index a page takes at most (entries of expired threads are dropped as they are met)."""
_decoder: Final = msgspec.json.Decoder(Thread)
_encoder: Final = msgspec.json.Encoder()


class RedisThreadStore:
    """Threads as JSON strings with a TTL of ``max_age``, indexed by last update for ``max_threads`` and per
    owner for the list of an owner's threads; each with an ``info`` hash (creation time, title)."""

    def __init__(self, redis: Any, keys: Keys, limits: ThreadLimits | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self.limits = limits or ThreadLimits()

    async def get(self, thread_id: str) -> Thread | None:
        """The thread, unless unknown or expired."""
        return self.decode(await self.redis.get(self.keys.thread(thread_id)))

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
        """With ``stored`` threads stored, drop the least recently updated beyond ``max_threads``."""
        excess = stored - self.limits.max_threads
        if excess > 0:
            keys = self.keys
            dropped = await self.redis.zpopmin(keys.threads, excess)
            for member, _score in dropped:
                await self.delete(member.decode())

    async def delete(self, thread_id: str) -> None:
        """Forget the thread: its keys (feed included) and its index entries."""
        keys = self.keys
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*keys.of_thread(thread_id))
            pipe.zrem(keys.threads, thread_id)
            pipe.zrem(keys.owner_threads(owner_of(thread_id)), thread_id)
            await pipe.execute()

    async def list_threads(self, owner: str, limit: int, cursor: str | None) -> ThreadPage:
        """``owner``'s threads, newest first, through the owner's index (entries whose thread expired are
        dropped from it on the way)."""
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
        ttl = await self.redis.pttl(keys.thread(thread_id))
        if ttl == -2:
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.thread_info(thread_id), "title", title)
            if ttl > 0:
                pipe.pexpire(keys.thread_info(thread_id), ttl)
            await pipe.execute()
        return True

    async def close(self) -> None:
        """The Redis client belongs to the backend; nothing to close here."""
