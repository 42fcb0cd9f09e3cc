"""Reading a run's AG-UI history the way both LLM adapters need it, before each maps it to its provider.

- :func:`normalized` puts every tool result right after the assistant message that made the call (both
  providers insist), answers a call that never got a result (a frontend tool the user abandoned) and
  drops a result whose call is unknown and the frontend-only activity messages.
- :func:`text_of`, :func:`media_of` and :func:`context_text` read message content and ``context``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

import msgspec

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

__all__ = ("MISSING_RESULT", "Media", "context_text", "media_of", "normalized", "text_of", "unsupported_note")

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


def unsupported_note(media: Media, provider: str) -> str:
    """The text put in place of a part the provider cannot take, so the model knows something was there."""
    what = media.mime_type or media.kind
    return f"[A {media.kind} attachment ({what}) was left out: {provider} cannot read it in this form.]"


def text_of(content: str | Sequence[ContentPart] | None) -> str:
    """The text of a message's content; media parts are skipped."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(part.text for part in content if isinstance(part, TextPart))


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
