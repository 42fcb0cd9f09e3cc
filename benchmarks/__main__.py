"""``python -m benchmarks``: measure the servers in one run and print the table."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.apps import DEFAULT_SERVERS, REDIS, SERVERS, THREAD_STORES, at_revision, base, revisions
from benchmarks.load import LoadTool
from benchmarks.machine import busy_percent, describe, redis_version
from benchmarks.postgres_server import INSTALL_HINT as POSTGRES_INSTALL_HINT
from benchmarks.postgres_server import BenchPostgres, postgres_bin, postgres_version
from benchmarks.redis_server import INSTALL_HINT as REDIS_INSTALL_HINT
from benchmarks.redis_server import RedisServer, redis_server_path
from benchmarks.report import RATIO_NOTE, render, verdict
from benchmarks.run import FULL, GROUPS, QUICK, Settings, measure_server, pin_cores
from benchmarks.server import extract_revision, short_revision
from benchmarks.wrk import INSTALL_HINT, ensure_wrk, wrk_version

if TYPE_CHECKING:
    from collections.abc import Sequence

    from benchmarks.results import ServerResult


_BUSY = 10.0
"""Machine-wide CPU % before the run above which the report warns that others share the machine."""


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small figures and short rows: proves it still runs")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(DEFAULT_SERVERS), metavar="NAME",
                        help=f"which servers to measure, of {', '.join(SERVERS)} "
                        f"(default: {', '.join(DEFAULT_SERVERS)})")  # fmt: skip
    parser.add_argument("--load-tool", choices=("auto", "wrk", "python"), default="auto",
                        help="auto: wrk (installed with apt-get when missing and run as root); "
                        "--quick falls back to the Python load generator without wrk")  # fmt: skip
    parser.add_argument("--tokens", type=int, help="tokens of the single-stream reply")
    parser.add_argument("--duration", type=float, help="seconds per concurrent row")
    parser.add_argument("--idle-streams", type=int, nargs="+", metavar="N",
                        help="idle streams held for the RSS and keepalive rows, a fresh server each")  # fmt: skip
    parser.add_argument("--only", nargs="+", choices=GROUPS, metavar="GROUP",
                        help=f"measure only these groups of figures, of {', '.join(GROUPS)} (default: all); "
                        "the rows of the others read 0")  # fmt: skip
    parser.add_argument("--ttfe-runs", type=int, help="sequential runs for time to first event")
    parser.add_argument("--before", metavar="COMMIT",
                        help="also measure our servers as they were at COMMIT, in the same run, each just before "
                        "its working-tree self (rows 'ours @COMMIT'): a before/after on one machine state")  # fmt: skip
    return parser.parse_args(argv)


def _settings(args: argparse.Namespace) -> Settings:
    base = QUICK if args.quick else FULL
    servers = tuple(name for name in SERVERS if name in args.servers)
    if args.before:
        try:
            rev = short_revision(args.before)
        except ValueError as exc:
            sys.exit(str(exc))
        servers = tuple(
            variant
            for name in servers
            for variant in ((at_revision(name, rev), name) if name.startswith("ours") else (name,))
        )
    overrides: dict[str, Any] = {"servers": servers}
    for name in ("tokens", "duration", "idle_streams", "ttfe_runs", "only"):
        if getattr(args, name) is not None:
            value = getattr(args, name)
            overrides[name] = tuple(value) if isinstance(value, list) else value
    if args.only and "concurrent" not in args.only:
        overrides["clients"] = ()  # no concurrent rows in the table
    if args.only and "idle" not in args.only:
        overrides["idle_streams"] = ()  # nor idle-stream rows
    return dataclasses.replace(base, **overrides)


def _wrk(args: argparse.Namespace) -> str | None:
    """wrk's path, ``None`` for the Python load generator; exits when wrk is required but missing."""
    if args.load_tool == "python" or (args.only and set(args.only) <= {"idle"}):
        return None
    wrk = ensure_wrk(install=not (args.quick and args.load_tool == "auto"))
    if wrk is None and not (args.quick and args.load_tool == "auto"):
        sys.exit(INSTALL_HINT)
    return wrk


