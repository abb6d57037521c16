#!/bin/sh
# Requests/s of `GET /r.git/info/refs?service=git-upload-pack` through nginx
# (wrk -c8 -d10s) for
#   (a) stock git-http-backend via fcgiwrap (a fork/exec per request),
#   (b) git-http-backend-rs via fcgiwrap (CGI mode),
#   (c) git-http-backend-rs as a native FastCGI server,
# plus the native server's peak RSS (VmHWM) during the load.
# Needs (as root): nginx fcgiwrap wrk git; builds the release binary.
# Usage: scripts/bench-fastcgi.sh [seconds]
set -eu
DURATION=${1:-10}
HERE=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$HERE/target}
(cd "$HERE" && cargo build --release --quiet)
BIN=$TARGET/release/git-http-backend-rs
STOCK=$(git --exec-path)/git-http-backend
for tool in nginx fcgiwrap wrk; do
    command -v $tool >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

W=$(mktemp -d /tmp/bench-fastcgi.XXXXXX)
NGINX_PID= FCGIWRAP_PID= NATIVE_PID=
cleanup() {
    # fcgiwrap's preforked children outlive their parent: stop them by pid too.
    KIDS=$( [ -n "$FCGIWRAP_PID" ] && pgrep -P "$FCGIWRAP_PID" || true)
    for p in $NGINX_PID $FCGIWRAP_PID $KIDS $NATIVE_PID; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in $NGINX_PID $FCGIWRAP_PID $KIDS $NATIVE_PID; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT INT TERM

# A repository with a realistic advertisement: 1 branch, 100 tags.
export HOME=$W GIT_CONFIG_NOSYSTEM=1
git init -q --bare -b main "$W/git/r.git"
git init -q -b main "$W/seed"
(cd "$W/seed" && echo hi > f && git add f && git -c user.name=b -c user.email=b@b commit -q -m one \
    && for i in $(seq 1 100); do git tag "v$i"; done && git push -q "$W/git/r.git" main --tags)

fcgiwrap -c 8 -s "unix:$W/fcgiwrap.sock" >/dev/null 2>"$W/fcgiwrap.log" &
FCGIWRAP_PID=$!
GIT_HTTP_BACKEND_LOG=warn "$BIN" --listen "unix:$W/native.sock" >/dev/null 2>"$W/native.log" &
NATIVE_PID=$!

PORT=$((20000 + $$ % 20000))
COMMON='fastcgi_param REQUEST_METHOD $request_method; fastcgi_param QUERY_STRING $query_string;
        fastcgi_param CONTENT_TYPE $content_type; fastcgi_param CONTENT_LENGTH $content_length;
        fastcgi_param PATH_INFO $p; fastcgi_param SERVER_PROTOCOL $server_protocol;
        fastcgi_param GATEWAY_INTERFACE CGI/1.1; fastcgi_param REMOTE_ADDR $remote_addr;
        fastcgi_param GIT_HTTP_EXPORT_ALL ""; fastcgi_param GIT_PROJECT_ROOT '"$W/git"';'
cat >"$W/nginx.conf" <<CONF
daemon off; user root; worker_processes 2; pid $W/nginx.pid; error_log $W/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $W/t1; fastcgi_temp_path $W/t2; proxy_temp_path $W/t3; uwsgi_temp_path $W/t4; scgi_temp_path $W/t5;
  upstream native { server unix:$W/native.sock; keepalive 8; }
  server {
    listen 127.0.0.1:$PORT;
    location ~ ^/stock(?<p>/.*)\$ { fastcgi_pass unix:$W/fcgiwrap.sock; fastcgi_param SCRIPT_FILENAME $STOCK; $COMMON }
    location ~ ^/ours-cgi(?<p>/.*)\$ { fastcgi_pass unix:$W/fcgiwrap.sock; fastcgi_param SCRIPT_FILENAME $BIN; $COMMON }
    location ~ ^/native(?<p>/.*)\$ { fastcgi_pass native; fastcgi_keep_conn on; $COMMON }
  }
}
CONF
nginx -e "$W/nginx-error.log" -p "$W" -c "$W/nginx.conf" >/dev/null 2>&1 &
NGINX_PID=$!
sleep 1

Q='r.git/info/refs?service=git-upload-pack'
for v in stock ours-cgi native; do
    curl -fsS -o "$W/check" "http://127.0.0.1:$PORT/$v/$Q"
    body=$(head -c 30 "$W/check")
    case "$body" in "001e# service=git-upload-pack"*) ;; *) echo "$v: bad reply: $body" >&2; exit 1;; esac
done

rps() {
    out=$(wrk -t2 -c${CONNS:-8} -d"${DURATION}s" "http://127.0.0.1:$PORT/$1/$Q")
    if echo "$out" | grep -q 'Non-2xx'; then echo "$1: errors during the run" >&2; echo "$out" >&2; exit 1; fi
    echo "$out" | awk '/Requests\/sec/ {print $2}'
}
echo "git $(git --version | cut -d' ' -f3), $(nproc) CPUs, wrk -t2 -c${CONNS:-8} -d${DURATION}s, GET /$Q"
printf '(a) stock git-http-backend via fcgiwrap:  %s req/s\n' "$(rps stock)"
printf '(b) git-http-backend-rs via fcgiwrap:     %s req/s\n' "$(rps ours-cgi)"
cpu() { awk '{print $14 + $15, $16 + $17}' /proc/$NATIVE_PID/stat; }
set -- $(cpu)
own0=$1 kids0=$2
printf '(c) git-http-backend-rs native FastCGI:   %s req/s\n' "$(rps native)"
set -- $(cpu)
printf '    native server CPU during (c):         %s ticks in the server, %s in its git children (CLK_TCK %s)\n' \
    $(($1 - own0)) $(($2 - kids0)) "$(getconf CLK_TCK)"
printf '    native server peak RSS (VmHWM):       %s\n' "$(awk '/VmHWM/ {print $2, $3}' /proc/$NATIVE_PID/status)"
