/* SPDX-License-Identifier: MIT */
/*
 * fakesys.c - the fake machine of fakesys.h. Attribute files hold what the kernel prints
 * (numbers in its formats, `resource` lines of three 0x%016llx fields), resourceN files are
 * sparse files as long as their BARs, devicetree properties are big-endian cells, and the
 * register file of an unbound NVMe controller holds CAP, CMBLOC and CMBSZ at their offsets.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define _FILE_OFFSET_BITS 64
#include "fakesys.h"

#include "fixture.h"
#include "t.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void mkdirs_for(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0)
            T_ASSERT(access(path, F_OK) == 0);
        *p = '/';
    }
}

void t_put_bytes(const char *root, const char *rel, const void *data, size_t len)
{
    char path[PATH_MAX];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    mkdirs_for(path);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    T_ASSERT(fd >= 0);
    T_EQ_INT(write(fd, data, len), (long long)len);
    close(fd);
}

void t_put_text(const char *root, const char *rel, const char *text)
{
    t_put_bytes(root, rel, text, strlen(text));
}

void t_put_link(const char *root, const char *rel, const char *target)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    mkdirs_for(path);
    T_EQ_INT(symlink(target, path), 0);
}

void t_remove_tree(const char *root)
{
    char cmd[PATH_MAX + 16];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    T_EQ_INT(system(cmd), 0);
}

static void sized(const char *root, const char *rel, uint64_t size)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    mkdirs_for(path);
    t_sparse_file(path, size);
    T_EQ_INT(chmod(path, 0600), 0); /* as sysfs makes resourceN: root only */
}

/* One BAR line of `resource`. */
static void bar_line(char *out, size_t len, uint64_t start, uint64_t size, uint64_t flags)
{
    size_t n = strlen(out);

    snprintf(out + n, len - n, "0x%016llx 0x%016llx 0x%016llx\n", (unsigned long long)start,
             (unsigned long long)(size ? start + size - 1 : 0), (unsigned long long)flags);
}

struct bar {
    uint64_t start, size, flags;
};

/* A PCI function: ids, BARs (and their resourceN files), driver, IOMMU group. */
static void pci_fn(const char *root, const char *bdf, const char *ids[3], const struct bar b[6],
                   const char *driver, int group)
{
    char rel[256], text[1024] = "", target[256];

    for (int i = 0; i < 3; i++) {
        static const char *const attr[] = {"vendor", "device", "class"};

        snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/%s", bdf, attr[i]);
        snprintf(text, sizeof(text), "%s\n", ids[i]);
        t_put_text(root, rel, text);
    }
    text[0] = '\0';
    for (int i = 0; i < 6; i++)
        bar_line(text, sizeof(text), b[i].start, b[i].size, b[i].flags);
    bar_line(text, sizeof(text), 0, 0, 0); /* the expansion ROM line */
    snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/resource", bdf);
    t_put_text(root, rel, text);
    for (int i = 0; i < 6; i++) {
        if (!b[i].size || (b[i].flags & 0x100))
            continue;
        snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/resource%d", bdf, i);
        sized(root, rel, b[i].size);
        if (b[i].flags & 0x2000) { /* prefetchable: the kernel adds the _wc file */
            snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/resource%d_wc", bdf, i);
            sized(root, rel, b[i].size);
        }
    }
    /* The first 64 bytes of config space, as a user may read them: IDs, and COMMAND with
     * memory decoding and bus mastering on, as firmware leaves a function it set up. */
    memset(text, 0, 64);
    for (int i = 0; i < 2; i++) {
        unsigned long v = strtoul(ids[i], NULL, 16);

        text[2 * i] = (char)(v & 0xff);
        text[2 * i + 1] = (char)(v >> 8);
    }
    text[4] = 0x06;
    snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/config", bdf);
    t_put_bytes(root, rel, text, 64);
    snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/power_state", bdf);
    t_put_text(root, rel, "D0\n");
    if (driver) {
        snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver", bdf);
        snprintf(target, sizeof(target), "../../../bus/pci/drivers/%s", driver);
        t_put_link(root, rel, target);
    }
    if (group >= 0) {
        snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/iommu_group", bdf);
        snprintf(target, sizeof(target), "../../../kernel/iommu_groups/%d", group);
        t_put_link(root, rel, target);
    }
}

