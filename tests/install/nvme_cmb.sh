#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/nvme_cmb builds standalone against an installed dmacoh: its own Makefile, with
# nothing but `pkg-config --cflags --libs dmacoh` (shared) and `--static` (libdmacoh.a). Each
# build is run once against a PCI address that does not exist, which it must refuse with its
# message (the driver itself runs on an emulated controller in tests/hw).
# Usage: tests/install/nvme_cmb.sh LIBDIR OUTDIR   (LIBDIR holds pkgconfig/dmacoh.pc)
set -euo pipefail
cd "$(dirname "$0")/../.."
libdir=$1
out=$(realpath -m "$2")
export PKG_CONFIG_PATH="$libdir/pkgconfig"
mkdir -p "$out"
make -s -C examples/nvme_cmb O="$out/shared" CFLAGS="-O2 -Werror" LDFLAGS="-Wl,-rpath,$libdir"
make -s -C examples/nvme_cmb O="$out/static" CFLAGS="-O2 -Werror" STATIC=1
for v in shared static; do
    if "$out/$v/nvme_cmb" 0000:ff:1f.7 >"$out/$v.log" 2>&1; then
        echo "nvme_cmb ($v) accepted a PCI address that does not exist"
        exit 1
    fi
    grep -q "setting up 0000:ff:1f.7 failed" "$out/$v.log" || {
        cat "$out/$v.log"
        echo "nvme_cmb ($v): no clean refusal"
        exit 1
    }
done
ldd "$out/shared/nvme_cmb" >"$out/ldd.txt" && grep -q "libdmacoh.so" "$out/ldd.txt" || { echo "nvme_cmb (shared): not linked to libdmacoh.so"; exit 1; }
echo "examples/nvme_cmb: built standalone with pkg-config, shared and static; both refuse an absent device"
