#!/usr/bin/env bash
# Starts or stops `cargo lambda watch` for the workspace: the Lambda runtime API and
# invoke endpoint on port $SELLEROPS_LAMBDA_PORT (9000), serving every binary of the
# workspace by its name.
#
#   bash infra/local/lambdas.sh start    build the workspace, start, wait until it answers
#   bash infra/local/lambdas.sh stop
#   bash infra/local/lambdas.sh status
#
#   invoke:        POST $SELLEROPS_LAMBDA_ENDPOINT/2015-03-31/functions/<fn>/invocations
#                  or  cargo lambda invoke <fn> --data-file tests/fixtures/events/<file>.json
#   HTTP function: $SELLEROPS_LAMBDA_ENDPOINT/lambda-url/<fn>/<path>
#
# The functions get this script's environment: env.sh plus services-env.sh (the
# simulators' URLs and credentials), with the secrets moved into moto's Secrets Manager
# as in AWS: each secret variable set (DATABASE_URL, MIRAKL_API_KEY, ...; provision.py's
# LOCAL_SECRETS) is stored as a secret under sellerops-local/lambdas-<port>/, and the
# functions get <NAME>_SECRET_ARN instead of <NAME>, so every cold start fetches its
# secrets with the real SDK. cargo lambda builds a function on its first invocation
# (`cargo run --bin <fn>`); start runs `cargo build --workspace` first, which builds
# exactly what those runs need, so every first invocation is quick (and after up.sh,
# which ran the same build, it has nothing left to do).
# SELLEROPS_LAMBDA_RELOAD=0 turns off rebuilding when the code changes;
# SELLEROPS_LAMBDA_SECRETS=plain passes the secrets as plain values instead.
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

NAME=lambdas
MARKER="lambda watch"
WAIT_SECONDS=120

build_functions() {
    if [[ -z $(workspace_functions) ]]; then
        note "no functions under functions/ yet: nothing to build"
        return 0
    fi
    # The watcher runs `cargo run --bin <fn>` from the workspace root: dev profile, no
    # flags, dependency features resolved across the whole workspace. `cargo build
    # --workspace` resolves them the same way, so the watcher reuses every artifact. (One
    # `cargo build -p <fn>` per function would resolve features per package and build
    # artifacts the watcher does not use.)
    local started=$SECONDS
    say "lambdas: cargo build --workspace (the first build takes several minutes; cargo's progress below)"
    build_workspace
    note "built in $((SECONDS - started))s"
}

# Stores the secret variables in moto's Secrets Manager and replaces each, in the
# environment the functions inherit, with its <NAME>_SECRET_ARN.
secrets_to_secrets_manager() {
    local references line variable
    local -a moved=()
    if [[ ${SELLEROPS_LAMBDA_SECRETS:-secretsmanager} == plain ]]; then
        note "secrets     plain environment values (SELLEROPS_LAMBDA_SECRETS=plain)"
        return 0
    fi
    references="$("$VENV/bin/python" "$HERE/provision.py" \
        --secrets "sellerops-local/lambdas-$SELLEROPS_LAMBDA_PORT")" ||
        die "could not store the functions' secrets in moto's Secrets Manager (is moto running? infra/local/up.sh)"
    while IFS= read -r line; do
        [[ -n $line ]] || continue
        variable="${line%%=*}"
        unset "${variable%_SECRET_ARN}"
        export "${line?}"
        moved+=("$variable")
    done <<<"$references"
    note "secrets     from moto's Secrets Manager: ${moved[*]:-none set}"
}

start() {
    local pid
    if pid="$(daemon_pid "$NAME" "$MARKER")"; then
        say "lambdas: cargo lambda watch already running (pid $pid)"
        return 0
    fi
    if http_answers "$SELLEROPS_LAMBDA_ENDPOINT/"; then
        die "something already answers at $SELLEROPS_LAMBDA_ENDPOINT; stop it or set SELLEROPS_LAMBDA_PORT"
    fi
    command -v cargo-lambda >/dev/null 2>&1 ||
        die "cargo-lambda is not installed: run infra/local/up.sh (it installs it into $VENV)"
    build_functions
    secrets_to_secrets_manager
    local -a options=(--invoke-port "$SELLEROPS_LAMBDA_PORT")
    if [[ ${SELLEROPS_LAMBDA_RELOAD:-1} == 0 ]]; then
        options+=(--ignore-changes)
    fi
    say "lambdas: starting cargo lambda watch on port $SELLEROPS_LAMBDA_PORT"
    pid="$(daemon_start "$NAME" cargo lambda watch "${options[@]}")"
    daemon_wait_http "$NAME" "$MARKER" "$SELLEROPS_LAMBDA_ENDPOINT/" "$WAIT_SECONDS"
    say "lambdas: ready (pid $pid, log: $(daemon_log "$NAME"))"
    note "invoke      $SELLEROPS_LAMBDA_ENDPOINT/2015-03-31/functions/<function>/invocations"
    note "HTTP        $SELLEROPS_LAMBDA_ENDPOINT/lambda-url/<function>/<path>"
    local functions
    functions="$(workspace_functions | tr '\n' ' ')"
    note "functions   ${functions:-(none under functions/ yet)}"
}

status() {
    local pid
    if pid="$(daemon_pid "$NAME" "$MARKER")"; then
        say "lambdas: cargo lambda watch running (pid $pid) at $SELLEROPS_LAMBDA_ENDPOINT"
    else
        say "lambdas: not running"
        return 3
    fi
}

case "${1:-}" in
    start) start ;;
    stop) daemon_stop "$NAME" "$MARKER" ;;
    status) status ;;
    *)
        sed -n '2,24s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
        exit 2
        ;;
esac
