"""EMBEDDING_DEVICE: `auto` runs on the CPU when there is no GPU (never an error), `cuda`
without one is a readable configuration error, and the GPU is chosen when torch sees one."""

from __future__ import annotations

import numpy as np
import pytest

from llm_platform.core.config import EmbeddingDevice, Settings
from llm_platform.rag.embeddings import (
    EmbeddingError,
    LocalEmbedder,
    _cuda_available,
    build_embedder,
    resolve_device,
)


def test_auto_is_the_cpu_without_a_gpu_and_cuda_with_one() -> None:
    assert resolve_device(EmbeddingDevice.AUTO, lambda: False) == "cpu"
    assert resolve_device(EmbeddingDevice.AUTO, lambda: True) == "cuda"
    assert resolve_device(EmbeddingDevice.CPU, lambda: True) == "cpu"
    assert resolve_device(EmbeddingDevice.CUDA, lambda: True) == "cuda"


def test_a_broken_cuda_probe_counts_as_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    def broken() -> bool:
        raise RuntimeError("CUDA driver initialization failed")

    monkeypatch.setattr(torch.cuda, "is_available", broken)
    assert _cuda_available() is False
    assert resolve_device(EmbeddingDevice.AUTO) == "cpu"


def test_cuda_without_a_gpu_says_why() -> None:
    with pytest.raises(EmbeddingError, match=r"EMBEDDING_DEVICE=cuda.*no CUDA GPU"):
        resolve_device(EmbeddingDevice.CUDA, lambda: False)


@pytest.mark.skipif(_cuda_available(), reason="this machine has a GPU: auto would use it")
async def test_auto_embeds_on_the_cpu_on_this_machine() -> None:
    settings = Settings(_env_file=None, EMBEDDING_DEVICE="auto")  # type: ignore[call-arg]
    embedder = build_embedder(settings)
    assert isinstance(embedder, LocalEmbedder)
    await embedder.warm_up()
    assert embedder.device == "cpu"
    vectors = await embedder.embed_documents(["GPUs are optional.", "So is CUDA."])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


@pytest.mark.skipif(_cuda_available(), reason="this machine has a GPU")
async def test_explicit_cuda_fails_to_load_with_the_reason() -> None:
    embedder = LocalEmbedder(device=EmbeddingDevice.CUDA)
    with pytest.raises(EmbeddingError, match="EMBEDDING_DEVICE=cuda"):
        await embedder.warm_up()
