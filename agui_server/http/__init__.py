"""The Litestar side: the plugin, its configuration, the streaming response, a ready-made app."""

from __future__ import annotations

from agui_server.http.app import create_app
from agui_server.http.config import AGUIConfig
from agui_server.http.plugin import AGUIPlugin

__all__ = ("AGUIConfig", "AGUIPlugin", "create_app")
