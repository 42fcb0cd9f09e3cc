"""The public API is what ``__all__`` says, sorted, and every name in it exists."""

from __future__ import annotations

import agui_server
import agui_server.agents
import agui_server.dialects
import agui_server.http
import agui_server.protocol
import agui_server.runs
import conformance
from agui_server.dialects import (
    ChatEvents,
    Dialect,
    EventEnvelope,
    MessageEvents,
    ReaderExtras,
    StreamInfo,
    ThreadMessages,
)
from agui_server.dialects.view import DialectView
from agui_server.runs import Feed, FrameSource, RunBackend, RunLog, RunManager, ThreadStore
from agui_server.runs.sqlite_threads import SQLiteThreadStore
from agui_server.runs.threads import MemoryThreadStore


def test_public_names_exist() -> None:
    for module in (
        agui_server,
        agui_server.agents,
        agui_server.dialects,
        agui_server.http,
        agui_server.protocol,
        agui_server.runs,
        conformance,
    ):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_top_level_all_is_sorted() -> None:
    assert list(agui_server.__all__) == sorted(agui_server.__all__)


def test_backends_implement_the_interfaces(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(RunManager(), RunBackend)
    assert isinstance(RunLog(), FrameSource)
    assert isinstance(Feed(), FrameSource)
    assert isinstance(DialectView(RunLog(), ChatEvents(), StreamInfo("run")), FrameSource)
    for dialect in (ChatEvents(), EventEnvelope(), MessageEvents(), ReaderExtras(), ThreadMessages()):
        assert isinstance(dialect, Dialect)
    assert isinstance(MemoryThreadStore(), ThreadStore)
    assert isinstance(SQLiteThreadStore(tmp_path / "t.db"), ThreadStore)


def test_every_run_error_code_an_adapter_sends_is_a_documented_error_code() -> None:
    from agui_server.agents import errors
    from agui_server.runs import ErrorCode

    assert set(errors.LLM_ERROR_CODES) <= {code.value for code in ErrorCode}
