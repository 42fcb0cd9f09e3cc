"""``AGUIPlugin``: mounts the AG-UI endpoints on any Litestar app.

.. code-block:: python

    from litestar import Litestar
    from agui_server import AGUIConfig, AGUIPlugin

    app = Litestar(plugins=[AGUIPlugin(AGUIConfig(agent=my_agent))])
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from litestar import Request, Router, delete, get, patch, post
from litestar import route as route_handler
from litestar.config.cors import CORSConfig
from litestar.middleware import DefineMiddleware
from litestar.params import FromPath  # noqa: TC002  (read at runtime by Litestar)
from litestar.plugins import InitPlugin
from litestar.types import ASGIApp  # noqa: TC002  (Litestar reads the handler annotations at runtime)

from agui_server.agents.base import Agent, as_agent
from agui_server.agents.offline import OfflineAgent
from agui_server.dialects.routes import FeedRoute, RunRoute
from agui_server.http.config import AGUIConfig
from agui_server.http.endpoints import Endpoints
from agui_server.http.playground import ASSETS, PlaygroundPage
from agui_server.http.request_log import RequestLogMiddleware
from agui_server.observability.prometheus import PrometheusMetrics
from agui_server.observability.telemetry import Telemetry
from agui_server.runs.backend import DisconnectPolicy, RunBackend, RunCaps
from agui_server.runs.config import MemoryBackend, RedisBackend, is_postgres_url
from agui_server.runs.manager import RunLimits, RunManager
from agui_server.runs.threads import DurableThreadStore, MemoryThreadStore, ThreadLimits, ThreadStore

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from litestar import Litestar
    from litestar.config.app import AppConfig

__all__ = ("AGUIPlugin",)

_Req = Request[Any, Any, Any]


def _postgres(threads_db: str, limits: ThreadLimits) -> DurableThreadStore:
    """The PostgreSQL thread store at ``threads_db`` (``agui-server[postgres]``)."""
    from agui_server.runs.postgres_threads import PostgresThreadStore

    return PostgresThreadStore(threads_db, limits)


def _thread_store(backend: MemoryBackend, limits: ThreadLimits) -> ThreadStore:
    if backend.thread_store is not None:
        if not isinstance(backend.thread_store, ThreadStore):
            raise TypeError("thread_store must implement agui_server.runs.threads.ThreadStore")
        return backend.thread_store
    if backend.threads_db and is_postgres_url(backend.threads_db):
        return _postgres(backend.threads_db, limits)
    if backend.threads_db:
        from agui_server.runs.sqlite_threads import SQLiteThreadStore

        return SQLiteThreadStore(backend.threads_db, limits)
    return MemoryThreadStore(limits)


def _backend(config: AGUIConfig, agents: dict[str, Agent], telemetry: Telemetry) -> RunBackend:
    """The running backend that ``config.backend`` describes, with the run rules of ``config``."""
    policy = DisconnectPolicy.parse(config.on_disconnect)
    thread_limits = ThreadLimits(
        max_threads=config.max_threads, max_messages=config.max_messages_per_thread, max_age=config.thread_max_age
    )
    caps = RunCaps(total=config.max_runs, per_owner=config.max_runs_per_principal if config.auth is not None else None)
    backend = config.backend
    if isinstance(backend, RedisBackend):
        try:
            from agui_server.runs.redis import RedisRunBackend, WorkerSettings
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError('Redis runs need the redis extra: pip install "agui-server[redis]"') from exc
        return RedisRunBackend(
            backend.url,
            agents=agents,
            worker_slots=backend.worker_slots,
            prefix=backend.prefix,
            settings=WorkerSettings(
                lease=backend.lease,
                start_timeout=backend.start_timeout,
                requeue_lost=backend.requeue_lost_runs,
                retention=config.run_retention,
                max_events_per_run=config.max_events_per_run,
                strict=config.strict,
                run_timeout=config.run_timeout,
            ),
            busy_policy=config.busy_policy,
            disconnect_policy=policy,
            thread_limits=thread_limits,
            durable=None if backend.threads_db is None else _postgres(backend.threads_db, thread_limits),
            socket_timeout=backend.timeout,
            max_connections=backend.max_connections,
            caps=caps,
            telemetry=telemetry,
        )
    return RunManager(
        threads=_thread_store(backend, thread_limits),
        strict=config.strict,
        run_timeout=config.run_timeout,
        busy_policy=config.busy_policy,
        disconnect_policy=policy,
        limits=RunLimits(
            retention=config.run_retention,
            max_finished_runs=backend.max_finished_runs,
            max_events_per_run=config.max_events_per_run,
        ),
        caps=caps,
        telemetry=telemetry,
    )


class AGUIPlugin(InitPlugin):
    """Serves agents over AG-UI at ``config.path`` (``POST /ag-ui`` by default)."""

    __slots__ = ("agents", "config", "endpoints", "prometheus", "runs", "telemetry")

    def __init__(self, config: AGUIConfig | None = None) -> None:
        self.config = config = config or AGUIConfig()
        default: Agent = as_agent(config.agent) if config.agent is not None else OfflineAgent()
        self.agents: dict[str, Agent] = {config.agent_id: default}
        self.agents.update({agent_id: as_agent(agent) for agent_id, agent in config.agents.items()})
        telemetry = config.telemetry or Telemetry()
        self.prometheus = PrometheusMetrics() if config.metrics is not None else None
        if self.prometheus is not None:  # the endpoint reads a meter provider of its own
            telemetry = Telemetry(tracer_provider=telemetry.tracer_provider, meter_provider=self.prometheus.provider)
        self.telemetry = telemetry
        """Where the spans and metrics of this plugin's requests and runs go."""
        self.runs: RunBackend = _backend(config, self.agents, telemetry)
        self.endpoints = Endpoints(config, self.agents, self.runs, telemetry, self.prometheus)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add the AG-UI routers, run shutdown and (when asked) CORS to the app."""
        app_config.route_handlers.extend(self._routers())
        app_config.lifespan.append(self._lifespan)
        if self.config.allowed_origins and app_config.cors_config is None:
            app_config.cors_config = CORSConfig(
                allow_origins=list(self.config.allowed_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["content-type", "accept", "authorization", "last-event-id", "x-agui-on-disconnect"],
                expose_headers=["content-type", "content-location"],
            )
        return app_config

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        startup = getattr(self.runs, "startup", None)
        if startup is not None:
            await startup()
        try:
            yield
        finally:
            await self.runs.shutdown()
            if self.prometheus is not None:
                self.prometheus.shutdown()

    def _dialect_handler(self, route: RunRoute | FeedRoute, n: int) -> Any:
        """The Litestar handler of one route of ``AGUIConfig.routes``."""
        endpoints = self.endpoints
        default_id = self.config.agent_id
        fixed_agent = route.agent_id
        by_path = "{agent_id}" in route.path
        path = route.path.replace("{agent_id}", "{agent_id:str}")

        def agent_of(request: _Req) -> str:
            if by_path:
                return str(request.path_params["agent_id"])
            return fixed_agent or default_id

        if isinstance(route, RunRoute):

            async def run_in_dialect(request: _Req) -> ASGIApp:
                return await endpoints.answer(endpoints.run_route(request, route, agent_of(request)))

            return route_handler(
                path=path,
                http_method=list(route.methods),
                name=f"agui:route-{n}",
                status_code=200,
                request_max_body_size=self.config.max_body_size,
            )(run_in_dialect)
        if isinstance(route, FeedRoute):

            async def feed_in_dialect(request: _Req) -> ASGIApp:
                agent_id = agent_of(request) if route.scope != "server" else None
                return await endpoints.answer(endpoints.feed_route(request, route, agent_id))

            return route_handler(path=path, http_method=["GET"], name=f"agui:route-{n}")(feed_in_dialect)
        raise TypeError(f"AGUIConfig.routes takes RunRoute and FeedRoute objects, got {route!r}")

    def _playground_router(self, middleware: list[DefineMiddleware]) -> Router:
        """The playground page and its files: static code with no data in it, so a browser can load it before
        it has a credential (it cannot send one when it navigates); everything the page shows comes through
        the API routes, which authenticate."""
        page = PlaygroundPage(self.config.path)

        def serve(name: str) -> Any:
            async def asset() -> ASGIApp:
                return page.asset(name)

            return get(f"/playground/{name}", name=f"agui:playground-{name}")(asset)

        @get("/playground", name="agui:playground")
        async def playground() -> ASGIApp:
            return page.page()

        return Router(path=self.config.path, route_handlers=[playground, *map(serve, ASSETS)], middleware=middleware)

    def _metrics_router(self) -> list[Router]:
        """``GET <metrics.path>`` when ``AGUIConfig.metrics`` asks for it (its guard is its own: a token, or the
        authenticator's admin role)."""
        if self.config.metrics is None:
            return []
        endpoints = self.endpoints

        @get("/", name="agui:metrics", include_in_schema=False)
        async def metrics(request: _Req) -> ASGIApp:
            return await endpoints.answer(endpoints.metrics(request))

        return [Router(path=self.config.metrics.path, route_handlers=[metrics])]

    def _routers(self) -> list[Router]:
        config = self.config
        endpoints = self.endpoints
        default_id = config.agent_id
        limit = config.max_body_size

        @post("/", status_code=200, name="agui:run", request_max_body_size=limit)
        async def run_default(request: _Req) -> ASGIApp:
            return await endpoints.answer(endpoints.run(request, default_id))

        @post("/{agent_id:str}", status_code=200, name="agui:run-agent", request_max_body_size=limit)
        async def run_agent(request: _Req, agent_id: FromPath[str]) -> ASGIApp:
            return await endpoints.answer(endpoints.run(request, agent_id))

        @get("/{agent_id:str}/stream", name="agui:stream")
        async def stream(request: _Req, agent_id: FromPath[str]) -> ASGIApp:
            return await endpoints.answer(endpoints.stream_get(request, agent_id))

        @get("/runs/{run_id:str}/events", name="agui:resume")
        async def resume(request: _Req, run_id: FromPath[str]) -> ASGIApp:
            return await endpoints.answer(endpoints.resume(request, run_id))

        @post("/runs/{run_id:str}/stop", status_code=200, name="agui:stop")
        async def stop(request: _Req, run_id: FromPath[str]) -> ASGIApp:
            return await endpoints.answer(endpoints.stop(request, run_id))

        @post("/connect", status_code=200, name="agui:connect", request_max_body_size=limit)
        async def connect(request: _Req) -> ASGIApp:
            return await endpoints.answer(endpoints.connect(request))

        @get("/threads/{thread_id:str}", name="agui:thread")
        async def thread(request: _Req, thread_id: FromPath[str]) -> ASGIApp:
            return await endpoints.answer(endpoints.thread(request, thread_id))

        @get("/threads", name="agui:threads")
        async def threads(request: _Req) -> ASGIApp:
            return await endpoints.answer(endpoints.list_threads(request))

        @patch("/threads/{thread_id:str}", name="agui:rename_thread", request_max_body_size=limit)
        async def rename_thread(request: _Req, thread_id: FromPath[str]) -> ASGIApp:
            return await endpoints.answer(endpoints.rename_thread(request, thread_id))

        @delete("/threads/{thread_id:str}", name="agui:delete_thread", status_code=200)  # 204 from the endpoint
        async def delete_thread(request: _Req, thread_id: FromPath[str]) -> ASGIApp:
            return await endpoints.answer(endpoints.delete_thread(request, thread_id))

        @get("/playground/agents", name="agui:playground-agents")
        async def playground_agents(request: _Req) -> ASGIApp:
            return await endpoints.answer(endpoints.playground_agents(request))

        @get("/{agent_id:str}/sse", name="agui:subscribe")
        async def subscribe(request: _Req, agent_id: FromPath[str]) -> ASGIApp:
            return await endpoints.answer(endpoints.subscribe(request, agent_id))

        @post("/{agent_id:str}/messages", status_code=202, name="agui:message", request_max_body_size=limit)
        async def send_message(request: _Req, agent_id: FromPath[str]) -> ASGIApp:
            return await endpoints.answer(endpoints.send_message(request, agent_id))

        middleware = [DefineMiddleware(RequestLogMiddleware)] if config.log_requests else []

        async def authenticate(request: _Req) -> ASGIApp | None:
            # a function, not the bound method: Litestar deep-copies a router's hooks, and the endpoints hold
            # the run backend (locks, connections)
            return await endpoints.authenticate(request)

        dialect_routes = [self._dialect_handler(route, n) for n, route in enumerate(config.routes)]
        # a route of AGUIConfig.routes replaces the built-in one at the same path (e.g. the GET stream in a
        # dialect of the app's choosing)
        taken = {route.path.replace("{agent_id}", "{agent_id:str}").rstrip("/") for route in config.routes}

        def built_in(prefix: str, handlers: list[Any]) -> list[Any]:
            return [h for h in handlers if all(f"{prefix}{p}".rstrip("/") not in taken for p in h.paths)]

        api = [run_default, run_agent, stream, resume, stop, connect, thread, threads, rename_thread, delete_thread]
        return [
            *self._metrics_router(),
            *(
                [Router(path="/", route_handlers=dialect_routes, middleware=middleware, before_request=authenticate)]
                if dialect_routes
                else []
            ),
            Router(
                path=config.path,
                route_handlers=built_in(config.path, [*api, playground_agents] if config.playground else api),
                middleware=middleware,
                before_request=authenticate,
            ),
            *([self._playground_router(middleware)] if config.playground else []),
            Router(
                path=config.agents_path,
                route_handlers=built_in(config.agents_path, [subscribe, send_message]),
                middleware=middleware,
                before_request=authenticate,
            ),
        ]
