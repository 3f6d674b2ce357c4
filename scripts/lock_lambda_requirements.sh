#!/usr/bin/env bash
# Regenerates each Lambda package's requirements.lock from its requirements.txt: every distribution,
# transitive ones too, pinned with its hashes and resolved for the Lambda runtime (its Python version
# and platform, read from labeling_constructs/lambda_dependencies.py), wheels only. The bundler
# installs nothing else. Pins already in a lock are kept unless requirements.txt needs others.
#   ./scripts/lock_lambda_requirements.sh                        # every package with a requirements.txt
#   ./scripts/lock_lambda_requirements.sh --upgrade              # newest versions requirements.txt allows
#   ./scripts/lock_lambda_requirements.sh --upgrade-package pillow
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
read -r python_version platform lock_name < <(.venv/bin/python -c \
  'from labeling_constructs.lambda_dependencies import PYTHON_VERSION, UV_PLATFORM, LOCK_FILE; print(PYTHON_VERSION, UV_PLATFORM, LOCK_FILE)')
for requirements in lambda_src/*/requirements.txt; do
  lock="$(dirname "$requirements")/$lock_name"
  echo "lock: $requirements -> $lock" >&2
  .venv/bin/uv pip compile "$requirements" --output-file "$lock" --quiet \
    --python-version "$python_version" --python-platform "$platform" --only-binary :all: --generate-hashes \
    --no-config --custom-compile-command "./scripts/lock_lambda_requirements.sh" "$@"
done
