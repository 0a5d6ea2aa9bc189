# openline — the menu. `make run` and `make test` install what they need on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 1740
# npm packages, each folder from its lock file: the demo page's bundles (make run), the
# test clients (make test: its bench tools are smoke-tested too), the Node reference
# server and load generator (make bench).
RUN_NPM   := client_demo
TEST_NPM  := client_demo tests/js bench
BENCH_NPM := client_demo bench
NPM_DIRS  := client_demo tests/js bench

.PHONY: install js-deps run test lint fmt clean bench bench-redis fuzz soak

install: $(VENV)/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Re-install whenever setup.cfg changes (dependency ranges, extras, entry points).
$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,dev]'
	touch $@

# `make js-deps DIRS="..."` installs those folders; skipped quietly where npm is missing.
DIRS ?= $(NPM_DIRS)
js-deps:
	@for d in $(DIRS); do \
	  if [ -f $$d/package-lock.json ]; then \
	    if ! command -v npm >/dev/null 2>&1; then echo "npm not found: skipping $$d"; \
	    elif [ ! -f $$d/node_modules/.installed ] || [ $$d/package-lock.json -nt $$d/node_modules/.installed ]; then \
	      (cd $$d && npm ci --no-audit --no-fund --loglevel=error) && touch $$d/node_modules/.installed; \
	    fi; \
	  fi; \
	done

# The development server: reloads on changes, and --dev-origins lets pages opened from
# a file (Origin null) or served on another localhost port connect. Extra flags:
# make run ARGS="--log-level debug"
run: install
	@$(MAKE) --no-print-directory js-deps DIRS="$(RUN_NPM)"
	$(BIN)/openline run --host $(HOST) --port $(PORT) --reload --dev-origins $(ARGS)

test: install
	@$(MAKE) --no-print-directory js-deps DIRS="$(TEST_NPM)"
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check server namespaces tests
	$(BIN)/mypy server namespaces

fmt: install
	$(BIN)/ruff format server namespaces tests
	$(BIN)/ruff check --fix server namespaces tests

# The full comparison with Node.js socket.io (~16 min, 10 of them the matrix);
# `make bench ARGS=--quick` (~4 min);
# `make bench ARGS="--only recovery"` (~2 min): connection state recovery's rows alone.
# `make bench ARGS="--only matrix"` (~10 min): the ways plugins are written, each against
# Node (bench/matrix.py); `ARGS="--scenario emit_sid --parser json"`: one row of it.
# uvloop is installed for it because openline uses it whenever it is importable.
bench: $(VENV)/.bench-installed
	@$(MAKE) --no-print-directory js-deps DIRS="$(BENCH_NPM)"
	$(BIN)/python bench/run.py $(ARGS)
	$(BIN)/python bench/redis_broadcast.py --optional

# Broadcast through Redis on one node vs in memory (~1 min; needs redis-server).
bench-redis: $(VENV)/.bench-installed
	@$(MAKE) --no-print-directory js-deps DIRS="$(BENCH_NPM)"
	$(BIN)/python bench/redis_broadcast.py

$(VENV)/.bench-installed: setup.cfg pyproject.toml | $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[test,dev,bench,uvloop]'
	touch $@

# Seeded fuzzing of the three client paths against a real `openline run` (~2 min; the
# suite runs 2,700 cases of it): non-zero on a traceback, a hang, a dead server or a slow
# health client. `make fuzz ARGS="--cases 3000 --seed 7"` for another run.
fuzz: install
	$(BIN)/python tests/abuse/fuzz.py --cases 30000 --seeds 3 $(ARGS)

# 1,000 clients that stop reading under a 1 KB x 200/s broadcast for 60 s (~2 min):
# non-zero when the server's peak RSS passes 1,000 x --send-budget + its idle baseline.
soak: install
	$(BIN)/python bench/paused_clients.py $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache tests/output
	rm -rf $(addsuffix /node_modules,$(NPM_DIRS))
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
