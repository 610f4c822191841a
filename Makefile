# Rapport: `make run` (install, migrate, demo data, then the web server, the task worker and the
# scheduler together) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
export RAPPORT_DEV ?= 1

.PHONY: run serve install install-dev test test-fast lint migrate demo worker scheduler bench bench-each lock clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: install your distribution's python3-venv package"; exit 1; }
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: requirements.lock pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q --require-hashes -r requirements.lock
	$(PIP) install -q --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock $(VENV)/.installed
	$(PIP) install -q --require-hashes -r requirements-dev.lock
	touch $@

install: $(VENV)/.installed
	@{ ldconfig -p 2>/dev/null | grep -q libpangoft2; } || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -q >/dev/null && apt-get install -y -q libpango-1.0-0 libpangoft2-1.0-0 >/dev/null; } || echo "note: no Pango: quote PDFs (WeasyPrint) need libpango-1.0-0 and libpangoft2-1.0-0"

install-dev: install $(VENV)/.installed-dev
	@command -v pdftotext >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -q >/dev/null && apt-get install -y -q poppler-utils >/dev/null; } || echo "note: no pdftotext: the quote PDF tests will fail (install poppler-utils)"
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } || echo "note: no chromium: the browser tests will be skipped"
	@command -v dovecot >/dev/null || [ -x /usr/sbin/dovecot ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -q >/dev/null && apt-get install -y -q dovecot-imapd >/dev/null; } || echo "note: no dovecot: the IMAP tests will fail (install dovecot-imapd)"

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py demo_data --if-empty

# One command starts the web server, the task worker and the scheduler (restarted if they die;
# Ctrl-C stops all three). Production runs them as separate services: see README.md.
run: demo
	@echo "Rapport on http://$(HOST):$(PORT)/  (API docs: http://$(HOST):$(PORT)/api/docs)"
	$(PY) manage.py run $(HOST):$(PORT)

serve: run

worker: install
	$(PY) manage.py db_worker

# Enqueues the periodic jobs (settings.RAPPORT_SCHEDULE); one process is enough, more are safe.
scheduler: install
	$(PY) manage.py scheduler

# Lint, migration check, then the whole suite (on DATABASE_URL's database; SQLite by default).
test: install-dev lint
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=25

test-fast: install-dev
	$(PY) -m pytest -q -x

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check rapport bench
	$(PY) manage.py makemigrations --check --dry-run

# The benchmark suite at SCALE=small (default, minutes) or SCALE=1m (a million contacts, ten
# million activities) on DATABASE_URL's database (default: a SQLite file in var/bench/):
# ONE table of medians and ratios against baselines of the same run, kept in bench/RESULTS.md.
SCALE ?= small
export SCALE
bench: install-dev var/bench/die-site/import_export
	$(PY) bench/run.py

# django-import-export, the import baseline: outside the project's environment on purpose.
var/bench/die-site/import_export:
	$(PIP) install -q --target var/bench/die-site --no-deps django-import-export==4.4.3 tablib diff-match-patch

# Every bench/bench_*.py on its own, each with its own table.
bench-each: install-dev
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# Re-resolve the lockfiles after changing pyproject.toml.
lock: | $(VENV)/bin/python
	$(PIP) install -q pip-tools
	$(VENV)/bin/pip-compile -q --generate-hashes --strip-extras --allow-unsafe -o requirements.lock pyproject.toml
	$(VENV)/bin/pip-compile -q --generate-hashes --strip-extras --allow-unsafe --extra dev -o requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) var
