#!/usr/bin/env bash
# Sets up (if needed) and scaffolds a new labeling workflow:
#   ./scripts/new_workflow.sh ticket_triage --question classification:priority=Low,Medium,High \
#       --question checkbox:needs_reply --question free-text:summary
# writes its definition, pre-labeling package and test, template and sample data (see workflows/scaffold.py).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
exec .venv/bin/python -m workflows.scaffold "$@"
