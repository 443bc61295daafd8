"""The one citation model of the platform: provider stream events, retrieval, API responses
and the query log all carry it (a neutral module: providers and schemas both import it)."""

from __future__ import annotations

from pydantic import BaseModel


class Citation(BaseModel):
    """A source: a web page a vendor's search cited, or a numbered file chunk ([n]) a
    grounded answer drew on."""

    index: int | None = None  # [n] of a grounded answer's numbered source
    title: str | None = None
    url: str | None = None
    snippet: str | None = None
    file_id: str | None = None
    file_name: str | None = None
    page: int | None = None
    chunk_id: int | None = None
    score: float | None = None
