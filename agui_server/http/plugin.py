"""``AGUIPlugin``: mounts the AG-UI endpoint on any Litestar app.

.. code-block:: python

    from litestar import Litestar
    from agui_server import AGUIConfig, AGUIPlugin

    app = Litestar(plugins=[AGUIPlugin(AGUIConfig(agent=my_agent))])
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from litestar import Request, Router, post
from litestar.config.cors import CORSConfig
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.plugins import InitPlugin
from litestar.types import ASGIApp  # noqa: TC002  (Litestar reads the handler annotations at runtime)

from agui_server.agents.base import Agent, as_agent
from agui_server.agents.offline import OfflineAgent
from agui_server.http.config import AGUIConfig
from agui_server.http.errors import error_response
from agui_server.http.request_log import RequestLogMiddleware
from agui_server.http.streaming import SSEResponse
from agui_server.protocol.encoding import InputError, decode_input
from agui_server.runs.manager import Run, RunConflict, RunManager

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from litestar import Litestar
    from litestar.config.app import AppConfig

__all__ = ("AGUIPlugin",)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # lenient: plain `requests.post(data=...)` and some fetch readers send none
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class AGUIPlugin(InitPlugin):
    """Serves an agent over AG-UI at ``config.path`` (``POST /ag-ui`` by default)."""

    __slots__ = ("agent", "config", "runs")

    def __init__(self, config: AGUIConfig | None = None) -> None:
        self.config = config or AGUIConfig()
        self.agent: Agent = as_agent(self.config.agent) if self.config.agent is not None else OfflineAgent()
        self.runs = RunManager(
            strict=self.config.strict,
            retention=self.config.run_retention,
            run_timeout=self.config.run_timeout,
        )

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add the AG-UI router, run shutdown and (when asked) CORS to the app."""
        app_config.route_handlers.append(self._router())
        app_config.lifespan.append(self._lifespan)
        if self.config.allowed_origins and app_config.cors_config is None:
            app_config.cors_config = CORSConfig(
                allow_origins=list(self.config.allowed_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["content-type", "accept", "authorization", "last-event-id"],
                expose_headers=["content-type"],
            )
        return app_config

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.runs.shutdown()

    def _router(self) -> Router:
        config = self.config
        plugin = self

        @post(
            "/",
            status_code=200,
            name="agui:run",
            request_max_body_size=config.max_body_size,
            summary="Run the agent and stream AG-UI events (Server-Sent Events)",
        )
        async def run_agent(request: Request[Any, Any, Any]) -> ASGIApp:
            return await plugin._run_agent(request)

        middleware = [DefineMiddleware(RequestLogMiddleware)] if config.log_requests else []
        return Router(path=config.path, route_handlers=[run_agent], middleware=middleware)

    async def _run_agent(self, request: Request[Any, Any, Any]) -> ASGIApp:
        if not _is_json(request.headers.get("content-type")):
            return error_response(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "The request body must be JSON (Content-Type: application/json).",
            )
        try:
            body = await request.body()
        except HTTPException as exc:
            if exc.status_code == 413:
                return error_response(
                    413, "BODY_TOO_LARGE", f"The request body is larger than {self.config.max_body_size} bytes."
                )
            raise
        try:
            run_input = decode_input(body)
        except InputError as exc:
            code = "INVALID_JSON" if exc.status == 400 else "INVALID_INPUT"
            detail = "The request body is not valid JSON." if exc.status == 400 else "The RunAgentInput is invalid."
            return error_response(exc.status, code, detail, [exc.as_dict()])
        try:
            run = self.runs.start(self.agent, run_input, agent_id=self.config.agent_id)
        except RunConflict:
            return error_response(
                409,
                "RUN_ID_CONFLICT",
                "A run with this runId already exists on another thread or for another protocol version.",
                [{"field": "runId", "message": "use a fresh runId for a new run"}],
            )
        return SSEResponse(run.log, keepalive=self.config.keepalive_interval, on_disconnect=_cancel_on_disconnect(run))


def _cancel_on_disconnect(run: Run) -> Any:
    def cancel() -> None:
        run.cancel()

    return cancel
