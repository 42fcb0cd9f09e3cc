"""Reading a run's AG-UI history the way both LLM adapters need it, before each maps it to its provider.

- :func:`normalized` puts every tool result right after the assistant message that made the call (both
  providers insist), answers a call that never got a result (a frontend tool the user abandoned) and
  drops a result whose call is unknown and the frontend-only activity messages.
- :func:`text_of`, :func:`media_of` and :func:`context_text` read message content and ``context``;
  :func:`user_parts` walks a user message's parts for a provider's mapping, and :func:`unsupported` is the
  one error for a part a provider cannot take (``UNSUPPORTED_CONTENT``, raised before any request).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

import msgspec

from agui_server.agents import errors
from agui_server.protocol.types import (
    ActivityMessage,
    AssistantMessage,
    AudioPart,
    BinaryPart,
    DataSource,
    DocumentPart,
    FileSource,
    ImagePart,
    TextPart,
    ToolMessage,
    UrlSource,
    VideoPart,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from agui_server.protocol.types import ContentPart, Context, Message

__all__ = (
    "MISSING_RESULT",
    "Media",
    "context_text",
    "media_of",
    "normalized",
    "text_of",
    "tool_result_text",
    "unsupported",
    "user_parts",
)

logger = logging.getLogger("agui_server.agents.llm")

MISSING_RESULT: Final = "No result was provided for this tool call."
"""The content given to the model for a tool call whose result never came."""

MediaKind = Literal["image", "audio", "video", "document"]


@dataclass(frozen=True, slots=True)
class Media:
    """A media part, reduced to what a provider can be given: inline base64, a URL or a file id."""

    kind: MediaKind
    mime_type: str | None = None
    data: str | None = None
    url: str | None = None
    file_id: str | None = None

    def data_url(self) -> str | None:
        """``data:<mime>;base64,<data>`` for inline data, else the URL."""
        if self.data is not None:
            return f"data:{self.mime_type or 'application/octet-stream'};base64,{self.data}"
        return self.url


def _kind_of_mime(mime: str) -> MediaKind:
    head = mime.split("/", 1)[0].lower()
    if head in ("image", "audio", "video"):
        return head  # type: ignore[return-value]
    return "document"


def media_of(part: ContentPart) -> Media | None:
    """The media in a part, or ``None`` for a text part."""
    if isinstance(part, TextPart):
        return None
    if isinstance(part, BinaryPart):
        kind = _kind_of_mime(part.mime_type)
        if part.data is not None:
            return Media(kind, part.mime_type, data=part.data)
        if part.url is not None:
            return Media(kind, part.mime_type, url=part.url)
        return Media(kind, part.mime_type, file_id=part.id)
    kinds: dict[type[object], MediaKind] = {
        ImagePart: "image",
        AudioPart: "audio",
        VideoPart: "video",
        DocumentPart: "document",
    }
    kind = kinds[type(part)]
    source = part.source
    if isinstance(source, DataSource):
        return Media(kind, source.mime_type, data=source.value)
    if isinstance(source, UrlSource):
        return Media(kind, source.mime_type, url=source.value)
    assert isinstance(source, FileSource)
    return Media(kind, source.mime_type, file_id=source.value)


def unsupported(media: Media, provider: str, where: str) -> errors.UpstreamError:
    """The error for a part ``provider`` cannot take: ``UNSUPPORTED_CONTENT``, naming the part (``where``)."""
    source = "inline data" if media.data is not None else "a URL" if media.url is not None else "a file id"
    what = f"{media.kind} ({media.mime_type})" if media.mime_type else media.kind
    return errors.UpstreamError(
        errors.UNSUPPORTED_CONTENT,
        f"The {what} part {where}, given as {source}, cannot be sent: {provider} does not take it in this form. "
        "Remove it or send it another way.",
    )


def user_parts(message_id: str, content: Sequence[ContentPart]) -> list[tuple[str, TextPart | Media]]:
    """A user message's parts, each with where it is (for :func:`unsupported`) and as text or media."""
    out: list[tuple[str, TextPart | Media]] = []
    for index, part in enumerate(content):
        where = f"#{index + 1} of message {message_id}"
        media = media_of(part)
        if isinstance(part, TextPart) or media is None:
            out.append((where, part if isinstance(part, TextPart) else TextPart(text="")))
        else:
            out.append((where, media))
    return out


def text_of(content: str | Sequence[ContentPart] | None) -> str:
    """The text of a message's content; media parts are skipped."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(part.text for part in content if isinstance(part, TextPart))


def tool_result_text(message: ToolMessage) -> str:
    """A tool message's content as text for the model, its ``error`` first (``Error: ...``)."""
    text = text_of(message.content)
    if message.error:
        return f"Error: {message.error}" + (f"\n{text}" if text else "")
    return text


def context_text(context: Sequence[Context] | None) -> str | None:
    """The run's ``context`` entries as one block of text for the system prompt, or ``None``."""
    if not context:
        return None
    entries = "\n\n".join(f"{item.description}:\n{item.value}" for item in context)
    return f"Context provided by the application:\n\n{entries}"


def normalized(messages: Sequence[Message]) -> list[Message]:
    """The history in the order the providers accept (see the module docstring)."""
    results: dict[str, ToolMessage] = {}
    for message in messages:
        if isinstance(message, ToolMessage) and message.tool_call_id not in results:
            results[message.tool_call_id] = message
    all_calls = {call.id for m in messages if isinstance(m, AssistantMessage) for call in m.tool_calls or ()}
    for orphan in results.keys() - all_calls:
        logger.debug("dropping the result of tool call %s: no assistant message made that call", orphan)
    seen_calls: set[str] = set()
    out: list[Message] = []
    for message in messages:
        if isinstance(message, ActivityMessage | ToolMessage):
            continue
        if not isinstance(message, AssistantMessage) or not message.tool_calls:
            out.append(message)
            continue
        calls = [call for call in message.tool_calls if call.id not in seen_calls]
        if len(calls) != len(message.tool_calls):
            message = msgspec.structs.replace(message, tool_calls=calls or None)
        out.append(message)
        for call in calls:
            seen_calls.add(call.id)
            result = results.get(call.id)
            if result is None:
                result = ToolMessage(id=f"missing-{call.id}", tool_call_id=call.id, content=MISSING_RESULT)
            out.append(result)
    return out
