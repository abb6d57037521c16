#!/usr/bin/env bash
# Builds the Debian package: target/debian/git-http-backend-rs_<version>_<arch>.deb.
#
#   scripts/build-deb.sh                  # release build, then the package
#   scripts/build-deb.sh --binary PATH    # package PATH instead (the tests use the
#                                         # debug build, to skip a release build)
#   scripts/build-deb.sh --output DIR     # write the .deb into DIR
#
# Needs cargo-deb (`cargo install cargo-deb --locked`; .ci/run installs it).
# The man pages come from the command-line definition (`git-http-backend-rs
# gen-man`), and the shipped systemd units get the packaged binary's path
# (/usr/bin instead of /usr/local/bin, where a hand install puts it).
set -euo pipefail
cd "$(dirname "$0")/.."

binary=""
output=""
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    *) echo "fatal: $1: unknown argument (usage: $0 [--binary PATH] [--output DIR])" >&2; exit 2 ;;
  esac
done
if [ -z "$binary" ]; then
  cargo build --release --locked
  binary=target/release/git-http-backend-rs
fi
command -v cargo-deb >/dev/null || {
  echo "fatal: cargo-deb: not installed (cargo install cargo-deb --locked)" >&2
  exit 1
}

staging=target/deb-staging
rm -rf "$staging"
mkdir -p "$staging/systemd" "$staging/man"
cp "$binary" "$staging/git-http-backend-rs"
"$binary" gen-man "$staging/man" >/dev/null
gzip -9n "$staging"/man/*.1
for unit in systemd/*; do
  sed 's|/usr/local/bin/git-http-backend-rs|/usr/bin/git-http-backend-rs|g' "$unit" \
    >"$staging/systemd/$(basename "$unit")"
done

args=(--no-build --no-strip)
[ -n "$output" ] && args+=(--output "$output")
cargo deb "${args[@]}"
