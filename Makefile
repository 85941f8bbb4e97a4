# Two commands do everything on a fresh machine:
#   make run    the tracker on embedded defaults (SQLite, filesystem broker) with demo data
#   make test   the whole suite against PostgreSQL and Redis on 127.0.0.1
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test install browser lint bench

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py load_demo
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py ensure_admin
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py run_all

# Headless Chromium for the browser tests, from Debian's packages (never a browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			(apt-get install -y -q chromium >/dev/null 2>&1 || \
			 (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) \
			|| echo "could not install chromium: browser tests will be skipped"; \
		else echo "chromium is not installed: browser tests will be skipped"; fi; }

test: install browser
	DJANGO_SETTINGS_MODULE=config.settings.test $(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py makemigrations --check --dry-run
