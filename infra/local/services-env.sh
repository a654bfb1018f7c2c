# shellcheck shell=bash
# Environment of the local services that run on top of the stack: the Mirakl, Canada
# Post, Freshdesk and Shopify simulators, `cargo lambda watch` and the event router.
#
#   source infra/local/env.sh && source infra/local/services-env.sh
#
# Sourced by simulators.sh, lambdas.sh, router.sh and demo.sh. As in env.sh, a
# value already set wins, so `SELLEROPS_LAMBDA_PORT=9100 make demo` works; like
# env.sh it changes no shell options and leaves no helper variables behind.

# Ports, all on 127.0.0.1 (cargo lambda watch listens on every address, as it
# does by default, so that `cargo lambda invoke` reaches it over ::1 too).
: "${SIM_MIRAKL_PORT:=8091}"
: "${SIM_CANADAPOST_PORT:=8092}"
: "${SIM_FRESHDESK_PORT:=8093}"
: "${SIM_SHOPIFY_PORT:=8094}"
: "${SELLEROPS_LAMBDA_PORT:=9000}"
export SIM_MIRAKL_PORT SIM_CANADAPOST_PORT SIM_FRESHDESK_PORT SIM_SHOPIFY_PORT \
    SELLEROPS_LAMBDA_PORT

# The Lambda endpoint: invoke at $SELLEROPS_LAMBDA_ENDPOINT/2015-03-31/functions/<fn>/invocations,
# call an HTTP function at $SELLEROPS_LAMBDA_ENDPOINT/lambda-url/<fn>/<path>.
: "${SELLEROPS_LAMBDA_ENDPOINT:=http://127.0.0.1:${SELLEROPS_LAMBDA_PORT}}"
export SELLEROPS_LAMBDA_ENDPOINT

# Credentials the simulators check and the functions send. Local values only.
: "${SIM_MIRAKL_API_KEY:=local-mirakl-key}"
: "${SIM_CANADAPOST_USERNAME:=local-canadapost-user}"
: "${SIM_CANADAPOST_PASSWORD:=local-canadapost-password}"
: "${SIM_FRESHDESK_API_KEY:=local-freshdesk-key}"
: "${SIM_SHOPIFY_ACCESS_TOKEN:=local-shopify-admin-token}"
export SIM_MIRAKL_API_KEY SIM_CANADAPOST_USERNAME SIM_CANADAPOST_PASSWORD SIM_FRESHDESK_API_KEY \
    SIM_SHOPIFY_ACCESS_TOKEN

# What the functions read (README's configuration table), pointed at the simulators.
: "${MIRAKL_BASE_URL:=http://127.0.0.1:${SIM_MIRAKL_PORT}}"
: "${MIRAKL_API_KEY:=$SIM_MIRAKL_API_KEY}"
: "${MIRAKL_WEBHOOK_SECRET:=local-mirakl-webhook-secret}"
# The signed webhook fixtures in tests/fixtures/events/ are made with these two.
: "${SHOPIFY_WEBHOOK_SECRET:=local-shopify-webhook-secret}"
: "${FRESHDESK_WEBHOOK_SECRET:=local-freshdesk-webhook-secret}"
: "${CANADAPOST_BASE_URL:=http://127.0.0.1:${SIM_CANADAPOST_PORT}}"
: "${CANADAPOST_USERNAME:=$SIM_CANADAPOST_USERNAME}"
: "${CANADAPOST_PASSWORD:=$SIM_CANADAPOST_PASSWORD}"
: "${CANADAPOST_CUSTOMER_NUMBER:=0001234567}"
# sync-marketplace reconciles the Shopify simulator's store: the store the webhook
# fixtures name (marketplace-webhook refuses deliveries naming another), its Admin API
# at the simulator instead of https://<SHOPIFY_SHOP_DOMAIN>.
: "${SHOPIFY_SHOP_DOMAIN:=maple-refurb.myshopify.com}"
: "${SHOPIFY_ADMIN_BASE_URL:=http://127.0.0.1:${SIM_SHOPIFY_PORT}}"
: "${SHOPIFY_ADMIN_ACCESS_TOKEN:=$SIM_SHOPIFY_ACCESS_TOKEN}"
# The helpdesk sync reads the Freshdesk simulator; webhook tickets are filed under the
# same helpdesk.
: "${FRESHDESK_DOMAIN:=sellerops-local.freshdesk.com}"
: "${FRESHDESK_BASE_URL:=http://127.0.0.1:${SIM_FRESHDESK_PORT}}"
: "${FRESHDESK_API_KEY:=$SIM_FRESHDESK_API_KEY}"
export MIRAKL_BASE_URL MIRAKL_API_KEY MIRAKL_WEBHOOK_SECRET SHOPIFY_WEBHOOK_SECRET \
    FRESHDESK_WEBHOOK_SECRET CANADAPOST_BASE_URL \
    CANADAPOST_USERNAME CANADAPOST_PASSWORD CANADAPOST_CUSTOMER_NUMBER \
    SHOPIFY_SHOP_DOMAIN SHOPIFY_ADMIN_BASE_URL SHOPIFY_ADMIN_ACCESS_TOKEN \
    FRESHDESK_DOMAIN FRESHDESK_BASE_URL FRESHDESK_API_KEY

# Who labels are shipped from (fetch-shipping-label's sender), a made-up warehouse.
: "${SENDER_NAME:=Shipping desk}"
: "${SENDER_COMPANY:=sellerops demo warehouse}"
: "${SENDER_PHONE:=6135550100}"
: "${SENDER_ADDRESS_LINE1:=123 King St}"
: "${SENDER_CITY:=Ottawa}"
: "${SENDER_PROVINCE:=ON}"
: "${SENDER_POSTAL_CODE:=K1A0B1}"
: "${SENDER_EMAIL:=shipping@sellerops-demo.example}"
export SENDER_NAME SENDER_COMPANY SENDER_PHONE SENDER_ADDRESS_LINE1 SENDER_CITY \
    SENDER_PROVINCE SENDER_POSTAL_CODE SENDER_EMAIL

# conversation-auto-reply answers for real on the local stack, so that the demo and the
# end-to-end test show the replies in the Mirakl simulator. A deployment starts in
# `shadow` (the template's default) until the seller has read its decisions;
# `AUTO_REPLY_MODE=shadow make demo` shows that instead.
: "${AUTO_REPLY_MODE:=on}"
export AUTO_REPLY_MODE
