# Học bạ số — `make run` starts the portal with a demo school, `make test` runs the whole suite.
#
#   make setup   Debian packages (apt-get, as root), .venv + requirements.txt, migrations, demo school
#                if the database is empty. Idempotent; a second run does no apt-get and no pip.
#   make run     setup, then Redis + one RQ worker + gunicorn in the foreground (portal/serve.py)
#                on PORT (default 5000); Ctrl-C stops all three.
#   make test    setup's packages and venv (not the demo seeding) + the test-only packages, then pytest
#                on SQLite and, when PostgreSQL answers at TEST_POSTGRES_URL, again on PostgreSQL (without
#                the browser, pure-rule, PDF-signature, token and fault-injection tests, whose subject is not
#                the database).
#
# Variables: PYTHON (interpreter that creates .venv, default python3), PORT, WEB_CONCURRENCY,
# TEST_POSTGRES_URL (default postgresql://root@127.0.0.1:5432/test), PYTEST_WORKERS (default 2),
# TESTS (what to run, default tests), PYTEST_ARGS (extra pytest arguments, e.g. PYTEST_ARGS="-k login").

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := setup
.PHONY: setup run test system-packages test-packages venv

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.sha256

# What the portal needs at run time (Debian 12). python3/python3-venv are added when .venv cannot be made.
SYSTEM_PACKAGES := redis-server softhsm2 opensc poppler-utils libnss3-tools fonts-liberation2 \
	libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0
# What only the tests need: a school's server never downloads a browser.
TEST_PACKAGES := chromium xmlsec1

TEST_POSTGRES_URL ?= postgresql://root@127.0.0.1:5432/test
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
TESTS ?= tests
PYTEST := $(PY) -m pytest --rootdir . -p no:cacheprovider -q -ra --strict-markers -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# $(call apt_ensure,PACKAGES): install the missing Debian packages, or stop with the list to install.
define apt_ensure
missing=""; \
for pkg in $(1); do \
	dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$pkg"; \
done; \
if [ -n "$$missing" ]; then \
	if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "==> apt-get install$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q; \
		apt-get install -y -q --no-install-recommends $$missing; \
	else \
		echo "THIẾU GÓI HỆ THỐNG (missing Debian packages):$$missing" >&2; \
		echo "Chạy với quyền root (run as root):" >&2; \
		echo "  apt-get update && apt-get install -y --no-install-recommends$$missing" >&2; \
		echo "rồi chạy lại make (then run make again)." >&2; \
		exit 1; \
	fi; \
fi
endef

# Connects to PostgreSQL for at most 3 s; on failure prints the SKIPPED line and exits 1.
define PG_PROBE
import sys, urllib.parse
import psycopg
url = sys.argv[1]
try:
    psycopg.connect(url, connect_timeout=3).close()
except Exception:
    where = urllib.parse.urlsplit(url)
    print(f"PostgreSQL không trả lời tại {where.hostname}:{where.port or 5432} "
          "— BỎ QUA lượt kiểm thử trên PostgreSQL (SKIPPED)")
    sys.exit(1)
endef
export PG_PROBE

setup: venv
	@$(PY) -m flask --app wsgi setup

run: setup
	@exec $(PY) -m portal.serve

test: venv test-packages
	@status=0; \
	echo "==> pytest trên SQLite"; \
	$(PYTEST) $(TESTS) || status=$$?; \
	if $(PY) -c "$$PG_PROBE" "$(TEST_POSTGRES_URL)"; then \
		echo "==> pytest trên PostgreSQL ($(TEST_POSTGRES_URL))"; \
		PORTAL_TEST_DATABASE_URL="$(TEST_POSTGRES_URL)" \
			$(PYTEST) --ignore=tests/browser --ignore=tests/assessment --ignore=tests/transcripts/test_pades.py \
			--ignore=tests/pki/test_tokens.py -m "not faults and not browser" $(TESTS) || status=$$?; \
	fi; \
	exit $$status

system-packages:
	@extra=""; \
	if [ ! -x $(PY) ]; then \
		if ! command -v $(PYTHON) >/dev/null 2>&1; then extra="python3 python3-venv"; \
		elif ! $(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1; then extra="python3-venv"; fi; \
	fi; \
	$(call apt_ensure,$(SYSTEM_PACKAGES) $$extra)

test-packages:
	@$(call apt_ensure,$(TEST_PACKAGES))

venv: system-packages
	@if ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then \
		$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
			|| { echo "Cần Python ≥ 3.11 (needs Python 3.11+): $$($(PYTHON) --version 2>&1)" >&2; exit 1; }; \
		echo "==> $(PYTHON) -m venv $(VENV)"; \
		$(PYTHON) -m venv --clear $(VENV); \
	fi; \
	want="$$(sha256sum requirements.txt | cut -d' ' -f1)"; \
	if [ "$$(cat $(STAMP) 2>/dev/null)" != "$$want" ]; then \
		echo "==> pip install -r requirements.txt"; \
		$(PY) -m pip install -q --disable-pip-version-check --no-input -r requirements.txt; \
		echo "$$want" > $(STAMP); \
	fi
