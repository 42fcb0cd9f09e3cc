"""HTTP for the LLM adapters: one streaming request, its failures as :class:`UpstreamError`, SSE parsing.

Nothing here knows a provider's JSON; :mod:`agui_server.agents.openai` and
:mod:`agui_server.agents.anthropic` build the request and read the events. What is shared:

- :func:`open_stream` sends the request and yields the response while the caller reads it, closing it on
  the way out, whether the caller finished, failed or was cancelled (a client disconnect cancels the
  run's task, so the upstream connection closes at once);
- an HTTP status, a transport failure or a timeout becomes an :class:`UpstreamError` with a code a
  frontend can act on, a retry hint where the provider gave one, and never the provider's body;
- :func:`iter_sse` reads ``event:``/``data:`` blocks, bounding every wait by the read timeout (httpx) and
  the run's :class:`Deadline`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import random
import re
import time
import typing
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import httpx
import msgspec

from agui_server.agents import errors

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping

__all__ = (
    "Deadline",
    "RetryPolicy",
    "SSEMessage",
    "error_for_status",
    "error_for_stream_error",
    "error_for_transport",
    "iter_sse",
    "json_or_malformed",
    "open_stream",
    "redact",
    "retry_after_seconds",
)

logger = logging.getLogger("agui_server.agents.llm")

_ERROR_BODY_LIMIT: Final = 64 * 1024
_LABEL: Final = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_KNOWN_LABELS: Final = frozenset(
    {
        "api_error", "authentication_error", "billing_error", "content_filter", "context_length_exceeded",
        "insufficient_quota", "invalid_api_key", "invalid_request_error", "model_not_found", "not_found_error",
        "overloaded_error", "permission_error", "rate_limit_error", "rate_limit_exceeded", "request_too_large",
        "server_error", "timeout", "timeout_error", "too_many_requests", "unsupported_parameter",
    }
)  # fmt: skip
"""The providers' error types and codes a message may name: anything else an upstream sends as its label
(which may echo the request, a key among it) is used for matching only and never shown."""


def _shown(label: str | None) -> str | None:
    return label if label is not None and label.lower() in _KNOWN_LABELS else None


_KEY_LIKE: Final = re.compile(r"\b(sk|pk|key|sess)-[A-Za-z0-9_\-]{6,}")
_CONTEXT_MARKERS: Final = (
    "context_length_exceeded",
    "context length",
    "context_length",
    "context window",
    "context size",
    "exceed_context_size",
    "prompt is too long",
    "too many tokens",
    "maximum number of tokens",
    "input is too long",
)
_RETRYABLE_STATUSES: Final = frozenset({408, 409, 429, 500, 502, 503, 504, 520, 522, 524, 529})


class Deadline:
    """The moment a whole run must be over; ``None`` seconds means no limit."""

    __slots__ = ("seconds", "when")

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.when = None if seconds is None else asyncio.get_running_loop().time() + seconds

    def remaining(self) -> float | None:
        """Seconds left (never negative), or ``None`` without a limit."""
        if self.when is None:
            return None
        return max(0.0, self.when - asyncio.get_running_loop().time())

    def bound(self) -> asyncio.Timeout:
        """A timeout context for one wait: raises ``TimeoutError`` when the deadline passes.

        Use it around single awaits only, never around a ``yield``: a timeout that fires while the
        generator is suspended would cancel whoever is running the run's task at that moment.
        """
        return asyncio.timeout_at(self.when)


class RetryPolicy(NamedTuple):
    """How often and how patiently a failed request is sent again (only before any output)."""

    max_retries: int = 2
    """Retries after the first attempt."""
    backoff: float = 0.5
    """Seconds before the first retry; doubled for each further one, with jitter."""
    max_wait: float = 20.0
    """The longest wait the adapter accepts, a provider's ``retry-after`` included; longer: give up."""

    def delay(self, attempt: int, error: errors.UpstreamError) -> float | None:
        """Seconds to wait before retry number ``attempt`` (0-based), or ``None``: do not retry."""
        if not error.retryable or attempt >= self.max_retries:
            return None
        if error.retry_after is not None:
            wait = error.retry_after
        else:
            wait = self.backoff * (2**attempt) * (0.5 + random.random() / 2)  # jitter, not crypto
        return wait if wait <= self.max_wait else None


class SSEMessage(NamedTuple):
    """One Server-Sent Event: its ``event:`` name (``""`` when absent) and its ``data:`` text."""

    event: str
    data: str


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with the given secrets and anything shaped like an API key replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
    return _KEY_LIKE.sub(lambda m: f"{m.group(1)}-***", text)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a provider asked for: ``retry-after-ms``, or ``retry-after`` in seconds or as an HTTP date."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        with contextlib.suppress(ValueError):
            return max(0.0, float(raw_ms) / 1000)
    raw = headers.get("retry-after")
    if not raw:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(raw))
    with contextlib.suppress(TypeError, ValueError, IndexError):
        when = email.utils.parsedate_to_datetime(raw)
        return max(0.0, when.timestamp() - time.time())
    return None


