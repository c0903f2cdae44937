#!/usr/bin/env bash
# Load test of a release divoc-server on SQLite and on PostgreSQL.
#
#   scripts/load-test.sh [--beneficiaries N] [--seed S] [--dataset FILE]
#                        [--seconds S] [--backends sqlite,postgres] [--out FILE]
#                        [--routes pdf,pdf-cached,qr,head] [--concurrency 1,16,64]
#                        [--features mimalloc]
#
# Generates a dataset (`divoc-server generate`, default 100,000 beneficiaries,
# seed 42) unless --dataset names an export, imports it into a fresh store per
# backend, starts the server, and drives GET PDF, GET QR and HEAD at concurrency
# 1, 16 and 64 with oha (from crates.io; installed when missing), each request for
# a random beneficiary that has a certificate. GET PDF runs twice: over all
# beneficiaries (mostly cache misses) and over a hot set of 1,000 rendered once
# beforehand (cache hits). Prints a Markdown table with
# requests/s, p50, p99 and p99.9 latency, errors and the server's peak RSS per
# run, and writes it to --out (default: stdout only). --routes and --concurrency
# pick a subset of the runs (default: all of them). --features builds the server
# with these cargo features.
#
# Traffic goes to 127.0.0.1 only. The PostgreSQL cluster is a throwaway one made
# with scripts/pg-test-cluster.sh and removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

beneficiaries=100000
seed=42
dataset=""
seconds=10
backends="sqlite,postgres"
out=""
routes="pdf,pdf-cached,qr,head"
concurrencies="1,16,64"
features=""
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
fail() { echo "error: $*" >&2; exit 2; }
while (($#)); do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --*) (($# >= 2)) || fail "option $1 needs a value" ;;
    esac
    case "$1" in
        --beneficiaries) beneficiaries=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --dataset) dataset=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --backends) backends=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --routes) routes=$2; shift 2 ;;
        --concurrency) concurrencies=$2; shift 2 ;;
        --features) features=$2; shift 2 ;;
        *) fail "unknown option $1 (see --help)" ;;
    esac
done

