#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The host side of the tests/hw proof tool-list: the guest's `dmacoh list --json` (file in
argv[1]) must name the memory of every device run.sh gave QEMU, with the sizes it configured
(the NVMe CMB's MiB in argv[2]; ivshmem BAR2 1 MiB from its backing file; edu BAR0 1 MiB) and
the access paths /init set up: qxl through uio_pci_generic, the second edu (00:10.0) and
ivshmem (00:11.0) through vfio-pci, the NVMe controller (00:12.0) unbound by the proof and
read through its registers."""
import json
import sys

MIB = 1 << 20
doc = json.load(open(sys.argv[1]))
cmb_mb = int(sys.argv[2])
failed = []


def ok(cond, what):
    print("hwtest: host check: tool-list: %s... %s" % (what, "OK" if cond else "WRONG"))
    if not cond:
        failed.append(what)


def functions(kind, vendor=None, device=None):
    return [d for d in doc["devices"] if d["kind"] == kind and
            (vendor is None or (d["vendor"], d["device_id"]) == (vendor, device))]


def memory(d, index):
    return next((m for m in d["memory"] if m["index"] == index), None)


def path(m, via):
    return next((p for p in (m or {}).get("paths", []) if p["via"] == via), {})


ok(doc.get("schema") == 1, "schema 1")
for name, ids, index in (("ivshmem-plain", ("0x1af4", "0x1110"), 2), ("edu", ("0x1234", "0x11e8"), 0)):
    fns = functions("pci", *ids)
    ok(len(fns) == 2, "two %s functions (found %d)" % (name, len(fns)))
    for d in fns:
        m = memory(d, index)
        ok(m is not None and m["size"] == MIB and m["problem"] is None and m["bus"] is not None,
           "%s %s: BAR%d of 1 MiB" % (name, d["device"], index))
        ok(path(m, "sysfs").get("state") == "ready", "%s %s: BAR%d reachable through sysfs resource%d"
           % (name, d["device"], index, index))
        if d["device"] in ("0000:00:10.0", "0000:00:11.0"):
            v = path(m, "vfio")
            ok(d["driver"] == "vfio-pci" and v.get("state") == "ready" and
               v.get("file") == "/dev/vfio/%s" % d["iommu_group"],
               "%s %s: bound to vfio-pci, reachable through /dev/vfio/%s" % (name, d["device"], d["iommu_group"]))
        else:
            ok("vfio-pci" in (path(m, "vfio").get("how") or ""),
               "%s %s: the command binding it to vfio-pci is given" % (name, d["device"]))
    if name == "ivshmem-plain":
        ok(all(set(["64bit", "prefetchable"]) <= set(memory(d, 2)["flags"]) for d in fns),
           "ivshmem BAR2s are 64-bit prefetchable")

qxl = functions("pci", "0x1b36", "0x0100")
ok(len(qxl) == 1 and qxl[0]["driver"] == "uio_pci_generic", "qxl bound to uio_pci_generic")
uio_bars = [m for d in qxl for m in d["memory"] if path(m, "uio").get("state") == "ready"]
ok(len(uio_bars) >= 1 and all(path(m, "uio")["file"].startswith("/dev/uio") for m in uio_bars),
   "qxl: %d memory BAR(s) reachable through /dev/uioN" % len(uio_bars))
maps = [m for d in functions("uio") if qxl and d["parent"] == qxl[0]["device"] for m in d["memory"]]
ok(any((m["bus"], m["size"]) == (b["bus"], b["size"]) for m in maps for b in uio_bars),
   "qxl's UIO device lists the same memory as a map")

nvme = functions("nvme")
ok(len(nvme) == 1 and nvme[0]["device"] == "0000:00:12.0" and nvme[0]["driver"] is None,
   "one NVMe controller at 0000:00:12.0, unbound")
if nvme:
    cmb = nvme[0]["memory"][0]
    bar = memory(next(iter(functions("pci", "0x1b36", "0x0010")), {"memory": []}), cmb["index"])
    ok(cmb["size"] == cmb_mb * MIB and cmb["problem"] is None,
       "CMB of %d MiB (%s bytes listed)" % (cmb_mb, cmb["size"]))
    ok(bar is not None and int(cmb["bus"], 16) == int(bar["bus"], 16) + int(cmb["offset"], 16) and
       int(cmb["offset"], 16) + cmb["size"] <= bar["size"],
       "CMB at %s inside BAR%d at %s" % (cmb["bus"], cmb["index"], bar and bar["bus"]))
    ok(path(cmb, "sysfs").get("state") == "ready" and path(cmb, "sysfs").get("offset") == cmb["offset"] and
       path(cmb, "sysfs").get("file") == "/sys/bus/pci/devices/0000:00:12.0/resource%d" % cmb["index"],
       "CMB reachable through sysfs resource%d at its offset" % cmb["index"])
sys.exit(1 if failed else 0)
