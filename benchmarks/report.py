"""The results as a markdown table, every figure also as a ratio: of the ceiling, and for our server over
Redis, of our server in one process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from benchmarks.apps import REDIS, THREAD_STORES, at_revision, base, label, revision
from benchmarks.workload import DEFAULT_PING_SECONDS, IDLE_PING_SECONDS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from benchmarks.results import IdleRow, LoadRow, ServerResult

__all__ = (
    "RATIO_NOTE", "REDIS_TARGET", "Figure", "baseline", "figures", "keepalive_lines", "measured", "ratio", "render",
    "verdict",
)  # fmt: skip

RATIO_NOTE = (
    "vs ceiling is the share of the ceiling's performance: value ÷ ceiling where higher is better "
    "(events/s, runs/s), ceiling ÷ value where lower is better (latency, memory). So in every row higher "
    "is better and 1.00 is as good as the ceiling. CPU % is the server's / the load generator's / every other "
    "process's CPU time over the row's wall time (100 = one core busy); 'other' well above a few % means the "
    "machine was shared and the row is suspect. Over Redis, 'vs ours' is the same ratio against our server in "
    "one process, and the server's CPU % is its web and worker processes and redis-server summed. With a thread "
    "store (ours+sqlite, ours+postgres), 'vs ours' is against ours too (threads in memory); ours+postgres's "
    "server CPU % is the server and PostgreSQL's processes summed."
)


_SHARED = 10.0
"""CPU % of other processes in a row above which the report flags the row."""
REDIS_TARGET = 0.5
"""Single-stream events/s over Redis, as a share of our server in one process, that the Redis issue asks for."""


@dataclass(frozen=True, slots=True)
class Figure:
    key: str
    label: str
    higher_is_better: bool
    value: Callable[[ServerResult], float]
    digits: int
    cpu: Callable[[ServerResult], tuple[float, float, float]] | None = None
    """The server's, the load generator's and everything else's CPU % while the figure was taken."""


def _row(clients: int) -> Callable[[ServerResult], LoadRow]:
    def get(result: ServerResult) -> LoadRow:
        for row in result.load:
            if row.clients == clients:
                return row
        raise KeyError(f"{result.name} has no row for {clients} clients")

    return get


def _load_value(get: Callable[[ServerResult], LoadRow], attribute: str) -> Callable[[ServerResult], float]:
    def value(result: ServerResult) -> float:
        return float(getattr(get(result), attribute))

    return value


def _cpu(get: Callable[[ServerResult], LoadRow]) -> Callable[[ServerResult], tuple[float, float, float]]:
    def cpu(result: ServerResult) -> tuple[float, float, float]:
        row = get(result)
        return row.server_cpu_pct, row.load_cpu_pct, row.other_cpu_pct

    return cpu


def figures(settings: Any) -> list[Figure]:
    """The table's rows for a run with these settings (``tokens``, ``ttfe_runs``, ``clients``, ...)."""
    rows = [
        Figure(
            "events_per_s",
            f"Single stream, {settings.tokens:,}-token reply: events/s",
            True,
            lambda r: r.events_per_s,
            0,
            lambda r: (r.events_server_cpu_pct, r.events_client_cpu_pct, r.events_other_cpu_pct),
        ),
        Figure(
            "ttfe_p50_ms",
            f"Time to first event p50, ms ({settings.ttfe_runs} sequential runs, 1 keep-alive connection)",
            False,
            lambda r: r.ttfe_p50_ms,
            3,
        ),
        Figure("ttfe_p99_ms", "Time to first event p99, ms", False, lambda r: r.ttfe_p99_ms, 3),
    ]
    for clients in settings.clients:
        get = _row(clients)
        cpu = _cpu(get)
        noun = "client" if clients == 1 else "clients"
        rows.append(
            Figure(
                f"runs_per_s_c{clients}",
                f"{clients} {noun}: runs/s ({settings.load_tokens}-token runs)",
                True,
                _load_value(get, "runs_per_s"),
                0,
                cpu,
            )
        )
        rows.append(
            Figure(
                f"p99_ms_c{clients}",
                f"{clients} {noun}: p99 latency, ms",
                False,
                _load_value(get, "p99_ms"),
                2,
                cpu,
            )
        )
    for index, streams in enumerate(settings.idle_streams):
        rows.append(
            Figure(
                "idle_kib_per_stream" if index == 0 else f"idle_kib_per_stream_{streams}",
                f"Server RSS per idle held stream, KiB ({streams:,} streams)",
                False,
                _idle_value(streams),
                1,
            )
        )
    return rows


