#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL cluster for tests (loopback only).
#   scripts/pg.sh start   -> prints the SQLAlchemy URL on stdout, exit 1 if no server binaries
#   scripts/pg.sh stop
set -euo pipefail
PGPORT="${PGPORT:-55432}"
PGROOT="${PGROOT:-/tmp/approval-pg-$PGPORT}"
BINDIR="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
[ -n "$BINDIR" ] && [ -x "$BINDIR/initdb" ] || { echo "no PostgreSQL server binaries found" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
  start)
    if [ "$(id -u)" = "0" ]; then install -d -o postgres -g postgres "$PGROOT"; else mkdir -p "$PGROOT"; fi
    if [ ! -f "$PGROOT/data/PG_VERSION" ]; then
      as_owner "$BINDIR/initdb" -D "$PGROOT/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! as_owner "$BINDIR/pg_ctl" -D "$PGROOT/data" status >/dev/null 2>&1; then
      as_owner "$BINDIR/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/server.log" -w -t 60 \
        -o "-p $PGPORT -k $PGROOT -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null
    fi
    as_owner "$BINDIR/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='approval_test'" | grep -q 1 || \
      as_owner "$BINDIR/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres approval_test
    echo "postgresql+psycopg://postgres@127.0.0.1:$PGPORT/approval_test"
    ;;
  status)
    as_owner "$BINDIR/pg_ctl" -D "$PGROOT/data" status >/dev/null 2>&1
    ;;
  stop)
    as_owner "$BINDIR/pg_ctl" -D "$PGROOT/data" -m fast stop >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|status|stop" >&2; exit 2 ;;
esac
