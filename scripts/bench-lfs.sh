#!/bin/sh
# Throughput of a Git LFS object through nginx + git-http-backend-rs as a native
# FastCGI server, against plain git moving the same bytes through the same server:
#   upload:   `git push` of a commit with an LFS file (git-lfs PUTs the object)
#             vs `git push` of the same file as a plain git blob (receive-pack);
#   download: `git lfs fetch` of the object vs `git clone` of the plain repository;
#   raw:      curl PUT / GET of the object (no client-side hashing or packing);
# plus the FastCGI server's peak RSS (VmHWM). Preparation (writing the file,
# `git add`) is not timed.
# Needs (as root): nginx git git-lfs curl; builds the release binary.
# Usage: scripts/bench-lfs.sh [MiB]    (default 1024)
set -eu
MIB=${1:-1024}
HERE=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$HERE/target}
# BIN=path/to/binary skips the release build (for trying the script out).
if [ -z "${BIN:-}" ]; then
    (cd "$HERE" && cargo build --release --quiet)
    BIN=$TARGET/release/git-http-backend-rs
fi
for tool in nginx git git-lfs curl; do
    command -v $tool >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

W=$(mktemp -d /tmp/bench-lfs.XXXXXX)
NGINX_PID= NATIVE_PID=
cleanup() {
    for p in $NGINX_PID $NATIVE_PID; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in $NGINX_PID $NATIVE_PID; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT INT TERM

export HOME=$W GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
git config --global user.name bench
git config --global user.email bench@example.org
git config --global init.defaultBranch main
git lfs install --skip-repo >/dev/null
for r in lfs plain raw; do
    git init -q --bare "$W/git/$r.git"
    git -C "$W/git/$r.git" config http.receivepack true
done

GIT_HTTP_BACKEND_LOG=warn GIT_HTTP_LFS=1 "$BIN" --listen "unix:$W/native.sock" >/dev/null 2>"$W/native.log" &
NATIVE_PID=$!
PORT=$((20000 + $$ % 20000))
cat >"$W/nginx.conf" <<CONF
daemon off; user root; worker_processes 2; pid $W/nginx.pid; error_log $W/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $W/t1; fastcgi_temp_path $W/t2; proxy_temp_path $W/t3; uwsgi_temp_path $W/t4; scgi_temp_path $W/t5;
  upstream native { server unix:$W/native.sock; keepalive 8; }
  server {
    listen 127.0.0.1:$PORT;
    client_max_body_size 0;
    location ~ ^/git(?<p>/.*)\$ {
      fastcgi_pass native; fastcgi_keep_conn on;
      fastcgi_request_buffering off; fastcgi_buffering off;
      fastcgi_read_timeout 600s; fastcgi_send_timeout 600s;
      fastcgi_param REQUEST_METHOD \$request_method; fastcgi_param QUERY_STRING \$query_string;
      fastcgi_param CONTENT_TYPE \$content_type; fastcgi_param CONTENT_LENGTH \$content_length;
      fastcgi_param REQUEST_URI \$request_uri; fastcgi_param SCRIPT_NAME /git;
      fastcgi_param PATH_INFO \$p; fastcgi_param SERVER_PROTOCOL \$server_protocol;
      fastcgi_param SERVER_NAME 127.0.0.1; fastcgi_param SERVER_PORT \$server_port;
      fastcgi_param GATEWAY_INTERFACE CGI/1.1; fastcgi_param REMOTE_ADDR \$remote_addr;
      fastcgi_param GIT_HTTP_EXPORT_ALL ""; fastcgi_param GIT_PROJECT_ROOT $W/git;
    }
  }
}
CONF
nginx -e "$W/nginx-error.log" -p "$W" -c "$W/nginx.conf" >/dev/null 2>&1 &
NGINX_PID=$!
sleep 1
URL=http://127.0.0.1:$PORT/git

echo "preparing a $MIB MiB file (not timed)..."
head -c "${MIB}M" /dev/urandom >"$W/big.bin"
OID=$(sha256sum "$W/big.bin" | cut -d' ' -f1)
BYTES=$(stat -c %s "$W/big.bin")
git init -q "$W/wl" && (cd "$W/wl" && git lfs track '*.bin' >/dev/null && cp "$W/big.bin" . \
    && git add . && git commit -q -m lfs)
git init -q "$W/wp" && (cd "$W/wp" && cp "$W/big.bin" . && git -c core.compression=1 add . \
    && git commit -q -m plain)

now() { date +%s.%N; }
mbs() { awk -v b="$BYTES" -v t="$1" 'BEGIN { printf "%6.1f s  %7.1f MB/s", t, b / t / 1e6 }'; }
timed() { t0=$(now); "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }; t1=$(now); awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'; }

echo "git $(git --version | cut -d' ' -f3), $(git lfs version | cut -d' ' -f1), $(nproc) CPUs, $MIB MiB object"
T=$(timed git -C "$W/wl" push -q "$URL/lfs.git" main)
[ "$(stat -c %s "$W/git/lfs.git/lfs/objects/$(echo $OID | cut -c1-2)/$(echo $OID | cut -c3-4)/$OID")" = "$BYTES" ]
printf 'upload   git lfs (push, PUT):      %s\n' "$(mbs "$T")"
T=$(timed git -C "$W/wp" push -q "$URL/plain.git" main)
printf 'upload   plain git push:           %s\n' "$(mbs "$T")"
T=$(timed curl -fsS -T "$W/big.bin" -H 'Content-Type: application/octet-stream' \
    -o /dev/null "$URL/raw.git/info/lfs/objects/$OID")
printf 'upload   raw curl PUT:             %s\n' "$(mbs "$T")"

GIT_LFS_SKIP_SMUDGE=1 git clone -q "$URL/lfs.git" "$W/cl"
T=$(timed git -C "$W/cl" lfs fetch)
[ -f "$W/cl/.git/lfs/objects/$(echo $OID | cut -c1-2)/$(echo $OID | cut -c3-4)/$OID" ]
printf 'download git lfs fetch (GET):      %s\n' "$(mbs "$T")"
T=$(timed git clone -q "$URL/plain.git" "$W/cp")
printf 'download plain git clone:          %s\n' "$(mbs "$T")"
T=$(timed curl -fsS -o /dev/null "$URL/raw.git/info/lfs/objects/$OID")
printf 'download raw curl GET:             %s\n' "$(mbs "$T")"
printf 'native FastCGI server peak RSS (VmHWM): %s\n' "$(awk '/VmHWM/ {print $2, $3}' /proc/$NATIVE_PID/status)"
echo "(the machine may be shared: compare the rows of one run, not runs)"
