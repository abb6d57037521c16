#!/usr/bin/env bash
# The whole test suite: unit tests, the differential suite against the stock
# git-http-backend, end-to-end tests with real git clients through `serve`,
# FastCGI, Apache, nginx and lighttpd; then the Windows build's unit tests under
# wine (scripts/wine-setup.sh prepares the prefix). Needs the packages listed in
# .ci/run and the rustup target x86_64-pc-windows-gnu.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
cargo test --locked --no-fail-fast -- --test-threads="${TEST_THREADS:-2}" "$@" || status=$?

echo "== Windows unit tests under wine"
WINEPREFIX="$(./scripts/wine-setup.sh)"
export WINEPREFIX WINEDEBUG=-all CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
cargo test --locked --no-fail-fast --target x86_64-pc-windows-gnu --lib -- --test-threads="${TEST_THREADS:-2}" "$@" || status=$?
wineserver -k 2>/dev/null || true
exit "$status"
