# Two commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PORT   ?= 8000
export FLASK_APP = wsgi:app

.PHONY: run test fuzz lint format bench install assets translations messages migrate seed deploy clean

$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

install: $(BIN)/.installed assets translations

## assets: front-end packages from package-lock.json (npm ci) copied into app/static/vendor
assets:
	scripts/assets.sh

## translations: compile the .po catalogs the UI uses
translations: $(BIN)/.installed
	$(BIN)/pybabel -q compile -d app/translations

## messages: extract new strings and merge them into the catalogs (then translate and commit)
messages: $(BIN)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -o app/translations/messages.pot .
	$(BIN)/pybabel -q update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching

migrate: install
	$(BIN)/flask db upgrade

seed: migrate
	$(BIN)/flask demo seed

deploy: seed
	$(BIN)/flask bpmn deploy bpmn
	$(BIN)/flask catalogue import catalogue
	$(BIN)/flask hotline knowledge hotline/knowledge.toml
	$(BIN)/flask demo generate --cases 60 --days 30 --if-empty

## run: set up, migrate, seed demo data, deploy bpmn/, generate demo history, serve on 127.0.0.1:$(PORT) with a timer worker
run: deploy
	scripts/run.sh

## test: the whole suite on SQLite, then on PostgreSQL (TEST_DATABASE_URL or a local server)
test: install
	scripts/test.sh

## fuzz: schemathesis against the JSON API's OpenAPI document, in-process on fresh SQLite, then PostgreSQL: no 5xx (tests/fuzz)
fuzz: install
	scripts/fuzz.sh

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format app tests bench config.py wsgi.py
	$(BIN)/ruff check --fix .

## bench: newborn throughput (engine, service layer, HTTP via gunicorn + wrk), KPI API and inbox latency, a claim storm, case search, memory per worker
bench: install
	$(BIN)/python -m bench.newborn
	$(BIN)/python -m bench.kpis
	$(BIN)/python -m bench.inbox
	$(BIN)/python -m bench.claims
	$(BIN)/python -m bench.search
	$(BIN)/python -m bench.memory

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
