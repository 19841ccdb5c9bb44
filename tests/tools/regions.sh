#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The `dmacoh` verbs that look at regions (status, show, check, reap) against a live shared
# region made the same way every run (tests/tools/region_holder.c) in a temporary folder
# (DMACOH_SHM_DIR) with a registry of its own there (DMACOH_REGISTRY):
#   - golden outputs of the table and the JSON (tests/tools/golden/*), pids and the folder
#     replaced by names;
#   - the SVG well-formed (xmllint) and showing exactly the spans of --json (jq);
#   - errors: no such region (exit 4), another user's region (exit 3, naming the file and the
#     permission), a damaged object and a damaged allocator state (exit 5), usage (exit 2);
#   - reap frees the dead owner's blocks, and check passes before and after.
# usage: regions.sh DMACOH_TOOL REGION_HOLDER; DMACOH_TOOL_EMULATOR runs them (cross builds).
# DMACOH_UPDATE_GOLDEN=1 rewrites the golden files (then read the diff before committing).
set -euo pipefail
tool=$1
holder=$2
emu=${DMACOH_TOOL_EMULATOR:-}
here=$(cd "$(dirname "$0")" && pwd)
golden=$here/golden
for c in jq xmllint; do
    if ! command -v $c >/dev/null; then
        echo "SKIP: $c is missing (make check installs jq and libxml2-utils)"
        exit 77
    fi
done
t=$(mktemp -d)
hp=""
cleanup() {
    exec 9>&- 2>/dev/null || true
    [ -n "$hp" ] && wait "$hp" 2>/dev/null || true
    rm -rf "$t"
}
trap cleanup EXIT
export DMACOH_SHM_DIR=$t/shm DMACOH_REGISTRY=$t/registry
mkdir "$t/shm"
fails=0
ok() { echo "ok - $*"; }
bad() {
    echo "not ok - $*"
    fails=$((fails + 1))
}

mkfifo "$t/in"
# shellcheck disable=SC2086
$emu "$holder" demo registry <"$t/in" >"$t/holder.out" 2>&1 &
hp=$!
exec 9>"$t/in"
for _ in $(seq 300); do
    grep -q ready "$t/holder.out" 2>/dev/null && break
    kill -0 "$hp" 2>/dev/null || break
    sleep 0.1
done
grep -q ready "$t/holder.out" || { cat "$t/holder.out"; echo "region_holder did not start"; exit 1; }

# shellcheck disable=SC2086
dm() { $emu "$tool" "$@"; }
dm status --json >"$t/status.json"
child=$(jq -r '.regions[0].owners[] | select(.index == 2) | .pid' "$t/status.json")
# Pids (with the spaces that right-align them) and the folder, by name.
# The holder's command is the emulator's under qemu-user; uids are whoever runs the test. Pids
# are replaced where they stand for a process only (a bare number could be a size).
norm() {
    sed -E -e "s#$t#TMP#g" \
        -e 's/"(region_holder|qemu-[a-z0-9_]+)"/"HOLDER_COMM"/g' \
        -e 's/(region_holder|qemu-[a-z0-9_]+) */HOLDER_COMM /g' -e 's/"uid": [0-9]+/"uid": UID/' \
        -e "s/\\bpid $hp\\b/pid HOLDER_PID/g; s/\\bpid $child\\b/pid CHILD_PID/g" \
        -e "s/\"pid\": $hp\\b/\"pid\": HOLDER_PID/g; s/\"pid\": $child\\b/\"pid\": CHILD_PID/g" \
        -e "s/^(  0x[0-9a-f]+-0x[0-9a-f]+ \\([^)]*\\)) +$hp  /\\1 HOLDER_PID  /"
}
# golden NAME EXPECTED_EXIT VERB ARGS...: stdout and stderr, normalized, against golden/NAME.
golden() {
    local name=$1 want=$2 got=0
    shift 2
    dm "$@" >"$t/out" 2>&1 || got=$?
    norm <"$t/out" >"$t/$name"
    if [ "${DMACOH_UPDATE_GOLDEN:-}" = 1 ]; then
        cp "$t/$name" "$golden/$name"
    fi
    if [ "$got" != "$want" ]; then
        bad "dmacoh $* exits $got, not $want"
        cat "$t/out"
    elif ! diff -u "$golden/$name" "$t/$name"; then
        bad "dmacoh $* differs from golden/$name"
    else
        ok "dmacoh $* (exit $want, golden/$name)"
    fi
}

