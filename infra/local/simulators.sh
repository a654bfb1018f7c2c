#!/usr/bin/env bash
# Starts or stops the Mirakl, Canada Post, Freshdesk and Shopify simulators
# (infra/local/simulators/).
#
#   bash infra/local/simulators.sh start    build if needed, start, wait until all answer
#   bash infra/local/simulators.sh stop
#   bash infra/local/simulators.sh status
#
# Mirakl answers on 127.0.0.1:$SIM_MIRAKL_PORT (8091), Canada Post on
# 127.0.0.1:$SIM_CANADAPOST_PORT (8092), Freshdesk on 127.0.0.1:$SIM_FRESHDESK_PORT
# (8093), the Shopify Admin API on 127.0.0.1:$SIM_SHOPIFY_PORT (8094); each serves the
# control API under /_sim/ (state, orders, threads, tickets, shopify/orders, faults,
# reset). Settings: services-env.sh.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=env.sh
source "$HERE/env.sh"
# shellcheck source=services-env.sh
source "$HERE/services-env.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=daemons.sh
source "$HERE/daemons.sh"

NAME=simulators
MARKER=sellerops-simulators
MIRAKL_HEALTH="http://127.0.0.1:$SIM_MIRAKL_PORT/_sim/health"
CANADAPOST_HEALTH="http://127.0.0.1:$SIM_CANADAPOST_PORT/_sim/health"
FRESHDESK_HEALTH="http://127.0.0.1:$SIM_FRESHDESK_PORT/_sim/health"
SHOPIFY_HEALTH="http://127.0.0.1:$SIM_SHOPIFY_PORT/_sim/health"

start() {
    local pid
    if pid="$(daemon_pid "$NAME" "$MARKER")"; then
        if http_answers "$FRESHDESK_HEALTH" && http_answers "$SHOPIFY_HEALTH"; then
            say "simulators: already running (pid $pid)"
            return 0
        fi
        # Started by an older build, before the Freshdesk and Shopify simulators joined.
        say "simulators: running (pid $pid) without the Freshdesk or Shopify simulator (ports $SIM_FRESHDESK_PORT, $SIM_SHOPIFY_PORT): restarting"
        daemon_stop "$NAME" "$MARKER"
    fi
    if http_answers "$MIRAKL_HEALTH" || http_answers "$CANADAPOST_HEALTH" ||
        http_answers "$FRESHDESK_HEALTH" || http_answers "$SHOPIFY_HEALTH"; then
        die "something already answers on port $SIM_MIRAKL_PORT, $SIM_CANADAPOST_PORT, $SIM_FRESHDESK_PORT or $SIM_SHOPIFY_PORT; stop it or set SIM_MIRAKL_PORT / SIM_CANADAPOST_PORT / SIM_FRESHDESK_PORT / SIM_SHOPIFY_PORT"
    fi
    # --bin, not -p: features resolved across the workspace, as build_workspace does.
    say "simulators: building (cargo build --bin sellerops-simulators)"
    (cd "$SELLEROPS_REPO_ROOT" && cargo build --quiet --bin sellerops-simulators) </dev/null 9>&-
    pid="$(daemon_start "$NAME" "$SELLEROPS_REPO_ROOT/target/debug/sellerops-simulators")"
    daemon_wait_http "$NAME" "$MARKER" "$MIRAKL_HEALTH" 30
    daemon_wait_http "$NAME" "$MARKER" "$CANADAPOST_HEALTH" 30
    daemon_wait_http "$NAME" "$MARKER" "$FRESHDESK_HEALTH" 30
    daemon_wait_http "$NAME" "$MARKER" "$SHOPIFY_HEALTH" 30
    say "simulators: ready (pid $pid, log: $(daemon_log "$NAME"))"
    note "Mirakl      $MIRAKL_BASE_URL      (Authorization: $SIM_MIRAKL_API_KEY)"
    note "Canada Post $CANADAPOST_BASE_URL      (Basic $SIM_CANADAPOST_USERNAME)"
    note "Freshdesk   $FRESHDESK_BASE_URL      (Basic $SIM_FRESHDESK_API_KEY:X)"
    note "Shopify     $SHOPIFY_ADMIN_BASE_URL      (X-Shopify-Access-Token: $SIM_SHOPIFY_ACCESS_TOKEN)"
}

status() {
    local pid
    if pid="$(daemon_pid "$NAME" "$MARKER")"; then
        say "simulators: running (pid $pid): $MIRAKL_BASE_URL, $CANADAPOST_BASE_URL, $FRESHDESK_BASE_URL, $SHOPIFY_ADMIN_BASE_URL"
    else
        say "simulators: not running"
        return 3
    fi
}

case "${1:-}" in
    start) start ;;
    stop) daemon_stop "$NAME" "$MARKER" ;;
    status) status ;;
    *)
        sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
        exit 2
        ;;
esac
