"""An agent that asks before it acts: its first run ends with an interrupt, the next one acts on the answer."""

from __future__ import annotations

from typing import Any

from agui_server import interrupt

SCHEMA = {"type": "object", "properties": {"approved": {"type": "boolean"}}, "required": ["approved"]}


async def asks_first(input: Any, ctx: Any) -> Any:
    """Ask for approval (``forwardedProps.expires_in`` seconds to answer, ``forwardedProps.questions`` of them);
    on the answer, say what was decided."""
    props = input.forwarded_props if isinstance(input.forwarded_props, dict) else {}
    if not input.resume:
        yield "May I send the email?"
        for n in range(int(props.get("questions", 1))):
            yield interrupt(
                "approval",
                "Send the email to the team?",
                id=f"ask-{input.thread_id}-{n}",
                response_schema=SCHEMA,
                expires_in=props.get("expires_in"),
            )
        return
    for entry in input.resume:
        payload = entry.payload if isinstance(entry.payload, dict) else {}
        if entry.status == "cancelled":
            yield f"{entry.interrupt_id}: cancelled. "
        elif payload.get("approved"):
            yield f"{entry.interrupt_id}: sent. "
        else:
            yield f"{entry.interrupt_id}: not sent. "
