#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make check`: every build variant of the test suite, in order, stopping at the first failure.
#   0. formatting of every C file per .clang-format
#   1. gcc, Debug, -Werror: unit tests, examples, freestanding smoke (ctest)
#   2. clang, ASan + UBSan, -Werror: the same under sanitizers, with ASan tracking the blocks
#      inside regions (DMACOH_TRACK)
#   3. clang ThreadSanitizer on the concurrency tests
#   4. valgrind memcheck on every unit test
#   5. gcc -m32: the tests run natively where the kernel runs 32-bit programs, else under
#      qemu-i386 user-mode emulation
#   6. install, and build a consumer with pkg-config and with find_package
#   7. cppcheck on the library
#   8. clang-tidy per .clang-tidy (warnings as errors) and gcc -fanalyzer -Werror on src/
#   9. the core alone, -ffreestanding -nostdlib -Werror, with clang (gcc did it in step 1)
# The fuzz corpus is replayed by ctest in steps 1 and 2; `make fuzz` runs the fuzzer itself.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

step() { printf '\n=== %s ===\n' "$*"; }

step "format (clang-format --dry-run -Werror)"
clang-format --dry-run -Werror $(git ls-files '*.c' '*.h' 2>/dev/null || find include src tests examples -name '*.[ch]')
echo "all C files formatted"

step "gcc Debug -Werror"
cmake -S . -B build/gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug -DDMACOH_WERROR=ON >/dev/null
cmake --build build/gcc -j "$jobs"
(cd build/gcc && ctest --output-on-failure -j "$jobs")

step "clang ASan+UBSan -Werror, ASan told where blocks begin and end (DMACOH_TRACK)"
cmake -S . -B build/clang-asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DDMACOH_WERROR=ON -DDMACOH_SANITIZE=ON -DDMACOH_TRACK=ON >/dev/null
cmake --build build/clang-asan -j "$jobs"
(cd build/clang-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$jobs")

step "clang ThreadSanitizer: concurrency tests"
cmake -S . -B build/tsan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DDMACOH_WERROR=ON \
    -DDMACOH_TSAN=ON -DDMACOH_BUILD_EXAMPLES=OFF -DDMACOH_BUILD_BENCH=OFF >/dev/null
cmake --build build/tsan -j "$jobs"
(cd build/tsan && TSAN_OPTIONS=halt_on_error=1 \
    ctest --output-on-failure -R 'test_(threads|pool|alloc|misuse|tcache|hostmem|debug|cookies)')

step "valgrind memcheck: unit tests (gcc build)"
for t in build/gcc/tests/test_*; do
    case "$t" in *freestanding) continue ;; esac
    [ -x "$t" ] || continue
    if ! DMACOH_TEST_QUICK=1 valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
        "$t" >"$t.memcheck.log" 2>&1; then
        cat "$t.memcheck.log"
        echo "valgrind: $t failed"
        exit 1
    fi
    echo "valgrind clean: $(basename "$t") ($(tail -n 1 "$t.memcheck.log"))"
done

step "gcc -m32 (32-bit size_t against 64-bit addresses)"
# Run natively where the kernel runs 32-bit programs, else under qemu-i386 user-mode emulation
# (package qemu-user); DMACOH_M32_EMULATOR=qemu-i386 forces the emulator where both work.
rm -rf build/m32 # a cache reset would silently drop -m32
m32=(-DCMAKE_C_COMPILER=gcc -DCMAKE_C_FLAGS=-m32 -DCMAKE_BUILD_TYPE=Debug -DDMACOH_WERROR=ON
    -DDMACOH_BUILD_BENCH=OFF)
cmake -S . -B build/m32 "${m32[@]}" >/dev/null
cmake --build build/m32 -j "$jobs"
file build/m32/tests/test_alloc | grep -q "ELF 32-bit" || { echo "-m32 build is not 32-bit"; exit 1; }
emulator=${DMACOH_M32_EMULATOR:-}
if [ -z "$emulator" ] && ! build/m32/tests/test_freestanding >/dev/null 2>&1; then
    emulator=qemu-i386
fi
if [ -n "$emulator" ]; then
    # ctest runs each test through the emulator (CMAKE_CROSSCOMPILING_EMULATOR).
    "$emulator" build/m32/tests/test_freestanding >/dev/null || {
        echo "$emulator cannot run the 32-bit freestanding smoke test"
        exit 1
    }
    cmake -S . -B build/m32 "${m32[@]}" -DCMAKE_CROSSCOMPILING_EMULATOR="$emulator" >/dev/null
    echo "32-bit tests run under $emulator"
else
    echo "32-bit tests run natively"
fi
(cd build/m32 && ctest --output-on-failure -j "$jobs")

step "install, then build against the installed files (pkg-config, find_package)"
prefix="$PWD/build/prefix"
rm -rf "$prefix" build/consumer
cmake --install build/gcc --prefix "$prefix" >/dev/null
cc -o build/consumer-pc tests/install/consumer.c \
    $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs dmacoh) \
    -Wl,-rpath,"$prefix/lib"
build/consumer-pc
readelf -d "$prefix/lib/libdmacoh.so" | grep -q 'SONAME.*libdmacoh\.so\.0\.2\]' || {
    echo "libdmacoh.so has no SONAME libdmacoh.so.0.2"
    exit 1
}
cmake -S tests/install -B build/consumer -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build build/consumer -j "$jobs" >/dev/null
LD_LIBRARY_PATH="$prefix/lib" build/consumer/consumer_shared
build/consumer/consumer_static

step "cppcheck (warnings, performance, portability)"
cppcheck --enable=warning,performance,portability --std=c11 --error-exitcode=1 -q -UDMACOH_CONFIG_HEADER \
    -Iinclude -Isrc/core src/
echo "cppcheck: no findings"

step "clang-tidy (.clang-tidy, warnings as errors)"
ls src/core/*.c src/platform/*/*.c | xargs -P "$jobs" -n 4 clang-tidy -p build/gcc --quiet 2>/dev/null
echo "clang-tidy: no findings"

step "gcc -fanalyzer -Werror"
mkdir -p build/analyzer
for f in src/core/*.c src/platform/*/*.c; do
    gcc -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Iinclude -O1 -fanalyzer -Werror \
        -c "$f" -o "build/analyzer/$(basename "$f" .c).o"
done
echo "gcc -fanalyzer: no findings"

step "freestanding core (clang)"
mkdir -p build/freestanding
for f in src/core/*.c src/platform/none/*.c; do
    clang -std=c11 -ffreestanding -nostdlib -Werror -Wall -Wextra -Wconversion -Wsign-conversion \
        -Iinclude -c "$f" -o "build/freestanding/$(basename "$f" .c).o"
done
echo "src/core and src/platform/none compile freestanding"
echo
echo "make check: all steps passed"
