#!/bin/sh
# `postgres ARGS…`: on an empty PGDATA, initdb with POSTGRES_USER (default postgres) and
# POSTGRES_PASSWORD (required), password logins (scram-sha-256) from any address, then
# POSTGRES_DB (default: the user's name) created; then the server, as PID 1.
# Anything else is run as given.
set -eu
if [ "${1:-}" != postgres ]; then
    exec "$@"
fi
shift
: "${PGDATA:=/var/lib/postgresql/data}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "POSTGRES_PASSWORD is not set: refusing to make a cluster without one" >&2
        exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --pgdata="$PGDATA" --username="$user" --pwfile="$pwfile" --encoding=UTF8 \
        --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    if [ "$db" != postgres ]; then
        # Socket only, so nothing connects before the database exists.
        pg_ctl --pgdata="$PGDATA" --wait --silent -o "-c listen_addresses=''" start
        echo 'CREATE DATABASE :"db"' | psql --username="$user" --dbname=postgres \
            --no-psqlrc --quiet --set ON_ERROR_STOP=1 --set db="$db"
        pg_ctl --pgdata="$PGDATA" --wait --silent stop
    fi
    echo "cluster made in $PGDATA: user $user, database $db"
fi
exec postgres "$@"
