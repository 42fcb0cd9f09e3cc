"""Backend tools: plain typed Python functions the LLM adapters offer to the model and run on the server.

.. code-block:: python

    from agui_server.agents.tools import ToolContext, tool

    @tool
    async def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict:
        \"\"\"The current weather in a city.

        Args:
            city: the city's name, e.g. "Paris".
            unit: the temperature unit.
        \"\"\"
        return {"city": city, "temperature": 21, "unit": unit}

    agent = OpenAIAgent(model="gpt-4o-mini", tools=[get_weather])

- The JSON Schema the model sees comes from the signature (through a msgspec Struct built from it),
  the description from the docstring's first paragraph and each parameter's from its ``Args:`` entry.
- The model's arguments are validated against the same Struct. Invalid arguments, an exception raised
  by the tool and a tool that takes too long all become the tool's result, marked as an error, so the
  model can see what went wrong and try again; the run goes on. The text of the exception reaches the
  model and the client: raise :class:`ToolError` with a message written for them.
- A tool may be ``async`` or plain; a plain one runs in a worker thread so it cannot stall the server.
- A parameter annotated :class:`ToolContext` is not part of the schema: it receives the call's context,
  through which a long tool reports progress (``ACTIVITY_SNAPSHOT``), marks steps (``STEP_STARTED`` /
  ``STEP_FINISHED``) or emits any other AG-UI event.
- The calls of one model turn run concurrently; their results come back in the order they finish.
- ``@tool(requires_approval=True)`` (or a function of the call's arguments that says whether this call
  needs one) asks the client before the tool runs: the run ends with an interrupt carrying the call
  (reason ``tool_approval``, id ``approve-<toolCallId>``); the answer ``{"approved": true}`` (optionally
  with edited ``"arguments"``) runs it and the model goes on, anything else gives the model a refusal.
  A call whose run ended before it reported a result is never run again: its outcome is unknown, and the
  model and the client are told so.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import threading
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, overload

import msgspec

from agui_server.observability.telemetry import ToolCall
from agui_server.protocol import events as ev

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
    from types import TracebackType

    from agui_server.agents._llm_http import Deadline
    from agui_server.agents.base import RunContext

__all__ = (
    "BackendTool",
    "ToolCallRequest",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "run_tool_calls",
    "tool",
    "toolset",
)

logger = logging.getLogger("agui_server.agents.tools")

_PROGRESS_ACTIVITY: Final = "tool-progress"
_MAX_ERROR_TEXT: Final = 1000
_SECTION: Final = re.compile(
    r"^\s*(Args|Arguments|Parameters|Returns|Yields|Raises|Examples?|Notes?|Attributes):\s*$", re.IGNORECASE
)
_ARG_LINE: Final = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


class ToolError(Exception):
    """Raise it from a tool to hand the model (and the client) this message as the failed result."""


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    """A tool call the model made: its id, the tool's name and the arguments' JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a backend tool call produced: the content the model (and the client) sees, and whether it is
    an error (then the content starts with ``Error:``)."""

    call: ToolCallRequest
    content: str
    is_error: bool = False


# --- the schema --------------------------------------------------------------------------------


def _docstring_parts(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The docstring's first paragraph and its Google-style ``Args:`` entries."""
    summary: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    entry_indent = 0
    for line in (inspect.getdoc(fn) or "").splitlines():
        stripped = line.strip()
        header = _SECTION.match(line)
        if header:
            section, current = header.group(1).lower(), None
        elif section is None:
            if stripped:
                summary.append(stripped)
            elif summary:
                section = "description"  # the first paragraph is over
        elif section in ("args", "arguments", "parameters") and stripped:
            indent = len(line) - len(line.lstrip())
            match = _ARG_LINE.match(stripped)
            if match and (current is None or indent <= entry_indent):
                current, entry_indent = match.group(1).lstrip("*"), indent
                args[current] = match.group(2).strip()
            elif current is not None:
                args[current] = f"{args[current]} {stripped}".strip()
    return " ".join(summary), args


