#!/usr/bin/env bash
# Sets up (if needed) and runs the whole test suite: `./scripts/test.sh [pytest args]`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
# shellcheck source=scripts/common.sh
. scripts/common.sh
# The worker-UI tests drive the system Chromium; a missing browser is a failure, never a skip.
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test: installing Debian's chromium for the browser tests" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "test: the browser tests need Chromium at $CHROMIUM (Debian/Ubuntu: sudo apt-get install chromium)" >&2
    exit 1
  fi
fi
# One test process per core (pytest-xdist); TEST_WORKERS=0 runs in this process (e.g. for a debugger), as does
# --snapshot-update (processes updating one snapshot file at once would lose each other's snapshots).
workers="${TEST_WORKERS:-auto}"
for arg in "$@"; do
  if [ "$arg" = "--snapshot-update" ]; then workers="${TEST_WORKERS:-0}"; fi
done
exec .venv/bin/python -m pytest -n "$workers" "$@"
