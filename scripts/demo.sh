#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make demo`: builds the library and the examples (Release) and runs each example on the
# simulated platform, so a person sees what declared coherent memory does.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DDMACOH_BUILD_TESTS=OFF >/dev/null
cmake --build build/demo -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
for ex in scsi_card usb_sram sysmem_fallback; do
    printf '\n################ examples/%s.c ################\n\n' "$ex"
    "build/demo/examples/$ex"
done
