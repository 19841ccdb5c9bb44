#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# /init of the tests/hw guest: mount the kernel's file systems, load the uio modules, give
# qxl to uio_pci_generic, run the proofs named on the kernel command line (after "--"), then
# say HW-DONE and wait for the host to save memory through QEMU's monitor and quit.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
echo
echo "HW-INIT uptime $(cut -d' ' -f1 /proc/uptime)"
echo "hw: init: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpu," \
    "$(sed -n 's/^HugePages_Total: *//p' /proc/meminfo) huge pages reserved"
for m in uio uio_pci_generic; do
    insmod /lib/$m.ko* || echo "hw: init: insmod $m failed"
done
# qxl (1b36:0100) has no kernel driver here; hand it to uio_pci_generic.
echo "1b36 0100" >/sys/bus/pci/drivers/uio_pci_generic/new_id
[ $# -gt 0 ] || set -- all
/dmacoh-hw "$@"
echo "HW-EXIT $?"
echo "HW-DONE"
sleep 600
poweroff -f
