#!/usr/bin/env bash
# Install the Debian packages bindep.txt lists for a profile (the argument:
# "test", the default, or "demo") when they are missing (one apt-get
# update); needs root on a machine without them. bindep comes with the test
# requirements (tools/bootstrap.sh installs it in .venv). The packages' own
# system services are kept stopped: the tests and the demo start their
# servers on 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
profile=${1:-test}

# bindep prints the missing packages, one per line, and exits 1 if any.
mapfile -t missing < <(.venv/bin/bindep -b "$profile" || true)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-debs: not root, cannot install ${missing[*]}" >&2
    exit 1
fi
policy=/usr/sbin/policy-rc.d
if [ ! -e $policy ]; then
    # Tells the packages' scripts not to start their services.
    printf '#!/bin/sh\nexit 101\n' > $policy
    chmod +x $policy
    trap 'rm -f $policy' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -qq -o DPkg::Lock::Timeout=300 "$@"; }
apt_get update
apt_get install -y --no-install-recommends "${missing[@]}" >/dev/null
# The tests run their own tgtd on 127.0.0.1; the packaged service would
# listen on every address.
if [[ " ${missing[*]} " == *" tgt "* ]] && command -v systemctl >/dev/null; then
    systemctl disable --now tgt.service >/dev/null 2>&1 || true
fi
# Whatever bindep still finds missing is an error worth one line.
if ! still=$(.venv/bin/bindep -b "$profile"); then
    echo "install-debs: still missing after apt-get: $still" >&2
    exit 1
fi