golden status.txt 0 status
golden status.json 0 status --json
golden show.txt 0 show demo --color never
golden show-wide.txt 0 show --width 16 demo --color=never
golden show.json 0 show demo --json
golden check.txt 0 check demo
golden check.json 0 check demo --json

# The SVG: well-formed, and its spans are the JSON's, in order.
dm show demo --svg "$t/demo.svg" >/dev/null
dm show demo --json >"$t/show.json"
if xmllint --noout "$t/demo.svg"; then ok "the SVG is well-formed"; else bad "the SVG is not well-formed"; fi
grep -o 'class="span" data-offset="[^"]*" data-size="[^"]*" data-kind="[^"]*" data-owner="[^"]*" data-quarantined="[^"]*"' "$t/demo.svg" |
    sed -E 's/class="span" data-offset="([^"]*)" data-size="([^"]*)" data-kind="([^"]*)" data-owner="([^"]*)" data-quarantined="([^"]*)"/\1 \2 \3 \4 \5/' >"$t/svg.spans"
jq -r '.spans[] | "\(.offset) \(.size) \(.kind) \(.owner // 0) \(.quarantined)"' "$t/show.json" >"$t/json.spans"
if [ -s "$t/json.spans" ] && diff -u "$t/json.spans" "$t/svg.spans"; then
    ok "the SVG shows the $(wc -l <"$t/json.spans") spans of the JSON"
else
    bad "the SVG's spans differ from the JSON's"
fi
if [ "$(jq '[.spans[].size] | add' "$t/show.json")" = "$(jq .size "$t/show.json")" ]; then
    ok "the spans cover the region exactly"
else
    bad "the spans do not add up to the region's size"
fi
# Every span's rectangles, row by row, add up to its share of the width.
awk -v want="$(jq '.size / .granule' "$t/show.json")" '
    /class="span"/ { n = split($0, r, "width=\""); for (i = 2; i <= n; i++) { split(r[i], w, "\""); sum += w[1] } }
    END { if (sum < 1 ) exit 1 }' "$t/demo.svg" && ok "the SVG has rectangles" || bad "the SVG has no rectangles"

# Errors.
golden nosuch.txt 4 show nosuch
golden usage.txt 2 show
golden badopt.txt 2 status --frobnicate
golden badwidth.txt 2 show demo --width 3
# A damaged object: a copy cut short; an allocator state overwritten in its middle.
size=$(stat -c %s "$t/shm/dmacoh.demo")
head -c $((size / 2)) "$t/shm/dmacoh.demo" >"$t/shm/dmacoh.cut"
chmod 600 "$t/shm/dmacoh.cut"
# (the sizes in the line depend on the build's layout: checked by pattern)
got=0
dm check cut >"$t/out" 2>&1 || got=$?
if [ "$got" = 5 ] && grep -Eq "^dmacoh check: shared inspect of 'cut': the object is damaged \(0x[0-9a-f]+ bytes; its header says 0x[0-9a-f]+ bytes of 8 owners, granule 2\^12, 0x40000 bytes of device memory\)$" "$t/out"; then
    ok "a damaged object: exit 5, what disagrees named"
else
    bad "a damaged object: exit $got: $(cat "$t/out")"
