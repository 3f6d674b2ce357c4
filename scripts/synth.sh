#!/usr/bin/env bash
# Sets up (if needed) and synthesizes every stack offline, Lambda assets bundled, cdk-nag on.
# `./scripts/synth.sh [env]` (default: dev). Needs no AWS account or credentials.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
env_name=${1:-dev}
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
# shellcheck disable=SC1091
. .venv/bin/activate
npx cdk synth --all --quiet -c env="$env_name" --output cdk.out
echo
echo "Synthesized environment '$env_name' (cdk-nag AwsSolutions: no unacknowledged findings):"
for template in cdk.out/*.template.json; do
  echo "  $template"
done
echo "Bundled Lambda assets: cdk.out/asset.*"
