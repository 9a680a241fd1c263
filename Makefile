# Regulars: `make demo` serves the demo café, `make test` runs the whole suite. Both set up what
# they need: a .venv with the locked dependencies and, for the browser tests, Debian's chromium.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export PIP_DISABLE_PIP_VERSION_CHECK := 1

VENV := .venv
BIN := $(VENV)/bin
# Django 6 needs Python >= 3.12; .python-version selects pyenv's 3.12.1 inside the tree.
PYTHON ?= $(shell for p in python3 python3.12 python3.13; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& echo $$p && break; done)
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: help install demo serve test test-sqlite test-postgres lint chromium messages clean

help:
	@echo "make demo   set up, load the demo café and serve it on http://127.0.0.1:8000"
	@echo "make test   set up and run the whole suite (SQLite, then PostgreSQL)"
	@echo "make lint | make messages | make clean"

$(BIN)/uv:
	@test -n "$(PYTHON)" || { echo "Python >= 3.12 not found (Django 6 needs it)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv

# --compile-bytecode: the packages' .pyc files are written once here, so no process (a web
# worker, a test's subprocess) compiles Django or SciPy again where PYTHONDONTWRITEBYTECODE is
# set, as it is on these machines.
$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip sync -q --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/regulars demo

serve: install
	$(BIN)/regulars serve

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

lint: install
	$(BIN)/ruff check .

test: install chromium lint test-sqlite test-postgres

test-sqlite: install
	@echo "== tests on SQLite =="
	DATABASE_URL= $(BIN)/pytest $(PYTEST_ARGS)

# Mandatory under CI; elsewhere skipped with a line when no server answers.
test-postgres: install
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_TEST_URL)'.replace('postgres://','postgresql://',1), connect_timeout=3)" 2>/dev/null; then \
		echo "== tests on PostgreSQL ($(PG_TEST_URL)) =="; \
		DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at $(PG_TEST_URL) does not answer; under CI the PostgreSQL run is mandatory"; exit 1; \
	else \
		echo "SKIPPED: the PostgreSQL run (no server answers at $(PG_TEST_URL))"; \
	fi

# Refresh and compile the translation catalogs (needs GNU gettext; the compiled .mo files are committed),
# then translate what is new in regulars/locale/*/LC_MESSAGES/django.po and run it again to compile.
# I18N_LANGUAGES is settings.LANGUAGES but English. I18N_FOLDERS are the folders of regulars/ whose
# strings are translated (with its top-level modules); every other folder is ignored, so apps still
# being built add nothing. Keep it equal to TRANSLATED_FOLDERS in tests/i18n/test_translations.py.
I18N_LANGUAGES := ru uk hu hr
I18N_FOLDERS := templates accounts customers sales lib loyalty portal analytics integrations
I18N_IGNORE := $(foreach d,$(filter-out $(I18N_FOLDERS) locale,$(patsubst regulars/%/,%,$(wildcard regulars/*/))),--ignore='$(d)/*')
messages: install
	cd regulars && ../$(BIN)/regulars makemessages $(addprefix -l ,$(I18N_LANGUAGES)) --no-obsolete \
		--ignore=tests --ignore='*/tests/*' $(I18N_IGNORE) \
		&& ../$(BIN)/regulars compilemessages $(I18N_IGNORE)

clean:
	rm -rf $(VENV) var