# Every value is checked here, before the build, the dataset and the import.
IFS=, read -ra selected <<< "$backends"
IFS=, read -ra names <<< "$routes"
IFS=, read -ra levels <<< "$concurrencies"
((${#selected[@]})) || fail "--backends is empty: expected sqlite, postgres or both"
((${#names[@]})) || fail "--routes is empty: expected some of pdf, pdf-cached, qr, head"
((${#levels[@]})) || fail "--concurrency is empty: expected numbers such as 1,16,64"
for backend in "${selected[@]}"; do
    [[ "$backend" == sqlite || "$backend" == postgres ]] ||
        fail "invalid backend '$backend': expected sqlite or postgres"
done
for name in "${names[@]}"; do
    [[ "$name" =~ ^(pdf|pdf-cached|qr|head)$ ]] ||
        fail "invalid route '$name': expected pdf, pdf-cached, qr or head"
done
for level in "${levels[@]}"; do
    [[ "$level" =~ ^[1-9][0-9]*$ ]] || fail "invalid concurrency '$level': expected a number from 1"
done
for number in "$beneficiaries" "$seconds"; do
    [[ "$number" =~ ^[1-9][0-9]*$ ]] || fail "invalid number '$number' for --beneficiaries or --seconds"
done

command -v oha >/dev/null || cargo install oha --locked --version 1.16.0
cargo build -q --release -p divoc-server ${features:+--features "$features"}
binary=${CARGO_TARGET_DIR:-$PWD/target}/release/divoc-server

work=$(mktemp -d /tmp/divoc-load.XXXXXX)
# The throwaway PostgreSQL cluster runs as the postgres user inside this folder.
chmod 755 "$work"
server=""
cluster=""
cleanup() {
    if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    if [[ -n "$cluster" ]]; then scripts/pg-test-cluster.sh stop "$cluster" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

if [[ -z "$dataset" ]]; then
    dataset=$work/dataset.ndjson
    echo "generating $beneficiaries beneficiaries (seed $seed)" >&2
    "$binary" generate --beneficiaries "$beneficiaries" --seed "$seed" --out "$dataset"
fi
# A sample of beneficiaries that have at least one certificate that is not revoked.
python3 - "$dataset" "$work/ids" <<'PY'
import json, random, sys
path, out = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read().strip()
if text.startswith("["):
    entries = json.loads(text)
elif text.startswith("{") and "\n" not in text:
    entries = json.loads(text).get("result", {})
    entries = [e for group in entries.values() for e in group]
else:
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
revoked, owners = set(), {}
for entry in entries:
    if "certificate" in entry:
        owners.setdefault(entry["preEnrollmentCode"], set()).add(entry["certificateId"])
    else:
        revoked.add(entry.get("previousCertificateId") or entry["certificateId"])
served = sorted(code for code, ids in owners.items() if ids - revoked)
random.seed(7)
sample = [random.choice(served) for _ in range(20000)]
open(out, "w").write("\n".join(sample) + "\n")
open(out + ".count", "w").write(str(len(entries)))
PY
records=$(cat "$work/ids.count")
# Distinct beneficiaries of the cached-PDF runs: about 1,000 PDFs of 9 KB fit well
# within the default 16 MiB render cache.
HOT_IDS=1000

token=$(python3 scripts/dev-token.py api)

table=$work/table.md
{
    echo "Dataset: $records records ($dataset); ${seconds}s per run; oha $(oha --version | awk '{print $2}');"
    echo "server features: ${features:-default};"
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%Y-%m-%d)."
    echo
    echo "| Backend | Route | Concurrency | Requests/s | p50 ms | p99 ms | p99.9 ms | Errors | Peak RSS MB |"
    echo "|---|---|---|---|---|---|---|---|---|"
} > "$table"

run_backend() {
    local backend=$1 url
    case "$backend" in
        sqlite) url="sqlite://$work/divoc.sqlite" ;;
        postgres)
            cluster=$work/pg
            url=$(scripts/pg-test-cluster.sh start "$cluster" 55599 | tail -n 1)
            ;;
        *) echo "unknown backend $backend" >&2; exit 2 ;;
    esac
    export DIVOC__DATABASE__URL=$url
    export DIVOC__AUTH__PUBLIC_KEY_FILE=$PWD/fixtures/keys/test-rsa-public.pem
    export DIVOC__SERVER__BIND=127.0.0.1:0
    export RUST_LOG=warn,divoc_server::server=info
    local started=$SECONDS
    "$binary" import "$dataset" >/dev/null
    echo "$backend: imported $records records in $((SECONDS - started)) s" >&2
    "$binary" serve 2>"$work/server.log" &
    server=$!
    for _ in $(seq 200); do grep -q 'bind=127.0.0.1:' "$work/server.log" && break; sleep 0.1; done
    local port
    port=$(grep -o 'bind=127.0.0.1:[0-9]*' "$work/server.log" | head -n 1 | cut -d: -f2)
    local name route
    for name in "${names[@]}"; do
        case "$name" in
            pdf) route="GET certificatePDF" ;;
            pdf-cached) route="GET certificatePDF cached" ;;
            qr) route="GET certificateQRCode" ;;
            head) route="HEAD certificatePDF" ;;
            *) echo "invalid route '$name': expected pdf, pdf-cached, qr or head" >&2; exit 2 ;;
        esac
        local method path label
        read -r method path label <<< "$route"
        if [[ "$label" == cached ]]; then
            # A hot set that fits in the default render cache, rendered once before
            # the measured runs, so every measured request is a cache hit.
            head -n "$HOT_IDS" "$work/ids" | sed "s|^|http://127.0.0.1:$port/certificate/api/$path/|" > "$work/urls"
            while read -r url; do
                curl -s -o /dev/null -H "Authorization: Bearer $token" "$url"
            done < "$work/urls"
        else
            sed "s|^|http://127.0.0.1:$port/certificate/api/$path/|" "$work/ids" > "$work/urls"
        fi
        for concurrency in "${levels[@]}"; do
            echo 5 > "/proc/$server/clear_refs" 2>/dev/null || true
            oha -z "${seconds}s" -c "$concurrency" --no-tui --output-format json -m "$method" \
                -H "Authorization: Bearer $token" --urls-from-file "$work/urls" > "$work/result.json"
            local rss
            rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$server/status")
            python3 - "$work/result.json" "$backend" "$method $path${label:+ ($label)}" "$concurrency" "$rss" >> "$table" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
backend, route, concurrency, rss = sys.argv[2:]
codes = result.get("statusCodeDistribution", {})
errors = sum(count for code, count in codes.items() if not code.startswith("2"))
errors += sum(count for kind, count in result.get("errorDistribution", {}).items()
              if kind != "aborted due to deadline")
latency = result["latencyPercentiles"]
ms = lambda key: f"{latency[key] * 1000:.2f}" if latency.get(key) is not None else "–"
print(f"| {backend} | {route} | {concurrency} | {result['summary']['requestsPerSec']:.0f} | "
      f"{ms('p50')} | {ms('p99')} | {ms('p99.9')} | {errors} | {rss} |")
PY
            tail -n 1 "$table" >&2
        done
    done
    kill "$server"
    wait "$server" 2>/dev/null || true
    server=""
    if [[ "$backend" == postgres ]]; then
        scripts/pg-test-cluster.sh stop "$cluster" >/dev/null
        cluster=""
    fi
}

for backend in "${selected[@]}"; do
    run_backend "$backend"
done

cat "$table"
if [[ -n "$out" ]]; then cp "$table" "$out"; fi
