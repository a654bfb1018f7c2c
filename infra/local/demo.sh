#!/usr/bin/env bash
# The first command (`make demo`): runs sellerops end to end on this machine. Until the
# functions exist it brings the local stack up and reports it ready.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/up.sh"

# The pipeline on top of the stack: simulators, cargo lambda watch, a sample order
# file, marketplace orders by webhook and by poll, the event router, then a summary.
# Every step whose function is not in the workspace yet says so and moves on;
# running the demo again is safe (the simulator keeps its orders, the functions are
# idempotent, the same file is the same delivery).
# shellcheck source=infra/local/env.sh
source "$here/env.sh"
# shellcheck source=infra/local/services-env.sh
source "$here/services-env.sh"
# shellcheck source=infra/local/lib.sh
source "$here/lib.sh"
# shellcheck source=infra/local/daemons.sh
source "$here/daemons.sh"

DEMO_DIR="$here/demo"
EVENTS="$SELLEROPS_REPO_ROOT/tests/fixtures/events"
ORDERS_FILE="${SELLEROPS_DEMO_ORDERS_FILE:-$SELLEROPS_REPO_ROOT/tests/fixtures/order-files/sample-orders.csv}"
STEP=0
STEPS=8
DEMO_STARTED=$SECONDS

step() {
    STEP=$((STEP + 1))
    printf '\n==> [%d/%d] %s\n' "$STEP" "$STEPS" "$*"
}
has_function() { [[ -f $SELLEROPS_REPO_ROOT/functions/$1/Cargo.toml ]]; }
not_built() { note "($1: not built yet)"; }
demo_py() { "$VENV/bin/python" "$DEMO_DIR/demo.py" "$@"; }

step "Simulators: Mirakl (Best Buy Canada) and Canada Post"
bash "$here/simulators.sh" start

step "cargo lambda watch: building and serving the functions"
SELLEROPS_LAMBDA_RELOAD=0 bash "$here/lambdas.sh" start

step "Mirakl simulator: seeding the demo orders"
demo_py seed "$DEMO_DIR/mirakl-orders.json"

step "Order file: dropping a sample file into s3://$ORDERS_BUCKET"
if ! has_function ingest-orders-file; then
    not_built ingest-orders-file
elif [[ ! -f $ORDERS_FILE ]]; then
    note "(no sample order file at ${ORDERS_FILE#"$SELLEROPS_REPO_ROOT"/})"
else
    # The same key every run: a second run is a repeated delivery, recorded once.
    demo_py upload "$ORDERS_FILE" "incoming/demo/$(basename "$ORDERS_FILE")"
fi

step "Marketplace orders by webhook (BB-DEMO-1002-A)"
if has_function marketplace-webhook; then
    demo_py webhook marketplace-webhook BB-DEMO-1002-A
else
    not_built marketplace-webhook
fi

step "Marketplace orders by poll (sync-marketplace, the scheduled event)"
if has_function sync-marketplace; then
    demo_py invoke sync-marketplace "$EVENTS/eventbridge-scheduled.json"
else
    not_built sync-marketplace
fi

step "Event router: draining the queues (ingest -> accept -> label)"
consumers=()
for function in ingest-orders-file accept-orders fetch-shipping-label conversation-auto-reply evaluate-pricing-rules; do
    if has_function "$function"; then
        consumers+=("$function")
    fi
done
if ((${#consumers[@]} == 0)); then
    not_built "queue consumers"
else
    note "routing to ${consumers[*]}; failed messages are retried every 5 s until they reach the DLQ"
    bash "$here/router.sh" once --retry-after 5 --timeout 600 ||
        warn "the event router stopped before the queues were empty (log above)"
fi

step "Summary"
psql_bin="$(command -v psql || true)"
if [[ -z $psql_bin ]] && pg_bin="$(find_pg_bin)"; then
    psql_bin="$pg_bin/psql"
fi
[[ -x $psql_bin ]] || die "psql is not installed"
query() {
    "$psql_bin" "$DATABASE_URL" --quiet --no-psqlrc --pset=footer=off --pset=border=1 \
        --pset=null='-' -c "$1"
}
printf '\nFiles imported (ingest.ingestion_files)\n'
query "select filename, status, total_rows as rows, processed_rows as imported,
              failed_rows as errors, coalesce(error_message, '') as error
         from ingest.ingestion_files order by created_at"
printf '\nOrders by channel and status (sales.orders)\n'
query "select channel, status, count(*) as orders, sum(total_amount) as total, currency
         from sales.orders group by channel, status, currency order by channel, status"
printf '\nLabels bought (sales.shipments)\n'
query "select o.external_id as order_ref, s.state, s.service_code, s.tracking_pin,
              coalesce(s.label_s3_key, '') as label, s.shipped_at is not null as shipped
         from sales.shipments s join sales.orders o on o.id = s.order_id
        order by s.created_at"
printf '\nFailures needing a person (ops.process_failures, open)\n'
query "select process_name as process, coalesce(entity_ref, '') as about, reason, created_at
         from ops.process_failures where resolved_at is null order by created_at"
printf '\nLabel PDFs (s3://%s)\n' "$LABELS_BUCKET"
demo_py labels

cat <<EOF

Demo finished in $((SECONDS - DEMO_STARTED))s. Where to look next:
  database        psql "$DATABASE_URL"
                  (sales.orders, sales.order_status_history, sales.shipments,
                   ingest.ingestion_files, ops.process_failures, ops.api_calls)
  labels          $VENV/bin/python $DEMO_DIR/demo.py labels   (bucket $LABELS_BUCKET at $AWS_ENDPOINT_URL)
  simulators      $MIRAKL_BASE_URL/_sim/state   (orders, state changes, shipments, calls)
  logs            $(daemon_log lambdas)   (the functions' JSON logs)
                  $(daemon_log simulators)
                  $SELLEROPS_LOCAL_DIR/moto.log
  invoke by hand  cargo lambda invoke --invoke-port $SELLEROPS_LAMBDA_PORT <function> --data-file tests/fixtures/events/<file>.json
  stop it all     make down
EOF
