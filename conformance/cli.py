"""``agui-server check URL`` and ``python -m conformance URL``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("add_arguments", "main", "run_from_args")

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

_DESCRIPTION = """\
Judge an AG-UI endpoint: send every scenario, check each stream (HTTP, framing, the 1.0 event
schema, the ordering rules of the official client, terminal events, tool arguments, state patches,
0.0.x compatibility), and probe the transport with malformed requests and a client that walks away.

Exit status: 0 when nothing failed, 1 when something did, 2 on a usage error or an unreachable URL.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The runner's options, shared by ``agui-server check`` and ``python -m conformance``."""
    parser.add_argument("url", help="the AG-UI endpoint, e.g. http://127.0.0.1:8000/ag-ui")
    parser.add_argument(
        "--scenario", action="append", dest="scenarios", metavar="NAME", help="run only this scenario (repeatable)"
    )
    parser.add_argument(
        "--scenarios", dest="scenario_dir", metavar="DIR", type=Path, help="add scenario files (*.json)"
    )
    parser.add_argument("--no-probes", action="store_true", help="check streams only, skip the transport probes")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds per request (default 30)")
    parser.add_argument(
        "--keepalive-window",
        type=float,
        default=30.0,
        metavar="S",
        help="longest silence allowed in a stream before a keepalive is due (default 30)",
    )
    parser.add_argument(
        "--body-limit",
        type=int,
        default=8 * 1024 * 1024,
        metavar="BYTES",
        help="size of the oversized body probe; set it above your server's limit (default 8 MiB)",
    )
    parser.add_argument(
        "--header", action="append", default=[], metavar="K:V", help="send this header (repeatable), e.g. for auth"
    )
    parser.add_argument("--json", dest="json_path", type=Path, metavar="FILE", help="write a JSON report")
    parser.add_argument("--junit", dest="junit_path", type=Path, metavar="FILE", help="write a JUnit XML report")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")


def run_from_args(args: argparse.Namespace) -> int:
    """Run the runner as the parsed options say; returns the exit status."""
    from conformance.runner import EndpointUnreachable, run_conformance
    from conformance.scenarios import BUILTIN_SCENARIOS, ScenarioError, load_scenarios

    headers: dict[str, str] = {}
    for item in args.header:
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            print(f"agui-server check: --header wants K:V, got {item!r}", file=sys.stderr)
            return EXIT_USAGE
        headers[key.strip()] = value.strip()
    scenarios = list(BUILTIN_SCENARIOS)
    if args.scenario_dir is not None:
        try:
            scenarios += load_scenarios(args.scenario_dir)
        except ScenarioError as exc:
            print(f"agui-server check: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if args.list:
        for scenario in scenarios:
            print(f"{scenario.name:20} {scenario.description}")
        return EXIT_OK
    if args.scenarios:
        known = {s.name: s for s in scenarios}
        missing = [name for name in args.scenarios if name not in known]
        if missing:
            print(f"agui-server check: unknown scenario(s): {', '.join(missing)}", file=sys.stderr)
            return EXIT_USAGE
        scenarios = [known[name] for name in args.scenarios]
    if not args.url.startswith(("http://", "https://")):
        print(f"agui-server check: the URL must start with http:// or https://, got {args.url!r}", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = asyncio.run(
            run_conformance(
                args.url,
                scenarios,
                probes=not args.no_probes,
                timeout=args.timeout,
                headers=headers,
                keepalive_window=args.keepalive_window,
                body_limit=args.body_limit,
            )
        )
    except EndpointUnreachable as exc:
        print(f"agui-server check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(report.summary())
    report.write(args.json_path, args.junit_path)
    return EXIT_FINDINGS if report.failed else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m conformance``."""
    parser = argparse.ArgumentParser(
        prog="python -m conformance", description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))