def _is_context(annotation: Any) -> bool:
    if annotation is ToolContext:
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        return _is_context(typing.get_args(annotation)[0])
    return False


def _inline_schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    schema = msgspec.json.schema(struct)
    definitions: dict[str, Any] = schema.pop("$defs", {})
    ref = schema.get("$ref", "")
    top: dict[str, Any] = definitions.pop(ref.rsplit("/", 1)[-1], schema) if ref else schema
    top = {key: value for key, value in top.items() if key != "title"}
    top.setdefault("properties", {})
    if definitions:
        top["$defs"] = definitions
    return top


@dataclass(frozen=True, slots=True)
class BackendTool:
    """A Python function offered to the model as a tool. Build it with :func:`tool`.

    Calling the ``BackendTool`` calls the function, so a decorated function keeps working as before.
    """

    fn: Callable[..., Any]
    name: str
    description: str
    parameters: dict[str, Any]
    """The JSON Schema of the arguments (an ``object`` schema)."""
    timeout: float | None = None
    """Seconds the tool may take; past that its result is an error the model sees."""
    arguments_type: type[msgspec.Struct] = field(default=msgspec.Struct, repr=False)
    context_parameter: str | None = field(default=None, repr=False)
    positional: tuple[str, ...] = field(default=(), repr=False)
    requires_approval: bool | Callable[[dict[str, Any]], bool] = False
    """Ask the client before running a call (``True``), or a function of the call's arguments that says
    whether this call needs it."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def needs_approval(self, arguments: str) -> bool:
        """Whether the call with these arguments (JSON text) waits for the client's approval; arguments that
        cannot be read need it whenever the policy is not a plain ``False``."""
        policy = self.requires_approval
        if not callable(policy):
            return bool(policy)
        try:
            decoded = msgspec.json.decode(arguments.strip() or "{}")
        except msgspec.DecodeError:
            return True
        return bool(policy(decoded if isinstance(decoded, dict) else {}))

    async def invoke(self, arguments: str, context: ToolContext) -> tuple[str, bool]:
        """Validate the model's arguments, run the function, and render its result: ``(content, is_error)``."""
        try:
            parsed = msgspec.json.decode(arguments.strip() or "{}", type=self.arguments_type)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return f"Invalid arguments for the tool {self.name}: {exc}", True
        values = {name: getattr(parsed, name) for name in self.arguments_type.__struct_fields__}
        if self.context_parameter is not None:
            values[self.context_parameter] = context
        args = [values.pop(name) for name in self.positional]
        try:
            async with asyncio.timeout(self.timeout):
                if inspect.iscoroutinefunction(self.fn):
                    result = await self.fn(*args, **values)
                else:
                    result = await asyncio.to_thread(self.fn, *args, **values)
                    if inspect.isawaitable(result):
                        result = await result
        except ToolError as exc:
            return str(exc) or f"The tool {self.name} failed.", True
        except TimeoutError:
            return f"The tool {self.name} took longer than {self.timeout:g} seconds and was stopped.", True
        except Exception as exc:
            logger.warning("backend tool %s raised", self.name, exc_info=True)
            text = f"The tool {self.name} failed: {type(exc).__name__}: {exc}"
            return text[:_MAX_ERROR_TEXT], True
        return _render(result), False


