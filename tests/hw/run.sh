#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make hwtest`: the library on a real Linux kernel under QEMU, against emulated PCI devices.
#
#   1. installs qemu-system-x86, busybox-static, cpio, jq (apt-get, as root) and unpacks Debian's
#      cloud kernel into a cache folder (apt-get download + dpkg -x; the host's /boot is left
#      alone);
#   2. builds the library and a static guest program (tests/hw/guest.c), and a busybox
#      initramfs holding it with the uio modules;
#   3. boots qemu-system-x86_64 (q35 with an emulated Intel IOMMU, 256 MiB, TCG unless
#      kvm_intel/kvm_amd is loaded) with ivshmem-plain (its BAR2 backed by a host file), edu
#      and qxl, plus a second ivshmem-plain (00:11.0) and edu (00:10.0) that the guest binds
#      to vfio-pci, and two NVMe controllers for examples/nvme_cmb (00:13.0 with a 2 MiB CMB,
#      00:14.0 without; namespaces backed by nvme-cmb.bin and nvme-sys.bin, also bound to
#      vfio-pci), and runs the proofs named in DMACOH_HW_PROOFS (default: all);
#   4. checks from outside what the guest asked for: HOSTCHECK (and, as controls, HOSTWRONG)
#      lines against the ivshmem file or the NVMe namespaces' backing files, HOSTDUMP lines
#      against guest-physical memory saved through QEMU's monitor.
# Exits non-zero on any failure; prints SKIP and exits 0 only when QEMU cannot run at all.
# Environment: DMACOH_HW_DIR (work folder, default build/hw), DMACOH_HW_CACHE (kernel cache),
# DMACOH_HW_PROOFS ("all" or names), DMACOH_HW_TIMEOUT (seconds for the guest, default 240).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/hw/qemu.sh
. tests/hw/qemu.sh
src=$PWD
out=${DMACOH_HW_DIR:-$src/build/hw}
cache=${DMACOH_HW_CACHE:-$out/cache}
proofs=${DMACOH_HW_PROOFS:-all}
limit=${DMACOH_HW_TIMEOUT:-240}
t_start=$(date +%s.%N)

say() { echo "hwtest: $*"; }
die() {
    say "FAIL: $*"
    exit 1
}
elapsed() { echo "$(date +%s.%N) $1" | awk '{printf "%.2f", $1 - $2}'; }

# ---- 1. packages and kernel ----------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
if ! scripts/deps.sh qemu-system-x86 busybox-static cpio cmake gcc libc6-dev jq; then
    command -v qemu-system-x86_64 >/dev/null || {
        say "SKIP: qemu-system-x86_64 cannot be installed on this machine"
        exit 0
    }
    die "packages missing (see above)"
fi
qemu-system-x86_64 -version >/dev/null 2>&1 || {
    say "SKIP: qemu-system-x86_64 does not run on this machine"
    exit 0
}

mkdir -p "$out" "$cache"
kernel_dir=$cache/kernel
if ! ls "$kernel_dir"/boot/vmlinuz-* >/dev/null 2>&1; then
    pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}') || true
    if [ -z "$pkg" ]; then
        apt-get update -qq
        pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
    fi
    [ -n "$pkg" ] || die "no linux-image-cloud-amd64 in the package lists"
    say "fetching $pkg"
    rm -rf "$cache/deb" && mkdir -p "$cache/deb"
    (cd "$cache/deb" && apt-get download -q "$pkg" 2>&1 | grep -v 'unsandboxed' || true)
    ls "$cache"/deb/*.deb >/dev/null 2>&1 || die "apt-get download $pkg failed"
    rm -rf "$kernel_dir.tmp" && dpkg -x "$cache"/deb/*.deb "$kernel_dir.tmp"
    rm -rf "$kernel_dir" && mv "$kernel_dir.tmp" "$kernel_dir" && rm -rf "$cache/deb"
fi
vmlinuz=$(ls "$kernel_dir"/boot/vmlinuz-* | head -n 1)
kver=${vmlinuz##*/vmlinuz-}
moddir=$kernel_dir/lib/modules/$kver/kernel/drivers

