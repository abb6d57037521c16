#!/bin/bash
# Soak: the load test of tests/load.rs (nginx + native FastCGI, concurrent clones
# and pushes to distinct branches of one repository) for many rounds, printing the
# same figures: operations, failures by cause, the daemon's idle, peak and final
# resident memory. Not run by CI.
#
#   scripts/soak.sh [ROUNDS] [CLONES] [PUSHES]     (defaults: 30 rounds, 100, 20)
#
# Needs nginx and git. Runs on 127.0.0.1 only; bounded by ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."
export LOAD_ROUNDS="${1:-30}" LOAD_CLONES="${2:-100}" LOAD_PUSHES="${3:-20}"
cargo test --test load -- --nocapture --test-threads=1 2>&1 | grep -E '^LOAD|panicked|test result'
