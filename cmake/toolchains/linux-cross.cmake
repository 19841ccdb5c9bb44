# SPDX-License-Identifier: MIT
# Shared part of the Linux cross toolchain files. DMACOH_TRIPLE names the target; its C library
# and libgcc come from Debian's cross packages (libc6-dev-<arch>-cross,
# libgcc-12-dev-<arch>-cross) under /usr/<triple> and /usr/lib/gcc-cross, its linker from
# binutils-<triple>. The compiler is clang with --target: Debian 12's gcc-<triple> packages
# cannot be installed together with gcc-multilib (which `make check` needs for -m32), clang's
# cross support can. Pass -DCMAKE_C_COMPILER=<triple>-gcc to use gcc instead.
# DMACOH_QEMU is the user-mode emulator through which ctest runs every test program
# (CMAKE_CROSSCOMPILING_EMULATOR); its -L makes the target's loader and libc come from
# /usr/<triple>.
set(CMAKE_SYSTEM_NAME Linux)
if(NOT CMAKE_C_COMPILER)
    set(CMAKE_C_COMPILER clang)
endif()
set(CMAKE_C_COMPILER_TARGET ${DMACOH_TRIPLE})
set(CMAKE_FIND_ROOT_PATH /usr/${DMACOH_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Through env, so that a test knows it runs under user-mode emulation (DMACOH_TEST_EMULATOR):
# a test that runs its own program again does so through the same emulator (QEMU_LD_PREFIX
# stands for -L there), and the few cases that depend on the host process's own mappings skip,
# saying why.
set(CMAKE_CROSSCOMPILING_EMULATOR env DMACOH_TEST_EMULATOR=${DMACOH_QEMU}
    QEMU_LD_PREFIX=/usr/${DMACOH_TRIPLE} ${DMACOH_QEMU} -L /usr/${DMACOH_TRIPLE})
