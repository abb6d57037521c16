#!/usr/bin/env python3
"""The benchmark of issue 14 (run through scripts/bench.sh, which builds release).

Stock git-http-backend and ours are measured interleaved in the same run (round
robin), medians and ratios printed, and a markdown table written to
$BENCH_OUT (default bench-results.md). Groups:
 1. CGI info/refs whole-process time (v0, v2) vs stock and vs a bare
    `git upload-pack --advertise-refs`;
 2. requests/s under wrk -c8 through nginx: stock via fcgiwrap, ours via
    fcgiwrap, ours native FastCGI; info/refs v0 and v2 ls-refs; small and
    10,000-ref repositories;
 3. large clone, no-op fetch, fetch with thousands of haves; floor:
    `git clone --no-local` / file:// fetch;
 4. push of 100 commits and of a 200 MB blob;
 5. 16 identical clones started together, native FastCGI with and without the
    pack cache: wall time and server CPU, against one clone;
 6. peak RSS of each backend during 3, 4 and 5.

Settings (environment): BENCH_LARGE_MB (300), BENCH_WORK (repositories are kept
there between runs; default /tmp/ghb-bench), BENCH_WRK_SECONDS (5), BENCH_ROUNDS
(3), BENCH_CGI_ROUNDS (60), BENCH_OUT, BENCH_BIN (our release binary).
"""

import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

