# The README's commands: `make run` starts the broker, `make test` checks everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[embedded]"
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[embedded,dev]"
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/kyodo serve

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest

# Broker vs raw driver on the embedded database (or KYODO_MONGO_URL); QUICK=1 for a 2-minute run.
bench: $(VENV)/.dev-installed
	$(BIN)/python -m tests.bench.run $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
