"""The app the hostile-client suite serves from a subprocess (``uvicorn tests.support.hostile_app:app``):
the built-in offline agent behind bearer tokens, so a case that makes it allocate without bound costs
that process only."""

from __future__ import annotations

from agui_server import AGUIConfig, create_app
from agui_server.http.auth import BearerTokens
from tests.support.hostile_harness import TOKENS

app = create_app(AGUIConfig(auth=BearerTokens.parse(TOKENS), log_requests=False))
