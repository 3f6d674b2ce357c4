#!/usr/bin/env bash
# Sets up (if needed) and writes a data folder's input manifest, a line per file (the images in it by default)
# (see local_ground_truth/folder_manifest.py):
#   ./scripts/folder_manifest.sh ~/photos [--match '*.txt'] [--append]
# Paths are read from where you run it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
(cd "$repo" && ./scripts/bootstrap.sh >&2)
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" exec "$repo/.venv/bin/python" -m local_ground_truth.folder_manifest "$@"
