# Everything a newcomer can do. Each target sets up what it needs (a .venv with pinned dependencies).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/layers/loyalty:$(CURDIR)
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help install browser console-deps console-vendor deploy-console run token events webhook-echo replay-events snapshot migrate-campaign-counters migrate-first-day test unit lint openapi check-openapi bench mutation mutation-sample build deploy validate clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# The first run of any target installs the lock's ~95 packages, pip showing each one (1-3 minutes: docs/getting-started.md).
$(STAMP): requirements-dev.lock
	@echo "Setting up $(VENV) from requirements-dev.lock (first run only, 1-3 minutes)..."
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --progress-bar on --require-hashes -r requirements-dev.lock
	touch $(STAMP)

.PHONY: lock layer checkov

install: $(STAMP)  ## create .venv from requirements-dev.lock (every version pinned, every file hashed)

# The top-level pins are in the requirements*.txt files; `make lock` resolves them into the .lock files that
# everything installs from. The layer's lock is resolved for Lambda (python3.13, arm64); the dev lock is held to
# the layer lock's versions, so the tests run exactly what the layer ships.
LOCK := $(VENV)/bin/uv pip compile --quiet --generate-hashes --custom-compile-command "make lock"
lock: $(STAMP)  ## re-resolve requirements*.txt into the lock files after changing a pin
	$(LOCK) --python-version 3.13 --python-platform aarch64-manylinux2014 -o layers/loyalty/requirements.lock layers/loyalty/requirements.txt
	$(LOCK) --universal --python-version 3.11 -c layers/loyalty/requirements.lock -o requirements-dev.lock requirements-dev.txt
	$(LOCK) --universal --python-version 3.11 -o requirements-checkov.lock requirements-checkov.txt

# What `sam build` puts in the layer (layers/loyalty/Makefile calls this with LAYER_DIR=$$ARTIFACTS_DIR): the
# lock's wheels for python3.13 on arm64, nothing resolved at build time, and the loyalty package.
LAYER_DIR ?= .aws-sam/layer
layer: layers/loyalty/requirements.lock  ## build the shared layer into LAYER_DIR (default .aws-sam/layer)
	rm -rf $(LAYER_DIR)/python
	$(PYTHON) -m pip install --quiet --no-deps --no-compile --require-hashes --only-binary=:all: \
		--platform manylinux2014_aarch64 --implementation cp --python-version 3.13 --root-user-action=ignore \
		--target $(LAYER_DIR)/python -r layers/loyalty/requirements.lock
	rm -rf $(LAYER_DIR)/python/bin
	tar -C layers/loyalty --exclude=__pycache__ -cf - loyalty | tar -C $(LAYER_DIR)/python -xf -

# checkov pins dozens of packages of its own: it gets its own venv, from its own lock.
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.lock
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements-checkov.lock
	touch $@

checkov: $(CHECKOV_VENV)/.installed  ## checkov on template.yaml: every finding fixed or skipped in its resource's Metadata with a reason
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

run: $(STAMP)  ## start the whole system locally (API :3000, Lambda invoke :3001); FAULTS=... injects AWS faults
	$(if $(FAULTS),FAULTS='$(FAULTS)') $(PY) -m loyalty_local serve

token: $(STAMP)  ## print a local JWT: make token ROLE=member|pos|admin [SUB=...] [EMAIL=... (the verified e-mail a member enrolls)]
	@$(PY) -m loyalty_local token --role $(or $(ROLE),member) $(if $(SUB),--sub $(SUB)) $(if $(EMAIL),--email $(EMAIL))

events: $(STAMP)  ## list the domain events the running `make run` published: make events [TYPE=TierChanged]
	@$(PY) -m loyalty_local events $(if $(TYPE),--type $(TYPE))

outbox: $(STAMP)  ## the member e-mail the running `make run` sent, newest first: make outbox [TO=sam@example.com] [JSON=1] [LINK=<member_id>]
	@$(PY) -m loyalty_local.outbox --api http://127.0.0.1:$(or $(API_PORT),3000) $(if $(TO),--to $(TO)) $(if $(JSON),--json) $(if $(LINK),--link $(LINK))

webhook-echo: $(STAMP)  ## a local webhook receiver that verifies signatures: make webhook-echo SECRET=whsec_... [PORT=4000] [FAIL=N]
	@test -n "$(SECRET)" || { echo "usage: make webhook-echo SECRET=<the secret POST /v1/webhooks answered> [PORT=4000] [FAIL=N]"; exit 2; }
	@$(PY) -m loyalty_local.webhook_echo --secret '$(SECRET)' --port $(or $(PORT),4000) --fail $(or $(FAIL),0)

snapshot:  ## take the member-facts snapshot now on the running `make run` and publish the RFM boundaries from it
	@curl -sf -X POST http://127.0.0.1:$(or $(LAMBDA_PORT),3001)/2015-03-31/functions/SnapshotFunction/invocations -d '{}'; echo

replay-events: $(STAMP)  ## publish again the events of the ledger entries of a window: make replay-events FROM=2026-11-02T10:00:00Z TO=...
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make replay-events FROM=<time> TO=<time> (RFC 3339, with Z)"; exit 2; }
	@$(PY) -m ops.replay_events --ledger-table LedgerTable --bus local --endpoint-url http://127.0.0.1:$(or $(DYNAMODB_PORT),3002) \
		--local-events-file $(or $(LOCAL_EVENTS_FILE),.local/events.jsonl) --from $(FROM) --to $(TO)

