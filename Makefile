# The two commands of the README's quick start, and what they stand on.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean

setup: $(STAMP)

# a fresh machine needs only Python 3.10+ with venv; everything else comes from PyPI,
# pinned by constraints.txt so every machine runs what CI ran
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/ccelt demo

test: setup
	$(BIN)/python -m pytest

# the performance targets of docs/benchmarks.md, measured here; QUICK=1 for smaller tenants
# (a few minutes instead of about an hour); the results replace docs/benchmarks.md
bench: setup
	$(BIN)/python -m benchmarks $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) ccelt_demo.duckdb ccelt_demo.duckdb.wal .pytest_cache
