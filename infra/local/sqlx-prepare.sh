#!/usr/bin/env bash
# Rewrites, or with --check verifies, the query cache in .sqlx/: what the sqlx
# query macros (query!, query_as!, query_scalar!) learnt from PostgreSQL about each
# static query. Builds read the cache instead of a database (SQLX_OFFLINE in
# .cargo/config.toml), so a query added or changed needs this script run and .sqlx/
# committed with it.
#
#   bash infra/local/sqlx-prepare.sh           rewrite .sqlx/ from the code's queries
#   bash infra/local/sqlx-prepare.sh --check   fail unless .sqlx/ is exactly that
#
# Needs the PostgreSQL server of DATABASE_URL (the local stack's: infra/local/up.sh)
# and psql. The queries are described against a scratch database holding only the
# schema of migrations/ (applied with psql, so a query on a table a new migration
# creates can be prepared before the crate compiles), dropped afterwards. This is
# `cargo sqlx prepare --workspace -- --all-targets` without installing sqlx-cli:
# the macros write the cache themselves when a build runs online with
# SQLX_OFFLINE_DIR set.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=env.sh
source "$HERE/env.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

check=0
case "${1:-}" in
    "") ;;
    --check) check=1 ;;
    -h | --help)
        sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *) die "unknown argument: $1 (expected --check or nothing)" ;;
esac

cd "$SELLEROPS_REPO_ROOT"
cache=.sqlx
fresh="target/sqlx-prepare"

psql_bin="$(command -v psql || true)"
if [[ -z $psql_bin ]] && pg_bin="$(find_pg_bin)"; then
    psql_bin="$pg_bin/psql"
fi
[[ -x $psql_bin ]] || die "psql is not installed"

# A database of its own per run, on the stack's server (any ?query kept).
scratch="sellerops_sqlx_prepare_$$"
scratch_url="$(sed -E "s#^([^?]*/)[^/?]+(\?.*)?\$#\1${scratch}\2#" <<<"$DATABASE_URL")"
stack_psql() { "$psql_bin" "$DATABASE_URL" --quiet --no-psqlrc -v ON_ERROR_STOP=1 "$@"; }
drop_scratch() { stack_psql -c "drop database if exists $scratch with (force)" || true; }

say "sqlx: scratch database $scratch with migrations/"
stack_psql -c "create database $scratch"
trap drop_scratch EXIT
for migration in migrations/[0-9]*.sql; do
    "$psql_bin" "$scratch_url" --quiet --no-psqlrc -v ON_ERROR_STOP=1 \
        --single-transaction -f "$migration" >/dev/null
done

# Cargo does not see SQLX_OFFLINE change, so it would not expand the macros again:
# updating the mtime of every file that uses one makes `cargo check` recompile those
# crates (as sqlx-cli does). The next build recompiles them once more.
mapfile -t users < <(git ls-files --cached --others --exclude-standard -- '*.rs' |
    xargs --no-run-if-empty grep -slE '\bquery(_as|_scalar)?(_unchecked)?!' || true)
((${#users[@]} == 0)) || touch "${users[@]}"
shopt -s nullglob
mkdir -p "$fresh" "$cache"
rm -f "$fresh"/query-*.json
say "sqlx: cargo check --workspace --all-targets, describing every query"
SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$PWD/$fresh" DATABASE_URL="$scratch_url" \
    cargo check --workspace --all-targets --locked --quiet

if ((check)); then
    if ! diff -r -q "$cache" "$fresh" >&2; then
        die "$cache/ is not current for the queries in the code: run bash infra/local/sqlx-prepare.sh and commit $cache/"
    fi
    say "sqlx: $cache/ is current ($(find "$cache" -name 'query-*.json' | wc -l) queries)"
else
    rm -f "$cache"/query-*.json
    generated=("$fresh"/query-*.json)
    ((${#generated[@]} == 0)) || cp "${generated[@]}" "$cache"/
    say "sqlx: $cache/ rewritten ($(find "$cache" -name 'query-*.json' | wc -l) queries); commit it"
fi
