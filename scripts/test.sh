#!/usr/bin/env bash
# Run the whole suite on SQLite, then on PostgreSQL.
# PostgreSQL: TEST_DATABASE_URL if set, else a throwaway local cluster (scripts/pg.sh) when
# the server binaries are installed; otherwise say plainly that the pass did not run.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
status=0

echo "== pass 1/2: SQLite =="
env -u TEST_DATABASE_URL "$BIN/python" -m pytest "$@" || status=$?

echo "== pass 2/2: PostgreSQL =="
url="${TEST_DATABASE_URL:-}"
started=""
if [ -z "$url" ]; then
  # Leave a cluster that was already running (e.g. a developer's) running afterwards.
  scripts/pg.sh status 2>/dev/null || started=1
  url="$(scripts/pg.sh start)" || { url=""; started=""; }
fi
if [ -n "$url" ]; then
  TEST_DATABASE_URL="$url" "$BIN/python" -m pytest "$@" || status=$?
  [ -n "$started" ] && scripts/pg.sh stop
else
  echo "PostgreSQL pass DID NOT RUN: no TEST_DATABASE_URL and no PostgreSQL server installed."
  echo "Install the 'postgresql' package (or set TEST_DATABASE_URL) to run it."
fi
exit $status
