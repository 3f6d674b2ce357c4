#!/usr/bin/env bash
# Installs the Lambda runtime's Python (CPython of labeling_constructs/lambda_dependencies.py's
# PYTHON_VERSION) into .runtime-python/, for the
# bundler to compile each asset's bytecode with and for bench/bench_cold_start.py to measure.
#
# Debian's own packages, fetched with apt-get into a private apt state (the machine's sources,
# its dpkg database and its system Python are left as they are) and unpacked with dpkg -x, with
# the C library they were built against: the interpreter runs through that glibc's loader, so it
# works on an older Debian/Ubuntu host. Also installs, for measuring only, the AWS SDK version of
# requirements.txt (the Lambda runtime ships boto3) into .runtime-python/sdk/, compiled as the
# runtime ships it. Safe to re-run: does nothing when the interpreter answers with the right
# version. Needs apt-get and dpkg (Debian or Ubuntu) and root or sudo for apt-get's download.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^PYTHON_VERSION = "\(.*\)"$/\1/p' labeling_constructs/lambda_dependencies.py)
[ -n "$version" ] || { echo "install_runtime_python: no PYTHON_VERSION in labeling_constructs/lambda_dependencies.py" >&2; exit 1; }
suite=${RUNTIME_PYTHON_SUITE:-sid}  # the Debian suite that carries python$version
dest=.runtime-python
sdk_pin=$(grep -E '^boto3==' requirements.txt)

answers() {
  [ -x "$dest/bin/python$version" ] &&
    "$dest/bin/python$version" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$version'.split('.'))))" 2>/dev/null &&
    [ -f "$dest/sdk/.pin" ] && [ "$(cat "$dest/sdk/.pin")" = "$sdk_pin" ]
}
if answers; then
  exit 0
fi

for tool in apt-get dpkg; do
  command -v "$tool" >/dev/null || { echo "install_runtime_python: $tool is required (Debian or Ubuntu)" >&2; exit 1; }
done
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install_runtime_python: run as root or install sudo (apt-get downloads as root)" >&2; exit 1; }
  sudo=sudo
fi

work=$(mktemp -d)
trap '$sudo rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
touch "$work/status"  # an empty dpkg database: apt resolves the whole closure, glibc included
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" > "$work/sources.list"
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || {
  echo "install_runtime_python: /usr/share/keyrings/debian-archive-keyring.gpg is missing (apt-get install debian-archive-keyring)" >&2; exit 1; }
apt_options=(
  -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Dir::State::status=$work/status"
  -o Debug::NoLocking=1 -o APT::Sandbox::User=root
)
echo "install_runtime_python: fetching Debian $suite's python$version" >&2
$sudo apt-get "${apt_options[@]}" update -qq
$sudo apt-get "${apt_options[@]}" install -y -qq --download-only --no-install-recommends \
  "python$version-minimal" "libpython$version-stdlib" libstdc++6 >/dev/null

rm -rf "$dest"
mkdir -p "$dest/root" "$dest/bin"
for deb in "$work"/cache/archives/*.deb; do
  dpkg -x "$deb" "$dest/root"
done
root=$(cd "$dest/root" && pwd)
libs=$root/usr/lib/x86_64-linux-gnu
[ -x "$root/usr/bin/python$version" ] && [ -x "$libs/ld-linux-x86-64.so.2" ] || {
  echo "install_runtime_python: Debian $suite's packages did not hold python$version and its loader" >&2; exit 1; }
# Run it through that glibc's loader, so that it works on an older host. (Its sys.executable is
# the bare binary: processes it would start itself, multiprocessing's workers, do not run; nothing
# here needs them.)
printf '#!/bin/sh\nexec "%s" --library-path "%s" "%s" "$@"\n' \
  "$libs/ld-linux-x86-64.so.2" "$libs" "$root/usr/bin/python$version" > "$dest/bin/python$version"
chmod +x "$dest/bin/python$version"
py="$dest/bin/python$version"

# The runtime ships its standard library compiled; dpkg -x runs no post-install step, so compile it here.
"$py" -m compileall -q "$root/usr/lib/python$version" >/dev/null || true  # its test data holds invalid files on purpose
# The SDK the runtime provides, compiled by its own Python as in the runtime (for measuring only).
.venv/bin/python -m pip install --quiet --no-warn-conflicts --disable-pip-version-check --only-binary=:all: --no-compile \
  --python-version "$version" --implementation cp --target "$dest/sdk" "$sdk_pin"
"$py" -m compileall -q "$dest/sdk" >/dev/null
echo "$sdk_pin" > "$dest/sdk/.pin"

answers || { echo "install_runtime_python: $py does not run as Python $version" >&2; exit 1; }
echo "install_runtime_python: $("$py" -c 'import sys; print(sys.version.split()[0])') at $py" >&2
