"""One benchmark run: every server in turn, every figure, the same settings."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from benchmarks.apps import DEFAULT_SERVERS, REDIS, THREAD_STORES, base
from benchmarks.idle import idle_streams
from benchmarks.latency import time_to_first_event
from benchmarks.load import LoadTool, measure_load
from benchmarks.results import ServerResult
from benchmarks.server import HOST, Server, running_server
from benchmarks.stream import events_per_second

if TYPE_CHECKING:
    from benchmarks.postgres_server import BenchPostgres
    from benchmarks.redis_server import RedisServer

__all__ = ("FULL", "GROUPS", "QUICK", "Settings", "groups", "measure_server", "pin_cores")


@dataclass(frozen=True, slots=True)
class Settings:
    tokens: int = 100_000
    """Tokens of the single-stream reply."""
    stream_runs: int = 3
    stream_seconds: float = 2.0
    """Keep streaming single runs until this much wall time is measured (CPU % needs it)."""
    ttfe_runs: int = 200
    ttfe_warmup: int = 20
    short_tokens: int = 20
    """Tokens per run for the time-to-first-event and concurrent rows."""
    clients: tuple[int, ...] = (1, 10, 100)
    duration: float = 5.0
    """Seconds per concurrent row."""
    warmup_duration: float = 1.0
    idle_streams: tuple[int, ...] = (1000, 10000)
    """Idle streams held at once, each count in a fresh server process."""
    idle_window: float = 3.0
    """Seconds of server CPU measured while the idle streams wait (keepalives every ``IDLE_PING_SECONDS``)."""
    servers: tuple[str, ...] = DEFAULT_SERVERS
    only: tuple[str, ...] = ()
    """The groups of figures to measure (``idle``, ``first_event``, ``concurrent``, ``stream``); empty: all."""
    fresh_server_per_group: bool = True
    """Start each server afresh for each group of figures (and flush Redis between them); off, one start
    serves every group (``--quick``: it only proves the benchmark runs, and starts cost seconds)."""

    @property
    def load_tokens(self) -> int:
        return self.short_tokens


FULL = Settings()
QUICK = Settings(
    tokens=2_000,
    stream_runs=1,
    stream_seconds=0.3,
    ttfe_runs=20,
    ttfe_warmup=2,
    duration=1.0,
    warmup_duration=0.0,
    idle_streams=(200,),
    idle_window=1.0,
    fresh_server_per_group=False,
)


def pin_cores() -> tuple[int | None, int | None]:
    """``(server core, load core)``: the first two CPUs this process may use; the load generator (this
    process, and wrk) is pinned to the second. ``(None, None)`` with fewer than two."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None
    server_core, load_core = allowed[0], allowed[1]
    os.sched_setaffinity(0, {load_core})
    return server_core, load_core


def _log(message: str) -> None:
    print(f"  {message}", flush=True)


async def _idle(server: Server, settings: Settings, _tool: LoadTool, result: ServerResult, streams: int) -> None:
    row = await idle_streams(server, HOST, streams=streams, window=settings.idle_window)
    result.idle.append(row)
    if not result.idle_streams:
        result.idle_kib_per_stream, result.idle_streams = row.kib_per_stream, streams
    _log(
        f"{streams:,} idle streams: {row.kib_per_stream:.1f} KiB each, server CPU {row.cpu_pct:.1f} % while they "
        f"wait ({row.alive:,} still open)"
    )


async def _first_event(server: Server, settings: Settings, _tool: LoadTool, result: ServerResult) -> None:
    p50, p99 = await time_to_first_event(
        server,
        HOST,
        tokens=settings.short_tokens,
        runs=settings.ttfe_runs,
        warmup=settings.ttfe_warmup,
    )
    result.ttfe_p50_ms, result.ttfe_p99_ms = p50 * 1000, p99 * 1000
    _log(f"time to first event: p50 {result.ttfe_p50_ms:.3f} ms, p99 {result.ttfe_p99_ms:.3f} ms")


async def _concurrent(server: Server, settings: Settings, tool: LoadTool, result: ServerResult) -> None:
    if settings.warmup_duration > 0:
        await measure_load(
            server, HOST, tool, clients=10, duration=settings.warmup_duration, tokens=settings.short_tokens
        )
    for clients in settings.clients:
        row = await measure_load(
            server, HOST, tool, clients=clients, duration=settings.duration, tokens=settings.short_tokens
        )
        result.load.append(row)
        _log(
            f"{clients} client{'' if clients == 1 else 's'}: {row.runs_per_s:,.0f} runs/s, p99 {row.p99_ms:.2f} ms, "
            f"CPU server {row.server_cpu_pct:.0f} % / load {row.load_cpu_pct:.0f} % / other {row.other_cpu_pct:.0f} %"
            + _roles(row.server_cpu_pct_by_role)
            + (f", {row.errors} errors" if row.errors else "")
        )


