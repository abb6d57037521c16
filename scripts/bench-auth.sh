#!/usr/bin/env bash
# Cost of one built-in Basic auth check, bcrypt cost 10 and 5 (htpasswd -B's
# default): uncached (what every CGI request pays, and a daemon once a minute per
# user) against cached (what serve and the FastCGI server pay for the same
# credentials within CACHE_TTL). The hash crates are built optimised in every
# profile (Cargo.toml [profile.dev.package."*"]), so a debug build measures them
# as deployed.
#
# Usage: scripts/bench-auth.sh   (needs htpasswd from apache2-utils)
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --test auth_bench -- --ignored --nocapture --test-threads=1
