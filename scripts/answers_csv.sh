#!/usr/bin/env bash
# Sets up (if needed) and writes a job's raw answers as a CSV table, one row per worker's answer
# (see local_ground_truth/answers_csv.py):
#   ./scripts/answers_csv.sh ANSWERS_FOLDER [-o answers.csv]
# Paths are read from where you run it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
(cd "$repo" && ./scripts/bootstrap.sh >&2)
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" exec "$repo/.venv/bin/python" -m local_ground_truth.answers_csv "$@"
