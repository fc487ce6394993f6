#!/usr/bin/env bash
# make fuzz: schemathesis against the JSON API (tests/fuzz), on SQLite, then on PostgreSQL:
# FUZZ_DATABASE_URL if set, else database approval_fuzz on the throwaway cluster of scripts/pg.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
status=0

echo "== fuzz 1/2: SQLite =="
env -u TEST_DATABASE_URL -u FUZZ_DATABASE_URL "$BIN/python" -m pytest tests/fuzz -q -p no:cacheprovider "$@" || status=$?

echo "== fuzz 2/2: PostgreSQL =="
url="${FUZZ_DATABASE_URL:-}"
started=""
if [ -z "$url" ]; then
  scripts/pg.sh status 2>/dev/null || started=1
  if server="$(scripts/pg.sh start)"; then
    url="$("$BIN/python" -c 'import sys; from bench._util import ensure_pg_database as e; print(e(sys.argv[1], "approval_fuzz"))' "$server")" || url=""
  else
    started=""
  fi
fi
if [ -n "$url" ]; then
  env -u TEST_DATABASE_URL FUZZ_DATABASE_URL="$url" "$BIN/python" -m pytest tests/fuzz -q -p no:cacheprovider "$@" \
    || status=$?
else
  echo "PostgreSQL fuzz pass DID NOT RUN: no FUZZ_DATABASE_URL and no PostgreSQL server installed."
  status=1
fi
[ -n "$started" ] && scripts/pg.sh stop
exit $status