def _enc_hook(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # pydantic models
    if callable(dump):
        return dump(mode="json")
    return str(value)


def _render(result: Any) -> str:
    if isinstance(result, str):
        return result
    return msgspec.json.encode(result, enc_hook=_enc_hook).decode()


@overload
def tool(fn: Callable[..., Any], /) -> BackendTool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    requires_approval: bool | Callable[[dict[str, Any]], bool] = False,
) -> Callable[[Callable[..., Any]], BackendTool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    requires_approval: bool | Callable[[dict[str, Any]], bool] = False,
) -> BackendTool | Callable[[Callable[..., Any]], BackendTool]:
    """Make a function a backend tool; use as ``@tool`` or ``@tool(name=..., timeout=...)``.

    Args:
        fn: the function; every parameter needs a type msgspec can describe (``str``, ``int``,
            ``Literal``, ``list[...]``, Structs, dataclasses, ``TypedDict``, ``Annotated[..., Meta]``...).
        name: the tool's name for the model (default: the function's name).
        description: what the tool does (default: the docstring's first paragraph).
        timeout: seconds the tool may run; past that the model gets an error result.
        requires_approval: ask the client before each call (``True``), or a function of the call's
            arguments (a dict) that says whether this call needs it.

    Raises:
        TypeError: the signature has ``*args``/``**kwargs`` or a type msgspec cannot describe.
    """

    def build(function: Callable[..., Any]) -> BackendTool:
        if isinstance(function, BackendTool):
            return function
        tool_name = name or getattr(function, "__name__", None)
        if not tool_name:
            raise TypeError(f"{function!r} has no __name__: pass name=")
        summary, arg_docs = _docstring_parts(function)
        try:
            hints = typing.get_type_hints(function, include_extras=True)
        except NameError as exc:
            raise TypeError(
                f"tool {tool_name}: cannot resolve an annotation ({exc}); define its types at module level"
            ) from exc
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        context_parameter: str | None = None
        positional: list[str] = []
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise TypeError(f"tool {tool_name}: *args and **kwargs cannot be described to a model")
            annotation = hints.get(parameter.name, Any)
            if _is_context(annotation):
                context_parameter = parameter.name
                continue
            if parameter.kind is parameter.POSITIONAL_ONLY:
                positional.append(parameter.name)
            doc = arg_docs.get(parameter.name)
            if doc:
                annotation = typing.Annotated[annotation, msgspec.Meta(description=doc)]
            if parameter.default is parameter.empty:
                fields.append((parameter.name, annotation))
            else:
                fields.append((parameter.name, annotation, parameter.default))
        arguments_type = msgspec.defstruct(f"{tool_name}Arguments", fields, kw_only=True)
        try:
            parameters = _inline_schema(arguments_type)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"tool {tool_name}: {exc}") from exc
        return BackendTool(
            fn=function,
            name=tool_name,
            description=description or summary or tool_name,
            parameters=parameters,
            timeout=timeout,
            arguments_type=arguments_type,
            context_parameter=context_parameter,
            positional=tuple(positional),
            requires_approval=requires_approval,
        )

    if fn is not None:
        return build(fn)
    return build


def toolset(tools: Iterable[BackendTool | Callable[..., Any]]) -> dict[str, BackendTool]:
    """Backend tools by name (plain functions are made tools with :func:`tool`).

    Raises:
        ValueError: two tools share a name.
    """
    by_name: dict[str, BackendTool] = {}
    for item in tools:
        backend = item if isinstance(item, BackendTool) else tool(item)
        if backend.name in by_name:
            raise ValueError(f"two backend tools are named {backend.name!r}")
        by_name[backend.name] = backend
    return by_name


# --- the context a tool may ask for ------------------------------------------------------------


