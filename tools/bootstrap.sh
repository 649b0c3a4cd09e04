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
# pip's own chatter (warnings about this machine's indexes, setuptools'
# notes on editable installs) goes to .venv/bootstrap.log: an operator
# running the demo sees only an error, with the end of that log.
pip_install() {
    if ! .venv/bin/pip install -q --disable-pip-version-check "$@" \
            >>.venv/bootstrap.log 2>&1; then
        echo "bootstrap: pip install failed; the end of .venv/bootstrap.log:" >&2
        tail -n 20 .venv/bootstrap.log >&2
        return 1
    fi
}
: >.venv/bootstrap.log
pip_install -U pip
# The extras: the array client libraries the simulators' drivers need. Under
# the same constraints as tox (constraints.txt, or TOX_CONSTRAINTS_FILE), so
# the demo and CI run the versions the tests were run with.
pip_install -c "${TOX_CONSTRAINTS_FILE:-constraints.txt}" \
    -r requirements.txt -r test-requirements.txt -e '.[all]'
.venv/bin/python -c 'import reconciler.cmd, hpe3parclient, hpelefthandclient' # fails loudly if the install did
bash tools/setup-cinder.sh >/dev/null
bash tools/setup-keystone.sh >/dev/null
