"""Benchmarks: our server, the ``ag-ui-protocol`` SDK behind Starlette, and a raw ASGI ceiling, side by side.

Run with ``uv run python -m benchmarks`` (``--quick`` for a short smoke run). Not part of the test run.
"""
