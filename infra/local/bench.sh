#!/usr/bin/env bash
# `make bench`: every benchmark on the local stack, then one table of their headline
# figures (`tests/src/bin/bench-table.rs`): figure, value, the anchor measured in the same
# run, ratio, target, and the load average when it was taken.
#
# Builds everything once with the release profile, as Lambda runs it, then runs the
# benchmarks one after another (each alone on the machine), keeping each one's whole
# output in target/bench/<name>.log. A benchmark that fails is named at the end and
# the others still run. Not part of `make test`.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/up.sh" >/dev/null || exit 1
# shellcheck source=infra/local/env.sh
source "$here/env.sh"
cd "$SELLEROPS_REPO_ROOT" || exit 1

echo "==> cargo build --release (the functions and the benchmarks)"
functions=(marketplace-webhook ingest-orders-file sync-marketplace accept-orders
    fetch-shipping-label conversation-auto-reply evaluate-pricing-rules)
selection=(-p sellerops-tests)
for bin in coldstart-hello bench-coldstart bench-replies bench-webhooks bench-ingest bench-pricing \
    bench-table; do
    selection+=(--bin "$bin")
done
for function in "${functions[@]}"; do
    selection+=(-p "$function" --bin "$function")
done
cargo build --release --locked "${selection[@]}" || exit 1

# The build leaves the one-minute load average near the number of cores for a minute or
# two; the first benchmarks would share the machine with that tail. Wait (at most three
# minutes) until it falls below 1, and say what it was.
for _ in $(seq 36); do
    read -r load _ < /proc/loadavg
    awk -v load="$load" 'BEGIN { exit !(load < 1.0) }' && break
    sleep 5
done
echo "==> load average before the benchmarks: $(cut -d' ' -f1-3 /proc/loadavg)"

mkdir -p target/bench
rm -f target/bench/*.log
failed=()
run() {
    local name="$1"
    shift
    echo "==> $name"
    if ! "$@" 2>&1 | tee "target/bench/$name.log"; then
        failed+=("$name")
    fi
}
run coldstart make -s bench-coldstart
run replies make -s bench-replies
run webhooks make -s bench-webhooks
run ingest make -s bench-ingest
run pricing make -s bench-pricing

echo
echo "==> every figure (whole outputs in target/bench/)"
target/release/bench-table target/bench/*.log || failed+=("table")
if [ "${#failed[@]}" -gt 0 ]; then
    echo "failed: ${failed[*]}" >&2
    exit 1
fi