# ---- 2. guest program and initramfs -------------------------------------------------------
cmake -S . -B "$out/lib" -DCMAKE_BUILD_TYPE=Release -DDMACOH_BUILD_TESTS=OFF \
    -DDMACOH_BUILD_EXAMPLES=OFF -DDMACOH_BUILD_BENCH=OFF >/dev/null
cmake --build "$out/lib" --target dmacoh_static -j "$(nproc)" >/dev/null
rm -rf "$out/root" && mkdir -p "$out/root"/{bin,dev,proc,sys,lib}
gcc -static -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude tests/hw/guest.c \
    "$out/lib/libdmacoh.a" -lpthread -o "$out/root/dmacoh-hw"
# The dmacoh command, linked statically like the guest program: the initramfs has no C
# library or dynamic loader for libdmacoh.so to be loaded by.
gcc -static -O2 -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Wall -Wextra -Werror -Iinclude \
    tools/dmacoh/*.c "$out/lib/libdmacoh.a" -lpthread -o "$out/root/bin/dmacoh"
# The NVMe example driver (examples/nvme_cmb), static, run by the nvme-* proofs.
gcc -static -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude examples/nvme_cmb/*.c \
    "$out/lib/libdmacoh.a" -lpthread -o "$out/root/bin/nvme_cmb"
cp /bin/busybox "$out/root/bin/busybox"
for m in uio/uio.ko uio/uio_pci_generic.ko; do
    cp "$moddir/$m"* "$out/root/lib/" # .ko, or .ko.xz on kernels that compress them
done
# VFIO: vfio-pci, the type1 IOMMU driver and what they need, in load order (the package has
# no modules.dep; a module that is built in is simply absent), for init.sh to insmod in turn.
: >"$out/root/lib/vfio.list"
for m in virt/lib/irqbypass vfio/vfio vfio/vfio_virqfd vfio/vfio_iommu_type1 \
    vfio/pci/vfio-pci-core vfio/pci/vfio-pci; do
    for f in "$moddir/../$m.ko" "$moddir/$m.ko" "$moddir/../$m.ko.xz" "$moddir/$m.ko.xz"; do
        [ -f "$f" ] || continue
        cp "$f" "$out/root/lib/"
        echo "${f##*/}" >>"$out/root/lib/vfio.list"
        break
    done
done
cp tests/hw/init.sh "$out/root/init"
chmod +x "$out/root/init"
if [ "$(id -u)" -eq 0 ]; then
    mknod -m 600 "$out/root/dev/console" c 5 1
