# BotScope — the two commands are `make run` and `make test`; both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FUNCTIONS := $(notdir $(wildcard functions/*))
# `sam validate --lint` runs from its own venv: aws-sam-cli pins libraries that conflict with ours.
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed
SAM_CLI_VERSION := 1.170.0

.PHONY: install run test test-fast lint bench compare soak build deploy clean invoke-% requirements refresh-profile chromium

# The rendered profile drives the system Chromium (Debian's `chromium` package) through Playwright;
# nothing downloads a browser build of its own (`playwright install` is never run).
CHROMIUM := /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) chromium

# Installs Debian's chromium when it is missing and we are root; otherwise says what to do.
chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium for the rendered profile"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
		echo "Chromium is missing at $(CHROMIUM): the rendered profile and its tests need it." >&2; \
		echo "Install it with: sudo apt-get install chromium" >&2; \
		exit 1; \
	fi

# make run ARGS="--sample-reports-now"; make run RESET=1 is accepted (the local state is ephemeral:
# every start is a fresh stack, see README "Local state").
run: $(STAMP)
	$(BIN)/python -m botscope.local $(ARGS)

test: $(STAMP) chromium
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e and not slow"

$(SAM_STAMP): constraints-sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet -c constraints-sam.txt aws-sam-cli==$(SAM_CLI_VERSION)
	touch $(SAM_STAMP)

# Every gate; CI (.ci/run) runs it before `make test`. sam validate works offline: it needs a
# region, never credentials.
lint: $(STAMP) $(SAM_STAMP)
	$(BIN)/ruff check layers functions tests
	$(BIN)/ruff format --check layers functions tests
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/cfn-lint template.yaml
	$(BIN)/statelint functions/scan_workflow/*.asl.json
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --template template.yaml

# Move the browser profile to another curl_cffi Chrome target (README, "Client profiles").
refresh-profile: $(STAMP)
	@test -n "$(TARGET)" || (echo "usage: make refresh-profile TARGET=chrome153" && exit 2)
	$(BIN)/python -m tests.helpers.refresh_profile $(TARGET)

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
# (${NAME} placeholders in the event come from the environment, the command line or .botscope/dev.env)
invoke-%: $(STAMP)
	$(BIN)/python -m botscope.local.invoke $* $(or $(EVENT),events/$*.json)

clean:
	rm -rf $(VENV) $(SAM_VENV) .botscope .aws-sam .pytest_cache
