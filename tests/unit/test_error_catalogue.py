"""One catalogue of stable codes: every code the server answers is in it, and the README says the same."""

from __future__ import annotations

import re
from pathlib import Path

from agui_server.http.errors import HTTP_ERRORS
from agui_server.runs.codes import ErrorCode

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_error_table_gives_each_code_its_status() -> None:
    rows = re.findall(r"^\s*\| (\d{3}) \| ([^|]*) \|", README, re.MULTILINE)
    listed = {code: int(status) for status, cell in rows for code in re.findall(r"`([A-Z_]+)`", cell)}
    assert set(listed) == set(HTTP_ERRORS), set(listed) ^ set(HTTP_ERRORS)
    for code, status in listed.items():
        assert HTTP_ERRORS[code].status == status, code


def test_every_run_error_code_is_in_the_readme() -> None:
    missing = [code.value for code in ErrorCode if f"`{code.value}`" not in README]
    assert not missing


def test_every_code_the_endpoints_answer_is_in_the_catalogue() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "agui_server" / "http").glob("*.py"))
    used = set(re.findall(r'error_response\(\s*"([A-Z_]+)"', source))
    used |= set(re.findall(r'"(UNKNOWN_[A-Z]+)"', source))
    assert used
    assert used <= set(HTTP_ERRORS), used - set(HTTP_ERRORS)
