#!/usr/bin/env bash
# Install the front-end packages from package-lock.json and copy the files the pages use
# into app/static/vendor (not committed). Run by `make run` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=app/static/vendor/.installed
# Also redone when this script changes (a newly copied file must reach existing checkouts).
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ] && [ "$stamp" -nt "$0" ]; then exit 0; fi
npm ci --no-audit --no-fund --loglevel=error
dest=app/static/vendor
rm -rf "$dest"
mkdir -p "$dest/bpmn-js/bpmn-font/css" "$dest/bpmn-js/bpmn-font/font"
cp node_modules/htmx.org/dist/htmx.min.js "$dest/htmx.min.js"
# The supervisor dashboard (/dashboard) draws its charts with Apache ECharts.
cp node_modules/echarts/dist/echarts.min.js "$dest/echarts.min.js"
cp node_modules/bpmn-js/dist/bpmn-navigated-viewer.production.min.js "$dest/bpmn-js/"
# The process modeler page (/designer/<key>/edit) edits diagrams with the full Modeler.
cp node_modules/bpmn-js/dist/bpmn-modeler.production.min.js "$dest/bpmn-js/"
cp node_modules/bpmn-js/dist/assets/diagram-js.css node_modules/bpmn-js/dist/assets/bpmn-js.css "$dest/bpmn-js/"
cp node_modules/bpmn-js/dist/assets/bpmn-font/css/bpmn.css "$dest/bpmn-js/bpmn-font/css/"
cp node_modules/bpmn-js/dist/assets/bpmn-font/font/* "$dest/bpmn-js/bpmn-font/font/"
touch "$stamp"
