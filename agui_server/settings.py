"""Settings from the environment and a ``.env`` file, for the command line.

Precedence, highest first: command-line options, the process environment, the ``.env`` file, defaults.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("Settings", "SettingsError", "read_dotenv")

_LINE: Final = re.compile(r"^\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*?)\s*$")


_N = TypeVar("_N", int, float)


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a ``.env`` file: ``KEY=value`` lines, ``#`` comments, optional quotes, optional ``export``."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        match = _LINE.match(raw)
        if match is None:
            continue
        value = match["value"]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[match["key"]] = value
    return values


@dataclass
class Settings:
    """What ``agui-server serve`` reads from ``AGUI_*`` variables."""

    host: str = "127.0.0.1"
    port: int = 8000
    agent: str | None = None
    allowed_origins: list[str] = field(default_factory=list)
    keepalive: float = 15.0
    path: str = "/ag-ui"
    log_level: str = "info"
    threads_db: str | None = None
    redis_url: str | None = None
    on_disconnect: str = "cancel"
    auth_tokens: str | None = None
    """``AGUI_AUTH_TOKENS``: bearer tokens, ``TOKEN PRINCIPAL [ROLES]`` separated by ``;``."""
    auth_jwt_key_file: str | None = None
    """``AGUI_AUTH_JWT_KEY_FILE``: a PEM public key or JWKS file that verifies JWT bearer tokens."""
    auth_tokens_file: str | None = None
    """``AGUI_AUTH_TOKENS_FILE``: a file of bearer tokens, one ``TOKEN PRINCIPAL [ROLES]`` per line."""

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
        """Read the settings from ``environ`` (default: ``os.environ``) over the ``.env`` file."""
        merged: dict[str, str] = read_dotenv(dotenv) if dotenv is not None else {}
        merged.update(os.environ if environ is None else environ)
        settings = cls()
        # the plain names many SSE servers' .env files use (PORT, HOST, ALLOWED_ORIGINS) count too; the
        # AGUI_ names win over them
        for plain in ("HOST", "PORT", "ALLOWED_ORIGINS"):
            if plain in merged and f"AGUI_{plain}" not in merged:
                merged[f"AGUI_{plain}"] = merged[plain]
        if "AGUI_HOST" in merged:
            settings.host = merged["AGUI_HOST"]
        if "AGUI_PORT" in merged:
            settings.port = _number(merged, "AGUI_PORT", int)
        if merged.get("AGUI_AGENT"):
            settings.agent = merged["AGUI_AGENT"]
        if "AGUI_ALLOWED_ORIGINS" in merged:
            settings.allowed_origins = [o.strip() for o in merged["AGUI_ALLOWED_ORIGINS"].split(",") if o.strip()]
        if "AGUI_KEEPALIVE" in merged:
            settings.keepalive = _number(merged, "AGUI_KEEPALIVE", float)
        if "AGUI_PATH" in merged:
            settings.path = merged["AGUI_PATH"]
        if merged.get("AGUI_REDIS_URL"):
            settings.redis_url = merged["AGUI_REDIS_URL"]
        if merged.get("AGUI_THREADS_DB"):
            settings.threads_db = merged["AGUI_THREADS_DB"]
        if merged.get("AGUI_AUTH_TOKENS"):
            settings.auth_tokens = merged["AGUI_AUTH_TOKENS"]
        if merged.get("AGUI_AUTH_JWT_KEY_FILE"):
            settings.auth_jwt_key_file = merged["AGUI_AUTH_JWT_KEY_FILE"]
        if merged.get("AGUI_AUTH_TOKENS_FILE"):
            settings.auth_tokens_file = merged["AGUI_AUTH_TOKENS_FILE"]
        if merged.get("AGUI_ON_DISCONNECT"):
            settings.on_disconnect = merged["AGUI_ON_DISCONNECT"]
        if "AGUI_LOG_LEVEL" in merged:
            settings.log_level = merged["AGUI_LOG_LEVEL"].lower()
        return settings


def _number(values: Mapping[str, str], key: str, kind: type[_N]) -> _N:
    try:
        return kind(values[key])
    except ValueError:
        raise SettingsError(f"{key} must be a {kind.__name__}, got {values[key]!r}") from None
