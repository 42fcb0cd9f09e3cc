"""Judging one event's JSON against the AG-UI 1.0 schema, key by key, the way the 1.0 client does."""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from agui_server.protocol import events as ev
from agui_server.protocol import types as ty

__all__ = ("EVENT_CLASSES", "LEGACY_EVENT_TYPES", "check_event")

EVENT_CLASSES: Final[dict[str, type[Any]]] = {str(cls.__struct_config__.tag): cls for cls in ev.Event.__args__}
"""Every AG-UI 1.0 event type and its Struct."""

LEGACY_EVENT_TYPES: Final = frozenset(EVENT_CLASSES) | {
    "THINKING_START",
    "THINKING_END",
    "THINKING_TEXT_MESSAGE_START",
    "THINKING_TEXT_MESSAGE_CONTENT",
    "THINKING_TEXT_MESSAGE_END",
}
"""The event types ``@ag-ui/client`` 0.0.59 knows."""

_MESSAGE_CLASSES: Final[dict[str, type[Any]]] = {str(cls.__struct_config__.tag): cls for cls in ty.Message.__args__}
_POINTER: Final = re.compile(r"^(/([^/~]|~[01])*)*$")
_OPS: Final = {"add", "remove", "replace", "move", "copy", "test"}


def _wire_fields(cls: type[Any]) -> tuple[set[str], set[str]]:
    fields = msgspec.structs.fields(cls)
    tag_field = cls.__struct_config__.tag_field
    names = {f.encode_name for f in fields} | ({tag_field} if tag_field else set())
    optional = {f.encode_name for f in fields if not f.required}
    return names, optional


_EVENT_FIELDS: Final = {name: _wire_fields(cls) for name, cls in EVENT_CLASSES.items()}
_MESSAGE_FIELDS: Final = {name: _wire_fields(cls) for name, cls in _MESSAGE_CLASSES.items()}


def _object_problems(obj: dict[str, Any], known: set[str], optional: set[str], where: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for key, value in obj.items():
        if "_" in key:
            problems.append(("schema.snake-case", f"{where}key {key!r} is snake_case"))
        elif value is None and key in optional:
            problems.append(("schema.null-optional", f"{where}optional field {key!r} is null; leave it out"))
        elif key not in known:
            problems.append(("schema.unknown-field", f"{where}field {key!r} is not in the AG-UI 1.0 schema"))
    return problems


def _messages_problems(messages: Any, where: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not isinstance(messages, list):
        return problems
    for n, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role") in _MESSAGE_FIELDS:
            known, optional = _MESSAGE_FIELDS[message["role"]]
            problems += _object_problems(message, known, optional, f"{where}messages[{n}]: ")
    return problems


def _patch_problems(patch: Any, field: str) -> list[tuple[str, str]]:
    if not isinstance(patch, list):
        return []
    problems: list[tuple[str, str]] = []
    for n, op in enumerate(patch):
        if not isinstance(op, dict):
            problems.append(("schema.json-pointer", f"{field}[{n}] is not an operation object"))
            continue
        if op.get("op") not in _OPS:
            problems.append(("schema.json-pointer", f"{field}[{n}].op {op.get('op')!r} is not an RFC 6902 operation"))
        for key in ("path", "from") if op.get("op") in ("move", "copy") else ("path",):
            pointer = op.get(key)
            if not isinstance(pointer, str) or not _POINTER.match(pointer):
                problems.append(
                    ("schema.json-pointer", f"{field}[{n}].{key} {pointer!r} is not a /-rooted JSON Pointer")
                )
        if op.get("op") in ("add", "replace", "test") and "value" not in op:
            problems.append(("schema.json-pointer", f"{field}[{n}] ({op.get('op')}) has no value"))
    return problems


def check_event(event: dict[str, Any]) -> tuple[ev.Event | None, list[tuple[str, str]]]:
    """Decode one event's JSON object; returns the event (``None`` if unusable) and ``(rule, message)`` problems.

    Specific problems (snake_case, nulls, timestamps, pointers) are reported instead of the generic
    ``schema.invalid`` they would also cause.
    """
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in EVENT_CLASSES:
        return None, [("schema.unknown-type", f"event type {kind!r} is not an AG-UI 1.0 type")]
    known, optional = _EVENT_FIELDS[kind]
    problems = _object_problems(event, known, optional, "")
    if "timestamp" in event and event["timestamp"] is not None:
        stamp = event["timestamp"]
        if not isinstance(stamp, int) or isinstance(stamp, bool):
            problems.append(("schema.timestamp", f"timestamp {stamp!r} is not an integer"))
    if kind == "MESSAGES_SNAPSHOT":
        problems += _messages_problems(event.get("messages"), "")
    if kind == "RUN_STARTED" and isinstance(event.get("input"), dict):
        problems += _messages_problems(event["input"].get("messages"), "input.")
    if kind == "STATE_DELTA":
        problems += _patch_problems(event.get("delta"), "delta")
    if kind == "ACTIVITY_DELTA":
        problems += _patch_problems(event.get("patch"), "patch")
    fatal = [p for p in problems if p[0] != "schema.unknown-field"]
    if fatal:
        return None, problems
    cleaned = {k: v for k, v in event.items() if k in known}
    try:
        decoded: ev.Event = msgspec.convert(cleaned, EVENT_CLASSES[kind])
    except msgspec.ValidationError as exc:
        return None, [*problems, ("schema.invalid", f"{kind}: {exc}")]
    return decoded, problems
