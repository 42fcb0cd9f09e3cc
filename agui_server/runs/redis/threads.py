"""A thread store in Redis: threads shared by every web and worker process."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

import msgspec

from agui_server.runs.threads import Thread, ThreadLimits

if TYPE_CHECKING:
    from agui_server.runs.redis.keys import Keys

__all__ = ("RedisThreadStore",)

_decoder: Final = msgspec.json.Decoder(Thread)
_encoder: Final = msgspec.json.Encoder()


class RedisThreadStore:
    """Threads as JSON strings with a TTL of ``max_age``, indexed by last update for ``max_threads``."""

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
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.thread(thread.thread_id), payload, px=ttl or None)
            pipe.zadd(keys.threads, {thread.thread_id: updated_ms})
            pipe.zcard(keys.threads)
            results = await pipe.execute()
        await self.trim(int(results[-1]))

    async def trim(self, stored: int) -> None:
        """With ``stored`` threads stored, drop the least recently updated beyond ``max_threads``."""
        excess = stored - self.limits.max_threads
        if excess > 0:
            keys = self.keys
            dropped = await self.redis.zpopmin(keys.threads, excess)
            if dropped:
                await self.redis.delete(*(keys.thread(member.decode()) for member, _score in dropped))

    async def delete(self, thread_id: str) -> None:
        """Forget the thread."""
        await self.redis.delete(self.keys.thread(thread_id))
        await self.redis.zrem(self.keys.threads, thread_id)

    async def close(self) -> None:
        """The Redis client belongs to the backend; nothing to close here."""
