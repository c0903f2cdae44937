#!/usr/bin/env bash
# Starts and stops a throwaway PostgreSQL cluster for the divoc-store tests.
#
#   scripts/pg-test-cluster.sh start DIR PORT   # prints the URL for DIVOC_TEST_POSTGRES_URL
#   scripts/pg-test-cluster.sh stop DIR
#
# The cluster listens on 127.0.0.1:PORT only, trusts every loopback connection
# and runs with fsync off, so it is for tests and never for data worth keeping.
# It has a superuser role `divoc` (tests create a database each) and a database
# `divoc_test`. Needs the Debian packages `postgresql` and `libpq-dev`.
set -euo pipefail

usage() {
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
}

# Prints the newest /usr/lib/postgresql/VERSION/bin that has initdb and pg_ctl.
find_bin_dir() {
    local dir
    dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
    if [[ -z "$dir" || ! -x "$dir/initdb" || ! -x "$dir/pg_ctl" ]]; then
        echo "error: initdb and pg_ctl not found under /usr/lib/postgresql/*/bin;" \
            "install them with: apt-get install postgresql libpq-dev" >&2
        exit 1
    fi
    echo "$dir"
}

# Runs a command as the `postgres` OS user when invoked as root, because
# initdb and the server refuse to run as root.
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    local dir=$1 port=$2 bin data
    if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1024 || port > 65535)); then
        echo "error: PORT must be a number from 1024 to 65535, got '$port'" >&2
        exit 2
    fi
    bin=$(find_bin_dir)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    data="$dir/data"
    if [[ -e "$data" ]]; then
        echo "error: $data already exists; run '$0 stop $dir' and remove $dir first" >&2
        exit 1
    fi
    if [[ "$(id -u)" == 0 ]]; then
        if ! id postgres >/dev/null 2>&1; then
            echo "error: no 'postgres' OS user to run the server as; install the postgresql package" >&2
            exit 1
        fi
        chown postgres:postgres "$dir"
        if ! runuser -u postgres -- test -w "$dir"; then
            echo "error: the postgres user cannot write $dir; pick a DIR whose parents it can enter, such as under /tmp" >&2
            exit 1
        fi
    fi
    chmod 700 "$dir"

    echo "initialising a cluster in $data" >&2
    as_owner "$bin/initdb" --pgdata="$data" --username=postgres --encoding=UTF8 --no-locale \
        --auth-local=trust --auth-host=trust >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }

    # Loopback only: the trust rules below accept any user without a password.
    as_owner tee "$data/pg_hba.conf" >/dev/null <<HBA
local all all trust
host all all 127.0.0.1/32 trust
HBA
    as_owner tee -a "$data/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF

    as_owner "$bin/pg_ctl" --pgdata="$data" --log="$dir/server.log" --wait --timeout=60 start >&2 || {
        cat "$dir/server.log" >&2
        exit 1
    }
    "$bin/psql" --host=127.0.0.1 --port="$port" --username=postgres --dbname=postgres \
        --no-psqlrc --quiet -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE divoc LOGIN SUPERUSER" \
        -c "CREATE DATABASE divoc_test OWNER divoc" >&2
    echo "postgres://divoc@127.0.0.1:$port/divoc_test"
}

stop() {
    local dir=$1 bin
    bin=$(find_bin_dir)
    if [[ ! -f "$dir/data/postmaster.pid" ]]; then
        echo "no server is running in $dir/data" >&2
        return 0
    fi
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait stop >&2
}

case "${1:-}" in
start)
    [[ $# == 3 ]] || usage
    start "$2" "$3"
    ;;
stop)
    [[ $# == 2 ]] || usage
    stop "$2"
    ;;
*) usage ;;
esac