def _raise_fd_limit(streams: int) -> None:
    """Up to the hard limit: the server processes inherit it; each side (this process, the server) holds one
    socket per stream, and the limit is per process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = streams + 256
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < wanted:
            print(f"warning: open file limit is {target}, {wanted} wanted", file=sys.stderr)


def _header(machine: dict[str, Any], cores: tuple[int | None, int | None], settings: Settings) -> str:
    packages = ", ".join(f"{k} {v}" for k, v in machine["packages"].items())
    over_redis = any(base(name) in REDIS for name in settings.servers)
    pinning = (
        f"server on core {cores[0]}"
        + (" (over Redis: its web and worker processes and redis-server, all)" if over_redis else "")
        + f", load generator on core {cores[1]}"
        if cores[0] is not None
        else "not pinned (fewer than two cores)"
    )
    redis = f"; {machine['redis']}" if over_redis else ""
    if "postgres" in machine:
        redis += f"; {machine['postgres']} (pinned with the server)"
    before = "".join(f" (rows '@{rev}': at {rev})" for rev in revisions(settings.servers))
    busy = machine["busy_before_pct"]
    warning = " (WARNING: other processes are running: figures will be skewed)" if busy > _BUSY else ""
    return "\n".join([
        f"Date: {machine['date']}",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['kernel']}",
        f"Python: {machine['python']}; {packages}; agui-server at {machine['revision']}{before}",
        f"Load tool: {machine['load_tool']}{redis}; {pinning}",
        f"Machine busy before the run: {busy:.0f} % CPU over all cores{warning}",
    ])  # fmt: skip


async def _run_all(
    settings: Settings,
    tool: LoadTool,
    server_core: int | None,
    redis: RedisServer | None,
    postgres: BenchPostgres | None,
) -> list[ServerResult]:
    return [await measure_server(name, settings, tool, server_core, redis, postgres) for name in settings.servers]


def _event_loop_runner() -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    settings = _settings(args)
    started = time.monotonic()
    wrk = _wrk(args)
    _raise_fd_limit(max(settings.idle_streams, default=0))
    cores = pin_cores()
    machine = describe()
    machine["busy_before_pct"] = busy_percent()
    machine["load_tool"] = (wrk_version() or "wrk") if wrk else "Python load generator (benchmarks.pyload)"
    over_redis = any(base(name) in REDIS for name in settings.servers)
    if over_redis:
        if redis_server_path() is None:
            sys.exit(REDIS_INSTALL_HINT)
        machine["redis"] = redis_version()
    in_postgres = any(THREAD_STORES.get(base(name)) == "postgres" for name in settings.servers)
    if in_postgres:
        if postgres_bin() is None:
            sys.exit(POSTGRES_INSTALL_HINT)
        machine["postgres"] = postgres_version()
    with tempfile.TemporaryDirectory(prefix="agui-bench-") as work_dir:
        tool = LoadTool(wrk=wrk, core=cores[1], work_dir=Path(work_dir), server_core=cores[0])
        for rev in revisions(settings.servers):
            extract_revision(rev, Path(work_dir))
        print(_header(machine, cores, settings), flush=True)
        redis = RedisServer.start(core=cores[0], work_dir=Path(work_dir)) if over_redis else None
        postgres = None
        try:
            postgres = BenchPostgres.start(core=cores[0]) if in_postgres else None
            results = _event_loop_runner()(_run_all(settings, tool, cores[0], redis, postgres))
        finally:
            if postgres is not None:
                postgres.stop()
            if redis is not None:
                redis.stop()
    elapsed = time.monotonic() - started
    print()
    print(_header(machine, cores, settings))
    print()
    print(render(results, settings))
    print()
    print(RATIO_NOTE)
    for line in verdict(results, settings):
        print(f"- {line}")
    print(f"\nTook {elapsed:.0f} s.")
    if args.json:
        payload = {
            "machine": machine,
            "settings": dataclasses.asdict(settings),
            "seconds": elapsed,
            "results": [dataclasses.asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
