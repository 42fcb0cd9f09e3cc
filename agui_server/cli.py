"""``agui-server``: the command line.

    agui-server serve [--host H] [--port P] [--agent module:attr]
    agui-server worker --redis URL [--agent ID=module:attr]   (executes runs queued in Redis)
    agui-server check URL [options]      (the conformance runner)

Every option also comes from the environment or a ``.env`` file in the current directory
(``AGUI_HOST``, ``AGUI_PORT``, ``AGUI_AGENT``, ``AGUI_ALLOWED_ORIGINS``, ``AGUI_KEEPALIVE``,
``AGUI_PATH``, ``AGUI_LOG_LEVEL``); options on the command line win.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from agui_server.runs.config import LEASE, START_TIMEOUT, WORKER_SLOTS, MemoryBackend, RedisBackend

if TYPE_CHECKING:
    from collections.abc import Sequence

    from agui_server.http.auth import Authenticator
    from agui_server.settings import Settings

__all__ = ("build_parser", "main")

_SERVE_HELP = """\
Serve an agent over AG-UI: POST <path> with a RunAgentInput JSON body streams the run as
Server-Sent Events.

Without --agent, the built-in offline agent answers (no API key, no network), so you can try the
server with curl right away:

  curl -N -X POST http://127.0.0.1:8000/ag-ui -H 'content-type: application/json' \\
    -d '{"threadId":"t","runId":"r","messages":[{"id":"m","role":"user","content":"hi"}]}'

A model behind the OpenAI or Anthropic API (keys and base URLs from the environment): openai is
Chat Completions (any compatible server), openai-responses the Responses API (/v1/responses):

  OPENAI_API_KEY=sk-... agui-server serve --agent openai --model gpt-4o-mini
  OPENAI_API_KEY=sk-... agui-server serve --agent openai-responses --model o4-mini
  ANTHROPIC_API_KEY=... agui-server serve --agent anthropic --model claude-sonnet-4-5
  OPENAI_BASE_URL=http://localhost:11434/v1 OPENAI_API_KEY=ollama agui-server serve --agent openai --model llama3.2

Your own agent is a plain async generator function, or an object with run(input, ctx):

  # mypkg/mod.py
  async def agent(input, ctx):
      yield "Hello "          # a str is a piece of assistant text
      yield "world!"

  agui-server serve --agent mypkg.mod:agent

