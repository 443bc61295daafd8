"""CSV exports neutralise formula injection (OWASP): participants write the text, the
researcher opens the file in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from llm_platform.core.config import Settings
from llm_platform.db.models import Experiment, Query, Session
from llm_platform.services.export import ExportFormat, csv_cell, render
from tests.conftest import app_client
from tests.support.cli import run


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1,2)", "'@SUM(1,2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain text", "plain text"),
        ("", ""),
        (-5, -5),
        (1.5, 1.5),
        (None, None),
    ],
)
def test_csv_cell(value: Any, expected: Any) -> None:
    assert csv_cell(value) == expected


async def _records() -> AsyncIterator[dict[str, Any]]:
    yield {
        "kind": "session",
        "session_id": "s1",
        "user_id": "=user",
        "experiment_id": "+exp",
        "variant": "@arm",
        "environment": {},
        "title": '=HYPERLINK("http://evil")',
        "started_at": "2026-01-01T00:00:00+00:00",
        "ended_at": None,
    }
    yield {
        "kind": "event",
        "session_id": "s1",
        "user_id": "u",
        "experiment_id": None,
        "variant": None,
        "event_id": "-e1",
        "t": -1,
        "type": "=cmd()",
        "data": {"v": "=1"},
        "received_at": "2026-01-01T00:00:00+00:00",
    }


async def test_every_csv_cell_of_an_export_is_neutralised() -> None:
    body = b"".join([chunk async for chunk in render(_records(), ExportFormat.CSV)]).decode()
    rows = list(csv.reader(io.StringIO(body)))
    cells = [cell for row in rows[1:] for cell in row]

    def is_number(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return False
        return True

    risky = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r") and not is_number(c)]
    assert not risky, rows
    assert '\'=HYPERLINK("http://evil")' in cells and "'=cmd()" in cells
    event = rows[2]
    assert event[rows[0].index("t")] == "-1"  # an integer cell is not text: left as it is


async def test_jsonl_export_is_unchanged() -> None:
    body = b"".join([chunk async for chunk in render(_records(), ExportFormat.JSONL)])
    assert b'"title":"=HYPERLINK' in body


async def test_cli_csv_export_is_neutralised(
    cli_env: Callable[..., Result],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    """`llm-platform export --format csv` (the researcher's path) writes no live formula."""
    async with app_client(make_settings()) as client:
        db = client.app.state.platform.db
        async with db.write_sessions() as session, session.begin():
            session.add(Experiment(id="x1", name="X", owner_id="lab", variants=[{"name": "a"}]))
            session.add(Session(id="s1", user_id="=p1", experiment_id="x1", variant="a"))
            await session.flush()
            session.add(
                Query(
                    user_id="=p1",
                    session_id="s1",
                    experiment_id="x1",
                    provider="openai",
                    model="gpt-4o",
                    response_text='=HYPERLINK("http://evil","click")',
                )
            )
    target = tmp_path / "x1.csv"
    out = await run(cli_env, "export", "--experiment", "x1", "--format", "csv", "-o", str(target))
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    query_row = next(r for r in rows if r["kind"] == "query")
    assert query_row["text"] == '\'=HYPERLINK("http://evil","click")'
    assert {r["user_id"] for r in rows} == {"'=p1"}
