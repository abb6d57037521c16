#!/usr/bin/env bash
# Whole-process time of one CGI request, stock git-http-backend vs ours.
#
# Builds the release binary, creates a bare repository (200 commits, 50 tags),
# then runs `GET /repo.git/info/refs?service=git-upload-pack` as a web server would
# (empty environment plus the CGI variables) N times against each program,
# alternating, and prints both medians and the ratio ours/stock.
#
# Usage: scripts/bench-cgi.sh [N]   (default 20; CARGO_TARGET_DIR is honoured)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
OURS=$TARGET/release/git-http-backend-rs
STOCK=$(git --exec-path)/git-http-backend
[ -x "$STOCK" ] || { echo "stock git-http-backend not found at $STOCK" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
git init -q --bare -b main "$TMP/repo.git"
{
    for i in $(seq 1 200); do
        printf 'commit refs/heads/main\nmark :%d\ncommitter C <c@example.com> %d +0000\ndata <<EOM\nc%d\nEOM\n' "$i" $((1700000000 + i)) "$i"
        printf 'M 644 inline f%d.txt\ndata <<EOM\n%d\nEOM\n\n' $((i % 20)) "$i"
    done
    for i in $(seq 1 50); do
        printf 'reset refs/tags/t%d\nfrom :%d\n\n' "$i" $((i * 4))
    done
} | git -C "$TMP/repo.git" fast-import --quiet
git -C "$TMP/repo.git" repack -q -a -d

request() {
    env -i PATH="$PATH" GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 \
        REQUEST_METHOD=GET GIT_PROJECT_ROOT="$TMP" PATH_INFO=/repo.git/info/refs \
        QUERY_STRING=service=git-upload-pack GIT_HTTP_EXPORT_ALL=1 REMOTE_ADDR=127.0.0.1 \
        GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null "$1" </dev/null
}

# Sanity: both give the same reply.
if ! cmp -s <(request "$STOCK") <(request "$OURS"); then
    echo "warning: stock and ours replied differently" >&2
fi

now() { date +%s%N; }
: >"$TMP/stock.times"
: >"$TMP/ours.times"
for _ in $(seq 1 "$N"); do
    for which in stock ours; do
        prog=$STOCK
        [ "$which" = ours ] && prog=$OURS
        t0=$(now)
        request "$prog" >/dev/null 2>&1
        t1=$(now)
        echo $(((t1 - t0) / 1000)) >>"$TMP/$which.times"
    done
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
ms=$(median "$TMP/stock.times")
mo=$(median "$TMP/ours.times")
echo "requests: $N each, alternating; GET info/refs?service=git-upload-pack, 200 commits, 50 tags"
printf 'stock median: %d us\n' "$ms"
printf 'ours  median: %d us\n' "$mo"
awk -v s="$ms" -v o="$mo" 'BEGIN {printf "ratio ours/stock: %.2f\n", o / s}'