Settings also come from the environment or a .env file in the current directory:
AGUI_HOST, AGUI_PORT, AGUI_AGENT, AGUI_ALLOWED_ORIGINS (comma-separated, enables CORS),
AGUI_KEEPALIVE, AGUI_PATH, AGUI_THREADS_DB, AGUI_ON_DISCONNECT, AGUI_REDIS_URL, AGUI_MODEL, AGUI_LOG_LEVEL,
OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL. Command-line options win.
"""


def build_parser(*, check: bool = True) -> argparse.ArgumentParser:
    """The ``agui-server`` argument parser; without ``check``, the ``check`` command is listed but not built
    (its options come from the conformance runner, whose import ``serve`` and ``worker`` need not pay for)."""
    parser = argparse.ArgumentParser(
        prog="agui-server",
        description="AG-UI protocol server: streams an agent's run to AG-UI clients (CopilotKit, @ag-ui/client).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve an agent over HTTP (AG-UI over Server-Sent Events)",
        description=_SERVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1; AGUI_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000; AGUI_PORT)")
    serve.add_argument(
        "--agent",
        action="append",
        metavar="[ID=]MODULE:ATTR",
        help="the agent to serve: mypkg.agents:agent, or openai (Chat Completions) / openai-responses "
        "(the Responses API) / anthropic for a model behind those APIs "
        "(default: the offline agent; AGUI_AGENT); repeat with id=... to serve more agents at <path>/<id>",
    )
    serve.add_argument("--model", help="the model for --agent openai|openai-responses|anthropic (default: AGUI_MODEL)")
    serve.add_argument("--path", help="where to mount the endpoint (default /ag-ui; AGUI_PATH)")
    serve.add_argument(
        "--allowed-origin",
        action="append",
        dest="allowed_origins",
        metavar="ORIGIN",
        help="allow this browser origin through CORS; repeat for several (AGUI_ALLOWED_ORIGINS)",
    )
    serve.add_argument(
        "--keepalive",
        type=float,
        metavar="SECONDS",
        help="send a ': ping' comment after this many idle seconds (default 15; AGUI_KEEPALIVE)",
    )
    serve.add_argument(
        "--threads-db",
        metavar="FILE|URL",
        help="keep threads in this SQLite file, or the PostgreSQL database of a postgresql:// URL (agui-server"
        "[postgres]), so they survive a restart (default: in memory; AGUI_THREADS_DB)",
    )
    serve.add_argument(
        "--on-disconnect",
        metavar="POLICY",
        help="what a run does when its client disconnects: cancel (default), continue, or grace:SECONDS "
        "(AGUI_ON_DISCONNECT)",
    )
    serve.add_argument(
        "--busy-policy",
        choices=["reject", "supersede"],
        help="a second run on a busy thread: reject with 409 (default) or supersede the running one",
    )
    serve.add_argument(
        "--redis",
        metavar="URL",
        help="keep runs, threads and feeds in Redis so several processes share them (AGUI_REDIS_URL)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        default=WORKER_SLOTS,
        help=f"with --redis: runs this process executes at once (default {WORKER_SLOTS}); 0 = web only, run "
        "`agui-server worker` for the agents",
    )
    serve.add_argument(
        "--start-timeout",
        type=float,
        default=START_TIMEOUT,
        metavar="SECONDS",
        help=f"with --redis: a run no worker took within this fails with NO_WORKER (default {START_TIMEOUT:g})",
    )
    serve.add_argument(
        "--lease",
        type=float,
        default=LEASE,
        metavar="SECONDS",
        help=f"with --redis: a worker's claim lease (default {LEASE:g})",
    )
    serve.add_argument(
        "--strict",
        action="store_true",
        help="end a run with RUN_ERROR when the agent breaks an AG-UI rule (default: drop the event and log it)",
    )
    serve.add_argument(
        "--auth-tokens",
        metavar="FILE",
        help="require a bearer token: a file of 'TOKEN PRINCIPAL [ROLES]' lines (AGUI_AUTH_TOKENS_FILE, or the "
        "tokens themselves in AGUI_AUTH_TOKENS separated by ';'); default: no authentication",
    )
    serve.add_argument(
        "--auth-jwt-key",
        metavar="FILE",
        help="require a signed JWT: a PEM public key or a JWKS file (AGUI_AUTH_JWT_KEY_FILE); needs agui-server[jwt]",
    )
    serve.add_argument("--auth-jwt-audience", metavar="AUD", help="with --auth-jwt-key: the audience tokens must name")
    serve.add_argument("--auth-jwt-issuer", metavar="ISS", help="with --auth-jwt-key: the issuer tokens must name")
    serve.add_argument(
        "--playground",
        action=argparse.BooleanOptionalAction,
        help="serve the playground page at <path>/playground (default: on when listening on loopback)",
    )
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log level (default info)")
    serve.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="log lines as text or one JSON object each; both carry the run and trace ids (default text)",
    )
    serve.add_argument("--env-file", default=".env", help="the .env file to read (default ./.env)")

    worker = commands.add_parser(
        "worker",
        help="execute runs queued in Redis (with `agui-server serve --redis URL --workers 0`)",
        description="Claim runs from the Redis queue and execute them; any web process streams them.",
    )
    worker.add_argument("--redis", metavar="URL", help="the Redis URL (AGUI_REDIS_URL)")
    worker.add_argument(
        "--agent",
        action="append",
        metavar="[ID=]MODULE:ATTR",
        help="an agent to execute, as id=module:attr (repeatable); a bare module:attr is the default agent "
        "(default: the offline agent; AGUI_AGENT)",
    )
    worker.add_argument("--model", help="the model for --agent openai|openai-responses|anthropic (default: AGUI_MODEL)")
    worker.add_argument(
        "--slots", type=int, default=WORKER_SLOTS, metavar="N", help=f"runs executed at once (default {WORKER_SLOTS})"
    )
    worker.add_argument(
        "--lease", type=float, default=LEASE, metavar="SECONDS", help=f"claim lease (default {LEASE:g})"
    )
    worker.add_argument("--strict", action="store_true", help="end a run when its agent breaks an AG-UI rule")
    worker.add_argument(
        "--threads-db",
        metavar="URL",
        help="the deployment's PostgreSQL thread store, as its web processes have it (AGUI_THREADS_DB)",
    )
    worker.add_argument(
        "--requeue-lost",
        action="store_true",
        help="when a worker dies mid-run, run it once more on another worker if its agent is safe_to_repeat "
        "(default: end it with WORKER_LOST)",
    )
    worker.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log level")
    worker.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="log lines as text or JSON (default text)"
    )
    worker.add_argument("--env-file", default=".env", help="the .env file to read (default ./.env)")

    if not check:
        commands.add_parser("check", help=_CHECK_HELP)
        return parser
    from conformance.cli import _DESCRIPTION, add_arguments

    checker = commands.add_parser(
        "check", help=_CHECK_HELP, description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(checker)
    return parser


_CHECK_HELP = "judge any AG-UI endpoint (conformance runner)"
_SERVER_COMMANDS = ("serve", "worker")


class _UsageError(Exception):
    """A setting or an agent reference that cannot be used: printed, exit status 2."""


def _start(args: argparse.Namespace) -> tuple[Settings, list[str], dict[str, object]]:
    """What ``serve`` and ``worker`` share: settings, logging, the agents by id.

    Raises:
        _UsageError: a bad setting or agent reference.
    """
    from pathlib import Path

    from agui_server.agents.loader import AgentLoadError
    from agui_server.observability.logs import configure_logging
    from agui_server.settings import Settings, SettingsError

    try:
        settings = Settings.load(dotenv=Path(args.env_file))
    except SettingsError as exc:
        raise _UsageError(str(exc)) from exc
    log_level = args.log_level or settings.log_level
    configure_logging(log_level, args.log_format)
    references = args.agent or ([settings.agent] if settings.agent else [])
    try:
        agents = _load_agents(references, args.model, args.env_file)
    except AgentLoadError as exc:
        raise _UsageError(str(exc)) from exc
    return settings, references, agents


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from agui_server.agents.base import DEFAULT_AGENT_ID
    from agui_server.http.app import create_app
    from agui_server.http.config import AGUIConfig
    from agui_server.http.request_log import RequestLogMiddleware

    settings, references, agents = _start(args)
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    log_level = args.log_level or settings.log_level
    agent = agents.pop(DEFAULT_AGENT_ID, None)
    agent_ref = next((r for r in references if "=" not in r or r.startswith(f"{DEFAULT_AGENT_ID}=")), None)
    try:
        config = AGUIConfig(
            agent=agent,
            agents=agents,
            path=args.path or settings.path,
            keepalive_interval=args.keepalive if args.keepalive is not None else settings.keepalive,
            allowed_origins=args.allowed_origins or settings.allowed_origins,
            backend=_backend(args, settings),
            on_disconnect=args.on_disconnect or settings.on_disconnect,
            busy_policy=args.busy_policy or "reject",
            strict=args.strict,
            log_requests=False,
            auth=_authenticator(args, settings),
            playground=args.playground if args.playground is not None else _is_loopback(host),
        )
    except (ValueError, OSError) as exc:
        raise _UsageError(str(exc)) from exc
    if config.auth is None and not _is_loopback(host):
        logging.getLogger("agui_server").warning(
            "NO AUTHENTICATION: anyone who reaches %s:%d can run agents and read every thread. "
            "Use --auth-tokens FILE (or AGUI_AUTH_TOKENS) outside local development.",
            host,
            port,
        )
    app = RequestLogMiddleware(create_app(config))
    origin = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    logger = logging.getLogger("agui_server")
    logger.info("serving %s at %s%s", agent_ref or "the offline agent", origin, config.path)
    if config.playground:
        playground = f"{origin}{config.path}/playground"
        if args.log_format == "json":  # (every line a JSON object)
            logger.info("playground at %s", playground)
        else:  # (shown whatever the log level: where to point a browser)
            print(f"playground: {playground}", flush=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        log_level=log_level,
        log_config=None if args.log_format == "json" else uvicorn.config.LOGGING_CONFIG,  # json: uvicorn's too
        timeout_graceful_shutdown=5,
        lifespan="on",
        ws="none",  # the app serves no WebSocket route: no WebSocket protocol to import
        limit_concurrency=_connection_budget(),
    )
    return 0


def _connection_budget() -> int:
    """Raise the open-file soft limit to the hard one, and keep connections below it: past the budget
    uvicorn answers 503 at once, where running out of descriptors would stop the server for everyone."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    limit = soft if soft != resource.RLIM_INFINITY else 1_000_000
    return max(64, min(limit - 128, 100_000))


