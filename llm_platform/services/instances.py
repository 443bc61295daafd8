"""Server instances and their heartbeat: who may declare a `running` query interrupted.

Every serving process registers a row in `instances` (a random id, its host identity and
pid) and refreshes its `heartbeat_at` every `INSTANCE_HEARTBEAT_SECONDS`. At start-up and on
every beat it also reaps: an instance is dead when its heartbeat is older than
`INSTANCE_TIMEOUT_SECONDS`, or at once when it ran on the same host (same hostname, boot
and pid namespace) and its process no longer exists, which is what a restart after a crash
sees. Dead instances are removed and every `running` query whose instance is not
registered any more becomes `interrupted`. Several instances sharing one database (and
several uvicorn workers on one SQLite file) never touch each other's live rows, since a live
instance keeps its row fresh.

With Redis, the heartbeat is mirrored in a key with the same expiry, so that a stream
reader on another instance can tell that the instance producing its stream has died
(`services/streams/redis_store.py` then ends the stream with an `interrupted` error frame).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update

from llm_platform.core.logging import get_logger
from llm_platform.db.engine import Database
from llm_platform.db.models import Instance, Query, new_id, utcnow

log = get_logger("llm_platform.instances")

INTERRUPTED_ERROR = "The server stopped while this answer was being generated"


def instance_key(instance_id: str) -> str:
    """The Redis key that exists while the instance is alive."""
    return f"llmp:instance:{instance_id}"


def host_identity() -> str:
    """Processes with the same identity see each other's pids: hostname, boot and pid
    namespace (two containers with one hostname still differ)."""
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError):
        with open("/proc/sys/kernel/random/boot_id") as f:
            parts.append(f.read().strip())
        parts.append(os.readlink("/proc/self/ns/pid"))
    return ":".join(parts)[:255]


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


class InstanceRegistry:
    def __init__(
        self,
        db: Database,
        *,
        heartbeat: float,
        timeout: float,
        redis: Any = None,
        instance_id: str | None = None,
    ) -> None:
        self.db = db
        self.id = instance_id or new_id()
        self.heartbeat = heartbeat
        self.timeout = max(timeout, heartbeat * 2)
        self.redis = redis
        self.host = host_identity()
        self.pid = os.getpid()
        self.interrupted = 0  # queries this instance declared interrupted
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Register, and reap what dead instances left (a database that is not reachable
        yet is retried by the heartbeat, which registers the instance when it can)."""
        try:
            now = utcnow()
            async with self.db.write_sessions() as session, session.begin():
                session.add(
                    Instance(
                        id=self.id, host=self.host, pid=self.pid, started_at=now, heartbeat_at=now
                    )
                )
            await self._beat_redis()
            await self.reap()
        except Exception as exc:
            log.warning("instance_register_failed", error=str(exc))
        self._task = asyncio.create_task(self._run(), name="instance-heartbeat")

    async def stop(self) -> None:
        """Unregister (after this instance's queries were logged)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            if self.redis is not None:
                await self.redis.delete(instance_key(self.id))
        try:
            async with self.db.write_sessions() as session, session.begin():
                await session.execute(delete(Instance).where(Instance.id == self.id))
        except Exception as exc:
            log.warning("instance_unregister_failed", error=str(exc))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await self.beat()
                await self.reap()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a database blip must not end the heartbeat
                log.warning("instance_heartbeat_failed", error=str(exc))

    async def beat(self) -> None:
        async with self.db.write_sessions() as session, session.begin():
            found = await session.execute(
                update(Instance).where(Instance.id == self.id).values(heartbeat_at=utcnow())
            )
            if getattr(found, "rowcount", 1) == 0:  # reaped while stalled: register again
                now = utcnow()
                session.add(
                    Instance(
                        id=self.id, host=self.host, pid=self.pid, started_at=now, heartbeat_at=now
                    )
                )
        await self._beat_redis()

    async def _beat_redis(self) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.set(instance_key(self.id), b"1", px=max(1, int(self.timeout * 1000)))
        except Exception as exc:
            log.warning("instance_heartbeat_redis_failed", error=str(exc))

    async def reap(self) -> int:
        """Remove dead instances and mark their `running` queries `interrupted`."""
        cutoff = utcnow() - timedelta(seconds=self.timeout)
        async with self.db.write_sessions() as session, session.begin():
            rows = await session.execute(
                select(Instance.id, Instance.host, Instance.pid, Instance.heartbeat_at).where(
                    Instance.id != self.id
                )
            )
            dead = [
                instance_id
                for instance_id, host, pid, beat in rows
                if beat < cutoff or (host == self.host and _process_gone(pid))
            ]
            if dead:
                await session.execute(delete(Instance).where(Instance.id.in_(dead)))
            registered = select(Instance.id)
            result = await session.execute(
                update(Query)
                .where(
                    Query.status == "running",
                    or_(Query.instance_id.is_(None), Query.instance_id.not_in(registered)),
                )
                .values(status="interrupted", error=INTERRUPTED_ERROR, finished_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            count = int(getattr(result, "rowcount", 0) or 0)
        if dead or count:
            self.interrupted += count
            log.warning("instances_reaped", dead_instances=len(dead), queries_interrupted=count)
        return count