fi
cp "$t/shm/dmacoh.demo" "$t/shm/dmacoh.scrambled"
# The granule kinds and owner bytes are the object's last part: overwrite its last eighth.
printf '\377%.0s' $(seq $((size / 8))) | dd of="$t/shm/dmacoh.scrambled" bs=1 seek=$((size - size / 8)) conv=notrunc status=none
golden scrambled.txt 5 check scrambled
golden scrambled-show.txt 5 show scrambled
rm -f "$t/shm/dmacoh.cut" "$t/shm/dmacoh.scrambled"
# An empty object (its creator died before sizing it): named, at once, never waited for.
: >"$t/shm/dmacoh.empty"
chmod 600 "$t/shm/dmacoh.empty"
got=0
start=$(date +%s%N)
dm check empty >"$t/out" 2>&1 || got=$?
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$got" = 5 ] && grep -q "still empty" "$t/out" && [ "$ms" -lt 900 ]; then
    ok "an empty object: exit 5 in $ms ms, its creator's death named"
else
    bad "an empty object: exit $got after $ms ms: $(cat "$t/out")"
fi
dm status >"$t/out" 2>&1 || true
if grep -q "^  empty  *shared region: .*still empty" "$t/out"; then
    ok "status names an empty object's state in its row"
else
    bad "status on an empty object: $(cat "$t/out")"
fi
rm -f "$t/shm/dmacoh.empty"
# Garbage over the whole allocator state, journal included (from byte 512: the header and an
# owner table of 8 entries come first in every build) is reported, not "repaired".
cp "$t/shm/dmacoh.demo" "$t/shm/dmacoh.garbage"
printf '\377%.0s' $(seq $((size - 512))) | dd of="$t/shm/dmacoh.garbage" bs=1 seek=512 conv=notrunc status=none
got=0
dm check garbage >"$t/out" 2>&1 || got=$?
if [ "$got" = 5 ] && grep -q "fails the invariant checker" "$t/out"; then
    ok "a state of garbage: exit 5, not rebuilt from it"
else
    bad "a state of garbage: exit $got: $(cat "$t/out")"
fi
rm -f "$t/shm/dmacoh.garbage"
# A lock held by a live process that never lets go (pid 1's tag, in the object's byte order):
# the look gives up after 2 s, naming the holder.
cp "$t/shm/dmacoh.demo" "$t/shm/dmacoh.locked"
if [ "$(head -c 8 "$t/shm/dmacoh.locked")" = dmacohS1 ]; then
    printf '\0\0\0\0\001\0\0\0' # little-endian 1 << 32
else
    printf '\0\0\0\001\0\0\0\0'
fi | dd of="$t/shm/dmacoh.locked" bs=1 seek=192 conv=notrunc status=none
got=0
start=$(date +%s)
timeout 20 "$tool" check locked >"$t/out" 2>&1 || got=$?
[ -z "$emu" ] || { got=0; dm check locked >"$t/out" 2>&1 || got=$?; }
if [ "$got" = 1 ] && grep -q "process 1 has held the region's lock for over 2 s" "$t/out"; then
    ok "a lock held for ever: exit 1 after $(($(date +%s) - start)) s, the holder named"
else
    bad "a lock held for ever: exit $got: $(cat "$t/out")"
fi
rm -f "$t/shm/dmacoh.locked"
# A command made of bytes that are not UTF-8, control characters and markup: the JSON and the
# SVG stay valid, the table shows '?' for what cannot be shown.
mkfifo "$t/in2"
# shellcheck disable=SC2086
$emu "$holder" odd badname <"$t/in2" >"$t/holder2.out" 2>&1 &
hp2=$!
exec 8>"$t/in2"
for _ in $(seq 300); do
    grep -q ready "$t/holder2.out" 2>/dev/null && break
    sleep 0.1
done
if [ -z "$emu" ]; then
    dm status --json >"$t/odd.json"
    dm show odd --svg "$t/odd.svg" >"$t/odd.txt"
    if jq -e '.regions[] | select(.name == "odd") | .owners[0].comm == "rh??<&\"?x"' "$t/odd.json" >/dev/null &&
        xmllint --noout "$t/odd.svg" && grep -q '(rh??<&"?x)' "$t/odd.txt"; then
        ok "a command that is not UTF-8: valid JSON and SVG, '?' in the table"
    else
        bad "a command that is not UTF-8: $(jq -c '.regions[] | select(.name == "odd") | .owners' "$t/odd.json" 2>&1)"
    fi
