#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests (the PostgreSQL store, several replicas).
#
#   scripts/pg-test-cluster.sh start DIR   # prints postgres://taskbridge:taskbridge@127.0.0.1:PORT/taskbridge
#   scripts/pg-test-cluster.sh stop DIR    # stops the server and removes DIR
#
# start creates the cluster in DIR (which must not exist or be empty), listening on
# 127.0.0.1 only, on a free port, with its Unix socket in DIR. It creates the role
# taskbridge (LOGIN, CREATEDB, password taskbridge) and the database taskbridge owned
# by it. The URL is the only line on stdout; everything else goes to stderr, so
#
#   url=$(scripts/pg-test-cluster.sh start "$tmp/pg")
#
# works. Authentication is "trust" (any password is accepted): never point anything
# but tests at this cluster. The server log is DIR/log.
#
# Binaries come from $PG_BINDIR if set, else `pg_config --bindir`, else PATH. initdb
# and pg_ctl refuse to run as root: as root the script hands DIR to the postgres user
# and runs them with runuser. If PostgreSQL is missing and the script runs as root, it
# installs the Debian/Ubuntu package "postgresql" with apt-get.
#
# Exit status: 0 ok, 1 failure, 2 usage, 3 PostgreSQL is not installed (and could not be).
set -euo pipefail

# Everything goes to stderr; fd 3 is the real stdout, for the URL alone.
exec 3>&1 1>&2

# The caller's libpq settings must not redirect the script's own psql calls.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGPASSWORD PGPASSFILE PGDATABASE PGSERVICE \
    PGSERVICEFILE PGSSLMODE PGOPTIONS PGDATA PGTZ PGCONNECT_TIMEOUT PGTARGETSESSIONATTRS || true

me=$(basename "$0")
marker=.taskbridge-pg-test-cluster
want_major=15

die() { echo "$me: $*" >&2; exit 1; }
usage() { echo "usage: $me start DIR | stop DIR" >&2; exit 2; }

is_root() { [[ $(id -u) -eq 0 ]]; }

# --- finding PostgreSQL ------------------------------------------------------------

bindir=""
find_bindir() {
    local candidate
    bindir=""
    for candidate in "${PG_BINDIR:-}" "$(pg_config --bindir 2>/dev/null || true)"; do
        if [[ -n $candidate && -x $candidate/initdb && -x $candidate/pg_ctl && -x $candidate/postgres ]]; then
            bindir=$candidate
            return 0
        fi
    done
    if candidate=$(command -v initdb 2>/dev/null); then
        candidate=$(dirname "$(readlink -f "$candidate")")
        if [[ -x $candidate/pg_ctl && -x $candidate/postgres ]]; then
            bindir=$candidate
            return 0
        fi
    fi
    return 1
}

install_postgres() {
    local attempt
    for attempt in 1 2 3; do
        echo "$me: PostgreSQL not found; installing it with apt-get (attempt $attempt of 3)…"
        if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } 3>&-; then
            return 0
        fi
        sleep $((attempt * 5))
    done
    return 1
}

require_postgres() {
    if ! find_bindir; then
        if is_root && command -v apt-get >/dev/null; then
            install_postgres || true
        fi
        if ! find_bindir; then
            echo "$me: PostgreSQL is not installed: no initdb, pg_ctl and postgres in \$PG_BINDIR, \`pg_config --bindir\` or PATH." >&2
            if is_root; then
                echo "$me: installing the \"postgresql\" package with apt-get failed (or apt-get is missing)." >&2
            else
                echo "$me: install it (Debian/Ubuntu: sudo apt-get install postgresql), or run this script as root to install it." >&2
            fi
            exit 3
        fi
    fi
    local version major
    version=$("$bindir/postgres" --version) || die "$bindir/postgres --version failed"
    major=$(sed -E 's/^[^0-9]*([0-9]+).*/\1/' <<<"$version")
    if [[ $major != "$want_major" ]]; then
        echo "$me: warning: $bindir is $version, not PostgreSQL $want_major; using it anyway" >&2
    fi
    if [[ -x $bindir/psql ]]; then
        psql_bin=$bindir/psql
    else
        psql_bin=$(command -v psql) || { echo "$me: psql not found (in $bindir or PATH)" >&2; exit 3; }
    fi
}

# --- running the server's tools as the right user ------------------------------------

