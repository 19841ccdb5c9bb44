# SPDX-License-Identifier: MIT
# IBM Z Linux: 64-bit and big-endian, run under qemu-s390x (package qemu-user); compiler and
# libraries as linux-cross.cmake says.
#   cmake -S . -B build/cross-s390x --toolchain cmake/toolchains/s390x-linux-gnu.cmake
set(CMAKE_SYSTEM_PROCESSOR s390x)
set(DMACOH_TRIPLE s390x-linux-gnu)
set(DMACOH_QEMU qemu-s390x)
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake)
