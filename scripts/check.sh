#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make check`: every build variant of the test suite, in order, stopping at the first failure.
#   0. formatting of every C file per .clang-format
#   1. gcc, Debug, -Werror: unit tests, examples, freestanding smoke (ctest)
#   2. clang, ASan + UBSan, -Werror: the same under sanitizers
#   3. the core alone, -ffreestanding -nostdlib -Werror, with clang (gcc did it in step 1)
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

step "clang ASan+UBSan -Werror"
cmake -S . -B build/clang-asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DDMACOH_WERROR=ON -DDMACOH_SANITIZE=ON >/dev/null
cmake --build build/clang-asan -j "$jobs"
(cd build/clang-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$jobs")

step "freestanding core (clang)"
mkdir -p build/freestanding
for f in src/core/*.c src/platform/none/*.c; do
    clang -std=c11 -ffreestanding -nostdlib -Werror -Wall -Wextra -Wconversion -Wsign-conversion \
        -Iinclude -c "$f" -o "build/freestanding/$(basename "$f" .c).o"
done
echo "src/core and src/platform/none compile freestanding"
echo
echo "make check: all steps passed"
