"""`llm-platform` command line: serve, db, export, users, openapi, version."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from llm_platform import __version__
from llm_platform.core.config import Settings, SettingsError, load_settings
from llm_platform.db.engine import Database, create_database
from llm_platform.db.migrate import upgrade

app = typer.Typer(
    help="LLM Platform: chat, reasoning, files and research logging.", no_args_is_help=True
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
users_app = typer.Typer(
    help="Users and API keys (researchers, admins; participants in AUTH_MODE=api_key).",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[Database]:
    db = create_database(settings)
    try:
        await upgrade(db.engine)
        yield db
    finally:
        await db.dispose()


def _run(factory: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        async with _database(_settings()) as db:
            return await factory(db)

    return asyncio.run(main())


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default PORT)")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default WORKERS)")] = None,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development)")] = False,
) -> None:
    """Migrate the database, then serve the API (and web UI)."""
    import uvicorn

    from llm_platform.core.malloc import limit_arenas
    from llm_platform.server import uvicorn_options

    settings = _settings()
    limit_arenas(settings.MALLOC_ARENA_MAX)  # before any thread starts (core/malloc.py)
    bind_host = host or settings.HOST
    bind_port = port or settings.PORT

    async def prepare() -> str | None:
        async with _database(settings) as db:
            return await _operator_sign_in(db, settings, bind_host)

    key = asyncio.run(prepare())
    if key is not None:
        shown = "127.0.0.1" if bind_host in ("0.0.0.0", "::", "") else bind_host
        if ":" in shown:
            shown = f"[{shown}]"
        typer.echo(
            f"Admin sign-in (dashboard, experiments): http://{shown}:{bind_port}/#key={key}\n"
            f"  The key is kept in {Path(settings.DATA_DIR) / 'admin_key'}; "
            "manage keys with `llm-platform users`.",
            err=True,
        )
    _freeze_imports()
    uvicorn.run(
        "llm_platform.main:create_app",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=None if reload else (workers or settings.WORKERS),
        reload=reload,
        log_config=None,
        timeout_graceful_shutdown=10,
        **uvicorn_options(settings),
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _operator_sign_in(db: Database, settings: Settings, host: str) -> str | None:
    """The admin sign-in key to print (loopback only), or refuse to start a server open to
    participants on a public address with no admin key."""
    from llm_platform.core.config import AuthMode
    from llm_platform.services.users import has_admin_key, operator_key

    async with db.write_sessions() as session, session.begin():
        if is_loopback(host):
            return await operator_key(session, settings.DATA_DIR)
        if settings.AUTH_MODE is AuthMode.OPEN and not await has_admin_key(session):
            typer.echo(
                f"Refusing to start: HOST={host} is reachable from other machines, this server "
                "admits participants (AUTH_MODE=open), and no admin key exists to run it.\n"
                "Create one first:  llm-platform users create <name> --role admin\n"
                "(or serve on HOST=127.0.0.1 and put a reverse proxy in front: docs/deploy.md)",
                err=True,
            )
            raise typer.Exit(2)
    return None


def _freeze_imports() -> None:
    """Keep the ~130,000 objects of the imported code out of the garbage collector's sight.

    They live as long as the process, yet every full collection walks them all: ~200 ms
    during which no request moves (it was the whole p99 of event ingest). Frozen objects
    are never collected, which is what they would be anyway.
    """
    import gc

    import llm_platform.main  # noqa: F401  (what uvicorn is about to import)

    gc.collect()
    gc.freeze()


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Jobs run at once (default INGEST_CONCURRENCY)")
    ] = None,
) -> None:
    """Run file ingestion jobs (shares the queue with other workers when REDIS_URL is set)."""
    import signal

    from llm_platform.core.logging import configure_logging, get_logger
    from llm_platform.rag.lifecycle import RagDisabled, rag_services
    from llm_platform.server import configure_process

    settings = _settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"INGEST_CONCURRENCY": concurrency})
    configure_logging(settings)
    configure_process(settings)
    log = get_logger("llm_platform.worker")

    async def main() -> None:
        async with (
            _database(settings) as db,
            rag_services(settings, db, consume=True) as rag,
        ):
            if isinstance(rag, RagDisabled):
                typer.echo(f"files/RAG could not start: {rag.reason}", err=True)
                raise typer.Exit(1)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            log.info(
                "worker_started",
                queue="redis" if rag.queue.distributed else "in-process (database sweep)",
                concurrency=settings.INGEST_CONCURRENCY,
            )
            await stop.wait()
        log.info("worker_stopped")

    asyncio.run(main())


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations."""

    async def done(db: Database) -> str:
        from llm_platform.db.migrate import current_revision

        return str(await current_revision(db.engine))

    typer.echo(f"database at revision {_run(done)}")


