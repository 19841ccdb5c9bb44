#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages a make target needs, only those missing, only when root.
# Usage: scripts/deps.sh PACKAGE... (a package is taken as present when dpkg says installed).
# Another apt-get or dpkg holding the package manager's lock is waited for (up to 10 minutes)
# rather than taken as a failure; when an install does fail, apt's own output says why.
set -euo pipefail
missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "dmacoh: missing Debian packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "dmacoh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt=(apt-get -o DPkg::Lock::Timeout=600)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# A fresh machine has no package lists yet (or stale ones); refresh them once if an install
# fails, then try again with apt's output shown.
if "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    exit 0
fi
echo "dmacoh: apt-get install failed, refreshing the package lists (apt-get update) and retrying" >&2
if ! "${apt[@]}" update -qq || ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}"; then
    echo "dmacoh: first attempt's output was:" >&2
    cat "$log" >&2
    echo "dmacoh: could not install ${missing[*]}" >&2
    exit 1
fi
