#!/bin/sh
# SPDX-License-Identifier: MIT
# `dmacoh list` on the fake machine of tests/harness/fakesys.c: the table and the JSON are
# diffed against the golden files (the temporary folder's name written ROOT), the filters and
# exit codes are checked, and a user who lacks permissions (nobody, when run as root; else a
# file made read-only and a folder made unreadable) is told which permission is missing.
# usage: list_golden.sh DMACOH FAKE_MACHINE GOLDEN_DIR   (DMACOH_GOLDEN_UPDATE=1 rewrites them)
# DMACOH_TOOL_EMULATOR runs both programs (cross builds).
set -eu
tool=$1 fake=$2 golden=$3
emu=${DMACOH_TOOL_EMULATOR:-}
fail() { echo "FAIL: $*"; exit 1; }
# The UIO mmap offsets in the golden files are multiples of a 4 KiB page.
[ "$(getconf PAGESIZE)" = 4096 ] || { echo "SKIP: page size is not 4096"; exit 77; }
root=$(mktemp -d /tmp/dmacoh-list-XXXXXX)
trap 'chmod -R u+rwx "$root" 2>/dev/null; rm -rf "$root"' EXIT
chmod 755 "$root"
$emu "$fake" "$root" >/dev/null || fail "fake_machine $root"
list() { $emu "$tool" list --sysfs-root "$root/sys" --dev-root "$root/dev" "$@"; }

for form in txt json; do
    opt=; [ $form = json ] && opt=--json
    rc=0; list $opt >"$root/out.$form" 2>"$root/err.$form" || rc=$?
    [ $rc = 0 ] || { cat "$root/err.$form"; fail "dmacoh list $opt exited $rc"; }
    sed "s|$root|ROOT|g" "$root/out.$form" >"$root/list.$form"
    if [ "${DMACOH_GOLDEN_UPDATE:-}" = 1 ]; then
        cp "$root/list.$form" "$golden/list.$form"
    fi
    diff -u "$golden/list.$form" "$root/list.$form" || fail "dmacoh list $opt differs from $golden/list.$form"
    # Bad input is reported on stderr, naming the file.
    grep -q "uio1/maps/map1/addr: '0x1ffffffffffffffff' is not a number" "$root/err.$form" ||
        fail "no log line naming the bad UIO address"
    grep -q "0000:00:07.0/vendor lies behind a loop of symbolic links" "$root/err.$form" ||
        fail "no log line naming the symbolic-link loop"
done
command -v jq >/dev/null || { echo "SKIP: jq is missing (make check installs it)"; exit 77; }
jq -e '.schema == 1' "$root/out.json" >/dev/null || fail "the JSON does not parse"

# Names from firmware and drivers reach neither the terminal nor the JSON raw: a UIO device
# whose map name carries terminal escapes, a C1 control and a newline.
mkdir -p "$root/esc/class/uio/uio7/maps/map0"
printf '0x10000000\n' >"$root/esc/class/uio/uio7/maps/map0/addr"
printf '0x1000\n' >"$root/esc/class/uio/uio7/maps/map0/size"
printf '0x0\n' >"$root/esc/class/uio/uio7/maps/map0/offset"
printf 'ev\033]0;TITLE\007il\302\233x\n' >"$root/esc/class/uio/uio7/maps/map0/name"
printf 'n\033[7mX\n' >"$root/esc/class/uio/uio7/name"
$emu "$tool" list --sysfs-root "$root/esc" --dev-root "$root/dev" >"$root/esc.txt" 2>/dev/null || true
$emu "$tool" list --json --sysfs-root "$root/esc" --dev-root "$root/dev" >"$root/esc.json" 2>/dev/null || true
grep -q 'map0' "$root/esc.txt" || fail "the crafted UIO map is not listed"
if LC_ALL=C grep -q "$(printf '[\033\007]')" "$root/esc.txt" || LC_ALL=C grep -q "$(printf '\302\233')" "$root/esc.txt"; then
    fail "control characters reach the terminal: $(cat -v "$root/esc.txt")"
fi
jq -e '.schema == 1' "$root/esc.json" >/dev/null && ! LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$root/esc.json" &&
    ! LC_ALL=C grep -q "$(printf '\302\233')" "$root/esc.json" ||
    fail "the JSON is not valid, or holds control characters unescaped: $(cat -v "$root/esc.json")"

# Filters and exit codes (dmacoh(1)).
n=$(list --kind nvme 2>/dev/null | grep -c '^nvme ') && [ "$n" = 3 ] || fail "--kind nvme: $n controllers, not 3"
list --device nvme0 2>/dev/null | grep -q 'CMB in BAR2 +0x0 0x00000000f0000000  16 MiB' || fail "--device nvme0"
list --kind uio,dt --device sram@50000000 2>/dev/null | grep -q '^dt /soc/sram@50000000' || fail "--device of a node"
rc=0; list --device 0000:00:99.0 >/dev/null 2>&1 || rc=$?; [ $rc = 4 ] || fail "unknown device: exit $rc, not 4"
rc=0; list --kind pci,bogus >/dev/null 2>&1 || rc=$?; [ $rc = 2 ] || fail "bad --kind: exit $rc, not 2"
rc=0; list extra >/dev/null 2>&1 || rc=$?; [ $rc = 2 ] || fail "an operand: exit $rc, not 2"
rc=0; $emu "$tool" list --sysfs-root "$root/nonexistent" >/dev/null 2>&1 || rc=$?
[ $rc = 4 ] || fail "a sysfs root that is no folder: exit $rc, not 4"
$emu "$tool" list --help | grep -q 'usage: dmacoh list' || fail "--help"

# A user who lacks permissions.
chmod 0300 "$root/sys/bus/dax/devices"
if [ "$(id -u)" = 0 ]; then
    command -v setpriv >/dev/null || { echo "SKIP: no setpriv to run as nobody"; exit 77; }
    as() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    want_res="resource2: read and write permission missing"
else
    chmod 0400 "$root/sys/bus/pci/devices/0000:00:03.0/resource2"
    as() { "$@"; }
    want_res="resource2: write permission missing"
fi
rc=0
as $emu "$tool" list --sysfs-root "$root/sys" --dev-root "$root/dev" >"$root/user.txt" 2>"$root/user.err" || rc=$?
[ $rc = 3 ] || fail "unreadable sys/bus/dax/devices: exit $rc, not 3"
grep -q "0000:00:03.0/$want_res" "$root/user.txt" || fail "no '$want_res' in the table"
grep -q "sys/bus/dax/devices: read permission missing" "$root/user.err" ||
    fail "the unreadable folder is not named on stderr"
grep -q "^uio uio1" "$root/user.txt" || fail "the rest is not listed"
echo "dmacoh list: golden table and JSON, filters, exit codes and permissions checked"
