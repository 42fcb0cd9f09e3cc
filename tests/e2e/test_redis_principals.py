"""Two principals over Redis, across two web processes: neither sees the other's threads, runs or feeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cluster import cluster
from tests.support.sse import parse_frames

pytestmark = pytest.mark.redis

ALICE = {"authorization": "Bearer alice-token"}
BOB = {"authorization": "Bearer bob-token"}


def body(run_id: str, thread_id: str, text: str) -> dict[str, Any]:
    return {
        "threadId": thread_id,
        "runId": run_id,
        "messages": [{"id": f"u-{run_id}", "role": "user", "content": text}],
    }


def test_two_principals_on_two_web_processes_never_see_each_other(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("alice-token alice\nbob-token bob\n")
    with cluster(tmp_path, webs=2, workers=1, web_args=("--auth-tokens", str(tokens))) as c:
        (a, _), (b, _) = c.webs
        with httpx.Client(timeout=20) as client:
            assert client.post(a + "/ag-ui", json=body("r1", "t1", "hi")).status_code == 401
            secret = client.post(a + "/ag-ui", json=body("ra", "t1", "alice's secret"), headers=ALICE)
            assert "alice's secret" in "".join(e.get("delta", "") for _, e in parse_frames(secret.content))
            # on the other web process, bob finds nothing of alice's
            assert client.get(b + "/ag-ui/threads/t1", headers=BOB).status_code == 404
            assert client.get(b + "/ag-ui/runs/ra/events", params={"after": 0}, headers=BOB).status_code == 404
            assert client.post(b + "/ag-ui/runs/ra/stop", headers=BOB).status_code == 404
            replay = client.post(b + "/ag-ui", json=body("ra", "t1", "alice's secret"), headers=BOB)
            assert replay.status_code == 409
            assert b"secret" not in replay.content
            # his own run on "t1" is his own thread, which a subscriber of alice's t1 never sees
            with client.stream("GET", b + "/agents/default/sse", params={"thread_id": "t1"}, headers=ALICE) as feed:
                mine = client.post(b + "/ag-ui", json=body("rb", "t1", "bob here"), headers=BOB)
                client.post(a + "/agents/default/messages", json={"thread_id": "t1", "message": "again"}, headers=ALICE)
                buffer = b""
                for chunk in feed.iter_raw():
                    buffer += chunk
                    if (
                        b'"runId":"run-' in buffer
                        and b'event: RUN_FINISHED\ndata: {"type":"RUN_FINISHED","threadId":"t1","runId":"run-' in buffer
                    ):
                        break
            assert "secret" not in "".join(e.get("delta", "") for _, e in parse_frames(mine.content))
            assert b"bob here" not in buffer
            assert b"again" in buffer
            bob_thread = client.get(a + "/ag-ui/threads/t1", headers=BOB).json()
            alice_thread = client.get(b + "/ag-ui/threads/t1", headers=ALICE).json()
    assert "secret" not in str(bob_thread)
    assert "bob here" in str(bob_thread)
    assert "alice's secret" in str(alice_thread)
    assert "bob here" not in str(alice_thread)
