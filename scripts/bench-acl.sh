#!/usr/bin/env bash
# Cost of one ACL decision with a 1,000-rule gitolite.conf.
#
# 1. In-process (release build, tests/acl_bench.rs, ignored by default): the parse
#    of the file (what a CGI request pays, as it reads the file per request), one
#    decision on a pre-parsed Acl (what a daemon pays), and load_cached's check.
# 2. Whole process, CGI conditions: `git-http-backend-rs access` (start, parse,
#    decide) against `gitolite access -q` on the same file (the reference: what
#    gitolite pays per check), with hyperfine; prints the ratio ours/gitolite.
#
# Usage: scripts/bench-acl.sh   (needs gitolite3 and hyperfine; CARGO_TARGET_DIR honoured)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# gitolite home first: its setup writes the default conf, replaced below.
GLHOME="$TMP/home"
gl() { HOME="$GLHOME" gitolite "$@"; }
mkdir -p "$GLHOME"
gl setup -a admin >/dev/null 2>&1
CONF="$GLHOME/.gitolite/conf/gitolite.conf"

# 20 teams of 10 users, 100 repositories with 10 rules each (1,000 rule lines),
# then a pattern block: the late repositories and users are the worst case.
{
    for t in $(seq 0 19); do
        printf '@team%d =' "$t"
        for u in $(seq 0 9); do printf ' u%d_%d' "$t" "$u"; done
        printf '\n'
    done
    for r in $(seq 0 99); do
        t=$((r % 20)); t1=$(((r + 1) % 20)); t2=$(((r + 2) % 20))
        cat <<EOC
repo proj/repo$r
    R                         = @team$t
    RW  dev/                  = @team$t
    RW+ feature/              = @team$t1
    -   main                  = u${t}_3
    RW  main                  = @team$t
    RWC refs/tags/v[0-9]      = u${t}_0
    RW+ personal/USER/        = @all
    RW  release/[0-9]+        = @team$t2
    -   refs/tags/            = @all
    RW+D tmp/                 = u${t}_1
EOC
    done
    printf 'repo proj/.*\n    R = @all\n'
} > "$CONF"
echo "== $(grep -cE '^ +(R|RW|-)' "$CONF") rules in $CONF"

echo "== in-process (release build of tests/acl_bench.rs)"
ACL_BENCH_FILE="$CONF" cargo test --release --quiet --test acl_bench -- --ignored --nocapture 2>&1 \
    | grep -E '^(parse|decide|cached|  )'

echo "== whole process: one decision as a CGI would pay it (start, parse, decide)"
cargo build --release --quiet
OURS=$TARGET/release/git-http-backend-rs
gl compile >/dev/null 2>&1
# the same question to both: the last repository, a user of team 1, a release branch.
Q=(proj/repo99 u1_5 W refs/heads/release/7)
"$OURS" access --acl "$CONF" "${Q[@]}"
gl access "${Q[@]}" || true
HOME="$GLHOME" hyperfine -N --warmup 5 --runs 100 --export-json "$TMP/h.json" \
    "$OURS access --acl $CONF ${Q[*]}" \
    "gitolite access -q ${Q[*]}" -i >/dev/null
python3 - "$TMP/h.json" <<'EOP'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
ours, gl = r[0]["median"], r[1]["median"]
print(f"ours access:     median {ours*1e3:.2f} ms")
print(f"gitolite access: median {gl*1e3:.2f} ms")
print(f"ratio ours/gitolite: {ours/gl:.3f}")
EOP
