#!/usr/bin/env bash
# Run the whole test suite (unit and functional, against a real cinder-api,
# Redis, RabbitMQ, PostgreSQL and MariaDB on 127.0.0.1) on a fresh machine:
# installs what the tests need, then runs stestr.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/bootstrap.sh
export CINDER_RECONCILER_CINDER_VENV=${CINDER_RECONCILER_CINDER_VENV:-$(bash tools/setup-cinder.sh)}
export CINDER_RECONCILER_KEYSTONE_VENV=${CINDER_RECONCILER_KEYSTONE_VENV:-$(bash tools/setup-keystone.sh)}
# Nova and Placement for the cloud scope's tests (tests/nova_fixtures.py).
export CINDER_RECONCILER_NOVA_VENV=${CINDER_RECONCILER_NOVA_VENV:-$(bash tools/setup-nova.sh)}
bash tools/install-debs.sh
bash tools/shellcheck.sh
.venv/bin/flake8 reconciler reconcilerclient tests tools
# A new clone's stestr knows no durations: give it the recorded ones, so
# its two workers get an even share of the slow test classes.
.venv/bin/python tools/test_times.py seed
rc=0
.venv/bin/stestr run --concurrency "${TEST_CONCURRENCY:-2}" "$@" || rc=$?
# One plain closing line, whatever the runner printed.
.venv/bin/stestr last --subunit | .venv/bin/python tools/subunit_summary.py || true
exit $rc
