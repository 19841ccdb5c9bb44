# SPDX-License-Identifier: MIT
# The two commands of the README, plus helpers. Each installs the Debian packages it needs.
.PHONY: all demo check hwtest format format-check clean

all:
	scripts/deps.sh cmake
	cmake -S . -B build/gcc -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build/gcc -j

demo:
	scripts/deps.sh cmake
	scripts/demo.sh

check:
	scripts/deps.sh cmake clang libclang-rt-14-dev clang-format valgrind gcc-multilib file pkgconf cppcheck
	scripts/check.sh

# The library on a real kernel under QEMU (tests/hw/run.sh; installs QEMU and fetches a kernel).
hwtest:
	tests/hw/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	scripts/deps.sh clang-format
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