@db_app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="Where to write the backup")],
) -> None:
    """Back up the database while the server runs (SQLite online backup, or pg_dump)."""
    from llm_platform.db.backup import BackupError, backup_database

    try:
        result = backup_database(_settings(), file)
    except BackupError as exc:
        typer.echo(f"backup failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"{result.backend} backup written to {result.path} "
        f"({result.size:,} bytes in {result.seconds:.2f} s)"
    )


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="A file written by `db backup`")],
) -> None:
    """Replace the database's content with a backup, then apply migrations. Stop the
    server and workers first."""
    from llm_platform.db.backup import BackupError, restore_database

    settings = _settings()
    try:
        backend = restore_database(settings, file)
    except BackupError as exc:
        typer.echo(f"restore failed: {exc}", err=True)
        raise typer.Exit(1) from None

    async def done(db: Database) -> str:  # _run applies the migrations first
        from llm_platform.db.migrate import current_revision

        return str(await current_revision(db.engine))

    typer.echo(f"{backend} database restored from {file}, at revision {_run(done)}")


@app.command()
def export(
    experiment: Annotated[str, typer.Option(help="Experiment id")],
    format: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default stdout)")
    ] = None,
) -> None:
    """Stream all sessions, events and model calls of an experiment."""
    from llm_platform.services.export import ExportFormat, experiment_export_records, render

    try:
        fmt = ExportFormat(format)
    except ValueError:
        typer.echo("--format must be jsonl or csv", err=True)
        raise typer.Exit(2) from None

    async def write(db: Database) -> int:
        sink = output.open("wb") if output else sys.stdout.buffer
        written = 0
        try:
            async for chunk in render(experiment_export_records(db, experiment, None), fmt):
                sink.write(chunk)
                written += len(chunk)
        finally:
            if output:
                sink.close()
            else:
                sink.flush()
        return written

    _run(write)


def openapi_schema() -> dict[str, Any]:
    """The HTTP API's OpenAPI schema as the code defines it: built on default settings, with
    a fixed `info` (no version), so it changes only when the API does (web/openapi.json, the
    web client's types are generated from it)."""
    from llm_platform.main import create_app

    schema = create_app(Settings(_env_file=None)).openapi()
    schema["info"] = {"title": "LLM Platform", "version": "current"}
    return schema


