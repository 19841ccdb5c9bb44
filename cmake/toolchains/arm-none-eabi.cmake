# SPDX-License-Identifier: MIT
# Bare-metal Arm Cortex-M (no OS): Debian gcc-arm-none-eabi with picolibc
# (picolibc-arm-none-eabi; Debian's newlib is built without C99 printf formats such as %zu,
# which the test runner prints with). DMACOH_FW_CPU picks the core (default cortex-m3, the CPU of
# QEMU's mps2-an385 board); programs are Thumb. CMake's compiler checks build a static library
# instead of a program, since linking a program needs the firmware's own startup and linker
# script.
#   cmake -S firmware -B build/firmware --toolchain cmake/toolchains/arm-none-eabi.cmake
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
if(NOT DMACOH_FW_CPU)
    set(DMACOH_FW_CPU cortex-m3)
endif()
set(CMAKE_C_FLAGS_INIT "-mcpu=${DMACOH_FW_CPU} -mthumb --specs=picolibc.specs")
# CMake passes the C flags to the link too: the specs must not be named twice.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
