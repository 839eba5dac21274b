#!/bin/sh
# Entry point of the local stand-ins for the official postgres and redis images (build machines
# without a registry; `make images` builds them from Debian's packages). It keeps the interface the
# compose file and the container tests use of the official images:
#   postgres      POSTGRES_USER (postgres), POSTGRES_PASSWORD (required), POSTGRES_DB (= user);
#                 data in PGDATA (/var/lib/postgresql/data); listens on 5432; password auth.
#   redis-server  any redis-server arguments.
set -eu
case "${1:-}" in
  postgres)
    shift
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
    user=${POSTGRES_USER:-postgres}; db=${POSTGRES_DB:-$user}
    PGDATA=${PGDATA:-/var/lib/postgresql/data}; export PGDATA
    bin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
      pwfile=$(mktemp); printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"; chown postgres "$pwfile"
      as_pg "$bin/initdb" -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 -E UTF8 >/dev/null
      rm -f "$pwfile"
      echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
      if [ "$db" != postgres ]; then
        as_pg "$bin/postgres" --single -D "$PGDATA" -j postgres <<SQL >/dev/null
CREATE DATABASE "$db" OWNER "$user";
SQL
      fi
    fi
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$PGDATA" \
      -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql "$@"
    ;;
  redis-server)
    shift
    mkdir -p /data && chown redis:redis /data
    exec setpriv --reuid=redis --regid=redis --init-groups /usr/bin/redis-server --bind 0.0.0.0 --protected-mode no \
      --dir /data "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