# Locally against `make run`'s DynamoDB; against a deployment, run the module with its table names and credentials.
migrate-first-day: $(STAMP)  ## set first_day on report totals written before it was kept (one-off, rerunnable)
	AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-local} AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-local} \
		$(PY) -m ops.set_first_day --stats-table $(or $(STATS_TABLE),StatsTable) \
		--endpoint-url $(or $(ENDPOINT),http://127.0.0.1:$(or $(DYNAMODB_PORT),3002))

migrate-campaign-counters: $(STAMP)  ## move campaign counters in all written before the shards into them (one-off, rerunnable)
	AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-local} AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-local} \
		$(PY) -m ops.shard_campaign_counters --catalog-table $(or $(CATALOG_TABLE),CatalogTable) \
		--stats-table $(or $(STATS_TABLE),StatsTable) --endpoint-url $(or $(ENDPOINT),http://127.0.0.1:$(or $(DYNAMODB_PORT),3002))

# The console's browser tests drive Debian's Chromium (playwright's own browser download does not work here) and
# run axe-core from node_modules: both are set up here when missing, so a fresh clone's `make test` has them.
CHROMIUM ?= /usr/bin/chromium
browser:  ## install Debian's chromium for the console's browser tests when missing (apt-get, as root)
	@test -x $(CHROMIUM) || { echo "Installing chromium (apt-get)..."; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

node_modules/.package-lock.json: package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
console-deps: node_modules/.package-lock.json  ## npm ci: uPlot and axe-core at the versions and hashes of package-lock.json

console-vendor: console-deps  ## copy uPlot from node_modules into console/vendor (commit the result after a version change)
	cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css console/vendor/
	cp node_modules/uplot/LICENSE console/vendor/uPlot.LICENSE

test: $(STAMP) lint check-openapi browser console-deps  ## lint the template, check openapi.json, run every test (the console's in Chromium)
	$(PY) -m pytest -q

lint: $(STAMP) checkov  ## ruff on the code, cfn-lint and checkov on the template
	$(VENV)/bin/ruff check .
	$(VENV)/bin/cfn-lint template.yaml

openapi: $(STAMP)  ## regenerate openapi.json from the functions' resolvers
	$(PY) -m loyalty_local.openapi --write openapi.json

check-openapi: $(STAMP)  ## fail if the committed openapi.json differs from the code
	$(PY) -m loyalty_local.openapi --check openapi.json

bench: $(STAMP)  ## DynamoDB round trips, warm and cold costs, capacity and cost per call; fails on a missed target
	$(PY) -m benchmarks

# mutmut runs in .mutation/, a copy built afresh each time (mutmut never refreshes a copied file it did not mutate)
# with the layer's package at src/loyalty; see benchmarks/mutation_score.py and [tool.mutmut] in pyproject.toml.
MUTATION_DIR := .mutation
mutation: $(STAMP)  ## mutation testing of the shipped package (mutmut; hours on 2 cores): score per package, surviving mutants
	$(PY) -m benchmarks.mutation_score prepare $(MUTATION_DIR)
	cd $(MUTATION_DIR) && PYTHONPATH= $(CURDIR)/$(VENV)/bin/mutmut run --max-children $(or $(JOBS),2)
	cd $(MUTATION_DIR) && PYTHONPATH=$(CURDIR) $(CURDIR)/$(PY) -m benchmarks.mutation_score

mutation-sample: $(STAMP)  ## the same on SAMPLE mutants drawn from each of domain/, store/ and api/ (default 70): scores within an interval
	$(PY) -m benchmarks.mutation_score prepare $(MUTATION_DIR)
	cd $(MUTATION_DIR) && PYTHONPATH=$(CURDIR) $(CURDIR)/$(PY) -m benchmarks.mutation_score sample $(or $(SAMPLE),70) > sample.txt
	cd $(MUTATION_DIR) && PYTHONPATH= $(CURDIR)/$(VENV)/bin/mutmut run --max-children $(or $(JOBS),2) $$(cat sample.txt)
	cd $(MUTATION_DIR) && PYTHONPATH=$(CURDIR) $(CURDIR)/$(PY) -m benchmarks.mutation_score

build:  ## sam build (needs the SAM CLI and python3.13 on PATH)
	sam build

validate:  ## sam validate --lint (needs the SAM CLI)
	sam validate --lint --region $(AWS_DEFAULT_REGION)

deploy: build  ## sam deploy with samconfig.toml (add ARGS=--guided the first time), then the console's files
	sam deploy $(ARGS)
	$(MAKE) deploy-console

# The console's files to its bucket, and a config.json written from the stack's outputs (the API, the hosted UI,
# the console's client id: nothing secret), then CloudFront told to drop what it cached. STACK: samconfig's name.
STACK ?= loyalty-dev
deploy-console:  ## upload console/ to the stack's console bucket with its config.json (make deploy runs it)
	@set -e; out() { aws cloudformation describe-stacks --stack-name $(STACK) --output text \
		--query "Stacks[0].Outputs[?OutputKey=='$$1'].OutputValue"; }; \
	bucket=$$(out ConsoleBucketName); distribution=$$(out ConsoleDistributionId); \
	api=$$(out ApiUrl) authority=$$(out AuthDomainUrl) client=$$(out ConsoleClientId) \
		$(PYTHON) -c 'import json, os; print(json.dumps({"mode": "cognito", "api": os.environ["api"], "authority": os.environ["authority"], "client_id": os.environ["client"], "scope": "openid email loyalty/admin"}))' > .aws-sam/console-config.json; \
	aws s3 sync console/ s3://$$bucket/ --delete --exclude config.json; \
	aws s3 cp .aws-sam/console-config.json s3://$$bucket/config.json --content-type application/json --cache-control no-store; \
	aws cloudfront create-invalidation --distribution-id $$distribution --paths "/*" > /dev/null; \
	echo "Console: $$(out ConsoleUrl)"

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .hypothesis .mutation
