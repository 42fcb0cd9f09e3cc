"""Human in the loop: a run that stops to ask, and the next run that acts on the answer.

Run it with ``uv run uvicorn examples.approvals:app`` and try it with curl (README: "Human in the loop").

The offline agent here asks before it "sends" an email: its first run ends with ``RUN_FINISHED``
``outcome: {"type": "interrupt", ...}``; the next request on the thread must answer the interrupt in
``resume`` (``409 INTERRUPT_RESUME_REQUIRED`` otherwise). With a real model, mark the tool instead:
``OpenAIAgent("gpt-4o-mini", tools=[send_email])`` asks the same way before every ``send_email`` call
and runs it only once approved.
"""

from __future__ import annotations

from typing import Any

from agui_server import AGUIConfig, RunAgentInput, RunContext, create_app, interrupt
from agui_server.agents.tools import tool

__all__ = ("app", "mail_agent", "send_email")

APPROVAL = {
    "type": "object",
    "properties": {"approved": {"type": "boolean"}, "to": {"type": "string"}},
    "required": ["approved"],
}


@tool(requires_approval=True)
async def send_email(to: str, subject: str) -> str:
    """Send an email (here: pretend to).

    Args:
        to: the address.
        subject: the subject line.
    """
    return f"Sent '{subject}' to {to}."


async def mail_agent(input: RunAgentInput, ctx: RunContext) -> Any:
    """Ask before sending; send (or not) once answered."""
    if not input.resume:
        yield "I have an email for team@example.com ready. "
        yield interrupt(
            "approval",
            "Send the email to team@example.com?",
            id=f"send-{ctx.run_id}",
            response_schema=APPROVAL,
            expires_in=3600,
        )
        return
    answer = input.resume[0]
    payload = answer.payload if isinstance(answer.payload, dict) else {}
    if answer.status == "resolved" and payload.get("approved"):
        yield await send_email(payload.get("to") or "team@example.com", "Hello")
    else:
        yield "Not sent."


app = create_app(AGUIConfig(agent=mail_agent))
