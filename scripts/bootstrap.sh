#!/usr/bin/env bash
# Sets up a fresh machine for this project: a virtualenv with the pinned Python packages and the
# pinned CDK CLI from package-lock.json. Safe to re-run; it only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v python3 >/dev/null || { echo "bootstrap: python3 (3.11+) is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "bootstrap: Node.js 20+ and npm are required for the CDK CLI" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
# By content, as the virtualenv: a fresh clone's package-lock.json is newer than any node_modules by date alone.
lock_stamp=node_modules/.package-lock.sha
lock_want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -x node_modules/.bin/cdk ] || [ "$(cat "$lock_stamp" 2>/dev/null)" != "$lock_want" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_want" > "$lock_stamp"
fi
# The Lambda runtime's Python: the bundler compiles every asset's bytecode with it (a bundle
# cannot be built without it). Installs only when missing or of the wrong version.
./scripts/install_runtime_python.sh
