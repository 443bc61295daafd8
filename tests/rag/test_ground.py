"""`services.rag.ground`: what the query service puts in the prompt and reports back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from sqlalchemy import update

from llm_platform.core.config import Settings
from llm_platform.db.models import File, utcnow
from llm_platform.rag.embeddings import LocalEmbedder
from llm_platform.rag.runtime import RagRuntime
from llm_platform.services.rag import NO_SUPPORT_PROMPT, ground
from tests.conftest import AppClient, start_client
from tests.support.documents import REPORT_PAGES, make_pdf
from tests.support.files import upload, wait_done


@pytest.fixture
async def client(
    make_settings: Callable[..., Settings],
    embedder: LocalEmbedder,
) -> AsyncIterator[AppClient]:
    async for c in start_client(make_settings()):
        yield c


def runtime_of(client: AppClient) -> RagRuntime:
    runtime: RagRuntime = client.app.state.platform.rag.runtime
    return runtime


async def test_grounding_with_numbered_sources_and_citations(client: AppClient) -> None:
    runtime = runtime_of(client)
    none_yet = await ground(runtime, user_id="u1", query="anything")
    assert none_yet.used is False and none_yet.prompt is None
    r = await upload(client, "acme.pdf", make_pdf(REPORT_PAGES, title="Acme Annual Report 2023"))
    fid = r.json()["id"]
    await wait_done(client, fid)

    g = await ground(runtime, user_id="u1", query="Where did factories switch to renewables?")
    assert g.used and g.supported
    first = g.citations[0]
    assert first.index == 1 and first.file_name == "acme.pdf" and first.page == 3
    assert "Lyon" in first.snippet and first.file_id == fid and first.score >= 0.3
    assert g.prompt is not None and "[1] acme.pdf, page 3" in g.prompt and "Lyon" in g.prompt

    off_topic = await ground(runtime, user_id="u1", query="best recipe for chocolate cake")
    assert off_topic.used and not off_topic.supported and off_topic.citations == []
    assert off_topic.prompt is not None and off_topic.prompt.startswith(NO_SUPPORT_PROMPT)

    other_user = await ground(runtime, user_id="u2", query="renewable electricity Lyon")
    assert other_user.used is False  # u2 has no files: nothing of u1 leaks
    off = await ground(runtime, user_id="u1", query="Lyon", use_rag=False)
    assert off.used is False


async def test_named_file_still_processing_is_waited_for_then_noted(client: AppClient) -> None:
    runtime = runtime_of(client)
    r = await upload(client, "slow.txt", b"Quarterly numbers arrive late this year.")
    fid = r.json()["id"]
    await wait_done(client, fid)
    # Pretend a worker holds it for a long time.
    async with runtime.db.write_sessions() as s, s.begin():
        await s.execute(
            update(File)
            .where(File.id == fid)
            .values(status="processing", progress=0.4, lease_until=utcnow() + timedelta(hours=1))
        )
    g = await ground(runtime, user_id="u1", query="quarterly numbers", file_ids=[fid], wait_s=0.3)
    assert any("slow.txt is still processing (40%)" in n for n in g.notes)
    assert g.prompt is not None and "still processing" in g.prompt