BIN = os.environ["BENCH_BIN"]
GIT = shutil.which("git")
EXEC_PATH = subprocess.check_output([GIT, "--exec-path"], text=True).strip()
STOCK = os.path.join(EXEC_PATH, "git-http-backend")
WORK = os.environ.get("BENCH_WORK", "/tmp/ghb-bench")
LARGE_MB = int(os.environ.get("BENCH_LARGE_MB", "300"))
WRK_S = int(os.environ.get("BENCH_WRK_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CGI_ROUNDS = int(os.environ.get("BENCH_CGI_ROUNDS", "60"))
OUT = os.environ.get("BENCH_OUT", "bench-results.md")
PATH = os.path.dirname(GIT) + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
BASE_ENV = {
    "PATH": PATH,
    "HOME": os.path.join(WORK, "home"),
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "B",
    "GIT_AUTHOR_EMAIL": "b@example.com",
    "GIT_COMMITTER_NAME": "B",
    "GIT_COMMITTER_EMAIL": "b@example.com",
    "GIT_TERMINAL_PROMPT": "0",
}
ROOT = os.path.join(WORK, "git")  # the project root the backends serve
RUN = os.path.join(WORK, "run")  # sockets, nginx files, clones of this run
procs = []
table = []  # (group, measurement, value, note)


def log(*a):
    print(*a, flush=True)


def git(*args, cwd=None, env=None, input=None, check=True):
    e = dict(BASE_ENV)
    if env:
        e.update(env)
    r = subprocess.run([GIT, *args], cwd=cwd, env=e, input=input,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        raise SystemExit(f"git {args}: {r.stderr.decode(errors='replace')}")
    return r.stdout.decode(errors="replace").strip()


def row(group, what, value, note=""):
    table.append((group, what, value, note))
    log(f"  {what}: {value} {note}")


def median(xs):
    return statistics.median(xs) if xs else float("nan")


# ---------------------------------------------------------------- repositories

def gen_large(path):
    """A history of ~LARGE_MB MB of incompressible blobs (fast-import)."""
    if os.path.exists(os.path.join(path, "done")):
        return
    shutil.rmtree(path, ignore_errors=True)
    git("init", "-q", "--bare", "-b", "main", path)
    blob = 100 * 1024
    commits = LARGE_MB * 1024 * 1024 // blob
    p = subprocess.Popen([GIT, "fast-import", "--quiet"], cwd=path, env=BASE_ENV,
                         stdin=subprocess.PIPE)
    rnd = random.Random(14)
    w = p.stdin
    for i in range(commits):
        data = rnd.randbytes(blob)
        w.write(b"blob\nmark :%d\ndata %d\n" % (2 * i + 1, len(data)) + data + b"\n")
        msg = b"commit %d" % i
        w.write(b"commit refs/heads/main\nmark :%d\n" % (2 * i + 2))
        w.write(b"committer B <b@example.com> %d +0000\n" % (1600000000 + i))
        w.write(b"data %d\n%s\n" % (len(msg), msg))
        if i:
            w.write(b"from :%d\n" % (2 * i))
        w.write(b"M 100644 :%d d%03d/f%d\n" % (2 * i + 1, i % 100, i))
        if i % 500 == 499:
            w.write(b"reset refs/tags/r%d\nfrom :%d\n\n" % (i, 2 * i + 2))
    w.close()
    if p.wait():
        raise SystemExit("fast-import failed")
    git("config", "http.receivepack", "true", cwd=path)
    open(os.path.join(path, "done"), "w").close()


def gen_small(path):
    if os.path.exists(os.path.join(path, "done")):
        return
    shutil.rmtree(path, ignore_errors=True)
    git("init", "-q", "--bare", "-b", "main", path)
    tree = git("mktree", cwd=path, input=b"")
    c = git("commit-tree", tree, "-m", "one", cwd=path)
    git("update-ref", "refs/heads/main", c, cwd=path)
    lines = "".join(f"create refs/tags/v{i} {c}\n" for i in range(100))
    git("update-ref", "--stdin", cwd=path, input=lines.encode())
    git("pack-refs", "--all", cwd=path)
    git("config", "http.receivepack", "true", cwd=path)
    open(os.path.join(path, "done"), "w").close()


def gen_refs(path):
    if os.path.exists(os.path.join(path, "done")):
        return
    shutil.rmtree(path, ignore_errors=True)
    git("init", "-q", "--bare", "-b", "main", path)
    tree = git("mktree", cwd=path, input=b"")
    c = git("commit-tree", tree, "-m", "one", cwd=path)
    git("update-ref", "refs/heads/main", c, cwd=path)
    t = git("mktag", cwd=path, input=(
        f"object {c}\ntype commit\ntag t\ntagger B <b@example.com> 1600000000 +0000\n\nt\n").encode())
    lines = []
    for i in range(10_000):
        if i % 2:
            lines.append(f"create refs/tags/t{i:05} {t}\n")
        else:
            lines.append(f"create refs/heads/b{i:05} {c}\n")
    git("update-ref", "--stdin", cwd=path, input="".join(lines).encode())
    git("pack-refs", "--all", cwd=path)
    git("config", "http.receivepack", "true", cwd=path)
    open(os.path.join(path, "done"), "w").close()


# ---------------------------------------------------------------- servers

def start(args, env=None, **kw):
    e = dict(BASE_ENV)
    if env:
        e.update(env)
    p = subprocess.Popen(args, env=e, stdin=subprocess.DEVNULL, start_new_session=True, **kw)
    procs.append(p)
    return p


def stop_all():
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except OSError:
            pass
    time.sleep(0.5)
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass


def wait_socket(path):
    for _ in range(200):
        if os.path.exists(path):
            return
        time.sleep(0.05)
    raise SystemExit(f"no socket {path}")


NGINX_CONF = """daemon off; user root; worker_processes 2; pid {run}/nginx.pid;
error_log {run}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_max_body_size 0;
  client_body_temp_path {run}/t1; fastcgi_temp_path {run}/t2; proxy_temp_path {run}/t3;
  uwsgi_temp_path {run}/t4; scgi_temp_path {run}/t5;
  fastcgi_buffering off; fastcgi_request_buffering off; fastcgi_read_timeout 600s;
  upstream native {{ server unix:{run}/native.sock; keepalive 8; }}
  upstream cache {{ server unix:{run}/cache.sock; keepalive 8; }}
  server {{
    listen 127.0.0.1:{port};
    location ~ ^/stock(?<p>/.*)$ {{ fastcgi_pass unix:{run}/fcgiwrap.sock;
        fastcgi_param SCRIPT_FILENAME {stock}; {common} }}
    location ~ ^/ours-cgi(?<p>/.*)$ {{ fastcgi_pass unix:{run}/fcgiwrap.sock;
        fastcgi_param SCRIPT_FILENAME {bin}; {common} }}
    location ~ ^/native(?<p>/.*)$ {{ fastcgi_pass native; fastcgi_keep_conn on; {common} }}
    location ~ ^/cache(?<p>/.*)$ {{ fastcgi_pass cache; fastcgi_keep_conn on; {common} }}
  }}
}}
"""
COMMON = """fastcgi_param REQUEST_METHOD $request_method; fastcgi_param QUERY_STRING $query_string;
        fastcgi_param CONTENT_TYPE $content_type; fastcgi_param CONTENT_LENGTH $content_length;
        fastcgi_param PATH_INFO $p; fastcgi_param SERVER_PROTOCOL $server_protocol;
        fastcgi_param GATEWAY_INTERFACE CGI/1.1; fastcgi_param REMOTE_ADDR $remote_addr;
        fastcgi_param REMOTE_USER bench; fastcgi_param PATH {path};
        fastcgi_param GIT_HTTP_EXPORT_ALL ""; fastcgi_param GIT_PROJECT_ROOT {root};"""


def start_servers():
    shutil.rmtree(RUN, ignore_errors=True)
    os.makedirs(RUN)
    start(["fcgiwrap", "-c", "8", "-s", f"unix:{RUN}/fcgiwrap.sock"],
          stdout=subprocess.DEVNULL, stderr=open(f"{RUN}/fcgiwrap.log", "w"))
    # Group 5 starts 16 clones of one repository at once: the limiter's defaults
    # (on 2 CPUs, 4 git children per repository, 30 s in the queue) would turn the
    # storm into waves, or 503s, and measure the limiter instead of the cache.
    limits = {"GIT_HTTP_MAX_GIT": "64", "GIT_HTTP_MAX_GIT_PER_REPO": "32"}
    native = start([BIN, "--listen", f"unix:{RUN}/native.sock"],
                   env={"GIT_HTTP_BACKEND_LOG": "warn", **limits},
                   stdout=subprocess.DEVNULL, stderr=open(f"{RUN}/native.log", "w"))
    cache = start([BIN, "--listen", f"unix:{RUN}/cache.sock"],
                  env={"GIT_HTTP_BACKEND_LOG": "warn", **limits,
                       "GIT_HTTP_PACK_CACHE": f"{RUN}/pack-cache",
                       "GIT_HTTP_PACK_CACHE_MAX_BYTES": "4g"},
                  stdout=subprocess.DEVNULL, stderr=open(f"{RUN}/cache.log", "w"))
    port = 20000 + os.getpid() % 20000
    conf = NGINX_CONF.format(run=RUN, port=port, stock=STOCK, bin=BIN,
                             common=COMMON.format(path=PATH, root=ROOT))
    open(f"{RUN}/nginx.conf", "w").write(conf)
    start(["nginx", "-e", f"{RUN}/nginx-error.log", "-p", RUN, "-c", f"{RUN}/nginx.conf"],
          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for s in ["fcgiwrap.sock", "native.sock", "cache.sock"]:
        wait_socket(f"{RUN}/{s}")
    time.sleep(1)
    return port, native, cache


# ---------------------------------------------------------------- RSS sampling

class RssSampler:
    """Polls /proc for our binary and stock's (by /proc/PID/exe); keeps the peak
    VmRSS of each, in KiB, since the last reset()."""

    def __init__(self):
        self.peak = {}
        self.stop = False
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def reset(self):
        with self.lock:
            self.peak = {}

    def run(self):
        bin_real = os.path.realpath(BIN)
        stock_real = os.path.realpath(STOCK)
        while not self.stop:
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    exe = os.readlink(f"/proc/{pid}/exe")
                    if exe == bin_real:
                        who = "ours"
                    elif exe == stock_real:
                        who = "stock"
                    else:
                        continue
                    status = open(f"/proc/{pid}/status").read()
                    m = re.search(r"VmRSS:\s+(\d+)", status)
                    if not m:
                        continue
                    rss = int(m.group(1))
                    with self.lock:
                        self.peak[who] = max(self.peak.get(who, 0), rss)
                except OSError:
                    continue
            time.sleep(0.05)


def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in f[11:15])  # utime stime cutime cstime


# ---------------------------------------------------------------- groups

def cgi_time(label, program, env, args=()):
    e = {"PATH": PATH, "GIT_PROJECT_ROOT": ROOT, "GIT_HTTP_EXPORT_ALL": "1",
         "REQUEST_METHOD": "GET", "GATEWAY_INTERFACE": "CGI/1.1"}
    e.update(env)
    devnull = os.open(os.devnull, os.O_WRONLY)

    def once():
        t = time.perf_counter()
        pid = os.posix_spawn(program, [program, *args], e,
                             file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
        os.waitpid(pid, 0)
        return (time.perf_counter() - t) * 1000
    return once


def group1():
    log("1. CGI info/refs, whole process (ms, median)")
    for repo in ["small.git", "refs10k.git"]:
        for proto in ["v0", "v2"]:
            env = {"PATH_INFO": f"/{repo}/info/refs", "QUERY_STRING": "service=git-upload-pack"}
            if proto == "v2":
                env["GIT_PROTOCOL"] = "version=2"
            floor_env = {"GIT_PROTOCOL": "version=2"} if proto == "v2" else {}
            cmds = {
                "stock": cgi_time("stock", STOCK, env),
                "ours": cgi_time("ours", BIN, env),
                "floor": cgi_time("floor", GIT, floor_env,
                                  ["upload-pack", "--advertise-refs", os.path.join(ROOT, repo)]),
            }
            for c in cmds.values():
                c()  # warm up (ours learns the git binary once)
            times = {k: [] for k in cmds}
            for _ in range(CGI_ROUNDS):
                for k, c in cmds.items():
                    times[k].append(c())
            m = {k: median(v) for k, v in times.items()}
            row("1", f"CGI info/refs {repo} {proto}: stock / ours / upload-pack floor (ms)",
                f"{m['stock']:.2f} / {m['ours']:.2f} / {m['floor']:.2f}",
                f"ours = {m['ours'] / m['stock']:.2f} x stock, {m['ours'] / m['floor']:.2f} x floor")


LSREFS_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-git-upload-pack-request"
wrk.headers["Git-Protocol"] = "version=2"
wrk.body = "0014command=ls-refs\\n0015agent=git/2.47.3\\n00010009peel\\n000csymrefs\\n0000"
"""


def wrk(url, lua=None):
    args = ["wrk", "-t2", "-c8", f"-d{WRK_S}s"]
    if lua:
        args += ["-s", lua]
    out = subprocess.run(args + [url], stdout=subprocess.PIPE, text=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        log(out)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(m.group(1)) if m else 0.0


def group2(port):
    log("2. requests/s through nginx, wrk -c8 (median of rounds)")
    lua = f"{RUN}/lsrefs.lua"
    open(lua, "w").write(LSREFS_LUA)
    base = f"http://127.0.0.1:{port}"
    for repo in ["small.git", "refs10k.git"]:
        for kind in ["info/refs", "ls-refs"]:
            res = {t: [] for t in ["stock", "ours-cgi", "native"]}
            for _ in range(ROUNDS):
                for t in res:
                    if kind == "info/refs":
                        res[t].append(wrk(f"{base}/{t}/{repo}/info/refs?service=git-upload-pack"))
                    else:
                        res[t].append(wrk(f"{base}/{t}/{repo}/git-upload-pack", lua))
            m = {k: median(v) for k, v in res.items()}
            row("2", f"{kind} {repo}: stock-fcgiwrap / ours-fcgiwrap / ours-native (req/s)",
                f"{m['stock']:.0f} / {m['ours-cgi']:.0f} / {m['native']:.0f}",
                f"native = {m['native'] / max(m['stock'], 1):.1f} x stock, "
                f"ours-fcgiwrap = {m['ours-cgi'] / max(m['stock'], 1):.1f} x")


def timed(args, cwd=None, env=None):
    e = dict(BASE_ENV)
    if env:
        e.update(env)
    for attempt in range(2):
        t = time.perf_counter()
        r = subprocess.run(args, cwd=cwd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t
        if r.returncode == 0:
            break
        log(f"  (failed, retrying once: {r.stderr.decode(errors='replace').strip()[:200]})")
        if args[1] == "clone":
            shutil.rmtree(args[-1], ignore_errors=True)
    if r.returncode:
        raise SystemExit(f"{args}: {r.stderr.decode(errors='replace')}")
    return dt


def group3(port, rss):
    log("3. large clone, no-op fetch, fetch with thousands of haves (s, median)")
    base = f"http://127.0.0.1:{port}"
    large = os.path.join(ROOT, "large.git")
    targets = {"stock": f"{base}/stock/large.git", "ours-cgi": f"{base}/ours-cgi/large.git",
               "native": f"{base}/native/large.git", "floor": f"file://{large}"}
    res = {t: [] for t in targets}
    peaks = {}
    for r in range(ROUNDS):
        for t, url in targets.items():
            dest = f"{RUN}/clone-{t}-{r}.git"
            rss.reset()
            args = [GIT, "clone", "-q", "--bare"] + (["--no-local"] if t == "floor" else []) + [url, dest]
            res[t].append(timed(args))
            for who, kib in rss.peak.items():
                peaks[(t, who)] = max(peaks.get((t, who), 0), kib)
            if r < ROUNDS - 1 or t != "floor":
                shutil.rmtree(dest, ignore_errors=True)
    m = {k: median(v) for k, v in res.items()}
    row("3", "large clone: stock / ours-fcgiwrap / ours-native / clone --no-local floor (s)",
        " / ".join(f"{m[k]:.2f}" for k in targets),
        f"ours-native = {m['native'] / m['stock']:.3f} x stock, {m['native'] / m['floor']:.3f} x floor; "
        f"ours-fcgiwrap = {m['ours-cgi'] / m['stock']:.3f} x stock")
    for (t, who), kib in sorted(peaks.items()):
        if t != "floor":
            row("6", f"peak RSS during large clone via {t}: {who} process", f"{kib / 1024:.1f} MiB")
    # No-op fetch: in an up-to-date clone.
    client = f"{RUN}/clone-floor-{ROUNDS - 1}.git"
    res = {t: [] for t in targets if t != "floor"}
    for _ in range(ROUNDS * 3):
        for t in res:
            res[t].append(timed([GIT, "fetch", "-q", targets[t], "+refs/heads/*:refs/heads/*"], cwd=client))
    m = {k: median(v) for k, v in res.items()}
    row("3", "no-op fetch: stock / ours-fcgiwrap / ours-native (s)",
        " / ".join(f"{m[k]:.3f}" for k in res), f"ours-native = {m['native'] / m['stock']:.2f} x stock")
    # Thousands of haves: 2000 local commits the server does not have, one new
    # server commit to fetch.
    haves = f"{RUN}/haves-base.git"
    shutil.copytree(client, haves)
    tree = git("mktree", cwd=haves, input=b"")
    parent = git("rev-parse", "main", cwd=haves)
    stream = []
    for i in range(2000):
        msg = f"local {i:04}"
        stream.append(f"commit refs/heads/local\ncommitter B <b@example.com> {1700000000 + i} +0000\n"
                      f"data {len(msg)}\n{msg}\n" + (f"from {parent}\n" if i == 0 else "") + "\n")
    git("fast-import", "--quiet", cwd=haves, input="".join(stream).encode())
    new = git("commit-tree", tree, "-p", "main", "-m", "new", cwd=large)
    git("update-ref", "refs/heads/new", new, cwd=large)
    res = {t: [] for t in targets}
    for r in range(ROUNDS * 2):
        for t in targets:
            c = f"{RUN}/haves-{t}-{r}.git"
            git("clone", "-q", "--bare", "--shared", haves, c)
            res[t].append(timed([GIT, "fetch", "-q", targets[t], "refs/heads/new:refs/heads/new"], cwd=c))
            shutil.rmtree(c, ignore_errors=True)
    git("update-ref", "-d", "refs/heads/new", cwd=large)
    m = {k: median(v) for k, v in res.items()}
    row("3", "fetch with 2000 haves: stock / ours-fcgiwrap / ours-native / file:// floor (s)",
        " / ".join(f"{m[k]:.3f}" for k in targets), f"ours-native = {m['native'] / m['stock']:.2f} x stock")
    shutil.rmtree(haves, ignore_errors=True)
    shutil.rmtree(client, ignore_errors=True)


def group4(port, rss):
    log("4. pushes (s, median)")
    base = f"http://127.0.0.1:{port}"
    repo = os.path.join(ROOT, "small.git")
    src = f"{RUN}/push-src"
    git("init", "-q", "--bare", "-b", "main", src)
    git("fetch", "-q", repo, "main:main", cwd=src)
    stream = []
    for i in range(100):
        msg = f"c{i:04}"
        stream.append(f"commit refs/heads/hundred\ncommitter B <b@example.com> {1700000000 + i} +0000\n"
                      f"data {len(msg)}\n{msg}\n" + ("from refs/heads/main^0\n" if i == 0 else "")
                      + f"M 100644 inline f{i}\ndata 6\nf{i:04}\n\n")
    git("fast-import", "--quiet", cwd=src, input="".join(stream).encode())
    big = os.urandom(200 * 1024 * 1024)
    p = subprocess.run([GIT, "hash-object", "-w", "--stdin"], cwd=src, env=BASE_ENV,
                       input=big, stdout=subprocess.PIPE, check=True)
    del big
    blob = p.stdout.decode().strip()
    tree = git("mktree", cwd=src, input=f"100644 blob {blob}\tbig\n".encode())
    c = git("commit-tree", tree, "-p", "main", "-m", "big", cwd=src)
    git("update-ref", "refs/heads/big", c, cwd=src)
    targets = {"stock": f"{base}/stock/small.git", "ours-cgi": f"{base}/ours-cgi/small.git",
               "native": f"{base}/native/small.git", "floor": f"file://{repo}"}
    packdir = os.path.join(repo, "objects", "pack")
    for what, ref in [("100 commits", "hundred"), ("200 MB blob", "big")]:
        res = {t: [] for t in targets}
        peaks = {}
        for _ in range(ROUNDS):
            for t, url in targets.items():
                before = set(os.listdir(packdir))
                rss.reset()
                res[t].append(timed([GIT, "push", "-q", url, f"{ref}:refs/heads/bench-push"], cwd=src))
                for who, kib in rss.peak.items():
                    peaks[(t, who)] = max(peaks.get((t, who), 0), kib)
                git("update-ref", "-d", "refs/heads/bench-push", cwd=repo)
                for f in set(os.listdir(packdir)) - before:
                    os.remove(os.path.join(packdir, f))
                git("prune", "--expire=now", cwd=repo)
        m = {k: median(v) for k, v in res.items()}
        row("4", f"push {what}: stock / ours-fcgiwrap / ours-native / file:// floor (s)",
            " / ".join(f"{m[k]:.2f}" for k in targets),
            f"ours-native = {m['native'] / m['stock']:.3f} x stock, ours-fcgiwrap = {m['ours-cgi'] / m['stock']:.3f} x")
        for (t, who), kib in sorted(peaks.items()):
            if t != "floor":
                row("6", f"peak RSS during push {what} via {t}: {who} process", f"{kib / 1024:.1f} MiB")
    shutil.rmtree(src, ignore_errors=True)


def group5(port, native, cache, rss):
    log("5. 16 identical clones together (native FastCGI), with and without the pack cache")
    base = f"http://127.0.0.1:{port}"
    hz = os.sysconf("SC_CLK_TCK")

    def storm(prefix, daemon, n):
        url = f"{base}/{prefix}/large.git"
        t0 = cpu_ticks(daemon.pid)
        rss.reset()
        start_t = time.perf_counter()
        ps = [subprocess.Popen([GIT, "clone", "-q", "--bare", url, f"{RUN}/storm-{prefix}-{i}.git"],
                               env=BASE_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
              for i in range(n)]
        for p in ps:
            if p.wait():
                raise SystemExit(f"storm clone failed: {p.stderr.read().decode(errors='replace')}")
        wall = time.perf_counter() - start_t
        cpu = (cpu_ticks(daemon.pid) - t0) / hz
        for i in range(n):
            shutil.rmtree(f"{RUN}/storm-{prefix}-{i}.git", ignore_errors=True)
        return wall, cpu, rss.peak.get("ours", 0)
    one_wall, one_cpu, _ = storm("native", native, 1)
    row("5", "one clone (native): wall s / server CPU s", f"{one_wall:.2f} / {one_cpu:.2f}")
    w, c, _ = storm("native", native, 16)
    row("5", "16 clones, no cache: wall s / server CPU s", f"{w:.2f} / {c:.2f}",
        f"= {w / one_wall:.2f} x / {c / one_cpu:.2f} x one clone")
    shutil.rmtree(f"{RUN}/pack-cache", ignore_errors=True)
    w, c, peak = storm("cache", cache, 16)
    row("5", "16 clones, pack cache (cold): wall s / server CPU s", f"{w:.2f} / {c:.2f}",
        f"= {w / one_wall:.2f} x / {c / one_cpu:.2f} x one clone")
    status = open(f"/proc/{cache.pid}/status").read()
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    row("6", "FastCGI daemon (pack cache) peak RSS (VmHWM) after the storm", f"{hwm / 1024:.1f} MiB")
    status = open(f"/proc/{native.pid}/status").read()
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    row("6", "FastCGI daemon (no cache) peak RSS (VmHWM), whole run", f"{hwm / 1024:.1f} MiB")
    row("6", "peak RSS of any of our processes during the cached storm (incl. hooks)",
        f"{peak / 1024:.1f} MiB")


def main():
    os.makedirs(ROOT, exist_ok=True)
    os.makedirs(BASE_ENV["HOME"], exist_ok=True)
    log(f"git {git('--version')}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    log("generating repositories (kept in BENCH_WORK between runs)...")
    gen_small(os.path.join(ROOT, "small.git"))
    gen_refs(os.path.join(ROOT, "refs10k.git"))
    gen_large(os.path.join(ROOT, "large.git"))
    size = sum(os.path.getsize(os.path.join(dp, f))
               for dp, _, fs in os.walk(os.path.join(ROOT, "large.git", "objects")) for f in fs)
    log(f"large.git objects: {size / 1e6:.0f} MB")
    port, native, cache = start_servers()
    rss = RssSampler()
    try:
        groups = os.environ.get("BENCH_GROUPS", "12345")
        if "1" in groups:
            group1()
        if "2" in groups:
            group2(port)
        if "3" in groups:
            group3(port, rss)
        if "4" in groups:
            group4(port, rss)
        if "5" in groups:
            group5(port, native, cache, rss)
    finally:
        rss.stop = True
        stop_all()
    with open(OUT, "w") as f:
        f.write(f"git {git('--version')}; {os.cpu_count()} CPUs; large.git {size / 1e6:.0f} MB; "
                f"load average at the end {os.getloadavg()[0]:.1f}\n\n")
        f.write("| group | measurement | value | ratio |\n|---|---|---|---|\n")
        for g, what, value, note in table:
            f.write(f"| {g} | {what} | {value} | {note} |\n")
    log(f"table written to {OUT}")


if __name__ == "__main__":
    try:
        main()
    except BaseException:
        stop_all()
        raise
