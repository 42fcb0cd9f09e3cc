"""Every rule the conformance runner checks, with its stable id.

Ids never change meaning; new rules get new ids. ``error`` findings fail a run; ``warning`` findings
are reported but do not change the exit status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from agui_server.protocol.ordering import RULES as ORDERING_RULES

__all__ = ("RULES", "Rule", "Severity")

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule: its id, how bad breaking it is, and what it asks."""

    id: str
    severity: Severity
    summary: str


_OWN: Final[list[Rule]] = [
    # HTTP
    Rule("http.status", "error", "A valid request is answered 200."),
    Rule("http.content-type", "error", "The stream is sent as Content-Type: text/event-stream."),
    Rule("http.cache-control", "error", "The stream carries Cache-Control (no-cache or no-store)."),
    Rule(
        "http.accel-buffering",
        "warning",
        "(recommended) The stream carries X-Accel-Buffering: no, so proxies such as nginx do not buffer it.",
    ),
    Rule("http.error", "error", "The stream is read to its end without a transport error or a timeout."),
    # framing
    Rule("frame.crlf", "error", "Frames use LF only: the official client splits on \\n\\n and breaks on \\r\\n."),
    Rule("frame.utf8", "error", "The stream is valid UTF-8."),
    Rule("frame.replacement-char", "error", "The stream carries no U+FFFD (text mangled before encoding)."),
    Rule("frame.stray-line", "error", "Every line of a frame is data:, id:, event:, retry: or a : comment."),
    Rule("frame.json", "error", "The data of a frame is one JSON value."),
    Rule("frame.not-object", "error", "The data of a frame is a JSON object."),
    Rule("frame.unterminated", "error", "The stream ends with a complete frame (\\n\\n)."),
    # event schema
    Rule("schema.unknown-type", "error", "The event type is one of the AG-UI 1.0 types."),
    Rule("schema.invalid", "error", "The event has its required fields with the right types (AG-UI 1.0 schema)."),
    Rule("schema.null-optional", "error", "Optional fields are left out, never sent as null."),
    Rule("schema.snake-case", "error", "Keys are camelCase (snake_case keys are stripped, then fatal, in 1.0)."),
    Rule("schema.timestamp", "error", "A timestamp is an integer (milliseconds)."),
    Rule("schema.json-pointer", "error", "Patch operations are RFC 6902 with /-rooted JSON Pointers."),
    Rule(
        "schema.unknown-field",
        "error",
        "(1.0) No field unknown to AG-UI 1.0: @ag-ui/client 1.0 strips it with a warning, so the frontend loses it.",
    ),
    # the run as a whole
    Rule("run.empty", "error", "The stream carries at least one event."),
    Rule("run.echo", "error", "RUN_STARTED and RUN_FINISHED echo the request's threadId and runId."),
    Rule("tool.args-json", "error", "A tool call's concatenated arguments are valid JSON."),
    Rule("tool.args-schema", "error", "A call of an offered tool has arguments that satisfy the tool's JSON Schema."),
    Rule("state.delta-apply", "error", "A STATE_DELTA applies to the state it follows."),
    Rule("legacy.outcome", "error", "0.0.x requests get no cancelled outcome and no pendingToolCallIds."),
    Rule("legacy.tool-result-content", "error", "0.0.x requests get TOOL_CALL_RESULT content as a string."),
    Rule("legacy.unknown-type", "error", "0.0.x requests get only event types @ag-ui/client 0.0.59 knows."),
    Rule(
        "legacy.unknown-field",
        "warning",
        "0.0.x requests: a field unknown to AG-UI 1.0 is kept (events) or dropped silently (messages) by 0.0.59.",
    ),
    Rule("transport.keepalive", "error", "The stream is never silent longer than the keepalive window."),
    Rule("scenario.expectation", "error", "The answer shows what the scenario asks of it."),
    # transport probes
    Rule("probe.invalid-json", "error", "Malformed JSON gets a 4xx JSON answer with no stack trace."),
    Rule("probe.wrong-types", "error", "A field of the wrong type gets a 4xx JSON answer."),
    Rule("probe.missing-field", "error", "A missing required field gets a 4xx JSON answer."),
    Rule("probe.unknown-role", "error", "A message with an unknown role gets a 4xx JSON answer."),
    Rule("probe.content-type", "error", "A body that is not JSON by Content-Type gets a 4xx JSON answer."),
    Rule("probe.method", "error", "A method other than POST gets a 4xx JSON answer."),
    Rule("probe.body-limit", "error", "A body over the server's limit gets a 4xx JSON answer."),
    Rule("probe.non-utf8", "error", "A body that is not UTF-8 gets a 4xx JSON answer."),
    Rule(
        "probe.deep-nesting",
        "error",
        "Deeply nested JSON (valid AG-UI: `state` may be any JSON) gets a 4xx JSON answer, or a 200 stream that is"
        " a whole run.",
    ),
    Rule("probe.disconnect", "error", "A client that disconnects after the first event leaves the server serving."),
]

RULES: Final[dict[str, Rule]] = {rule.id: rule for rule in _OWN} | {
    f"order.{rule_id}": Rule(f"order.{rule_id}", "error", summary) for rule_id, summary in ORDERING_RULES.items()
}
"""Every rule by id: the runner's own and the ordering rules of the official client (``order.*``)."""
