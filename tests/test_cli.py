"""The `llm-platform` command line, run in-process with typer's CliRunner on a temp DATA_DIR."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from llm_platform import __version__
from llm_platform.cli import app
from llm_platform.core.config import Settings
from llm_platform.db.models import Query
from tests.conftest import app_client, staff_headers
from tests.support.cli import run, runner
from tests.support.events import ev


def test_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0 and result.output.strip() == __version__


async def test_users_create_list_revoke(
    cli_env: Callable[..., Result], make_settings: Callable[..., Settings]
) -> None:
    created = await run(cli_env, "users", "create", "alice", "--name", "Alice")
    assert created.exit_code == 0, created.output
    header, key = created.output.strip().splitlines()
    assert header.startswith("user=alice role=researcher key_id=")
    key_id = header.split("key_id=")[1]
    assert key.startswith("lp_") and len(key) > 40
    admin = await run(cli_env, "users", "create", "root", "--role", "admin")
    assert admin.exit_code == 0 and "role=admin" in admin.output
    admin_key = admin.output.strip().splitlines()[1]
    second = await run(cli_env, "users", "create", "alice")
    assert second.exit_code == 0
    second_key = second.output.strip().splitlines()[1]

    listed = await run(cli_env, "users", "list")
    assert listed.exit_code == 0
    assert key not in listed.output and admin_key not in listed.output  # never shown again
    rows = [line.split("\t") for line in listed.output.strip().splitlines()]
    assert [(r[0], r[3], r[4]) for r in rows] == [
        ("alice", "researcher", "active"),
        ("alice", "researcher", "active"),
        ("root", "admin", "active"),
    ]
    assert rows[0][1] == key_id and key.startswith(rows[0][2].rstrip("…"))

    bad_role = await run(cli_env, "users", "create", "eve", "--role", "boss")
    assert bad_role.exit_code == 2 and "role must be one of" in bad_role.output
    participant = await run(cli_env, "users", "create", "pat", "--role", "participant")
    assert participant.exit_code == 0 and "role=participant" in participant.output
    bad_id = await run(cli_env, "users", "create", "eve\x00x")
    assert bad_id.exit_code == 2 and "user id" in bad_id.output

    # The keys work against the server (same database), until revoked.
    async with app_client(make_settings(AUTH_MODE="api_key")) as client:
        auth = {"Authorization": f"Bearer {key}"}
        r = await client.post("/api/v1/sessions", json={"session_id": "alice:cli-s"}, headers=auth)
        assert r.status_code == 201 and r.json()["user_id"] == "alice"

        revoked = await run(cli_env, "users", "revoke-key", key_id)
        assert revoked.exit_code == 0 and "revoked 1 key(s)" in revoked.output
        assert (await client.get("/api/v1/sessions", headers=auth)).status_code == 401
        other = {"Authorization": f"Bearer {second_key}"}
        assert (await client.get("/api/v1/sessions", headers=other)).status_code == 200
        root = {"Authorization": f"Bearer {admin_key}"}
        assert (await client.get("/api/v1/sessions/alice:cli-s", headers=root)).status_code == 200

    again = await run(cli_env, "users", "revoke-key", key_id)
    assert again.exit_code == 1 and "no active key matches" in again.output
    listed = await run(cli_env, "users", "list")
    states = [line.split("\t")[4] for line in listed.output.strip().splitlines()]
    assert states == ["revoked", "active", "active", "active"]


async def test_db_upgrade(cli_env: Callable[..., Result]) -> None:
    from llm_platform.db.migrate import head_revision

    result = await run(cli_env, "db", "upgrade")
    assert result.exit_code == 0
    assert result.output.strip() == f"database at revision {head_revision()}"


async def test_export_experiment_jsonl_and_csv(
    cli_env: Callable[..., Result], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    async with app_client(make_settings()) as client:
        r = await client.post(
            "/api/v1/experiments",
            json={"id": "x1", "name": "X", "variants": [{"name": "a"}, {"name": "b"}]},
            headers=await staff_headers(client, "researcher", "lab"),
        )
        assert r.status_code == 201
        for n in range(3):
            sid = f"s{n}"
            body = {"session_id": sid, "user_id": f"p{n}", "experiment_id": "x1"}
            assert (await client.post("/api/v1/sessions", json=body)).status_code == 201
            events = [ev(f"{n}-{i}") for i in range(4)]
            await client.post("/api/v1/events", json={"session_id": sid, "events": events})
        await client.post("/api/v1/sessions", json={"session_id": "other", "user_id": "p9"})
        async with client.app.state.platform.db.write_sessions() as session, session.begin():
            session.add(
                Query(
                    user_id="p0",
                    session_id="s0",
                    experiment_id="x1",
                    provider="openai",
                    model="gpt-4o",
                    input_tokens=1,
                    output_tokens=2,
                    response_text='hi, "you"\n',
                )
            )

    out = await run(cli_env, "export", "--experiment", "x1")
    assert out.exit_code == 0, out.output
    records = [json.loads(line) for line in out.output.splitlines()]
    kinds = [r["kind"] for r in records]
    assert kinds.count("session") == 3 and kinds.count("event") == 12 and kinds.count("query") == 1
    assert {r["session_id"] for r in records} == {"s0", "s1", "s2"}
    # Each session is followed by its own events and calls.
    assert kinds[:6] == ["session", "event", "event", "event", "event", "query"]

    target = tmp_path / "x1.csv"
    out = await run(cli_env, "export", "--experiment", "x1", "--format", "csv", "-o", str(target))
    assert out.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 16
    query_row = next(r for r in rows if r["kind"] == "query")
    assert query_row["text"] == 'hi, "you"\n' and query_row["model"] == "gpt-4o"
    assert all(r["variant"] in ("a", "b") for r in rows if r["kind"] != "query")

    bad = await run(cli_env, "export", "--experiment", "x1", "--format", "xml")
    assert bad.exit_code == 2 and "jsonl or csv" in bad.output


def test_bad_setting_is_a_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["db", "upgrade"], env={"PORT": "abc", "AUTH_MODE": "magic"})
    assert result.exit_code == 2
    assert "Invalid configuration" in result.output
    assert "PORT" in result.output and "AUTH_MODE" in result.output
    assert "Traceback" not in result.output
