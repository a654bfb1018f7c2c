#!/usr/bin/env bash
# The first command (`make demo`): runs sellerops end to end on this machine: the local
# stack, the simulators, the functions under cargo lambda watch, orders by file, webhook
# and poll (a Shopify order whose webhook never came among them), acceptance and labels through the event router, customers writing about
# their shipped orders and the automatic answers, then a readable summary.
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
CATALOG_SQL="$DEMO_DIR/catalog.sql"
PRICING_SQL="$DEMO_DIR/pricing.sql"
SHOPIFY_ORDERS="$DEMO_DIR/shopify-orders.json"
SHOPIFY_DEMO_ORDER=5820417390843 # the order in shopify-orders.json
STEP=0
STEPS=13
SWEEP_ROUNDS=3
DEMO_STARTED=$SECONDS

step() {
    STEP=$((STEP + 1))
    printf '\n==> [%d/%d] %s\n' "$STEP" "$STEPS" "$*"
}
has_function() { [[ -f $SELLEROPS_REPO_ROOT/functions/$1/Cargo.toml ]]; }
not_built() { note "($1: not built yet)"; }
demo_py() { "$VENV/bin/python" "$DEMO_DIR/demo.py" "$@"; }

psql_bin="$(command -v psql || true)"
if [[ -z $psql_bin ]] && pg_bin="$(find_pg_bin)"; then
    psql_bin="$pg_bin/psql"
fi
[[ -x $psql_bin ]] || die "psql is not installed"
psql_demo() { "$psql_bin" "$DATABASE_URL" --quiet --no-psqlrc -v ON_ERROR_STOP=1 "$@"; }
# One value from the database.
scalar() { psql_demo --tuples-only --no-align -c "$1"; }

# The router drains the queues; messages a function could not publish stay due in the
# outbox, and sync-marketplace's sweep publishes them, so drain again while any are due.
drain_queues() {
    local round due
    for ((round = 1; round <= SWEEP_ROUNDS; round++)); do
        bash "$here/router.sh" once --retry-after 5 --timeout 600 ||
            warn "the event router stopped before the queues were empty (log above)"
        due="$(scalar "select count(*) from ops.outbox where published_at is null and next_attempt_at <= now()")"
        ((due > 0)) || return 0
        if ! has_function sync-marketplace; then
            warn "$due outbox message(s) are still due and sync-marketplace (their sweep) is not built"
            return 0
        fi
        note "$due outbox message(s) still due: sync-marketplace's sweep publishes them, then the router drains again"
        demo_py invoke sync-marketplace "$EVENTS/eventbridge-scheduled.json"
    done
    warn "outbox messages were still due after $SWEEP_ROUNDS sweeps (see ops.outbox.last_error)"
}

step "Simulators: Mirakl (Best Buy Canada), Canada Post, Freshdesk and Shopify"
bash "$here/simulators.sh" start

step "cargo lambda watch: building and serving the functions"
SELLEROPS_LAMBDA_RELOAD=0 bash "$here/lambdas.sh" start

step "Catalogue and stock for the demo orders' offer SKUs (${CATALOG_SQL#"$SELLEROPS_REPO_ROOT"/})"
psql_demo -f "$CATALOG_SQL"
scalar "select '    ' || m.shop_sku || '  ' || v.internal_sku || '  on hand ' || coalesce(s.on_hand, 0)
               || ', reserved ' || coalesce(s.reserved, 0)
          from catalog.shop_sku_map m join catalog.product_variants v on v.id = m.variant_id
          left join inventory.stock_levels s on s.variant_id = v.id
         where m.channel = 'bestbuy_ca' and m.shop_sku like 'SKU-%' order by m.shop_sku"
note "SKU-404 is deliberately not in the catalogue"

