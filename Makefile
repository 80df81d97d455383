# BotScope — the two commands are `make run` and `make test`; both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FUNCTIONS := $(notdir $(wildcard functions/*))

.PHONY: install run test test-fast lint bench soak build deploy clean invoke-%

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m botscope.local

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e and not slow"

lint: $(STAMP)
	$(BIN)/ruff check layers functions tests
	$(BIN)/cfn-lint template.yaml
	$(BIN)/statelint functions/scan_workflow/*.asl.json

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[bench]"
	$(BIN)/python -m tests.bench.run_all

build: $(STAMP)
	sam build --template template.yaml

deploy: build
	sam deploy --config-env $${ENV:-dev}

invoke-%: $(STAMP)
	$(BIN)/python -m botscope.local.invoke $* events/$*.json

clean:
	rm -rf $(VENV) .botscope .aws-sam .pytest_cache
