# Two commands: `make run` (the desk) and `make test` (the suite). Both provision
# everything they need on a fresh Debian machine: see deploy/local/provision.sh.
SHELL := /bin/bash
PROVISION := deploy/local/provision.sh
PY := .venv/bin/python
PORT ?= 8000
ONLY ?=
PYTEST_ARGS ?=

.PHONY: run test bench lint provision provision-test services migrate seed stop clean

provision:
	@$(PROVISION) packages
	@$(PROVISION) env
	@$(PROVISION) postgres
	@$(PROVISION) redis 6379 var/redis
	@$(PROVISION) venv
	@$(PROVISION) npm
	@deploy/local/neo4j.sh ensure

provision-test:
	@$(PROVISION) packages chromium
	@$(PROVISION) env
	@$(PROVISION) postgres
	@$(PROVISION) venv
	@$(PROVISION) npm
	@deploy/local/neo4j.sh build

migrate: provision
	@$(PY) manage.py setup --init-db

seed: migrate
	@$(PY) manage.py seed_demo

run: seed
	@$(PY) manage.py collectstatic --noinput -v0
	@# One shell for the check and the start: an `exit` in its own recipe line would not stop make.
	@if (exec 3<>/dev/tcp/127.0.0.1/$(PORT)) 2>/dev/null; then \
		echo "Something already listens on port $(PORT): the desk is probably running (http://127.0.0.1:$(PORT)/). Stop it with Ctrl-C in its terminal, or use PORT=8001 make run."; \
	else \
		rm -rf var/prometheus && mkdir -p var/prometheus && \
		$(PY) manage.py show_logins --url http://127.0.0.1:$(PORT)/ && \
		PORT=$(PORT) exec .venv/bin/honcho start -f Procfile; \
	fi

test: provision-test
	@$(PY) -m pytest $(PYTEST_ARGS)

bench: provision
	@$(PY) benchmarks/run.py $(if $(ONLY),--only $(ONLY),)

lint: provision
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .

clean:
	rm -rf var/staticfiles .pytest_cache
