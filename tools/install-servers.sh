#!/usr/bin/env bash
# Install the servers the tests start for themselves on 127.0.0.1 (Redis,
# RabbitMQ, PostgreSQL, MariaDB; reconciler/tests/servers.py), from Debian's
# packages, without starting the system services. Needs root; a no-op when
# everything is installed. Elsewhere it only says what is missing: those
# tests then skip (and fail in CI, CI=true).
set -euo pipefail

PACKAGES="redis-server rabbitmq-server postgresql mariadb-server"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "install-servers: not root on Debian; missing:$missing" >&2
    exit 0
fi
echo "install-servers: installing$missing" >&2
# Keep the packages' own services stopped: tests run their own instances.
policy=/usr/sbin/policy-rc.d
if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' > $policy
    chmod +x $policy
    trap 'rm -f $policy' EXIT
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    $missing >/dev/null
