#!/usr/bin/env bash
# The test command (`make test`): brings the local stack up, runs every workspace test
# against it, validates the SAM template, runs the end-to-end test (tests/e2e.sh: each
# function invoked through cargo lambda watch, effects checked in the database), then the
# reliability suite (tests/reliability.sh: fault scenarios, nothing lost or doubled).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/up.sh"
# shellcheck source=infra/local/env.sh
source "$here/env.sh"
cd "$SELLEROPS_REPO_ROOT"

echo "==> validating infra/template.yaml with cfn-lint"
"$SELLEROPS_VENV/bin/cfn-lint" infra/template.yaml

echo "==> cargo test (workspace)"
cargo test --workspace --locked

echo "==> end to end: the functions under cargo lambda watch, invoked with the event fixtures"
bash tests/e2e.sh

echo "==> reliability: fault scenarios, counted for anything lost or doubled"
bash tests/reliability.sh
