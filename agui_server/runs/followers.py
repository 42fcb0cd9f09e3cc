"""The followers of a run and what their leaving does: the disconnect policy, written once for every backend.

A run counts the clients following it in this process. When the last one leaves before the run's end,
the run's :class:`~agui_server.runs.manager.DisconnectPolicy` decides: ``cancel`` stops the run at once,
``continue`` lets it finish, ``grace`` lets it go on and stops it after the grace period unless a client
came back. The in-process manager and the Redis backend keep one :class:`Followers` per followed run and
say, when a client leaves, whether the run has ended and how to stop it (nothing here refers back to the
run, so a finished run is freed without the garbage collector).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from agui_server.runs.backend import DisconnectPolicy

__all__ = ("Followers",)

logger = logging.getLogger("agui_server.runs")


class Followers:
    """The clients following one run here, and its grace countdown."""

    __slots__ = ("_grace", "count", "policy", "run_id")

    def __init__(self, run_id: str, policy: DisconnectPolicy) -> None:
        self.run_id = run_id
        self.policy = policy
        self.count = 0
        self._grace: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> bool:
        """Whether a grace period is running (the run must stay tracked until it ends)."""
        return self._grace is not None

    def follow(self) -> None:
        """A client follows the run: a grace countdown stops."""
        self.count += 1
        self.cancel_grace()

    def unfollow(self, completed: bool, *, ended: Callable[[], bool], stop: Callable[[], object]) -> None:
        """A client left (``completed``: it saw the end). When it left early and was the last, the policy
        applies: ``stop`` the run now, or after the grace period unless a client came back (``ended``: whether
        the run is over, when nothing need be done)."""
        self.count -= 1
        if completed or self.count > 0 or ended():
            return
        if self.policy.mode == "cancel":
            stop()
        elif self.policy.mode == "grace":
            self._grace = asyncio.get_running_loop().call_later(self.policy.grace, self._expired, ended, stop)

    def cancel_grace(self) -> None:
        """Stop a grace countdown (a client came back, or the run ended)."""
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    def _expired(self, ended: Callable[[], bool], stop: Callable[[], object]) -> None:
        self._grace = None
        if self.count <= 0 and not ended():
            logger.info("run %s: no client came back within its grace period; cancelling it", self.run_id)
            stop()
