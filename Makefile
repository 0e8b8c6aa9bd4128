# Throughline: `make run` (the embedded default: SQLite, a worker and beat on an embedded Valkey
# broker, sandbox peers) and `make test` (ruff, import-linter, migrations check, pytest).
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup setup-dev run worker beat test lint typecheck fmt bench soak tryton ci clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	touch $@ $(VENV)/.installed

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev

# run_all starts the embedded broker, migrates, bootstraps, loads the reference data, starts
# web + worker + beat (each restarted if it exits) and loads the demo firm (THROUGHLINE_DEMO=0: no demo).
run: setup
	$(BIN)/python manage.py run_all --prepare

worker: setup
	$(BIN)/celery -A config worker --loglevel INFO

beat: setup
	$(BIN)/celery -A config beat --loglevel INFO

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m config.house
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(MAKE) --no-print-directory typecheck

# mypy (with the Django and DRF plugins) over every services/ and selectors module and the Money.
TYPED = $(wildcard config/money.py */services */services.py */selectors */selectors.py)
typecheck: setup-dev
	$(BIN)/mypy $(TYPED)

fmt: setup-dev
	$(BIN)/ruff check --fix .

# Tests keep their own var/ (test database file, queue folder) away from `make run`'s.
test: lint
	THROUGHLINE_VAR_DIR=$(CURDIR)/var/test $(BIN)/pytest $(PYTEST_ARGS)

bench: setup-dev
	$(BIN)/python bench/run.py

# An hour of `make run` with the demo firm and live traffic, the worker SIGKILLed every 10
# minutes (SOAK_SECONDS, SOAK_KILL_EVERY to change); figures to docs/benchmarks.md.
soak: setup-dev
	$(BIN)/python bench/soak.py

# A live Tryton (ERP and PSA) in the foreground on http://127.0.0.1:8010 under var/tryton, and the
# settings to configure it (TRYTON_ARGS="--port 8011 --fresh"); the tryton group is installed into
# the venv only when trytond cannot be imported.
tryton: setup
	$(BIN)/python -c "import trytond" 2>/dev/null || $(BIN)/pip install -q -e ".[tryton]"
	$(BIN)/python manage.py tryton $(TRYTON_ARGS)

ci:
	bash .ci/run

clean:
	rm -rf var/test .pytest_cache
