# shellcheck shell=bash
# Environment of the sellerops local stack (private PostgreSQL + moto for S3/SQS).
#
#   source infra/local/env.sh        # from any directory, in bash or zsh
#
# Sourced by up.sh and down.sh too. Every value already set in the environment
# wins over the default below, so `SELLEROPS_PG_PORT=55433 bash infra/local/up.sh`
# works. A DATABASE_URL set beforehand (other than the local default) names an
# external database: the scripts then use it and never start or stop a cluster.
#
# This file is sourced into interactive shells: it must not change shell
# options (no `set -e`), must work under `set -u`, and leaves no helper
# variables behind.

if [ -n "${BASH_SOURCE[0]:-}" ]; then
    _sellerops_env_file="${BASH_SOURCE[0]}"
elif [ -n "${ZSH_VERSION:-}" ]; then
    eval '_sellerops_env_file="${(%):-%x}"'
else
    echo "infra/local/env.sh: source it from bash or zsh" >&2
    # shellcheck disable=SC2317  # exit only when executed instead of sourced
    return 1 2>/dev/null || exit 1
fi
_sellerops_repo="$(cd "$(dirname "$_sellerops_env_file")/../.." && pwd -P)"

# Where this checkout is, and its project virtualenv (always <repo>/.venv).
export SELLEROPS_REPO_ROOT="$_sellerops_repo"
export SELLEROPS_VENV="$_sellerops_repo/.venv"

# Scratch state of the local stack (cluster, logs, pid files); ignored by git.
: "${SELLEROPS_LOCAL_DIR:=$_sellerops_repo/.local}"
export SELLEROPS_LOCAL_DIR

# PostgreSQL.
: "${SELLEROPS_PG_PORT:=55432}"
export SELLEROPS_PG_PORT
_sellerops_local_db="postgres://sellerops@127.0.0.1:${SELLEROPS_PG_PORT}/sellerops"
if [ -n "${DATABASE_URL:-}" ] && [ "$DATABASE_URL" != "$_sellerops_local_db" ]; then
    # The user's own database: the scripts wait for it but never manage it.
    export SELLEROPS_EXTERNAL_DB=1
else
    unset SELLEROPS_EXTERNAL_DB
    DATABASE_URL="$_sellerops_local_db"
fi
export DATABASE_URL

# moto, standing in for S3 and SQS. The credentials are dummies that only the
# local moto server accepts; they are set so the AWS SDKs never look further.
: "${SELLEROPS_MOTO_PORT:=4566}"
: "${AWS_ENDPOINT_URL:=http://127.0.0.1:${SELLEROPS_MOTO_PORT}}"
: "${AWS_REGION:=ca-central-1}"
: "${AWS_DEFAULT_REGION:=$AWS_REGION}"
: "${AWS_ACCESS_KEY_ID:=test}"
: "${AWS_SECRET_ACCESS_KEY:=test}"
export SELLEROPS_MOTO_PORT AWS_ENDPOINT_URL AWS_REGION AWS_DEFAULT_REGION \
    AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

# Buckets and queues that infra/local/provision.py creates. A queue URL is what
# moto returns for the queue: <endpoint>/<account id>/<name>, where moto's
# default account id is 123456789012. provision.py checks the two agree.
: "${ORDERS_BUCKET:=sellerops-orders}"
: "${LABELS_BUCKET:=sellerops-labels}"
_sellerops_queue_base="${AWS_ENDPOINT_URL%/}/123456789012"
: "${INGEST_QUEUE_URL:=$_sellerops_queue_base/sellerops-ingest}"
: "${ACCEPT_QUEUE_URL:=$_sellerops_queue_base/sellerops-accept}"
: "${LABEL_QUEUE_URL:=$_sellerops_queue_base/sellerops-label}"
: "${REPLY_QUEUE_URL:=$_sellerops_queue_base/sellerops-reply}"
: "${PRICING_QUEUE_URL:=$_sellerops_queue_base/sellerops-pricing}"
export ORDERS_BUCKET LABELS_BUCKET INGEST_QUEUE_URL ACCEPT_QUEUE_URL \
    LABEL_QUEUE_URL REPLY_QUEUE_URL PRICING_QUEUE_URL

# Application settings. The pepper is a fixed, public value for local data only;
# deployed stacks read theirs from a secret.
: "${EMAIL_HASH_PEPPER:=local-development-pepper-not-secret}"
: "${DEFAULT_CURRENCY:=CAD}"
: "${RUST_LOG:=info}"
export EMAIL_HASH_PEPPER DEFAULT_CURRENCY RUST_LOG

# The project virtualenv's pinned tools (cargo-lambda for `cargo lambda ...`,
# cfn-lint, moto_server) come first on PATH, as `activate` would put them, so
# that older copies installed elsewhere on the machine do not win.
case ":${PATH}:" in
    *":$SELLEROPS_VENV/bin:"*) ;;
    *) PATH="$SELLEROPS_VENV/bin:${PATH}" ;;
esac
export PATH

unset _sellerops_env_file _sellerops_repo _sellerops_local_db _sellerops_queue_base
