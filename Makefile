# `make test` builds .venv from the project's own files and runs every check CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck pytest demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check mlp_functional tests examples scripts benchmarks
	$(BIN)/ruff format --check mlp_functional tests examples scripts benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

demo: $(STAMP)
	$(BIN)/mlp-functional fetch
	$(BIN)/mlp-functional train --out runs/demo
	$(BIN)/mlp-functional report runs/demo

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[compare]'
	$(BIN)/mlp-functional bench --compare

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
