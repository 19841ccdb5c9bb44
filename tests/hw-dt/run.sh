#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make hwtest-dt`: the devicetree reader on a real Linux kernel. An arm64 guest (QEMU's
# `virt` machine, TCG) boots Debian's cloud kernel with a devicetree that has a
# /reserved-memory node added; the library reads the kernel's live tree, declares the reserved
# range of a device node through /dev/mem, fills blocks with tags, and the host checks the
# bytes in guest-physical memory saved through QEMU's monitor.
#
#   1. installs qemu-system-arm, device-tree-compiler, cpio, clang and the arm64 cross C
#      library (apt-get, as root), and fetches Debian's arm64 cloud kernel, busybox-static and
#      libfdt-dev for arm64 into a cache folder (tests/hw-dt/fetch.sh: a private apt state; the
#      machine's dpkg architectures are left alone);
#   2. builds the library for aarch64 (cmake/toolchains/aarch64-linux-gnu.cmake, libfdt.a),
#      the static guest program (tests/hw-dt/guest.c) and a busybox initramfs;
#   3. has QEMU dump the machine's own tree (-machine dumpdtb), decompiles it, merges
#      tests/hw-dt/reserved.dtsi into it (dtc) and boots with -dtb;
#   4. checks what the guest printed: the reader's addresses for the device's region against
#      the compiled tree (fdtget), each HOSTDUMP block against guest-physical memory
#      (pmemsave), and, as a control, that a wrong tag is seen as wrong.
# Exits non-zero on any failure; prints SKIP and exits 0 only when QEMU cannot run at all.
# Environment: DMACOH_HW_DIR (work folder, default build/hw-dt), DMACOH_HW_CACHE (download
# cache, default <work folder>/cache), DMACOH_HW_TIMEOUT (seconds for the guest, default 240).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/hw/qemu.sh
. tests/hw/qemu.sh
src=$PWD
out=${DMACOH_HW_DIR:-$src/build/hw-dt}
cache=${DMACOH_HW_CACHE:-$out/cache}
limit=${DMACOH_HW_TIMEOUT:-240}
t_start=$(date +%s.%N)
# The machine: dumpdtb and the boot must use the same options, or the tree would not be this
# machine's (memory size, CPU, interrupt controller).
# shellcheck disable=SC2054 # the commas are QEMU's option syntax
machine=(-machine virt,accel=tcg -cpu cortex-a57 -m 256 -smp 1)
pool_node=/reserved-memory/dmacoh@4f000000

say() { echo "hwtest-dt: $*"; }
die() {
    say "FAIL: $*"
    exit 1
}
elapsed() { echo "$(date +%s.%N) $1" | awk '{printf "%.2f", $1 - $2}'; }

# ---- 1. packages, kernel, busybox, libfdt -------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
if ! scripts/deps.sh qemu-system-arm device-tree-compiler cpio cmake clang libfdt-dev \
    libc6-dev-arm64-cross libgcc-12-dev-arm64-cross binutils-aarch64-linux-gnu; then
    command -v qemu-system-aarch64 >/dev/null || {
        say "SKIP: qemu-system-aarch64 cannot be installed on this machine"
        exit 0
    }
    die "packages missing (see above)"
