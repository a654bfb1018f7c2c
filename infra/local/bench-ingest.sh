#!/usr/bin/env bash
# `make bench-ingest [ROWS=1000000]`: benchmarks the order-file import on the local
# stack against `psql \copy` of the same file (see tests/src/bin/bench-ingest.rs);
# `make bench-ingest-bomb` (this script with `bomb`): its peak memory refusing hostile
# gzip files.
# Builds with the release profile, as Lambda runs it. Not part of `make test`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/up.sh" >/dev/null
# shellcheck source=infra/local/env.sh
source "$here/env.sh"
cd "$SELLEROPS_REPO_ROOT"

echo "==> cargo build --release --bin bench-ingest"
cargo build --release --locked -p sellerops-tests --bin bench-ingest
if [ "${1:-}" = bomb ]; then
    echo "==> bench-ingest bomb"
    exec target/release/bench-ingest bomb
fi
echo "==> bench-ingest ${ROWS:-1000000}"
exec target/release/bench-ingest "${ROWS:-1000000}"
