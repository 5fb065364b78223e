# torchdash — `make run` serves the dashboard, `make test` runs the whole suite.
# Both set everything up on a fresh machine: the virtual environment, the packages, the demo data
# (and, for the tests, Debian's Chromium for the browser tests).

PYTHON ?= python3
# bash: `make test` reads PIPESTATUS.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Keep in sync with the Dockerfile. On this machine family pip takes both from local disk.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
PORT ?= 8000
HOST ?= 127.0.0.1
HOME_DIR ?= var

.PHONY: install run test test-fast lint docs data browser postgres bench clean ray-head ray-node ray-stop

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH_PINS)
	$(PY) -m pip install --quiet -e '.[dev,cluster]'
	touch $(STAMP)

data: $(STAMP)
	TORCHDASH_HOME=$(HOME_DIR) $(PY) -m app prepare-data

run: data
	TORCHDASH_HOME=$(HOME_DIR) TORCHDASH_HOST=$(HOST) TORCHDASH_PORT=$(PORT) $(PY) -m app serve

# A Ray cluster for TORCHDASH_EXECUTOR=ray (docs/cluster.md). `ray start` runs with the
# project's .venv/bin first on PATH, so a job's `python -m app.worker` is torchdash's. The head's
# dashboard (the Jobs API, which runs any command for whoever reaches it) binds RAY_BIND only:
# a private address, never a public one.
RAY_BIND ?= 127.0.0.1
RAY_PATH := RAY_USAGE_STATS_ENABLED=0 PATH=$(abspath $(VENV))/bin:$$PATH
ray-head: $(STAMP)
	$(RAY_PATH) $(VENV)/bin/ray start --head --port=6379 --dashboard-host=$(RAY_BIND) --dashboard-port=8265

ray-node: $(STAMP)
	@test -n "$(HEAD)" || { echo "usage: make ray-node HEAD=<head address>:6379"; exit 2; }
	$(RAY_PATH) $(VENV)/bin/ray start --address=$(HEAD)

ray-stop:
	$(VENV)/bin/ray stop

# Debian's Chromium drives the browser tests (no test tool downloads a browser of its own).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium' for the browser tests"; fi; }

# Debian's PostgreSQL server programs: the tests and benches start a throw-away server of their
# own (tests/support/postgres_server.py) as the `postgres` user; nothing runs as a system service.
postgres:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql; \
	  else echo "PostgreSQL is missing: run 'sudo apt-get install postgresql' for its tests"; fi; }

# tests/ by kind: unit (pure functions and classes), api (the app in this process, a SQLite file),
# system (real servers and worker processes), browser (Chromium), cluster (PostgreSQL, S3, Ray);
# tests/support holds the helpers and throw-away servers they share.
# Every test that takes the database (the `settings` fixture) runs on SQLite and on PostgreSQL, as
# `test_x[sqlite]` and `test_x[postgresql]` (tests/support/database.py, docs/testing.md). The
# PostgreSQL runs (marker `postgresql`) go side by side with the rest: most of a test's time is
# spent waiting on a server, a worker or a browser, so the two halves share the 2 cores well.
# Each half's lines come whole, prefixed with [sqlite] or [postgresql], and end with its 15
# slowest tests; TESTS narrows both:
# `make test TESTS=tests/api`.
TESTS ?=
test: $(STAMP) browser postgres
	@export TORCHDASH_TEST_DATABASES=sqlite,postgresql; \
	( $(PY) -m pytest -p no:cacheprovider -m postgresql --durations=15 $(TESTS) 2>&1 \
	  | sed -u 's/^/[postgresql] /'; exit $${PIPESTATUS[0]} ) & half=$$!; \
	trap 'kill $$half 2>/dev/null' INT TERM; \
	$(PY) -m pytest -m "not postgresql" --durations=15 $(TESTS) 2>&1 | sed -u 's/^/[sqlite] /'; \
	sqlite=$${PIPESTATUS[0]}; wait $$half; postgresql=$$?; \
	echo "make test: the SQLite half exited $$sqlite, the PostgreSQL half $$postgresql"; \
	exit $$(( sqlite || postgresql ))

# The edit-test loop: unit and api tests only (no live server, worker process, browser,
# PostgreSQL or Ray): the database tests on SQLite alone.
test-fast: $(STAMP)
	TORCHDASH_TEST_DATABASES=sqlite $(PY) -m pytest tests/unit tests/api

# Every benchmark of bench/, side by side; rewrites the table in bench/README.md.
bench: $(STAMP) postgres
	$(PY) -m bench.run_all

# docs/settings.md, written from the settings' own descriptions in app/settings.py.
docs: $(STAMP)
	$(PY) -m app.settings_reference > docs/settings.md.tmp
	mv docs/settings.md.tmp docs/settings.md

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy app trainer

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
