#!/usr/bin/env bash
# Builds the Debian package with dpkg-deb from a staged tree:
# target/debian/git-http-backend-rs_<version>_<arch>.deb.
#
#   scripts/build-deb.sh                  # release build, then the package
#   scripts/build-deb.sh --binary PATH    # package PATH instead (the tests use the
#                                         # debug build, to skip a release build)
#   scripts/build-deb.sh --output DIR     # write the .deb into DIR
#   scripts/build-deb.sh --uncompressed   # no xz (seconds instead of minutes for
#                                         # a 100 MB debug binary: the tests)
#
# Contents: the binary in /usr/bin; the systemd socket and service units in
# /lib/systemd/system (with the packaged binary's path, /usr/bin, where a hand
# install uses /usr/local/bin; not enabled: create the `git` account, then
# `systemctl enable --now git-http-backend-rs.socket`); man pages generated from
# the command-line definition (`git-http-backend-rs gen-man`); README, docs/ and
# the example configs under /usr/share/doc/git-http-backend-rs/.
#
# Why dpkg-deb and not cargo-deb: `cargo install cargo-deb --locked` compiles for
# over 4 minutes on CI's 2 cores before every fresh run, and the staging below
# (generated man pages, rewritten units) is needed either way; dpkg-deb comes with
# dpkg on every Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=""
output=target/debian
compress=(-Zxz)
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    --uncompressed) compress=(-Znone); shift ;;
    *) echo "fatal: $1: unknown argument (usage: $0 [--binary PATH] [--output DIR])" >&2; exit 2 ;;
  esac
done
if [ -z "$binary" ]; then
  cargo build --release --locked
  binary=target/release/git-http-backend-rs
fi

name=git-http-backend-rs
version=$("$binary" --version | head -n1 | cut -d' ' -f2)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d "${TMPDIR:-/tmp}/$name-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/root
doc=$root/usr/share/doc/$name

install -D -m 0755 "$binary" "$root/usr/bin/$name"
install -d "$root/lib/systemd/system" "$root/usr/share/man/man1" \
  "$doc/examples/nginx" "$doc/examples/apache" "$doc/examples/lighttpd" "$doc/examples/systemd"
for unit in systemd/*; do
  sed "s|/usr/local/bin/$name|/usr/bin/$name|g" "$unit" >"$stage/$(basename "$unit")"
done
install -m 0644 "$stage/$name.socket" "$stage/$name.service" "$root/lib/systemd/system/"
install -m 0644 "$stage/$name-spawn-fcgi.service" "$doc/examples/systemd/"
"$binary" gen-man "$root/usr/share/man/man1" >/dev/null
gzip -9n "$root"/usr/share/man/man1/*.1
chmod 0644 "$root"/usr/share/man/man1/*.gz
install -m 0644 README.md "$doc/"
install -m 0644 docs/*.md "$doc/"
install -m 0644 nginx/*.conf "$doc/examples/nginx/"
install -m 0644 apache/*.conf "$doc/examples/apache/"
install -m 0644 lighttpd/*.conf "$doc/examples/lighttpd/"

install -d "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: $arch
Maintainer: git-http-backend-rs developers <git-http-backend-rs@localhost>
Section: vcs
Priority: optional
Depends: git
Recommends: nginx | apache2 | lighttpd
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Description: drop-in replacement for git's git-http-backend
 One binary that serves git repositories over HTTP: as a CGI under Apache,
 nginx + fcgiwrap or lighttpd; as a resident FastCGI server (systemd socket
 activation, spawn-fcgi, mod_fcgid, or --listen); or as a plain-HTTP server
 for a quick start (serve DIR). Replies are byte-compatible with git's own
 program.
CONTROL

mkdir -p "$output"
deb="$output/${name}_${version}_${arch}.deb"
dpkg-deb "${compress[@]}" --build --root-owner-group "$root" "$deb" >/dev/null
echo "$deb"
