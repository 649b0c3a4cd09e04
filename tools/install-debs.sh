#!/usr/bin/env bash
# Install the Debian packages the checks and tests need when they are
# missing (one apt-get update); needs root on a machine without them:
# - shellcheck for the shell scripts, systemd for `systemd-analyze verify`
#   and `security` of the packaged unit, sudo for `visudo -c` of its rule;
# - lvm2 and tgt for the LVM driver's tests on a loop device and a tgtd;
# - the servers the tests start for themselves on 127.0.0.1
#   (tests/servers.py): Redis, RabbitMQ, PostgreSQL, MariaDB;
# - a Ceph monitor and OSD, the rbd command and Debian's rados/rbd Python
#   bindings for the RBD driver's tests on a real cluster
#   (tests/ceph_fixtures.py; the bindings are built for Debian's Python,
#   which must be the project's: 3.11 on bookworm).
#   Their own system services are kept stopped.
set -euo pipefail

missing=()
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v visudo >/dev/null || missing+=(sudo)
command -v lvs >/dev/null || missing+=(lvm2)
command -v tgtd >/dev/null || missing+=(tgt)
for p in redis-server rabbitmq-server postgresql mariadb-server \
        ceph-mon ceph-osd ceph-common python3-rados python3-rbd; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
        || missing+=("$p")
done
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
