#!/usr/bin/env bash
# Starts the sellerops local stack; running it again is harmless.
#
#   bash infra/local/up.sh          (from any directory)
#
# 1. PostgreSQL: with a DATABASE_URL of your own, waits until it answers;
#    otherwise creates (once) and starts a private cluster under
#    $SELLEROPS_LOCAL_DIR/postgres, listening on 127.0.0.1:$SELLEROPS_PG_PORT.
# 2. The project virtualenv <repo>/.venv with infra/local/requirements.txt
#    (moto, boto3, cargo-lambda, cfn-lint), reinstalled when that file changes.
# 3. moto's server on 127.0.0.1:$SELLEROPS_MOTO_PORT, standing in for S3/SQS.
# 4. Buckets, queues, DLQs and the orders -> ingest notification (provision.py).
# 5. One `cargo build --workspace`, then the database migrations (the sellerops
#    crate's `migrate` binary), unless SELLEROPS_SKIP_MIGRATIONS is set.
#
# Settings come from infra/local/env.sh. Stop everything with infra/local/down.sh.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=env.sh
source "$HERE/env.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

REQUIREMENTS="$HERE/requirements.txt"
REQUIREMENTS_STAMP="$VENV/.sellerops-requirements.sha256"
DB_WAIT_SECONDS=30
MOTO_WAIT_SECONDS=30
MOTO_STARTED=0

# DATABASE_URL without its password, for printing.
redacted_database_url() {
    sed -E -e 's#^([a-z]+://[^:/@]*):[^@]*@#\1:***@#' -e 's#(password=)[^ &]*#\1***#g' <<<"$DATABASE_URL"
}

# Installs Debian packages as root. --no-upgrade: upgrading PostgreSQL
# packages under a running server breaks it (new backends load the new
# plpgsql.so into the old binary) until it is restarted.
apt_install() {
    local log="$SELLEROPS_LOCAL_DIR/apt-get.log"
    is_root || return 1
    command -v apt-get >/dev/null 2>&1 || return 1
    note "apt-get install $* (log: $log)"
    if ! {
        DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --no-upgrade "$@"
    } >>"$log" 2>&1 </dev/null; then
        tail -n 15 "$log" >&2
        return 1
    fi
}

# Prints the PostgreSQL bin directory, installing the server packages first
# when none is found and we are root on Debian. (On a machine whose services
# start on install, Debian's package also starts its own `main` cluster on
# port 5432; containers normally forbid that through policy-rc.d.)
pg_bin_or_install() {
    local pg_bin
    if pg_bin="$(find_pg_bin)"; then
        printf '%s\n' "$pg_bin"
        return 0
    fi
    say "Installing the PostgreSQL server (no initdb under /usr/lib/postgresql or on PATH)" >&2
    { apt_install postgresql-15 || apt_install postgresql; } >&2 ||
        die "no PostgreSQL server binaries found. Install them (Debian: apt-get install postgresql-15), set SELLEROPS_PG_BIN to their bin directory, or set DATABASE_URL to a server of your own."
    find_pg_bin || die "PostgreSQL was installed but no initdb was found; set SELLEROPS_PG_BIN"
}

wait_for_external_db() {
    local pg_isready deadline rc
    say "Waiting for the external database $(redacted_database_url)"
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready="$(command -v pg_isready)"
    else
        pg_isready="$(pg_bin_or_install)/pg_isready"
    fi
    deadline=$((SECONDS + DB_WAIT_SECONDS))
    while ((SECONDS < deadline)); do
        rc=0
        "$pg_isready" -q -t 2 -d "$DATABASE_URL" || rc=$?
        case $rc in
            0) return 0 ;;
            3) die "DATABASE_URL is not a connection string pg_isready understands: $(redacted_database_url)" ;;
        esac
        sleep 1
    done
    die "the database at $(redacted_database_url) did not answer within ${DB_WAIT_SECONDS}s"
}

