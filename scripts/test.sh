#!/usr/bin/env bash
# Sets up (if needed) and runs the whole test suite: `./scripts/test.sh [pytest args]`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
exec .venv/bin/python -m pytest "$@"