def _idle_row(result: ServerResult, streams: int) -> IdleRow | None:
    return next((row for row in result.idle if row.streams == streams), None)


def _idle_value(streams: int) -> Callable[[ServerResult], float]:
    def value(result: ServerResult) -> float:
        row = _idle_row(result, streams)
        return 0.0 if row is None else row.kib_per_stream

    return value


def keepalive_lines(results: Sequence[ServerResult]) -> list[str]:
    """The idle streams' CPU: the server's CPU % while they wait (pings every ``IDLE_PING_SECONDS``), the CPU
    per ping beyond the ceiling's (which sends none), and that projected to the default 15 s interval."""
    by_name = {r.name: r for r in results}
    ceiling = by_name.get("ceiling")
    lines = []
    for r in results:
        for row in r.idle:
            line = f"{label(r.name)}, {row.streams:,} idle streams: server CPU {row.cpu_pct:.1f} %"
            base = _idle_row(ceiling, row.streams) if ceiling is not None and r is not ceiling else None
            if base is not None:
                pings_per_s = row.streams / IDLE_PING_SECONDS
                extra_pct = max(0.0, row.cpu_pct - base.cpu_pct)
                micros = extra_pct / 100 / pings_per_s * 1e6
                projected = micros * row.streams / DEFAULT_PING_SECONDS / 1e4
                line += (
                    f" (ceiling {base.cpu_pct:.1f} %): {micros:.1f} µs per keepalive, {projected:.2f} % of a core "
                    f"at the default {DEFAULT_PING_SECONDS:.0f} s interval"
                )
            if row.alive != row.streams:
                line += f"; only {row.alive:,} still open at the end"
            lines.append(line)
    return lines


def ratio(figure: Figure, value: float, ceiling: float) -> float | None:
    """The share of the ceiling's performance (higher is better), or ``None`` when it is undefined."""
    if figure.higher_is_better:
        return value / ceiling if ceiling > 0 else None
    return ceiling / value if value > 0 and ceiling > 0 else None


def _number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def _ratio_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def baseline(name: str) -> str | None:
    """The server whose figures server ``name``'s ratios are taken against: the ceiling, or for our server
    over Redis or with a thread store, our server in one process (threads in memory)."""
    if name == "ceiling":
        return None
    if base(name) not in REDIS and base(name) not in THREAD_STORES:
        return "ceiling"
    rev = revision(name)  # (a commit's server over Redis: against the same commit's server in one process)
    return "ours" if rev is None else at_revision("ours", rev)


_SHORT_RUN_KEYS = ("ttfe_", "runs_per_s_c", "p99_ms_c")


def measured(figure: Figure, result: ServerResult) -> bool:
    """Whether ``result`` has this figure (servers over Redis have no RSS per idle stream; the thread-store
    servers measure the short runs only)."""
    if base(result.name) in THREAD_STORES:
        return figure.key.startswith(_SHORT_RUN_KEYS)
    return not figure.key.startswith("idle_kib_per_stream") or result.idle_streams > 0


def render(results: Sequence[ServerResult], settings: Any) -> str:
    """The markdown table: one row per figure; each server's value and its ratio of its baseline."""
    by_name = {r.name: r for r in results}
    ceiling = by_name.get("ceiling")
    others = [r for r in results if r.name != "ceiling"]
    head = ["Figure", "ceiling"]
    for r in others:
        head += [label(r.name), f"{label(r.name)} vs {label(baseline(r.name) or '')}"]
    head.append("CPU % server/load/other: " + " · ".join(label(r.name) for r in results))
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join([":---", *["---:"] * (len(head) - 2), ":---:"]) + "|"]
    for figure in figures(settings):
        cells = [figure.label, _number(figure.value(ceiling), figure.digits) if ceiling else "—"]
        for r in others:
            if not measured(figure, r):
                cells += ["—", "—"]
                continue
            value = figure.value(r)
            cells.append(_number(value, figure.digits))
            base = by_name.get(baseline(r.name) or "")
            cells.append(_ratio_text(ratio(figure, value, figure.value(base))) if base else "—")
        if figure.cpu is not None:
            cpu = figure.cpu
            cells.append(
                " · ".join("{:.0f}/{:.0f}/{:.0f}".format(*cpu(r)) if measured(figure, r) else "—" for r in results)
            )
        else:
            cells.append("")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _roles(by_role: dict[str, float]) -> str:
    return " + ".join(f"{pct:.0f}" for pct in by_role.values())


