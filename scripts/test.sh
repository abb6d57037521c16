#!/usr/bin/env bash
# The whole test suite: unit tests, the differential suite against the stock
# git-http-backend, end-to-end tests with real git clients through `serve`,
# FastCGI, Apache, nginx and lighttpd. Needs the packages listed in .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --locked --no-fail-fast -- --test-threads="${TEST_THREADS:-2}" "$@"
