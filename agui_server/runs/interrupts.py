"""Interrupts: a run that ends to ask the client something, and the next run that answers.

An agent yields :class:`~agui_server.protocol.types.Interrupt` objects (:func:`interrupt` makes one); the
guard ends its run with ``RUN_FINISHED`` ``outcome: {"type": "interrupt", "interrupts": [...]}``, and the
thread keeps them open. The next request on the thread must answer every open interrupt in ``resume``,
each exactly once, before it expires; :func:`check_resume` is that rule, applied by every backend after
it admitted the run (one run per thread at a time, so of two requests answering the same interrupt exactly
one gets through) and before the stream starts. A refusal is :class:`~agui_server.runs.backend.ResumeRefused`
with one of the codes below, answered as a ``409`` JSON error.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import msgspec

from agui_server.protocol import events as ev
from agui_server.protocol.encoding import decode_event
from agui_server.protocol.types import Interrupt, ResumeEntry, RunAgentInput
from agui_server.runs.backend import ResumeRefused
from agui_server.runs.threads import AnsweredInterrupt

if TYPE_CHECKING:
    from agui_server.runs.threads import Thread

__all__ = (
    "INTERRUPT_ALREADY_RESOLVED",
    "INTERRUPT_EXPIRED",
    "INTERRUPT_RESUME_INCOMPLETE",
    "INTERRUPT_RESUME_REQUIRED",
    "INTERRUPT_UNKNOWN",
    "LEGACY_INTERRUPT_EVENT",
    "MAX_ANSWERED",
    "answered_after",
    "check_resume",
    "expires_ms",
    "has_legacy_resume",
    "interrupt",
    "interrupts_of",
    "with_legacy_resume",
)

LEGACY_INTERRUPT_EVENT: Final = "on_interrupt"
"""The ``CUSTOM`` event that carries each open interrupt to 0.0.x clients (CopilotKit's
``useLangGraphInterrupt``), which have no ``resume``; they answer in ``forwardedProps.command.resume``."""

INTERRUPT_RESUME_REQUIRED: Final = "INTERRUPT_RESUME_REQUIRED"
"""The thread has open interrupts and the request carries no ``resume``."""
INTERRUPT_RESUME_INCOMPLETE: Final = "INTERRUPT_RESUME_INCOMPLETE"
"""``resume`` leaves some of the thread's open interrupts unanswered."""
INTERRUPT_UNKNOWN: Final = "INTERRUPT_UNKNOWN"
"""``resume`` answers an interrupt the thread never had open."""
INTERRUPT_ALREADY_RESOLVED: Final = "INTERRUPT_ALREADY_RESOLVED"
"""``resume`` answers an interrupt an earlier run already answered."""
INTERRUPT_EXPIRED: Final = "INTERRUPT_EXPIRED"
"""An open interrupt's ``expiresAt`` has passed and ``resume`` resolves it (it may only be cancelled)."""
MAX_ANSWERED: Final = 256
"""Answered interrupts a thread remembers, with their answers (an answer given twice is told from an unknown
id by them)."""


