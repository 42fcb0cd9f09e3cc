"""Where runs live is one object in the configuration, with its own settings and defaults."""

from __future__ import annotations

import pytest

from agui_server import AGUIConfig, MemoryBackend, RedisBackend, create_app
from agui_server.cli import build_parser
from agui_server.runs.config import LEASE, START_TIMEOUT, WORKER_SLOTS
from agui_server.runs.manager import RunManager
from agui_server.runs.redis.worker import WorkerSettings


def test_runs_stay_in_the_process_unless_a_backend_says_otherwise() -> None:
    assert AGUIConfig().backend == MemoryBackend()
    app = create_app(AGUIConfig(backend=MemoryBackend(max_finished_runs=7)))
    runs = app.plugins.get("AGUIPlugin").runs  # type: ignore[attr-defined]
    assert isinstance(runs, RunManager)
    assert runs.limits.max_finished_runs == 7


def test_a_backend_that_is_neither_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="backend takes a MemoryBackend or a RedisBackend"):
        AGUIConfig(backend="redis://localhost:6379/0")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"url": ""}, "url"),
        ({"url": "redis://x", "worker_slots": -1}, "worker_slots"),
        ({"url": "redis://x", "lease": 0}, "lease"),
        ({"url": "redis://x", "start_timeout": -1.0}, "start_timeout"),
        ({"url": "redis://x", "timeout": 0}, "timeout"),
        ({"url": "redis://x", "max_connections": 0}, "max_connections"),
    ],
)
def test_a_redis_backend_with_a_bad_setting_names_it(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RedisBackend(**kwargs)  # type: ignore[arg-type]


def test_each_redis_default_is_the_one_the_worker_and_the_command_line_use() -> None:
    backend = RedisBackend("redis://localhost:6379/0")
    settings = WorkerSettings()
    assert (backend.lease, backend.start_timeout, backend.worker_slots) == (LEASE, START_TIMEOUT, WORKER_SLOTS)
    assert (settings.lease, settings.start_timeout) == (LEASE, START_TIMEOUT)
    serve = build_parser().parse_args(["serve"])
    worker = build_parser().parse_args(["worker"])
    assert (serve.lease, serve.start_timeout, serve.workers) == (LEASE, START_TIMEOUT, WORKER_SLOTS)
    assert (worker.lease, worker.slots) == (LEASE, WORKER_SLOTS)
