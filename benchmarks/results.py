"""What one benchmark run measured, per server."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class LoadRun:
    """What one load generator (wrk, or the Python one) reported for a row."""

    requests: int
    errors: int
    runs_per_s: float
    p99_s: float
    cpu_seconds: float
    """The load generator's own user + system CPU time."""
    wall_seconds: float


@dataclass(slots=True)
class LoadRow:
    """Concurrent clients running short runs back to back for a fixed time."""

    clients: int
    runs_per_s: float
    p99_ms: float
    requests: int
    errors: int
    server_cpu_pct: float
    """CPU % of the server process over the row (100 = one core busy)."""
    load_cpu_pct: float
    """CPU % of the load generator over the row."""
    other_cpu_pct: float
    """CPU % of every other process on the machine over the row: well above 0, the machine was shared."""
    server_cpu_pct_by_role: dict[str, float] = field(default_factory=dict)
    """The server's CPU % per kind of process: ``server``, or ``web``, ``worker`` and ``redis`` (summed over
    the processes of that kind)."""


@dataclass(slots=True)
class IdleRow:
    """Many idle streams held open at once (each has received RUN_STARTED)."""

    streams: int
    kib_per_stream: float
    """Server RSS growth per stream, KiB."""
    cpu_pct: float
    """Server CPU % while they wait (100 = one core busy): the keepalives, for a server that sends them."""
    alive: int
    """Streams still open at the end of the CPU window (all of them, unless the server dropped some)."""


@dataclass(slots=True)
class ServerResult:
    """Every figure for one server."""

    name: str
    events_per_s: float = 0.0
    """Single stream of a long reply: events / wall time (median of the runs)."""
    events_per_s_runs: list[float] = field(default_factory=list)
    events_server_cpu_pct: float = 0.0
    events_client_cpu_pct: float = 0.0
    events_other_cpu_pct: float = 0.0
    events_server_cpu_pct_by_role: dict[str, float] = field(default_factory=dict)
    ttfe_p50_ms: float = 0.0
    ttfe_p99_ms: float = 0.0
    load: list[LoadRow] = field(default_factory=list)
    idle_kib_per_stream: float = 0.0
    """RSS per idle stream at the first count of ``idle`` (the table's first idle row)."""
    idle_streams: int = 0
    idle: list[IdleRow] = field(default_factory=list)
    """Every count of idle streams, each in a fresh server process."""
    rss_start_mib: float = 0.0
    """Server RSS once it is ready, before any figure."""
    rss_after_mib: dict[str, float] = field(default_factory=dict)
    """Server RSS at the end of each group of figures (each group runs in a fresh process)."""
