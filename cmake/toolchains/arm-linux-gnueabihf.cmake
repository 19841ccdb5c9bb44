# SPDX-License-Identifier: MIT
# 32-bit ARM Linux (ARMv7-A, hard float), little-endian, 32-bit size_t and pointers, run
# under qemu-arm (package qemu-user); compiler and libraries as linux-cross.cmake says.
#   cmake -S . -B build/cross-arm --toolchain cmake/toolchains/arm-linux-gnueabihf.cmake
set(CMAKE_SYSTEM_PROCESSOR arm)
set(DMACOH_TRIPLE arm-linux-gnueabihf)
set(DMACOH_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake)
