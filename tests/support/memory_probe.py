"""Runs many runs through the app in a fresh process and prints its RSS as it goes (JSON on stdout).

usage: python -m tests.support.memory_probe RUNS [MAX_FINISHED_RUNS]
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys

import httpx
import psutil

from agui_server import AGUIConfig, MemoryBackend, create_app


def _rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


async def main(total: int, max_finished_runs: int) -> None:
    config = AGUIConfig(
        backend=MemoryBackend(max_finished_runs=max_finished_runs),
        max_threads=500,
        run_retention=300.0,
        log_requests=False,
    )
    app = create_app(config)
    runs = app.plugins.get("AGUIPlugin").runs  # type: ignore[attr-defined]
    samples: list[tuple[int, int]] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        for n in range(total):
            body = {
                "threadId": f"thread-{n}",
                "runId": f"run-{n}",
                "protocolVersion": "1.0",
                "messages": [{"id": f"m-{n}", "role": "user", "content": f"message number {n} " * 8}],
            }
            headers = {"content-type": "application/json"}
            response = await client.post("/ag-ui", content=json.dumps(body), headers=headers)
            assert response.status_code == 200
            assert b'"type":"RUN_FINISHED"' in response.content[-300:]
            if (n + 1) % 1_000 == 0:
                samples.append((n + 1, _rss()))
        print(
            json.dumps({"samples": samples, "runs": len(runs), "feeds": len(runs._feeds), "threads": len(runs.threads)})
        )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 200))
