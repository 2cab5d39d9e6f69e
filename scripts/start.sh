#!/usr/bin/env bash
# The main job: installs what is missing, then serves the shipped model (models/omniglot-fast) with
# the embedded SQLite gallery (./twinshot-data/gallery.db) and the web page on http://127.0.0.1:8080/.
# Extra arguments go to `twinshot serve` (e.g. --port 9000, --store postgres://...).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
exec node bin/twinshot.js serve "$@"
