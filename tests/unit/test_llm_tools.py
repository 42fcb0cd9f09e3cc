"""Backend tools: the schema from the signature, validation, failures as results, progress, concurrency."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
import pytest

from agui_server.agents._llm_http import Deadline
from agui_server.agents.base import RunContext
from agui_server.agents.tools import (
    BackendTool,
    ToolCallRequest,
    ToolContext,
    ToolError,
    ToolResult,
    run_tool_calls,
    tool,
    toolset,
)
from agui_server.protocol import events as ev


class Opaque:
    """A type msgspec cannot describe."""


@dataclass
class Place:
    name: str
    country: str = "FR"


async def weather(
    city: str,
    days: int = 1,
    unit: Literal["celsius", "fahrenheit"] = "celsius",
    places: list[Place] | None = None,
    note: Annotated[str, msgspec.Meta(max_length=10)] = "",
) -> dict[str, Any]:
    """Look up the weather.

    More detail that the model does not need.

    Args:
        city: the city's name, e.g. "Paris".
        days: how many days
            of forecast.
        unit: the temperature unit.

    Returns:
        The forecast.
    """
    return {"city": city, "days": days, "unit": unit}


def test_the_schema_comes_from_the_signature_and_docstring() -> None:
    backend = tool(weather)
    assert backend.name == "weather"
    assert backend.description == "Look up the weather."
    schema = backend.parameters
    assert schema["type"] == "object"
    assert schema["required"] == ["city"]
    assert schema["properties"]["city"] == {"type": "string", "description": 'the city\'s name, e.g. "Paris".'}
    assert schema["properties"]["days"] == {
        "type": "integer",
        "description": "how many days of forecast.",
        "default": 1,
    }
    assert schema["properties"]["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert schema["properties"]["note"]["maxLength"] == 10
    assert "Place" in schema["$defs"]
    assert "title" not in schema
    msgspec.json.encode(schema)  # plain JSON


def test_decorator_options_and_the_function_stays_callable() -> None:
    @tool(name="lookup", description="Find things.", timeout=3)
    def find(query: str) -> str:
        return query.upper()

    assert isinstance(find, BackendTool)
    assert (find.name, find.description, find.timeout) == ("lookup", "Find things.", 3)
    assert find("abc") == "ABC"
    assert tool(find) is find


def test_context_parameters_are_not_in_the_schema() -> None:
    def slow(city: str, ctx: ToolContext) -> str:
        return city

    backend = tool(slow)
    assert list(backend.parameters["properties"]) == ["city"]
    assert backend.context_parameter == "ctx"


def test_signatures_that_cannot_be_described_are_refused() -> None:
    def varargs(*cities: str) -> str:
        return ""

    with pytest.raises(TypeError, match="args"):
        tool(varargs)

    def opaque(thing: Opaque) -> str:
        return ""

    with pytest.raises(TypeError, match="opaque"):
        tool(opaque)

    class Local:
        pass

    def local(thing: Local) -> str:
        return ""

    with pytest.raises(TypeError, match="module level"):
        tool(local)


def test_toolset_names_must_be_unique() -> None:
    def a(x: int) -> int:
        return x

    assert list(toolset([a, weather])) == ["a", "weather"]
    with pytest.raises(ValueError, match="'a'"):
        toolset([a, tool(name="a")(weather)])


def _context(name: str = "weather") -> ToolContext:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    return ToolContext(ToolCallRequest("c1", name, "{}"), RunContext(thread_id="t", run_id="r"), queue, set())


async def test_arguments_are_validated_and_converted() -> None:
    backend = tool(weather)
    content, is_error = await backend.invoke('{"city": "Paris", "days": 3}', _context())
    assert (msgspec.json.decode(content), is_error) == ({"city": "Paris", "days": 3, "unit": "celsius"}, False)
    content, is_error = await backend.invoke('{"city": 3}', _context())
    assert is_error
    assert content == "Invalid arguments for the tool weather: Expected `str`, got `int` - at `$.city`"
    content, is_error = await backend.invoke("{not json", _context())
    assert is_error
    assert content.startswith("Invalid arguments for the tool weather:")
    content, is_error = await backend.invoke("", _context())  # no arguments at all: {} (city is missing)
    assert is_error
    assert "missing required field `city`" in content


async def test_failures_become_results() -> None:
    @tool
    def raises_tool_error(city: str) -> str:
        raise ToolError("unknown city")

    @tool
    async def raises(city: str) -> str:
        raise KeyError(city)

    @tool(timeout=0.05)
    async def too_slow(city: str) -> str:
        await asyncio.sleep(5)
        return "never"

    assert await raises_tool_error.invoke('{"city": "x"}', _context()) == ("unknown city", True)
    assert await raises.invoke('{"city": "x"}', _context()) == ("The tool raises failed: KeyError: 'x'", True)
    assert await too_slow.invoke('{"city": "x"}', _context()) == (
        "The tool too_slow took longer than 0.05 seconds and was stopped.",
        True,
    )


async def test_results_are_rendered_as_json() -> None:
    @tool
    def place(name: str) -> Place:
        return Place(name)

    @tool
    def nothing() -> None:
        return None

    assert await place.invoke('{"name": "Lyon"}', _context()) == ('{"name":"Lyon","country":"FR"}', False)
    assert await nothing.invoke("{}", _context()) == ("null", False)


async def test_plain_functions_run_in_a_thread_and_may_report_progress() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    @tool
    def blocking(city: str, ctx: ToolContext) -> str:
        seen.append(threading.get_ident())
        with ctx.step("fetch"):
            ctx.progress("halfway", fraction=0.5, source="station")
            time.sleep(0.01)
        return city

    calls = [ToolCallRequest("c1", "blocking", '{"city": "Oslo"}')]
    items = [
        item
        async for item in run_tool_calls(
            calls, {"blocking": blocking}, RunContext(thread_id="t", run_id="r"), Deadline(5)
        )
    ]
    assert seen
    assert seen[0] != loop_thread
    assert [type(i).__name__ for i in items] == [
        "StepStartedEvent",
        "ActivitySnapshotEvent",
        "StepFinishedEvent",
        "ToolResult",
    ]
    activity = items[1]
    assert isinstance(activity, ev.ActivitySnapshotEvent)
    assert activity.content == {
        "toolCallId": "c1",
        "toolName": "blocking",
        "message": "halfway",
        "fraction": 0.5,
        "source": "station",
    }
    assert items[-1] == ToolResult(calls[0], "Oslo", False)


async def test_calls_run_concurrently_with_distinct_step_names() -> None:
    started = 0
    both_running = asyncio.Event()

    @tool
    async def wait(label: str, ctx: ToolContext) -> str:
        nonlocal started
        async with ctx.step("waiting"):
            started += 1
            if started == 2:
                both_running.set()
            await asyncio.wait_for(both_running.wait(), 2)
        return label

    calls = [ToolCallRequest("a", "wait", '{"label": "A"}'), ToolCallRequest("b", "wait", '{"label": "B"}')]
    calls.append(ToolCallRequest("c", "nope", "{}"))
    items = [
        item async for item in run_tool_calls(calls, {"wait": wait}, RunContext(thread_id="t", run_id="r"), Deadline(5))
    ]
    steps = [i.step_name for i in items if isinstance(i, ev.StepStartedEvent)]
    assert steps == ["waiting", "waiting (2)"]
    results = {i.call.id: i for i in items if isinstance(i, ToolResult)}
    assert results["a"].content == "A"
    assert results["c"].is_error
    assert results["c"].content == "Error: There is no tool named 'nope'. Available tools: wait."


async def test_leaving_early_cancels_the_running_calls() -> None:
    cancelled = asyncio.Event()

    @tool
    async def forever(x: int) -> str:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return ""

    calls = [ToolCallRequest("a", "forever", '{"x": 1}')]
    with pytest.raises(TimeoutError):
        async for _ in run_tool_calls(
            calls, {"forever": forever}, RunContext(thread_id="t", run_id="r"), Deadline(0.05)
        ):
            pass
    assert cancelled.is_set()
