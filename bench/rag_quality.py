"""Retrieval and grounding quality on three libraries, ours beside the plain recipe.

    python bench/rag_quality.py                       # all three corpora
    python bench/rag_quality.py --corpus hard,real    # some of them
    python bench/rag_quality.py --ablations           # + retrieval ablations (hit@k only)
    python bench/rag_quality.py --coarse              # SQLite: the quantized coarse scan
    python bench/rag_quality.py --misses              # + each question ours misses

Corpora:
- generated: 24 reports (6 issuers x 4 quarters, 22 pages, 13 tables each, same tables in
  every report so the wrong report is a near miss), 60 questions (bench/rag_corpus.py);
- hard: 8 annual reports laid out like filings (bench/rag_corpus_hard.py): running headers
  and footers, two-column prose drawn out of reading order, ruled and borderless tables,
  tables split by page breaks, lead-ins on one page and rows on the next, two fiscal years
  of each company;
- real: the 41 public PDFs of ../shared/data/real-docs (US federal performance reports and
  NTSB accident reports) with the questions of bench/real_docs_questions.json, each answer
  string verbatim on its recorded page. Skipped with a message when the folder is absent.

Every file goes through the real API (upload -> extraction -> chunks -> MiniLM -> index);
each question through POST /api/v1/rag/search. Printed per corpus:
- hit@1/5/10: a hit on the gold file and page among the first k;
- answer-in-context@5 (aic@5): the gold answer string (whitespace collapsed) occurs in the
  context handed to the model for the top 5 hits (`context` of each hit; the plain recipe
  hands over its chunks);
- the mean size of that context in tokens (about 4 characters each).
The plain recipe: 1,000-character chunks with 200 overlap over pypdfium2's page text,
MiniLM cosine top-k, in the same run on the same files."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from llm_platform.core.config import Settings
from llm_platform.main import create_app
from llm_platform.rag.retrieval import RetrievalOptions, Retriever
from llm_platform.rag.runtime import RagRuntime
from llm_platform.rag.store_sqlite import SqliteVecStore

KS = (1, 5, 10)
REPO = Path(__file__).resolve().parents[1]
REAL_DOCS = REPO.parent / "shared" / "data" / "real-docs"
REAL_QUESTIONS = Path(__file__).parent / "real_docs_questions.json"
USER = {"x-user-id": "analyst"}


@dataclass(frozen=True)
class Q:
    text: str
    file_name: str
    pages: tuple[int, ...]  # the answer is on each of these pages (a hit on any counts)
    answer: str


@dataclass
class Corpus:
    name: str
    files: list[tuple[str, bytes]]
    questions: list[Q]
    results: dict[str, list[float]] = field(default_factory=dict)
    ingest_s: float = 0.0
    chunks: int = 0
    pages: int = 0


def normalize(text: str) -> str:
    """Whitespace collapsed; no space before . , % ) (PDFs space out some figures)."""
    return re.sub(r"\s+(?=[.,%)])", "", " ".join(text.split()))


def answer_in(answer: str, text: str) -> bool:
    return normalize(answer) in normalize(text)


def hit_rates(ranked: list[list[tuple[str, set[int]]]], questions: list[Q]) -> list[float]:
    out = []
    for k in KS:
        hits = sum(
            any(name == q.file_name and pages & set(q.pages) for name, pages in results[:k])
            for q, results in zip(questions, ranked, strict=True)
        )
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


def page_texts(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return [pdf[i].get_textpage().get_text_bounded() for i in range(len(pdf))]
    finally:
        pdf.close()


# --- corpora -------------------------------------------------------------------------


def generated_corpus() -> Corpus:
    from rag_corpus import build_library, render_pdf

    reports, questions = build_library()
    files = [(r.file_name, render_pdf(r, with_metadata=n % 2 == 0)) for n, r in enumerate(reports)]
    qs = [Q(q.text, q.file_name, (q.page,), q.answer) for q in questions]
    return Corpus("generated", files, qs)


def hard_corpus() -> Corpus:
    from rag_corpus_hard import build_hard_library, render_hard_pdf

    reports, _ = build_hard_library()
    files = []
    qs: list[Q] = []
    for report in reports:
        data, questions = render_hard_pdf(report)
        files.append((report.file_name, data))
        qs += [Q(q.text, q.file_name, (q.page,), q.answer) for q in questions]
    return Corpus("hard", files, qs)


def real_corpus() -> Corpus | None:
    if not REAL_DOCS.is_dir():
        print(f"real corpus skipped: {REAL_DOCS} not found (the shared real-docs folder)")
        return None
    spec = json.loads(REAL_QUESTIONS.read_text())
    files = [(p.name, p.read_bytes()) for p in sorted(REAL_DOCS.rglob("*.pdf"))]
    qs = [Q(q["question"], Path(q["file"]).name, tuple(q["pages"]), q["answer"]) for q in spec]
    return Corpus("real", files, qs)


def check_gold(corpus: Corpus) -> None:
    """Every answer string must be on its recorded pages (pypdfium2's text)."""
    names = {q.file_name for q in corpus.questions}
    texts = {name: page_texts(data) for name, data in corpus.files if name in names}
    bad = [
        q
        for q in corpus.questions
        if not q.pages or not all(answer_in(q.answer, texts[q.file_name][p - 1]) for p in q.pages)
    ]
    for q in bad:
        print(f"  gold not on its page: {q.file_name} p{q.pages} {q.answer!r}")
    if bad:
        raise SystemExit(f"{corpus.name}: {len(bad)} questions with a wrong gold page")


# --- measuring -----------------------------------------------------------------------


async def ingest(client: httpx.AsyncClient, corpus: Corpus) -> dict[str, str]:
    started = time.perf_counter()
    ids = {}
    for name, data in corpus.files:
        r = await client.post(
            "/api/v1/files/upload", files={"file": (name, data, "application/pdf")}, headers=USER
        )
        r.raise_for_status()
        ids[r.json()["id"]] = name
    while True:
        listing = (await client.get("/api/v1/files?limit=200", headers=USER)).json()
        states = [f["status"] for f in listing["items"]]
        if len(states) >= len(ids) and all(s in ("ready", "failed") for s in states):
            break
        await asyncio.sleep(0.5)
    failed = [f["name"] for f in listing["items"] if f["status"] != "ready"]
    assert not failed, failed
    corpus.ingest_s = time.perf_counter() - started
    corpus.chunks = sum(f["chunk_count"] for f in listing["items"])
    corpus.pages = sum(f["page_count"] or 0 for f in listing["items"])
    return ids


async def ours(client: httpx.AsyncClient, corpus: Corpus, misses: bool = False) -> None:
    ranked = []
    in_context = 0
    sizes = []
    for q in corpus.questions:
        r = await client.post(
            "/api/v1/rag/search", json={"query": q.text, "top_k": 10}, headers=USER
        )
        r.raise_for_status()
        hits = r.json()["results"]
        ranked.append([(h["file_name"], {h["page"] or 0}) for h in hits])
        handed: list[str] = []
        for h in hits[:5]:
            text = h.get("context") or h["text"]  # older servers: the chunk itself
            if text not in handed:
                handed.append(text)
        context = "\n\n".join(handed)
        sizes.append(len(context) / 4)
        found = answer_in(q.answer, context)
        in_context += found
        if misses:
            show_miss(q, ranked[-1], found)
    corpus.results["ours: hybrid + focus, section context"] = [
        *hit_rates(ranked, corpus.questions),
        100.0 * in_context / len(corpus.questions),
        float(np.mean(sizes)),
    ]


def show_miss(q: Q, ranked: list[tuple[str, set[int]]], in_context: bool) -> None:
    """One line per question missed by hit@5 or answer-in-context@5: gold and the top 5."""
    hit = any(name == q.file_name and pages & set(q.pages) for name, pages in ranked[:5])
    if hit and in_context:
        return
    top = ", ".join(f"{name} p{min(pages)}" for name, pages in ranked[:5])
    flags = ("" if hit else " no-hit@5") + ("" if in_context else " not-in-context")
    print(f"  miss{flags}: {q.text!r} gold {q.file_name} p{q.pages} {q.answer!r}; top: {top}")


async def ablations(runtime: RagRuntime, corpus: Corpus, ids: dict[str, str]) -> None:
    variants = {
        "  vector only": RetrievalOptions(keyword=False, focus=False, strip_boilerplate=False),
        "  hybrid, no focus": RetrievalOptions(focus=False),
        "  hybrid + focus (chunks only)": RetrievalOptions(),
    }
    qvecs = await runtime.embedder.embed_documents([q.text for q in corpus.questions])
    for label, options in variants.items():
        retriever = Retriever(runtime.embedder, runtime.store, None, options)
        ranked = []
        async with runtime.db.read_sessions() as session:
            for q, qv in zip(corpus.questions, qvecs, strict=True):
                found = await retriever.retrieve(
                    session, user_id="analyst", query=q.text, top_k=10, query_vector=qv
                )
                ranked.append([(ids[c.chunk.file_id], {c.chunk.page or 0}) for c in found.chunks])
        corpus.results[label] = [*hit_rates(ranked, corpus.questions), float("nan"), float("nan")]


async def plain(runtime: RagRuntime, corpus: Corpus) -> None:
    chunks: list[tuple[str, str, set[int]]] = []
    for name, data in corpus.files:
        chunks += [(name, t, p) for t, p in plain_chunks(page_texts(data))]
    vecs = await runtime.embedder.embed_documents([t for _, t, _ in chunks])
    qvecs = await runtime.embedder.embed_documents([q.text for q in corpus.questions])
    ranked = []
    in_context = 0
    for q, qv in zip(corpus.questions, qvecs, strict=True):
        order = np.argsort(-(vecs @ qv))[:10]
        ranked.append([(chunks[i][0], chunks[i][2]) for i in order])
        context = "\n".join(chunks[i][1] for i in order[:5])
        in_context += answer_in(q.answer, context)
    corpus.results["plain recipe: 1,000-char chunks + cosine"] = [
        *hit_rates(ranked, corpus.questions),
        100.0 * in_context / len(corpus.questions),
        1250.0,
    ]


async def run(corpus: Corpus, args: argparse.Namespace) -> None:
    check_gold(corpus)
    tmp = Path(tempfile.mkdtemp(prefix=f"rag-quality-{corpus.name}-"))
    # One analyst named by X-User-ID (the bench measures retrieval, not authentication).
    settings = Settings(
        _env_file=None,
        DATA_DIR=tmp,
        LOG_LEVEL="WARNING",
        INGEST_CONCURRENCY=1,
        TRUST_CLIENT_USER_ID=True,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=600
        ) as client:
            ids = await ingest(client, corpus)
            runtime: RagRuntime = app.state.platform.rag.runtime
            if args.coarse and isinstance(runtime.store, SqliteVecStore):
                runtime.store.exact_scan_max = runtime.store.exact_scan_max_files = 0
            await ours(client, corpus, args.misses)
        if args.ablations:
            await ablations(runtime, corpus, ids)
        await plain(runtime, corpus)
    report(corpus)


def report(corpus: Corpus) -> None:
    print()
    print(
        f"== {corpus.name}: {len(corpus.files)} PDFs, {corpus.pages} pages, "
        f"{len(corpus.questions)} questions; ingested in {corpus.ingest_s:.1f} s "
        f"({corpus.chunks} chunks)"
    )
    print(f"{'retrieval':<44}{'hit@1':>8}{'hit@5':>8}{'hit@10':>8}{'aic@5':>8}{'ctx tok':>9}")
    for label, (h1, h5, h10, aic, tok) in corpus.results.items():
        aic_s = f"{aic:>7.1f}%" if aic == aic else f"{'-':>8}"
        tok_s = f"{tok:>9.0f}" if tok == tok else f"{'-':>9}"
        print(f"{label:<44}{h1:>7.1f}%{h5:>7.1f}%{h10:>7.1f}%{aic_s}{tok_s}")
    sys.stdout.flush()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="generated,hard,real")
    parser.add_argument("--ablations", action="store_true")
    parser.add_argument(
        "--coarse",
        action="store_true",
        help="SQLite: answer every search with the quantized coarse scan + rescoring",
    )
    parser.add_argument(
        "--misses", action="store_true", help="print each question ours misses (hit@5 or aic@5)"
    )
    args = parser.parse_args()
    builders = {"generated": generated_corpus, "hard": hard_corpus, "real": real_corpus}
    for name in args.corpus.split(","):
        corpus = builders[name.strip()]()
        if corpus is not None:
            await run(corpus, args)


if __name__ == "__main__":
    asyncio.run(main())