# As root the cluster runs as another user, who must be able to walk down to
# PG_DIR. A folder of ours on the way (the repo root, SELLEROPS_LOCAL_DIR)
# gets o+x; a folder above the repo is not ours to change, so we stop there.
make_pg_dir_reachable_by() {
    local owner="$1" dir path=""
    local -a parts
    IFS=/ read -r -a parts <<<"${PG_DIR#/}"
    for dir in "${parts[@]:0:${#parts[@]}-1}"; do
        path="$path/$dir"
        runuser -u "$owner" -- test -x "$path" && continue
        if [[ $path == "$SELLEROPS_REPO_ROOT" || $path == "$SELLEROPS_REPO_ROOT"/* ||
            $path == "$SELLEROPS_LOCAL_DIR" || $path == "$SELLEROPS_LOCAL_DIR"/* ]]; then
            note "chmod o+x $path (so that '$owner', who runs the cluster, can reach it)"
            chmod o+x "$path"
        else
            die "the private PostgreSQL cluster must run as a non-root user ('$owner'; initdb refuses root), but '$owner' cannot enter $path, above $PG_DIR. Either
  - clone the repo under a folder other users can traverse (such as /work or /srv), or
  - set SELLEROPS_LOCAL_DIR to such a folder, or
  - set DATABASE_URL to a PostgreSQL server of your own, or
  - allow traversal yourself: chmod o+x $path"
        fi
    done
}

# Settings read by the cluster at every start (postgresql.conf includes this
# file), so a changed SELLEROPS_PG_PORT applies on the next start.
write_cluster_settings() {
    local owner="$1" socket_dir="$PG_SOCKET_DIR"
    # A Unix socket path is at most 107 bytes; beyond that, TCP only.
    if ((${#socket_dir} + ${#SELLEROPS_PG_PORT} + 11 > 107)); then
        socket_dir=""
    else
        as_pg_owner "$owner" mkdir -p "$socket_dir"
    fi
    as_pg_owner "$owner" tee "$PG_DATA/sellerops.conf" >/dev/null <<EOF
# Written by infra/local/up.sh at every start: edit that script, not this file.
listen_addresses = '127.0.0.1'
port = $SELLEROPS_PG_PORT
unix_socket_directories = '$socket_dir'
# Durability is off because this is a throwaway development cluster: a crash
# may corrupt it (then: down.sh --purge && up.sh). Never copy these to a real server.
fsync = off
synchronous_commit = off
full_page_writes = off
# sqlx::test runs many test databases at once.
max_connections = 200
EOF
}

# Runs `pg_ctl <action...>` on the private cluster, waiting until it answers;
# on failure shows the end of the server log and stops.
pg_ctl_or_die() {
    local pg_bin="$1" owner="$2"
    shift 2
    if ! as_pg_owner "$owner" "$pg_bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$DB_WAIT_SECONDS" \
        "$@" >/dev/null 9>&-; then
        tail -n 20 "$PG_LOG" >&2
        die "PostgreSQL did not ${!#} on port $SELLEROPS_PG_PORT within ${DB_WAIT_SECONDS}s (log: $PG_LOG)"
    fi
}

start_private_cluster() {
    local pg_bin owner rc
    pg_bin="$(pg_bin_or_install)"
    owner="$(pg_cluster_owner)"
    say "PostgreSQL: private cluster in $PG_DATA ($("$pg_bin/postgres" --version), as user $owner)"

    if is_root && ! id -u "$owner" >/dev/null 2>&1; then
        note "creating system user '$owner' to run the cluster (initdb refuses root)"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$owner"
    fi
    mkdir -p "$PG_DIR"
    if is_root && [[ $owner != root ]]; then
        make_pg_dir_reachable_by "$owner"
        if [[ $(stat -c %U "$PG_DIR") != "$owner" ]]; then
            chown -R "$owner:" "$PG_DIR"
        fi
    fi

    if [[ ! -f $PG_DATA/PG_VERSION ]]; then
        # A data folder without PG_VERSION is what an interrupted initdb leaves.
        rm -rf "$PG_DATA"
        note "initdb (superuser sellerops, trust authentication, 127.0.0.1 only)"
        if ! as_pg_owner "$owner" "$pg_bin/initdb" -D "$PG_DATA" -U sellerops --auth=trust \
            --encoding=UTF8 --locale=C --no-sync >"$PG_DIR/initdb.log" 2>&1; then
            tail -n 20 "$PG_DIR/initdb.log" >&2
            die "initdb failed (log: $PG_DIR/initdb.log)"
        fi
        printf "\n# sellerops local stack\ninclude_if_exists = 'sellerops.conf'\n" |
            as_pg_owner "$owner" tee -a "$PG_DATA/postgresql.conf" >/dev/null
    fi
    write_cluster_settings "$owner"

    rc=0
    "$pg_bin/pg_isready" -q -t 2 -h 127.0.0.1 -p "$SELLEROPS_PG_PORT" || rc=$?
    if pg_cluster_status "$pg_bin" "$owner"; then
        if ((rc != 2)); then
            note "already running"
        else
            # Started earlier with another SELLEROPS_PG_PORT: the settings written above
            # take effect on a restart, so DATABASE_URL does not point at nothing.
            note "running, but not on port $SELLEROPS_PG_PORT: restarting it there (log: $PG_LOG)"
            pg_ctl_or_die "$pg_bin" "$owner" -m fast restart
        fi
    else
        if ((rc == 0 || rc == 1)); then
            die "another PostgreSQL server already listens on 127.0.0.1:$SELLEROPS_PG_PORT; stop it, or set SELLEROPS_PG_PORT (or DATABASE_URL to use that server)"
        fi
        note "starting (log: $PG_LOG)"
        pg_ctl_or_die "$pg_bin" "$owner" start
    fi

    if [[ $("$pg_bin/psql" -X -q -tA -h 127.0.0.1 -p "$SELLEROPS_PG_PORT" -U sellerops -d postgres \
        -c "select 1 from pg_database where datname = 'sellerops'") != 1 ]]; then
        note "creating database sellerops"
        "$pg_bin/createdb" -h 127.0.0.1 -p "$SELLEROPS_PG_PORT" -U sellerops sellerops
    fi
}

file_sha256() {
    "$VENV/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
}

ensure_venv() {
    local wanted installed="" venv_path="$VENV"
    # The stamp records the requirements' hash and the venv's own path: a venv
    # that moved along with its checkout has scripts whose #! lines point at
    # the old path, and must be made anew. A .venv that is a symlink to another
    # checkout's venv (a git worktree's) did not move: its real path counts.
    if [[ -d $VENV ]]; then
        venv_path="$(cd "$VENV" && pwd -P)"
    fi
    if [[ -r $REQUIREMENTS_STAMP ]]; then
        installed="$(<"$REQUIREMENTS_STAMP")"
        if [[ $installed != *" $venv_path" ]]; then
            warn "$VENV was created elsewhere (moved checkout?); recreating it"
            rm -rf "$VENV"
            installed=""
        fi
    fi
    if [[ -e $VENV/bin/python ]] && ! "$VENV/bin/python" -c '' >/dev/null 2>&1; then
        warn "$VENV is broken (its python does not run); recreating it"
        rm -rf "$VENV"
        installed=""
    fi
    if [[ ! -x $VENV/bin/python ]]; then
        command -v python3 >/dev/null 2>&1 || die "python3 is needed to create $VENV"
        if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
            apt_install python3-venv || die "python3 cannot create virtualenvs (Debian: apt-get install python3-venv)"
        fi
        say "Python: creating virtualenv $VENV"
        python3 -m venv "$VENV"
    fi
    venv_path="$(cd "$VENV" && pwd -P)"
    wanted="$(file_sha256 "$REQUIREMENTS") $venv_path"
    if [[ $wanted == "$installed" ]]; then
        say "Python: $VENV is up to date with infra/local/requirements.txt"
        return 0
    fi
    say "Python: installing infra/local/requirements.txt into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" </dev/null
    printf '%s\n' "$wanted" >"$REQUIREMENTS_STAMP"
}

wait_for_moto() {
    local pid="$1" deadline=$((SECONDS + MOTO_WAIT_SECONDS))
    until [[ $(moto_probe) == moto ]]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$MOTO_PID_FILE"
            tail -n 20 "$MOTO_LOG" >&2
            die "moto exited during start-up (log: $MOTO_LOG)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 20 "$MOTO_LOG" >&2
            die "moto (pid $pid) did not answer within ${MOTO_WAIT_SECONDS}s (log: $MOTO_LOG)"
        fi
        sleep 0.3
    done
}

start_moto() {
    local pid="" port
    if [[ -f $MOTO_PID_FILE ]]; then
        pid="$(<"$MOTO_PID_FILE")"
        if ! is_moto_pid "$pid"; then
            rm -f "$MOTO_PID_FILE"
            pid=""
        elif port="$(moto_pid_port "$pid")" && [[ $port != "$SELLEROPS_MOTO_PORT" ]]; then
            # Started earlier with another SELLEROPS_MOTO_PORT: AWS_ENDPOINT_URL now
            # points at the new port, so the server moves there (provisioned afresh).
            say "moto: pid $pid listens on port $port, not $SELLEROPS_MOTO_PORT: restarting it there"
            stop_moto_pid "$pid"
            pid=""
        fi
    fi
    case "$(moto_probe)" in
        moto)
            if [[ -n $pid ]]; then
                say "moto: already running on 127.0.0.1:$SELLEROPS_MOTO_PORT (pid $pid)"
            else
                say "moto: a server up.sh did not start already answers on 127.0.0.1:$SELLEROPS_MOTO_PORT; using it (down.sh will leave it alone)"
            fi
            return 0
            ;;
        other)
            die "something other than moto answers on 127.0.0.1:$SELLEROPS_MOTO_PORT; stop it or set SELLEROPS_MOTO_PORT"
            ;;
    esac
    if [[ -n $pid ]]; then
        say "moto: pid $pid is running but not answering yet; waiting"
        wait_for_moto "$pid"
        return 0
    fi

    say "moto: starting on 127.0.0.1:$SELLEROPS_MOTO_PORT (log: $MOTO_LOG)"
    printf -- '--- moto_server started by up.sh at %s\n' "$(date -u +%FT%TZ)" >>"$MOTO_LOG"
    # In a session of its own where setsid exists, so that it outlives this
    # script and its terminal.
    local -a detach=()
    if command -v setsid >/dev/null 2>&1; then
        detach=(setsid)
    fi
    (
        cd "$SELLEROPS_LOCAL_DIR"
        exec "${detach[@]}" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$SELLEROPS_MOTO_PORT"
    ) </dev/null >>"$MOTO_LOG" 2>&1 9>&- &
    pid=$!
    printf '%s\n' "$pid" >"$MOTO_PID_FILE"
    wait_for_moto "$pid"
    MOTO_STARTED=1
}

provision() {
    say "moto: provisioning buckets and queues"
    "$VENV/bin/python" "$HERE/provision.py"
    # Only on a fresh moto: later, the local event router may be polling the
    # ingest queue and would take the check's message.
    if ((MOTO_STARTED)); then
        say "moto: checking that an S3 upload reaches the ingest queue"
        "$VENV/bin/python" "$HERE/provision.py" --self-check
    fi
}

migrate() {
    if [[ -n ${SELLEROPS_SKIP_MIGRATIONS:-} ]]; then
        say "Database: SELLEROPS_SKIP_MIGRATIONS is set; not applying migrations"
        return 0
    fi
    command -v cargo >/dev/null 2>&1 || die "cargo is needed to apply the migrations"
    # The whole workspace at once rather than the migrate binary alone: the functions,
    # simulators, event router and tests reuse this build (see build_workspace in lib.sh).
    say "Rust: cargo build --workspace (the first build takes several minutes; later steps reuse it)"
    build_workspace
    say "Database: applying migrations (cargo run --bin migrate)"
    (cd "$SELLEROPS_REPO_ROOT" && cargo run --quiet --bin migrate) </dev/null 9>&-
}

print_summary() {
    local database queue
    if [[ -n ${SELLEROPS_EXTERNAL_DB:-} ]]; then
        database="(external: not started or stopped by these scripts)"
    else
        database="(private cluster, log: $PG_LOG)"
    fi
    cat <<EOF

sellerops local stack is ready ($((SECONDS - STARTED_AT))s)
  DATABASE_URL       $(redacted_database_url)
                     $database
  AWS_ENDPOINT_URL   $AWS_ENDPOINT_URL  (moto, region $AWS_REGION, log: $MOTO_LOG)
  buckets            $ORDERS_BUCKET (s3:ObjectCreated:* -> ${INGEST_QUEUE_URL##*/}), $LABELS_BUCKET
  queues             each with a <name>-dlq after 5 receives
EOF
    for queue in INGEST_QUEUE_URL ACCEPT_QUEUE_URL LABEL_QUEUE_URL REPLY_QUEUE_URL PRICING_QUEUE_URL; do
        printf '    %-18s %s\n' "$queue" "${!queue}"
    done
    cat <<EOF
  use it             source $HERE/env.sh
  stop it            bash $HERE/down.sh   (--purge also deletes $SELLEROPS_LOCAL_DIR)
EOF
}

main() {
    STARTED_AT=$SECONDS
    mkdir -p "$SELLEROPS_LOCAL_DIR"
    touch "$LOCAL_DIR_MARKER"
    # One up.sh at a time. The daemons started below get 9>&- so that they do
    # not inherit (and hold) the lock.
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$SELLEROPS_LOCAL_DIR/.up.lock"
        flock -w 600 9 || die "another up.sh is still running (lock: $SELLEROPS_LOCAL_DIR/.up.lock)"
    fi

    if [[ -n ${SELLEROPS_EXTERNAL_DB:-} ]]; then
        wait_for_external_db
    else
        start_private_cluster
    fi
    ensure_venv
    start_moto
    provision
    migrate
    print_summary
}

main "$@"
