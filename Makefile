# The same commands locally and in CI.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: run test lint mypy format check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## the service with its embedded defaults and the demo catalog
	$(PY) -m service serve --demo

test: $(STAMP)  ## every test, against a private redis-server, SQLite files and a private PostgreSQL
	$(PY) -m pytest

lint: $(STAMP)  ## ruff, and the layer contracts of pyproject.toml (tests/test_layers.py runs them in CI)
	$(VENV)/bin/ruff check service tests bench
	$(VENV)/bin/lint-imports

mypy: $(STAMP)
	$(VENV)/bin/mypy service

format: $(STAMP)
	$(VENV)/bin/ruff format service tests bench

check: lint mypy test

bench: $(STAMP)  ## the benchmarks, run on demand; each prints its numbers
	$(PY) bench/beacon.py
	$(PY) bench/beacon.py --articles 500
	PYTHONPATH=$(CURDIR) $(PY) bench/scaleout.py
	$(PY) bench/redis_cpu.py
	$(PY) bench/flush_bench.py
	$(PY) bench/related_latency.py --articles 100000
	$(PY) bench/import_stall.py 20000 --build
	$(PY) bench/trending_latency.py
	$(PY) bench/roles.py

clean:
	rm -rf $(VENV) data
