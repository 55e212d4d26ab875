# Fengqiao - the two commands: `make run` (whole system, embedded defaults) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)
WEB_DIRS := $(wildcard services/*/web)
APT_PACKAGES := chromium fonts-noto-cjk
PYTEST_ARGS ?=

.PHONY: help install uv python-deps web-deps web-build system-deps run up stop test test-fast lint asyncapi bench chaos demo clean

help:
	@echo "make run     start the whole system (embedded PostgreSQL + Kafka broker + services), print URLs"
	@echo "make stop    stop what make run started (from another terminal)"
	@echo "make test    install what the tests need and run unit, integration and end-to-end tests"
	@echo "make bench   benchmarks against raw baselines (bench/RESULTS.md)"
	@echo "make chaos   fault-injection scenarios"
	@echo "make demo    play a day of demo traffic against a running system"
	@echo "make lint    ruff"

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv

python-deps: uv
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || command -v uv >/dev/null 2>&1 || { \
	  echo "make: Python 3.11+ is needed (python3 --version), or uv (https://docs.astral.sh/uv/)"; exit 1; }
	@$(UV) sync --all-packages --locked --quiet

# The big screen's ECharts, the API docs' Swagger UI and the console's packages come from npm (services/*/web/package.json).
web-deps:
	@command -v npm >/dev/null 2>&1 || { \
	  echo "make: npm is needed (Node.js 20.19+ with npm) to install the web packages and build the console:"; \
	  echo "      Debian/Ubuntu: apt-get install nodejs npm   macOS: brew install node   or https://nodejs.org"; \
	  exit 1; }
	@for d in $(WEB_DIRS); do \
	  if [ -f $$d/package.json ]; then \
	    if [ -f $$d/package-lock.json ]; then npm ci --prefix $$d --no-audit --no-fund --loglevel=error; \
	    else npm install --prefix $$d --no-audit --no-fund --loglevel=error; fi; \
	  fi; \
	done

# The staff console (Vue 3 + Element Plus, services/gateway/web/src) is built by Vite into web/dist, which the
# gateway serves at /console/; `npm run build` also regenerates the typed API client from web/openapi.json and
# type-checks it (vue-tsc), so a renamed API field fails here. Rebuilt only when a source is newer than the build.
CONSOLE := services/gateway/web
CONSOLE_SRC := $(shell find $(CONSOLE)/src -type f 2>/dev/null) $(wildcard $(CONSOLE)/index.html $(CONSOLE)/vite.config.ts \
  $(CONSOLE)/tsconfig.json $(CONSOLE)/openapi.json $(CONSOLE)/package-lock.json)
web-build: web-deps $(CONSOLE)/dist/index.html

$(CONSOLE)/dist/index.html: $(CONSOLE_SRC)
	@echo "building the staff console ($(CONSOLE)/dist)"
	@npm run build --prefix $(CONSOLE) --silent

# Debian packages for browser tests and the agreement PDF's CJK font (skipped when present).
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

install: python-deps web-deps web-build

run: install
	@$(UV) run fengqiao-stack run

up: install
	@$(UV) run fengqiao-stack up

stop: uv  ## from another terminal: the running `make run` stops everything itself
	@$(UV) run fengqiao-stack stop

test: install system-deps
	@$(UV) run pytest $(PYTEST_ARGS)

test-fast: install
	@$(UV) run pytest -m "not slow and not browser" $(PYTEST_ARGS)

lint: python-deps
	@$(UV) run ruff check .

bench: install  ## ~15 min; BENCH_ARGS=--quick for a 5-minute smoke
	@$(UV) run python -m bench --stack $(BENCH_ARGS)
	@$(UV) run python -m bench.analytics_scale
	@$(UV) run python -m bench.analytics_ingest

chaos: install system-deps
	@$(UV) run pytest tests/chaos -m slow -p no:cacheprovider

demo: uv  ## against a running `make run`; DEMO_ARGS="--speed 600 --hours 24"
	@$(UV) run python -m bench.demo $(DEMO_ARGS)

asyncapi: python-deps  ## regenerate docs/asyncapi.yaml and the Strimzi topic manifests
	@$(UV) run python -m fengqiao_events.asyncapi --write
	@$(UV) run python -m fengqiao_events.topics_cli k8s --write
	@$(UV) run python -m fengqiao_devstack.contracts --write

clean:
	rm -rf .run test-artifacts .pytest_cache