class _Step:
    """``STEP_STARTED`` on entry, ``STEP_FINISHED`` on exit; works with ``with`` and ``async with``."""

    __slots__ = ("_context", "_name", "name")

    def __init__(self, context: ToolContext, name: str) -> None:
        self._context = context
        self._name = name
        self.name = name

    def __enter__(self) -> _Step:
        self.name = self._context._claim_step(self._name)
        self._context.emit(ev.StepStartedEvent(step_name=self.name))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._context.emit(ev.StepFinishedEvent(step_name=self.name))
        self._context._release_step(self.name)

    async def __aenter__(self) -> _Step:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class ToolContext:
    """What a running backend tool can do besides returning: report progress, mark steps, emit events.

    Safe to use from a plain (threaded) tool as well as from an ``async`` one.
    """

    __slots__ = ("_activity_id", "_loop", "_queue", "_steps", "_thread", "call", "run")

    def __init__(
        self,
        call: ToolCallRequest,
        run: RunContext,
        queue: asyncio.Queue[ev.Event | ToolResult],
        steps: set[str],
    ) -> None:
        self.call = call
        """The call being served: its id, the tool's name and the raw arguments."""
        self.run = run
        """The run's context (thread id, run id, id minting)."""
        self._queue = queue
        self._steps = steps
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._activity_id = run.new_id("activity")

    def emit(self, event: ev.Event) -> None:
        """Send any AG-UI event to the client now (it must fit the run's ordering rules)."""
        if threading.get_ident() == self._thread:
            self._queue.put_nowait(event)
        else:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    def progress(self, message: str, *, fraction: float | None = None, **data: Any) -> None:
        """Show how far the tool has come: an ``ACTIVITY_SNAPSHOT`` (type ``tool-progress``) the client
        renders in place, replaced by the next call. ``data`` adds JSON-able fields to its content."""
        content: dict[str, Any] = {"toolCallId": self.call.id, "toolName": self.call.name, "message": message}
        if fraction is not None:
            content["fraction"] = min(1.0, max(0.0, fraction))
        content.update(data)
        self.emit(
            ev.ActivitySnapshotEvent(message_id=self._activity_id, activity_type=_PROGRESS_ACTIVITY, content=content)
        )

    def step(self, name: str) -> _Step:
        """A named step around a block: ``async with ctx.step("fetching"):`` (or plain ``with``).

        Steps of calls that run at the same time get distinct names (``"fetching (2)"``)."""
        return _Step(self, name)

    def _claim_step(self, name: str) -> str:
        unique, n = name, 1
        while unique in self._steps:
            n += 1
            unique = f"{name} ({n})"
        self._steps.add(unique)
        return unique

    def _release_step(self, name: str) -> None:
        self._steps.discard(name)


# --- running one turn's calls ------------------------------------------------------------------


async def run_tool_calls(
    calls: Sequence[ToolCallRequest],
    tools: Mapping[str, BackendTool],
    run: RunContext,
    deadline: Deadline,
) -> AsyncIterator[ev.Event | ToolResult]:
    """Run ``calls`` concurrently; yield the events the tools emit and each :class:`ToolResult` as it comes.

    A call to a tool that is not in ``tools`` gets an error result naming the tools there are. Leaving
    the iteration early (cancellation, the run's end) cancels the calls still running.

    Raises:
        TimeoutError: the run's deadline passed while tools were running.
    """
    queue: asyncio.Queue[ev.Event | ToolResult] = asyncio.Queue()
    steps: set[str] = set()

    async def one(call: ToolCallRequest) -> None:
        backend = tools.get(call.name)
        with ToolCall(call.name, call.id) as traced:  # its span (current while the tool runs) and metric
            try:
                if backend is None:
                    known = ", ".join(sorted(tools)) or "none"
                    content, is_error = f"There is no tool named {call.name!r}. Available tools: {known}.", True
                else:
                    content, is_error = await backend.invoke(call.arguments, ToolContext(call, run, queue, steps))
            except Exception as exc:  # invoke() catches the tool's own failures; this is a last resort
                logger.exception("running backend tool %s failed", call.name)
                content, is_error = f"The tool {call.name} failed: {type(exc).__name__}", True
            traced.error = is_error
        queue.put_nowait(ToolResult(call, f"Error: {content}" if is_error else content, is_error))

    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(one(call), name=f"agui-tool-{call.name}") for call in calls]
    try:
        waiting = len(tasks)
        while waiting:
            async with deadline.bound():
                item = await queue.get()
            if isinstance(item, ToolResult):
                waiting -= 1
            yield item
        while not queue.empty():  # events a threaded tool scheduled just before it returned
            yield queue.get_nowait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
