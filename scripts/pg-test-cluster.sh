#!/usr/bin/env bash
# Starts and stops a throwaway PostgreSQL cluster for the divoc-store tests.
#
#   scripts/pg-test-cluster.sh start DIR PORT   # prints the URL for DIVOC_TEST_POSTGRES_URL
#   scripts/pg-test-cluster.sh standby DIR PORT PRIMARY_PORT
#                                 # a hot standby of the cluster on PRIMARY_PORT,
#                                 # prints the URL for DIVOC_TEST_POSTGRES_REPLICA_URL
#   scripts/pg-test-cluster.sh stop DIR
#
# The cluster listens on 127.0.0.1:PORT only, trusts every loopback connection
# and runs with fsync off, so it is for tests and never for data worth keeping.
# It has a superuser role `divoc` (tests create a database each) and a database
# `divoc_test`. PG_SHARED_BUFFERS sets `shared_buffers` (default 128MB,
# PostgreSQL's own default). Needs the Debian packages `postgresql` and `libpq-dev`.
set -euo pipefail

usage() {
    echo "usage: $0 start DIR PORT | standby DIR PORT PRIMARY_PORT | stop DIR" >&2
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

check_port() {
    if ! [[ "$1" =~ ^[0-9]+$ ]] || (($1 < 1024 || $1 > 65535)); then
        echo "error: a port must be a number from 1024 to 65535, got '$1'" >&2
        exit 2
    fi
}

# Creates DIR for a new cluster, owned by the user that runs the server.
prepare_dir() {
    local dir=$1 created=0
    [[ -d "$dir" ]] || created=1
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -e "$dir/data" ]]; then
        echo "error: $dir/data already exists; run '$0 stop $dir' and remove $dir first" >&2
        exit 1
    fi
    if [[ "$(id -u)" == 0 ]]; then
        if ! id postgres >/dev/null 2>&1; then
            echo "error: no 'postgres' OS user to run the server as; install the postgresql package" >&2
            exit 1
        fi
        chown postgres:postgres "$dir"
        if ! runuser -u postgres -- test -w "$dir"; then
            # Name the parents that the postgres user cannot enter, such as a
            # folder from `mktemp -d`, which only its owner may enter.
            local parent=$dir blocked=""
            while [[ "$parent" != / ]]; do
                parent=$(dirname "$parent")
                if ! runuser -u postgres -- test -x "$parent"; then
                    blocked="$parent $blocked"
                fi
            done
            ((created)) && rmdir "$dir"
            if [[ -n "$blocked" ]]; then
                echo "error: the postgres user cannot enter ${blocked% } (on the path to $dir);" \
                    "run 'chmod o+x ${blocked% }' or pick a DIR elsewhere" >&2
            else
                echo "error: the postgres user cannot write $dir; pick a DIR elsewhere" >&2
            fi
            exit 1
        fi
    fi
    chmod 700 "$dir"
}

start() {
    local dir=$1 port=$2 bin data
    check_port "$port"
    bin=$(find_bin_dir)
    prepare_dir "$dir"
    dir=$(cd "$dir" && pwd)
    data="$dir/data"

    echo "initialising a cluster in $data" >&2
    as_owner "$bin/initdb" --pgdata="$data" --username=postgres --encoding=UTF8 --no-locale \
        --auth-local=trust --auth-host=trust >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }

    # Loopback only: the trust rules below accept any user without a password.
    # The replication rule lets `standby` copy the cluster and stream from it.
    as_owner tee "$data/pg_hba.conf" >/dev/null <<HBA
local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
HBA
    as_owner tee -a "$data/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = ${PG_SHARED_BUFFERS:-128MB}
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

standby() {
    local dir=$1 port=$2 primary_port=$3 bin data
    check_port "$port"
    check_port "$primary_port"
    bin=$(find_bin_dir)
    prepare_dir "$dir"
    dir=$(cd "$dir" && pwd)
    data="$dir/data"

    echo "copying the cluster on port $primary_port into $data" >&2
    # The replication slot makes the primary keep its WAL until the standby
    # has it. Without one, a standby that fell behind the tests' writes could
    # find the WAL it needed removed, and then never catch up.
    as_owner "$bin/pg_basebackup" --host=127.0.0.1 --port="$primary_port" --username=postgres \
        --pgdata="$data" --write-recovery-conf --wal-method=stream --checkpoint=fast \
        --create-slot --slot="divoc_standby_$port" \
        >"$dir/basebackup.log" 2>&1 || {
        cat "$dir/basebackup.log" >&2
        exit 1
    }
    # The copy has the primary's settings; later lines win.
    as_owner tee -a "$data/postgresql.conf" >/dev/null <<CONF
port = $port
unix_socket_directories = '$dir'
hot_standby = on
CONF
    as_owner "$bin/pg_ctl" --pgdata="$data" --log="$dir/server.log" --wait --timeout=60 start >&2 || {
        cat "$dir/server.log" >&2
        exit 1
    }
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
standby)
    [[ $# == 4 ]] || usage
    standby "$2" "$3" "$4"
    ;;
stop)
    [[ $# == 2 ]] || usage
    stop "$2"
    ;;
*) usage ;;
esac