async def _single_stream(server: Server, settings: Settings, tool: LoadTool, result: ServerResult) -> None:
    rates, middle = await events_per_second(
        server,
        HOST,
        tokens=settings.tokens,
        runs=settings.stream_runs,
        min_seconds=settings.stream_seconds,
        cores=(tool.server_core, tool.core),
    )
    result.events_per_s_runs = rates
    result.events_per_s = middle.events_per_s
    result.events_server_cpu_pct, result.events_client_cpu_pct = middle.server_cpu_pct, middle.client_cpu_pct
    result.events_other_cpu_pct = middle.other_cpu_pct
    result.events_server_cpu_pct_by_role = middle.server_cpu_pct_by_role
    _log(
        f"single stream: {result.events_per_s:,.0f} events/s (median of {len(rates)}), "
        f"CPU server {middle.server_cpu_pct:.0f} % / client {middle.client_cpu_pct:.0f} % "
        f"/ other {middle.other_cpu_pct:.0f} %" + _roles(middle.server_cpu_pct_by_role)
    )


def _roles(by_role: dict[str, float]) -> str:
    """`` (web 60 + worker 20 + redis 20)``: the server's CPU % per kind of process, when it has several."""
    if len(by_role) < 2:
        return ""
    return " (" + " + ".join(f"{role} {pct:.0f}" for role, pct in by_role.items()) + ")"


_GROUPS: Final = {"idle": None, "first_event": _first_event, "concurrent": _concurrent, "stream": _single_stream}
"""The figures, in groups that each get a fresh server process, so that what a server keeps after its runs
(our server retains finished runs' logs for ``run_retention`` seconds) does not carry over from one group
into the next. Within a group it does, as it would in production. Over Redis, redis-server is flushed
between groups."""

GROUPS: Final = tuple(_GROUPS)
"""The names of the groups (``--only``)."""

_NOT_OVER_REDIS: Final = frozenset({"idle"})
"""Groups the servers over Redis skip: RSS per idle stream is a figure of the single-process servers."""


_SHORT_RUNS: Final = frozenset({"first_event", "concurrent"})
"""The groups the thread-store servers measure: a run writes its thread once, at its end, so what a store
costs shows in short runs (an idle stream writes nothing; a long reply's one write is lost in its length)."""


def groups(name: str, only: tuple[str, ...] = ()) -> list[str]:
    """The groups of figures measured for server ``name`` (of ``only``, when given)."""
    if base(name) in THREAD_STORES:
        chosen = [group for group in _GROUPS if group in _SHORT_RUNS]
    else:
        chosen = [group for group in _GROUPS if base(name) not in REDIS or group not in _NOT_OVER_REDIS]
    return [group for group in chosen if not only or group in only]


async def measure_server(
    name: str,
    settings: Settings,
    tool: LoadTool,
    server_core: int | None,
    redis: RedisServer | None = None,
    postgres: BenchPostgres | None = None,
) -> ServerResult:
    """Every figure for server ``name``: each group in its own process(es), started, measured and stopped."""
    print(f"{name}:", flush=True)
    result = ServerResult(name)

    async def measure(group: str, server: Server, streams: int = 0) -> None:
        result.rss_start_mib = result.rss_start_mib or server.rss() / 2**20
        if group == "idle":
            for count in (streams,) if streams else settings.idle_streams:
                await _idle(server, settings, tool, result, count)
        else:
            measure_group = _GROUPS[group]
            assert measure_group is not None
            await measure_group(server, settings, tool, result)
        result.rss_after_mib[group] = server.rss() / 2**20

    if settings.fresh_server_per_group:
        for group in groups(name, settings.only):
            for streams in settings.idle_streams if group == "idle" else (0,):
                async with running_server(
                    name, core=server_core, log_dir=tool.work_dir, redis=redis, postgres=postgres
                ) as server:
                    await measure(group, server, streams)
                await asyncio.sleep(0.2)
    else:
        async with running_server(
            name, core=server_core, log_dir=tool.work_dir, redis=redis, postgres=postgres
        ) as server:
            for group in groups(name, settings.only):
                await measure(group, server)
    _log("RSS at the end of each group, MiB: " + ", ".join(f"{k} {v:.0f}" for k, v in result.rss_after_mib.items()))
    return result
