# The two set-up commands of a fresh machine: `make run` (the product) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install web

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The product alone (no test or benchmark packages).
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# The test suite: dev tools and the benchmark's peers.
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $@

install: $(VENV)/.installed-test
	tools/setup-node
	tools/neo4j-server/build  # the test-only Neo4j launcher (Maven; offline once cached)
	tools/setup-browser  # Debian's chromium for the browser tests (tests/test_browser.py)

# The seed and the examples with dated history (the explorer's as-of slider shows CHRINON's 2018 update).
run: $(VENV)/.installed-run
	$(BIN)/corpgraph serve --seed --examples --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest

# Rebuild the pages shipped in api/static from web/ (pinned npm packages); commit the result.
web:
	cd web && npm ci --no-audit --no-fund && node build.mjs
