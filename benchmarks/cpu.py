"""CPU accounting: a process's CPU time, and everybody else's, to tell who was busy during a figure."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import psutil

if TYPE_CHECKING:
    from collections.abc import Collection

__all__ = ("Others", "process_seconds")


def process_seconds(process: psutil.Process) -> float:
    """User plus system CPU time ``process`` has used so far."""
    times = process.cpu_times()
    return float(times.user + times.system)


def _busy(times: Any) -> float:
    return float(times.user + times.nice + times.system + getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0))


def _cores_busy() -> list[float]:
    return [_busy(times) for times in psutil.cpu_times(percpu=True)]


class Others:
    """CPU time that others used between construction and :meth:`seconds`: other processes (a test run, a
    build) skew the figures, and this shows them.

    Two estimates, the larger wins: the CPU time of every other process alive at both ends (and of those
    that started in between), and the busy time of the cores the benchmark uses, less what the measured
    processes used (this one also sees processes that came and went, and kernel work).
    """

    __slots__ = ("_before", "_cores", "_cores_before", "_exclude")

    def __init__(self, exclude: Collection[int], cores: Collection[int | None] = ()) -> None:
        self._exclude = {os.getpid(), *exclude}
        self._cores = sorted({core for core in cores if core is not None})
        self._cores_before = _cores_busy()
        self._before = self._snapshot()

    def _snapshot(self) -> dict[int, float]:
        times: dict[int, float] = {}
        for process in psutil.process_iter():
            if process.pid in self._exclude:
                continue
            try:
                times[process.pid] = process_seconds(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return times

    def seconds(self, measured: float) -> float:
        """CPU seconds others used since construction; ``measured``: what the measured processes used."""
        before = self._before
        processes = sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in self._snapshot().items())
        if not self._cores:
            return processes
        now = _cores_busy()
        cores = sum(now[core] - self._cores_before[core] for core in self._cores)
        return max(processes, cores - measured)
