# The two commands: `make run` (app + worker + beat with demo data) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/stayhold
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PORT ?= 8000

.PHONY: run test test-clock lint bench bench-small bench-smoke bench-scaling bench-channels install clean messages \
	compilemessages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) compilemessages

# Translations (docs/i18n.md): `make messages` extracts every wrapped string of the guest pages, emails and code into
# locale/{de,fr,es}/LC_MESSAGES/django.po, and the guest scripts' into djangojs.po (the back office's own templates and scripts, tests, benchmarks and the virtualenv
# left out); translate the new entries, then `make compilemessages` (also part of `make install`) builds the .mo
# files Django reads. The .mo files are build output, not committed (.gitignore).
LOCALES := de fr es
MAKEMESSAGES_IGNORE := --ignore=.venv --ignore=var --ignore=tests --ignore=bench --ignore='templates/admin/*' \
	--ignore=docs --ignore=static --ignore=node_modules
# The guest scripts only (static/js): not the admin's own, not the collected copies under var/.
MAKEMESSAGES_JS_IGNORE := --ignore=.venv --ignore=var --ignore=tests --ignore=bench --ignore=docs \
	--ignore=static/js/admin-* --ignore=static/admin-extra --ignore=node_modules
messages: $(STAMP)
	$(BIN)/python manage.py makemessages $(addprefix --locale=,$(LOCALES)) --domain=django --no-obsolete \
		--no-wrap --add-location=file $(MAKEMESSAGES_IGNORE)
	$(BIN)/python manage.py makemessages $(addprefix --locale=,$(LOCALES)) --domain=djangojs --no-obsolete \
		--no-wrap --add-location=file $(MAKEMESSAGES_JS_IGNORE)

compilemessages: $(STAMP)
	command -v msgfmt >/dev/null || { echo "msgfmt is missing: install GNU gettext (apt-get install gettext)" >&2; exit 1; }
	$(BIN)/python manage.py compilemessages --ignore=.venv --ignore=var

run: $(STAMP)
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	PORT=$(PORT) $(BIN)/python manage.py seed_demo
	WEB_PORT=$(PORT) $(BIN)/honcho -f Procfile.dev start --port $(PORT)

test: $(STAMP)
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest
	mkdir -p var
	DATABASE_URL=sqlite:///var/test-sqlite.sqlite3 REDIS_URL= $(BIN)/pytest -m sqlite

# The suite (without the browser tests) with the clock moved (tests/conftest.py), one run per day of the week, each on
# an instant that also crosses something: Mon a leap day (23:30 on 28 Feb 2028), Tue the US DST change five days out,
# Wed a month end a few days after the EU DST change, Thu a year end, Fri February's end, Sat the night of the EU DST
# change, Sun a month end. Not part of CI (~7 x make test); run it after adding tests that use "today".
CLOCK_DATES ?= 2028-02-28T23:30:00+00:00 2027-03-09T12:00:00+00:00 2027-03-31T23:30:00+00:00 \
	2026-12-31T23:30:00+00:00 2027-02-26T12:00:00+00:00 2027-03-27T23:30:00+00:00 2027-01-31T23:30:00+00:00
test-clock: $(STAMP)
	set -e; for now in $(CLOCK_DATES); do echo "== STAYHOLD_TEST_NOW=$$now"; \
		STAYHOLD_TEST_NOW=$$now DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/pytest -p no:cacheprovider --ignore=tests/browser -rfE; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(MAKE) bench-channels

bench-small: $(STAMP)
	$(BIN)/python -m bench.run --properties 1000
	$(MAKE) bench-channels CHANNEL_BENCH_ARGS=--quick

# CI's smoke run (.ci/run): every benchmark's code path at the smallest size, in its own database, so that a
# schema change can never break `make bench` silently. Its figures mean nothing; only its exit code counts, and
# that every printed row is also in the JSON (var/bench-smoke*.json, checked by bench/results.py).
bench-smoke: $(STAMP)
	mkdir -p var
	bash -o pipefail -c '$(BIN)/python -m bench.run --properties 100 --bookings 1000 --quick --rebuild \
		--db-url postgres://postgres@127.0.0.1:5432/stayhold_bench_smoke --json var/bench-smoke.json \
		| tee var/bench-smoke.log'
	$(BIN)/python -m bench.results check var/bench-smoke.json --printed var/bench-smoke.log
	$(MAKE) bench-channels CHANNEL_BENCH_ARGS=--quick BENCH_JSON_PREFIX=var/bench-smoke
	$(BIN)/python -m bench.results check var/bench-smoke-export.json
	$(BIN)/python -m bench.results check var/bench-smoke-import.json
	$(BIN)/python -m bench.results check var/bench-smoke-api.json

# Search, pages and booking writes at 1,000, 10,000 and 100,000 properties (50 bookings each), each size in its
# own database (stayhold_bench_p1000, ..._p10000, ..._p100000: built on first use, then reused), and the scaling
# table; every figure also in var/bench-scaling.json. The first build of the 100,000 size takes tens of minutes
# (docs/benchmarks.md); SCALING_SIZES=1000,10000 for a shorter run.
SCALING_SIZES ?= 1000,10000,100000
bench-scaling: $(STAMP)
	mkdir -p var
	$(BIN)/python -m bench.run --scaling $(SCALING_SIZES) --json var/bench-scaling.json $(BENCH_ARGS)
	$(BIN)/python -m bench.results check var/bench-scaling.json

# iCal export and import, and the channel APIs with a real worker (each in its own database: stayhold_bench_export,
# stayhold_bench_channels, stayhold_bench_api). BENCH_JSON_PREFIX=var/x also writes var/x-{export,import,api}.json.
bench-channels: $(STAMP)
	$(BIN)/python -m bench.channel_export $(CHANNEL_BENCH_ARGS) $(if $(BENCH_JSON_PREFIX),--json $(BENCH_JSON_PREFIX)-export.json)
	$(BIN)/python -m bench.channel_import $(CHANNEL_BENCH_ARGS) $(if $(BENCH_JSON_PREFIX),--json $(BENCH_JSON_PREFIX)-import.json)
	$(BIN)/python -m bench.channel_api $(CHANNEL_BENCH_ARGS) $(if $(BENCH_JSON_PREFIX),--json $(BENCH_JSON_PREFIX)-api.json)

clean:
	rm -rf $(VENV) var
