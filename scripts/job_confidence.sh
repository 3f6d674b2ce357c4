#!/usr/bin/env bash
# Sets up (if needed) and writes an output manifest again with the whole job's confidences, as the expert review
# reads them (with review off nothing else does; see local_ground_truth/revise_confidence.py):
#   ./scripts/job_confidence.sh output.manifest [--workflow NAME] [-o job-confidence.manifest]
# Paths are read from where you run it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
(cd "$repo" && ./scripts/bootstrap.sh >&2)
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" exec "$repo/.venv/bin/python" -m local_ground_truth.revise_confidence "$@"