def verdict(results: Sequence[ServerResult], settings: Any) -> list[str]:
    """The issue's targets (≥ 0.6 of the ceiling on single-stream events/s, ahead of the SDK in every row),
    memory growth over the run, load errors."""
    by_name = {r.name: r for r in results}
    ours, sdk, ceiling = by_name.get("ours"), by_name.get("sdk"), by_name.get("ceiling")
    lines = []
    if ours and ceiling and ceiling.events_per_s > 0:
        share = ours.events_per_s / ceiling.events_per_s
        met = "met" if share >= 0.6 else "NOT met"
        lines.append(f"single-stream events/s: ours is {share:.2f} of the ceiling ({met}: target 0.60)")
    if ours and sdk:
        behind = []
        for figure in figures(settings):
            a, b = figure.value(ours), figure.value(sdk)
            if (a < b) if figure.higher_is_better else (a > b):
                behind.append(figure.key)
        lines.append(
            f"behind the SDK server in: {', '.join(behind)}" if behind else "ahead of the SDK server in every row"
        )
    for r in results:
        if base(r.name) not in REDIS:
            continue
        in_process = by_name.get(baseline(r.name) or "")
        if in_process is not None and in_process.events_per_s > 0:
            share = r.events_per_s / in_process.events_per_s
            met = "met" if share >= REDIS_TARGET else "NOT met"
            lines.append(
                f"single-stream events/s: {label(r.name)} is {share:.2f} of ours in one process "
                f"({met}: target {REDIS_TARGET:.2f})"
            )
        roles = " / ".join(r.events_server_cpu_pct_by_role) or "web / worker / redis"
        lines.append(
            f"{label(r.name)} server CPU % by process ({roles}): single stream "
            f"{_roles(r.events_server_cpu_pct_by_role)}, "
            + ", ".join(f"{row.clients} client{'' if row.clients == 1 else 's'} {_roles(row.server_cpu_pct_by_role)}"
                        for row in r.load)
        )  # fmt: skip
    for r in results:
        if THREAD_STORES.get(base(r.name)) == "postgres":
            rows = [f"{row.clients} client{'' if row.clients == 1 else 's'} {_roles(row.server_cpu_pct_by_role)}"
                    for row in r.load]  # fmt: skip
            lines.append(f"{label(r.name)} server CPU % by process (server / postgres): " + ", ".join(rows))
    lines += keepalive_lines(results)
    lines.append(
        "server RSS when ready → after the concurrent rows → after the single streams: "
        + ", ".join(
            f"{label(r.name)} {r.rss_start_mib:.0f} → {r.rss_after_mib.get('concurrent', 0):.0f} → "
            + (f"{r.rss_after_mib['stream']:.0f} MiB" if "stream" in r.rss_after_mib else "— (not measured)")
            for r in results
        )
    )
    shared = []
    for r in results:
        if r.events_other_cpu_pct > _SHARED:
            shared.append(f"{label(r.name)} single stream ({r.events_other_cpu_pct:.0f} %)")
        shared += [
            f"{label(r.name)} c{row.clients} ({row.other_cpu_pct:.0f} %)"
            for row in r.load
            if row.other_cpu_pct > _SHARED
        ]
    if shared:
        lines.append("WARNING: other processes used CPU during: " + ", ".join(shared) + " (those rows are suspect)")
    errors = [f"{label(r.name)} c{row.clients}: {row.errors}" for r in results for row in r.load if row.errors]
    if errors:
        lines.append("load errors (non-2xx or socket errors): " + ", ".join(errors))
    return lines
