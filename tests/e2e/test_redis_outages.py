"""Redis going away under runs in flight: real faults on a real redis-server (SIGSTOP/SIGCONT, a restart
with and without persistence, CLIENT KILL), two web processes and a worker on 127.0.0.1.

Each case runs one run followed by two clients (the POST on one web process, a GET of the run's events on
the other) and counts, per client, the events lost and repeated (by their ids and by the agent's numbered
tokens) and the time until it has a terminal event. Every process is started here and stopped by its pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cluster import Cluster
from tests.support.sse import parse_frames

pytestmark = pytest.mark.redis

LEASE = "10"
"""The workers' and web processes' lease in these cases (the default): a run outlives an outage of up to 8 s."""
TOKENS = 160
"""The slow agent's tokens: one every 50 ms, so a run takes about 8 s without faults."""


@dataclass
class Client:
    """One client of a run: what it read and when its stream ended."""

    ids: list[int] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    ended_at: float | None = None
    error: BaseException | None = None

    @property
    def lost(self) -> int:
        """Events missing between the first and the last id read (and tokens missing from the text)."""
        expected = set(range(1, max(self.ids, default=0) + 1))
        return len(expected - set(self.ids))

    @property
    def repeated(self) -> int:
        return sum(n - 1 for n in Counter(self.ids).values() if n > 1)

    @property
    def terminal(self) -> dict[str, Any] | None:
        last = self.events[-1] if self.events else None
        return last if last is not None and last["type"] in ("RUN_FINISHED", "RUN_ERROR") else None

    def text(self) -> str:
        return "".join(e.get("delta", "") for e in self.events)


def _read(client: Client, method: str, url: str, **kwargs: Any) -> None:
    buffer = b""
    try:
        with httpx.Client(timeout=httpx.Timeout(60, connect=5)) as http, http.stream(method, url, **kwargs) as r:
            assert r.status_code == 200, r.status_code
            for chunk in r.iter_raw():
                buffer += chunk
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    for event_id, event in parse_frames(block + b"\n\n"):
                        if event_id is not None:
                            client.ids.append(int(event_id))
                        client.events.append(event)
    except BaseException as exc:  # (reported by the test)
        client.error = exc
    finally:
        client.ended_at = time.monotonic()


def body(run_id: str, tokens: int = TOKENS) -> dict[str, Any]:
    return {
        "threadId": f"thread-{run_id}",
        "runId": run_id,
        "protocolVersion": "1.0",
        "messages": [{"id": f"u-{run_id}", "role": "user", "content": "go"}],
        "forwardedProps": {"tokens": tokens},
    }


@contextlib.contextmanager
def outage_cluster(directory: Path, *, persistent: bool = False, worker_lease: str = LEASE) -> Any:
    c = Cluster(directory)
    assert c.redis is not None
    if persistent:  # every write on disk before it is acknowledged
        c.redis.persistence = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")
    try:
        c.start_redis()
        c.start_worker("--lease", worker_lease)
        c.start_web("--lease", LEASE)
        c.start_web("--lease", LEASE)
        yield c
    finally:
        if c.redis is not None:
            for node in c.redis.processes:
                if node.poll() is None:
                    os.kill(node.pid, signal.SIGCONT)  # (never leave it stopped)
        c.stop()


def redis_pid(c: Cluster) -> int:
    assert c.redis is not None
    (node,) = c.redis.processes
    return node.pid


def follow_run(c: Cluster, run_id: str, tokens: int = TOKENS) -> tuple[Client, Client, list[threading.Thread]]:
    """Start the run on web a (its POST is client one) and follow it from web b (client two); returns once
    both have read a first few events."""
    (a, _), (b, _) = c.webs
    poster, follower = Client(), Client()
    threads = [
        threading.Thread(
            target=_read,
            args=(poster, "POST", a + "/ag-ui/slow"),
            kwargs={"json": body(run_id, tokens), "headers": {"x-agui-on-disconnect": "continue"}},
        )
    ]
    threads[0].start()
    deadline = time.monotonic() + 20
    while len(poster.ids) < 5:
        assert poster.error is None, (poster.error, c.logs())
        assert time.monotonic() < deadline, c.logs()
        time.sleep(0.02)
    threads.append(
        threading.Thread(target=_read, args=(follower, "GET", b + f"/ag-ui/runs/{run_id}/events"), kwargs={})
    )
    threads[1].start()
    while len(follower.ids) < 5:
        assert follower.error is None, (follower.error, c.logs())
        assert time.monotonic() < deadline, c.logs()
        time.sleep(0.02)
    return poster, follower, threads


