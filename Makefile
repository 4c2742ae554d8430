# The two commands of the README's quick start, and what they stand on.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

EMULATOR := .venv-bqemulator
EMULATOR_STAMP := $(EMULATOR)/.installed
SPATIAL := $(EMULATOR)/lib/python3*/site-packages/duckdb_extension_spatial/extensions/*/spatial.duckdb_extension

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

# test files run side by side, one worker per core (TEST_WORKERS=0 runs them in this process);
# a file stays on one worker, so a module's fixture is built once
TEST_WORKERS ?= auto
test: setup $(EMULATOR_STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# a local BigQuery (bqemulator, DuckDB inside) for tests/e2e/test_bigquery.py, in a venv of its
# own: it needs another DuckDB version than ccelt, and DuckDB's spatial extension, which it
# would download from extensions.duckdb.org; here it comes from PyPI and is installed into
# the emulator's own home (docs/destinations.md)
$(EMULATOR_STAMP): tests/e2e/bigquery_emulator/requirements.txt
	$(PYTHON) -m venv $(EMULATOR)
	$(EMULATOR)/bin/python -m pip install --quiet --upgrade pip
	$(EMULATOR)/bin/python -m pip install --quiet -r tests/e2e/bigquery_emulator/requirements.txt
	mkdir -p $(EMULATOR)/home
	HOME=$(abspath $(EMULATOR))/home $(EMULATOR)/bin/python -c "import duckdb, glob; \
	  duckdb.connect().execute(\"install '\" + glob.glob('$(SPATIAL)')[0] + \"'\")"
	touch $(EMULATOR_STAMP)

# the performance targets of docs/benchmarks.md, measured here; QUICK=1 for smaller tenants
# (a few minutes instead of about an hour); the results replace docs/benchmarks.md
bench: setup
	$(BIN)/python -m benchmarks $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) $(EMULATOR) ccelt_demo.duckdb ccelt_demo.duckdb.wal .pytest_cache
