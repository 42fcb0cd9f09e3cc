"""The HTTP endpoints, over a :class:`~agui_server.runs.manager.RunManager`.

Under ``<path>`` (default ``/ag-ui``):

- ``POST <path>`` and ``POST <path>/{agentId}``: run an agent on a ``RunAgentInput``; SSE.
- ``GET <path>/{agentId}/stream?message=…&threadId=…``: one turn for clients that can only GET; SSE.
- ``GET <path>/runs/{runId}/events``: resume a run after ``Last-Event-ID`` (or ``?after=``); SSE,
  204 when there is nothing more, 410 when the cursor is too old, 404 for an unknown run.
- ``POST <path>/runs/{runId}/stop``: stop a run.
- ``POST <path>/connect``: a thread's messages and state, then its active run's live tail; SSE.
- ``GET <path>/threads/{threadId}``: the stored thread as JSON.
- ``GET <path>/threads?limit=&cursor=``: the caller's threads, newest first, paged; ``PATCH`` and
  ``DELETE <path>/threads/{threadId}`` rename and delete one.
- ``GET <path>/playground/agents``: what the playground page offers the caller (with ``AGUIConfig.playground``).

Under ``<agents_path>`` (default ``/agents``), for ``EventSource`` and plain REST clients:

- ``GET <agents_path>/{agentId}/sse?thread_id=…``: every event of every run on the thread, in the
  :class:`~agui_server.dialects.ThreadMessages` dialect.
- ``POST <agents_path>/{agentId}/messages``: ``{"thread_id", "message"}`` starts a run; 202.

And the routes of ``AGUIConfig.routes`` (:mod:`agui_server.dialects.routes`): runs and feeds in a dialect.
"""

from __future__ import annotations

import hmac
import math
import uuid
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import msgspec
from litestar.exceptions import HTTPException
from litestar.response.base import ASGIResponse

from agui_server.dialects.base import StreamInfo
from agui_server.dialects.builtin import AGUIDialect, ReaderExtras, ThreadMessages
from agui_server.dialects.routes import InvalidRequest, thread_field, turn_input
from agui_server.dialects.view import DialectView
from agui_server.http.auth import PRINCIPAL_STATE_KEY, Authenticator, NoAuth
from agui_server.http.errors import HTTP_ERRORS, APIError, error_response
from agui_server.http.limits import PrincipalLimits
from agui_server.http.streaming import SSEResponse
from agui_server.observability.prometheus import CONTENT_TYPE as METRICS_CONTENT_TYPE
from agui_server.observability.telemetry import Telemetry, start_request
from agui_server.principals import Principal, client_thread_id, owner_of, thread_key
from agui_server.protocol import events as ev
from agui_server.protocol.compat import downgrade, is_legacy_client
from agui_server.protocol.encoding import (
    InputError,
    decode_input,
    encode_event,
    encode_json,
    invalid_input,
    sse_retry_frame,
)
from agui_server.protocol.types import Id, is_valid_id
from agui_server.runs.backend import (
    BackendUnavailable,
    CursorAhead,
    CursorExpired,
    DisconnectPolicy,
    ResumeRefused,
    RunConflict,
    ThreadBusy,
    TooManyRuns,
)
from agui_server.runs.log import RunLog
from agui_server.runs.threads import MAX_PAGE, MAX_TITLE, PAGE_SIZE, InvalidPageCursor

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from litestar import Request

    from agui_server.agents.base import Agent
    from agui_server.dialects.base import Dialect
    from agui_server.dialects.routes import FeedRoute, RunRoute
    from agui_server.http.config import AGUIConfig
    from agui_server.observability.prometheus import PrometheusMetrics
    from agui_server.observability.telemetry import RequestScope
    from agui_server.protocol.types import RunAgentInput
    from agui_server.runs.backend import FrameSource, RunBackend, RunHandle

__all__ = ("Endpoints",)

_DISCONNECT_HEADER: Final = b"x-agui-on-disconnect"

Answer = ASGIResponse | SSEResponse
"""What an endpoint answers: a JSON response, or a stream."""

_GET_STREAM_IDS: Final = AGUIDialect()
_THREAD_MESSAGES: Final = ThreadMessages()


