"""Transport probes: hostile and malformed requests, and a client that walks away mid-stream.

Every malformed request must be answered before any stream with a 4xx whose body is JSON and carries
no stack trace. JSON nested very deeply is valid AG-UI (``state`` may be any JSON), so a server may also
run it: then its stream must be a whole run. (A body over the size the runner is told is the server's
limit must be refused: a server with no bound at all is what that probe finds.) A client
that disconnects after the first event must leave the server serving. Every probe carries
``Accept: text/event-stream``, as ``HttpAgent`` does (see :func:`conformance.capture.agent_headers`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import httpx

from conformance.capture import agent_headers, capture_stream
from conformance.findings import Finding

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("PROBES", "run_probes")

_TRACE_MARKERS: Final = ("Traceback (most recent call last)", 'File "', "  at ", "Exception in ASGI")


def _body(**overrides: Any) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {
        "threadId": f"probe-{run}",
        "runId": f"probe-{run}",
        "messages": [{"id": "m1", "role": "user", "content": "hello"}],
    }
    body.update(overrides)
    return body


@dataclass(frozen=True, slots=True)
class _BadRequest:
    rule: str
    method: str
    content: Callable[[int], bytes] | None
    content_type: str | None = "application/json"
    may_run: bool = False
    """The request is valid AG-UI: a 200 stream that ends with a terminal event passes too."""


def _json(**overrides: Any) -> Callable[[int], bytes]:
    return lambda _limit: json.dumps(_body(**overrides)).encode()


def _missing_run_id(_limit: int) -> bytes:
    body = _body()
    del body["runId"]
    return json.dumps(body).encode()


def _too_large(limit: int) -> bytes:
    return json.dumps(_body(messages=[{"id": "m", "role": "user", "content": "x" * limit}])).encode()


def _deep(_limit: int) -> bytes:
    depth = 100_000
    return b'{"threadId":"t","runId":"r","messages":[],"state":' + b"[" * depth + b"]" * depth + b"}"


PROBES: Final[tuple[_BadRequest, ...]] = (
    _BadRequest("probe.invalid-json", "POST", lambda _l: b'{"threadId": "t", "runId": '),
    _BadRequest("probe.wrong-types", "POST", _json(threadId=12345, messages="not a list")),
    _BadRequest("probe.missing-field", "POST", _missing_run_id),
    _BadRequest("probe.unknown-role", "POST", _json(messages=[{"id": "m", "role": "wizard", "content": "hi"}])),
    _BadRequest("probe.content-type", "POST", _json(), "text/plain"),
    _BadRequest("probe.method", "GET", None, None),
    _BadRequest("probe.body-limit", "POST", _too_large),
    _BadRequest("probe.non-utf8", "POST", lambda _l: b'{"threadId": "\xff\xfe\xfa", "runId": "r", "messages": []}'),
    _BadRequest("probe.deep-nesting", "POST", _deep, may_run=True),
)


def _judge(probe: _BadRequest, response: httpx.Response) -> str | None:
    if probe.may_run and response.status_code == 200:
        if any(marker in response.text for marker in _TRACE_MARKERS):
            return "the stream leaks a stack trace"
        if b"RUN_FINISHED" not in response.content and b"RUN_ERROR" not in response.content:
            return "answered 200 but the stream has no terminal event"
        return None
    if not 400 <= response.status_code < 500:
        return f"answered {response.status_code}, expected a 4xx"
    if "json" not in response.headers.get("content-type", ""):
        return f"the {response.status_code} answer is {response.headers.get('content-type')!r}, not JSON"
    try:
        json.loads(response.content)
    except ValueError:
        return f"the {response.status_code} answer's body is not valid JSON"
    text = response.text
    if any(marker in text for marker in _TRACE_MARKERS):
        return f"the {response.status_code} answer leaks a stack trace"
    return None


async def _bad_request(
    client: httpx.AsyncClient, url: str, probe: _BadRequest, headers: dict[str, str], body_limit: int, timeout: float
) -> Finding | None:
    request_headers = agent_headers(headers, probe.content_type)
    content = probe.content(body_limit) if probe.content else None
    try:
        response = await client.request(probe.method, url, content=content, headers=request_headers, timeout=timeout)
    except httpx.HTTPError as exc:
        return Finding(probe.rule, f"no answer: {type(exc).__name__}: {exc}", probe.rule)
    problem = _judge(probe, response)
    if problem is None:
        return None
    return Finding(probe.rule, problem, probe.rule, frame=response.text[:300])


async def _disconnect(client: httpx.AsyncClient, url: str, headers: dict[str, str], timeout: float) -> Finding | None:
    rule = "probe.disconnect"
    first = await capture_stream(
        client, "POST", url, json=_body(protocolVersion="1.0"), headers=agent_headers(headers), timeout=timeout,
        stop_after_first_event=True,
    )  # fmt: skip
    if first.status != 200 or b"data:" not in first.body:
        return Finding(rule, f"could not start a stream to walk away from (status {first.status})", rule)
    after = await capture_stream(
        client, "POST", url, json=_body(protocolVersion="1.0"), headers=agent_headers(headers), timeout=timeout
    )
    if after.status != 200 or (b"RUN_FINISHED" not in after.body and b"RUN_ERROR" not in after.body):
        return Finding(
            rule, f"after a client disconnected, the next run got status {after.status} and no terminal", rule
        )
    return None


async def run_probes(
    client: httpx.AsyncClient, url: str, *, headers: dict[str, str], body_limit: int, timeout: float
) -> list[Finding]:
    """Run every probe against ``url``; returns what failed."""
    findings: list[Finding] = []
    for probe in PROBES:
        finding = await _bad_request(client, url, probe, headers, body_limit, timeout)
        if finding is not None:
            findings.append(finding)
    finding = await _disconnect(client, url, headers, timeout)
    if finding is not None:
        findings.append(finding)
    return findings
