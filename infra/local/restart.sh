#!/usr/bin/env bash
# Restarts a piece of the local stack under running work: the faults of the
# reliability suite (tests/reliability.sh), usable by hand too.
#
#   bash infra/local/restart.sh postgres     pg_ctl restart -m fast of the private cluster:
#                                            every open connection is cut
#   bash infra/local/restart.sh pause-moto   SIGSTOP moto: connections are accepted and
#                                            never answered, until `moto` below
#   bash infra/local/restart.sh moto         kill moto (SIGKILL, as a crash), start it again
#                                            and provision the buckets and queues that
#                                            env.sh names (empty: moto keeps nothing)
#
# Only what up.sh started is touched: never a DATABASE_URL of your own, nor a moto
# server up.sh did not start.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=env.sh
source "$HERE/env.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

restart_postgres() {
    local pg_bin owner
    [[ -z ${SELLEROPS_EXTERNAL_DB:-} ]] || die "DATABASE_URL names a database of your own: not restarting it"
    pg_bin="$(find_pg_bin)" || die "no PostgreSQL server binaries found"
    owner="$(pg_cluster_owner)"
    pg_cluster_status "$pg_bin" "$owner" || die "the private cluster in $PG_DATA is not running (start it with up.sh)"
    as_pg_owner "$owner" "$pg_bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -m fast -w -t "$STOP_WAIT_SECONDS" \
        restart >/dev/null 9>&-
}

# The pid of the moto server up.sh started on SELLEROPS_MOTO_PORT.
own_moto_pid() {
    local pid port
    [[ -f $MOTO_PID_FILE ]] || die "no moto server started by up.sh (no $MOTO_PID_FILE)"
    pid="$(<"$MOTO_PID_FILE")"
    is_moto_pid "$pid" || die "moto (pid $pid in $MOTO_PID_FILE) is not running"
    port="$(moto_pid_port "$pid")"
    [[ $port == "$SELLEROPS_MOTO_PORT" ]] || die "moto pid $pid listens on port $port, not $SELLEROPS_MOTO_PORT"
    printf '%s\n' "$pid"
}

restart_moto() {
    local pid
    pid="$(own_moto_pid)"
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do
        sleep 0.1
    done
    rm -f "$MOTO_PID_FILE"
    # up.sh starts moto and provisions; PostgreSQL is already up, and the build and the
    # migrations are not its to redo here.
    SELLEROPS_SKIP_MIGRATIONS=1 bash "$HERE/up.sh" >/dev/null
}

case "${1:-}" in
    postgres) restart_postgres ;;
    pause-moto) kill -STOP "$(own_moto_pid)" ;;
    moto) restart_moto ;;
    *)
        sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
        exit 2
        ;;
esac