#define MEM32   0x40200ull  /* IORESOURCE_MEM | SIZEALIGN */
#define MEM64   0x140204ull /* ... | MEM_64 */
#define PREF64  0x14220cull /* ... | PREFETCH | MEM_64 */
#define PREF32  0x42208ull
#define IOPORTS 0x40101ull

static void pci_tree(const char *root)
{
    const char *ivshmem[3] = {"0x1af4", "0x1110", "0x050000"};
    const char *edu[3] = {"0x1234", "0x11e8", "0x00ff00"};
    const char *qxl[3] = {"0x1b36", "0x0100", "0x030000"};
    const char *nvme[3] = {"0x1b36", "0x0010", "0x010802"};
    const char *ahci[3] = {"0x8086", "0x2922", "0x010601"};
    const struct bar b_ahci[6] = {{0}, {0}, {0}, {0}, {0}, {0xfc208000, 0x1000, MEM32}};
    const struct bar b_ivshmem[6] = {
        {0xfebd1000, 0x100, MEM32}, {0}, {0xfe000000, 0x100000, PREF64}};
    const struct bar b_edu[6] = {{0xfea00000, 0x100000, MEM32}};
    const struct bar b_qxl[6] = {{0xf4000000, 0x4000000, PREF32},
                                 {0xf8000000, 0x2000, MEM32},
                                 {0},
                                 {0xc040, 0x20, IOPORTS},
                                 {0xf8002800, 0x100, MEM32}}; /* starts inside a page */
    const struct bar b_nvme[6] = {
        {0xfebf0000, 0x4000, MEM64}, {0}, {0xf0000000, 0x1000000, PREF64}};
    const struct bar b_nvme2[6] = {
        {0xfebe0000, 0x4000, MEM64}, {0}, {0}, {0}, {0xe0000000, 0x400000, PREF64}};
    const struct bar b_nvme3[6] = {{0xfebc0000, 0x4000, MEM64}};
    /* CAP (CMBS, bit 57), CMBLOC (BIR 4, OFST 1) and CMBSZ (SZ 256, SZU 0: 4 KiB units). */
    unsigned char regs[0x40] = {0};
    uint32_t loc = 4u | 1u << 12, sz = 256u << 12 | 0x1fu;

    pci_fn(root, "0000:00:03.0", ivshmem, b_ivshmem, NULL, 3);
    t_put_text(root, "sys/bus/pci/devices/0000:00:03.0/numa_node", "1\n");
    t_put_text(root, "sys/bus/pci/devices/0000:00:04.0/numa_node", "-1\n");
    pci_fn(root, "0000:00:04.0", edu, b_edu, "vfio-pci", 4);
    t_put_text(root, "dev/vfio/4", "");
    pci_fn(root, "0000:00:05.0", qxl, b_qxl, "uio_pci_generic", 5);
    t_put_text(root, "sys/bus/pci/devices/0000:00:05.0/uio/uio0/name", "uio_pci_generic\n");
    /* A function whose files are garbage, and one that is a symbolic link to itself. */
    t_put_text(root, "sys/bus/pci/devices/0000:00:06.0/vendor", "0xzzzz\n");
    t_put_text(root, "sys/bus/pci/devices/0000:00:06.0/resource", "0x1 0x2\ngarbage\n");
    t_put_link(root, "sys/bus/pci/devices/0000:00:07.0", "0000:00:07.0");
    t_put_text(root, "sys/bus/pci/devices/not-a-bdf/vendor", "0x1234\n");
    pci_fn(root, "0000:00:1f.2", ahci, b_ahci, "ahci", -1); /* sorts after 00:14.0; no IOMMU */
    pci_fn(root, "0000:00:12.0", nvme, b_nvme, "nvme", 6);
    /* The nvme driver's view: BIR 2, offset 0; SZ 16 in 1 MiB units (SZU 2), as "%u". */
    t_put_text(root, "sys/bus/pci/devices/0000:00:12.0/nvme/nvme0/cmbloc", "2\n");
    t_put_text(root, "sys/bus/pci/devices/0000:00:12.0/nvme/nvme0/cmbsz", "66079\n");
    pci_fn(root, "0000:00:13.0", nvme, b_nvme2, NULL, 7);
    regs[7] = 0x02; /* CAP bit 57 */
    for (int i = 0; i < 4; i++) {
        regs[0x38 + i] = (unsigned char)(loc >> (8 * i));
        regs[0x3c + i] = (unsigned char)(sz >> (8 * i));
    }
    t_put_bytes(root, "sys/bus/pci/devices/0000:00:13.0/resource0", regs, sizeof(regs));
    pci_fn(root, "0000:00:14.0", nvme, b_nvme3, NULL, 8);
    memset(regs, 0, sizeof(regs));
    regs[7] = 0x02; /* a CMB, but CMBLOC/CMBSZ hidden until CMBMSC.CRE */
    t_put_bytes(root, "sys/bus/pci/devices/0000:00:14.0/resource0", regs, sizeof(regs));
}

