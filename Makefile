# Everything a newcomer can do. Each target sets up what it needs (a .venv with pinned dependencies).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/layers/loyalty:$(CURDIR)
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help install run token events test unit lint openapi check-openapi bench build deploy validate clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt layers/loyalty/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)  ## create .venv with the pinned dependencies

run: $(STAMP)  ## start the whole system locally (API :3000, Lambda invoke :3001)
	$(PY) -m loyalty_local serve

token: $(STAMP)  ## print a local JWT: make token ROLE=member|pos|admin [SUB=...]
	@$(PY) -m loyalty_local token --role $(or $(ROLE),member) $(if $(SUB),--sub $(SUB))

events: $(STAMP)  ## list the domain events the running `make run` published: make events [TYPE=TierChanged]
	@$(PY) -m loyalty_local events $(if $(TYPE),--type $(TYPE))

test: $(STAMP) lint check-openapi  ## lint the template, check openapi.json, run every test
	$(PY) -m pytest -q

lint: $(STAMP)  ## ruff on the code, cfn-lint on the template
	$(VENV)/bin/ruff check .
	$(VENV)/bin/cfn-lint template.yaml

openapi: $(STAMP)  ## regenerate openapi.json from the functions' resolvers
	$(PY) -m loyalty_local.openapi --write openapi.json

check-openapi: $(STAMP)  ## fail if the committed openapi.json differs from the code
	$(PY) -m loyalty_local.openapi --check openapi.json

bench: $(STAMP)  ## DynamoDB round trips, warm overhead and cold start per function
	$(PY) -m benchmarks

build:  ## sam build (needs the SAM CLI and python3.13 on PATH)
	sam build

validate:  ## sam validate --lint (needs the SAM CLI)
	sam validate --lint --region $(AWS_DEFAULT_REGION)

deploy: build  ## sam deploy with samconfig.toml (add ARGS=--guided the first time)
	sam deploy $(ARGS)

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .hypothesis