def interrupt(
    reason: str,
    message: str | None = None,
    *,
    id: str | None = None,
    response_schema: dict[str, Any] | None = None,
    tool_call_id: str | None = None,
    expires_in: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> Interrupt:
    """An interrupt for an agent to yield: the run ends asking the client ``message`` (``reason`` says what
    kind of question; ``response_schema`` is the JSON Schema of the answer's ``payload``); ``expires_in``
    seconds from now it can no longer be answered, only cancelled."""
    expires_at = None
    if expires_in is not None:
        expires_at = (datetime.now(UTC) + timedelta(seconds=expires_in)).isoformat(timespec="milliseconds")
    return Interrupt(
        id=id or f"int-{uuid.uuid4().hex[:16]}",
        reason=reason,
        message=message,
        tool_call_id=tool_call_id,
        response_schema=response_schema,
        expires_at=expires_at.replace("+00:00", "Z") if expires_at else None,
        metadata=metadata,
    )


def interrupts_of(terminal: tuple[str, bytes] | None) -> list[Interrupt]:
    """The interrupts a run's terminal event leaves open (none unless it ended with the interrupt outcome)."""
    if terminal is None or terminal[0] != "RUN_FINISHED":
        return []
    event = decode_event(terminal[1])
    if isinstance(event, ev.RunFinishedEvent) and isinstance(event.outcome, ev.InterruptOutcome):
        return list(event.outcome.interrupts)
    return []


def _expires(item: Interrupt) -> datetime | None:
    if not item.expires_at:
        return None
    try:
        expires = datetime.fromisoformat(item.expires_at.replace("Z", "+00:00"))
    except ValueError:
        return None  # (an agent's own malformed expiry never locks a thread)
    return expires if expires.tzinfo is not None else expires.replace(tzinfo=UTC)


def expires_ms(item: Interrupt) -> int:
    """When the interrupt expires, in Unix milliseconds (0: never)."""
    expires = _expires(item)
    return 0 if expires is None else int(expires.timestamp() * 1000)


def _expired(item: Interrupt, now: datetime) -> bool:
    expires = _expires(item)
    return expires is not None and expires <= now


def check_resume(thread: Thread | None, resume: list[ResumeEntry] | None, now: datetime | None = None) -> None:
    """The resume rule: ``resume`` answers every interrupt the thread has open exactly once, and nothing
    else; an expired one may only be cancelled.

    Raises:
        ResumeRefused: with the code and the field at fault.
    """
    entries = resume or []
    open = thread.interrupts if thread is not None else []
    if not open and not entries:
        return
    seen: set[str] = set()
    open_ids = {item.id: item for item in open}
    earlier = {answered.interrupt.id for answered in thread.answered_interrupts} if thread is not None else set()
    moment = now or datetime.now(UTC)
    for n, entry in enumerate(entries):
        field = f"resume[{n}].interruptId"
        if entry.interrupt_id in seen:
            raise ResumeRefused(INTERRUPT_ALREADY_RESOLVED, f"resume answers {entry.interrupt_id!r} twice.", field)
        seen.add(entry.interrupt_id)
        item = open_ids.get(entry.interrupt_id)
        if item is None:
            if entry.interrupt_id in earlier:
                raise ResumeRefused(
                    INTERRUPT_ALREADY_RESOLVED, f"Interrupt {entry.interrupt_id!r} was already answered.", field
                )
            raise ResumeRefused(INTERRUPT_UNKNOWN, f"The thread has no interrupt {entry.interrupt_id!r}.", field)
        if entry.status == "resolved" and _expired(item, moment):
            raise ResumeRefused(
                INTERRUPT_EXPIRED,
                f"Interrupt {item.id!r} expired at {item.expires_at} and can no longer be answered; cancel it.",
                f"resume[{n}].status",
            )
    missing = [item.id for item in open if item.id not in seen]
    if missing:
        code = INTERRUPT_RESUME_INCOMPLETE if entries else INTERRUPT_RESUME_REQUIRED
        raise ResumeRefused(
            code, f"The thread has {len(missing)} open interrupt(s) the request does not answer: {', '.join(missing)}."
        )


_NO_ANSWER: Final = object()


def _legacy_answer(input: RunAgentInput) -> Any:
    """``forwardedProps.command.resume`` of a request without ``resume`` (``_NO_ANSWER`` when absent)."""
    if input.resume:
        return _NO_ANSWER
    props = input.forwarded_props if isinstance(input.forwarded_props, dict) else {}
    command = props.get("command")
    return command["resume"] if isinstance(command, dict) and "resume" in command else _NO_ANSWER


def has_legacy_resume(input: RunAgentInput) -> bool:
    """Whether the request answers in ``forwardedProps.command.resume`` (then :func:`with_legacy_resume`
    needs the stored thread)."""
    return _legacy_answer(input) is not _NO_ANSWER


def with_legacy_resume(input: RunAgentInput, thread: Thread | None) -> RunAgentInput:
    """A 0.0.x client's answer as ``resume``: ``forwardedProps.command.resume`` (CopilotKit's LangGraph
    convention) resolves every open interrupt with that value as the payload, or, given as a list of
    ``{interruptId, status, payload}`` entries, is taken as the ``resume`` array itself. Other inputs are
    returned as they are."""
    answer = _legacy_answer(input)
    if answer is _NO_ANSWER or thread is None or not thread.interrupts:
        return input
    try:
        entries = msgspec.convert(answer, list[ResumeEntry])
    except msgspec.ValidationError:
        entries = [ResumeEntry(interrupt_id=item.id, status="resolved", payload=answer) for item in thread.interrupts]
    return msgspec.structs.replace(input, resume=entries)


def answered_after(thread: Thread | None, resume: list[ResumeEntry] | None, run_id: str) -> list[AnsweredInterrupt]:
    """The answered interrupts a thread remembers once run ``run_id`` took ``resume`` (which
    :func:`check_resume` passed): each open interrupt with its answer (the newest ``MAX_ANSWERED``)."""
    earlier = thread.answered_interrupts if thread is not None else []
    if not resume or thread is None:
        return earlier
    answers = {entry.interrupt_id: entry for entry in resume}
    now = [
        AnsweredInterrupt(interrupt=item, answer=answers[item.id], run_id=run_id)
        for item in thread.interrupts
        if item.id in answers
    ]
    return [*earlier, *now][-MAX_ANSWERED:]
