"""Per-principal limits: open streams and run starts per minute (429 with ``Retry-After`` past them).

They bound what one authenticated caller can take from the others; without authentication every caller
is the one anonymous principal, so they are not applied (local development, benchmarks). They are kept
per web process.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("PrincipalLimits",)

_WINDOW: Final = 60.0


class PrincipalLimits:
    """Counts each principal's open streams and recent run starts.

    Args:
        max_streams: streams one principal may hold open at once (``None``: no limit).
        max_starts_per_minute: runs one principal may start in any 60 seconds (``None``: no limit).
    """

    __slots__ = ("_starts", "_streams", "max_starts_per_minute", "max_streams")

    def __init__(self, max_streams: int | None, max_starts_per_minute: int | None) -> None:
        self.max_streams = max_streams
        self.max_starts_per_minute = max_starts_per_minute
        self._streams: dict[str, int] = {}
        self._starts: dict[str, deque[float]] = {}

    def stream_refused(self, principal_id: str) -> bool:
        """Whether the principal holds as many streams as it may."""
        return self.max_streams is not None and self._streams.get(principal_id, 0) >= self.max_streams

    def opened(self, principal_id: str) -> Callable[[], None]:
        """Count a stream the principal opened; call the answer when it closes."""
        self._streams[principal_id] = self._streams.get(principal_id, 0) + 1

        def closed() -> None:
            left = self._streams.get(principal_id, 1) - 1
            if left > 0:
                self._streams[principal_id] = left
            else:
                self._streams.pop(principal_id, None)

        return closed

    def start_refused(self, principal_id: str) -> float | None:
        """Seconds until the principal may start another run (``None``: now; the start is counted)."""
        if self.max_starts_per_minute is None:
            return None
        now = time.monotonic()
        starts = self._starts.get(principal_id)
        if starts is None:
            starts = self._starts[principal_id] = deque()
        while starts and starts[0] <= now - _WINDOW:
            starts.popleft()
        if len(starts) >= self.max_starts_per_minute:
            return starts[0] + _WINDOW - now
        starts.append(now)
        if len(self._starts) > 10_000:  # forget idle principals (their windows are empty)
            for idle in [p for p, s in self._starts.items() if not s or s[-1] <= now - _WINDOW]:
                del self._starts[idle]
        return None
