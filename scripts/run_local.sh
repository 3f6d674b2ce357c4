#!/usr/bin/env bash
# Sets up (if needed) and runs a whole labeling job on this machine, no AWS account needed:
#   ./scripts/run_local.sh                       # the default workflow below; workers label in a browser
#   ./scripts/run_local.sh --workflow ner        # any workflow of the app (--list-workflows names them)
#   ./scripts/run_local.sh --simulate-workers 3 --accuracy 0.8   # headless, simulated workers
set -euo pipefail
DEFAULT_WORKFLOW=welding  # when neither --workflow nor --list-workflows is given
# Relative paths typed here (--data ./welds, --state-dir, --truth, --cloud-assembly) are of the folder the command
# was typed in, not of the repository it runs from (local_ground_truth.__main__.CALLER_DIR_ENV).
export LOCAL_GT_CALLER_DIR="$PWD"
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
# shellcheck source=scripts/common.sh
. scripts/common.sh
case " $* " in
  *" --workflow "*|*" --workflow="*|*" --list-workflows "*) exec .venv/bin/python -m local_ground_truth "$@" ;;
  *) exec .venv/bin/python -m local_ground_truth --workflow "$DEFAULT_WORKFLOW" "$@" ;;
esac
