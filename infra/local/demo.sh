#!/usr/bin/env bash
# The first command (`make demo`): runs sellerops end to end on this machine. Until the
# functions exist it brings the local stack up and reports it ready.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/up.sh"
