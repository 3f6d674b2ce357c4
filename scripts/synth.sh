#!/usr/bin/env bash
# Sets up (if needed) and synthesizes every stack offline, Lambda assets bundled, cdk-nag on.
# `./scripts/synth.sh [env]` (default: cdk.json's defaultEnvironment). Needs no AWS account or credentials.
set -euo pipefail
case "${1-}" in
  -h|--help) echo "usage: ./scripts/synth.sh [ENV]   (an environment of cdk.json; default: its defaultEnvironment)"; exit 0 ;;
  -*) echo "synth.sh: $1 is not an option; usage: ./scripts/synth.sh [ENV]" >&2; exit 2 ;;
esac
if [ $# -gt 1 ]; then echo "synth.sh: one environment at a time; usage: ./scripts/synth.sh [ENV]" >&2; exit 2; fi
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
# shellcheck source=scripts/common.sh
. scripts/common.sh
# shellcheck disable=SC1091
. .venv/bin/activate
# An empty name (`"$ENV"` left unset) is refused by the app, not replaced by the default.
env_name=${1-$(python -m stacks.cdk_json)}
npx cdk synth --quiet -c env="$env_name" --output cdk.out  # every stack (synth has no --all)
echo
echo "Synthesized environment '$env_name' (cdk-nag AwsSolutions: no unacknowledged findings):"
# The stacks cdk.out/manifest.json lists: templates of another environment synthesized earlier stay beside them.
python -c 'import json; m = json.load(open("cdk.out/manifest.json"))
print("\n".join("  cdk.out/" + a["properties"]["templateFile"] for a in m["artifacts"].values()
                if a["type"] == "aws:cloudformation:stack"))'
echo "Bundled Lambda assets: cdk.out/asset.*"
