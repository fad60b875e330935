# Kontakt developer commands. `make` alone lists them.
# Needs only Python 3.11: PostgreSQL and Redis are embedded unless DATABASE_URL/REDIS_URL are set.

.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# Re-install only when the pins change: the stamp's name carries a hash of both files.
PINS_HASH := $(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)
STAMP := $(VENV)/.pins-$(PINS_HASH)
WITH_SERVICES := $(BIN)/python scripts/with_services.py
ARGS ?=

.PHONY: help venv run up test lint fmt migrations-check messages shell manage worker beat bench clean-data

help: ## list the commands
	@echo "Usage: make <target> [ARGS=...]"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-17s %s\n", $$1, $$2}'

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: Kontakt needs Python 3.11 (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@rm -f $(VENV)/.pins-*
	@touch $@

venv: $(STAMP) ## create .venv and install the pinned requirements (when they changed)

run: venv ## run the product with demo data on http://localhost:8000/ (ARGS="--reload")
	$(BIN)/python scripts/run.py $(ARGS)

up: run

test: venv ## run the whole test suite (ARGS="-x tenants/tests --no-url-coverage")
	$(BIN)/python scripts/test.py $(ARGS)

lint: venv ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: venv ## format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrations-check: venv ## fail when a model change has no migration
	$(WITH_SERVICES) $(BIN)/python manage.py makemigrations --check --dry-run

messages: venv ## update locale/de/LC_MESSAGES/django.po from the sources and compile django.mo (needs GNU gettext; docs/i18n.md)
	DEBUG=1 $(BIN)/python manage.py makemessages -l de --no-location --no-obsolete --no-wrap --ignore=.venv --ignore=staticfiles --ignore=media --ignore='bench/*'
	DEBUG=1 $(BIN)/python manage.py compilemessages -l de --ignore=.venv

shell: venv ## Django shell against the development database
	$(WITH_SERVICES) $(BIN)/python manage.py shell

manage: venv ## any manage.py command: make manage ARGS="create_api_key pizzeria --name ci"
	$(WITH_SERVICES) $(BIN)/python manage.py $(ARGS)

worker: venv ## a Celery worker on its own (make run starts one already)
	$(WITH_SERVICES) $(BIN)/celery -A config worker -l info

beat: venv ## Celery beat on its own (make run starts one already)
	$(WITH_SERVICES) $(BIN)/celery -A config beat -l info --schedule .data/celerybeat-schedule

bench: venv ## run the benchmarks (bench/tenants.py)
	$(WITH_SERVICES) $(BIN)/python bench/tenants.py $(ARGS)

clean-data: ## delete .data (embedded databases, mail, beat schedule)
	@for pidfile in .data/pg/postmaster.pid .data/test/pg/postmaster.pid; do \
	  if [ -f $$pidfile ] && kill -0 "$$(head -1 $$pidfile)" 2>/dev/null; then \
	    echo "An embedded PostgreSQL still runs ($$pidfile): stop make run/make test first."; exit 1; fi; done
	rm -rf .data
