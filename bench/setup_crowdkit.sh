#!/usr/bin/env bash
# A separate virtualenv with crowd-kit, for bench/bench_crowd_consolidation.py only: crowd-kit
# pulls in scikit-learn, scipy, nltk, transformers... that the project (and its Lambdas) never
# need, so it stays out of .venv. Safe to re-run. Usage: bench/setup_crowdkit.sh [venv dir]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-bench/.venv-crowdkit}
want="crowd-kit==1.4.2 pandas==3.1.1 numpy==2.4.6"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ "$(cat "$venv/.pins" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $want
  echo "$want" > "$venv/.pins"
fi
"$venv/bin/python" -c "import crowdkit.aggregation" >/dev/null