fi
qemu-system-aarch64 -version >/dev/null 2>&1 || {
    say "SKIP: qemu-system-aarch64 does not run on this machine"
    exit 0
}
mkdir -p "$out" "$cache"
tests/hw-dt/fetch.sh "$cache" || die "the arm64 packages could not be fetched (see above)"
arm=$cache/arm64
vmlinuz=$(ls "$arm"/kernel/boot/vmlinuz-* | head -n 1)
kver=${vmlinuz##*/vmlinuz-}
libfdt=$arm/libfdt/usr/lib/aarch64-linux-gnu/libfdt.a
# /dev/mem must exist and reach a no-map range: the kernel's config says whether it can.
grep -q '^CONFIG_DEVMEM=y' "$arm/kernel/boot/config-$kver" || die "$kver has no /dev/mem"

# ---- 2. library, guest program, initramfs -------------------------------------------------
cmake -S . -B "$out/lib" --toolchain cmake/toolchains/aarch64-linux-gnu.cmake \
    -DCMAKE_BUILD_TYPE=Release -DDMACOH_BUILD_TESTS=OFF -DDMACOH_BUILD_EXAMPLES=OFF \
    -DDMACOH_BUILD_BENCH=OFF -DDMACOH_FDT_LIBRARY="$libfdt" >/dev/null
cmake --build "$out/lib" --target dmacoh_static -j "$(nproc)" >/dev/null
nm "$out/lib/libdmacoh.a" 2>/dev/null | grep -c ' T dmacoh_dt_open_live$' >/dev/null ||
    die "the aarch64 build left the devicetree reader out (see $out/lib/CMakeCache.txt)"
rm -rf "$out/root" && mkdir -p "$out/root"/{bin,dev,proc,sys}
clang --target=aarch64-linux-gnu -static -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
    -Iinclude tests/hw-dt/guest.c "$out/lib/libdmacoh.a" "$libfdt" -lpthread \
    -o "$out/root/dmacoh-hwdt"
cp "$arm/busybox/bin/busybox" "$out/root/bin/busybox"
cp tests/hw-dt/init.sh "$out/root/init"
chmod +x "$out/root/init"
if [ "$(id -u)" -eq 0 ]; then
    mknod -m 600 "$out/root/dev/console" c 5 1
fi
(cd "$out/root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out/initramfs.cpio.gz"

# ---- 3. the devicetree --------------------------------------------------------------------
rm -f "$out/virt.dtb" "$out/hwdt.dtb"
qemu-system-aarch64 "${machine[@]}" -nographic -machine dumpdtb="$out/virt.dtb" >/dev/null 2>&1 ||
    [ -s "$out/virt.dtb" ] || die "qemu-system-aarch64 -machine dumpdtb failed"
dtc -q -I dtb -O dts -o "$out/virt.dts" "$out/virt.dtb"
cat "$out/virt.dts" tests/hw-dt/reserved.dtsi >"$out/hwdt.dts"
dtc -q -I dts -O dtb -o "$out/hwdt.dtb" "$out/hwdt.dts" || die "dtc rejected $out/hwdt.dts"
read -r _ want_bus _ want_size < <(fdtget -t x "$out/hwdt.dtb" "$pool_node" reg)
say "tree: $pool_node reg = bus 0x$want_bus size 0x$want_size ($out/hwdt.dtb)"

# ---- 4. boot ------------------------------------------------------------------------------
boot_once() {
    say "booting $kver on qemu-system-aarch64 virt (TCG) (attempt $1)"
    # QEMU warns that a -dtb tree is not its own; it still adds /chosen (command line,
    # initramfs), which is all the kernel needs from it.
    qemu_err=$out/qemu.err qemu_boot HWDT-INIT HWDT-DONE qemu-system-aarch64 "${machine[@]}" \
        -nographic -nic none -no-reboot \
        -kernel "$vmlinuz" -initrd "$out/initramfs.cpio.gz" -dtb "$out/hwdt.dtb" \
        -append "console=ttyAMA0 panic=-1 loglevel=4"
}

# A kernel that panics before /init under a busy emulator says nothing about the library:
# boot once more before calling it a failure.
for attempt in 1 2; do
    boot_once "$attempt"
    grep -q 'HWDT-INIT' <<<"$log" && break
    [ "$attempt" -eq 2 ] || say "the kernel did not reach /init; booting again"
done
grep -q 'HWDT-INIT' <<<"$log" || die "the guest never reached /init (see $out/serial.log, $out/qemu.err)"

# ---- 5. results ---------------------------------------------------------------------------
fails=0
passes=0
ok() {
    say "host check: $*... OK"
    passes=$((passes + 1))
}
bad() {
    say "host check: $*"
    fails=$((fails + 1))
}
expect() { yes "$1" 2>/dev/null | tr -d '\n' | head -c "$2"; }

# The reader's addresses for the device's first region, against the compiled tree.
read -r _ _ path name bus dev size status _ < <(grep '^HWDT-REGION device ' <<<"$log" | head -n 1) || true
if [ "${path:-}" = "$pool_node" ] && [ "${name:-}" = pool ] && [ "${status:-}" = 0 ] &&
    [ $((bus)) -eq $((0x$want_bus)) ] && [ $((dev)) -eq $((0x$want_bus)) ] &&
    [ $((size)) -eq $((0x$want_size)) ]; then
    ok "the live tree gives $path ($name): bus $bus, device $dev, size $size, as the DTB says"
else
    bad "the device's first region from the live tree is '${path:-?} ${name:-?} ${bus:-?} ${dev:-?} ${size:-?} ${status:-?}', the DTB says $pool_node pool 0x$want_bus 0x$want_size 0"
fi
# The reusable (CMA) entry: listed, refused as busy.
if grep -q '^HWDT-REGION device /reserved-memory/cma@4e000000 cma .* -16 ' <<<"$log"; then
    ok "the device's reusable region (CMA) is listed and refused (DMACOH_EBUSY)"
else
    bad "the device's reusable region (CMA) is not listed as refused with DMACOH_EBUSY"
fi
# The dynamic entry (size, no reg): the kernel logs where it placed it ("created DMA memory
# pool at X" before "initialized node dyn"). The reader must either give that address (a
# kernel that shows a reg in the live tree) or refuse it with DMACOH_ENOENT (one that does
# not: Linux 6.1 does not).
placed=$(grep -B1 'initialized node dyn,' <<<"$log" | sed -n 's/.*created DMA memory pool at \(0x[0-9a-f]*\).*/\1/p')
read -r _ _ _ _ dbus _ dsize dstatus _ < <(grep '^HWDT-REGION device /reserved-memory/dyn ' <<<"$log") || true
if [ -z "$placed" ]; then
    bad "the kernel did not log where it placed /reserved-memory/dyn"
elif [ "${dstatus:-}" = 0 ] && [ $((dbus)) -eq $((placed)) ] && [ $((dsize)) -eq $((0x100000)) ]; then
    ok "the dynamic region /reserved-memory/dyn: the live tree gives $dbus, where the kernel placed it"
elif [ "${dstatus:-}" = -2 ]; then
    ok "the dynamic region /reserved-memory/dyn (placed by the kernel at $placed): the live tree shows no reg, the reader refuses it (DMACOH_ENOENT)"
else
    bad "the dynamic region /reserved-memory/dyn (placed at $placed) is '${dbus:-?} ${dsize:-?} ${dstatus:-?}' from the live tree"
fi
i=0
while read -r _ phys len tag; do
    f=$out/dump-$i.bin
    if cmp -s "$f" <(expect "$tag" "$len"); then
        ok "guest-physical $phys: $len bytes are '$tag' (pmemsave)"
    else
        bad "guest-physical $phys: $len bytes are NOT '$tag' (pmemsave, $f)"
    fi
    # A control: the same bytes against another block's tag must differ.
    wrong=${tag/-$i-/-$((i + 1))-}
    if cmp -s "$f" <(expect "$wrong" "$len"); then
        bad "control: guest-physical $phys ARE '$wrong'"
    else
        ok "control: guest-physical $phys is not '$wrong'"
    fi
    i=$((i + 1))
done < <(grep '^HOSTDUMP ' <<<"$log" || true)
[ "$i" -gt 0 ] || bad "the guest asked for no HOSTDUMP check"
grep -q '^hwdt: PASS$' <<<"$log" || bad "the guest program did not report PASS"
say "guest boot: QEMU start to /init ${t_init:-?} s; kernel uptime at /init $(sed -n 's/.*HWDT-INIT uptime //p' <<<"$log") s; whole run $(elapsed "$t_start") s"
say "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
