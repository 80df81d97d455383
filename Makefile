# BotScope — the two commands are `make run` and `make test`; both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FUNCTIONS := $(notdir $(wildcard functions/*))

.PHONY: install run test test-fast lint bench compare soak build deploy clean invoke-% requirements

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

# BotScope and wafw00f (pinned in the bench extra) on the replayed tests/corpus, side by side in
# the bench_wafw00f section of docs/benchmarks.md.
compare: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[bench]"
	$(BIN)/python -m tests.bench.run_all bench_wafw00f

# Long soak (memory and open files over many scans); writes its section of docs/benchmarks.md.
soak: $(STAMP)
	SOAK_BATCHES=$${SOAK_BATCHES:-20} $(BIN)/python -m tests.bench.run_all bench_soak

# The core layer's requirements.txt (what `sam build` installs into the layer), from pyproject.toml.
requirements: layers/core/requirements.txt

layers/core/requirements.txt: pyproject.toml
	$(PYTHON) -c 'import tomllib; deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]; \
	open("$@", "w").write("# The core layer'"'"'s runtime dependencies (sam build installs them into the layer).\n# Generated from pyproject.toml by `make requirements`; a test checks they match.\n" + "\n".join(deps) + "\n")'

build: $(STAMP) layers/core/requirements.txt
	sam build --template template.yaml

deploy: build
	sam deploy --config-env $${ENV:-dev}

# make invoke-scan_prepare, or with another event: make invoke-api EVENT=events/api_health.json
invoke-%: $(STAMP)
	$(BIN)/python -m botscope.local.invoke $* $(or $(EVENT),events/$*.json)

clean:
	rm -rf $(VENV) .botscope .aws-sam .pytest_cache
