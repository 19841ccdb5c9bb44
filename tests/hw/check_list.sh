#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The host side of the tests/hw proof tool-list: the guest's `dmacoh list --json` (file $1)
# must name the memory of every device run.sh gave QEMU, with the sizes it configured (the
# NVMe CMB's MiB in $2; ivshmem BAR2 1 MiB from its backing file; edu BAR0 1 MiB) and the
# access paths /init set up: qxl through uio_pci_generic, the second edu (00:10.0) and ivshmem
# (00:11.0) through vfio-pci, the NVMe controller (00:12.0) unbound by the proof and read
# through its registers, and the nvme_cmb example's two controllers (00:13.0, 00:14.0) on
# vfio-pci. Exit 0 when every check holds. Needs jq.
set -euo pipefail
doc=$1
cmb_mb=$2
failed=0
ok() { # ok WHAT JQ-EXPRESSION: the expression over the document must be true
    local what=$1 r
    r=$(jq --argjson cmb "$cmb_mb" "
        def fns(\$k; \$v; \$d): [.devices[] | select(.kind == \$k and (\$v == null or (.vendor == \$v and .device_id == \$d)))];
        def mem(\$i): [.memory[] | select(.index == \$i)][0];
        def path(\$via): ((. // {}).paths // [] | map(select(.via == \$via)))[0] // {};
        def nv: [.devices[] | select(.kind == \"nvme\" and .device == \"0000:00:12.0\")][0];
        def hex: ltrimstr(\"0x\") | explode | reduce .[] as \$c (0; . * 16 + (if \$c >= 97 then \$c - 87 elif \$c >= 65 then \$c - 55 else \$c - 48 end));
        $2" "$doc" 2>&1) || r="jq: $r"
    if [ "$r" = true ]; then
        echo "hwtest: host check: tool-list: $what... OK"
    else
        echo "hwtest: host check: tool-list: $what... WRONG ($r)"
        failed=1
    fi
}
MIB=1048576
ok "schema 1" '.schema == 1'
for spec in "ivshmem-plain 0x1af4 0x1110 2" "edu 0x1234 0x11e8 0"; do
    read -r name v d i <<<"$spec"
    ok "two $name functions" "fns(\"pci\"; \"$v\"; \"$d\") | length == 2"
    ok "$name: BAR$i of 1 MiB each, bus address known" \
        "fns(\"pci\"; \"$v\"; \"$d\") | all(mem($i) | . != null and .size == $MIB and .problem == null and .bus != null)"
    ok "$name: BAR$i reachable through sysfs resource$i" \
        "fns(\"pci\"; \"$v\"; \"$d\") | all(mem($i) | path(\"sysfs\").state == \"ready\")"
    ok "$name on vfio-pci (00:10.0, 00:11.0): reachable through /dev/vfio/<group>" \
        "fns(\"pci\"; \"$v\"; \"$d\") | map(select(.device == \"0000:00:10.0\" or .device == \"0000:00:11.0\")) |
         length == 1 and all(.driver == \"vfio-pci\" and (mem($i) | path(\"vfio\")) as \$p |
         \$p.state == \"ready\" and \$p.file == \"/dev/vfio/\(.iommu_group)\")"
    ok "$name elsewhere: the command binding it to vfio-pci is given" \
        "fns(\"pci\"; \"$v\"; \"$d\") | map(select(.device != \"0000:00:10.0\" and .device != \"0000:00:11.0\")) |
         length == 1 and all(mem($i) | path(\"vfio\").how // \"\" | contains(\"vfio-pci\"))"
done
ok "ivshmem BAR2s are 64-bit prefetchable" \
    'fns("pci"; "0x1af4"; "0x1110") | all(mem(2).flags | index("64bit") != null and index("prefetchable") != null)'
ok "qxl bound to uio_pci_generic" \
    'fns("pci"; "0x1b36"; "0x0100") | length == 1 and .[0].driver == "uio_pci_generic"'
ok "qxl: its memory BARs reachable through /dev/uioN" \
    '[fns("pci"; "0x1b36"; "0x0100")[].memory[] | path("uio") | select(.state == "ready")] |
     length >= 1 and all(.file | startswith("/dev/uio"))'
ok "qxl's UIO device lists the same memory as a map" \
    '(fns("pci"; "0x1b36"; "0x0100")[0]) as $q |
     [$q.memory[] | select(path("uio").state == "ready") | [.bus, .size]] as $bars |
     [fns("uio"; null; null)[] | select(.parent == $q.device) | .memory[] | [.bus, .size]] |
     any(. as $m | $bars | index([$m]) != null)'
ok "three NVMe controllers: 0000:00:12.0 unbound, 00:13.0 and 00:14.0 (nvme_cmb's) on vfio-pci" \
    'fns("nvme"; null; null) | length == 3 and
     (map(select(.device == "0000:00:12.0"))[0].driver == null) and
     (map(select(.device == "0000:00:13.0" or .device == "0000:00:14.0")) |
      length == 2 and all(.driver == "vfio-pci"))'
ok "CMB of $cmb_mb MiB" \
    "fns(\"nvme\"; null; null)[0].memory[0] | .size == $cmb_mb * $MIB and .problem == null"
ok "the CMB inside its BAR of the controller" \
    'nv.memory[0] as $c |
     (fns("pci"; "0x1b36"; "0x0010") | map(select(.device == "0000:00:12.0"))[0] | mem($c.index)) as $b |
     $b != null and ($c.bus | hex) == ($b.bus | hex) + ($c.offset | hex) and
     ($c.offset | hex) + $c.size <= $b.size'
ok "the CMB reachable through sysfs resourceN at its offset" \
    'nv.memory[0] as $c | ($c | path("sysfs")) as $p |
     $p.state == "ready" and $p.offset == $c.offset and
     $p.file == "/sys/bus/pci/devices/0000:00:12.0/resource\($c.index)"'
exit "$failed"