class _ErrorBody(NamedTuple):
    label: str | None  # the provider's error type or code, when it is a plain identifier
    text: str  # everything the body says, lower-cased, for matching only (never shown)


def _read_error_body(body: bytes) -> _ErrorBody:
    text = body.decode("utf-8", "replace")
    label: str | None = None
    with contextlib.suppress(msgspec.DecodeError):
        data = msgspec.json.decode(body)
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            # a known code or type first (servers put numbers like "400" in `code`), else any plain one
            plain = [v for v in (error.get("code"), error.get("type")) if isinstance(v, str) and _LABEL.match(v)]
            label = next((v for v in plain if v.lower() in _KNOWN_LABELS), plain[0] if plain else None)
        elif isinstance(data, dict) and isinstance(data.get("type"), str) and data["type"] != "error":
            label = data["type"] if _LABEL.match(data["type"]) else None
    return _ErrorBody(label, text.lower())


def _wait_hint(seconds: float | None) -> str:
    if seconds is None:
        return "Retry later."
    whole = max(1, round(seconds + 0.499))
    return f"Retry after {whole} second{'s' if whole != 1 else ''}."


def error_for_status(status: int, headers: Mapping[str, str], body: bytes) -> errors.UpstreamError:
    """The :class:`UpstreamError` for a provider's HTTP error response (the body is read, never quoted)."""
    parsed = _read_error_body(body)
    shown = _shown(parsed.label)
    where = f"HTTP {status}" + (f", {shown}" if shown else "")
    retry_after = retry_after_seconds(headers)
    if status in (401, 403):
        return errors.UpstreamError(
            errors.UPSTREAM_AUTH_FAILED,
            f"The model provider rejected the server's credentials ({where}). Check the API key it is configured with.",
        )
    if status == 429:
        if parsed.label == "insufficient_quota" or "quota" in (parsed.label or ""):
            return errors.UpstreamError(
                errors.UPSTREAM_RATE_LIMITED,
                f"The API key's quota at the model provider is used up ({where}).",
            )
        return errors.UpstreamError(
            errors.UPSTREAM_RATE_LIMITED,
            f"The model provider is rate limiting requests ({where}). {_wait_hint(retry_after)}",
            retryable=True,
            retry_after=retry_after,
        )
    if status == 413 or (status in (400, 422) and any(marker in parsed.text for marker in _CONTEXT_MARKERS)):
        return errors.UpstreamError(
            errors.CONTEXT_TOO_LONG,
            f"The conversation is too long for the model's context window ({where}). "
            "Start a new thread or remove earlier messages.",
        )
    if status in (408, 504, 524):  # the provider, or a gateway before it, timed out
        return errors.UpstreamError(
            errors.UPSTREAM_TIMEOUT,
            f"The model provider took too long to answer ({where}). {_wait_hint(retry_after)}",
            retryable=True,
            retry_after=retry_after,
        )
    if status >= 500 or status in _RETRYABLE_STATUSES:
        what = "overloaded" if status == 529 or parsed.label == "overloaded_error" else "unavailable"
        return errors.UpstreamError(
            errors.UPSTREAM_UNAVAILABLE,
            f"The model provider is {what} ({where}). {_wait_hint(retry_after)}",
            retryable=True,
            retry_after=retry_after,
        )
    hint = " Check the model name and the base URL." if status == 404 else ""
    return errors.UpstreamError(errors.UPSTREAM_BAD_REQUEST, f"The model provider refused the request ({where}).{hint}")


def error_for_stream_error(label: str | None, text: str) -> errors.UpstreamError:
    """The :class:`UpstreamError` for an error the provider sent inside a stream (its type or code and text)."""
    kind = (label or "").lower()
    lowered = text.lower()
    shown = _shown(label)
    where = f" ({shown})" if shown else ""
    if kind in ("authentication_error", "permission_error", "invalid_api_key"):
        return errors.UpstreamError(
            errors.UPSTREAM_AUTH_FAILED, f"The model provider rejected the server's credentials{where}."
        )
    if kind in ("rate_limit_error", "rate_limit_exceeded", "too_many_requests"):
        return errors.UpstreamError(
            errors.UPSTREAM_RATE_LIMITED,
            f"The model provider is rate limiting requests{where}. Retry later.",
            retryable=True,
        )
    if kind == "request_too_large" or any(marker in lowered or marker in kind for marker in _CONTEXT_MARKERS):
        return errors.UpstreamError(
            errors.CONTEXT_TOO_LONG,
            f"The conversation is too long for the model's context window{where}. "
            "Start a new thread or remove earlier messages.",
        )
    if kind in ("timeout_error", "timeout"):
        return errors.UpstreamError(errors.UPSTREAM_TIMEOUT, f"The model provider timed out{where}.", retryable=True)
    if kind in ("invalid_request_error", "not_found_error", "invalid_request", "bad_request"):
        return errors.UpstreamError(errors.UPSTREAM_BAD_REQUEST, f"The model provider refused the request{where}.")
    what = "overloaded" if kind == "overloaded_error" else "unavailable"
    return errors.UpstreamError(
        errors.UPSTREAM_UNAVAILABLE,
        f"The model provider is {what}{where}: its stream reported an error. Retry later.",
        retryable=True,
    )


