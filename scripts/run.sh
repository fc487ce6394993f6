#!/usr/bin/env bash
# Serve the app with gunicorn and run one timer worker beside it; stop both together.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/flask worker &
worker=$!
trap 'kill "$worker" 2>/dev/null || true' EXIT INT TERM
.venv/bin/gunicorn --config gunicorn.conf.py wsgi:app
