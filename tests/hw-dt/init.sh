#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# /init of the tests/hw-dt guest: mount the kernel's file systems, show what the kernel made of
# the reserved-memory node (its log lines and /proc/iomem), run the guest program, then say
# HWDT-DONE and wait for the host to save memory through QEMU's monitor and quit.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /run && mount -t tmpfs -o mode=0755 run /run # the registry's home, as on a real system
echo
echo "HWDT-INIT uptime $(cut -d' ' -f1 /proc/uptime)"
echo "hwdt: init: kernel $(uname -r) $(uname -m), $(grep -c ^processor /proc/cpuinfo) cpu"
dmesg | grep -i 'reserved mem' | sed 's/^/hwdt: dmesg: /'
sed 's/^/hwdt: iomem: /' /proc/iomem | grep -i 'ram\|reserved'
/dmacoh-hwdt
echo "HWDT-EXIT $?"
echo "HWDT-DONE"
sleep 600
poweroff -f
