"""The fixed cost of ``POST /ag-ui`` in instructions, without sockets or timings (issue 18).

``python -m benchmarks.fixed_path APP RUNS`` calls the ASGI app ``APP`` (``ceiling``, ``ours``, or any
``module:attr``) in this process for ``RUNS`` sequential 20-token runs, the way uvicorn would (a scope, a
``receive`` that hands over the body and then waits for the response to end, a ``send`` that keeps the
bytes), on a plain asyncio loop, after ``--warmup`` runs. Under ``valgrind --tool=callgrind`` the difference
between two run counts is the instructions the app spends per run, HTTP parsing and socket writes excluded,
and unlike a timing it does not move with what else runs on the machine::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python -m benchmarks.fixed_path ours 0
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python -m benchmarks.fixed_path ours 400

("Collected" in the output of each; per run = (second - first) / 400.)

``--redis URL`` measures ``ours`` over Redis instead, all in one process (``RedisBackend(URL)`` with worker
slots: the web side's admission and stream reading and the worker's claim, run and writes, each command a
real round trip to the redis-server at URL), after the app's startup; ``--concurrency N`` sends the runs N at
a time (N streams followed at once, as with N clients). redis-server's own share is counted by running it,
not Python, under callgrind for the two run counts (issue 15)::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python -m benchmarks.fixed_path ours 400 \
        --redis redis://127.0.0.1:6391/0 --concurrency 100
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from typing import TYPE_CHECKING, Any

from benchmarks.apps import APPS
from benchmarks.workload import PATH, new_run_id, request_body

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("drive",)

_TOKENS = 20


def _load(name: str) -> Any:
    module, _, attr = APPS.get(name, name).partition(":")
    return getattr(importlib.import_module(module), attr)


async def _one(app: Any, body: bytes) -> bytes:
    """One request through ``app``; the response body (checked to end with RUN_FINISHED)."""
    done = asyncio.get_running_loop().create_future()
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await done
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False) and not done.done():
                done.set_result(None)

    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "root_path": "",
        "query_string": b"", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000), "state": {},
        "headers": [
            (b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
            (b"accept", b"text/event-stream"), (b"content-length", str(len(body)).encode()),
        ],
    }  # fmt: skip
    await app(scope, receive, send)
    await done
    return b"".join(chunks)


async def drive(app: Any, runs: int, warmup: int, concurrency: int = 1) -> None:
    """``warmup`` then ``runs`` runs through ``app``, ``concurrency`` at a time (no lifespan: the in-memory
    engine needs none)."""
    for first in range(0, warmup + runs, concurrency):
        count = min(concurrency, warmup + runs - first)
        bodies = [request_body(new_run_id("fixed"), tokens=_TOKENS) for _ in range(count)]
        for out in await asyncio.gather(*(_one(app, body) for body in bodies)):
            if b"RUN_FINISHED" not in out[-400:]:
                raise RuntimeError(f"a run did not finish: {out[-400:]!r}")


async def _over_redis(url: str, runs: int, warmup: int, concurrency: int) -> None:
    from agui_server import AGUIConfig, RedisBackend, create_app
    from benchmarks.apps.agent import agent

    backend = RedisBackend(url, worker_slots=max(concurrency, 1))
    app = create_app(AGUIConfig(agent=agent, backend=backend, log_requests=False))
    async with app.lifespan():  # (Litestar's own: the startup and shutdown hooks, the backend's among them)
        await drive(app, runs, warmup, concurrency)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fixed_path", description=__doc__)
    parser.add_argument("app", help="ceiling, ours, or module:attr")
    parser.add_argument("runs", type=int)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--redis", metavar="URL", help="ours over the Redis at URL, all in one process")
    parser.add_argument("--concurrency", type=int, default=1, help="runs at a time")
    args = parser.parse_args(argv)
    if args.redis is not None:
        if args.app != "ours":
            parser.error("--redis measures ours only")
        asyncio.run(_over_redis(args.redis, args.runs, args.warmup, args.concurrency))
    else:
        asyncio.run(drive(_load(args.app), args.runs, args.warmup, args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
