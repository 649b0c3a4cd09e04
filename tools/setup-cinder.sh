#!/bin/bash
# Create (once) the separate venv holding the real cinder-api the functional
# tests, the demo and the benchmarks run as a subprocess. Our own code never
# imports cinder: its eventlet monkey-patching must stay out of our process.
# Prints the venv path. Override it with CINDER_RECONCILER_CINDER_VENV.
set -euo pipefail

CINDER_VERSION=29.0.0
VENV=${CINDER_RECONCILER_CINDER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cinder-reconciler/cinder-$CINDER_VERSION}
PYTHON=${PYTHON:-python3}

# fixtures: cinder.tests.fake_driver (the base of the manageable-API tests'
# volume driver, tests/incinder) imports it. PyMySQL: the cloud scope's
# tests keep Cinder's database on MariaDB (tests/nova_fixtures.py).
if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('cinder') != '$CINDER_VERSION' or not m.version('fixtures') or not m.version('PyMySQL'))" 2>/dev/null; then
    mkdir -p "$(dirname "$VENV")"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip >&2
    "$VENV/bin/pip" install --quiet "cinder==$CINDER_VERSION" fixtures PyMySQL >&2
fi
echo "$VENV"
