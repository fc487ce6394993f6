# Two commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PORT   ?= 8000
export FLASK_APP = wsgi:app

.PHONY: run test test-sqlite test-postgres lint format bench install migrate seed deploy worker clean

$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

install: $(BIN)/.installed

migrate: install
	$(BIN)/flask db upgrade

seed: migrate
	$(BIN)/flask demo seed

deploy: seed
	$(BIN)/flask processes deploy bpmn

## run: set up, migrate, seed demo data, deploy bpmn/, serve on 127.0.0.1:$(PORT) with a timer worker
run: deploy
	scripts/run.sh

## test: the whole suite on SQLite, then on PostgreSQL (TEST_DATABASE_URL or a local server)
test: install
	scripts/test.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check app tests bench config.py wsgi.py

format: install
	$(BIN)/ruff format app tests bench config.py wsgi.py
	$(BIN)/ruff check --fix .

## bench: newborn bundle throughput — engine ceiling, service layer, HTTP via gunicorn
bench: install
	$(BIN)/python -m bench.newborn

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
