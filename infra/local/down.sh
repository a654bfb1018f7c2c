#!/usr/bin/env bash
# Stops what infra/local/up.sh started: its moto server and its private
# PostgreSQL cluster. Harmless when nothing runs. Never touches a database of
# your own (DATABASE_URL) nor a moto server up.sh did not start.
#
#   bash infra/local/down.sh            stop (data is kept for the next up.sh)
#   bash infra/local/down.sh --purge    stop, then delete $SELLEROPS_LOCAL_DIR
#                                       (cluster, logs); the .venv stays
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=env.sh
source "$HERE/env.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

usage() {
    sed -n '2,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

stop_moto() {
    local pid
    if [[ ! -f $MOTO_PID_FILE ]]; then
        if [[ $(moto_probe) == moto ]]; then
            say "moto: the server on 127.0.0.1:$SELLEROPS_MOTO_PORT was not started by up.sh; leaving it"
        else
            say "moto: not running"
        fi
        return 0
    fi
    pid="$(<"$MOTO_PID_FILE")"
    if ! is_moto_pid "$pid"; then
        say "moto: not running (removing stale $MOTO_PID_FILE)"
        rm -f "$MOTO_PID_FILE"
        return 0
    fi
    stop_moto_pid "$pid"
}

stop_private_cluster() {
    local pg_bin owner pid deadline
    if [[ -n ${SELLEROPS_EXTERNAL_DB:-} ]]; then
        note "DATABASE_URL names a database of your own: not touched"
    fi
    if [[ ! -f $PG_DATA/PG_VERSION ]]; then
        say "PostgreSQL: no private cluster in $PG_DATA"
        return 0
    fi
    owner="$(pg_cluster_owner)"
    if pg_bin="$(find_pg_bin)"; then
        if ! pg_cluster_status "$pg_bin" "$owner"; then
            say "PostgreSQL: private cluster not running"
            return 0
        fi
        say "PostgreSQL: stopping the private cluster in $PG_DATA"
        as_pg_owner "$owner" "$pg_bin/pg_ctl" -D "$PG_DATA" -m fast -w -t "$STOP_WAIT_SECONDS" \
            stop >/dev/null
        return 0
    fi
    # No server binaries any more: ask the postmaster for a fast shutdown.
    pid="$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        say "PostgreSQL: stopping the private cluster (postmaster pid $pid)"
        kill -INT "$pid"
        deadline=$((SECONDS + STOP_WAIT_SECONDS))
        while kill -0 "$pid" 2>/dev/null; do
            ((SECONDS < deadline)) || die "the postmaster (pid $pid) did not stop within ${STOP_WAIT_SECONDS}s"
            sleep 0.2
        done
    else
        say "PostgreSQL: private cluster not running"
    fi
}

purge() {
    if [[ ! -d $SELLEROPS_LOCAL_DIR ]]; then
        say "Purge: $SELLEROPS_LOCAL_DIR does not exist"
        return 0
    fi
    if [[ ! -f $LOCAL_DIR_MARKER ]]; then
        die "not deleting $SELLEROPS_LOCAL_DIR: it lacks the $(basename "$LOCAL_DIR_MARKER") file up.sh writes there"
    fi
    say "Purge: deleting $SELLEROPS_LOCAL_DIR"
    rm -rf "$SELLEROPS_LOCAL_DIR"
}

main() {
    local do_purge=0
    while (($#)); do
        case $1 in
            --purge) do_purge=1 ;;
            -h | --help)
                usage
                return 0
                ;;
            *)
                usage >&2
                die "unknown argument: $1"
                ;;
        esac
        shift
    done
    # The services on top of the stack first: they use it.
    bash "$HERE/router.sh" stop || true
    bash "$HERE/lambdas.sh" stop || true
    bash "$HERE/simulators.sh" stop || true
    stop_moto
    stop_private_cluster
    if ((do_purge)); then
        purge
    fi
    say "sellerops local stack is stopped"
}

main "$@"