class _MessageBody(msgspec.Struct):
    thread_id: Id
    message: str


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False  # a body without a type is what a cross-site page can send without a CORS preflight
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _header(request: Request[Any, Any, Any], name: bytes) -> str | None:
    """The request's first header ``name`` (lower case, as ASGI gives names), read from the scope: on the run
    path this is cheaper than building Litestar's header map (``request.headers``)."""
    for key, value in request.scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _query(request: Request[Any, Any, Any], name: str) -> str | None:
    """A query parameter (``None`` at once when the URL has no query)."""
    if not request.scope["query_string"]:
        return None
    value: str | None = request.query_params.get(name)
    return value


def _not_found(what: str, value: str) -> APIError:
    code = {"agent": "UNKNOWN_AGENT", "run": "UNKNOWN_RUN", "thread": "UNKNOWN_THREAD"}[what]
    return APIError(code, f"No {what} with id {value!r}.")


def _unauthenticated() -> APIError:
    return APIError(
        "UNAUTHENTICATED",
        "This server needs a credential: Authorization: Bearer <token> (or ?access_token= for EventSource).",
        headers={"www-authenticate": 'Bearer realm="agui"'},
    )


_AG_UI: Final = AGUIDialect.name


def _too_many(detail: str, retry_after: float) -> APIError:
    return APIError("TOO_MANY_REQUESTS", detail, headers={"retry-after": str(max(1, math.ceil(retry_after)))})


def unavailable(exc: BackendUnavailable) -> ASGIResponse:
    """503 with ``Retry-After``: the backend (Redis) cannot be reached now."""
    return error_response(
        "BACKEND_UNAVAILABLE",
        f"The server cannot reach its run store right now: {exc}",
        headers={"retry-after": str(exc.retry_after)},
    )


