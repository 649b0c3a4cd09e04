#!/usr/bin/env bash
# Prepare a fresh machine (only Python 3.11+ and root needed): the project's
# virtualenv in .venv, the real Cinder API's virtualenv (tools/setup-cinder.sh)
# and the real Keystone's (tools/setup-keystone.sh).
# Idempotent; sourced by tools/demo.sh and tools/run-tests.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys, venv, ensurepip; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    echo "bootstrap: installing python3-venv (needs Python >= 3.11)" >&2
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -U pip >/dev/null
# The extras: the array client libraries the simulators' drivers need.
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt \
    -r test-requirements.txt -e '.[all]' 2>&1 | grep -v -e 'is ignored' >&2 || true
.venv/bin/python -c 'import reconciler.cmd, hpe3parclient, hpelefthandclient' # fails loudly if the install did
bash tools/setup-cinder.sh >/dev/null
bash tools/setup-keystone.sh >/dev/null
