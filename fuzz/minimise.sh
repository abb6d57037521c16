#!/bin/bash
# Folds what a fuzz run found into the committed corpus, kept small:
#   fuzz/minimise.sh TARGET FOUND_DIR
# `cargo fuzz cmin` first (features), then a set cover over coverage edges only
# (no hit counters, no value profile), which keeps a dozen or so files per target.
# Hand-written seeds and regression-* files in corpus/TARGET are kept as they are.
set -euo pipefail
cd "$(dirname "$0")"
t=$1 found=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/all" "$work/cover"
cp "$found"/* corpus/"$t"/* "$work/all/" 2>/dev/null || true
cargo +nightly fuzz cmin -O "$t" "$work/all" >/dev/null 2>&1
bin=target/x86_64-unknown-linux-gnu/release/$t
"$bin" -merge=1 -use_counters=0 -use_value_profile=0 -set_cover_merge=1 \
  "$work/cover" "$work/all" 2>&1 | grep -E 'MERGE-OUTER: [0-9]+ new' || true
# Drop the old machine-found files (named by their hash), keep named seeds.
find corpus/"$t" -regextype posix-extended -regex '.*/[0-9a-f]{40}' -delete
cp "$work/cover"/* corpus/"$t"/
echo "$t: $(ls corpus/"$t" | wc -l) files, $(du -sh corpus/"$t" | cut -f1)"
"$bin" -runs=0 corpus/"$t" 2>&1 | grep INITED
