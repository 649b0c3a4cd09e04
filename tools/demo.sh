#!/usr/bin/env bash
# The demo on a fresh machine: installs what it needs (Debian's rabbitmq-server
# too, for Cinder's notifications), starts a real Cinder API and an array on
# 127.0.0.1 seeded with planted orphans, runs the daemon's pass and prints what
# it found and announced. Pass --workdir DIR to keep the cloud.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/bootstrap.sh
bash tools/install-debs.sh demo
exec .venv/bin/python -m reconciler.cmd.demo \
    --allinone tests/incinder/allinone.py "$@"
