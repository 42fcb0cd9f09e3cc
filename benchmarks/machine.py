"""What the numbers were measured on: date, CPU, cores, versions."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Final

import psutil

__all__ = ("PACKAGES", "busy_percent", "describe", "redis_version")

PACKAGES: Final = (
    "agui-server",
    "litestar",
    "msgspec",
    "uvicorn",
    "uvloop",
    "httptools",
    "starlette",
    "ag-ui-protocol",
    "pydantic",
    "redis",
    "hiredis",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _revision() -> str:
    """The work tree's commit, with ``+dirty`` when the server's own code has uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "agui_server"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def describe() -> dict[str, object]:
    """The machine and software the run used."""
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "kernel": f"{platform.system()} {platform.release()}",
        "revision": _revision(),
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "packages": {name: _version(name) for name in PACKAGES},
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def busy_percent(seconds: float = 1.0) -> float:
    """How busy the whole machine is right now: CPU % over all cores, sampled for ``seconds``.

    Other processes on the machine (a test run, a build) skew every figure: the report warns about them.
    """
    return float(psutil.cpu_percent(interval=seconds))


def redis_version() -> str:
    """``redis-server 7.0.15``, from ``redis-server --version``."""
    try:
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "redis-server (not found)"
    for word in out.stdout.split():
        if word.startswith("v="):
            return f"redis-server {word[2:]}"
    return "redis-server (unknown version)"