fi
(cd "$out/root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out/initramfs.cpio.gz"

# ---- 3. boot ------------------------------------------------------------------------------
accel=tcg
if { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; } && [ -w /dev/kvm ]; then
    accel=kvm
fi
# The NVMe controller's CMB in MiB (tests/hw/guest.c's HW_CMB_MB says the same); the
# ivshmem BARs are 1 MiB (their backing files), edu's BAR0 is 1 MiB.
cmb_mb=16
# One boot: runs the guest until it says HW-DONE (or QEMU ends), saves what HOSTDUMP lines ask
# for through the monitor, quits QEMU, and leaves the console in $log.
boot_once() {
    rm -f "$out"/ivshmem.bin "$out"/ivshmem2.bin "$out"/nvme.img
    truncate -s 1M "$out/ivshmem.bin" "$out/ivshmem2.bin" "$out/nvme.img"
    # The nvme_cmb example's namespaces, fresh each boot (HOSTCHECK names them nvme-cmb and
    # nvme-sys).
    rm -f "$out/nvme-cmb.bin" "$out/nvme-sys.bin"
    truncate -s 8M "$out/nvme-cmb.bin" "$out/nvme-sys.bin"
    say "booting $kver ($accel) with proofs: $proofs (attempt $1)"
    qemu_boot HW-INIT HW-DONE qemu-system-x86_64 \
        -machine q35,accel=$accel,kernel-irqchip=split -device intel-iommu,intremap=on \
        -m 256 -smp 1 -nographic -vga none -nic none -no-reboot \
        -kernel "$vmlinuz" -initrd "$out/initramfs.cpio.gz" \
        -append "console=ttyS0 panic=-1 no_timer_check intel_iommu=on iommu=pt hugepages=16 loglevel=4 -- ${proofs//,/ }" \
        -object memory-backend-file,id=shm,mem-path="$out/ivshmem.bin",size=1M,share=on \
        -device ivshmem-plain,memdev=shm -device edu -device qxl \
        -object memory-backend-file,id=shm2,mem-path="$out/ivshmem2.bin",size=1M,share=on \
        -device ivshmem-plain,memdev=shm2,addr=0x11 -device edu,addr=0x10 \
        -drive file="$out/nvme.img",if=none,id=nvm,format=raw \
        -device nvme,serial=dmacoh-cmb,drive=nvm,cmb_size_mb=$cmb_mb,addr=0x12 \
        -drive file="$out/nvme-cmb.bin",if=none,id=nvm2,format=raw \
        -device nvme,serial=nvme-cmb,drive=nvm2,cmb_size_mb=2,addr=0x13 \
        -drive file="$out/nvme-sys.bin",if=none,id=nvm3,format=raw \
        -device nvme,serial=nvme-sys,drive=nvm3,addr=0x14
}

# A kernel that panics before /init under a busy emulator (it has been seen to misjudge the
# timer) says nothing about the library: boot once more before calling it a failure.
for attempt in 1 2; do
    boot_once "$attempt"
    grep -q 'HW-INIT' <<<"$log" && break
    [ "$attempt" -eq 2 ] || say "the kernel did not reach /init; booting again"
done

# ---- 4. results ---------------------------------------------------------------------------
fails=0
passes=0
expect() { yes "$1" 2>/dev/null | tr -d '\n' | head -c "$2"; }
check_bytes() { # file offset len tag what
    if cmp -s <(tail -c +$(($2 + 1)) "$1" | head -c "$3") <(expect "$4" "$3"); then
        say "host check: $5: $3 bytes at offset $(printf '%#x' "$2") are '$4'... OK"
        passes=$((passes + 1))
    else
        say "host check: $5: $3 bytes at offset $(printf '%#x' "$2") are NOT '$4'"
        fails=$((fails + 1))
    fi
}
backing() { case $1 in *.*) echo "$out/$1" ;; *) echo "$out/$1.bin" ;; esac; }
while read -r _ file off len tag; do
    check_bytes "$(backing "$file")" "$((off))" "$len" "$tag" "backing file $(backing "$file")"
done < <(grep '^HOSTCHECK ' <<<"$log" || true)
# Controls the guest asks for: bytes that must NOT be the tag (a wrong pattern seen as wrong,
# or a refused write that must not have reached the medium).
while read -r _ file off len tag; do
    f=$(backing "$file")
    if cmp -s <(tail -c +$((off + 1)) "$f" | head -c "$len") <(expect "$tag" "$len"); then
        say "host check control: backing file $f: $len bytes at offset $(printf '%#x' "$off") ARE '$tag'"
        fails=$((fails + 1))
    else
        say "host check control: backing file $f: $len bytes at offset $(printf '%#x' "$off") are not '$tag'... OK"
        passes=$((passes + 1))
    fi
done < <(grep '^HOSTWRONG ' <<<"$log" || true)
i=0
while read -r _ phys len tag; do
    check_bytes "$out/dump-$i.bin" 0 "$len" "$tag" "guest-physical $phys (pmemsave)"
    i=$((i + 1))
done < <(grep '^HOSTDUMP ' <<<"$log" || true)

# shared-bar: the HWSHARED lines, in the order the guest's processes wrote them, give each
# page of BAR2 they touched its last writer; each page must hold that writer's tag (continued
# from the block's start), and each victim's memory must have come back to the survivor: pages
# a victim wrote that the survivor wrote again after reaping them. A control: those pages must
# not hold the victim's tag any more (the checker sees a difference where there is one).
declare -A sb_tag=() sb_start=() sb_role=() sb_old=() sb_old_start=()
sb_pages=0 sb_bad=0 sb_back1=0 sb_back2=0 sb_kept2=0 sb_same=0
while read -r _ role phase _ handle base len tag; do
    off=$((handle - base))
    for ((p = off; p < off + len; p += 4096)); do
        if [ "$role" = survivor ] && [[ $phase == reap* ]]; then
            case "${sb_role[$p]:-}" in
            victim1) sb_back1=$((sb_back1 + 1)) ;;
            victim2) sb_back2=$((sb_back2 + 1)) ;;
            esac
            if [[ ${sb_role[$p]:-} == victim* ]]; then
                sb_old[$p]=${sb_tag[$p]} sb_old_start[$p]=${sb_start[$p]}
            fi
        fi
        sb_tag[$p]=$tag sb_start[$p]=$off sb_role[$p]=$role
    done
