"""Runnable examples: each module is an ASGI ``app`` built with the plugin (``uv run uvicorn examples.<name>:app``)."""
