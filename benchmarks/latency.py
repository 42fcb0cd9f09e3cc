"""Time to first event: sequential short runs, from writing the request to holding the first frame."""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmarks.client import connect
from benchmarks.stats import percentile
from benchmarks.stream import check
from benchmarks.workload import new_run_id, request_body

if TYPE_CHECKING:
    from benchmarks.server import Server

__all__ = ("time_to_first_event",)


async def time_to_first_event(server: Server, host: str, *, tokens: int, runs: int, warmup: int) -> tuple[float, float]:
    """``(p50, p99)`` in seconds from writing the request to holding the first complete ``data:`` frame, over
    runs that go one after the other on one keep-alive connection (each response read to its end and checked
    before the next request), for every server alike."""
    connection = await connect(host, server.port)
    try:
        samples = []
        for index in range(warmup + runs):
            response = await connection.run(request_body(new_run_id("ttfe"), tokens=tokens))
            check(response, tokens)
            if index >= warmup:
                samples.append(response.time_to_first_frame)
        return percentile(samples, 50), percentile(samples, 99)
    finally:
        connection.close()
