"""Running scenarios and probes against one AG-UI endpoint."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx

from conformance.capture import agent_headers, capture_stream
from conformance.checks import check_stream
from conformance.probes import run_probes
from conformance.report import CheckResult, Report

if TYPE_CHECKING:
    from collections.abc import Sequence

    from conformance.scenarios import Scenario

__all__ = ("EndpointUnreachable", "run_conformance")

DEFAULT_BODY_LIMIT = 8 * 1024 * 1024


class EndpointUnreachable(Exception):
    """Nothing answers at the URL."""


async def run_conformance(
    url: str,
    scenarios: Sequence[Scenario],
    *,
    probes: bool = True,
    timeout: float = 30.0,
    headers: dict[str, str] | None = None,
    keepalive_window: float | None = 30.0,
    body_limit: int = DEFAULT_BODY_LIMIT,
) -> Report:
    """Check ``url`` with every scenario (and the probes); raises :class:`EndpointUnreachable`."""
    headers = dict(headers or {})
    report = Report(url)
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=2)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        try:
            await client.options(url, headers=agent_headers(headers, None), timeout=min(timeout, 10.0))
        except httpx.ConnectError as exc:
            raise EndpointUnreachable(f"cannot connect to {url}: {exc}") from exc
        except httpx.HTTPError:
            pass  # it answered something; the scenarios will judge it
        for scenario in scenarios:
            started = time.monotonic()
            body = scenario.request_body()
            request_headers = agent_headers(headers)
            capture = await capture_stream(client, "POST", url, json=body, headers=request_headers, timeout=timeout)
            findings = check_stream(capture, scenario, body, keepalive_window=keepalive_window)
            report.results.append(
                CheckResult(scenario.name, "scenario", scenario.description, findings, time.monotonic() - started)
            )
        if probes:
            started = time.monotonic()
            findings = await run_probes(client, url, headers=headers, body_limit=body_limit, timeout=timeout)
            by_probe: dict[str, CheckResult] = {}
            from conformance.probes import PROBES

            for name in [p.rule for p in PROBES] + ["probe.disconnect"]:
                by_probe[name] = CheckResult(name, "probe")
            for finding in findings:
                by_probe[finding.rule].findings.append(finding)
            elapsed = (time.monotonic() - started) / max(len(by_probe), 1)
            for result in by_probe.values():
                result.seconds = elapsed
                report.results.append(result)
    return report
