"""What a plain server (``agui-server serve``, the offline agent, threads in memory) never imports: the LLM
adapters' HTTP client (httpx, and with it rich and click's pretty printing), SQLite, the conformance runner,
JSON Patch before the first STATE_DELTA (issue 18: start-up RSS)."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
from agui_server.cli import build_parser
build_parser(check=False)
from agui_server import AGUIConfig, create_app
create_app(AGUIConfig())
print(" ".join(m for m in ("httpx", "rich", "sqlite3", "conformance", "jsonpatch", "agui_server.agents.openai")
               if m in sys.modules))
"""


def test_a_plain_server_imports_no_llm_client_sqlite_or_conformance_runner() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout
    assert out.split() == []


def test_the_lazy_names_still_import() -> None:
    import agui_server
    from agui_server import agents, runs

    assert agui_server.OpenAIAgent is agents.OpenAIAgent
    assert agui_server.AnthropicAgent.__name__ == "AnthropicAgent"
    assert agui_server.OpenAIResponsesAgent.__name__ == "OpenAIResponsesAgent"
    assert agui_server.SQLiteThreadStore is runs.SQLiteThreadStore
    assert set(agents.LLM_AGENTS) == {"openai", "openai-responses", "anthropic"}
