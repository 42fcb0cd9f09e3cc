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
``JWTVerifier`` checks signed JSON Web Tokens (from your identity provider) against a public key or a JWKS
file (``pip install "agui-server[jwt]"``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from agui_server.principals import ANONYMOUS, Principal

if TYPE_CHECKING:
    from collections.abc import Mapping

    from litestar import Request

__all__ = ("PRINCIPAL_STATE_KEY", "Authenticator", "BearerTokens", "JWTVerifier", "NoAuth")

PRINCIPAL_STATE_KEY: Final = "agui_principal"
"""Where the caller an authenticator found is kept in the request's ASGI state (``scope["state"]``)."""


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
        The ``admin`` role may subscribe to the server's and the agents' feeds.

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
        token = _bearer(request)
        return self._principals.get(_digest(token)) if token else None


def _bearer(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.query_params.get("access_token") or ""


class JWTVerifier:
    """Signed JSON Web Tokens: the signature (with the public key, or the JWKS key named by the token's
    ``kid``), the expiry and not-before times (with ``leeway`` seconds), and, when given, the audience and
    the issuer. The principal is the ``principal_claim`` (``sub``); its roles are the ``roles_claim``
    (a list or a space-separated string). ``none`` and the HMAC algorithms are never accepted.

    Args:
        key: a PEM public key, or a JWKS document (``{"keys": [...]}``) as text.
        audience: the ``aud`` tokens must carry (``None``: not checked).
        issuer: the ``iss`` tokens must carry (``None``: not checked).
        algorithms: the asymmetric algorithms accepted.
    """

    def __init__(
        self,
        key: str,
        *,
        audience: str | None = None,
        issuer: str | None = None,
        algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256", "EdDSA"),
        principal_claim: str = "sub",
        roles_claim: str = "roles",
        leeway: float = 30.0,
    ) -> None:
        try:
            import jwt
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError('JWT verification needs the jwt extra: pip install "agui-server[jwt]"') from exc
        if any(a.lower() == "none" or a.upper().startswith("HS") for a in algorithms):
            raise ValueError("JWTVerifier accepts asymmetric algorithms only")
        self._jwt = jwt
        self.audience = audience
        self.issuer = issuer
        self.algorithms = list(algorithms)
        self.principal_claim = principal_claim
        self.roles_claim = roles_claim
        self.leeway = leeway
        text = key.strip()
        self._keys: dict[str | None, Any] = {}
        if text.startswith("{"):
            for jwk in jwt.PyJWKSet.from_json(text).keys:
                self._keys[jwk.key_id] = jwk.key
        else:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            self._keys[None] = load_pem_public_key(text.encode())
        if not self._keys:
            raise ValueError("JWTVerifier needs a public key or a JWKS with at least one key")

    @classmethod
    def from_file(cls, path: str | Path, **options: Any) -> JWTVerifier:
        """A verifier for the PEM public key or JWKS document in ``path``."""
        return cls(Path(path).read_text(encoding="utf-8"), **options)

    async def authenticate(self, request: Request[Any, Any, Any]) -> Principal | None:
        """The token's principal, or ``None`` when it is missing, unsigned, expired or not for this server."""
        token = _bearer(request)
        if not token:
            return None
        jwt = self._jwt
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid) if kid in self._keys else self._keys.get(None)
            if key is None and len(self._keys) == 1:
                key = next(iter(self._keys.values()))
            if key is None:
                return None
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp"], "verify_aud": self.audience is not None},
            )
        except (jwt.PyJWTError, ValueError, TypeError):  # (a key of the wrong kind for the token's algorithm)
            return None
        subject = claims.get(self.principal_claim)
        if not isinstance(subject, str) or not subject or subject == ANONYMOUS.id:
            return None
        roles = claims.get(self.roles_claim) or []
        if isinstance(roles, str):
            roles = roles.split()
        return Principal(subject, frozenset(r for r in roles if isinstance(r, str)))