def _authenticator(args: argparse.Namespace, settings: Settings) -> Authenticator | None:
    """A JWT verifier (``--auth-jwt-key`` / ``AGUI_AUTH_JWT_KEY_FILE``), or bearer tokens (``--auth-tokens``,
    ``AGUI_AUTH_TOKENS_FILE`` or ``AGUI_AUTH_TOKENS``); ``None``: no authentication."""
    from agui_server.http.auth import BearerTokens, JWTVerifier

    jwt_key = args.auth_jwt_key or settings.auth_jwt_key_file
    path = args.auth_tokens
    if jwt_key and (path or settings.auth_tokens_file or settings.auth_tokens):
        raise ValueError("choose one authenticator: --auth-jwt-key or --auth-tokens")
    if jwt_key:
        return JWTVerifier.from_file(jwt_key, audience=args.auth_jwt_audience, issuer=args.auth_jwt_issuer)
    if path or settings.auth_tokens_file:
        return BearerTokens.from_file(path or settings.auth_tokens_file or "")
    if settings.auth_tokens:
        return BearerTokens.parse(settings.auth_tokens)
    return None


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _load_agents(references: list[str], model: str | None = None, env_file: str = ".env") -> dict[str, object]:
    """``[id=]module:attr`` references (or ``openai`` / ``openai-responses`` / ``anthropic``) to agents by id.

    Raises:
        AgentLoadError: a reference does not name an agent, or an LLM adapter is not configured.
    """
    import os
    from pathlib import Path

    from agui_server.agents._llm_factory import LLM_AGENTS, llm_agent_from_env
    from agui_server.agents.base import DEFAULT_AGENT_ID
    from agui_server.agents.errors import LLMConfigurationError
    from agui_server.agents.loader import AgentLoadError, load_agent
    from agui_server.settings import read_dotenv

    agents: dict[str, object] = {}
    environ = {**read_dotenv(Path(env_file)), **os.environ}
    for reference in references:
        agent_id, sep, target = reference.partition("=")
        if not sep:
            agent_id, target = DEFAULT_AGENT_ID, reference
        try:
            if target.strip().lower() in LLM_AGENTS:
                agents[agent_id] = llm_agent_from_env(target, model, environ=environ)
            else:
                agents[agent_id] = load_agent(target)
        except LLMConfigurationError as exc:
            raise AgentLoadError(str(exc)) from exc
    return agents


