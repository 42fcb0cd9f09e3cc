"""Event feeds for ``EventSource``: ``GET /events`` (every run on the server) and ``GET /stream/{agentId}``.

.. code-block:: sh

    uv run uvicorn examples.event_feeds:app --port 8000
    curl -N http://localhost:8000/events
    # in another shell, start a run of agent-1:
    curl -N 'http://localhost:8000/ag-ui/agent-1/stream?message=hello'

``/events`` sends ``event: message`` frames (``{message, message_id, timestamp}``, the whole text of each
reply) and ``event: complete`` when a run ends; ``/stream/agent-1`` sends ``event: agent_message``
(``{agent_id, message, …}``) and ``complete`` for that agent's runs (the
:class:`~agui_server.dialects.MessageEvents` dialect). Every frame has an ``id:``: an ``EventSource`` that
reconnects resumes where it was. ``GET /ag-ui/agent-1/stream?message=…`` is the GET stream of one run, in
the same dialect: an ``EventSource`` left open on it resumes that run and gets 204 once it is over, so it
never starts a second run. ``ALLOWED_ORIGINS`` (comma-separated, from the environment or ``.env``) turns on
CORS for the browser clients of other origins.
"""

from __future__ import annotations

from litestar import Litestar

from agui_server import AGUIConfig, AGUIPlugin, OfflineAgent
from agui_server.dialects import FeedRoute, MessageEvents, RunRoute, message_request
from agui_server.settings import Settings

settings = Settings.load()
feed = MessageEvents()
app = Litestar(
    plugins=[
        AGUIPlugin(
            AGUIConfig(
                agents={"agent-1": OfflineAgent(delay=0.02)},
                allowed_origins=settings.allowed_origins,
                routes=[
                    FeedRoute("/events", feed, scope="server"),
                    FeedRoute("/stream/{agent_id}", feed, scope="agent"),
                    RunRoute("/ag-ui/{agent_id}/stream", feed, request=message_request, methods=("GET",)),
                ],
            )
        )
    ]
)
