"""Agents the multi-process tests load by reference (``tests.support.agents:slow``)."""

from __future__ import annotations

import asyncio
from typing import Any

from agui_server.protocol import events as ev


async def counting(input: Any, ctx: Any) -> Any:
    """2,000 numbered pieces of text, with small pauses so that streams can be cut while live."""
    message_id = ctx.new_id("msg")
    yield ev.TextMessageStartEvent(message_id=message_id)
    for n in range(2_000):
        if n % 50 == 0:
            await asyncio.sleep(0.002)
        yield ev.TextMessageContentEvent(message_id=message_id, delta=f"{n} ")
    yield ev.TextMessageEndEvent(message_id=message_id)


async def slow(input: Any, ctx: Any) -> Any:
    """One token every 50 ms (``forwardedProps.tokens`` of them, default 100)."""
    props = input.forwarded_props if isinstance(input.forwarded_props, dict) else {}
    for n in range(int(props.get("tokens", 100))):
        yield f"t{n} "
        await asyncio.sleep(0.05)


async def repeatable(input: Any, ctx: Any) -> Any:
    """Like ``slow``, and safe to run again from the start after its worker died."""
    async for piece in slow(input, ctx):
        yield piece


repeatable.safe_to_repeat = True  # type: ignore[attr-defined]
