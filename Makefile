# CityLoop — `make help` lists every target.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CITY ?= beijing
PORT ?= 8000
DATA ?= ../shared/data
export PYTHONDONTWRITEBYTECODE := 1

STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
TEST_STAMP := $(VENV)/.test-installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
BENCH_STAMP := $(VENV)/.bench-installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: help demo serve test test-fast fuzz lint messages packs bench bench-locator bench-classifier bench-nab \
	bench-alarms bench-brain bench-leaks bench-intake bench-dashboard bench-journeys bench-dispatch bench-hot-issues bench-reply-quality bench-notify chromium wrk \
	screenshots clean soak rehearsal

help: ## list every target
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[1m%-18s\033[0m %s\n", $$1, $$2}'
	@echo "  variables: CITY=$(CITY) (beijing|nyc)  PORT=$(PORT)  DATA=$(DATA) (the public data folder)"

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "CityLoop needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	rm -f $(VENV)/.installed-*; touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.test-installed-*; touch $@

# Every bench-* target installs the bench extra, so each works on a fresh clone after `make demo`.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	rm -f $(VENV)/.bench-installed-*; touch $@

install: $(STAMP) ## create .venv and install CityLoop with its dependencies

demo: $(STAMP) ## migrate an SQLite database in ./var, load the demo city (CITY=beijing|nyc) and serve it on PORT
	$(BIN)/cityloop demo --city $(CITY) --port $(PORT)

serve: $(STAMP) ## serve the configured database without loading anything
	$(BIN)/cityloop migrate
	$(BIN)/cityloop serve --port $(PORT)

chromium: ## install Debian's chromium and a CJK font for the browser tests (when missing)
	@if ! command -v chromium >/dev/null 2>&1 && [ -z "$$CITYLOOP_CHROMIUM" ]; then \
	  echo "installing chromium and fonts-noto-cjk from Debian's packages"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

test: $(TEST_STAMP) chromium ## install what tests need (Chromium included) and run the whole suite
	CITYLOOP_TESTING=1 $(BIN)/python -m pytest -n 2 -q $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 5 ] && exit 1; exit $$rc

test-fast: $(TEST_STAMP) ## the suite without the browser tests
	CITYLOOP_TESTING=1 $(BIN)/python -m pytest -n 2 -q -m "not browser" $(PYTEST_ARGS)

screenshots: $(TEST_STAMP) chromium ## each role's main page (and the citizen's submit page at 390 px), in Chinese, into docs/screenshots/
	$(BIN)/python tools/screenshots.py

fuzz: $(TEST_STAMP) ## schemathesis over /api/v1 (every check) and the Open311 fuzz tests, for longer than CI
	CITYLOOP_TESTING=1 CITYLOOP_FUZZ_EXAMPLES=$${CITYLOOP_FUZZ_EXAMPLES:-200} $(BIN)/python -m pytest -q -p no:randomly \
	  tests/fuzz tests/open311/test_fuzz_open311.py tests/open311/test_publication.py -k "schemathesis or fuzz or malformed or control"

lint: $(TEST_STAMP) ## ruff (security rules, line length, format), mypy, import-linter layers; no missing migration
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	CITYLOOP_TESTING=1 CITYLOOP_DATA_DIR=$$(mktemp -d) $(BIN)/mypy
	PYTHONPATH=tools $(BIN)/lint-imports --no-cache
	CITYLOOP_TESTING=1 CITYLOOP_DATA_DIR=$$(mktemp -d) $(BIN)/cityloop makemigrations --check --dry-run

messages: $(TEST_STAMP) ## compile the .po translation files into .mo (committed)
	$(BIN)/python tools/compile_messages.py

packs: $(STAMP) ## rebuild the built-in city packs from $(DATA)
	$(BIN)/python tools/build_packs.py --data $(DATA) --out src/cityloop/org/packs

bench: bench-locator bench-classifier bench-nab bench-alarms bench-brain bench-leaks bench-intake bench-dashboard bench-journeys bench-dispatch bench-hot-issues bench-reply-quality bench-notify bench-backup bench-stop ## every benchmark (slow)

bench-locator: $(BENCH_STAMP) ## 1,000,000 random points located on the nyc pack, one core
	$(BIN)/python bench/bench_locator.py

bench-classifier: $(BENCH_STAMP) ## classifier accuracy and macro-F1 (5-fold CV) on the public data
	$(BIN)/python bench/classifier_eval.py --data $(DATA)

bench-nab: $(BENCH_STAMP) ## NAB scores of the reference Windowed Gaussian, CityLoop's contextual detector alone and CityLoop's detector, in-sample and held-out
	$(BIN)/python -m bench.nab.run --data $(DATA)/nab --results bench/results/nab --detector both

bench-alarms: $(BENCH_STAMP) ## false alarms per 1,000 device-days on a clean simulated city; recall of 8 injected fault kinds
	$(BIN)/python bench/bench_alarms.py

bench-brain: $(BENCH_STAMP) ## one reading from each of 3,120,000 devices through every detector (Arrow, JSON, MQTT)
	$(BIN)/python bench/bench_brain.py
	$(BIN)/python bench/bench_archive_write.py

bench-leaks: $(BENCH_STAMP) ## leak detection on BattLeDIM leak flows: precision, recall, hours to detect
	$(BIN)/python bench/bench_leaks.py --data $(DATA)/battledim

bench-backup: $(BENCH_STAMP) ## backup and restore round trip of the demo city on SQLite (and PostgreSQL with BENCH_PG_URL)
	$(BIN)/python bench/bench_backup.py
	@if [ -n "$(BENCH_PG_URL)" ]; then $(BIN)/python bench/bench_backup.py --database-url "$(BENCH_PG_URL)"; fi

soak: $(BENCH_STAMP) ## a compressed city day on PostgreSQL, NATS and Mosquitto (<= 30 min; SOAK_MINUTES=3 for a short one)
	$(BIN)/python bench/soak.py $(if $(SOAK_MINUTES),--minutes $(SOAK_MINUTES)) $(if $(SOAK_SCALE),--scale $(SOAK_SCALE)) \
	  $(if $(SOAK_DATABASE_URL),--database-url $(SOAK_DATABASE_URL))

bench-hot-issues: $(BENCH_STAMP) ## hot issues on the 4,326 real TipDM messages: time, top 10, early-warning replay
	$(BIN)/python bench/bench_hot_issues.py --data $(DATA)

bench-reply-quality: $(BENCH_STAMP) ## reply quality on the 2,816 real message–reply pairs: share flagged, agreement with 200 hand labels
	$(BIN)/python bench/bench_reply_quality.py --data $(DATA)

wrk:
	@if ! command -v wrk >/dev/null 2>&1; then \
	  echo "installing wrk from Debian's packages"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wrk >/dev/null; \
	fi

bench-stop: $(BENCH_STAMP) ## Ctrl-C on `cityloop serve` after the heavy pages: seconds to exit, SIGKILLed workers, first page and RSS per worker
	$(BIN)/python bench/bench_stop.py

bench-intake: $(BENCH_STAMP) wrk ## wrk against a production server: requests/s, p99, lost and duplicated submits
	$(BIN)/python bench/bench_intake.py

bench-dashboard: $(BENCH_STAMP) ## 1,000,000 request histories, then the dashboard and ranking page times
	$(BIN)/python bench/bench_dashboard.py $(if $(DATABASE_URL),--database-url $(DATABASE_URL))

bench-journeys: $(BENCH_STAMP) ## the three one-thing bundles' demo journeys, from application to result
	$(BIN)/python bench/services_journeys.py

bench-dispatch: $(BENCH_STAMP) $(TEST_STAMP) chromium ## a dispatcher clears 20 typical requests from the queue in Chromium: clicks and seconds each
	$(BIN)/python bench/bench_dispatch.py

bench-notify: $(BENCH_STAMP) ## 20,000 e-mails to a local SMTP server: e-mails/s, p99, lost and duplicated through a 60 s outage and a killed worker
	$(BIN)/python bench/bench_notify.py $(if $(DATABASE_URL),--database-url $(DATABASE_URL))

rehearsal: $(STAMP) ## (root) hosts in network namespaces: PostgreSQL, 2 web nodes + proxy, 3 NATS, Mosquitto, 2 brain hosts; kill -9 web, NATS, brain mid-load
	$(BIN)/python tools/rehearsal/rehearsal.py $(REHEARSAL_ARGS)

clean: ## remove the virtual environment and the data directory
	rm -rf $(VENV) var
