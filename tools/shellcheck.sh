#!/usr/bin/env bash
# Lint every shell script of the project (devstack plugin included).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
shellcheck devstack/plugin.sh devstack/settings tools/*.sh .ci/run
