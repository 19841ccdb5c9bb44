#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make demo`: builds the library, the examples and the `dmacoh` command (Release), runs each
# example on the simulated platform (usb_sram_dt: the OHCI SRAM declared from a devicetree), so a person sees what declared coherent memory does, and
# then shows the command: `dmacoh list` (this machine's device memory), and `dmacoh status`
# and `dmacoh show` on the shared region examples/shared_card.c holds (--hold).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DDMACOH_BUILD_TESTS=OFF >/dev/null
cmake --build build/demo -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
for ex in scsi_card usb_sram usb_sram_dt sysmem_fallback shared_card; do
    # usb_sram_dt needs the devicetree reader (libfdt) and dtc, which `make demo` installs: a
    # missing example is a failure, not something to pass over.
    [ -x "build/demo/examples/$ex" ] || {
        echo "demo: examples/$ex.c was not built (see the CMake output in build/demo)" >&2
        exit 1
    }
    printf '\n################ examples/%s.c ################\n\n' "$ex"
    "build/demo/examples/$ex"
done

dmacoh=build/demo/tools/dmacoh
printf '\n################ the dmacoh command ################\n'
printf '\n$ dmacoh list          # the device memory of this machine\n'
"$dmacoh" list || echo "(dmacoh list exited $?)"

# The shared region of examples/shared_card.c, held (--hold) in a folder of its own.
t=$(mktemp -d)
holder=""
cleanup() {
    exec 9>&- 2>/dev/null || true
    [ -n "$holder" ] && wait "$holder" 2>/dev/null || true
    rm -rf "$t"
}
trap cleanup EXIT
export DMACOH_SHM_DIR=$t
mkfifo "$t/in"
build/demo/examples/shared_card --hold <"$t/in" >"$t/out" 2>&1 &
holder=$!
exec 9>"$t/in"
for _ in $(seq 100); do
    grep -q '^holding' "$t/out" && break
    sleep 0.1
done
grep -q '^holding' "$t/out" || { cat "$t/out"; echo "demo: shared_card did not get to --hold"; exit 1; }
printf '\n$ build/demo/examples/shared_card --hold &   # a driver, rx alive, tx crashed\n'
printf '\n$ dmacoh status\n'
"$dmacoh" status
printf '\n$ dmacoh show card0\n'
"$dmacoh" show card0 --color "${DMACOH_DEMO_COLOR:-auto}"
"$dmacoh" show card0 --svg build/demo/card0.svg >/dev/null
printf '\n$ dmacoh show card0 --svg build/demo/card0.svg   # written: open it in a browser\n'
exec 9>&-
wait "$holder"
holder=""
echo
echo "shared_card, after the pictures:"
sed -n '/^holding/,$p' "$t/out" | tail -n +2
