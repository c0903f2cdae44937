#!/usr/bin/env bash
# End-to-end check against DIVOC's own sample records (outside this repository):
# imports them, starts the service, and checks that each beneficiary gets the
# certificate DIVOC's tests expect and that the QR in the PNG and on the PDF page
# (rendered at 150 dpi) decode with zbarimg to the stored certificate, byte for byte.
#
#   scripts/check-divoc-samples.sh [RECORDS_JSON]
#
# Default RECORDS_JSON: ../shared/fixtures/divoc-samples/registry-records.json.
# Needs python3, curl, poppler-utils and zbar-tools.
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-../shared/fixtures/divoc-samples/registry-records.json}
[[ -f "$records" ]] || { echo "error: $records not found" >&2; exit 1; }

work=$(mktemp -d /tmp/divoc-samples.XXXXXX)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build -q -p divoc-server
binary=target/debug/divoc-server
export DIVOC__DATABASE__URL="sqlite://$work/divoc.sqlite"
export DIVOC__AUTH__PUBLIC_KEY_FILE="$PWD/fixtures/keys/test-rsa-public.pem"
export DIVOC__SERVER__BIND=127.0.0.1:0
"$binary" import "$records"
"$binary" serve 2>"$work/log" &
server=$!
for _ in $(seq 100); do grep -q 'bind=127.0.0.1:' "$work/log" && break; sleep 0.1; done
port=$(grep -o 'bind=127.0.0.1:[0-9]*' "$work/log" | head -n 1 | cut -d: -f2)
token=$(python3 scripts/dev-token.py api)

stored_certificate() {
    python3 -c 'import json,sys; print(next(r["certificate"] for r in json.load(open(sys.argv[1])) if r["certificateId"] == sys.argv[2]), end="")' "$records" "$1"
}

# Reverses the UTF-8 expansion and unzips certificate.json.
unpack_qr() {
    python3 -c '
import io, sys, zipfile
data = sys.stdin.buffer.read()
try:
    data = data.decode("utf-8").encode("latin-1")
except (UnicodeDecodeError, UnicodeEncodeError):
    pass
sys.stdout.buffer.write(zipfile.ZipFile(io.BytesIO(data)).read("certificate.json"))'
}

failures=0
check() {
    local beneficiary=$1 expected=$2 url="http://127.0.0.1:$port/certificate/api"
    curl -sS -D "$work/h" -o "$work/c.pdf" -H "Authorization: Bearer $token" "$url/certificatePDF/$beneficiary"
    local served
    served=$(grep -io 'filename="certificate-[0-9]*' "$work/h" | cut -d- -f2)
    stored_certificate "$expected" > "$work/expected.json"
    curl -sS -o "$work/q.png" -H "Authorization: Bearer $token" "$url/certificateQRCode/$beneficiary"
    zbarimg -q --raw -Sbinary "$work/q.png" 2>/dev/null | unpack_qr > "$work/png.json"
    pdftoppm -r 150 -png -singlefile "$work/c.pdf" "$work/page"
    zbarimg -q --raw -Sbinary "$work/page.png" 2>/dev/null | unpack_qr > "$work/page.json"
    local verdict=ok
    [[ "$served" == "$expected" ]] || verdict="FAILED: served $served"
    cmp -s "$work/expected.json" "$work/png.json" || verdict="FAILED: PNG QR differs"
    cmp -s "$work/expected.json" "$work/page.json" || verdict="FAILED: PDF QR at 150 dpi differs"
    echo "$beneficiary: expected $expected, served $served, PNG QR and PDF QR (150 dpi) byte-identical: $verdict"
    [[ "$verdict" == ok ]] || failures=$((failures + 1))
}

check 987456111 712988986
check 987456126 788954391
exit "$failures"
