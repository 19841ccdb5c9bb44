#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make firmware-test`: the firmware test image (firmware/) on an emulated Cortex-M3, QEMU's
# mps2-an385 board.
#   1. build it with CMake and cmake/toolchains/arm-none-eabi.cmake (gcc-arm-none-eabi,
#      picolibc): src/core and src/platform/none from source, -Os;
#   2. run it twice, plainly and with DMACOH_DEBUG=all (passed on the semihosting command
#      line); each run prints its results through semihosting and QEMU exits with the
#      image's status, which must be 0;
#   3. report the code size of the core with -Os -DNDEBUG (arm-none-eabi-size) and the RAM
#      the image reported for a 64 KiB region's metadata.
# FIRMWARE_TIMEOUT (seconds, default 600) bounds each run, so a hung image fails the test.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/firmware
timeout_s=${FIRMWARE_TIMEOUT:-600}

step() { printf '\n=== %s ===\n' "$*"; }

step "build the firmware image (arm-none-eabi-gcc, picolibc, -Os)"
cmake -S firmware -B "$build" >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)"

run() { # run LOG [KEY=VALUE...]: the image under QEMU; its exit status is QEMU's
    local log=$1
    shift
    local status=0 extra=()
    [ $# -eq 0 ] || extra=(-append "$*")
    timeout "$timeout_s" qemu-system-arm -M mps2-an385 -nographic -monitor none -serial null \
        -semihosting-config enable=on,target=native -kernel "$build/dmacoh_fw.elf" \
        "${extra[@]}" >"$log" 2>&1 || status=$?
    cat "$log"
    if [ "$status" -ne 0 ]; then
        echo "firmware-test: the image exited with status $status${1:+ ($*)}"
        exit 1
    fi
    # The exit status is the verdict; the closing line proves the run was not cut short.
    grep -q '^firmware: 0 of [0-9]* suites failed$' "$log" || {
        echo "firmware-test: no closing line in $log"
        exit 1
    }
}

step "run on QEMU mps2-an385 (Cortex-M3)"
run "$build/run.log"
step "run again with DMACOH_DEBUG=all"
run "$build/run-debug.log" DMACOH_DEBUG=all

step "code size of the core, -Os -DNDEBUG (arm-none-eabi-size, bytes)"
objs=$(find "$build/CMakeFiles/dmacoh_fw_release.dir" -name '*.obj' | sort)
# shellcheck disable=SC2086
arm-none-eabi-size -t $objs | sed 's|\t[^\t]*/src/|\tsrc/|'
echo "the whole test image:"
arm-none-eabi-size "$build/dmacoh_fw.elf"
grep '^# metadata\|^# struct' "$build/run.log"
echo
echo "make firmware-test: the image passed on the emulated Cortex-M3, plain and in the debug mode"
