#!/usr/bin/env bash
# Set up a virtualenv for one interpreter and run the test suite in it.
#
#   tools/run-tests.sh                      # python3 (3.11+), full suite
#   tools/run-tests.sh /opt/python3.13t/bin/python3.13t
#   tools/run-tests.sh python3 -k strings   # extra args go to pytest
#
# The venv lives in .venv-<interpreter tag> beside the checkout and is reused.
# On a free-threaded interpreter, hiredis is not installed: importing it (3.5.0)
# would switch the GIL back on, and Ferrous keeps the pure-Python parser there.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${1:-python3}"
shift || true

tag=$("$PY" -c 'import sys, sysconfig; print("%d.%d%s" % (sys.version_info[0], sys.version_info[1], "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""))')
venv=".venv-$tag"
if [[ ! -x "$venv/bin/python" ]]; then
    "$PY" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
extras="test"
if [[ "$tag" != *t ]]; then
    extras="test,fast"
else
    # Newer hypothesis releases ship compiled wheels for 3.13 but not 3.13t, and
    # building them needs crates.io, which is out of reach here.
    "$venv/bin/python" -m pip install -q "hypothesis<=6.155.7"
fi
"$venv/bin/python" -m pip install -q -e ".[$extras]"

echo "== pytest on Python $tag ($("$venv/bin/python" -c 'import sys; print(sys.version.split()[0])'))"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider --timeout 600 "$@"
