# Two commands on a fresh machine:
#   make run    set everything up (venv, data, models) and start the bot
#   make test   run the test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS ?= train,telegram,discord,postgres,report,dev,bench
STAMP  := $(VENV)/.installed

.PHONY: run test install data artifacts lint bench clean

# Setting up writes to stderr only, so the stdout of `make run` is the chat.
run: install data artifacts
	@$(BIN)/moviebot serve auto

test: install
	$(BIN)/ruff check bot engine jobs tests benchmarks
	$(BIN)/python -m pytest -ra $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	@echo "installing moviebot into $(VENV) ..." >&2
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip >&2
	@$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]" >&2
	@touch $@

# Uses the data already there (MOVIEBOT_DATA_DIR, else the first complete of data/raw and
# ../shared/data); otherwise downloads what is openly downloadable.
data: install
	@$(BIN)/moviebot data check >&2 || $(BIN)/moviebot data fetch >&2

# Builds the models once; `moviebot build` again (or the jobs) publishes a new version.
artifacts: install
	@$(BIN)/moviebot build --if-missing $(BUILD_ARGS) >&2

lint: install
	$(BIN)/ruff check bot engine jobs tests benchmarks

bench: install
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
