# SPDX-License-Identifier: MIT
# The two commands of the README, plus helpers. Each installs the Debian packages it needs.

# make install: where (PREFIX) and, for packaging, under which staging root (DESTDIR).
PREFIX ?= /usr/local
DESTDIR ?=
.PHONY: all demo test check hwtest hwtest-dt fuzz install format format-check clean package-test

all:
	scripts/deps.sh cmake libfdt-dev device-tree-compiler
	cmake -S . -B build/gcc -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build/gcc -j

demo:
	scripts/deps.sh cmake libfdt-dev device-tree-compiler
	scripts/demo.sh

# Every test: the unit-level checks, the Debian packages, the real-kernel tests under QEMU
# (x86-64 with PCI devices, arm64 with a devicetree), the firmware image on an emulated
# Cortex-M3, the unit tests on emulated ARM32 and s390x, a time-boxed fuzz session.
test: check package-test hwtest hwtest-dt firmware-test cross-test
	FUZZ_SECONDS=$${FUZZ_SECONDS:-90} $(MAKE) fuzz

check:
	scripts/deps.sh cmake clang libclang-rt-14-dev clang-format valgrind gcc-multilib file pkgconf cppcheck clang-tidy qemu-user mandoc jq libxml2-utils libfdt-dev device-tree-compiler
	scripts/check.sh

# The Debian packages (debian/): built from a clean copy with dpkg-buildpackage, checked with
# lintian, installed with apt in a fresh debootstrap chroot of bookworm where a consumer is
# built against them, then purged (scripts/package-test.sh; as root).
package-test:
	scripts/deps.sh dpkg-dev debhelper lintian debootstrap xz-utils
	scripts/package-test.sh

# The library on a real kernel under QEMU (tests/hw/run.sh; installs QEMU and fetches a kernel).
hwtest:
	tests/hw/run.sh

# The devicetree reader on a real arm64 kernel under QEMU (tests/hw-dt/run.sh; installs QEMU,
# dtc and the arm64 cross C library, fetches Debian's arm64 kernel, busybox and libfdt).
hwtest-dt:
	tests/hw-dt/run.sh

# A time-boxed libFuzzer session (FUZZ_SECONDS, default 60) of tests/fuzz/fuzz_ops.c and
# tests/fuzz/fuzz_dt.c, sharing the time.
fuzz:
	scripts/deps.sh clang libclang-rt-14-dev libfdt-dev
	scripts/fuzz.sh $${FUZZ_SECONDS:-60}

# A release build of the library alone (headers, libdmacoh.so and .a, dmacoh.pc, the CMake
# package), installed under $(DESTDIR)$(PREFIX); libraries go where GNUInstallDirs says for
# PREFIX (lib/<multiarch> for /usr on Debian, lib for /usr/local).
install:
	scripts/deps.sh cmake libfdt-dev device-tree-compiler
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$(PREFIX)" \
		-DDMACOH_BUILD_TESTS=OFF -DDMACOH_BUILD_EXAMPLES=OFF -DDMACOH_BUILD_BENCH=OFF >/dev/null
	cmake --build build/release -j "$$(nproc)"
	DESTDIR="$(DESTDIR)" cmake --install build/release
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	scripts/deps.sh clang-format
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

# The freestanding core in firmware on an emulated Cortex-M3 (QEMU mps2-an385): firmware/,
# docs/porting.md. Fails when a test of the image fails.
.PHONY: firmware-test cross-test
firmware-test:
	scripts/deps.sh cmake gcc-arm-none-eabi picolibc-arm-none-eabi qemu-system-arm
	scripts/firmware-test.sh

# The Linux unit tests on 32-bit Arm and on big-endian s390x under QEMU user-mode emulation
# (clang --target with Debian's cross libc and libgcc; gcc-<triple> conflicts with gcc-multilib).
cross-test:
	scripts/deps.sh cmake clang qemu-user binutils-arm-linux-gnueabihf binutils-s390x-linux-gnu \
		libc6-dev-armhf-cross libc6-dev-s390x-cross libgcc-12-dev-armhf-cross libgcc-12-dev-s390x-cross \
		libfdt-dev device-tree-compiler
	scripts/cross-test.sh

# The shared-region stresses for longer than the unit test runs them: four processes allocating
# at random for STRESS_SECONDS (default 180), then KILLS (default 5000) kills of owners, inside
# the lock and outside it (tests/unit/test_shared.c).
.PHONY: stress
stress:
	scripts/deps.sh cmake
	cmake -S . -B build/gcc -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build/gcc -j --target test_shared
	DMACOH_STRESS_SECONDS=$${STRESS_SECONDS:-180} DMACOH_KILLS=$${KILLS:-5000} build/gcc/tests/test_shared
