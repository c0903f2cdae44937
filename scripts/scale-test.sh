#!/usr/bin/env bash
# Generates a synthetic registry export and imports it into SQLite and into a
# throwaway PostgreSQL cluster, streaming `generate | import -` so the export
# never lands on disk, or streams a compressed export file (EXPORT_FILE) into
# `import -`. For each backend it records the import rate, the
# importer's peak RSS, the database size and lookup latency, then deletes the
# database.
#
#   scripts/scale-test.sh                     # about 10 million records
#   BENEFICIARIES=420000 scripts/scale-test.sh  # about 1 million records
#
# Settings (environment):
#   BENEFICIARIES  beneficiaries to generate; each gives 2.4 records on average
#                  (default 4200000, about 10 million records)
#   SEED           generator seed (default 1)
#   WORK           folder for databases and logs (default /work/scale-tmp).
#                  SQLite needs about the database size while importing: the
#                  importer is the only connection, so it uses a rollback
#                  journal instead of the write-ahead log.
#   BACKENDS       "sqlite postgres" (default), or one of them
#   PG_PORT        loopback port of the throwaway cluster (default 55497)
#   PG_SHARED_BUFFERS  its shared_buffers (default 128MB)
#   TIME_LIMIT     seconds one import may run before it is stopped (default 3600)
#   IMPORT_ARGS    extra arguments of `divoc-server import`, such as
#                  --first-load (default none)
#   EXPORT_FILE    a zstd-compressed export to import instead of generating
#                  one in the pipe, for example from
#                  `divoc-server generate --beneficiaries 4200000 | zstd -1 -T2 -c`.
#                  The generator takes about 7 s of CPU per million records,
#                  decompressing about 1 s, on the 2 cores the import shares.
# Needs /usr/bin/time (Debian package `time`) and, for PostgreSQL, what
# scripts/pg-test-cluster.sh needs. Results go to $WORK/results.txt.
set -euo pipefail

BENEFICIARIES=${BENEFICIARIES:-4200000}
SEED=${SEED:-1}
WORK=${WORK:-/work/scale-tmp}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PG_PORT=${PG_PORT:-55497}
TIME_LIMIT=${TIME_LIMIT:-3600}
IMPORT_ARGS=${IMPORT_ARGS:-}
EXPORT_FILE=${EXPORT_FILE:-}

repo=$(cd "$(dirname "$0")/.." && pwd)
bin="$repo/target/release/divoc-server"
mkdir -p "$WORK"
results="$WORK/results.txt"

log() {
    echo "$*" | tee -a "$results"
}

cd "$repo"
cargo build --release -p divoc-server
cargo bench -p divoc-store --bench lookup --no-run

log "== scale test $(date -u +%Y-%m-%dT%H:%M:%SZ): beneficiaries=$BENEFICIARIES seed=$SEED export file: ${EXPORT_FILE:-none} import arguments: ${IMPORT_ARGS:-none}"
log "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB memory, $(uname -r)"
log "disk before: $(df -h "$WORK" | tail -1)"

# Largest size of the database folder, sampled every 5 s while $1 runs.
watch_disk() {
    local pid=$1 folder=$2 out=$3 peak=0 size
    while kill -0 "$pid" 2>/dev/null; do
        size=$(du -sb "$folder" 2>/dev/null | cut -f1)
        ((size > peak)) && peak=$size
        echo "$peak" >"$out"
        sleep 5
    done
}

# Streams the export into the store at $1, with a time limit, and logs the rate.
import_into() {
    local name=$1 url=$2 folder=$3
    local started ended seconds records rss
    # Other work on the machine slows the import; the load average shows it.
    log "$name: load average before the import: $(cut -d' ' -f1-3 /proc/loadavg)"
    started=$(date +%s.%N)
    local source="'$bin' generate --beneficiaries $BENEFICIARIES --seed $SEED"
    [[ -n "$EXPORT_FILE" ]] && source="zstd -dc '$EXPORT_FILE'"
    timeout "$TIME_LIMIT" bash -c \
        "set -o pipefail; $source \
         | DIVOC__DATABASE__URL='$url' /usr/bin/time -v '$bin' import $IMPORT_ARGS -" \
        >"$WORK/$name.import.out" 2>"$WORK/$name.import.log" &
    local pid=$!
    watch_disk "$pid" "$folder" "$WORK/$name.disk-peak" &
    local watcher=$!
    local status=0
    wait "$pid" || status=$?
    ended=$(date +%s.%N)
    wait "$watcher" || true
    if ((status != 0)); then
        log "$name: import failed with status $status; see $WORK/$name.import.log"
        tail -5 "$WORK/$name.import.log" | tee -a "$results"
        return 1
    fi
    seconds=$(echo "$ended - $started" | bc)
    # The summary reads "-: N certificates (…), M revocations (…)".
    records=$(sed -E 's/^[^:]*: ([0-9]+) certificates? .*, ([0-9]+) revocations? .*$/\1 \2/' \
        "$WORK/$name.import.out" | awk '{print $1 + $2}')
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/$name.import.log")
    log "$name: imported $(cat "$WORK/$name.import.out")"
    local how="generator in the same pipe"
    [[ -n "$EXPORT_FILE" ]] && how="from $EXPORT_FILE"
    log "$name: $records records in $seconds s = $(echo "$records / $seconds" | bc) records/s ($how)"
    log "$name: importer peak RSS $((rss / 1024)) MiB; database folder peak $(($(cat "$WORK/$name.disk-peak") / 1048576)) MiB"
}

lookups() {
    local name=$1 url=$2
    DIVOC_BENCH_STORE_URL="$url" cargo bench -p divoc-store --bench lookup -- \
        --warm-up-time 2 --measurement-time 10 >"$WORK/$name.bench.log" 2>&1
    grep -E "^lookup by beneficiary|time:" "$WORK/$name.bench.log" | sed "s/^/$name: /" | tee -a "$results"
}

for backend in $BACKENDS; do
    case $backend in
    sqlite)
        folder="$WORK/sqlite"
        rm -rf "$folder"
        mkdir -p "$folder"
        url="sqlite://$folder/divoc.sqlite"
        import_into sqlite "$url" "$folder"
        log "sqlite: database file $(du -h "$folder/divoc.sqlite" | cut -f1) ($(du -b "$folder/divoc.sqlite" | cut -f1) bytes)"
        lookups sqlite "$url"
        rm -rf "$folder"
        ;;
    postgres)
        folder="$WORK/pg"
        rm -rf "$folder"
        url=$(scripts/pg-test-cluster.sh start "$folder" "$PG_PORT" | tail -1)
        trap 'scripts/pg-test-cluster.sh stop "$folder" >/dev/null 2>&1 || true; rm -rf "$folder"' EXIT
        log "postgres: shared_buffers $(psql "$url" -Atc 'SHOW shared_buffers')"
        if import_into postgres "$url" "$folder"; then
            log "postgres: database size $(psql "$url" -Atc 'SELECT pg_size_pretty(pg_database_size(current_database()))')"
            lookups postgres "$url"
        fi
        scripts/pg-test-cluster.sh stop "$folder" >/dev/null
        rm -rf "$folder"
        trap - EXIT
        ;;
    *)
        echo "error: unknown backend '$backend'; use sqlite or postgres" >&2
        exit 2
        ;;
    esac
done
log "disk after: $(df -h "$WORK" | tail -1)"
