#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make check`: every build variant of the test suite, in order, stopping at the first failure.
#   0. formatting of every C file per .clang-format; every manual page (man/*.3, man/*.1) clean under
#      mandoc -T lint -W warning
#   1. gcc, Debug, -Werror: unit tests, examples, freestanding smoke (ctest)
#   2. clang, ASan + UBSan, -Werror: the same under sanitizers, with ASan tracking the blocks
#      inside regions (DMACOH_TRACK)
#   3. clang ThreadSanitizer on the concurrency tests
#   4. valgrind memcheck on every unit test
#   5. gcc -m32: the tests run natively where the kernel runs 32-bit programs, else under
#      qemu-i386 user-mode emulation
#   6. make install DESTDIR=... PREFIX=/usr: the SONAME, only the public API exported, a
#      consumer built with pkg-config and with find_package (which refuses an older 0.x), and
#      the README's driver snippet built and run; the manual pages installed, with a link for
#      every name they document, and a page for every public function
#   7. cppcheck on the library
#   8. clang-tidy per .clang-tidy (warnings as errors) and gcc -fanalyzer -Werror on src/
#   9. the core alone, -ffreestanding -nostdlib -Werror, with clang (gcc did it in step 1), and
#      the devicetree reader (src/dt) the same way
# The fuzz corpus is replayed by ctest in steps 1 and 2; `make fuzz` runs the fuzzer itself.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

step() { printf '\n=== %s ===\n' "$*"; }

step "format (clang-format --dry-run -Werror)"
clang-format --dry-run -Werror $(git ls-files '*.c' '*.h' 2>/dev/null || find include src tests examples -name '*.[ch]')
echo "all C files formatted"

step "manual pages (mandoc -T lint -W warning, every page)"
pages=(man/*.3 man/*.1)
mandoc -T lint -W warning "${pages[@]}"
echo "${#pages[@]} manual pages clean"

step "gcc Debug -Werror"
cmake -S . -B build/gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug -DDMACOH_WERROR=ON >/dev/null
cmake --build build/gcc -j "$jobs"
(cd build/gcc && ctest --output-on-failure -j "$jobs")
# The programs examples/README.md tells people to run are the ones the build makes.
for p in $(grep -o 'build/debug/examples/[a-z_]*' examples/README.md | sort -u); do
    [ -x "build/gcc/examples/${p##*/}" ] || { echo "examples/README.md names $p, not built"; exit 1; }
done

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
# The devicetree reader in 32 bits needs an i386 libfdt (scripts/fetch-libfdt.sh); without
# one CMake leaves the reader out of this build, saying so.
fdt32=$(scripts/fetch-libfdt.sh i386 i386-linux-gnu)
if [ -n "$fdt32" ]; then m32+=(-DDMACOH_FDT_LIBRARY="$fdt32"); fi
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

