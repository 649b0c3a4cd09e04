#!/usr/bin/env bash
# Install the Debian packages the checks need (shellcheck for the shell
# scripts, systemd for `systemd-analyze verify` of the packaged unit, lvm2
# and tgt for the LVM driver's tests on a loop device and a real tgtd) when
# they are missing; needs root on a machine without them.
set -euo pipefail

missing=()
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v lvs >/dev/null || missing+=(lvm2)
command -v tgtd >/dev/null || missing+=(tgt)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-debs: not root, cannot install ${missing[*]}" >&2
    exit 1
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