step "Mirakl simulator: seeding the demo orders"
# Orders the database already has are not seeded again: a simulator restarted since the
# last run would offer them as new (WAITING_ACCEPTANCE) while they are already shipped.
DEMO_KNOWN_ORDERS="$(scalar "select coalesce(string_agg(external_id, ','), '') from sales.orders
                              where channel = 'bestbuy_ca'")"
export DEMO_KNOWN_ORDERS
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

step "Shopify order by poll: placed on the store, its webhook never sent, found by the reconciliation"
if has_function sync-marketplace; then
    DEMO_KNOWN_SHOPIFY_ORDERS="$(scalar "select coalesce(string_agg(external_id, ','), '') from sales.orders
                                          where channel = 'shopify'")"
    export DEMO_KNOWN_SHOPIFY_ORDERS
    demo_py shopify "$SHOPIFY_ORDERS"
    demo_py invoke sync-marketplace "$EVENTS/eventbridge-scheduled.json"
    recorded="$(scalar "select format('    recorded: %s (Shopify order %s), %s, %s %s, %s line(s), by %s; watermark %s (%s)',
                                o.raw_payload->>'name', o.external_id, o.status, o.total_amount, o.currency,
                                (select count(*) from sales.order_lines l where l.order_id = o.id),
                                (select string_agg(distinct h.source, ', ') from sales.order_status_history h
                                  where h.order_id = o.id),
                                m.watermark_at, m.sync_status)
                          from sales.orders o
                          left join etl.sync_metadata m on m.source = 'shopify' and m.entity = 'orders'
                         where o.channel = 'shopify' and o.external_id = '$SHOPIFY_DEMO_ORDER'")"
    if [[ -n $recorded ]]; then
        printf '%s\n' "$recorded"
    else
        warn "Shopify order $SHOPIFY_DEMO_ORDER was not recorded: see etl.sync_metadata (shopify/orders) and $(daemon_log lambdas); a cargo lambda watch started before SHOPIFY_ADMIN_ACCESS_TOKEN was set reconciles no store (make down, then make demo)"
    fi
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
    drain_queues
fi

step "Customer messages: three threads on shipped orders, polled and answered or handed over"
if ! has_function conversation-auto-reply; then
    not_built conversation-auto-reply
elif ! has_function sync-marketplace; then
    not_built "sync-marketplace (it polls the threads)"
else
    # Written once the orders have shipped, as a customer would: where is my order (en),
    # the tracking number (fr), and a complaint no machine should answer.
    demo_py threads "$DEMO_DIR/mirakl-threads.json"
    demo_py invoke sync-marketplace "$EVENTS/eventbridge-scheduled.json"
    note "AUTO_REPLY_MODE=$AUTO_REPLY_MODE; the router hands the reply queue to conversation-auto-reply"
    drain_queues
fi

step "Helpdesk: two Freshdesk tickets filed in the simulator, read by the poll into the one inbox, answered or handed over"
if ! has_function sync-marketplace; then
    not_built "sync-marketplace (it reads the helpdesk)"
else
    # No webhook for these: the scheduled poll finds them (tickets, then conversations)
    # and queues the customers' unanswered messages: a missing part (a person's work)
    # and a tracking question about an order the requester placed on Best Buy.
    demo_py tickets "$DEMO_DIR/freshdesk-tickets.json"
    demo_py invoke sync-marketplace "$EVENTS/eventbridge-scheduled.json"
    if has_function conversation-auto-reply; then
        drain_queues
    fi
fi

step "Prices: costs, rules and a competitor offer (${PRICING_SQL#"$SELLEROPS_REPO_ROOT"/}), then the scheduled evaluation"
if has_function evaluate-pricing-rules; then
    psql_demo -f "$PRICING_SQL"
    demo_py invoke evaluate-pricing-rules "$EVENTS/eventbridge-scheduled.json"
    note "Amazon reports offer changes on the dock (B0DEMODOCK): the offers, then a rival taking the buy box"
    demo_py invoke evaluate-pricing-rules "$DEMO_DIR/sqs-offer-changed-1.json"
    demo_py invoke evaluate-pricing-rules "$DEMO_DIR/sqs-offer-changed-2.json"