# fd 3 (the caller's stdout) is closed for every child: the postmaster outlives the
# script, and holding the pipe open would make the caller's $(…) wait forever.
run_as_owner() {   # owner, command… (cwd is DIR so that postgres can access it)
    local owner=$1
    shift
    if is_root; then
        (cd "$dir" && exec runuser -u "$owner" -- "$@") 3>&-
    else
        (cd "$dir" && exec "$@") 3>&-
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

conf_quote() { printf "'%s'" "${1//\'/\'\'}"; }   # a postgresql.conf string literal

# --- start ---------------------------------------------------------------------------

cmd_start() {
    local created_dir=0 started=0 owner port url attempt=0
    command -v python3 >/dev/null || die "python3 is required (to pick a free port)"
    require_postgres

    if [[ -e $dir ]]; then
        [[ -d $dir ]] || die "$dir exists and is not a directory"
        [[ -z $(ls -A "$dir") ]] || die "$dir is not empty (a cluster there already? stop it first)"
    else
        mkdir -p "$dir"
        created_dir=1
    fi
    dir=$(cd "$dir" && pwd -P)
    # A Unix socket path is limited to 107 bytes: DIR/.s.PGSQL.NNNNN must fit.
    (( ${#dir} + 18 <= 107 )) || { [[ $created_dir -eq 1 ]] && rmdir "$dir"; die "$dir is too long for a Unix socket directory (at most 89 characters)"; }

    owner=$(id -un)
    if is_root; then
        owner=postgres
        if ! id -u postgres >/dev/null 2>&1; then
            echo "$me: creating the system user postgres (initdb cannot run as root)…"
            useradd --system --no-create-home --home-dir "$dir" --shell /usr/sbin/nologin postgres \
                || die "could not create the postgres user"
        fi
        chown postgres: "$dir"
        chmod 0700 "$dir"
        if ! runuser -u postgres -- test -w "$dir" -a -x "$dir"; then
            [[ $created_dir -eq 1 ]] && rm -rf "$dir"
            die "the postgres user cannot reach $dir: a parent directory is not searchable by it (mktemp -d makes mode 0700 directories; pass the mktemp -d directory itself, not a subdirectory)"
        fi
    fi

    on_failure() {
        local status=$?
        trap - EXIT
        set +e
        if [[ $status -ne 0 ]]; then
            [[ -s $dir/log ]] && { echo "--- $dir/log (last 30 lines)"; tail -n 30 "$dir/log"; }
            if [[ $started -eq 1 ]]; then run_as_owner "$owner" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1; fi
            if [[ $created_dir -eq 1 ]]; then rm -rf "$dir"; else find "$dir" -mindepth 1 -delete; fi
            echo "$me: start failed; $dir cleaned up" >&2
        fi
        exit "$status"
    }
    trap on_failure EXIT
    trap 'exit 130' INT TERM

    : >"$dir/$marker"
    [[ $owner == "$(id -un)" ]] || chown "$owner": "$dir/$marker"

    echo "$me: initdb in $dir/data ($bindir)…"
    run_as_owner "$owner" "$bindir/initdb" -D "$dir/data" -A trust -U postgres \
        --encoding=UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log"; die "initdb failed"; }

    cat >>"$dir/data/postgresql.conf" <<EOF

# --- pg-test-cluster.sh: a throwaway test cluster, loopback only -------------------
listen_addresses = '127.0.0.1'
unix_socket_directories = $(conf_quote "$dir")
max_connections = 300
shared_buffers = 128MB
fsync = on
include = 'port.conf'
EOF

    # A free port can be taken between the check and the bind: try a few.
    while :; do
        attempt=$((attempt + 1))
        port=$(free_port)
        run_as_owner "$owner" sh -c 'printf "port = %s\n" "$1" >"$2"' sh "$port" "$dir/data/port.conf"
        echo "$me: starting PostgreSQL on 127.0.0.1:$port…"
        if run_as_owner "$owner" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start >/dev/null; then
            started=1
            break
        fi
        # A server that did not come up might still be around; make sure it is not.
        run_as_owner "$owner" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
        if (( attempt >= 3 )) || ! grep -q 'could not bind\|Address already in use' "$dir/log" 2>/dev/null; then
            die "pg_ctl start failed"
        fi
        echo "$me: port $port was taken; trying another"
    done

    "$psql_bin" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
        -c "CREATE ROLE taskbridge LOGIN PASSWORD 'taskbridge' CREATEDB" \
        -c "CREATE DATABASE taskbridge OWNER taskbridge" \
        || die "could not create the role and database taskbridge"

    url="postgres://taskbridge:taskbridge@127.0.0.1:$port/taskbridge"
    "$psql_bin" -X -q -At -v ON_ERROR_STOP=1 "$url" -c 'select 1' >/dev/null \
        || die "cannot connect as taskbridge to $url"
    printf '%s\n' "$url" >"$dir/url" || true

    trap - EXIT INT TERM
    echo "$me: PostgreSQL is up (data $dir/data, log $dir/log); stop it with: $me stop $dir"
    printf '%s\n' "$url" >&3
}

# --- stop ----------------------------------------------------------------------------

cmd_stop() {
    if [[ ! -e $dir ]]; then
        echo "$me: $dir does not exist; nothing to stop"
        return 0
    fi
    [[ -d $dir ]] || die "$dir is not a directory"
    dir=$(cd "$dir" && pwd -P)
    # An empty directory: a start that failed (and cleaned up) or never ran.
    if [[ -z $(ls -A "$dir") ]]; then
        rmdir "$dir"
        echo "$me: removed the empty $dir"
        return 0
    fi
    # Refuse to delete a directory this script did not create.
    [[ -e $dir/$marker ]] || die "$dir is not a cluster made by $me (no $marker); not touching it"

    if [[ -f $dir/data/postmaster.pid ]]; then
        local owner pid
        owner=$(stat -c %U "$dir/data")
        pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
        find_bindir || die "PostgreSQL binaries not found; cannot stop the server in $dir/data"
        echo "$me: stopping PostgreSQL in $dir/data…"
        if ! run_as_owner "$owner" "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null; then
            echo "$me: fast shutdown failed; trying immediate"
            if ! run_as_owner "$owner" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null; then
                if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
                    echo "$me: killing postmaster $pid"
                    kill -KILL "$pid" 2>/dev/null || true
                fi
            fi
        fi
        # pg_ctl returns once postmaster.pid is gone, a moment before the process exits.
        if [[ $pid =~ ^[0-9]+$ ]]; then
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
    fi
    rm -rf "$dir"
    echo "$me: removed $dir"
}

# --- main ------------------------------------------------------------------------------

[[ $# -eq 2 && -n $2 ]] || usage
dir=$2
case $1 in
    start) cmd_start ;;
    stop) cmd_stop ;;
    *) usage ;;
esac
