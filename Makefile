# SPDX-License-Identifier: MIT
# The two commands of the README, plus helpers. Each installs the Debian packages it needs.

# make install: where (PREFIX) and, for packaging, under which staging root (DESTDIR).
PREFIX ?= /usr/local
DESTDIR ?=
.PHONY: all demo test check hwtest fuzz install format format-check clean

all:
	scripts/deps.sh cmake
	cmake -S . -B build/gcc -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build/gcc -j

demo:
	scripts/deps.sh cmake
	scripts/demo.sh

# Every test: the unit-level checks, the real-kernel test under QEMU, a time-boxed fuzz session.
test: check hwtest
	FUZZ_SECONDS=$${FUZZ_SECONDS:-90} $(MAKE) fuzz

check:
	scripts/deps.sh cmake clang libclang-rt-14-dev clang-format valgrind gcc-multilib file pkgconf cppcheck clang-tidy qemu-user
	scripts/check.sh

# The library on a real kernel under QEMU (tests/hw/run.sh; installs QEMU and fetches a kernel).
hwtest:
	tests/hw/run.sh

# A time-boxed libFuzzer session (FUZZ_SECONDS, default 60) of tests/fuzz/fuzz_ops.c.
fuzz:
	scripts/deps.sh clang libclang-rt-14-dev
	scripts/fuzz.sh $${FUZZ_SECONDS:-60}

# A release build of the library alone (headers, libdmacoh.so and .a, dmacoh.pc, the CMake
# package), installed under $(DESTDIR)$(PREFIX); libraries go where GNUInstallDirs says for
# PREFIX (lib/<multiarch> for /usr on Debian, lib for /usr/local).
install:
	scripts/deps.sh cmake
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$(PREFIX)" \
		-DDMACOH_BUILD_TESTS=OFF -DDMACOH_BUILD_EXAMPLES=OFF -DDMACOH_BUILD_BENCH=OFF >/dev/null
	cmake --build build/release -j
	DESTDIR="$(DESTDIR)" cmake --install build/release
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	scripts/deps.sh clang-format
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
