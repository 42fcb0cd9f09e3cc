"""REST + SSE: ``POST /agents/{agentId}/messages`` sends, an ``EventSource`` on ``GET /agents/{agentId}/sse`` reads.

.. code-block:: sh

    uv run uvicorn examples.rest_and_sse:app --port 8000

The browser client, as written::

    const eventSource = new EventSource(`/agents/agent_123/sse?thread_id=thread_456`);
    eventSource.onmessage = (event) => console.log(JSON.parse(event.data).message);
    fetch(`/agents/agent_123/messages`, {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({thread_id: "thread_456", message: "Привет, агент!"})});

``onmessage`` gets ``{"agent_id", "thread_id", "message"}`` with each whole reply (the
:class:`~agui_server.dialects.ThreadMessages` dialect); every AG-UI event also arrives as a named event
(``addEventListener("TEXT_MESSAGE_CONTENT", …)``). A message posted just before the ``EventSource``
connects is not lost: a new subscriber gets the thread's latest run from its start.
"""

from __future__ import annotations

from litestar import Litestar

from agui_server import AGUIConfig, AGUIPlugin, OfflineAgent

app = Litestar(plugins=[AGUIPlugin(AGUIConfig(agents={"agent_123": OfflineAgent()}))])
