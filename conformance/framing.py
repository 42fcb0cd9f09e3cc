"""Splitting a raw SSE body into frames the way the official client does, and judging the framing.

The client decodes the body as UTF-8, splits it on ``\\n\\n`` only, keeps the ``data:`` lines of each
block (joined with ``\\n``) and ignores ``id:``, ``event:``, ``retry:`` and ``:`` comment lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from conformance.findings import Finding

__all__ = ("Frame", "split_frames")

_FIELDS: Final = ("id:", "event:", "retry:")


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame that carried data: its text and the JSON event it decoded to."""

    index: int
    """The event's 0-based index among the frames that carried data."""
    text: str
    event: dict[str, Any]


def split_frames(body: bytes, scenario: str) -> tuple[list[Frame], list[Finding]]:
    """The data frames of ``body`` and what is wrong with its framing."""
    findings: list[Finding] = []
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        findings.append(Finding("frame.utf8", f"invalid UTF-8 at byte {exc.start}", scenario))
        text = body.decode("utf-8", errors="replace")
    else:
        if "\ufffd" in text:
            at = text.index("\ufffd")
            findings.append(
                Finding(
                    "frame.replacement-char",
                    "the stream carries U+FFFD",
                    scenario,
                    frame=text[max(0, at - 80) : at + 80],
                )
            )
    if "\r" in text:
        at = text.index("\r")
        findings.append(
            Finding("frame.crlf", "a carriage return in the stream", scenario, frame=text[max(0, at - 80) : at + 80])
        )
        text = text.replace("\r\n", "\n").replace("\r", "\n")  # judge the rest as if the framing were right
    blocks = text.split("\n\n")
    tail = blocks.pop()
    if tail.strip("\r\n"):
        findings.append(Finding("frame.unterminated", "the stream ends in the middle of a frame", scenario, frame=tail))
    frames: list[Frame] = []
    count = 0
    for block in blocks:
        if not block.strip("\r\n"):
            continue
        data_lines: list[str] = []
        for line in block.split("\n"):
            if line.startswith("data:"):
                value = line[5:]
                data_lines.append(value[1:] if value.startswith(" ") else value)
            elif line.startswith(":") or line.startswith(_FIELDS) or not line.strip("\r"):
                continue
            else:
                findings.append(
                    Finding(
                        "frame.stray-line", f"a line that is not an SSE field: {line[:60]!r}", scenario, count, block
                    )
                )
        if not data_lines:
            continue
        data = "\n".join(data_lines)
        index = count
        count += 1
        try:
            value = json.loads(data)
        except ValueError as exc:
            findings.append(Finding("frame.json", f"the data is not JSON: {exc}", scenario, index, block))
            continue
        if not isinstance(value, dict):
            findings.append(Finding("frame.not-object", "the data is not a JSON object", scenario, index, block))
            continue
        frames.append(Frame(index, block, value))
    return frames, findings
