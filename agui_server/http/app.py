"""A ready-made Litestar app serving one agent: what ``agui-server serve`` runs."""

from __future__ import annotations

import gc

from litestar import Litestar

from agui_server.http.config import AGUIConfig
from agui_server.http.plugin import AGUIPlugin

__all__ = ("create_app",)


def _freeze_startup_objects() -> None:
    """Move everything alive after start-up (modules, the app) out of the collector's sight.

    A long-running server allocates and frees per-run objects all the time; every full collection would
    otherwise walk the tens of thousands of import-time objects as well, which shows as latency spikes.
    """
    gc.collect()
    gc.freeze()


def create_app(config: AGUIConfig | None = None) -> Litestar:
    """The ready-made server: a Litestar app with nothing but the AG-UI plugin mounted.

    Logging is left to the caller (``agui-server serve`` sets it up). At start-up the app freezes the
    objects alive at that point (``gc.freeze``), as a dedicated server process may; embed
    :class:`~agui_server.http.plugin.AGUIPlugin` in your own app to keep the process's GC as it is.
    """
    return Litestar(
        plugins=[AGUIPlugin(config or AGUIConfig())],
        on_startup=[_freeze_startup_objects],
        openapi_config=None,
        logging_config=None,
    )