done < <(grep '^HWSHARED ' <<<"$log" || true)
for p in "${!sb_tag[@]}"; do
    sb_pages=$((sb_pages + 1))
    [ "${sb_role[$p]}" = victim2 ] && sb_kept2=$((sb_kept2 + 1))
    if ! cmp -s <(tail -c +$((p + 1)) "$out/ivshmem.bin" | head -c 4096) \
        <(expect "${sb_tag[$p]}" $((p - sb_start[$p] + 4096)) | tail -c 4096); then
        say "host check: shared-bar: page at offset $(printf '%#x' "$p") of BAR2 does NOT hold '${sb_tag[$p]}' (${sb_role[$p]}'s)"
        sb_bad=$((sb_bad + 1))
    fi
done
for p in "${!sb_old[@]}"; do
    if cmp -s <(tail -c +$((p + 1)) "$out/ivshmem.bin" | head -c 4096) \
        <(expect "${sb_old[$p]}" $((p - sb_old_start[$p] + 4096)) | tail -c 4096); then
        say "host check control: shared-bar: page at offset $(printf '%#x' "$p") still holds '${sb_old[$p]}'"
        sb_same=$((sb_same + 1))
    fi
done
if [ "$sb_pages" -gt 0 ] || grep -q '^hw: shared-bar: PASS$' <<<"$log"; then
    say "host check: shared-bar: $sb_pages pages of BAR2 written by the survivor and two victims, $sb_bad not holding their last writer's tag; reaped and written again by the survivor: $sb_back1 pages of victim1, $sb_back2 of victim2; $sb_kept2 still hold victim2's tags; $sb_same rewritten pages still hold the victim's"
    if [ "$sb_pages" -gt 0 ] && [ "$sb_bad" -eq 0 ] && [ "$sb_same" -eq 0 ] && [ "$sb_back1" -gt 0 ] &&
        [ "$sb_back2" -gt 0 ] && [ "$sb_kept2" -gt 0 ]; then
        passes=$((passes + 1))
    else
        fails=$((fails + 1))
    fi
fi

# tool-list: the guest's `dmacoh list --json`, checked against what this script gave QEMU.
if grep -q '^HW-LIST-BEGIN' <<<"$log"; then
    sed -n '/^HW-LIST-BEGIN$/,/^HW-LIST-END$/p' <<<"$log" | sed '1d;$d' >"$out/list.json"
    if tests/hw/check_list.sh "$out/list.json" "$cmb_mb"; then
        passes=$((passes + 1))
    else
        say "host check: tool-list: the guest's dmacoh list --json is wrong (see above)"
        fails=$((fails + 1))
    fi
fi

# A control: the checker must see a difference where there is one (the first page of the
# ivshmem file holds the first tag, not the second).
if cmp -s <(head -c 4096 "$out/ivshmem.bin") <(expect "pci-1-02000." 4096); then
    say "host check control: the checker did not see a difference"
    fails=$((fails + 1))
fi
grep -q 'HW-INIT' <<<"$log" || die "the guest never reached /init (see $out/serial.log)"
say "guest boot: QEMU start to /init ${t_init:-?} s; kernel uptime at /init $(sed -n 's/.*HW-INIT uptime //p' <<<"$log") s; whole run $(elapsed "$t_start") s"
while read -r line; do
    case "$line" in
    *": PASS") passes=$((passes + 1)) ;;
    *": FAIL") fails=$((fails + 1)) ;;
    esac
done < <(grep -E '^hw: [a-z0-9-]+: (PASS|FAIL)$' <<<"$log" || true)
grep -q '^hw: summary: [1-9][0-9]* passed, 0 failed' <<<"$log" ||
    { say "the guest program did not report success"; fails=$((fails + 1)); }
say "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
