from __future__ import annotations

from pydantic import BaseModel


class Health(BaseModel):
    status: str
    version: str


class DatabaseStatus(BaseModel):
    reachable: bool
    dialect: str
    revision: str | None
    head: str | None
    migrations_current: bool
    error: str | None = None


class Status(BaseModel):
    status: str
    version: str
    uptime_s: float
    database: DatabaseStatus
    redis: str  # "not configured" | "ok" | "unreachable"
    providers: dict[str, bool]
    auth_mode: str
