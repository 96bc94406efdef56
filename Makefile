# Every target sets up .venv by itself the first time, so a fresh clone needs only
# `make bench` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: bench test smoke lint format perf perf-executors clean

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev,dask]'
	@touch $(STAMP)

# `make bench CONFIG=configs/my.yaml` runs another suite (into results/<its name>/);
# ARGS passes flags through, e.g. ARGS='--problem "rosen*" --dry-run'.
CONFIG ?= configs/default.yaml
# Where Chromium is installed (Debian's chromium; .ci/run installs it), the run also
# photographs report.html's key sections into results/<suite>/screenshots/.
SCREENSHOTS := $(if $(shell command -v chromium 2>/dev/null),--screenshots,)
bench: $(STAMP)
	$(PY) -m bench run $(CONFIG) $(SCREENSHOTS) $(ARGS)

perf: $(STAMP)
	$(PY) -m bench perf configs/perf.yaml --out results

# Cold sweeps with each executor (serial, process, dask), interleaved: results/perf-executors.md.
# EXECUTOR_ARGS narrows the suite, e.g. EXECUTOR_ARGS='--problem "rosen*" --rounds 1'.
perf-executors: $(STAMP)
	$(PY) -m bench perf-executors $(CONFIG) --out results $(EXECUTOR_ARGS)

# The smoke suite computes every cell (--force): it checks the pipeline, not the store.
smoke: $(STAMP)
	$(PY) -m bench run configs/smoke.yaml --out $${SMOKE_OUT:-/tmp/optbench-smoke} \
		--store .cache/smoke-store --force

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Two workers: most tests compile (XLA uses about 1.6 cores) or wait on a subprocess, and
# two workers took the slowest files from 350 s to 215 s on two cores.
test: lint $(STAMP)
	$(PY) -m pytest -n 2
	$(MAKE) --no-print-directory smoke

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
