# Sourced by the scripts (`. scripts/common.sh`, from the project's folder): what they share.
# jsii prints a box of warnings at every start on Node 20, past its end of life (Python's copy: stacks/node_runtime.py).
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
# The system Chromium the browser tests drive (Python's copy: scripts/chromium.py).
# shellcheck disable=SC2034
CHROMIUM=/usr/bin/chromium