static void uio_tree(const char *root)
{
    t_put_link(root, "sys/class/uio/uio0/device", "../../../devices/pci0000:00/0000:00:05.0");
    t_put_text(root, "sys/class/uio/uio0/name", "uio_pci_generic\n");
    /* As uio_pci_generic maps qxl's BARs: the prefetchable BAR0 not at all, BAR1 as map0,
     * BAR4 as map1 (its page, the BAR 0x800 into it, the size rounded up to pages). */
    t_put_text(root, "sys/class/uio/uio0/maps/map0/addr", "0xf8000000\n");
    t_put_text(root, "sys/class/uio/uio0/maps/map0/size", "0x2000\n");
    t_put_text(root, "sys/class/uio/uio0/maps/map0/offset", "0x0\n");
    t_put_text(root, "sys/class/uio/uio0/maps/map1/addr", "0xf8002000\n");
    t_put_text(root, "sys/class/uio/uio0/maps/map1/size", "0x1000\n");
    t_put_text(root, "sys/class/uio/uio0/maps/map1/offset", "0x800\n");
    t_put_text(root, "dev/uio0", "");
    t_put_link(root, "sys/class/uio/uio1/device", "../../../devices/platform/40000000.sram");
    t_put_text(root, "sys/class/uio/uio1/name", "sram\n");
    t_put_text(root, "sys/class/uio/uio1/maps/map0/name", "sram0\n");
    t_put_text(root, "sys/class/uio/uio1/maps/map0/addr", "0x40000000\n");
    t_put_text(root, "sys/class/uio/uio1/maps/map0/size", "0x10000\n");
    t_put_text(root, "sys/class/uio/uio1/maps/map0/offset", "0x800\n");
    /* A number too large for 64 bits. */
    t_put_text(root, "sys/class/uio/uio1/maps/map1/addr", "0x1ffffffffffffffff\n");
    t_put_text(root, "sys/class/uio/uio1/maps/map1/size", "0x1000\n");
    t_put_text(root, "dev/uio1", "");
}

