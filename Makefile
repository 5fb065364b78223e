# torchdash — `make run` serves the dashboard, `make test` runs the whole suite.
# Both set everything up on a fresh machine: the virtual environment, the packages, the demo data
# (and, for the tests, Debian's Chromium for the browser tests).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Keep in sync with the Dockerfile. On this machine family pip takes both from local disk.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
PORT ?= 8000
HOST ?= 127.0.0.1
HOME_DIR ?= var

.PHONY: install run test lint data browser bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH_PINS)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

data: $(STAMP)
	TORCHDASH_HOME=$(HOME_DIR) $(PY) -m app prepare-data

run: data
	TORCHDASH_HOME=$(HOME_DIR) TORCHDASH_HOST=$(HOST) TORCHDASH_PORT=$(PORT) $(PY) -m app serve

# Debian's Chromium drives the browser tests (no test tool downloads a browser of its own).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium' for the browser tests"; fi; }

test: $(STAMP) browser
	$(PY) -m pytest

# Every benchmark of bench/, side by side; rewrites the table in bench/README.md.
bench: $(STAMP)
	$(PY) -m bench.run_all

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