def _backend(args: argparse.Namespace, settings: Settings) -> MemoryBackend | RedisBackend:
    """Where ``serve`` keeps runs: Redis with ``--redis`` (or ``AGUI_REDIS_URL``), else this process."""
    url = args.redis or settings.redis_url
    threads_db = args.threads_db or settings.threads_db
    if url:
        return RedisBackend(
            url, worker_slots=args.workers, start_timeout=args.start_timeout, lease=args.lease, threads_db=threads_db
        )
    return MemoryBackend(threads_db=threads_db)


def _worker(args: argparse.Namespace) -> int:
    import asyncio

    from agui_server.agents.base import DEFAULT_AGENT_ID, as_agent
    from agui_server.agents.offline import OfflineAgent

    settings, _references, loaded = _start(args)
    url = args.redis or settings.redis_url
    if not url:
        raise _UsageError("worker: --redis URL (or AGUI_REDIS_URL) is required")
    agents = {agent_id: as_agent(agent) for agent_id, agent in loaded.items()}
    agents.setdefault(DEFAULT_AGENT_ID, OfflineAgent())
    from agui_server.runs.redis.process import run_worker
    from agui_server.runs.redis.worker import WorkerSettings

    worker = run_worker(
        url,
        agents,
        slots=args.slots,
        settings=WorkerSettings(lease=args.lease, strict=args.strict, requeue_lost=args.requeue_lost),
        threads_db=args.threads_db or settings.threads_db,
    )
    try:  # uvloop when installed (the ``speed`` extra), as ``serve`` has it through uvicorn
        import uvloop
    except ImportError:
        asyncio.run(worker)
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(worker)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``agui-server`` command."""
    given = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(check=not given or given[0] not in _SERVER_COMMANDS)
    args = parser.parse_args(given)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "worker":
            return _worker(args)
    except _UsageError as exc:
        print(f"agui-server: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        from conformance.cli import run_from_args

        return run_from_args(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
