"""A ready-made Litestar app serving one agent: what ``agui-server serve`` runs."""

from __future__ import annotations

from litestar import Litestar

from agui_server.http.config import AGUIConfig
from agui_server.http.plugin import AGUIPlugin

__all__ = ("create_app",)


def create_app(config: AGUIConfig | None = None) -> Litestar:
    """A Litestar app with nothing but the AG-UI plugin mounted.

    Logging is left to the caller (``agui-server serve`` sets it up), so that embedding the app does not
    change the host's logging configuration.
    """
    return Litestar(plugins=[AGUIPlugin(config or AGUIConfig())], openapi_config=None, logging_config=None)