def error_for_transport(exc: httpx.HTTPError, *, connect_timeout: float, read_timeout: float) -> errors.UpstreamError:
    """The :class:`UpstreamError` for an httpx failure (no response, or a broken stream)."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return errors.UpstreamError(
            errors.UPSTREAM_TIMEOUT,
            f"Connecting to the model provider took longer than {connect_timeout:g} seconds.",
            retryable=True,
        )
    if isinstance(exc, httpx.TimeoutException):
        return errors.UpstreamError(
            errors.UPSTREAM_TIMEOUT,
            f"The model provider sent nothing for {read_timeout:g} seconds.",
            retryable=True,
        )
    if isinstance(exc, httpx.ConnectError):
        return errors.UpstreamError(
            errors.UPSTREAM_UNAVAILABLE, "Could not connect to the model provider. Retry later.", retryable=True
        )
    if isinstance(exc, httpx.TransportError):
        return errors.UpstreamError(
            errors.UPSTREAM_UNAVAILABLE,
            "The connection to the model provider broke off. Retry later.",
            retryable=True,
        )
    return errors.UpstreamError(errors.UPSTREAM_UNAVAILABLE, "The request to the model provider failed.")


async def _read_limited(response: httpx.Response, deadline: Deadline) -> bytes:
    body = bytearray()
    with contextlib.suppress(httpx.HTTPError, TimeoutError):
        async with deadline.bound():
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) >= _ERROR_BODY_LIMIT:
                    break
    return bytes(body)


@contextlib.asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes,
    deadline: Deadline,
    secrets: Iterable[str | None] = (),
) -> AsyncIterator[httpx.Response]:
    """POST ``body`` and yield the streaming response once its status says success.

    This is ``client.stream()`` with the failures mapped: the response is closed on every way out of the
    block, cancellation included, which closes the connection when the body was not read to its end.

    Raises:
        UpstreamError: an error status, a transport failure or a timeout (also while the caller reads,
            for httpx errors raised inside the block).
        TimeoutError: the run's deadline passed while waiting for the response.
    """
    timeout = client.timeout
    connect_timeout = timeout.connect or 0.0
    read_timeout = timeout.read or 0.0
    request = client.build_request("POST", url, headers=headers, content=body)
    try:
        async with deadline.bound():
            response = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise error_for_transport(exc, connect_timeout=connect_timeout, read_timeout=read_timeout) from None
    try:
        if response.status_code >= 400:
            payload = await _read_limited(response, deadline)
            error = error_for_status(response.status_code, response.headers, payload)
            logger.warning("model provider answered HTTP %d: %s", response.status_code, error.code)
            logger.debug("model provider error body: %s", redact(payload[:2000].decode("utf-8", "replace"), secrets))
            raise error
        media = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media and media != "text/event-stream":
            raise errors.UpstreamError(
                errors.UPSTREAM_MALFORMED_STREAM,
                f"The model provider answered with {media!r} where a stream (text/event-stream) was expected.",
            )
        try:
            yield response
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, connect_timeout=connect_timeout, read_timeout=read_timeout) from None
    finally:
        await response.aclose()


async def iter_sse(response: httpx.Response, deadline: Deadline) -> AsyncGenerator[SSEMessage, None]:
    """The Server-Sent Events of ``response``, each wait bounded by the run's deadline.

    Comments (``: ping``) are skipped; a last event without its closing blank line is still delivered.

    Raises:
        TimeoutError: the run's deadline passed while waiting for the next line.
    """
    lines = typing.cast("AsyncGenerator[str, None]", response.aiter_lines())
    event = ""
    data: list[str] = []
    try:
        while True:
            try:
                async with deadline.bound():
                    line = await anext(lines)
            except StopAsyncIteration:
                break
            if not line:
                if data:
                    yield SSEMessage(event, "\n".join(data))
                event, data = "", []
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
        if data:
            yield SSEMessage(event, "\n".join(data))
    finally:
        await lines.aclose()


def json_or_malformed(data: str | bytes, decoder: msgspec.json.Decoder[Any], what: str) -> Any:
    """Decode one event's JSON with ``decoder``; a decode failure is a malformed stream."""
    try:
        return decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        logger.warning("model provider sent a malformed %s: %s", what, exc)
        raise errors.UpstreamError(
            errors.UPSTREAM_MALFORMED_STREAM, f"The model provider sent a {what} that could not be read."
        ) from None
