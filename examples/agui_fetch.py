"""``POST /ag-ui`` read by ``fetch``, axios, curl or Python ``requests``, with the reader extras on.

.. code-block:: sh

    uv run uvicorn examples.agui_fetch:app --port 8080
    curl -X POST http://127.0.0.1:8080/ag-ui -H 'Content-Type: application/json' -H 'accept: text/event-stream' \\
      -d '{"context": [], "messages": [{"content": "你是谁", "id": "msg_1", "role": "user"}],
           "runId": "run_456", "threadId": "thread_123", "tools": []}'

Each frame is ``data: <json>`` then ``id: <n>``, so readers that split on newlines and keep the ``data: ``
lines see every event. ``reader_extras=True`` adds ``finalContent`` (the message's whole text) to
``TEXT_MESSAGE_END`` and an ``{"type": "ERROR", "message"}`` event after a ``RUN_ERROR``. A client that sends
the same ``runId`` with a new question gets a new run (the same body again re-attaches to the first).
"""

from __future__ import annotations

from litestar import Litestar

from agui_server import AGUIConfig, AGUIPlugin

app = Litestar(plugins=[AGUIPlugin(AGUIConfig(reader_extras=True))])
