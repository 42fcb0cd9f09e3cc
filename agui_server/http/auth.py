"""Authenticators: a request in, a :class:`~agui_server.principals.Principal` out (or 401).

.. code-block:: python

    from agui_server import AGUIConfig
    from agui_server.http.auth import BearerTokens

    AGUIConfig(auth=BearerTokens.from_file("tokens.txt"))

An authenticator is any object with ``async authenticate(request) -> Principal | None`` (``None``: the
request gets 401 ``UNAUTHENTICATED`` before anything else happens). ``NoAuth`` (the default) makes every
caller the one anonymous principal. ``BearerTokens`` maps static tokens to principals; the token comes in
``Authorization: Bearer <token>``, or, for ``EventSource`` (which cannot set headers), in the
``access_token`` query parameter. Tokens are compared by their SHA-256 digests and never logged.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agui_server.principals import ANONYMOUS, Principal

if TYPE_CHECKING:
    from collections.abc import Mapping

    from litestar import Request

__all__ = ("Authenticator", "BearerTokens", "NoAuth")


@runtime_checkable
class Authenticator(Protocol):
    """Finds the principal of a request."""

    async def authenticate(self, request: Request[Any, Any, Any]) -> Principal | None:
        """The caller, or ``None`` when the request carries no valid credential (401)."""
        ...


class NoAuth:
    """Everyone is :data:`~agui_server.principals.ANONYMOUS` (local development; the default)."""

    async def authenticate(self, request: Request[Any, Any, Any]) -> Principal | None:
        """Always the anonymous principal."""
        return ANONYMOUS


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class BearerTokens:
    """Static bearer tokens, each naming a principal.

    Args:
        tokens: token → principal.
    """

    def __init__(self, tokens: Mapping[str, Principal]) -> None:
        if not tokens:
            raise ValueError("BearerTokens needs at least one token")
        self._principals = {_digest(token): principal for token, principal in tokens.items()}

    @classmethod
    def parse(cls, text: str) -> BearerTokens:
        """One token per line (or per ``;``): ``TOKEN PRINCIPAL_ID [ROLE,ROLE…]``; ``#`` starts a comment.
        The ``admin`` role may follow the server's and the agents' feeds.

        Raises:
            ValueError: a line that is not of that form (its number is named, never its token).
        """
        tokens: dict[str, Principal] = {}
        for number, raw in enumerate(text.replace(";", "\n").splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) not in (2, 3):
                raise ValueError(f"token line {number}: expected 'TOKEN PRINCIPAL_ID [ROLES]'")
            roles = frozenset(r for r in parts[2].split(",") if r) if len(parts) == 3 else frozenset()
            if parts[1] == ANONYMOUS.id:
                raise ValueError(f"token line {number}: {ANONYMOUS.id!r} is reserved for servers without auth")
            tokens[parts[0]] = Principal(parts[1], roles)
        return cls(tokens)

    @classmethod
    def from_file(cls, path: str | Path) -> BearerTokens:
        """Tokens from a file (see :meth:`parse`)."""
        return cls.parse(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def from_env(cls, name: str = "AGUI_AUTH_TOKENS", environ: Mapping[str, str] | None = None) -> BearerTokens:
        """Tokens from an environment variable (see :meth:`parse`; ``;`` separates them)."""
        value = (os.environ if environ is None else environ).get(name)
        if not value:
            raise ValueError(f"{name} is not set")
        return cls.parse(value)

    async def authenticate(self, request: Request[Any, Any, Any]) -> Principal | None:
        """The principal of the request's bearer token."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            token = request.query_params.get("access_token") or ""
        if not token:
            return None
        return self._principals.get(_digest(token.strip()))
