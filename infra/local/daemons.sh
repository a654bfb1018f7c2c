# shellcheck shell=bash
# Background processes of the local services (simulators, cargo lambda watch, the
# event router): start one detached with a pid file and a log under
# $SELLEROPS_LOCAL_DIR, wait for it, stop it. Expects env.sh and lib.sh sourced.

# The pid file and log of a daemon.
daemon_pid_file() { printf '%s/%s.pid\n' "$SELLEROPS_LOCAL_DIR" "$1"; }
daemon_log() { printf '%s/%s.log\n' "$SELLEROPS_LOCAL_DIR" "$1"; }

# The pid of a running daemon whose command line contains $2 (so that a recycled
# pid is never mistaken for it); nothing when it is not running.
daemon_pid() {
    local name="$1" marker="$2" pid_file pid
    pid_file="$(daemon_pid_file "$name")"
    [[ -f $pid_file ]] || return 1
    pid="$(<"$pid_file")"
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
        { [[ ! -r /proc/$pid/cmdline ]] || tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$marker"; }; then
        printf '%s\n' "$pid"
        return 0
    fi
    rm -f "$pid_file"
    return 1
}

# Starts "$@" detached, in a session of its own (so that stopping it stops its
# children too), logging to the daemon's log. Prints its pid.
daemon_start() {
    local name="$1"
    shift
    local log pid
    log="$(daemon_log "$name")"
    mkdir -p "$SELLEROPS_LOCAL_DIR"
    printf -- '--- %s started at %s\n' "$name" "$(date -u +%FT%TZ)" >>"$log"
    local -a detach=()
    if command -v setsid >/dev/null 2>&1; then
        detach=(setsid)
    fi
    (
        cd "$SELLEROPS_REPO_ROOT" || exit 1
        exec "${detach[@]}" "$@"
    ) </dev/null >>"$log" 2>&1 9>&- &
    pid=$!
    printf '%s\n' "$pid" >"$(daemon_pid_file "$name")"
    printf '%s\n' "$pid"
}

# Stops a daemon and its process group: SIGTERM, then SIGKILL after 15 s.
daemon_stop() {
    local name="$1" marker="$2" pid deadline
    if ! pid="$(daemon_pid "$name" "$marker")"; then
        say "$name: not running"
        return 0
    fi
    say "$name: stopping pid $pid"
    # With setsid the pid leads its own process group; without, only the pid.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 15))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            warn "$name (pid $pid) ignored SIGTERM for 15s; sending SIGKILL"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    rm -f "$(daemon_pid_file "$name")"
}

# Whether something answers HTTP at a URL (any status counts). Python, not curl:
# the project virtualenv is always there, curl need not be.
http_answers() {
    "$VENV/bin/python" - "$1" <<'PY'
import http.client
import sys
import urllib.error
import urllib.request

try:
    urllib.request.urlopen(sys.argv[1], timeout=2).close()
except (urllib.error.HTTPError, http.client.HTTPException):
    pass  # an HTTP answer, whatever its status
except OSError:
    sys.exit(1)
PY
}

# Waits until a URL answers, while the daemon lives; shows a dot every 5 s.
daemon_wait_http() {
    local name="$1" marker="$2" url="$3" seconds="$4" deadline dots=0
    deadline=$((SECONDS + seconds))
    until http_answers "$url"; do
        if ! daemon_pid "$name" "$marker" >/dev/null; then
            tail -n 20 "$(daemon_log "$name")" >&2
            die "$name stopped before answering at $url (log: $(daemon_log "$name"))"
        fi
        ((SECONDS < deadline)) || die "$name did not answer at $url within ${seconds}s (log: $(daemon_log "$name"))"
        sleep 1
        dots=$((dots + 1))
        if ((dots % 5 == 0)); then
            printf '.' >&2
        fi
    done
    ((dots < 5)) || printf '\n' >&2
}

# The function crates of the workspace: the names of functions/*/ with a Cargo.toml.
workspace_functions() {
    local manifest
    for manifest in "$SELLEROPS_REPO_ROOT"/functions/*/Cargo.toml; do
        [[ -f $manifest ]] || continue
        basename "$(dirname "$manifest")"
    done
}
