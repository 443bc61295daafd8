"""The web client's API types are generated from web/openapi.json, a committed snapshot of the
server's schema (the web build needs neither Python nor a server): it must be the schema the
code defines today, so a change to the API that the client does not see fails here."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from llm_platform.cli import app, openapi_schema

SNAPSHOT = Path(__file__).resolve().parents[2] / "web" / "openapi.json"


def test_committed_snapshot_is_the_current_schema() -> None:
    committed = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert committed == openapi_schema(), (
        "web/openapi.json differs from the API: run `make openapi` (regenerates the snapshot "
        "and the web client's types), then fix the web client where tsc complains"
    )


def test_cli_prints_the_schema(tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["openapi"], catch_exceptions=False)
    assert out.exit_code == 0
    assert json.loads(out.stdout) == openapi_schema()
    target = tmp_path / "openapi.json"
    assert CliRunner().invoke(app, ["openapi", "-o", str(target)]).exit_code == 0
    assert target.read_text(encoding="utf-8") == SNAPSHOT.read_text(encoding="utf-8")
