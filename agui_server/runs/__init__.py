"""Runs apart from HTTP: the guard, the event log, the run manager."""

from __future__ import annotations

from agui_server.runs.codes import ErrorCode
from agui_server.runs.guard import Guard, coerce_event
from agui_server.runs.log import RunLog
from agui_server.runs.manager import Run, RunManager

__all__ = ("ErrorCode", "Guard", "Run", "RunLog", "RunManager", "coerce_event")
