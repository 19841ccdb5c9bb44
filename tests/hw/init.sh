#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# /init of the tests/hw guest: mount the kernel's file systems, load the uio and vfio modules,
# give qxl to uio_pci_generic and the second edu and ivshmem and two NVMe controllers to
# vfio-pci, run the proofs named on the kernel command line (after "--"), then
# say HW-DONE and wait for the host to save memory through QEMU's monitor and quit.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /run && mount -t tmpfs -o mode=0755 run /run # as on a real system: the registry's home
mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 shm /dev/shm # shared regions' state objects
echo
echo "HW-INIT uptime $(cut -d' ' -f1 /proc/uptime)"
echo "hw: init: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpu," \
    "$(sed -n 's/^HugePages_Total: *//p' /proc/meminfo) huge pages reserved"
for m in uio uio_pci_generic; do
    insmod /lib/$m.ko* || echo "hw: init: insmod $m failed"
done
# qxl (1b36:0100) has no kernel driver here; hand it to uio_pci_generic.
echo "1b36 0100" >/sys/bus/pci/drivers/uio_pci_generic/new_id
# VFIO: the modules run.sh listed, then the second edu (00:10.0) and second ivshmem (00:11.0)
# to vfio-pci; each goes alone in its IOMMU group on q35.
while read -r m; do
    insmod "/lib/$m" || echo "hw: init: insmod $m failed"
done </lib/vfio.list
# The NVMe controllers for the nvme_cmb example (00:13.0 with a CMB, 00:14.0 without) were
# taken by the built-in nvme driver at boot: the override keeps it from taking them again,
# then they are unbound and probed for vfio-pci.
for d in 0000:00:10.0 0000:00:11.0 0000:00:13.0 0000:00:14.0; do
    echo vfio-pci >/sys/bus/pci/devices/$d/driver_override || continue
    [ -e /sys/bus/pci/devices/$d/driver ] && echo $d >/sys/bus/pci/devices/$d/driver/unbind
    echo $d >/sys/bus/pci/drivers_probe && [ -e /sys/bus/pci/devices/$d/driver ] ||
        echo "hw: init: binding $d to vfio-pci failed"
done
[ $# -gt 0 ] || set -- all
/dmacoh-hw "$@"
echo "HW-EXIT $?"
echo "HW-DONE"
sleep 600
poweroff -f
