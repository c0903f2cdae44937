#!/usr/bin/env bash
# Load test of a release divoc-server on SQLite with the sample fixtures: wrk
# drives each route at the given concurrency, cycling through the sample
# beneficiaries, and the server's peak resident memory (VmHWM) is read afterwards.
#
#   scripts/bench-http.sh [CONCURRENCY] [SECONDS]     # defaults: 16 and 15
#
# Needs wrk (Debian package wrk), openssl and python3. Sends traffic to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
concurrency=${1:-16}
seconds=${2:-15}
command -v wrk >/dev/null || { echo "error: wrk is missing: apt-get install wrk" >&2; exit 1; }

cargo build -q --release -p divoc-server
work=$(mktemp -d /tmp/divoc-bench.XXXXXX)
server=""
cleanup() {
    [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

export DIVOC__DATABASE__URL="sqlite://$work/divoc.sqlite"
export DIVOC__AUTH__PUBLIC_KEY_FILE="$PWD/fixtures/keys/test-rsa-public.pem"
export DIVOC__SERVER__BIND=127.0.0.1:0
export RUST_LOG=warn,divoc_server::server=info
target/release/divoc-server import fixtures/sample-records.json >/dev/null
target/release/divoc-server serve 2>"$work/log" &
server=$!
for _ in $(seq 100); do grep -q 'bind=127.0.0.1:' "$work/log" && break; sleep 0.1; done
port=$(grep -o 'bind=127.0.0.1:[0-9]*' "$work/log" | head -n 1 | cut -d: -f2)

token=$(python3 scripts/dev-token.py api)

cat > "$work/cycle.lua" <<'LUA'
-- Cycles through the sample beneficiaries that have a certificate.
local ids = {"BEN1001","BEN1002","BEN1003","BEN1004","BEN1005","BEN1006","BEN1007","BEN1008","BEN1010","BEN1011","BEN1012"}
local counter = 0
request = function()
  counter = counter + 1
  local path = string.format(wrk.path, ids[(counter % #ids) + 1])
  return wrk.format(wrk.method, path, wrk.headers, nil)
end
LUA

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "concurrency $concurrency, ${seconds}s per route, release build, SQLite, sample fixtures"
for route in "GET /certificate/api/certificatePDF/%s" "GET /certificate/api/certificateQRCode/%s" "HEAD /certificate/api/certificatePDF/%s"; do
    method=${route%% *}
    path=${route#* }
    cat > "$work/route.lua" <<LUA
wrk.method = "$method"
wrk.path = "$path"
wrk.headers["Authorization"] = "Bearer $token"
LUA
    cat "$work/route.lua" "$work/cycle.lua" > "$work/script.lua"
    echo "== $route"
    wrk -t2 -c"$concurrency" -d"${seconds}s" --latency -s "$work/script.lua" "http://127.0.0.1:$port" \
        | grep -E 'Requests/sec|Latency|50%|99%|Non-2xx|Socket errors|requests in'
done
echo "server peak RSS (VmHWM): $(grep VmHWM /proc/$server/status | awk '{print $2, $3}')"
