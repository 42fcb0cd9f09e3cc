"""The playground page's routes (``AGUIConfig.playground``): off by default, the page and its files served as
they are in the package, its agents endpoint behind the authenticator, ``playground`` reserved as an agent id."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

from agui_server import AGUIConfig, create_app
from agui_server.http.auth import BearerTokens
from tests.support.server import running_server

FILES = resources.files("agui_server.http.playground")
ROOT = Path(__file__).resolve().parents[2]


def app(**extra: Any) -> Any:
    return create_app(AGUIConfig(log_requests=False, **extra))


async def test_the_playground_is_off_unless_asked() -> None:
    async with running_server(app()) as base, httpx.AsyncClient(base_url=base) as client:
        for path in ("/ag-ui/playground", "/ag-ui/playground/playground.js", "/ag-ui/playground/agents"):
            assert (await client.get(path)).status_code in (404, 405), path  # 405: POST <path>/{agentId} is there
    AGUIConfig(agents={"playground": object()})  # an agent may take the id while the page is off


async def test_the_page_and_its_files_are_the_packaged_ones_with_the_api_path_filled_in() -> None:
    async with (
        running_server(app(playground=True, path="/api/agui")) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        page = await client.get("/api/agui/playground")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "connect-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert '<meta name="agui-path" content="/api/agui">' in page.text
        assert '<script type="module" src="/api/agui/playground/playground.js">' in page.text
        assert "{{" not in page.text
        for name, media in (("playground.js", "text/javascript"), ("playground.css", "text/css")):
            asset = await client.get(f"/api/agui/playground/{name}")
            assert asset.status_code == 200
            assert asset.headers["content-type"].startswith(media)
            assert asset.content == FILES.joinpath(name).read_bytes()
        assert (await client.get("/api/agui/playground/index.html")).status_code == 404
        agents = await client.get("/api/agui/playground/agents")
        assert agents.json() == {
            "agents": ["default"], "defaultAgent": "default", "principal": "anonymous", "authenticated": False,
        }  # fmt: skip


async def test_with_an_authenticator_the_page_loads_and_everything_it_shows_needs_a_token() -> None:
    config = app(playground=True, auth=BearerTokens.parse("alice-token alice"), agents={"second": _nothing})
    async with running_server(config) as base, httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/ag-ui/playground")).status_code == 200  # static code, no data
        refused = await client.get("/ag-ui/playground/agents")
        assert refused.status_code == 401
        assert refused.json()["code"] == "UNAUTHENTICATED"
        agents = await client.get("/ag-ui/playground/agents", headers={"authorization": "Bearer alice-token"})
        assert agents.json() == {
            "agents": ["default", "second"], "defaultAgent": "default", "principal": "alice", "authenticated": True,
        }  # fmt: skip
        # another site's page cannot read the agents with the user's credential either
        cross = await client.get(
            "/ag-ui/playground/agents",
            headers={"authorization": "Bearer alice-token", "sec-fetch-site": "cross-site", "origin": "http://evil"},
        )
        assert cross.status_code == 403


async def _nothing(input: Any, ctx: Any) -> Any:
    yield "nothing"


def test_playground_is_a_reserved_agent_id_when_the_page_is_on() -> None:
    with pytest.raises(ValueError, match="'playground' cannot be an agent id"):
        AGUIConfig(playground=True, agents={"playground": object()})


def test_the_wheel_carries_the_page(tmp_path: Path) -> None:
    """The wheel built from this checkout (``uv build``) holds the page's files as they are here."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH (the project's tests run under uv)")
    subprocess.run([uv, "build", "--wheel", "-q", "-o", str(tmp_path)], cwd=ROOT, check=True, timeout=120)
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for name in ("index.html", "playground.css", "playground.js"):
            assert archive.read(f"agui_server/http/playground/{name}") == FILES.joinpath(name).read_bytes(), name