def wait(c: Cluster, threads: list[threading.Thread], clients: tuple[Client, ...], timeout: float = 60) -> None:
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), (
            "a client's stream did not end",
            [(len(client.ids), client.ids[-1:], client.events[-1:]) for client in clients],
            c.logs(),
        )


def assert_whole_run(c: Cluster, *clients: Client) -> None:
    """Every client has every event once, the agent's every token once, and RUN_FINISHED."""
    for client in clients:
        assert client.error is None, (client.error, c.logs())
        assert client.terminal is not None, (client.events[-3:], c.logs())
        assert client.terminal["type"] == "RUN_FINISHED", (client.events[-3:], c.logs())
        assert (client.lost, client.repeated) == (0, 0)
        assert client.text() == "".join(f"t{n} " for n in range(TOKENS))


@pytest.mark.parametrize("seconds", [2, 6])
def test_a_redis_freeze_shorter_than_the_lease_loses_and_repeats_nothing(tmp_path: Path, seconds: int) -> None:
    with outage_cluster(tmp_path) as c:
        assert c.redis is not None
        poster, follower, threads = follow_run(c, f"freeze-{seconds}")
        os.kill(redis_pid(c), signal.SIGSTOP)
        time.sleep(seconds)
        os.kill(redis_pid(c), signal.SIGCONT)
        wait(c, threads, (poster, follower))
        assert_whole_run(c, poster, follower)


def test_a_redis_restart_with_persistence_loses_and_repeats_nothing(tmp_path: Path) -> None:
    with outage_cluster(tmp_path, persistent=True) as c:
        poster, follower, threads = follow_run(c, "restart-aof")
        c.stop_redis()
        time.sleep(2)
        c.start_redis()
        wait(c, threads, (poster, follower))
        assert_whole_run(c, poster, follower)


def test_dropped_redis_connections_lose_and_repeat_nothing(tmp_path: Path) -> None:
    with outage_cluster(tmp_path) as c:
        poster, follower, threads = follow_run(c, "client-kill")
        admin = c.client()
        try:
            for _ in range(3):  # every connection but this one, three times over the run
                time.sleep(1.5)
                admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        finally:
            admin.close()
        wait(c, threads, (poster, follower))
        assert_whole_run(c, poster, follower)


def test_a_freeze_longer_than_the_lease_ends_the_run_with_worker_lost_and_no_gap(tmp_path: Path) -> None:
    # the run's lease is 2 s: its worker gives the run up at its first command that times out (5 s), and
    # the reaper ends it when Redis is back; streams wait out 20 s, so they see that end
    with outage_cluster(tmp_path, worker_lease="2") as c:
        assert c.redis is not None
        poster, follower, threads = follow_run(c, "freeze-long")
        os.kill(redis_pid(c), signal.SIGSTOP)
        time.sleep(8)
        os.kill(redis_pid(c), signal.SIGCONT)
        resumed = time.monotonic()
        wait(c, threads, (poster, follower))
    for client in (poster, follower):
        assert client.error is None, client.error
        assert client.terminal is not None, client.events[-3:]
        assert client.terminal["code"] == "WORKER_LOST", client.events[-3:]
        assert (client.lost, client.repeated) == (0, 0)
        assert client.ended_at is not None
        assert client.ended_at - resumed < 5


def test_a_redis_restart_without_persistence_ends_the_run_with_run_lost(tmp_path: Path) -> None:
    with outage_cluster(tmp_path) as c:
        poster, follower, threads = follow_run(c, "restart-empty")
        c.stop_redis()
        time.sleep(1)
        c.start_redis()
        restarted = time.monotonic()
        wait(c, threads, (poster, follower))
    for client in (poster, follower):
        assert client.error is None, client.error
        assert client.terminal is not None, client.events[-3:]
        assert client.terminal["code"] == "RUN_LOST", client.events[-3:]
        assert (client.lost, client.repeated) == (0, 0)
        assert client.ended_at is not None
        assert client.ended_at - restarted < 15


def test_a_web_process_killed_mid_stream_loses_nothing_for_a_client_that_resumes_elsewhere(tmp_path: Path) -> None:
    with outage_cluster(tmp_path) as c:
        poster, follower, threads = follow_run(c, "web-killed")
        (_, web_a), (b, _) = c.webs
        os.kill(web_a.pid, signal.SIGKILL)
        threads[0].join(10)
        assert not threads[0].is_alive()
        killed = time.monotonic()
        resumed = Client(ids=list(poster.ids), events=list(poster.events))  # what it had, then the rest
        _read(resumed, "GET", b + "/ag-ui/runs/web-killed/events", headers={"last-event-id": str(poster.ids[-1])})
        wait(c, threads[1:], (follower,))
        assert_whole_run(c, resumed, follower)
        assert resumed.ended_at is not None
        assert resumed.ended_at - killed < 15
