# Every target creates .venv (Python 3.11) and installs the project into it when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# e.g. make demo DEMO_ARGS="--days 3 --events-per-day 1000" for a quick, small demo
DEMO_ARGS ?=
# test files run on this many workers, each with its own database (tests/conftest.py)
TEST_WORKERS ?= 2
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test faults ui lint bench up down status clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV) (first time takes a minute) ..."
	@$(BIN)/pip install --quiet --upgrade pip
	@$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)          ## start embedded services, simulate, run the pipeline, print a summary
	@$(BIN)/analytics demo $(DEMO_ARGS)

test: $(STAMP)          ## the whole test suite against real PostgreSQL, Redis, dbt and Dagster
	@$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

faults: $(STAMP)        ## the fault suite alone (tests/faults/, a few minutes): docs/RELIABILITY.md
	@$(BIN)/pytest tests/faults

ui: $(STAMP)            ## the Dagster UI on http://127.0.0.1:3000
	@$(BIN)/analytics ui

lint: $(STAMP)          ## ruff (Python) and sqlfluff (dbt SQL)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@eval "$$($(BIN)/analytics env)" && $(BIN)/sqlfluff lint dbt_project --disable-progress-bar

bench: $(STAMP)         ## speed figures with baselines measured in the same run
	@$(BIN)/python -m bench.run

up down status: $(STAMP)
	@$(BIN)/analytics $@

clean:                  ## remove the venv and all local data (stops services first)
	-@test -x $(BIN)/analytics && $(BIN)/analytics down
	rm -rf $(VENV) .local dbt_project/target dbt_project/logs
