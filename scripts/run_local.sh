#!/usr/bin/env bash
# Sets up (if needed) and runs a whole labeling job on this machine, no AWS account needed:
#   ./scripts/run_local.sh                       # the default workflow below; workers label in a browser
#   ./scripts/run_local.sh --workflow ner        # any workflow of the app (--list-workflows names them)
#   ./scripts/run_local.sh --simulate-workers 3 --accuracy 0.8   # headless, simulated workers
set -euo pipefail
DEFAULT_WORKFLOW=welding  # when neither --workflow nor --list-workflows is given
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
# shellcheck source=scripts/common.sh
. scripts/common.sh
case " $* " in
  *" --workflow "*|*" --workflow="*|*" --list-workflows "*) exec .venv/bin/python -m local_ground_truth "$@" ;;
  *) exec .venv/bin/python -m local_ground_truth --workflow "$DEFAULT_WORKFLOW" "$@" ;;
esac
