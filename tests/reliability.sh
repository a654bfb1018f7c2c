#!/usr/bin/env bash
# The reliability suite (`make reliability`, a step of `make test`): scripted faults
# against the local stack, one row per scenario (deliveries, expected end state, found,
# lost, doubled) and a last line `N scenarios, L lost, D doubled`. Exits non-zero when
# anything is lost or doubled, or a scenario could not run.
#
#   bash tests/reliability.sh       (the stack must be up: infra/local/up.sh)
#
# The scenarios (tests/src/reliability/) run the functions' handlers in one process,
# fed from real queues by the event router's poll loop, against a database of their own
# (sellerops_reliability, recreated each run), queues and buckets of their own on the
# running moto, and Mirakl/Canada Post/Freshdesk/Shopify simulators of their own (ports
# SELLEROPS_RELIABILITY_PORT_BASE + 1, 2, 4, 5; default 9291, 9292, 9294, 9295). Some scenarios restart
# the stack's PostgreSQL and moto (infra/local/restart.sh): run it on a stack nobody
# else is using at the moment. Afterwards the stack's own buckets and queues are
# provisioned again (a moto restart empties moto). Stops what it started, pass or fail.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
local_dir="$repo/infra/local"
# shellcheck source=infra/local/env.sh
source "$local_dir/env.sh"
# shellcheck source=infra/local/lib.sh
source "$local_dir/lib.sh"

port_base="${SELLEROPS_RELIABILITY_PORT_BASE:-9290}"
stack_database_url="$DATABASE_URL"
suite_database=sellerops_reliability
# The stack's URL with the suite database's name instead (any ?query kept).
suite_database_url="$(sed -E "s#^([^?]*/)[^/?]+(\?.*)?\$#\1${suite_database}\2#" <<<"$stack_database_url")"

psql_bin="$(command -v psql || true)"
if [[ -z $psql_bin ]] && pg_bin="$(find_pg_bin)"; then
    psql_bin="$pg_bin/psql"
fi
[[ -x $psql_bin ]] || die "psql is not installed"

say "reliability: fresh database $suite_database"
"$psql_bin" "$stack_database_url" --quiet --no-psqlrc -v ON_ERROR_STOP=1 \
    -c "drop database if exists $suite_database with (force)" \
    -c "create database $suite_database"
(cd "$repo" && DATABASE_URL="$suite_database_url" cargo run --quiet --locked --bin migrate) </dev/null

# The stack's own names, provisioned again when the suite is done.
stack_environment=(
    "ORDERS_BUCKET=$ORDERS_BUCKET" "LABELS_BUCKET=$LABELS_BUCKET"
    "INGEST_QUEUE_URL=$INGEST_QUEUE_URL" "ACCEPT_QUEUE_URL=$ACCEPT_QUEUE_URL"
    "LABEL_QUEUE_URL=$LABEL_QUEUE_URL" "REPLY_QUEUE_URL=$REPLY_QUEUE_URL"
    "PRICING_QUEUE_URL=$PRICING_QUEUE_URL"
)

# Everything the functions and simulators read, pointed at the suite's pieces. Set
# before services-env.sh is sourced, so these win over its defaults.
export SELLEROPS_LOCAL_DIR="$SELLEROPS_LOCAL_DIR/reliability"
mkdir -p "$SELLEROPS_LOCAL_DIR"
export DATABASE_URL="$suite_database_url"
export SIM_MIRAKL_PORT=$((port_base + 1)) SIM_CANADAPOST_PORT=$((port_base + 2))
export MIRAKL_BASE_URL="http://127.0.0.1:$SIM_MIRAKL_PORT"
export CANADAPOST_BASE_URL="http://127.0.0.1:$SIM_CANADAPOST_PORT"
export SIM_FRESHDESK_PORT=$((port_base + 4))
export FRESHDESK_BASE_URL="http://127.0.0.1:$SIM_FRESHDESK_PORT"
export SIM_SHOPIFY_PORT=$((port_base + 5))
export SHOPIFY_ADMIN_BASE_URL="http://127.0.0.1:$SIM_SHOPIFY_PORT"
queue_base="${AWS_ENDPOINT_URL%/}/123456789012/sellerops-reliability"
export INGEST_QUEUE_URL="$queue_base-ingest" ACCEPT_QUEUE_URL="$queue_base-accept" \
    LABEL_QUEUE_URL="$queue_base-label" REPLY_QUEUE_URL="$queue_base-reply" \
    PRICING_QUEUE_URL="$queue_base-pricing"
export ORDERS_BUCKET=sellerops-reliability-orders LABELS_BUCKET=sellerops-reliability-labels
# shellcheck source=infra/local/services-env.sh
source "$local_dir/services-env.sh"

# restart.sh needs the stack's pid files, which live in the stack's folder.
stack_local_dir="${SELLEROPS_LOCAL_DIR%/reliability}"

finish() {
    bash "$local_dir/simulators.sh" stop >/dev/null 2>&1 || true
    # After a moto restart only the suite's buckets and queues exist.
    env "${stack_environment[@]}" SELLEROPS_LOCAL_DIR="$stack_local_dir" \
        "$SELLEROPS_VENV/bin/python" "$local_dir/provision.py" >/dev/null 2>&1 ||
        warn "could not provision the stack's buckets and queues again; run infra/local/up.sh"
}
trap finish EXIT
# Leftovers of an interrupted run.
bash "$local_dir/simulators.sh" stop >/dev/null 2>&1 || true

say "reliability: the suite's buckets and queues"
"$SELLEROPS_VENV/bin/python" "$local_dir/provision.py" >/dev/null
for queue in "$INGEST_QUEUE_URL" "$ACCEPT_QUEUE_URL" "$LABEL_QUEUE_URL"; do
    # Anything an earlier, interrupted run left behind.
    "$SELLEROPS_VENV/bin/python" - "$queue" <<'PY'
import os, sys
import boto3
sqs = boto3.session.Session(region_name=os.environ["AWS_REGION"]).client(
    "sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
try:
    sqs.purge_queue(QueueUrl=sys.argv[1])
except sqs.exceptions.ClientError as error:
    print(f"warning: could not purge {sys.argv[1]}: {error}", file=sys.stderr)
PY
done
bash "$local_dir/simulators.sh" start >/dev/null

(cd "$repo" && cargo build --quiet --locked --bin reliability) </dev/null
functions_log="$SELLEROPS_LOCAL_DIR/functions.log"
say "reliability: running the scenarios (the functions' output: $functions_log)"
# The table is on stderr; the functions' own output (metrics, logs) goes to the log.
# shellcheck disable=SC2069 # stderr to the terminal, then stdout to the log: meant
SELLEROPS_LOCAL_DIR="$stack_local_dir" SELLEROPS_STACK_DATABASE_URL="$stack_database_url" \
    RUST_LOG="${RUST_LOG:-info}" \
    "$repo/target/debug/reliability" 2>&1 >"$functions_log"
