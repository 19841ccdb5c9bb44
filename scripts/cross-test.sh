#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make cross-test`: the Linux build and its whole ctest suite (unit tests, examples, the
# fuzz corpus replayed) on other CPUs, each program run by QEMU user-mode emulation
# (CMAKE_CROSSCOMPILING_EMULATOR in cmake/toolchains/linux-cross.cmake):
#   arm-linux-gnueabihf  32-bit Arm: 32-bit size_t and pointers, 64-bit DMA addresses
#   s390x-linux-gnu      IBM Z: 64-bit, big-endian (test_io proves the IO accessors still
#                        read and write device memory little-endian)
# Each target is checked to really be what it claims (ELF class and byte order), and every
# test case that skipped is listed with its reason. CROSS_TARGETS picks targets;
# DMACOH_TEST_QUICK=1 (the default here, as under valgrind) shortens the long randomised
# tests, which run 10-50 times slower emulated; CROSS_FULL=1 runs them in full.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
targets=${CROSS_TARGETS:-arm-linux-gnueabihf s390x-linux-gnu}
if [ "${CROSS_FULL:-0}" = 1 ]; then unset DMACOH_TEST_QUICK; else export DMACOH_TEST_QUICK=1; fi

step() { printf '\n=== %s ===\n' "$*"; }

expect_elf() { # expect_elf TRIPLE FILE: the program's ELF header matches the target
    local class data
    case $1 in
    arm-linux-gnueabihf) class=ELF32 data="little endian" ;;
    s390x-linux-gnu) class=ELF64 data="big endian" ;;
    *) return 0 ;;
    esac
    readelf -h "$2" | grep -q "Class:.*$class" && readelf -h "$2" | grep -q "Data:.*$data" || {
        echo "cross-test: $2 is not $class $data"
        exit 1
    }
    echo "$(basename "$2"): $class, $data"
}

# The devicetree reader needs the target's libfdt: scripts/fetch-libfdt.sh says how it is had
# without touching the machine's package setup, or CMake leaves the reader out, saying so.
for t in $targets; do
    build=build/cross-$t
    step "$t: build (clang --target=$t, -Werror)"
    case $t in
    arm-linux-gnueabihf) fdt=$(scripts/fetch-libfdt.sh armhf "$t") ;;
    s390x-linux-gnu) fdt=$(scripts/fetch-libfdt.sh s390x "$t") ;;
    *) fdt= ;;
    esac
    if [ -n "$fdt" ]; then
        echo "devicetree reader: the target's libfdt is $fdt"
        fdt_opt=(-DDMACOH_FDT_LIBRARY="$fdt")
    else
        echo "devicetree reader left out on $t: the target's libfdt1 could not be downloaded"
        fdt_opt=()
    fi
    cmake -S . -B "$build" --toolchain "$PWD/cmake/toolchains/$t.cmake" -DCMAKE_BUILD_TYPE=Debug \
        -DDMACOH_WERROR=ON -DDMACOH_BUILD_BENCH=OFF "${fdt_opt[@]}" >/dev/null
    cmake --build "$build" -j "$jobs"
    expect_elf "$t" "$build/tests/test_io"
    step "$t: ctest under $(grep -o 'qemu-[a-z0-9]*' "cmake/toolchains/$t.cmake" | head -n 1)"
    status=0
    (cd "$build" && ctest --output-on-failure -j "$jobs" -V >ctest.log 2>&1) || status=$?
    grep -E '^[0-9]+/[0-9]+ Test|tests passed|Total Test time' "$build/ctest.log" || true
    echo "test cases skipped on $t, with the reason:"
    # ctest -V prefixes each output line with the test's number; name the program instead.
    awk '/^ *Start +[0-9]+: / { name[$2 + 0] = $3 }
         /^[0-9]+: ok [0-9]+ - .* # SKIP/ { n = $1 + 0; sub(/^[0-9]+: /, ""); print "  " name[n] ": " $0; any = 1 }
         END { if (!any) print "  none" }' "$build/ctest.log"
    if [ "$status" -ne 0 ]; then
        grep -E '^[0-9]+: (not ok|  #)' "$build/ctest.log" || true
        grep -E '\(Failed\)|\(Timeout\)|\(SEGFAULT\)|\(Subprocess aborted\)' "$build/ctest.log" || true
        echo "cross-test: ctest failed on $t (full output: $build/ctest.log)"
        exit 1
    fi
done
echo
echo "make cross-test: all tests passed on $targets"