static void dax_tree(const char *root)
{
    t_put_link(root, "sys/bus/dax/devices/dax0.0/driver", "../../../../bus/dax/drivers/device_dax");
    t_put_text(root, "sys/bus/dax/devices/dax0.0/size", "1073741824\n");
    t_put_text(root, "sys/bus/dax/devices/dax0.0/align", "2097152\n");
    t_put_text(root, "sys/bus/dax/devices/dax0.0/resource", "0x240000000\n");
    t_put_text(root, "sys/bus/dax/devices/dax0.0/target_node", "0\n");
    t_put_text(root, "dev/dax0.0", "");
    /* Onlined as system RAM by kmem: no node, and no `resource` for this user. */
    t_put_link(root, "sys/bus/dax/devices/dax1.0/driver", "../../../../bus/dax/drivers/kmem");
    t_put_text(root, "sys/bus/dax/devices/dax1.0/size", "268435456\n");
    t_put_text(root, "sys/bus/dax/devices/dax1.0/target_node", "-1\n");
    /* A name the kernel does not make, that would be a command in the advice. */
    t_put_text(root, "sys/bus/dax/devices/dax2.0;reboot/size", "4096\n");
}

static void cells(const char *root, const char *rel, const uint32_t *v, size_t n)
{
    unsigned char buf[64];

    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++)
            buf[4 * i + (size_t)k] = (unsigned char)(v[i] >> (24 - 8 * k));
    t_put_bytes(root, rel, buf, 4 * n);
}

static void dt_tree(const char *root)
{
    static const char base[] = "sys/firmware/devicetree/base";
    const uint32_t two = 2, one = 1;
    const uint32_t buf_reg[4] = {0, 0x90000000, 0, 0x400000}, cma_size[2] = {0, 0x1000000};
    const uint32_t sram_reg[2] = {0x50000000, 0x8000}, sram2_reg[2] = {0x51000000, 0x1000};
    char rel[256];

#define DT(p) (snprintf(rel, sizeof(rel), "%s/%s", base, p), rel)
    cells(root, DT("#address-cells"), &two, 1);
    cells(root, DT("#size-cells"), &two, 1);
    cells(root, DT("reserved-memory/#address-cells"), &two, 1);
    cells(root, DT("reserved-memory/#size-cells"), &two, 1);
    t_put_text(root, DT("reserved-memory/ranges"), "");
    t_put_bytes(root, DT("reserved-memory/buffer@90000000/compatible"), "shared-dma-pool", 16);
    cells(root, DT("reserved-memory/buffer@90000000/reg"), buf_reg, 4);
    t_put_text(root, DT("reserved-memory/buffer@90000000/no-map"), "");
    t_put_bytes(root, DT("reserved-memory/linux,cma/compatible"), "shared-dma-pool", 16);
    cells(root, DT("reserved-memory/linux,cma/size"), cma_size, 2);
    t_put_text(root, DT("reserved-memory/linux,cma/reusable"), "");
    cells(root, DT("soc/#address-cells"), &one, 1);
    cells(root, DT("soc/#size-cells"), &one, 1);
    t_put_text(root, DT("soc/ranges"), ""); /* an identity mapping: CPU addresses */
    t_put_bytes(root, DT("soc/sram@50000000/compatible"), "acme,sram\0mmio-sram", 20);
    cells(root, DT("soc/sram@50000000/reg"), sram_reg, 2);
    t_put_bytes(root, DT("soc/sram@50000000/part@0/compatible"), "acme,part", 10);
    t_put_link(root, "sys/bus/platform/devices/50000000.sram/driver",
               "../../../../bus/platform/drivers/sram"); /* the kernel's sram driver holds it */
    t_put_bytes(root, DT("soc/sram@51000000/compatible"), "mmio-sram", 10); /* no driver */
    cells(root, DT("soc/sram@51000000/reg"), sram2_reg, 2);
    t_put_bytes(root, DT("soc/bad-sram@0/compatible"), "mmio-sram", 10);
    t_put_bytes(root, DT("soc/bad-sram@0/reg"), "\1\2\3\4\5", 5);
    t_put_bytes(root, DT("soc/uart@60000000/compatible"), "ns16550a", 9);
#undef DT
    t_put_text(root, "dev/mem", "");
}

void t_fake_machine(const char *root)
{
    pci_tree(root);
    uio_tree(root);
    dax_tree(root);
    dt_tree(root);
}
