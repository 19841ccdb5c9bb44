# SPDX-License-Identifier: MIT
# 64-bit ARM Linux (ARMv8-A), little-endian, run under qemu-aarch64 (package qemu-user), or
# built static for a guest under qemu-system-aarch64 (`make hwtest-dt`); compiler and
# libraries as linux-cross.cmake says (libc6-dev-arm64-cross, libgcc-12-dev-arm64-cross,
# binutils-aarch64-linux-gnu).
#   cmake -S . -B build/cross-aarch64 --toolchain cmake/toolchains/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(DMACOH_TRIPLE aarch64-linux-gnu)
set(DMACOH_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake)
