"""Images: to a vision-capable model when the chosen provider has one (the writer's call
keeps them attached), otherwise the text read from each image by OCR (the RAG extractor's),
which the writer is told to say it used."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from llm_platform.agents.base_agent import AgentFailed, NodeResult, TurnDeps
from llm_platform.agents.ports import Ocr
from llm_platform.agents.state import ImageNote, TurnState
from llm_platform.rag.extract.base import ExtractionError, Limits
from llm_platform.rag.extract.ocr import extract_image

OCR_CHARS = 8_000  # of each image's text, in the writer's prompt


def _ocr_file(data: bytes, limits: Limits) -> str:
    with tempfile.TemporaryDirectory(prefix="llmp-ocr-") as tmp:
        path = Path(tmp) / "image"
        path.write_bytes(data)
        document = extract_image(path, limits)
    return "\n".join(block.text for block in document.blocks)


def extractor_ocr(limits: Limits) -> Ocr:
    """OCR through the RAG extractor (Tesseract), off the event loop."""

    async def ocr(data: bytes) -> str:
        return await asyncio.to_thread(_ocr_file, data, limits)

    return ocr


async def vision(state: TurnState, deps: TurnDeps) -> NodeResult:
    images = list(deps.images)
    if not images:
        return NodeResult(update={"images": []}, summary="no image attached")
    if deps.vision_model is not None:
        notes = [ImageNote(name=i.name, mode="vision", text="") for i in images]
        n = len(images)
        return NodeResult(
            update={"images": notes},
            summary=f"{n} image{'s' if n != 1 else ''} sent to {deps.vision_model}",
        )
    if deps.ocr is None:
        raise AgentFailed("the model cannot see images and OCR is not available")
    notes = []
    read = 0
    for image in images:
        try:
            text = (await deps.ocr(image.data)).strip()[:OCR_CHARS]
        except ExtractionError as exc:
            notes.append(ImageNote(name=image.name, mode="none", text=str(exc)))
            continue
        read += bool(text)
        notes.append(ImageNote(name=image.name, mode="ocr", text=text))
    return NodeResult(
        update={"images": notes},
        summary=f"no vision model: OCR read text from {read} of {len(images)} image(s)",
    )