step "install (make install DESTDIR=... PREFIX=/usr), then use the installed files"
# The version, as the headers say it; before 1.0 each minor version is an ABI of its own.
ver() { sed -n "s/^#define DMACOH_VERSION_$1 \([0-9]*\)$/\1/p" include/dmacoh/dmacoh.h; }
major=$(ver MAJOR) minor=$(ver MINOR)
abi=$major
[ "$major" -eq 0 ] && abi=$major.$minor
# The Debian packages repeat the version in debian/changelog (make package-test builds them).
debian/consistency.sh version
dest="$PWD/build/destdir"
rm -rf "$dest" build/consumer build/consumer-* build/readme-snippet* build/man-example*
make --no-print-directory install DESTDIR="$dest" PREFIX=/usr
lib=$(find "$dest/usr" -name libdmacoh.so)
[ -n "$lib" ] && [ -f "$dest/usr/include/dmacoh/dmacoh.h" ] || { echo "make install: files missing"; exit 1; }
libdir=$(dirname "$lib")
echo "installed under $dest: ${libdir#"$dest"}/libdmacoh.so -> $(readlink "$lib")"
readelf -d "$lib" | grep -q "SONAME.*\[libdmacoh\.so\.$abi\]" || {
    echo "libdmacoh.so has no SONAME libdmacoh.so.$abi"
    exit 1
}
# Exported: exactly the functions and variables the public headers declare (not the inline
# ones), each in the version node DMACOH_<SONAME version>. The declared names come from the
# compiler (gcc -aux-info lists every function declaration with its file), the extern
# variables from the headers' text.
for h in include/dmacoh/*.h; do echo "#include <dmacoh/${h##*/}>"; done >build/public-headers.c
gcc -std=c11 -Iinclude -fsyntax-only -aux-info build/public-headers.aux build/public-headers.c
{
    grep '^/\* include/dmacoh/' build/public-headers.aux | grep -v '\*/ static ' |
        sed -E 's|^/\*[^*]*\*/ *||; s/ \(.*//; s/.*[ *]//'
    sed -nE 's/^extern [^"(]*[ *]([A-Za-z_][A-Za-z0-9_]*)(\[[^]]*\])?;.*/\1/p' include/dmacoh/*.h
} | sort -u >build/public-names.txt
nm -D --defined-only --format=posix "$lib" | awk '$2 != "A" { print $1 }' | sort -u >build/exported.txt
sed 's/@.*//' build/exported.txt | sort -u >build/exported-names.txt
if ! cmp -s build/public-names.txt build/exported-names.txt; then
    echo "libdmacoh.so exports other names than the public headers declare:"
    comm -13 build/public-names.txt build/exported-names.txt | sed 's/^/  exported, not public: /'
    comm -23 build/public-names.txt build/exported-names.txt | sed 's/^/  public, not exported: /'
    exit 1
fi
if grep -v "@@DMACOH_$abi\$" build/exported.txt; then
    echo "these symbols are not in the version node DMACOH_$abi"
    exit 1
fi
echo "exported: the $(wc -l <build/public-names.txt) names the public headers declare, in DMACOH_$abi"
# Manual pages: each page, and for every name in its NAME section a link that leads to it
# (`man dma_free_coherent`); every function and variable the public headers declare, but the
# dmacoh__ internals, has one; the installed tree is clean under mandoc's lint too.
mandir="$dest/usr/share/man/man3"
for page in man/*.3; do
    [ -f "$mandir/${page##*/}" ] || { echo "make install: $page not installed in ${mandir#"$dest"}"; exit 1; }
    for name in $(sed -n 's/^\.Nm \([A-Za-z0-9_][A-Za-z0-9_]*\).*/\1/p' "$page"); do
        [ "$(readlink -f "$mandir/$name.3")" = "$(readlink -f "$mandir/${page##*/}")" ] || {
            echo "make install: ${mandir#"$dest"}/$name.3 does not lead to ${page##*/}"
            exit 1
        }
    done
done
stale=$(grep -L "^\.Os dmacoh $major\.$minor\$" man/*.3 || true)
[ -z "$stale" ] || { echo "manual pages not of version $major.$minor (.Os):" $stale; exit 1; }
undocumented=$(grep -v '^dmacoh__' build/public-names.txt | while read -r n; do
    [ -e "$mandir/$n.3" ] || echo "$n"
done)
[ -z "$undocumented" ] || { echo "public names without a manual page:" $undocumented; exit 1; }
(cd "$dest/usr/share/man" && mandoc -T lint -W warning man3/*.3)
echo "manual pages: $(find "$mandir" -type f | wc -l) pages and $(find "$mandir" -type l | wc -l) links installed"
# pkg-config: the .pc finds its prefix relative to itself, so it works from DESTDIR too.
pc() { PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config "$@" dmacoh; }
[ "$(pc --modversion)" = "$major.$minor.$(ver PATCH)" ] || { echo "dmacoh.pc: wrong version"; exit 1; }
cc -o build/consumer-pc tests/install/consumer.c $(pc --cflags --libs) -Wl,-rpath,"$libdir"
build/consumer-pc
tests/install/nvme_cmb.sh "$libdir" build/nvme_cmb-pc
# The README's driver snippet, exactly as written, against the installed shared library.
sed -n '/^## The RFC API in a driver/,/^## /p' README.md | sed -n '/^```c$/,/^```$/p' | sed '1d;$d' \
    >build/readme-snippet.c
[ -s build/readme-snippet.c ] || { echo "README.md: no C snippet under 'The RFC API in a driver'"; exit 1; }
cc -std=c11 -Wall -Wextra -Werror -o build/readme-snippet build/readme-snippet.c $(pc --cflags --libs) \
    -Wl,-rpath,"$libdir"
build/readme-snippet
# The complete program of dmacoh(3)'s EXAMPLES, as the page shows it, against the installed library.
awk '/^\.Sh EXAMPLES/ { f = 1 } f && /^\.Bd -literal/ { p = 1; next } p && /^\.Ed/ { exit } p' man/dmacoh.3 |
    sed 's/\\e/\\/g' >build/man-example.c
grep -q '^int main' build/man-example.c || { echo "man/dmacoh.3: no complete program in EXAMPLES"; exit 1; }
cc -std=c11 -Wall -Wextra -Werror -o build/man-example build/man-example.c $(pc --cflags --libs) -Wl,-rpath,"$libdir"
build/man-example
# CMake: the package accepts a request for this minor version, and (before 1.0) refuses one
# for the previous minor version, whose ABI differs.
cmake -S tests/install -B build/consumer -DCMAKE_PREFIX_PATH="$dest/usr" -DDMACOH_WANT="$major.$minor" \
    >/dev/null
cmake --build build/consumer -j "$jobs" >/dev/null
LD_LIBRARY_PATH="$libdir" build/consumer/consumer_shared
build/consumer/consumer_static
if [ "$major" -eq 0 ] && [ "$minor" -gt 0 ]; then
    old="0.$((minor - 1))"
    if cmake -S tests/install -B build/consumer-old -DCMAKE_PREFIX_PATH="$dest/usr" \
        -DDMACOH_WANT="$old" >build/consumer-old.log 2>&1; then
        echo "find_package(dmacoh $old) accepted $major.$minor"
        exit 1
    fi
    grep -q "requested version \"$old\"" build/consumer-old.log || {
        cat build/consumer-old.log
        echo "find_package(dmacoh $old) failed, but not for its version"
        exit 1
    }
    echo "find_package(dmacoh $old) refuses $major.$minor, as the SONAME does"
fi

step "cppcheck (warnings, performance, portability)"
cppcheck --enable=warning,performance,portability --std=c11 --error-exitcode=1 -q -UDMACOH_CONFIG_HEADER \
    -Iinclude -Isrc/core src/
echo "cppcheck: no findings"

step "clang-tidy (.clang-tidy, warnings as errors)"
ls src/core/*.c src/platform/*/*.c src/dt/*.c | xargs -P "$jobs" -n 4 clang-tidy -p build/gcc --quiet 2>/dev/null
echo "clang-tidy: no findings"

step "gcc -fanalyzer -Werror"
mkdir -p build/analyzer
for f in src/core/*.c src/platform/*/*.c src/dt/*.c; do
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
# The devicetree reader keeps the core's rule apart from libfdt itself (whose libfdt_env.h
# brings the few C library headers libfdt needs): it compiles with -ffreestanding too.
for f in src/dt/*.c; do
    clang -std=c11 -ffreestanding -nostdlib -Werror -Wall -Wextra -Wconversion -Wsign-conversion \
        -Iinclude -c "$f" -o "build/freestanding/dt_$(basename "$f" .c).o"
done
echo "src/core, src/platform/none and src/dt compile freestanding"
echo
echo "make check: all steps passed"
