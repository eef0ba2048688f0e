# The README's two commands: `make run` and `make test`. Each creates the
# virtual environment (.venv) and installs what it needs on first use: every
# package from a lock file, checked against its hashes, then the project itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK_VENV ?= .venv-lock
PIP_TOOLS := pip-tools==7.6.2
LOCK_FLAGS := --quiet --generate-hashes --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links --no-emit-trusted-host

.PHONY: run test lint bench clean lock fuzz container-smoke screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $(VENV)/.installed $@

# Refresh both lock files after changing pyproject.toml's pins (other pins stay as
# they are; `make lock ARGS=--upgrade` moves every package to its newest release).
lock: $(LOCK_VENV)/bin/pip-compile
	$(LOCK_VENV)/bin/pip-compile $(LOCK_FLAGS) $(ARGS) -o requirements.lock pyproject.toml
	$(LOCK_VENV)/bin/pip-compile $(LOCK_FLAGS) $(ARGS) --extra dev -o requirements-dev.lock pyproject.toml

$(LOCK_VENV)/bin/pip-compile:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet $(PIP_TOOLS)

run: $(VENV)/.installed
	$(BIN)/python -m camio_portal.launcher $(ARGS)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser page sweep (every page at 1366 and 390 px; screenshots of all of them in
# .test-data/shots/), then the ones the README and docs/portal.md show copied into
# docs/screenshots/. Same database rules as `make test`; needs Chromium (/usr/bin/chromium).
SHOTS := domain-page delivery-log audit-log endpoint-add delivery-with-attempts \
	counter-history replay-progress pacs-integration pacs-integration-delete-confirmation \
	support-admin-delivery-list
screenshots: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/browser/test_page_sweep.py $(PYTEST_ARGS)
	mkdir -p docs/screenshots
	for page in $(SHOTS); do for width in 1366 390; do \
		cp .test-data/shots/$$page-$$width.png docs/screenshots/ || exit 1; done; done
	@echo "Copied $(words $(SHOTS)) pages at 1366 and 390 px into docs/screenshots/."

# The schemathesis run of every API operation (docs/api.md), deeper than in `make test`:
# EXAMPLES positive and negative requests per operation, new ones on every run (the suite's
# pass is repeatable); prints each operation's answers. Same database rules as `make test`.
EXAMPLES ?= 200
fuzz: $(VENV)/.installed-dev
	CAMIO_FUZZ_EXAMPLES=$(EXAMPLES) CAMIO_FUZZ_RANDOM=1 $(BIN)/python -m pytest -s -p no:cacheprovider \
		tests/test_api_schemathesis.py -k every_operation $(PYTEST_ARGS)

# mypy reads its settings from pyproject.toml; the Django plugin loads camio_portal.settings.test.
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# Needs PostgreSQL and Redis (DATABASE_URL / CELERY_BROKER_URL, defaults: local servers).
# Build the image, run compose.yaml's stack with podman, deliver a verified callback, tear it
# down (deploy/container/smoke.py; installs podman with apt-get when missing, as root).
container-smoke: $(VENV)/.installed-dev
	$(BIN)/python deploy/container/smoke.py $(ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py $(ARGS)
	$(BIN)/python bench/incidents.py
	$(BIN)/python bench/pacs.py
	$(BIN)/python bench/render.py

clean:
	rm -rf $(VENV) $(LOCK_VENV) .test-data .pytest_cache
