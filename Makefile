# The README's two commands: `make run` and `make test`. Each creates the
# virtual environment (.venv) and installs what it needs on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/python -m camio_portal.launcher $(ARGS)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Needs PostgreSQL and Redis (DATABASE_URL / CELERY_BROKER_URL, defaults: local servers).
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py $(ARGS)
	$(BIN)/python bench/incidents.py
	$(BIN)/python bench/pacs.py
	$(BIN)/python bench/render.py

clean:
	rm -rf $(VENV) .test-data .pytest_cache
