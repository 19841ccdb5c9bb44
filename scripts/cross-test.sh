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

# The devicetree reader needs the target's libfdt. Debian's libfdt-dev is not Multi-Arch: same
# (its packages for two architectures conflict), and installing the target's runtime package
# libfdt1:<arch> would pull that architecture's libc6 into /usr/lib/<triple>, where the
# emulated loader finds it before the cross libc under /usr/<triple>: a different build of it
# ("stack smashing detected" in every program). So the package alone is downloaded by apt with
# a private state (lists and cache in build/cross-libfdt/apt; the machine's apt and dpkg
# setup are not touched), unpacked there, and handed to CMake; the headers, which do not
# depend on the architecture, are the host's libfdt-dev. Without it (no network), CMake
# leaves the reader out, saying so.
fetch_libfdt() { # fetch_libfdt TRIPLE: prints the target's libfdt.so.1, or nothing
    local arch dir=$PWD/build/cross-libfdt lib apt
    case $1 in
    arm-linux-gnueabihf) arch=armhf ;;
    s390x-linux-gnu) arch=s390x ;;
    *) return 0 ;;
    esac
    lib=$dir/$arch/usr/lib/$1/libfdt.so.1
    if [ ! -f "$lib" ]; then
        mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial"
        apt=(apt-get -qq -o APT::Architecture="$arch" -o APT::Architectures="$arch"
            -o Dir::State::Lists="$dir/apt/lists" -o Dir::Cache="$dir/apt/cache"
            -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
        if "${apt[@]}" update >&2 && (cd "$dir" && "${apt[@]}" download "libfdt1:$arch" >&2); then
            dpkg-deb -x "$(ls "$dir"/libfdt1_*_"$arch".deb | tail -n 1)" "$dir/$arch"
        fi
    fi
    [ -f "$lib" ] && echo "$lib"
    return 0
}

for t in $targets; do
    build=build/cross-$t
    step "$t: build (clang --target=$t, -Werror)"
    fdt=$(fetch_libfdt "$t")
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
