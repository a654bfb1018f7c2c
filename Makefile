# The two commands a new machine needs (see README.md), and a few conveniences.
FUNCTIONS = marketplace-webhook ingest-orders-file sync-marketplace accept-orders \
	fetch-shipping-label conversation-auto-reply evaluate-pricing-rules
.PHONY: demo test reliability down lint deny bench-webhooks bench-ingest bench-pricing bench-indexes bench-ingest-bomb bench-coldstart bench rds-ca-bundle eval-replies bench-replies train-replies

## demo: start the local stack and run sellerops end to end on it
demo:
	@bash infra/local/demo.sh

## test: start the local stack and run every test against it
test:
	@bash infra/local/test.sh

## reliability: start the local stack and run the fault scenarios; prints lost and doubled
## (it restarts the stack's PostgreSQL and moto: not while other work uses them)
reliability:
	@bash infra/local/up.sh
	@bash tests/reliability.sh

## down: stop the local stack (add PURGE=1 to delete its data too)
down:
	@bash infra/local/down.sh $(if $(PURGE),--purge,)

## lint: formatting and clippy, as CI runs them
lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

## deny: licences, duplicate and banned crates, sources, advisories (deny.toml), as CI runs it
## (needs `cargo install --locked cargo-deny`; the advisories need GitHub for their database)
deny:
	cargo deny --locked check

# Amazon RDS's certificate authorities, for every region. The template's RdsCaBundle layer
# ships this file to every function (/opt/rds-ca/global-bundle.pem), where DATABASE_URL's
# sslrootcert points; it is fetched when packaging rather than kept in git.
RDS_CA_BUNDLE := infra/rds-ca-layer/rds-ca/global-bundle.pem
RDS_CA_BUNDLE_URL := https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem

## rds-ca-bundle: download Amazon RDS's CA bundle into the layer the template deploys (before `sam build`)
rds-ca-bundle:
	@mkdir -p $(dir $(RDS_CA_BUNDLE))
	curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 \
		--output $(RDS_CA_BUNDLE).part $(RDS_CA_BUNDLE_URL)
	@grep -q 'BEGIN CERTIFICATE' $(RDS_CA_BUNDLE).part || \
		{ echo "$(RDS_CA_BUNDLE_URL) did not answer a PEM bundle" >&2; rm -f $(RDS_CA_BUNDLE).part; exit 1; }
	@mv $(RDS_CA_BUNDLE).part $(RDS_CA_BUNDLE)
	@echo "$(RDS_CA_BUNDLE): $$(grep -c 'BEGIN CERTIFICATE' $(RDS_CA_BUNDLE)) certificates"

.PHONY: services
## services: start the simulators and cargo lambda watch on the local stack (make down stops them)
services:
	@bash infra/local/up.sh
	@bash infra/local/simulators.sh start
	@bash infra/local/lambdas.sh start
## bench: every benchmark below (release build), then one table of their headline figures
## with the anchor each is measured against in the same run, the ratio and the target
bench:
	@bash infra/local/bench.sh
## bench-webhooks: handler-level latency and throughput of Mirakl and Shopify deliveries
bench-webhooks:
	@bash infra/local/up.sh >/dev/null
	@bash -c 'source infra/local/env.sh && cargo run --release --locked -p sellerops-tests --bin bench-webhooks'
## bench-ingest: time the order-file import against psql \copy (ROWS=1000000 by default)
bench-ingest:
	@ROWS=$(ROWS) bash infra/local/bench-ingest.sh
## bench-pricing: a full price evaluation of 100,000 listings (LISTINGS=100000), then again
## with nothing changed; prints load/evaluate/write, total, peak RSS and the rows written
bench-pricing:
	@bash infra/local/up.sh >/dev/null
	@bash -c 'set -euo pipefail; source infra/local/env.sh; \
		cargo build --release --locked -p sellerops-tests --bin bench-pricing; \
		LISTINGS=$(or $(LISTINGS),100000) target/release/bench-pricing'
## bench-indexes: what each index on the tables imports and webhooks write costs per write (ROWS=200000)
bench-indexes:
	@ROWS=$(ROWS) bash infra/local/bench-indexes.sh
## bench-ingest-bomb: peak memory of the import refusing a gzip bomb and a 200 MiB field
bench-ingest-bomb:
	@bash infra/local/bench-ingest.sh bomb
## bench-coldstart: cold starts of the seven functions beside a hello-world, N=20 starts each,
## with the simulators running (the poller's first event calls them)
## (release build; PROFILE=dev measures an unoptimised build, quicker to build)
# `--bin` names targets across every package selected: each function's binary is named.
COLDSTART_BINS = -p sellerops-tests --bin coldstart-hello --bin bench-coldstart \
	$(foreach f,$(FUNCTIONS),-p $(f) --bin $(f))
bench-coldstart: PROFILE ?= release
bench-coldstart: N ?= 20
bench-coldstart:
	@bash infra/local/up.sh >/dev/null
	@bash infra/local/simulators.sh start >/dev/null
	@bash -c 'set -euo pipefail; source infra/local/env.sh; source infra/local/services-env.sh; \
		cargo build --locked --profile $(PROFILE) $(COLDSTART_BINS); \
		dir=target/$(if $(filter dev,$(PROFILE)),debug,$(PROFILE)); \
		BENCH_RUNS=$(N) "$$dir/bench-coldstart" "$$dir"'
## eval-replies: the message classifier against the labelled set (tests/fixtures/replies/):
## intent accuracy, eligibility precision and recall, entity match, confusion matrix
## (MISSES=1 also lists every message read differently from its label, with the reason)
eval-replies:
	cargo run --locked -q -p sellerops-tests --bin eval-replies -- $(if $(MISSES),--misses,) tests/fixtures/replies/evaluation-set.jsonl
## bench-replies: messages classified per second on one core (release build), the load
## average, and the classifier's cold start (parsing the bundled rules on first use)
bench-replies:
	cargo run --release --locked -q -p sellerops-tests --bin bench-replies
## train-replies: learn the classifier's intent and reply models (shared/replies/intent-model.tsv)
## from the labelled training set; prints the model's own accuracy on the evaluation set
train-replies:
	cargo run --locked -q -p sellerops-tests --bin train-reply-model -- tests/fixtures/replies/training-set.jsonl shared/replies/intent-model.tsv tests/fixtures/replies/evaluation-set.jsonl
