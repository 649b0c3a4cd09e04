#!/bin/bash
# Create (once) the separate venv holding the real Keystone the API tests
# and the demo run as a subprocess, under uWSGI as devstack runs it. Like
# Cinder's, it stays out of our own venv (Keystone pins its own Flask and
# SQLAlchemy stack). Prints the venv path. Override it with
# CINDER_RECONCILER_KEYSTONE_VENV.
set -euo pipefail

KEYSTONE_VERSION=30.0.0
VENV=${CINDER_RECONCILER_KEYSTONE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cinder-reconciler/keystone-$KEYSTONE_VERSION}
PYTHON=${PYTHON:-python3}

if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('keystone') != '$KEYSTONE_VERSION' or not m.version('pyuwsgi'))" 2>/dev/null; then
    mkdir -p "$(dirname "$VENV")"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip >&2
    "$VENV/bin/pip" install --quiet "keystone==$KEYSTONE_VERSION" pyuwsgi >&2
fi
echo "$VENV"
