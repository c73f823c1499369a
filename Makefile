# Everything a newcomer can do. Each target sets up what it needs (a .venv with pinned dependencies).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/layers/loyalty:$(CURDIR)
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help install run token events test unit lint openapi check-openapi bench mutation build deploy validate clean

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

bench: $(STAMP)  ## DynamoDB round trips, warm and cold costs, capacity and cost per call; fails on a missed target
	$(PY) -m benchmarks

# mutmut names a mutant after its file's path, so it runs in a copy with the layer's package at src/loyalty
# (see [tool.mutmut] in pyproject.toml). Built afresh each time: mutmut never refreshes a copied file it did not mutate.
MUTATION_DIR := .mutation
mutation: $(STAMP)  ## mutation testing of domain/ and service.py (mutmut): score and surviving mutants
	rm -rf $(MUTATION_DIR) && mkdir -p $(MUTATION_DIR)/src
	cp -R layers/loyalty/loyalty $(MUTATION_DIR)/src/
	cp -R tests functions loyalty_local events template.yaml pyproject.toml $(MUTATION_DIR)/
	cd $(MUTATION_DIR) && PYTHONPATH= $(CURDIR)/$(VENV)/bin/mutmut run --max-children $(or $(JOBS),2)
	cd $(MUTATION_DIR) && PYTHONPATH=$(CURDIR) $(CURDIR)/$(PY) -m benchmarks.mutation_score

build:  ## sam build (needs the SAM CLI and python3.13 on PATH)
	sam build

validate:  ## sam validate --lint (needs the SAM CLI)
	sam validate --lint --region $(AWS_DEFAULT_REGION)

deploy: build  ## sam deploy with samconfig.toml (add ARGS=--guided the first time)
	sam deploy $(ARGS)

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .hypothesis .mutation
