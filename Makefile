# Every target sets up .venv by itself the first time, so a fresh clone needs only
# `make bench` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: bench test smoke lint format perf clean

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

bench: $(STAMP)
	$(PY) -m bench run configs/default.yaml --out results/default

perf: $(STAMP)
	$(PY) -m bench perf configs/perf.yaml --out results

smoke: $(STAMP)
	$(PY) -m bench run configs/smoke.yaml --out $${SMOKE_OUT:-/tmp/optbench-smoke}

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint $(STAMP)
	$(PY) -m pytest
	$(MAKE) --no-print-directory smoke

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
