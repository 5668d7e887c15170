# `make test` builds .venv from the project's own files and runs every check CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint imports typecheck pytest demo bench speed clean

$(STAMP): pyproject.toml setup.py mlp_functional/fast/_native.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: lint imports typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check mlp_functional tests examples scripts benchmarks
	$(BIN)/ruff format --check mlp_functional tests examples scripts benchmarks

# The layering rules (pyproject.toml, [tool.importlinter]).
imports: $(STAMP)
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The laws run twice: with the compiled kernels (the C extension setup.py builds) and forced to NumPy.
pytest: $(STAMP)
	$(BIN)/pytest -q
	MLP_FUNCTIONAL_KERNELS=numpy $(BIN)/pytest -q tests/test_engines.py tests/test_weights.py mlp_functional/fast

# A second `make demo` reuses the trained run instead of refusing to overwrite it.
demo: $(STAMP)
	$(BIN)/pip install --quiet -e '.[plot,images]'
	$(BIN)/mlp-functional fetch
	test -f runs/demo/metrics.json || $(BIN)/mlp-functional train --out runs/demo
	$(BIN)/mlp-functional evaluate runs/demo
	$(BIN)/mlp-functional report runs/demo

# scikit-learn comes with the compare extra, JAX with the jax extra; PyTorch is compared
# when it is installed.
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[compare,fast,jax]'
	$(BIN)/mlp-functional bench --compare

# Timings of forward, grad, the Adam update and a training step (pytest-benchmark).
speed: $(STAMP)
	$(BIN)/pytest -q tests/test_speed.py --benchmark-only --benchmark-columns=min,median,max,rounds

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
