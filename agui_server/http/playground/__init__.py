"""The playground page (``GET <path>/playground``, ``AGUIConfig.playground``): a chat, a timeline of every
event, state, tools, stop, resume, threads and interrupts, in one page that talks to this server's own API.

The page is static code, the same for every caller, with nothing of the server in it but the API's path:
``index.html`` and ``playground.css`` are written by hand, ``playground.js`` is built from ``web/playground``
(the official ``@ag-ui/client`` ``HttpAgent`` and the page's code, bundled by esbuild; ``node build.mjs``
there). Everything the page shows comes through the API (the agents through ``GET <path>/playground/agents``),
behind the server's authenticator like every other endpoint: with one configured, the page asks for a bearer
token and keeps it in the tab's ``sessionStorage``.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import Final

from litestar.response.base import ASGIResponse

__all__ = ("ASSETS", "PlaygroundPage")

ASSETS: Final = {"playground.js": "text/javascript", "playground.css": "text/css"}
"""The files the page loads besides itself, with their media types."""

_HEADERS: Final = {
    # the page runs its own script and style only, talks only to its own origin, and is never framed
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


def _read(name: str) -> bytes:
    return resources.files(__package__).joinpath(name).read_bytes()


class PlaygroundPage:
    """The page and its assets, read once, for an API mounted at ``path``."""

    __slots__ = ("_assets", "_page")

    def __init__(self, path: str) -> None:
        page = _read("index.html").decode("utf-8")
        self._page = page.replace("{{path}}", html.escape(path.rstrip("/"), quote=True)).encode("utf-8")
        self._assets = {name: _read(name) for name in ASSETS}

    def page(self) -> ASGIResponse:
        """``GET <path>/playground``."""
        return ASGIResponse(body=self._page, media_type="text/html", headers=_HEADERS)

    def asset(self, name: str) -> ASGIResponse:
        """``GET <path>/playground/<name>``, for a name of :data:`ASSETS`."""
        return ASGIResponse(body=self._assets[name], media_type=ASSETS[name], headers=_HEADERS)
