"""Retrieval quality on a library of long multi-table reports (page-level gold answers).

    python bench/rag_quality.py             # SQLite: this library is scanned exactly
    python bench/rag_quality.py --coarse    # through the binary-quantized coarse scan instead
    EMBEDDING_PRECISION=float32 python bench/rag_quality.py   # (default: auto, bfloat16 here)

Generates 24 reports (6 issuers x 4 quarters, 22 pages, 13 tables each, same tables in
every report so the wrong report is a near miss) and 60 questions naming issuer, period and
row. Ingests them through the real API (PDF -> pypdfium2 -> chunks -> MiniLM -> sqlite-vec +
FTS5) and prints page hit@1/@5/@10 for our retrieval, its ablations, and the plain recipe
(1,000-character chunks, 200 overlap, MiniLM cosine top-k) on the same extracted pages."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag_corpus import Question, build_library, render_pdf

from llm_platform.core.config import Settings
from llm_platform.main import create_app
from llm_platform.rag.retrieval import RetrievalOptions, Retriever
from llm_platform.rag.runtime import RagRuntime
from llm_platform.rag.store_sqlite import SqliteVecStore

KS = (1, 5, 10)


def hit_rates(ranked: list[list[tuple[str, set[int]]]], questions: list[Question]) -> list[float]:
    out = []
    for k in KS:
        hits = 0
        for q, results in zip(questions, ranked, strict=True):
            if any(name == q.file_name and q.page in pages for name, pages in results[:k]):
                hits += 1
        out.append(100.0 * hits / len(questions))
    return out


def plain_chunks(
    pages: list[str], size: int = 1000, overlap: int = 200
) -> list[tuple[str, set[int]]]:
    """Fixed 1,000-character windows over the document text; each knows the pages it spans."""
    text = ""
    starts = []
    for page in pages:
        starts.append(len(text))
        text += page + "\n"
    out = []
    pos = 0
    while pos < len(text):
        end = min(len(text), pos + size)
        spanned = {
            i + 1
            for i, s in enumerate(starts)
            if s < end and (i + 1 == len(starts) or starts[i + 1] > pos)
        }
        out.append((text[pos:end], spanned))
        if end == len(text):
            break
        pos = end - overlap
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--coarse",
        action="store_true",
        help="SQLite: answer every search with the quantized coarse scan + rescoring",
    )
    args = parser.parse_args()
    reports, questions = build_library()
    tmp = Path(tempfile.mkdtemp(prefix="rag-quality-"))
    settings = Settings(_env_file=None, DATA_DIR=tmp, LOG_LEVEL="WARNING", INGEST_CONCURRENCY=1)
    app = create_app(settings)
    pages_total = sum(len(r.pages) for r in reports)
    print(f"library: {len(reports)} reports, {pages_total} pages, {len(questions)} questions")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            started = time.perf_counter()
            ids = {}
            for n, report in enumerate(reports):
                data = render_pdf(report, with_metadata=n % 2 == 0)
                r = await client.post(
                    "/api/v1/files/upload",
                    files={"file": (report.file_name, data, "application/pdf")},
                    headers={"x-user-id": "analyst"},
                )
                r.raise_for_status()
                ids[r.json()["id"]] = report.file_name
            while True:
                listing = (
                    await client.get("/api/v1/files", headers={"x-user-id": "analyst"})
                ).json()
                states = [f["status"] for f in listing["items"]]
                if all(s in ("ready", "failed") for s in states):
                    break
                await asyncio.sleep(0.5)
            assert all(s == "ready" for s in states), states
            chunks = sum(f["chunk_count"] for f in listing["items"])
            print(f"ingested in {time.perf_counter() - started:.1f} s ({chunks} chunks)")

        runtime: RagRuntime = app.state.platform.rag.runtime
        store = runtime.store
        if args.coarse and isinstance(store, SqliteVecStore):
            store.exact_scan_max = store.exact_scan_max_files = 0
        print(
            f"store: {store.name}"
            + (" (coarse scan for every search)" if args.coarse else "")
            + f"; embedder: {runtime.embedder.model_name}"
            + (" bfloat16" if getattr(runtime.embedder, "bf16", False) else "")
        )
        variants = {
            "vector only (context in chunks)": RetrievalOptions(
                keyword=False, focus=False, strip_boilerplate=False
            ),
            "hybrid, naive (raw query terms)": RetrievalOptions(
                focus=False, strip_boilerplate=False
            ),
            "hybrid, boilerplate stripped": RetrievalOptions(focus=False),
            "vector + document focus": RetrievalOptions(keyword=False),
            "ours: hybrid + stripped + focus": RetrievalOptions(),
            "  same, focus lists weighted like the rest": RetrievalOptions(global_weight=1.0),
            "  same, narrow candidate lists (10 each)": RetrievalOptions(candidates=10),
        }
        qvecs = await runtime.embedder.embed_documents([q.text for q in questions])
        results: dict[str, list[float]] = {}
        latencies: list[float] = []
        for label, options in variants.items():
            retriever = Retriever(runtime.embedder, runtime.store, None, options)
            ranked = []
            async with runtime.db.read_sessions() as session:
                for q, qv in zip(questions, qvecs, strict=True):
                    t0 = time.perf_counter()
                    found = await retriever.retrieve(
                        session, user_id="analyst", query=q.text, top_k=10, query_vector=qv
                    )
                    latencies.append(time.perf_counter() - t0)
                    ranked.append(
                        [(ids[c.chunk.file_id], {c.chunk.page or 0}) for c in found.chunks]
                    )
            results[label] = hit_rates(ranked, questions)

        # Same chunks without the document context (title | heading) in what is embedded.
        from sqlalchemy import select

        from llm_platform.db.models import FileChunk

        async with runtime.db.read_sessions() as session:
            rows = (await session.scalars(select(FileChunk))).all()
        bare = await runtime.embedder.embed_documents([c.text for c in rows])
        ranked = []
        for qv in qvecs:
            order = np.argsort(-(bare @ qv))[:10]
            ranked.append([(ids[rows[i].file_id], {rows[i].page or 0}) for i in order])
        results["vector only, no document context"] = hit_rates(ranked, questions)

        # The plain recipe on the same extracted text.
        import pypdfium2 as pdfium

        plain: list[tuple[str, str, set[int]]] = []
        for report in reports:
            pdf = pdfium.PdfDocument(render_pdf(report))
            texts = [pdf[i].get_textpage().get_text_bounded() for i in range(len(pdf))]
            pdf.close()
            plain += [(report.file_name, t, p) for t, p in plain_chunks(texts)]
        t0 = time.perf_counter()
        pvecs = await runtime.embedder.embed_documents([t for _, t, _ in plain])
        embed_s = time.perf_counter() - t0
        ranked = []
        for qv in qvecs:
            order = np.argsort(-(pvecs @ qv))[:10]
            ranked.append([(plain[i][0], plain[i][2]) for i in order])
        results["plain recipe: 1,000-char chunks + cosine"] = hit_rates(ranked, questions)
        print(f"plain recipe: {len(plain)} chunks embedded in {embed_s:.1f} s")

    print()
    print(f"{'retrieval':<44}{'hit@1':>8}{'hit@5':>8}{'hit@10':>8}")
    for label, (h1, h5, h10) in results.items():
        print(f"{label:<44}{h1:>7.1f}%{h5:>7.1f}%{h10:>7.1f}%")
    ours = results["ours: hybrid + stripped + focus"][1]
    base = results["plain recipe: 1,000-char chunks + cosine"][1]
    lat = np.array(latencies) * 1000
    print(f"\nhit@5 ours - plain recipe: {ours - base:+.1f} points (target >= +20)")
    print(
        f"retrieval latency over all variants: p50 {np.percentile(lat, 50):.1f} ms, "
        f"p99 {np.percentile(lat, 99):.1f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
