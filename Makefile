# Quick start:  make serve   (install everything, serve on http://127.0.0.1:8000)
#               make test    (install dev tools, lint, type-check, run the whole test suite)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: install install-dev serve test lint format bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[audio,s3]'
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

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
