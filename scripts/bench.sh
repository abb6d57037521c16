#!/bin/sh
# The benchmark of issue 14: builds the release binary, makes its repositories (a
# large generated history, a 10,000-ref repository, a small one; kept in
# $BENCH_WORK between runs), starts nginx + fcgiwrap + our FastCGI daemons on
# 127.0.0.1 and measures stock git-http-backend and ours interleaved in the same
# run, printing medians and ratios (details and settings: scripts/bench.py).
# Needs (as root): nginx fcgiwrap wrk git python3.
# Usage: scripts/bench.sh            (BENCH_LARGE_MB=300 by default)
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$HERE/target}
for tool in nginx fcgiwrap wrk git python3; do
    command -v $tool >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
(cd "$HERE" && cargo build --release --quiet)
BENCH_BIN=$TARGET/release/git-http-backend-rs exec python3 "$HERE/scripts/bench.py" "$@"
