# Two commands on a fresh machine:
#   make run    set everything up (venv, data, models) and start the bot
#   make test   run the test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS ?= train,telegram,discord,postgres,report,dev,bench
STAMP  := $(VENV)/.installed

.PHONY: run test install data artifacts lint bench clean

run: install data artifacts
	$(BIN)/moviebot serve auto

test: install
	$(BIN)/ruff check bot engine jobs tests benchmarks
	$(BIN)/python -m pytest -ra $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

# Uses the data already there (MOVIEBOT_DATA_DIR, ../shared/data or data/raw); otherwise
# downloads what is openly downloadable.
data: install
	$(BIN)/moviebot data check || $(BIN)/moviebot data fetch

# Builds the models once; `moviebot build` again (or the jobs) publishes a new version.
artifacts: install
	$(BIN)/moviebot build --if-missing $(BUILD_ARGS)

lint: install
	$(BIN)/ruff check bot engine jobs tests benchmarks

bench: install
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
