"""Upload → ingestion → retrieval through the API on SQLite and PostgreSQL, real models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from llm_platform.core.config import Settings
from llm_platform.rag.embeddings import LocalEmbedder
from llm_platform.rag.extract.audio import audio_available
from llm_platform.rag.extract.ocr import ocr_available
from tests.conftest import AppClient, staff_headers, start_client
from tests.support.documents import (
    REPORT_PAGES,
    make_docx,
    make_pdf,
    make_png,
    make_png_header,
    make_wav,
    make_zip_not_docx,
)
from tests.support.files import upload, wait_done
from tests.support.system import needs_system

U1 = {"x-user-id": "u1"}
U2 = {"x-user-id": "u2"}


@pytest.fixture
async def client(
    make_settings: Callable[..., Settings],
    embedder: LocalEmbedder,
) -> AsyncIterator[AppClient]:
    async for c in start_client(make_settings(MAX_FILE_SIZE_MB=1, INGEST_SWEEP_SECONDS=0.5)):
        yield c


async def _rows(client: AppClient, sql: str) -> int:
    db = client.app.state.platform.db
    async with db.engine.connect() as conn:
        return int((await conn.execute(text(sql))).scalar() or 0)


async def test_pdf_upload_to_ready_and_search_with_pages(client: AppClient) -> None:
    data = make_pdf(REPORT_PAGES, title="Acme Robotics Annual Report 2023")
    r = await upload(client, "acme-2023.pdf", data, content_type="image/png")  # wrong header
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "queued" and body["kind"] == "pdf"
    assert body["media_type"] == "application/pdf" and body["deduplicated"] is False
    done = await wait_done(client, body["id"])
    assert done["status"] == "ready", done
    assert done["page_count"] == 3 and done["chunk_count"] >= 3 and done["progress"] == 1.0
    assert done["title"] == "Acme Robotics Annual Report 2023"
    assert done["embedding_model"] == "local:all-MiniLM-L6-v2"

    r = await client.post(
        "/api/v1/rag/search",
        json={"query": "Which factory switched to renewable electricity?", "top_k": 3},
        headers=U1,
    )
    assert r.status_code == 200, r.text
    top = r.json()["results"][0]
    assert top["page"] == 3 and "Lyon" in top["text"] and top["file_name"] == "acme-2023.pdf"
    assert top["file_id"] == body["id"] and top["similarity"] > 0.3

    r = await client.post(
        "/api/v1/rag/search", json={"query": "operating margin 2023", "top_k": 1}, headers=U1
    )
    assert r.json()["results"][0]["page"] == 2

    content = await client.get(f"/api/v1/files/{body['id']}/content", headers=U1)
    assert content.status_code == 200 and content.content == data
    assert content.headers["content-type"] == "application/pdf"
    assert "attachment" in content.headers["content-disposition"]


async def test_docx_text_html_and_dedup(client: AppClient) -> None:
    docx = make_docx(["Sales rose."], [["Region", "Units"], ["North", "1,200"]])
    ids = []
    for name, data in (
        ("sales.docx", docx),
        ("notes.md", b"# Garden\n\nTomatoes need full sun and regular watering."),
        ("page.html", b"<html><body><p>The library opens at nine.</p><script>x()</script>"),
        ("data.csv", b"city,population\nOslo,700000\nBergen,290000\n"),
    ):
        r = await upload(client, name, data)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    for fid in ids:
        assert (await wait_done(client, fid))["status"] == "ready"
    again = await upload(client, "copy-of-sales.docx", docx)
    assert again.status_code == 200
    assert again.json()["deduplicated"] is True and again.json()["id"] == ids[0]
    # Another user uploading the same bytes gets their own file.
    other = await upload(client, "sales.docx", docx, user="u2")
    assert other.status_code == 201 and other.json()["id"] != ids[0]
    r = await client.post(
        "/api/v1/rag/search", json={"query": "units sold in the North region"}, headers=U1
    )
    assert "North | 1,200" in r.json()["results"][0]["text"]
    listing = (await client.get("/api/v1/files", headers=U1)).json()["items"]
    assert {f["id"] for f in listing} == set(ids)


@needs_system("tesseract")
async def test_image_ocr_upload(client: AppClient) -> None:
    r = await upload(client, "scan.png", make_png(["Warranty lasts 36 months"]))
    done = await wait_done(client, r.json()["id"])
    assert done["status"] == "ready" and done["chunk_count"] == 1
    hits = await client.post("/api/v1/rag/search", json={"query": "warranty"}, headers=U1)
    assert "36 months" in hits.json()["results"][0]["text"]


@pytest.mark.skipif(not audio_available(), reason="audio extra not installed")
async def test_audio_upload(client: AppClient, tmp_path: Path) -> None:
    wav = make_wav("The budget review is scheduled for Friday afternoon.", tmp_path)
    r = await upload(client, "memo.wav", wav)
    assert r.json()["kind"] == "audio"
    done = await wait_done(client, r.json()["id"])
    assert done["status"] == "ready"
    hits = await client.post("/api/v1/rag/search", json={"query": "budget review"}, headers=U1)
    assert "friday" in hits.json()["results"][0]["text"].lower()


@pytest.mark.parametrize(
    "name", ["../x.txt", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/etc/passwd", "a\x00b.txt"]
)
async def test_hostile_names_are_sanitised(client: AppClient, name: str, tmp_path: Path) -> None:
    r = await upload(client, name, f"content for {name!r}".encode())
    assert r.status_code == 201, r.text
    stored = r.json()["name"]
    assert "/" not in stored and "\x00" not in stored and ".." not in stored
    # Nothing was written outside the uploads directory.
    data_dir = client.app.state.platform.settings.DATA_DIR
    assert not (data_dir.parent / "x.txt").exists()
    assert all(p.name != "passwd" for p in data_dir.rglob("*"))


async def test_bad_inputs_get_clear_errors(client: AppClient) -> None:
    empty = await upload(client, "empty.txt", b"")
    assert empty.status_code == 400 and empty.json()["detail"] == "File is empty"
    big = await upload(client, "big.txt", b"a" * (1024 * 1024 + 10))
    assert big.status_code == 413 and big.json()["type"] == "payload_too_large"
    huge = await upload(client, "huge.txt", b"a" * (3 * 1024 * 1024))  # past the body limit
    assert huge.status_code == 413 and huge.json()["type"] == "payload_too_large"
    zipped = await upload(client, "report.docx", make_zip_not_docx())
    assert zipped.status_code == 415 and "not a DOCX" in zipped.json()["detail"]
    binary = await upload(client, "x.txt", bytes(range(256)) * 8, content_type="text/plain")
    assert binary.status_code == 415
    no_file = await client.post("/api/v1/files/upload", headers=U1)
    assert no_file.status_code == 422
    # Nothing half-stored: no rows, no staged or stored blobs.
    assert await _rows(client, "SELECT count(*) FROM files") == 0
    data_dir = client.app.state.platform.settings.DATA_DIR
    assert [p for p in (data_dir / "uploads").rglob("*") if p.is_file()] == []


async def test_unreadable_files_fail_on_the_file_and_the_worker_keeps_going(
    client: AppClient,
) -> None:
    locked = make_pdf(["secret"], encrypt="pw")
    bomb = await upload(client, "huge.png", make_png_header(20_000, 20_000))
    enc = await upload(client, "locked.pdf", locked)
    broken = await upload(client, "broken.pdf", b"%PDF-1.4\n" + b"\x00junk" * 50)
    for r, message in ((bomb, "Image too large"), (enc, "encrypted"), (broken, "Corrupt")):
        done = await wait_done(client, r.json()["id"])
        assert done["status"] == "failed" and message in done["error"], done
    ok = await upload(client, "fine.txt", b"The worker is still alive.")
    assert (await wait_done(client, ok.json()["id"]))["status"] == "ready"
    # A failed file uploaded again is retried.
    retry = await upload(client, "locked.pdf", locked)
    assert retry.status_code == 200 and retry.json()["status"] == "queued"
    assert retry.json()["id"] == enc.json()["id"]
    assert (await wait_done(client, enc.json()["id"]))["status"] == "failed"


async def test_other_users_files_are_invisible(client: AppClient) -> None:
    r = await upload(client, "private.txt", b"The vault code is 7741.")
    fid = r.json()["id"]
    await wait_done(client, fid)
    for method, path in (
        ("GET", f"/api/v1/files/{fid}"),
        ("GET", f"/api/v1/files/{fid}/content"),
        ("DELETE", f"/api/v1/files/{fid}"),
    ):
        theirs = await client.request(method, path, headers=U2)
        missing = await client.request(method, "/api/v1/files/" + "0" * 32, headers=U2)
        assert theirs.status_code == 404 == missing.status_code
        assert theirs.json()["detail"] == missing.json()["detail"] == "File not found"
    assert (await client.get("/api/v1/files", headers=U2)).json()["items"] == []
    search = await client.post("/api/v1/rag/search", json={"query": "vault code"}, headers=U2)
    assert search.json()["results"] == []
    named = await client.post(
        "/api/v1/rag/search", json={"query": "vault code", "file_ids": [fid]}, headers=U2
    )
    assert named.status_code == 404 and named.json()["detail"] == "File not found"
    mine = await client.post("/api/v1/rag/search", json={"query": "vault code"}, headers=U1)
    assert "7741" in mine.json()["results"][0]["text"]


async def test_delete_removes_blob_chunks_and_vectors(client: AppClient) -> None:
    keep = await upload(client, "keep.txt", b"Keep this text about apples.")
    gone = await upload(client, "gone.txt", b"Remove this text about pears.\n\n" * 40)
    for r in (keep, gone):
        await wait_done(client, r.json()["id"])
    fid = gone.json()["id"]
    before = await _rows(client, "SELECT count(*) FROM file_chunks")
    r = await client.delete(f"/api/v1/files/{fid}", headers=U1)
    assert r.status_code == 204
    assert (await client.get(f"/api/v1/files/{fid}", headers=U1)).status_code == 404
    after = await _rows(client, "SELECT count(*) FROM file_chunks")
    assert after < before
    assert await _rows(client, f"SELECT count(*) FROM file_chunks WHERE file_id='{fid}'") == 0
    assert await _rows(client, "SELECT count(*) FROM chunk_vec_384") == after
    if client.app.state.platform.db.dialect == "sqlite":  # the exact vectors beside the index
        assert await _rows(client, "SELECT count(*) FROM chunk_emb_384") == after
    fts = await _rows(client, "SELECT count(*) FROM chunk_fts")
    assert fts == after
    storage = client.app.state.platform.rag.runtime.storage
    assert not await storage.exists(fid)
    assert await storage.exists(keep.json()["id"])


async def test_status_reports_ocr_and_audio(client: AppClient) -> None:
    r = await client.get("/api/v1/status", headers=await staff_headers(client))
    files = r.json()["files"]
    assert files["available"] is True
    assert files["ocr"] is ocr_available()
    assert files["audio_transcription"] is audio_available()
    assert files["vector_store"] in ("sqlite-vec", "pgvector")
    assert files["ingestion"] == "in-process"
