#!/bin/bash
# Create (once) the separate venv holding a real Nova (API, conductor,
# scheduler, compute on Nova's fake virt driver) and Placement, which the
# cloud scope's functional tests run as subprocesses beside the real
# cinder-api (tests/nova_fixtures.py). Our own code never imports Nova.
# Prints the venv path. Override it with CINDER_RECONCILER_NOVA_VENV.
set -euo pipefail

NOVA_VERSION=34.0.0
PLACEMENT_VERSION=16.0.0
VENV=${CINDER_RECONCILER_NOVA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cinder-reconciler/nova-$NOVA_VERSION}
PYTHON=${PYTHON:-python3}

# gunicorn serves nova-api and placement (Nova 34 ships no nova-api
# script); PyMySQL reaches the MariaDB its databases need.
if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('nova') != '$NOVA_VERSION' or m.version('openstack-placement') != '$PLACEMENT_VERSION' or not m.version('gunicorn') or not m.version('PyMySQL'))" 2>/dev/null; then
    mkdir -p "$(dirname "$VENV")"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip >&2
    "$VENV/bin/pip" install --quiet "nova==$NOVA_VERSION" \
        "openstack-placement==$PLACEMENT_VERSION" gunicorn PyMySQL >&2
fi
echo "$VENV"