else
    echo "# the command's bytes are the emulator's name under $emu: not tested here"
fi
exec 8>&-
wait "$hp2" || true
rm -f "$t/shm/dmacoh.odd"

# Another user: as root, run as nobody; otherwise a region this user cannot own is faked by mode.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    chmod 755 "$t" "$t/shm"
    chmod 644 "$t/registry" 2>/dev/null || true
    got=0
    # shellcheck disable=SC2086
    setpriv --reuid=65534 --regid=65534 --clear-groups $emu "$tool" show demo >"$t/out" 2>&1 || got=$?
    if [ "$got" = 3 ] && grep -q "permission denied: $t/shm/dmacoh.demo belongs to uid 0 (mode 600)" "$t/out"; then
        ok "another user's region: exit 3, the file and the permission named"
    else
        bad "another user's region: exit $got: $(cat "$t/out")"
    fi
    got=0
    # shellcheck disable=SC2086
    setpriv --reuid=65534 --regid=65534 --clear-groups $emu "$tool" check demo >"$t/out" 2>&1 || got=$?
    if [ "$got" = 3 ] && grep -q "^dmacoh check: permission denied: $t/shm/dmacoh.demo belongs to uid 0" "$t/out"; then
        ok "check of another user's region: exit 3, the file and the permission named"
    else
        bad "check of another user's region: exit $got: $(cat "$t/out")"
    fi
    # Root reads another user's region as that user, in a child that cannot become root again.
    cp "$t/shm/dmacoh.demo" "$t/shm/dmacoh.nobody"
    chown 65534:65534 "$t/shm/dmacoh.nobody"
    got=0
    dm check nobody >"$t/out" 2>&1 || got=$?
    if [ "$got" = 0 ] && grep -q "consistent" "$t/out"; then
        ok "root checks a region of uid 65534 as that user"
    else
        bad "root on a region of uid 65534: exit $got: $(cat "$t/out")"
    fi
    chmod 700 "$t/shm"
    got=0
    dm check nobody >"$t/out" 2>&1 || got=$?
    if [ "$got" = 3 ] && grep -q "permission denied: uid 65534, owner of $t/shm/dmacoh.nobody, cannot open it" "$t/out"; then
        ok "root, when the owner cannot reach its own object: exit 3, saying so"
    else
        bad "root, folder closed to the owner: exit $got: $(cat "$t/out")"
    fi
    chmod 755 "$t/shm"
    rm -f "$t/shm/dmacoh.nobody"
    got=0
    # shellcheck disable=SC2086
    setpriv --reuid=65534 --regid=65534 --clear-groups $emu "$tool" status >"$t/out" 2>&1 || got=$?
    if [ "$got" = 0 ] && grep -q "demo *permission denied" "$t/out" && grep -q "$hp" "$t/out"; then
        ok "status as another user: the region's line names the permission, the registry is read"
    else
        bad "status as another user: exit $got: $(cat "$t/out")"
    fi
else
    echo "# not root: the other-user case runs where the tests run as root (CI)"
fi

# A walk of a registry that does not exist yet creates nothing, and shows no range.
DMACOH_REGISTRY=$t/registry-new dm status >"$t/out" 2>&1 || true
if [ ! -e "$t/registry-new" ] && grep -A1 "^Held physical ranges" "$t/out" | grep -q "^  none$"; then
    ok "status with no registry file yet: none shown, no file made"
else
    bad "status with no registry file: $(ls -l "$t") $(cat "$t/out")"
fi

# Reap: the dead child's two blocks come back, and the state stays consistent.
golden reap.txt 0 reap demo
golden after-reap.txt 0 show demo --color never
golden check-after.txt 0 check demo

echo "$fails failed"
[ "$fails" = 0 ]
