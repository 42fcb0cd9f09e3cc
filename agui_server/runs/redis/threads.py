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
        raw = await self.redis.get(self.keys.thread(thread_id))
        return None if raw is None else _decoder.decode(raw)

    async def save(self, thread: Thread) -> None:
        """Store the thread; the least recently updated beyond ``max_threads`` are dropped."""
        thread.updated_at = time.time()
        self.limits.trim(thread)
        keys = self.keys
        ttl = None if self.limits.max_age is None else int(self.limits.max_age * 1000)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.thread(thread.thread_id), _encoder.encode(thread), px=ttl)
            pipe.zadd(keys.threads, {thread.thread_id: int(thread.updated_at * 1000)})
            pipe.zcard(keys.threads)
            results = await pipe.execute()
        excess = int(results[-1]) - self.limits.max_threads
        if excess > 0:
            dropped = await self.redis.zpopmin(keys.threads, excess)
            if dropped:
                await self.redis.delete(*(keys.thread(member.decode()) for member, _score in dropped))

    async def delete(self, thread_id: str) -> None:
        """Forget the thread."""
        await self.redis.delete(self.keys.thread(thread_id))
        await self.redis.zrem(self.keys.threads, thread_id)

    async def close(self) -> None:
        """The Redis client belongs to the backend; nothing to close here."""
