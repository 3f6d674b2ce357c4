#!/usr/bin/env bash
# Sets up (if needed) and writes a job's output (or final) manifest as a CSV table, one row per object
# (see local_ground_truth/labels_csv.py):
#   ./scripts/labels_csv.sh output.manifest [-o labels.csv] [--label-attribute NAME]
# Paths are read from where you run it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
(cd "$repo" && ./scripts/bootstrap.sh >&2)
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" exec "$repo/.venv/bin/python" -m local_ground_truth.labels_csv "$@"
