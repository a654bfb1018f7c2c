#!/usr/bin/env bash
# Runs the local event router (infra/local/event-router/): what Lambda's SQS event
# source mappings do, against the local queues and the local Lambda endpoint.
#
#   bash infra/local/router.sh start     route continuously, in the background
#   bash infra/local/router.sh stop
#   bash infra/local/router.sh once [--retry-after N] ...
#                                        drain the queues in the foreground, then exit
#
# Routes each queue only when its function exists under functions/. Needs the
# stack (up.sh) and cargo lambda watch (lambdas.sh) running.
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

NAME=event-router
MARKER=sellerops-event-router
BINARY="$SELLEROPS_REPO_ROOT/target/debug/sellerops-event-router"

build() {
    # --bin, not -p: features resolved across the workspace, as build_workspace does.
    (cd "$SELLEROPS_REPO_ROOT" && cargo build --quiet --bin sellerops-event-router) </dev/null 9>&-
}

case "${1:-}" in
    start)
        if pid="$(daemon_pid "$NAME" "$MARKER")"; then
            say "event router: already running (pid $pid)"
            exit 0
        fi
        build
        pid="$(daemon_start "$NAME" "$BINARY")"
        say "event router: running (pid $pid, log: $(daemon_log "$NAME"))"
        ;;
    stop) daemon_stop "$NAME" "$MARKER" ;;
    once)
        shift
        build
        cd "$SELLEROPS_REPO_ROOT"
        "$BINARY" --once "$@"
        ;;
    *)
        sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
        exit 2
        ;;
esac