else
    not_built evaluate-pricing-rules
fi

step "Summary"
query() {
    "$psql_bin" "$DATABASE_URL" --quiet --no-psqlrc --pset=footer=off --pset=border=1 \
        --pset=null='-' -c "$1"
}
printf '\nFiles imported (ingest.ingestion_files)\n'
query "select filename, status, total_rows as rows, processed_rows as imported,
              failed_rows as errors, coalesce(error_message, '') as error
         from ingest.ingestion_files order by created_at"
printf '\nIn short\n'
scalar "select format('    %s order file(s) imported; %s order(s) accepted, %s refused; %s label(s) bought; %s failure(s) need a person',
               (select count(*) from ingest.ingestion_files where status = 'completed'),
               (select count(*) from sales.order_acceptances a
                 where a.lines @> '[{\"accepted\": true}]'),
               (select count(*) from sales.order_acceptances a
                 where not a.lines @> '[{\"accepted\": true}]'),
               (select count(*) from sales.shipments where tracking_pin is not null),
               (select count(*) from ops.process_failures where resolved_at is null))"
scalar "select format('    %s customer message(s) answered automatically, %s decided in shadow mode, %s handed to a person',
               (select count(*) from support.reply_decisions where replied and mode = 'on'),
               (select count(*) from support.reply_decisions where mode = 'shadow'),
               (select count(*) from support.reply_decisions where task_id is not null))"
printf '\nOrders by channel and status (sales.orders)\n'
query "select channel, status, count(*) as orders, sum(total_amount) as total, currency
         from sales.orders group by channel, status, currency order by channel, status"
printf '\nAcceptance decisions (sales.order_acceptances; OR21 sent to Mirakl)\n'
query "select o.external_id as order_ref, a.state,
              (select count(*) from jsonb_array_elements(a.lines) l where (l->>'accepted')::boolean) as lines_accepted,
              (select count(*) from jsonb_array_elements(a.lines) l where not (l->>'accepted')::boolean) as lines_refused,
              coalesce((select string_agg(distinct l->>'reason', '; ') from jsonb_array_elements(a.lines) l
                         where l->>'reason' is not null), '') as why,
              o.status as now
         from sales.order_acceptances a join sales.orders o on o.id = a.order_id
        order by o.external_id"
printf '\nLabels bought (sales.shipments)\n'
query "select o.external_id as order_ref, s.state, s.service_code, s.tracking_pin,
              coalesce(s.label_s3_key, '') as label, s.shipped_at is not null as shipped
         from sales.shipments s join sales.orders o on o.id = s.order_id
        order by s.created_at"
printf '\nCustomer messages answered automatically (support.reply_decisions; Mirakl M12 or Freshdesk ticket reply)\n'
scalar "select coalesce(string_agg(format(E'    %s %s (%s, %s, confidence %s): %s\n      %s',
                                          c.channel, coalesce(o.external_id, c.external_id), d.language, d.intent,
                                          d.confidence, coalesce(r.send_state, 'shadow'),
                                          replace(coalesce(r.body, d.reply_body), E'\n', E'\n      ')),
                                   E'\n' order by d.decided_at), '    (none)')
          from support.reply_decisions d
          join support.conversations c on c.id = d.conversation_id
          left join sales.orders o on o.id = c.order_id
          left join support.messages r on r.id = d.reply_message_id
         where d.replied"
printf '\nCustomer messages handed to a person (workflow.tasks)\n'
query "select c.channel, coalesce(o.external_id, c.external_id) as about, d.language as lang, d.intent,
              coalesce(d.guard, 'shadow mode') as why_not_answered, t.title as task, s.name as stage
         from support.reply_decisions d
         join support.conversations c on c.id = d.conversation_id
         left join sales.orders o on o.id = c.order_id
         join workflow.tasks t on t.id = d.task_id
         join workflow.kanban_stages s on s.id = t.stage_id
        order by d.decided_at"
