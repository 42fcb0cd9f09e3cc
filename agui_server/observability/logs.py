"""Log lines that carry the trace and the run they belong to, in text or one JSON object per line.

:class:`RunContextFilter` adds ``trace_id``, ``span_id`` (the current OpenTelemetry span, when there is one),
``run_id``, ``thread_id`` and ``agent_id`` (the run whose task logged) to every record; the text format
shows them as ``[run=… trace=…]``, :class:`JsonFormatter` as fields. ``agui-server serve --log-format json``
and ``worker --log-format json`` use it.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Final, Literal

import msgspec

from agui_server.observability.telemetry import current_run, current_trace_ids

__all__ = ("LOG_FORMATS", "JsonFormatter", "RunContextFilter", "configure_logging")

LOG_FORMATS: Final = ("text", "json")
LogFormat = Literal["text", "json"]

_TEXT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s%(agui_context)s"
_FIELDS: Final = ("run_id", "thread_id", "agent_id", "trace_id", "span_id")


class RunContextFilter(logging.Filter):
    """Adds the current run's ids and the current span's trace and span ids to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        run = current_run()
        ids = current_trace_ids()
        fields = {
            "run_id": run.run_id if run is not None else None,
            "thread_id": run.thread_id if run is not None else None,
            "agent_id": run.agent_id if run is not None else None,
            "trace_id": ids[0] if ids else None,
            "span_id": ids[1] if ids else None,
        }
        parts = [f"run={fields['run_id']}"] if run is not None else []
        if ids:
            parts.append(f"trace={ids[0]}")
        fields["agui_context"] = f" [{' '.join(parts)}]" if parts else ""
        record.__dict__.update(fields)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, the ids
    :class:`RunContextFilter` added (when set) and ``exception`` (the traceback, when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return msgspec.json.encode(line).decode()


def configure_logging(level: str, log_format: LogFormat = "text") -> None:
    """The root logger of the command line: ``level``, run and trace ids on every line, text or JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RunContextFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