@app.command()
def openapi(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default stdout)")
    ] = None,
) -> None:
    """Print the HTTP API's OpenAPI schema (JSON), e.g. to generate a client from it."""
    text = json.dumps(openapi_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@users_app.command("create")
def users_create(
    user_id: Annotated[str, typer.Argument(help="User id")],
    role: Annotated[str, typer.Option(help="participant, researcher or admin")] = "researcher",
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
) -> None:
    """Create a user (if new) and print a new API key for it (shown once)."""
    from llm_platform.core.errors import AppError
    from llm_platform.services.users import IssuedKey, create_user_with_key

    async def create(db: Database) -> IssuedKey:
        async with db.write_sessions() as session, session.begin():
            return await create_user_with_key(session, user_id, role=role, name=name)

    try:
        issued = _run(create)
    except AppError as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(2) from None
    typer.echo(f"user={issued.user_id} role={issued.role} key_id={issued.key_id}")
    typer.echo(issued.key)


@users_app.command("list")
def users_list() -> None:
    """List users with their keys (prefixes only)."""
    from llm_platform.db.repositories.users import ApiKeyRepository, UserRepository

    async def rows(db: Database) -> list[str]:
        lines = []
        async with db.read_sessions() as session:
            keys = ApiKeyRepository(session)
            for user in await UserRepository(session).list_all():
                for key in await keys.list_for_user(user.id):
                    state = "revoked" if key.revoked_at else "active"
                    lines.append(f"{user.id}\t{key.id}\t{key.prefix}…\t{key.role}\t{state}")
                if not await keys.list_for_user(user.id):
                    lines.append(f"{user.id}\t-\t-\t-\tno keys")
        return lines

    for line in _run(rows):
        typer.echo(line)


@users_app.command("revoke-key")
def users_revoke_key(
    key: Annotated[str, typer.Argument(help="Key id or key prefix (as `users list` shows)")],
) -> None:
    """Revoke an API key."""
    from llm_platform.db.repositories.users import ApiKeyRepository

    async def revoke(db: Database) -> int:
        async with db.write_sessions() as session, session.begin():
            return await ApiKeyRepository(session).revoke(key)

    count = _run(revoke)
    if count == 0:
        typer.echo("no active key matches", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {count} key(s)")


# ---------------------------------------------------------------- user studies
study_app = typer.Typer(help="User studies: pilots and retention.", no_args_is_help=True)
app.add_typer(study_app, name="study")


@study_app.command("pilot")
def study_pilot(
    study: Annotated[str, typer.Argument(help="Study id")],
    participants: Annotated[int, typer.Option(help="Simulated participants", min=1)] = 10,
    url: Annotated[
        str | None, typer.Option(help="A running server (default: this one, in process)")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(envvar="LLM_PLATFORM_KEY", help="The study owner's key (with --url)"),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Participants at once", min=1)] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the simulated answers")] = 0,
    max_wait: Annotated[
        float, typer.Option(help="Seconds a participant waits for a minutes-on-task rule")
    ] = 0.0,
) -> None:
    """Run simulated participants through the study's real HTTP flow (marked as pilot data)
    and print arm balance, completion rate, median time and failed steps."""
    from llm_platform.study_commands import run_pilot

    try:
        text, ok = asyncio.run(
            run_pilot(
                _settings(),
                study,
                participants=participants,
                url=url,
                key=key,
                concurrency=concurrency,
                seed=seed,
                max_wait_s=max_wait,
            )
        )
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(text)
    if not ok:
        raise typer.Exit(1)


@study_app.command("purge")
def study_purge() -> None:
    """Retention: purge the raw data of closed studies whose `retention_days` have passed."""
    from llm_platform.study_commands import run_purge

    purged = asyncio.run(run_purge(_settings()))
    if not purged:
        typer.echo("nothing to purge")
    for study_id, count in purged.items():
        typer.echo(f"{study_id}: {count} participant(s) purged")


# ---------------------------------------------------------------- products
products_app = typer.Typer(help="The shopping catalog (local products).", no_args_is_help=True)
app.add_typer(products_app, name="products")


@products_app.command("import")
def products_import(
    file: Annotated[Path, typer.Argument(help="A .csv or .jsonl file of products")],
    replace: Annotated[
        bool, typer.Option(help="Make the catalog exactly this file (remove other products)")
    ] = False,
    embed: Annotated[bool, typer.Option(help="Compute the embeddings now")] = True,
) -> None:
    """Import products (columns: id, title, description, category, price, currency, url,
    image_url, rating, attributes as JSON or attributes.<name>). Every row is checked first:
    any bad row and nothing is imported."""
    from llm_platform.core.errors import AppError
    from llm_platform.product_commands import import_file, summary

    try:
        result = asyncio.run(import_file(_settings(), file, replace=replace, embed=embed))
    except AppError as exc:
        typer.echo(f"{file}: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"{file}: {summary(result)}")


@products_app.command("demo")
def products_demo(
    count: Annotated[int, typer.Option(help="Products to generate", min=1, max=10_000)] = 200,
    seed: Annotated[int, typer.Option(help="Seed: the same seed, the same catalog")] = 7,
    replace: Annotated[bool, typer.Option(help="Remove the other products first")] = False,
    embed: Annotated[bool, typer.Option(help="Compute the embeddings now")] = True,
) -> None:
    """Generate a demo catalog (made-up brands over 8 categories) into the database."""
    from llm_platform.product_commands import import_demo, summary

    result = asyncio.run(
        import_demo(_settings(), count=count, seed=seed, replace=replace, embed=embed)
    )
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"demo catalog (seed {seed}): {summary(result)}")