printf '\nHelpdesk tickets in the inbox (support.conversations, channel freshdesk; read by poll)\n'
query "select c.external_id as ticket, c.subject, c.status, coalesce(o.external_id, '') as order_ref,
              support.extract_ticket_status(t.data) as helpdesk_status,
              count(m.id) as messages,
              count(m.id) filter (where m.sender_type = 'customer') as from_customer
         from support.conversations c
         join etl.freshdesk_tickets t on t.conversation_id = c.id
         left join sales.orders o on o.id = c.order_id
         left join support.messages m on m.conversation_id = c.id
        where c.channel = 'freshdesk'
        group by c.external_id, c.subject, c.status, o.external_id, t.data
        order by c.external_id"
printf '\nSuggested prices (pricing.current_prices; each decision and its explanation in pricing.price_decisions)\n'
query "select m.shop_sku, p.price as now, p.optimal_price as suggested, p.price_confidence as confidence,
              coalesce(p.price_bound, '') as bound, coalesce(p.price_flag, '') as flag,
              coalesce(r.name, '') as rule, p.net_margin_pct as net_margin_pct
         from pricing.current_prices p
         join catalog.shop_sku_map m on m.id = p.listing_id
         left join pricing.price_rules r on r.id = p.suggested_rule_id
        order by m.shop_sku"
scalar "select coalesce(string_agg(format(E'    %s\n      %s', m.shop_sku,
                                          replace(d.explanation, E'\n', E'\n      ')),
                                   E'\n' order by m.shop_sku), '    (none)')
          from pricing.current_prices p
          join catalog.shop_sku_map m on m.id = p.listing_id
          join pricing.price_decisions d on d.id = p.decision_id"
printf '\nCompetitor alerts (competitors.alerts) and the tasks automation rules made of them\n'
query "select p.external_id as product, a.alert_type as alert, a.severity,
              coalesce(a.seller_id, '') as seller, coalesce(a.previous_value, '') as before,
              coalesce(a.new_value, '') as after
         from competitors.alerts a join competitors.products p on p.id = a.competitor_id
        order by a.observed_at, a.alert_type"
query "select t.title as task, s.name as stage, f.reason
         from workflow.automation_firings f
         join workflow.tasks t on t.id = f.task_id
         join workflow.kanban_stages s on s.id = t.stage_id
        order by f.fired_at"
printf '\nFailures needing a person (ops.process_failures, open)\n'
query "select process_name as process, coalesce(entity_ref, '') as about, reason, created_at
         from ops.process_failures where resolved_at is null order by created_at"
printf '\nLabel PDFs (s3://%s)\n' "$LABELS_BUCKET"
demo_py labels

cat <<EOF

Demo finished in $((SECONDS - DEMO_STARTED))s. Where to look next:
  database        psql "$DATABASE_URL"
                  (sales.orders, sales.order_status_history, sales.shipments,
                   support.conversations, support.messages, support.reply_decisions,
                   workflow.tasks,
                   ingest.ingestion_files, ops.process_failures, ops.api_calls)
  labels          $VENV/bin/python $DEMO_DIR/demo.py labels   (bucket $LABELS_BUCKET at $AWS_ENDPOINT_URL)
  simulators      $MIRAKL_BASE_URL/_sim/state   (orders, state changes, threads, shipments, tickets,
                  Shopify orders and cost bucket, calls)
  logs            $(daemon_log lambdas)   (the functions' JSON logs)
                  $(daemon_log simulators)
                  $SELLEROPS_LOCAL_DIR/moto.log
  invoke by hand  cargo lambda invoke --invoke-port $SELLEROPS_LAMBDA_PORT <function> --data-file tests/fixtures/events/<file>.json
  stop it all     make down
EOF
