"""Settings from the environment and ``.env``: the AGUI_ names and the plain ones many SSE servers use."""

from __future__ import annotations

from pathlib import Path

from agui_server.settings import Settings


def test_plain_port_host_and_allowed_origins_from_a_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "PORT=8123\nHOST=0.0.0.0\nALLOWED_ORIGINS=http://localhost:3000,http://localhost:5173\nANTHROPIC_API_KEY=x\n"
    )
    settings = Settings.load(environ={}, dotenv=dotenv)
    assert settings.port == 8123
    assert settings.host == "0.0.0.0"
    assert settings.allowed_origins == ["http://localhost:3000", "http://localhost:5173"]


def test_the_agui_names_win_over_the_plain_ones(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("PORT=8123\n")
    settings = Settings.load(environ={"AGUI_PORT": "9000", "HOST": "127.0.0.2"}, dotenv=dotenv)
    assert settings.port == 9000
    assert settings.host == "127.0.0.2"


def test_the_environment_wins_over_the_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("PORT=8123\n")
    assert Settings.load(environ={"PORT": "8200"}, dotenv=dotenv).port == 8200
