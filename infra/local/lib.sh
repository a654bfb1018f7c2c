# shellcheck shell=bash
# Helpers shared by up.sh and down.sh (not for users: source env.sh instead).
# Expects env.sh to be sourced first.

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Paths used by the scripts that source this file.
# shellcheck disable=SC2034
{
    VENV="$SELLEROPS_VENV"
    MOTO_PID_FILE="$SELLEROPS_LOCAL_DIR/moto.pid"
    MOTO_LOG="$SELLEROPS_LOCAL_DIR/moto.log"
    # Written into SELLEROPS_LOCAL_DIR by up.sh; `down.sh --purge` deletes only a
    # folder that carries it, so a mistyped SELLEROPS_LOCAL_DIR is never wiped.
    LOCAL_DIR_MARKER="$SELLEROPS_LOCAL_DIR/.sellerops-local-stack"

    PG_DIR="$SELLEROPS_LOCAL_DIR/postgres"
    PG_DATA="$PG_DIR/data"
    PG_SOCKET_DIR="$PG_DIR/run"
    PG_LOG="$PG_DIR/postgres.log"
    # How long a server is given to stop before it is killed.
    STOP_WAIT_SECONDS=30
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# Prints the PostgreSQL server bin directory: SELLEROPS_PG_BIN if set, else the
# version the private cluster was created with, else the newest installed
# /usr/lib/postgresql/*/bin, else wherever initdb is on PATH.
find_pg_bin() {
    if [[ -n ${SELLEROPS_PG_BIN:-} ]]; then
        [[ -x $SELLEROPS_PG_BIN/initdb ]] || die "SELLEROPS_PG_BIN=$SELLEROPS_PG_BIN has no initdb"
        printf '%s\n' "$SELLEROPS_PG_BIN"
        return 0
    fi
    if [[ -r $PG_DATA/PG_VERSION ]]; then
        local cluster_bin
        cluster_bin="/usr/lib/postgresql/$(<"$PG_DATA/PG_VERSION")/bin"
        if [[ -x $cluster_bin/pg_ctl ]]; then
            printf '%s\n' "$cluster_bin"
            return 0
        fi
    fi
    local newest
    newest="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null |
        sort -V | tail -n 1)"
    if [[ -n $newest ]]; then
        dirname "$newest"
        return 0
    fi
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

# The user the private cluster runs as: the owner of an existing data folder;
# else the current user; as root (initdb refuses to run as root) the system
# user `postgres` when it exists, else `sellerops` (created by up.sh).
pg_cluster_owner() {
    if [[ -d $PG_DATA ]]; then
        stat -c %U "$PG_DATA"
    elif ! is_root; then
        id -un
    elif id -u postgres >/dev/null 2>&1; then
        echo postgres
    else
        echo sellerops
    fi
}

# Runs a command as the cluster owner, from PG_DIR so that it never starts in
# a directory the owner cannot enter (/root, say).
as_pg_owner() {
    local owner="$1"
    shift
    if is_root && [[ $owner != root ]]; then
        (cd "$PG_DIR" && runuser -u "$owner" -- "$@")
    else
        "$@"
    fi
}

# Status of the private cluster per pg_ctl: 0 running, 3 stopped, 4 no cluster.
pg_cluster_status() {
    local pg_bin="$1" owner="$2" rc=0
    as_pg_owner "$owner" "$pg_bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1 || rc=$?
    return "$rc"
}

# Whether a process id names a live moto server (and not a recycled pid).
is_moto_pid() {
    local pid="$1"
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ ! -r /proc/$pid/cmdline ]] || tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q moto_server
}

# The port the moto server with this pid was started on (its `-p` argument).
moto_pid_port() {
    local pid="$1"
    [[ -r /proc/$pid/cmdline ]] || return 0
    tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n '/^-p$/{n;p;q;}'
}

# Stops the moto server up.sh started (SIGTERM, then SIGKILL after
# STOP_WAIT_SECONDS) and forgets its pid.
stop_moto_pid() {
    local pid="$1" deadline
    say "moto: stopping pid $pid (its buckets, objects and messages live in memory and are lost)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_WAIT_SECONDS))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            warn "moto (pid $pid) ignored SIGTERM for ${STOP_WAIT_SECONDS}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    rm -f "$MOTO_PID_FILE"
}

# What answers on the moto port: prints `moto`, `other` or `none`.
moto_probe() {
    [[ -x $VENV/bin/python ]] || {
        echo none
        return 0
    }
    "$VENV/bin/python" - "http://127.0.0.1:${SELLEROPS_MOTO_PORT}/moto-api/" <<'PY'
import http.client
import sys
import urllib.error
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
        print("moto" if response.status == 200 else "other")
except (urllib.error.HTTPError, http.client.HTTPException):
    print("other")
except OSError:
    print("none")
PY
}

# The one build of the local stack: every crate of the workspace in the dev profile,
# with dependency features resolved across the whole workspace. Everything else
# resolves them the same way and so reuses this build instead of compiling the
# dependency tree again: `cargo lambda watch` runs `cargo run --bin <function>` from
# the workspace root (no -p, no flags, no RUSTFLAGS), the scripts run `cargo run
# --bin <name>`, and `cargo test --workspace` only adds wiremock's own crates (see
# the feature note in Cargo.toml). Never `-p <package>` in these scripts: cargo then
# resolves features for that package alone and rebuilds whatever they change
# (tokio, hyper, the AWS SDK, sqlx, ...).
build_workspace() {
    (cd "$SELLEROPS_REPO_ROOT" && cargo build --workspace) </dev/null 9>&-
}
