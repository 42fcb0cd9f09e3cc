"""The hostile-client suite's harness: a server per case, every answer recorded and checked, a health probe.

``hostile(app)`` serves ``app`` with uvicorn on 127.0.0.1 (in the test's event loop) and yields a
:class:`Probe`. Every answer the case gets through the probe is recorded; when the case ends, the probe
checks that none of them is a 5xx or leaks a traceback, a path of the server's source or a token, that
the server logged no traceback, and that a well-behaved client still gets a whole run (``RUN_FINISHED``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import msgspec

from tests.support.server import ROOT, free_port, running_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

TOKENS = "alice-token alice\nbob-token bob\nops-token ops admin\nhealth-token health"
SECRETS = ("alice-token", "bob-token", "ops-token", "health-token")
ALICE = {"authorization": "Bearer alice-token"}
BOB = {"authorization": "Bearer bob-token"}
OPS = {"authorization": "Bearer ops-token"}
HEALTH = {"authorization": "Bearer health-token"}

READ_CAP = 4 * 1024 * 1024
"""The most bytes of one answer a case reads (an endless stream stops there, or at its deadline)."""

_SOURCE_PATHS = (str(ROOT / "agui_server"), "agui_server/", "site-packages", 'File "')


_CLIENT_LOGGERS = frozenset({"httpx", "httpcore"})


@dataclass
class Answer:
    """One answer, read whole (or up to its cap / deadline)."""

    status: int
    headers: httpx.Headers
    body: bytes
    complete: bool = True
    """False when the read stopped at the cap or the deadline (an open stream)."""

    def json(self) -> Any:
        return msgspec.json.decode(self.body)

    @property
    def code(self) -> str | None:
        try:
            value = self.json()
        except (msgspec.DecodeError, ValueError):
            return None
        return value.get("code") if isinstance(value, dict) else None

    def field(self) -> str | None:
        errors = self.json().get("errors") or [{}]
        field = errors[0].get("field")
        return field if isinstance(field, str) else None

    def events(self) -> list[dict[str, Any]]:
        """The decoded ``data:`` lines of an SSE answer."""
        out = []
        for line in self.body.split(b"\n"):
            if line.startswith(b"data: "):
                with contextlib.suppress(msgspec.DecodeError):
                    out.append(msgspec.json.decode(line[6:]))
        return out

    def types(self) -> list[str]:
        return [e.get("type", "") for e in self.events()]

    def __repr__(self) -> str:
        return (
            f"Answer({self.status}, {dict(self.headers)!r}, {self.body[:300]!r}{'…' if len(self.body) > 300 else ''})"
        )


def leaks(blob: bytes) -> list[str]:
    """What ``blob`` (an answer's head and body) shows that it must not: a traceback, a source path, a token."""
    text = blob.decode("utf-8", "replace")
    found = [needle for needle in ("Traceback", *SECRETS) if needle in text]
    found += [path for path in _SOURCE_PATHS if path in text]
    found += [text[max(0, m.start() - 40) : m.end()] for m in re.finditer(r"(?<=\w)\.py\b", text)][:3]
    return found


class _TracebackLog(logging.Handler):
    """Collects every log record that carries a traceback (an exception the server did not handle), shows a
    token, or is a request-log line with a raw line break (a forged line)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record in self.records or record.name.split(".")[0] in _CLIENT_LOGGERS:
            return  # (the test's own HTTP client logs the URLs it requests, tokens in queries included)
        self.records.append(record)
        if (
            record.exc_info
            and record.exc_info[0] is not None
            and not issubclass(record.exc_info[0], asyncio.CancelledError)
        ):
            self.problems.append(f"a traceback: {record.name}: {record.getMessage()} ({record.exc_info[1]!r})")
        try:
            message = record.getMessage()
        except Exception as exc:  # a record that cannot be formatted is a finding too
            self.problems.append(f"an unformattable record {record.name}: {exc!r}")
            return
        if any(secret in message for secret in SECRETS):
            self.problems.append(f"a token in the log: {record.name}: {message[:200]!r}")
        if record.name.startswith("agui_server.http") and any(c in message for c in "\r\n"):
            self.problems.append(f"a line break in a request-log line: {message[:200]!r}")

    def check(self) -> None:
        assert not self.problems, "the server logged " + "; ".join(self.problems)


@dataclass
class Probe:
    """What a case uses to talk to its server; remembers every answer for the checks at the end."""

    base: str
    client: httpx.AsyncClient
    answers: list[Answer] = field(default_factory=list)
    health_headers: dict[str, str] = field(default_factory=lambda: dict(HEALTH))

    async def request(
        self,
        method: str,
        path: str,
        *,
        timeout: float = 10.0,
        read_for: float | None = None,
        until: bytes | None = None,
        **kwargs: Any,
    ) -> Answer:
        """Send a request and read its answer: all of it, or until ``until`` appears, or for ``read_for``
        seconds (an open stream), never more than :data:`READ_CAP` bytes nor ``timeout`` seconds."""
        url = path if path.startswith("http") else self.base + path
        async with asyncio.timeout(timeout):
            async with self.client.stream(method, url, **kwargs) as response:
                body = b""
                complete = True
                deadline = None if read_for is None else time.monotonic() + read_for
                chunks = response.aiter_raw()
                while True:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        complete = False
                        break
                    try:
                        chunk = await asyncio.wait_for(chunks.__anext__(), remaining)
                    except StopAsyncIteration:
                        break
                    except TimeoutError:
                        complete = False
                        break
                    body += chunk
                    if until is not None and until in body:
                        complete = False
                        break
                    if len(body) > READ_CAP:
                        complete = False
                        break
                answer = Answer(response.status_code, response.headers, body, complete)
        self.answers.append(answer)
        return answer

    async def run(
        self, body: Any = None, *, path: str = "/ag-ui", headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Answer:
        """``POST`` a run (``json=body``) and read its stream to the end."""
        return await self.request("POST", path, json=body, headers=headers or {}, **kwargs)

    def record(self, status: int, head: bytes, body: bytes) -> None:
        """Record an answer read off a raw socket."""
        self.answers.append(Answer(status, httpx.Headers(_raw_headers(head)), head + body))

    async def healthy(self) -> None:
        """A well-behaved client still gets a whole run."""
        await assert_healthy(self.base, self.health_headers)

    def check_answers(self) -> None:
        for answer in self.answers:
            assert answer.status < 500, f"a 5xx answer: {answer!r}"
            head = "".join(f"{k}: {v}\n" for k, v in answer.headers.items()).encode()
            found = leaks(head + answer.body)
            assert not found, f"the answer shows {found}: {answer!r}"


async def stored_thread(
    probe: Probe, thread_id: str, headers: dict[str, str], *, messages: int = 1, timeout: float = 10.0
) -> Answer:
    """``GET <path>/threads/{id}`` until the thread holds at least ``messages`` messages (within ``timeout``)."""
    from urllib.parse import quote

    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.05) + 1):
        answer = await probe.request("GET", f"/ag-ui/threads/{quote(thread_id, safe='')}", headers=headers)
        if answer.status == 200 and len(answer.json()["messages"]) >= messages:
            return answer
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    raise AssertionError(f"thread {thread_id!r} does not hold {messages} messages within {timeout} s: {answer!r}")


def _raw_headers(head: bytes) -> list[tuple[str, str]]:
    out = []
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            out.append((name.decode("latin-1").strip(), value.decode("latin-1").strip()))
    return out


def well_behaved_run(text: str = "are you there?") -> dict[str, Any]:
    tag = uuid.uuid4().hex[:12]
    return {
        "threadId": f"health-{tag}",
        "runId": f"health-run-{tag}",
        "messages": [{"id": f"health-msg-{tag}", "role": "user", "content": text}],
    }


async def assert_healthy(base: str, headers: dict[str, str] | None = None, *, timeout: float = 10.0) -> None:
    """``POST /ag-ui`` from a well-behaved client completes with ``RUN_FINISHED`` within ``timeout``."""
    async with httpx.AsyncClient(timeout=timeout) as client, asyncio.timeout(timeout):
        response = await client.post(base + "/ag-ui", json=well_behaved_run(), headers=headers or {})
    assert response.status_code == 200, f"health run answered {response.status_code}: {response.content[:500]!r}"
    types = [e["type"] for e in Answer(200, response.headers, response.content).events()]
    assert types[:1] == ["RUN_STARTED"], types
    assert types[-1:] == ["RUN_FINISHED"], f"health run ended with {types[-3:]}"


@asynccontextmanager
async def hostile(
    app: Any, *, health_headers: dict[str, str] | None = None, case_timeout: float = 30.0
) -> AsyncIterator[Probe]:
    """Serve ``app`` on loopback; yield a :class:`Probe`; then check every answer, the log and the health."""
    log = _TracebackLog()
    # uvicorn's loggers do not propagate to the root, and uvicorn sets their handlers when it starts: listen
    # on them once it has
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "uvicorn.asgi", "litestar")]
    ours = logging.getLogger("agui_server")
    level = ours.level
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        for logger in loggers:
            logger.addHandler(log)
        ours.setLevel(logging.INFO)  # the request log's lines too
        try:
            probe = Probe(base, client, health_headers=dict(HEALTH if health_headers is None else health_headers))
            async with asyncio.timeout(case_timeout):
                yield probe
            probe.check_answers()
            await asyncio.sleep(0)  # let background tasks that just ended log
            log.check()
            await probe.healthy()
            log.check()
        finally:
            ours.setLevel(level)
            for logger in loggers:
                logger.removeHandler(log)


# -- raw sockets ----------------------------------------------------------------------------------


def host_port(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


async def read_http(reader: asyncio.StreamReader, *, timeout: float) -> tuple[int, bytes, bytes]:
    """(status, head, body) of one answer read off a raw connection, up to its close or ``timeout``
    (the body as far as it came). Status 0: the server closed without answering."""
    data = b""
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(timeout):
            while len(data) < READ_CAP:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                data += chunk
                if b"\r\n\r\n" in data:
                    head = data.split(b"\r\n\r\n", 1)[0]
                    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                    if length and len(data) >= len(head) + 4 + int(length.group(1)):
                        break
    if not data:
        return 0, b"", b""
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return (int(match.group(1)) if match else -1), head, body


@asynccontextmanager
async def raw_connection(base: str) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    host, port = host_port(base)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def raw_request(
    method: str,
    path: str,
    headers: dict[str, str] | list[tuple[str, str]],
    body: bytes = b"",
    *,
    host: str = "127.0.0.1",
) -> bytes:
    items = list(headers.items()) if isinstance(headers, dict) else list(headers)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in items)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# -- a server in a subprocess, with a memory limit ----------------------------------------------


@contextmanager
def subprocess_server(
    app_ref: str, *, memory_limit: int = 1536 * 1024 * 1024, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """``uvicorn <app_ref>`` in a process of its own on a free loopback port, its address space capped
    (a case that makes the server allocate without bound kills that process, not the test run). Yields the
    base URL, the process and the file its output goes to; stops it by its pid."""
    port = free_port()

    def limit() -> None:  # pragma: no cover - runs in the child
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app_ref,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        output = Path(tmp) / "server.log"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **(env or {})},
                stdout=sink,
                stderr=subprocess.STDOUT,
                preexec_fn=limit,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"uvicorn exited early ({process.returncode}): {output.read_text()!r}")
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("uvicorn did not start")
                time.sleep(0.05)
            yield base, process, output
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
