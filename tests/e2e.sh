#!/usr/bin/env bash
# End-to-end test of the Lambda functions on the local stack (a step of `make test`).
#
#   bash tests/e2e.sh
#
# Starts its own Mirakl/Canada Post/Shopify simulators and `cargo lambda watch` (ports
# SELLEROPS_E2E_PORT_BASE + 1, 2, 3 and 5; default 9191-9193, 9195) with their pid files and logs
# under $SELLEROPS_LOCAL_DIR/e2e, against a database of its own (sellerops_e2e,
# recreated each run) and queues and buckets of its own on the running moto, so it
# never disturbs the demo or another stack. Then tests/e2e.py invokes each function
# under functions/ once with the event fixtures of tests/fixtures/events/ and checks
# what landed in the database, the simulators and S3. Prints `N passed, M failed`;
# exits non-zero on any failure. Stops what it started, pass or fail.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
local_dir="$repo/infra/local"
# shellcheck source=infra/local/env.sh
source "$local_dir/env.sh"
# shellcheck source=infra/local/lib.sh
source "$local_dir/lib.sh"

started=$SECONDS
port_base="${SELLEROPS_E2E_PORT_BASE:-9190}"
stack_database_url="$DATABASE_URL"
e2e_database=sellerops_e2e
# The stack's URL with the e2e database's name instead (any ?query kept).
e2e_database_url="$(sed -E "s#^([^?]*/)[^/?]+(\?.*)?\$#\1${e2e_database}\2#" <<<"$stack_database_url")"

psql_bin="$(command -v psql || true)"
if [[ -z $psql_bin ]] && pg_bin="$(find_pg_bin)"; then
    psql_bin="$pg_bin/psql"
fi
[[ -x $psql_bin ]] || die "psql is not installed"

say "e2e: fresh database $e2e_database"
"$psql_bin" "$stack_database_url" --quiet --no-psqlrc -v ON_ERROR_STOP=1 \
    -c "drop database if exists $e2e_database with (force)" \
    -c "create database $e2e_database"
(cd "$repo" && DATABASE_URL="$e2e_database_url" cargo run --quiet --locked --bin migrate) </dev/null

# Everything the services and functions read, pointed at the e2e pieces. Set before
# services-env.sh is sourced (by the scripts below), so these win over its defaults.
export SELLEROPS_LOCAL_DIR="$SELLEROPS_LOCAL_DIR/e2e"
mkdir -p "$SELLEROPS_LOCAL_DIR"
export DATABASE_URL="$e2e_database_url"
export SIM_MIRAKL_PORT=$((port_base + 1)) SIM_CANADAPOST_PORT=$((port_base + 2))
export SELLEROPS_LAMBDA_PORT=$((port_base + 3)) SIM_FRESHDESK_PORT=$((port_base + 4))
export SELLEROPS_LAMBDA_ENDPOINT="http://127.0.0.1:$SELLEROPS_LAMBDA_PORT"
export MIRAKL_BASE_URL="http://127.0.0.1:$SIM_MIRAKL_PORT"
export CANADAPOST_BASE_URL="http://127.0.0.1:$SIM_CANADAPOST_PORT"
export SIM_SHOPIFY_PORT=$((port_base + 5))
export SHOPIFY_ADMIN_BASE_URL="http://127.0.0.1:$SIM_SHOPIFY_PORT"
export FRESHDESK_BASE_URL="http://127.0.0.1:$SIM_FRESHDESK_PORT"
export MIRAKL_WEBHOOK_SECRET=local-mirakl-webhook-secret # what the webhook fixture sends
queue_base="${AWS_ENDPOINT_URL%/}/123456789012/sellerops-e2e"
export INGEST_QUEUE_URL="$queue_base-ingest" ACCEPT_QUEUE_URL="$queue_base-accept" \
    LABEL_QUEUE_URL="$queue_base-label" REPLY_QUEUE_URL="$queue_base-reply" \
    PRICING_QUEUE_URL="$queue_base-pricing"
export ORDERS_BUCKET=sellerops-e2e-orders LABELS_BUCKET=sellerops-e2e-labels
export SELLEROPS_LAMBDA_RELOAD=0
# The simulators' credentials, as the functions and tests/e2e.py use them.
# shellcheck source=infra/local/services-env.sh
source "$local_dir/services-env.sh"

stop_services() {
    bash "$local_dir/lambdas.sh" stop >/dev/null 2>&1 || true
    bash "$local_dir/simulators.sh" stop >/dev/null 2>&1 || true
}
trap stop_services EXIT
# Leftovers of an interrupted run.
stop_services

bash "$local_dir/simulators.sh" start
bash "$local_dir/lambdas.sh" start

say "e2e: invoking the functions (logs: $SELLEROPS_LOCAL_DIR/lambdas.log, simulators.log)"
# e2e.py prints the closing `N passed, M failed` line and sets the exit status.
SELLEROPS_PSQL="$psql_bin" SELLEROPS_E2E_STARTED_SECONDS_AGO=$((SECONDS - started)) \
    "$SELLEROPS_VENV/bin/python" "$repo/tests/e2e.py"