class Endpoints:
    """What the routes do; one instance per plugin."""

    def __init__(
        self,
        config: AGUIConfig,
        agents: dict[str, Agent],
        runs: RunBackend,
        telemetry: Telemetry | None = None,
        prometheus: PrometheusMetrics | None = None,
    ) -> None:
        self.config = config
        self.agents = agents
        self.runs = runs
        self.telemetry = telemetry or Telemetry()
        """Where the requests' spans and the streams' metrics go."""
        self.prometheus = prometheus
        """The metrics ``AGUIConfig.metrics`` serves."""
        self.dialect: Dialect | None = ReaderExtras() if config.reader_extras else None
        """The dialect of ``POST <path>``: AG-UI, with the reader extras when asked."""
        self.auth: Authenticator = config.auth if config.auth is not None else NoAuth()
        self.limits = (
            PrincipalLimits(config.max_streams_per_principal, config.max_run_starts_per_minute)
            if config.auth is not None
            else None
        )

    # -- who is calling -------------------------------------------------------------------------

    async def authenticate(self, request: Request[Any, Any, Any]) -> ASGIResponse | None:
        """Before every route: refuse what another site's page sends (403), find the caller (stored on the
        request) or answer 401."""
        if not self._same_site_or_allowed(request):
            return self.refuse(
                APIError(
                    "CROSS_SITE",
                    "Requests from another site's pages need their origin in the server's allowed origins.",
                )
            )
        principal = await self.auth.authenticate(request)
        if principal is None or not is_valid_id(principal.id):
            return self.refuse(_unauthenticated())
        request.scope["state"][PRINCIPAL_STATE_KEY] = (
            principal  # (``request.state`` would build a ``State`` per access)
        )
        return None

    # -- answers and refusals -------------------------------------------------------------------

    async def answer(self, pending: Awaitable[Answer]) -> Answer:
        """The endpoint's answer; the one place where what an endpoint raises becomes a JSON error (``APIError``),
        or a 503 when the run store cannot be reached."""
        try:
            return await pending
        except APIError as exc:
            return self.refuse(exc)
        except BackendUnavailable as exc:
            self._count_refusal("BACKEND_UNAVAILABLE")
            return unavailable(exc)

    def refuse(self, error: APIError) -> ASGIResponse:
        """The JSON error answer, counted in the ``agui.rejections`` metric."""
        self._count_refusal(error.code)
        return error.response()

    def _count_refusal(self, code: str) -> None:
        metrics = self.telemetry.metrics
        if metrics is not None:
            metrics.rejections.add(1, {"status": str(HTTP_ERRORS[code].status), "code": code})

    # -- metrics --------------------------------------------------------------------------------

    async def metrics(self, request: Request[Any, Any, Any]) -> Answer:
        """``GET <metrics.path>``: the metrics in the Prometheus text format, to a caller the guard lets in."""
        endpoint = self.config.metrics
        assert endpoint is not None
        if endpoint.token is not None:
            given = request.headers.get("authorization", "")
            scheme, _, token = given.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), endpoint.token.encode()):
                return self._metrics_text()
            if not endpoint.admin:
                raise _unauthenticated()
        if endpoint.admin:
            refused = await self.authenticate(request)
            if refused is not None:
                return refused
            if not self.principal(request).is_admin:
                raise APIError("FORBIDDEN", "Only an admin may read the server's metrics.")
        return self._metrics_text()

    def _metrics_text(self) -> ASGIResponse:
        assert self.prometheus is not None
        return ASGIResponse(body=self.prometheus.render(), media_type=METRICS_CONTENT_TYPE)

    def _stream(
        self,
        source: FrameSource,
        *,
        after: int,
        kind: str = "run",
        on_close: Callable[[bool], object] | None = None,
        prelude: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> SSEResponse:
        """An SSE response, counted in the metrics."""
        return SSEResponse(
            source,
            after=after,
            keepalive=self.config.keepalive_interval,
            on_close=on_close,
            prelude=prelude,
            headers=headers,
            metrics=self.telemetry.metrics,
            kind=kind,
        )

    def _resumed(self, kind: str) -> None:
        metrics = self.telemetry.metrics
        if metrics is not None:
            metrics.resumes.add(1, {"kind": kind})

    def _same_site_or_allowed(self, request: Request[Any, Any, Any]) -> bool:
        """Fetch metadata: a browser marks what another site's page sends (``Sec-Fetch-Site``); such a request
        passes only from an origin in ``allowed_origins`` (CORS). Clients that are no browser send no such
        header and pass."""
        site = _header(request, b"sec-fetch-site")
        if site not in ("cross-site", "same-site"):
            return True
        origin = _header(request, b"origin")
        allowed = self.config.allowed_origins
        return origin is not None and ("*" in allowed or origin in allowed)

    @staticmethod
    def principal(request: Request[Any, Any, Any]) -> Principal:
        """The caller, as :meth:`authenticate` found it."""
        principal: Principal = request.scope["state"][PRINCIPAL_STATE_KEY]
        return principal

    def owner(self, request: Request[Any, Any, Any]) -> str:
        """Whose threads the caller works in (``AGUIConfig.thread_owner``, default the caller's own)."""
        principal = self.principal(request)
        if self.config.thread_owner is None:
            return principal.id
        owner = self.config.thread_owner(principal)
        if not is_valid_id(owner):
            raise ValueError("AGUIConfig.thread_owner must return an id (no control characters)")
        return str(owner)

    def _check_streams(self, request: Request[Any, Any, Any]) -> None:
        """429 when the caller holds as many streams as it may."""
        if self.limits is None or not self.limits.stream_refused(self.principal(request).id):
            return
        raise _too_many(f"At most {self.limits.max_streams} open streams per caller; close one first.", 5)

    def _counted(self, request: Request[Any, Any, Any] | None, on_close: Callable[[bool], object] | None) -> Any:
        """``on_close``, also counting the caller's open stream until it closes."""
        if self.limits is None or request is None:
            return on_close
        release = self.limits.opened(self.principal(request).id)

        def closed(completed: bool) -> None:
            release()
            if on_close is not None:
                on_close(completed)

        return closed

    def _key(self, request: Request[Any, Any, Any], thread_id: str) -> str:
        return thread_key(self.owner(request), thread_id)

    def _owns(self, request: Request[Any, Any, Any], run: RunHandle | None) -> bool:
        """Whether the caller may see ``run`` (it ran on one of the caller's owner's threads)."""
        return run is not None and owner_of(run.thread_id) == self.owner(request)

    # -- request parsing ------------------------------------------------------------------------

    async def _body(self, request: Request[Any, Any, Any]) -> bytes:
        if not _is_json(_header(request, b"content-type")):
            raise APIError("UNSUPPORTED_MEDIA_TYPE", "The request body must be JSON (Content-Type: application/json).")
        try:
            return await request.body()
        except HTTPException as exc:
            if exc.status_code == 413:
                raise APIError(
                    "BODY_TOO_LARGE", f"The request body is larger than {self.config.max_body_size} bytes."
                ) from None
            raise

    async def _json(self, request: Request[Any, Any, Any]) -> Any:
        """The request's JSON body (``{}`` when it has none)."""
        body = await self._body(request)
        try:
            return msgspec.json.decode(body or b"{}")
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            raise APIError("INVALID_JSON", "The request body is not valid JSON.") from None

    @staticmethod
    def _cursor(request: Request[Any, Any, Any]) -> str | None:
        return request.headers.get("last-event-id") or request.query_params.get("after")

    @staticmethod
    def _parse_cursor(raw: str) -> int:
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise APIError("INVALID_CURSOR", f"The cursor must be an event id (0, 1, 2 …), got {raw[:40]!r}.")
        return int(raw)

    def _policy(self, request: Request[Any, Any, Any]) -> DisconnectPolicy | None:
        text = _query(request, "on_disconnect") or _header(request, _DISCONNECT_HEADER)
        if text is None:
            return None
        try:
            return DisconnectPolicy.parse(text)
        except ValueError as exc:
            raise APIError("INVALID_DISCONNECT_POLICY", str(exc), [{"field": "on_disconnect"}]) from None

    # -- running --------------------------------------------------------------------------------

    async def run(self, request: Request[Any, Any, Any], agent_id: str) -> Answer:
        """``POST <path>[/{agentId}]``."""
        agent = self.agents.get(agent_id)
        if agent is None:
            raise _not_found("agent", agent_id)
        body = await self._body(request)
        try:
            run_input = decode_input(body)
        except InputError as exc:
            raise self._input_error(exc) from None
        policy = self._policy(request)
        return await self._start_and_stream(request, agent, run_input, agent_id, policy, self.dialect)

    async def _start(
        self,
        request: Request[Any, Any, Any],
        agent: Agent,
        run_input: RunAgentInput,
        agent_id: str,
        policy: DisconnectPolicy | None,
        dialect: Dialect | None = None,
    ) -> tuple[RunHandle, RequestScope | None]:
        """Start the run (under the request's ``agui.request`` span, when tracing is on)."""
        headers: Mapping[str, str] = request.headers if self.telemetry.tracer is not None else {}  # (its parent span)
        scope = start_request(self.telemetry, headers, dialect.name if dialect else _AG_UI, agent_id)
        if scope is None:
            return await self._admit(request, agent, run_input, agent_id, policy), None
        try:
            with scope:
                run = await self._admit(request, agent, run_input, agent_id, policy)
        except APIError as exc:
            scope.rejected(HTTP_ERRORS[exc.code].status, exc.code)
            raise
        except BackendUnavailable:
            scope.rejected(503, "BACKEND_UNAVAILABLE")
            raise
        scope.run(run_input.thread_id, run.run_id)
        return run, scope

    async def _admit(
        self,
        request: Request[Any, Any, Any],
        agent: Agent,
        run_input: RunAgentInput,
        agent_id: str,
        policy: DisconnectPolicy | None,
    ) -> RunHandle:
        if self.limits is not None:
            wait = self.limits.start_refused(self.principal(request).id)
            if wait is not None:
                raise _too_many(f"At most {self.limits.max_starts_per_minute} runs a minute per caller.", wait)
        try:
            return await self.runs.start(
                agent,
                run_input,
                agent_id=agent_id,
                policy=policy,
                principal=self.principal(request),
                owner=self.owner(request),
            )
        except RunConflict:
            raise APIError(
                "RUN_ID_CONFLICT",
                "A run with this runId already exists on another thread or for another protocol version.",
                [{"field": "runId", "message": "use a fresh runId for a new run"}],
            ) from None
        except TooManyRuns as exc:
            if exc.scope == "owner":
                raise _too_many(
                    f"At most {self.config.max_runs_per_principal} runs in progress per caller.", 5
                ) from None
            raise APIError(
                "SERVER_BUSY",
                "The server runs as many runs as it may; try again shortly.",
                headers={"retry-after": "5"},
            ) from None
        except ThreadBusy as exc:
            raise APIError(
                "THREAD_BUSY",
                f"Thread {client_thread_id(exc.thread_id)!r} has a run in progress ({exc.run_id}); wait for it or "
                "stop it.",
                [{"field": "threadId", "message": "one run per thread at a time"}],
            ) from None
        except ResumeRefused as exc:
            raise APIError(exc.code, exc.detail, [{"field": exc.field, "message": exc.detail}]) from None

    async def _start_and_stream(
        self,
        request: Request[Any, Any, Any],
        agent: Agent,
        run_input: RunAgentInput,
        agent_id: str,
        policy: DisconnectPolicy | None,
        dialect: Dialect | None,
        *,
        get_stream: bool = False,
    ) -> Answer:
        self._check_streams(request)
        run, scope = await self._start(request, agent, run_input, agent_id, policy, dialect)
        if get_stream:
            return self._follow_get_stream(request, run, 0, dialect, scope)
        return self._follow(run, after=0, dialect=dialect, request=request, scope=scope)

    def _follow_get_stream(
        self,
        request: Request[Any, Any, Any],
        run: RunHandle,
        after: int,
        dialect: Dialect | None,
        scope: RequestScope | None = None,
    ) -> SSEResponse:
        """A GET stream's frames have ids ``<runId>:<seq>``: an ``EventSource`` that reconnects sends one back
        and resumes the run (:meth:`_resume_get_stream`) instead of starting another."""
        return self._follow(
            run,
            after=after,
            prelude=sse_retry_frame(self.config.retry_ms),
            dialect=dialect or _GET_STREAM_IDS,
            id_prefix=f"{run.run_id}:",
            request=request,
            scope=scope,
        )

    def _follow(
        self,
        run: RunHandle,
        *,
        after: int,
        prelude: bytes = b"",
        dialect: Dialect | None = None,
        id_prefix: str = "",
        request: Request[Any, Any, Any] | None = None,
        scope: RequestScope | None = None,
    ) -> SSEResponse:
        runs = self.runs
        source: FrameSource = runs.open(run, after)
        if dialect is not None:
            stream = StreamInfo(
                "run", agent_id=run.agent_id, thread_id=run.input.thread_id, run_id=run.run_id, input=run.input
            )
            source = DialectView(source, dialect, stream, after=after, id_prefix=id_prefix)
        runs.follow(run)

        def closed(completed: bool) -> None:
            runs.unfollow(run, completed)
            if scope is not None:
                scope.closed(completed, response.sent)

        response = self._stream(
            source,
            after=after,
            on_close=self._counted(request, closed),
            prelude=prelude,
            headers={"content-location": f"{self.config.path}/runs/{quote(run.run_id, safe='')}/events"},
        )
        return response

    async def stream_get(self, request: Request[Any, Any, Any], agent_id: str) -> Answer:
        """``GET <path>/{agentId}/stream?message=…&threadId=…``: one turn, with the thread's history."""
        agent = self.agents.get(agent_id)
        if agent is None:
            raise _not_found("agent", agent_id)
        resumed = await self._resume_get_stream(request, agent_id, None)
        if resumed is not None:
            return resumed
        message = request.query_params.get("message")
        if message is None:
            raise APIError("INVALID_INPUT", "The query needs a message.", [{"field": "message"}])
        try:
            thread_id = thread_field(dict(request.query_params.items()), "threadId", "thread_id")
        except InvalidRequest as exc:
            raise APIError("INVALID_INPUT", exc.message, [{"field": exc.field}]) from None
        policy = self._policy(request)
        run_input = turn_input(thread_id, message)
        return await self._start_and_stream(request, agent, run_input, agent_id, policy, self.dialect, get_stream=True)

    async def _resume_get_stream(
        self, request: Request[Any, Any, Any], agent_id: str, dialect: Dialect | None
    ) -> Answer | None:
        """A GET stream's ``EventSource`` reconnecting (``Last-Event-ID: <runId>:<seq>``): the rest of that
        run, 204 when it is over; ``None`` when the request is no reconnect."""
        last = request.headers.get("last-event-id")
        if not last or ":" not in last:
            return None
        run_id, _, raw = last.rpartition(":")
        after = self._parse_cursor(raw)
        run = await self.runs.get(run_id)
        if run is None or run.agent_id != agent_id or not self._owns(request, run):
            raise _not_found("run", run_id)
        drained = await self._cursor_refused(run, after)
        if drained is not None:
            return drained
        self._check_streams(request)
        self._resumed("run")
        return self._follow_get_stream(request, run, after, dialect)

    async def _cursor_refused(self, run: RunHandle, after: int) -> ASGIResponse | None:
        """204 when the run is over and read to its end (``None``: follow); raises 410 when the events after the
        cursor are gone, 400 when it is ahead."""
        state = await self.runs.cursor_state(run, after)
        if state == "drained":
            return ASGIResponse(status_code=204)
        if state == "expired":
            raise APIError("CURSOR_EXPIRED", f"Events after {after} are no longer kept; reload the thread.")
        if state == "ahead":
            raise APIError("INVALID_CURSOR", f"Run {run.run_id!r} has no event {after} yet.")
        return None

    # -- resume and stop ------------------------------------------------------------------------

    async def resume(self, request: Request[Any, Any, Any], run_id: str) -> Answer:
        """``GET <path>/runs/{runId}/events`` with ``Last-Event-ID`` or ``?after=``."""
        run = await self.runs.get(run_id)
        if run is None or not self._owns(request, run):
            raise _not_found("run", run_id)
        after = self._parse_cursor(self._cursor(request) or "0")
        drained = await self._cursor_refused(run, after)
        if drained is not None:
            return drained
        self._check_streams(request)
        self._resumed("run")
        return self._follow(
            run, after=after, prelude=sse_retry_frame(self.config.retry_ms), dialect=self.dialect, request=request
        )

    async def stop(self, request: Request[Any, Any, Any], run_id: str) -> Answer:
        """``POST <path>/runs/{runId}/stop``: stop the run; answers when it has ended."""
        if not self._owns(request, await self.runs.get(run_id)):
            raise _not_found("run", run_id)
        status = await self.runs.stop(run_id)
        if status is None:
            raise _not_found("run", run_id)
        body = {"runId": run_id, "status": status}
        return ASGIResponse(body=encode_json(body), media_type="application/json")

    # -- the playground ---------------------------------------------------------------------------

    async def playground_agents(self, request: Request[Any, Any, Any]) -> Answer:
        """``GET <path>/playground/agents``: the agent ids the page offers, and who the caller is."""
        body = {
            "agents": list(self.agents),
            "defaultAgent": self.config.agent_id,
            "principal": self.principal(request).id,
            "authenticated": self.config.auth is not None,
        }
        return ASGIResponse(body=encode_json(body), media_type="application/json")

    # -- threads --------------------------------------------------------------------------------

    async def thread(self, request: Request[Any, Any, Any], thread_id: str) -> Answer:
        """``GET <path>/threads/{threadId}``: the caller's thread of that id."""
        thread = await self.runs.thread(self._key(request, thread_id))
        if thread is None:
            raise _not_found("thread", thread_id)
        return ASGIResponse(body=encode_json(thread.public()), media_type="application/json")

    async def list_threads(self, request: Request[Any, Any, Any]) -> Answer:
        """``GET <path>/threads?limit=&cursor=``: the caller's threads, newest first, a page at a time."""
        raw = request.query_params.get("limit")
        limit = PAGE_SIZE
        if raw is not None:
            if not raw.isdecimal() or not 1 <= int(raw) <= MAX_PAGE:
                raise APIError("INVALID_INPUT", f"limit must be a number from 1 to {MAX_PAGE}.", [{"field": "limit"}])
            limit = int(raw)
        try:
            page = await self.runs.list_threads(self.owner(request), limit, request.query_params.get("cursor"))
        except InvalidPageCursor as exc:
            raise APIError("INVALID_CURSOR", str(exc), [{"field": "cursor"}]) from None
        return ASGIResponse(body=encode_json(page), media_type="application/json")

    async def rename_thread(self, request: Request[Any, Any, Any], thread_id: str) -> Answer:
        """``PATCH <path>/threads/{threadId}`` with ``{"title": …}``: rename the caller's thread."""
        fields = await self._json(request)
        title = fields.get("title") if isinstance(fields, dict) else None
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE or not title.isprintable():
            raise APIError(
                "INVALID_INPUT", f"title must be text of 1 to {MAX_TITLE} characters, without control characters.",
                [{"field": "title"}],
            )  # fmt: skip
        title = title.strip()
        if not await self.runs.rename_thread(self._key(request, thread_id), title):
            raise _not_found("thread", thread_id)
        return ASGIResponse(body=encode_json({"threadId": thread_id, "title": title}), media_type="application/json")

    async def delete_thread(self, request: Request[Any, Any, Any], thread_id: str) -> Answer:
        """``DELETE <path>/threads/{threadId}``: delete the caller's thread (204); 409 while a run holds it."""
        try:
            deleted = await self.runs.delete_thread(self._key(request, thread_id))
        except ThreadBusy as exc:
            raise APIError(
                "THREAD_BUSY",
                f"Thread {thread_id!r} has a run in progress ({exc.run_id}); stop it or wait for it first.",
            ) from None
        if not deleted:
            raise _not_found("thread", thread_id)
        return ASGIResponse(body=b"", status_code=204)

    async def connect(self, request: Request[Any, Any, Any]) -> Answer:
        """``POST <path>/connect``: the thread as snapshots, then its active run's tail, then a terminal."""
        fields = await self._json(request)
        thread_id = fields.get("threadId") if isinstance(fields, dict) else None
        if not is_valid_id(thread_id):
            raise APIError(
                "INVALID_INPUT", "connect needs a threadId (an id without control characters).",
                [{"field": "threadId"}],
            )  # fmt: skip
        assert isinstance(thread_id, str)
        assert isinstance(fields, dict)
        legacy = is_legacy_client(fields.get("protocolVersion"))
        key = self._key(request, thread_id)
        active = await self.runs.active_run(key)
        if active is not None:
            prelude = self._snapshot_prelude(
                thread_id, active.run_id, active.input.messages, active.input.state, legacy
            )
            self._check_streams(request)
            source = self.runs.open(active, 1)
            return self._stream(source, after=1, prelude=prelude, on_close=self._counted(request, None))
        thread = await self.runs.thread(key)
        given = fields.get("runId")
        run_id = given if isinstance(given, str) and is_valid_id(given) else f"connect-{uuid.uuid4().hex}"
        messages = thread.messages if thread else []
        state = thread.state if thread else None
        prelude = self._snapshot_prelude(thread_id, run_id, messages, state, legacy)
        log = RunLog()
        # a reloading client learns the questions the thread still waits on
        outcome = ev.InterruptOutcome(interrupts=thread.interrupts) if thread and thread.interrupts else None
        end = ev.RunFinishedEvent(thread_id=thread_id, run_id=run_id, outcome=outcome)
        log.append(encode_event(downgrade(end) if legacy else end), "RUN_FINISHED")
        log.close()
        return self._stream(log, after=0, prelude=prelude)

    @staticmethod
    def _snapshot_prelude(thread_id: str, run_id: str, messages: list[Any], state: Any, legacy: bool) -> bytes:
        events: list[ev.Event] = [
            ev.RunStartedEvent(thread_id=thread_id, run_id=run_id, protocol_version=None if legacy else "1.0"),
            ev.MessagesSnapshotEvent(messages=[m for m in messages if m.__struct_config__.tag != "activity"]),
            ev.StateSnapshotEvent(snapshot=state if state is not None else {}),
        ]
        if legacy:
            events = [downgrade(e) for e in events]
        return b"".join(b"data: %s\n\n" % encode_event(e) for e in events)

    # -- the /agents API ------------------------------------------------------------------------

    async def subscribe(self, request: Request[Any, Any, Any], agent_id: str) -> Answer:
        """``GET <agents_path>/{agentId}/sse?thread_id=…``: every event of the thread, live, in the
        :class:`~agui_server.dialects.ThreadMessages` dialect."""
        if agent_id not in self.agents:
            raise _not_found("agent", agent_id)
        return await self._feed(request, _THREAD_MESSAGES, "thread", agent_id)

    async def send_message(self, request: Request[Any, Any, Any], agent_id: str) -> Answer:
        """``POST <agents_path>/{agentId}/messages``: start a run on the thread; 202 with its id."""
        agent = self.agents.get(agent_id)
        if agent is None:
            raise _not_found("agent", agent_id)
        body = await self._body(request)
        try:
            message = msgspec.json.decode(body, type=_MessageBody)
        except msgspec.ValidationError as exc:
            raise self._input_error(invalid_input(exc, '{"thread_id", "message"}')) from None
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            raise APIError("INVALID_JSON", "The request body is not valid JSON.") from None
        run, scope = await self._start(
            request, agent, turn_input(message.thread_id, message.message), agent_id, DisconnectPolicy("continue")
        )
        if scope is not None:
            scope.closed(True, 0, status=202)
        body_out = {"status": "success", "message": "Message sent to agent.", "runId": run.run_id}
        return ASGIResponse(body=encode_json(body_out), status_code=202, media_type="application/json")

    # -- routes in a dialect (AGUIConfig.routes) ------------------------------------------------

    async def run_route(self, request: Request[Any, Any, Any], route: RunRoute, agent_id: str) -> Answer:
        """A :class:`~agui_server.dialects.routes.RunRoute`: start a run from the request, stream it."""
        agent = self.agents.get(agent_id)
        if agent is None:
            raise _not_found("agent", agent_id)
        get = request.method == "GET"
        if get:
            resumed = await self._resume_get_stream(request, agent_id, route.dialect)
            if resumed is not None:
                return resumed
            fields: Any = dict(request.query_params.items())
        else:
            body = await self._body(request)
            if route.request is None:
                try:
                    run_input = decode_input(body)
                except InputError as exc:
                    raise self._input_error(exc) from None
                fields = None
            else:
                try:
                    fields = msgspec.json.decode(body)
                except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                    raise APIError("INVALID_JSON", "The request body is not valid JSON.") from None
                if not isinstance(fields, dict):
                    raise APIError("INVALID_INPUT", "The request body must be a JSON object.")
        if fields is not None:
            assert route.request is not None
            try:
                run_input = route.request(fields)
            except InvalidRequest as exc:
                raise APIError("INVALID_INPUT", exc.message, [{"field": exc.field, "message": exc.message}]) from None
        policy = self._policy(request)
        return await self._start_and_stream(request, agent, run_input, agent_id, policy, route.dialect, get_stream=get)

    @staticmethod
    def _input_error(exc: InputError) -> APIError:
        code = "INVALID_JSON" if exc.status == 400 else "INVALID_INPUT"
        detail = "The request body is not valid JSON." if exc.status == 400 else "The RunAgentInput is invalid."
        return APIError(code, detail, [exc.as_dict()])

    async def feed_route(self, request: Request[Any, Any, Any], route: FeedRoute, agent_id: str | None) -> Answer:
        """A :class:`~agui_server.dialects.routes.FeedRoute`: subscribe to a feed (runs as they happen)."""
        if agent_id is not None and agent_id not in self.agents:
            raise _not_found("agent", agent_id)
        if route.scope != "thread" and not self.principal(request).is_admin:
            raise APIError("FORBIDDEN", "Only an admin may follow every run of an agent or of the server.")
        return await self._feed(request, route.dialect, route.scope, agent_id)

    async def _feed(
        self, request: Request[Any, Any, Any], dialect: Dialect | None, scope: str, agent_id: str | None
    ) -> Answer:
        self._check_streams(request)
        raw = self._cursor(request)
        after: int | None = None
        if raw is not None:
            after = self._parse_cursor(raw)
            self._resumed("feed")
        thread_id: str | None = None
        runs = self.runs
        try:
            if scope == "thread":
                try:
                    thread_id = thread_field(dict(request.query_params.items()), "thread_id", "threadId")
                except InvalidRequest as exc:
                    raise APIError("INVALID_INPUT", exc.message, [{"field": exc.field}]) from None
                if not thread_id:
                    raise APIError("INVALID_INPUT", "The query needs a thread_id.", [{"field": "thread_id"}])
                key = self._key(request, thread_id)
                if after is None:
                    after = await runs.subscribe_from(key)
                feed = await runs.subscribe(key, after)
            else:
                feed = await runs.subscribe_all(agent_id if scope == "agent" else None, after)
                if after is not None and after > len(feed):
                    after = None  # a cursor from before a restart (or made up): from now
        except CursorExpired:
            raise APIError("CURSOR_EXPIRED", f"Events after {after} are no longer kept.") from None
        except CursorAhead:
            raise APIError("INVALID_CURSOR", f"There is no event {after} yet.") from None
        start = len(feed) if after is None else after
        source: FrameSource = feed
        if dialect is not None:
            stream = StreamInfo("thread" if scope == "thread" else scope, agent_id=agent_id, thread_id=thread_id)  # type: ignore[arg-type]
            source = DialectView(feed, dialect, stream, after=start)
        return self._stream(
            source,
            after=start,
            kind="feed",
            prelude=sse_retry_frame(self.config.retry_ms),
            on_close=self._counted(request, lambda _completed: runs.unsubscribe(feed)),
        )
