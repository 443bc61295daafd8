from __future__ import annotations

from pydantic import Field

from llm_platform.core.citation import Citation
from llm_platform.schemas.common import Schema


class SearchRequest(Schema):
    query: str = Field(min_length=1, max_length=4000)
    top_k: int = Field(default=5, ge=1, le=50)
    file_ids: list[str] | None = Field(default=None, max_length=500)


class SearchHit(Schema):
    chunk_id: int
    file_id: str
    file_name: str
    page: int | None = Field(
        description="Page to cite: the chunk's, or for a table the page the row the query "
        "names is printed on (a table over a page break keeps each row's page)"
    )
    chunk_index: int
    heading: str | None
    text: str
    score: float = Field(description="Fused rank score (rerank score when reranked)")
    similarity: float = Field(description="Cosine similarity of query and chunk")
    rerank_score: float | None = None
    matched_by: list[str] = Field(default_factory=list)
    context: str = Field(
        description="What the model is handed for this hit: the chunk's whole table or "
        "section (with neighbours while they fit the budget), or a window of it"
    )
    context_pages: list[int | None] = Field(
        default_factory=list, description="First and last page the context covers"
    )
    context_shared_with: int | None = Field(
        default=None,
        description="Rank (0-based) of an earlier hit whose context already holds this one",
    )
    rows: str | None = Field(
        default=None,
        description="For a table: its header and the row(s) the query names, printed on `page`",
    )


class SearchResponse(Schema):
    query: str
    results: list[SearchHit]
    focused_file_ids: list[str] = Field(default_factory=list)
    reranked: bool = False


class Grounding(Schema):
    """What the query service adds to the prompt, and what it reports back."""

    used: bool = Field(description="Retrieval ran (use_rag on and the user has ready files)")
    supported: bool = Field(description="At least one source passed the relevance threshold")
    prompt: str | None = Field(
        description="System-prompt block: numbered sources or the no-support instruction"
    )
    citations: list[Citation] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
