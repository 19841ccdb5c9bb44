/* SPDX-License-Identifier: MIT */
/*
 * test_discover.c - dmacoh_discover() over the fake machine of tests/harness/fakesys.c: every
 * PCI memory BAR with its access paths (sysfs ready or held by a driver, UIO map of
 * uio_pci_generic at its mmap offset, VFIO group of vfio-pci, the commands that would bind
 * the others), NVMe CMBs from the nvme driver's attributes and from the registers of unbound
 * controllers (visible, hidden until CMBMSC.CRE), UIO maps, device DAX, devicetree reserved
 * memory and SRAM. Hostile input (garbage attributes, a number past 64 bits, a symbolic-link
 * loop, a FIFO, a `reg` of odd length, a tree deeper than the walk goes) gives a record with
 * its problem or a skipped entry, never a crash or a hang (alarm). Filters, the callback's
 * stop, and the permissions named for a user who lacks them (run as nobody when root).
 */
#include "fakesys.h"
#include "fixture.h"
#include "t.h"

#include <dmacoh/discover.h>

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define T_EQ_STR(a, b)                                                                             \
    do {                                                                                           \
        const char *t_a_ = (a), *t_b_ = (b);                                                       \
        if (strcmp(t_a_, t_b_) != 0)                                                               \
            t_fail(__FILE__, __LINE__, "%s == %s: '%s' != '%s'", #a, #b, t_a_, t_b_);              \
    } while (0)

static char root[64], sys[128], dev[128];

struct seen {
    size_t n;
    struct dmacoh_found f[320];
};

static int collect(void *user, const struct dmacoh_found *f)
{
    struct seen *s = user;

    T_ASSERT(s->n < 320);
    s->f[s->n++] = *f;
    return 0;
}

static void make(void)
{
    snprintf(root, sizeof(root), "/tmp/dmacoh-discover-XXXXXX");
    T_ASSERT(mkdtemp(root) != NULL);
    T_EQ_INT(chmod(root, 0755), 0);
    t_fake_machine(root);
    snprintf(sys, sizeof(sys), "%s/sys", root);
    snprintf(dev, sizeof(dev), "%s/dev", root);
}

static struct seen *walk(const char *device, unsigned kinds, int want)
{
    struct dmacoh_discover_opts o = {sys, dev, device, kinds};
    struct seen *s = calloc(1, sizeof(*s));

    T_ASSERT(s != NULL);
    alarm(20); /* a FIFO opened without O_NONBLOCK would hang here */
    T_ERR(dmacoh_discover(&o, collect, s), want);
    alarm(0);
    return s;
}

static const struct dmacoh_found *find(const struct seen *s, int kind, const char *device,
                                       unsigned index)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->f[i].kind == kind && !strcmp(s->f[i].device, device) && s->f[i].index == index)
            return &s->f[i];
    t_fail(__FILE__, __LINE__, "no %s record %s #%u", dmacoh_found_kind_name(kind), device, index);
}

static bool ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);

    return a >= b && !strcmp(s + a - b, tail);
}

static void pci_bars_and_paths(void)
{
    struct seen *s;
    const struct dmacoh_found *f;
    long page = sysconf(_SC_PAGESIZE);

    make();
    s = walk(NULL, DMACOH_FOUND_PCI, 0);
    /* ivshmem: BAR0 and BAR2, no driver: sysfs ready, UIO and VFIO to be bound. */
    f = find(s, DMACOH_FOUND_PCI, "0000:00:03.0", 2);
    T_EQ_U64(f->bus, 0xfe000000);
    T_EQ_U64(f->size, 0x100000);
    T_EQ_INT(f->flags, DMACOH_FOUND_64BIT | DMACOH_FOUND_PREFETCH | DMACOH_FOUND_WC);
    T_EQ_INT(f->vendor, 0x1af4);
    T_EQ_INT(f->device_id, 0x1110);
    T_EQ_INT(f->class_code, 0x050000);
    T_EQ_INT(f->iommu_group, 3);
    T_EQ_INT(f->numa_node, 1);
    T_EQ_INT(f->npaths, 3);
    T_EQ_INT(f->path[0].via, DMACOH_VIA_SYSFS);
    T_EQ_INT(f->path[0].state, DMACOH_PATH_READY);
    T_ASSERT(ends_with(f->path[0].file, "/0000:00:03.0/resource2"));
    T_EQ_INT(f->path[1].state, DMACOH_PATH_ABSENT); /* 64-bit prefetchable: never a UIO map */
    T_ASSERT(strstr(f->path[1].how, "uio_pci_generic does not map this BAR") != NULL);
    T_ASSERT(strstr(f->path[1].how, "modprobe") == NULL);
    T_EQ_INT(f->path[2].state, DMACOH_PATH_ABSENT);
    T_ASSERT(strstr(f->path[2].how, "echo vfio-pci | sudo tee") != NULL);
    T_ASSERT(strstr(f->path[2].how, "drivers_probe") != NULL);
    f = find(s, DMACOH_FOUND_PCI, "0000:00:03.0", 0);
    T_EQ_INT(f->flags, 0);
    T_EQ_U64(f->size, 0x100);
    T_ASSERT(strstr(f->path[1].how, "echo uio_pci_generic | sudo tee") != NULL);
    T_ASSERT(strstr(f->path[1].how, "driver/unbind") == NULL); /* nothing to unbind */
    /* edu on vfio-pci: its group's node. */
    f = find(s, DMACOH_FOUND_PCI, "0000:00:04.0", 0);
    T_EQ_STR(f->driver, "vfio-pci");
    T_EQ_INT(f->path[2].state, DMACOH_PATH_READY);
    T_ASSERT(ends_with(f->path[2].file, "/dev/vfio/4"));
    T_ASSERT(strstr(f->path[1].how, "0000:00:04.0/driver/unbind") != NULL);
    /* qxl on uio_pci_generic: its 32-bit non-prefetchable BARs are maps of uio0, numbered
     * from 0, at map * page size plus where the BAR starts in its page; the prefetchable BAR0
     * is none. */
    f = find(s, DMACOH_FOUND_PCI, "0000:00:05.0", 0);
    T_EQ_INT(f->path[1].state, DMACOH_PATH_ABSENT);
    T_ASSERT(strstr(f->path[1].how, "does not map this BAR; use sysfs or VFIO") != NULL);
    T_ASSERT(strstr(f->path[1].how, "modprobe") == NULL);
    f = find(s, DMACOH_FOUND_PCI, "0000:00:05.0", 1);
    T_EQ_INT(f->path[1].state, DMACOH_PATH_READY);
    T_ASSERT(ends_with(f->path[1].file, "/dev/uio0"));
    T_EQ_U64(f->path[1].offset, 0);
    T_EQ_U64(f->size, 0x2000);
    f = find(s, DMACOH_FOUND_PCI, "0000:00:05.0", 4);
    T_EQ_INT(f->path[1].state, DMACOH_PATH_READY);
    T_EQ_U64(f->path[1].offset, (uint64_t)page + 0x800);
    /* The I/O port BAR is not memory. */
    for (size_t i = 0; i < s->n; i++)
        T_ASSERT(!(s->f[i].index == 3 && !strcmp(s->f[i].device, "0000:00:05.0")));
    /* A driver that holds its BARs. */
    f = find(s, DMACOH_FOUND_PCI, "0000:00:12.0", 2);
    T_EQ_INT(f->path[0].state, DMACOH_PATH_BUSY);
    T_ASSERT(strstr(f->path[0].how, "drivers/nvme/unbind") != NULL);
    T_ASSERT(strstr(f->path[0].how, "removes the disks behind it") != NULL);
    T_ASSERT(strstr(f->path[2].how, "removes the disks behind it") != NULL);
    /* No IOMMU group: what turns the IOMMU on (amd_iommu=on is no kernel parameter). */
    f = find(s, DMACOH_FOUND_PCI, "0000:00:1f.2", 5);
    T_EQ_INT(f->iommu_group, -1);
    T_ASSERT(strstr(f->path[2].how, "VT-d/AMD-Vi in firmware") != NULL);
    T_ASSERT(strstr(f->path[2].how, "amd_iommu") == NULL);
    T_ASSERT(strstr(f->path[0].how, "removes the disks behind it") != NULL); /* ahci */
    f = find(s, DMACOH_FOUND_PCI, "0000:00:04.0", 0); /* vfio-pci holds no disks */
    T_ASSERT(strstr(f->path[1].how, "removes the disks") == NULL);
    /* Garbage `resource`, a symbolic-link loop: a record with the problem, no crash. */
    f = find(s, DMACOH_FOUND_PCI, "0000:00:06.0", 0);
    T_ASSERT(strstr(f->problem, "0000:00:06.0/resource") != NULL);
    T_EQ_U64(f->size, 0);
    T_EQ_INT(f->vendor, 0); /* "0xzzzz" is not read as anything */
    f = find(s, DMACOH_FOUND_PCI, "0000:00:07.0", 0);
    T_ASSERT(f->problem[0] != '\0');
    T_ASSERT(t_log_find("not-a-bdf"));
    T_EQ_INT(s->n, 2 + 1 + 3 + 1 + 1 + 2 + 2 + 1 + 1);
    free(s);
    t_remove_tree(root);
}

static void nvme_cmbs(void)
{
    struct seen *s;
    const struct dmacoh_found *f;

    make();
    s = walk(NULL, DMACOH_FOUND_NVME, 0);
    T_EQ_INT(s->n, 3);
    /* From the nvme driver: BIR 2, 16 MiB at offset 0; the BAR is held by the driver. */
    f = find(s, DMACOH_FOUND_NVME, "0000:00:12.0", 2);
    T_EQ_STR(f->label, "nvme0");
    T_EQ_U64(f->bus, 0xf0000000);
    T_EQ_U64(f->size, 16u << 20);
    T_EQ_U64(f->offset, 0);
    T_EQ_INT(f->path[0].state, DMACOH_PATH_BUSY);
    /* From the registers of an unbound controller: BIR 4, 1 MiB at 4 KiB. */
    f = find(s, DMACOH_FOUND_NVME, "0000:00:13.0", 4);
    T_EQ_U64(f->bus, 0xe0001000);
    T_EQ_U64(f->size, 1u << 20);
    T_EQ_U64(f->offset, 0x1000);
    T_EQ_STR(f->problem, "");
    T_EQ_INT(f->path[0].state, DMACOH_PATH_READY);
    T_EQ_U64(f->path[0].offset, 0x1000);
    T_ASSERT(ends_with(f->path[0].file, "/resource4"));
    /* CAP.CMBS set, CMBSZ 0: present but hidden; nothing was written to enable it. */
    f = find(s, DMACOH_FOUND_NVME, "0000:00:14.0", 0);
    T_EQ_INT(f->flags, DMACOH_FOUND_HIDDEN | DMACOH_FOUND_NO_ADDR);
    T_ASSERT(strstr(f->problem, "CMBMSC.CRE") != NULL);
    free(s);
    t_remove_tree(root);
}

/* The nvme driver bound but showing no cmbloc/cmbsz (a kernel without CONFIG_PCI_P2PDMA
 * cannot register the CMB, and then hides them): the registers are read where they can be. */
static void nvme_bound_without_attributes(void)
{
    unsigned char regs[0x40] = {0};
    uint32_t loc = 2u, sz = 8u << 12 | 2u << 8; /* BAR2, 8 MiB in 1 MiB units */
    char path[PATH_MAX];
    struct seen *s;
    const struct dmacoh_found *f;

    make();
    snprintf(path, sizeof(path), "rm -r '%s/sys/bus/pci/devices/0000:00:12.0/nvme'", root);
    T_EQ_INT(system(path), 0);
    s = walk("0000:00:12.0", DMACOH_FOUND_NVME, DMACOH_ENOENT); /* registers all zero: no CMB */
    T_EQ_INT(s->n, 0);
    free(s);
    regs[7] = 0x02;
    for (int i = 0; i < 4; i++) {
        regs[0x38 + i] = (unsigned char)(loc >> (8 * i));
        regs[0x3c + i] = (unsigned char)(sz >> (8 * i));
    }
    t_put_bytes(root, "sys/bus/pci/devices/0000:00:12.0/resource0", regs, sizeof(regs));
    s = walk("0000:00:12.0", DMACOH_FOUND_NVME, 0);
    T_EQ_INT(s->n, 1);
    f = find(s, DMACOH_FOUND_NVME, "0000:00:12.0", 2);
    T_EQ_U64(f->bus, 0xf0000000);
    T_EQ_U64(f->size, 8u << 20);
    T_EQ_STR(f->label, "");
    free(s);
    t_remove_tree(root);
}

/* An unbound controller's registers are read only when they can be without a write: memory
 * decoding on, power state D0; all ones is a controller that does not answer; a controller
 * the walk was not asked about is not touched. */
static void nvme_registers_guarded(void)
{
    static const char fn13[] = "sys/bus/pci/devices/0000:00:13.0";
    unsigned char cfg[64] = {0}, ones[0x40];
    char rel[128], path[PATH_MAX];
    struct seen *s;
    const struct dmacoh_found *f;

    make();
    snprintf(rel, sizeof(rel), "%s/config", fn13); /* COMMAND 0: memory decoding off */
    t_put_bytes(root, rel, cfg, sizeof(cfg));
    s = walk("0000:00:13.0", DMACOH_FOUND_NVME, 0);
    T_EQ_INT(s->n, 1);
    T_EQ_INT(s->f[0].flags, DMACOH_FOUND_NO_ADDR);
    T_ASSERT(strstr(s->f[0].problem, "COMMAND.MSE") != NULL);
    free(s);
    cfg[4] = 0x02;
    t_put_bytes(root, rel, cfg, sizeof(cfg));
    snprintf(rel, sizeof(rel), "%s/power_state", fn13);
    t_put_text(root, rel, "D3hot\n");
    s = walk("0000:00:13.0", DMACOH_FOUND_NVME, 0);
    T_EQ_INT(s->n, 1);
    T_ASSERT(strstr(s->f[0].problem, "power state D3hot") != NULL);
    free(s);
    t_put_text(root, rel, "D0\n");
    memset(ones, 0xff, sizeof(ones));
    snprintf(rel, sizeof(rel), "%s/resource0", fn13);
    t_put_bytes(root, rel, ones, sizeof(ones));
    s = walk("0000:00:13.0", DMACOH_FOUND_NVME, 0);
    T_EQ_INT(s->n, 1);
    f = &s->f[0];
    T_ASSERT(strstr(f->problem, "not responding") != NULL);
    T_EQ_U64(f->size, 0);
    T_EQ_INT(f->flags, DMACOH_FOUND_NO_ADDR); /* not decoded as a hidden CMB */
    free(s);
    /* Another controller's register file is a FIFO: opening it is refused and logged, so a
     * log line naming it shows that the walk went there. */
    snprintf(path, sizeof(path), "%s/sys/bus/pci/devices/0000:00:14.0/resource0", root);
    T_EQ_INT(unlink(path), 0);
    T_EQ_INT(mkfifo(path, 0600), 0);
    t_log_reset();
    free(walk("0000:00:13.0", DMACOH_FOUND_NVME, 0));
    T_ASSERT(!t_log_find("0000:00:14.0/resource0"));
    free(walk(NULL, DMACOH_FOUND_NVME, 0));
    T_ASSERT(t_log_find("0000:00:14.0/resource0"));
    t_remove_tree(root);
}

static void uio_dax_dt(void)
{
    struct seen *s;
    const struct dmacoh_found *f;
    long page = sysconf(_SC_PAGESIZE);

    make();
    s = walk(NULL, DMACOH_FOUND_UIO | DMACOH_FOUND_DAX | DMACOH_FOUND_DT, 0);
    f = find(s, DMACOH_FOUND_UIO, "uio0", 1);
    T_EQ_STR(f->parent, "0000:00:05.0");
    T_EQ_U64(f->bus, 0xf8002800);
    T_EQ_U64(f->size, 0x800);
    T_EQ_U64(f->path[0].offset, (uint64_t)page + 0x800);
    f = find(s, DMACOH_FOUND_UIO, "uio1", 0);
    T_EQ_STR(f->label, "sram0");
    T_EQ_STR(f->driver, "sram");
    T_EQ_U64(f->offset, 0x800); /* the memory starts 0x800 into the map's page */
    T_EQ_U64(f->bus, 0x40000800);
    T_EQ_U64(f->size, 0x10000 - 0x800);
    T_EQ_U64(f->path[0].offset, 0x800);
    f = find(s, DMACOH_FOUND_UIO, "uio1", 1); /* an address past 64 bits */
    T_ASSERT(strstr(f->problem, "map1/addr") != NULL);
    T_EQ_U64(f->size, 0);
    f = find(s, DMACOH_FOUND_DAX, "dax0.0", 0);
    T_EQ_U64(f->bus, 0x240000000ull);
    T_EQ_U64(f->size, 1ull << 30);
    T_EQ_U64(f->align, 2u << 20);
    T_EQ_INT(f->numa_node, 0);
    T_EQ_INT(f->path[0].state, DMACOH_PATH_READY);
    f = find(s, DMACOH_FOUND_DAX, "dax1.0", 0);
    T_EQ_INT(f->flags, DMACOH_FOUND_NO_ADDR);
    T_EQ_INT(f->numa_node, -1);
    T_EQ_INT(f->path[0].state, DMACOH_PATH_ABSENT);
    T_ASSERT(strstr(f->path[0].how, "daxctl reconfigure-device --mode=devdax --force dax1.0") !=
             NULL);
    T_ASSERT(t_log_find("dax2.0;reboot: not a device DAX name: skipped"));
    f = find(s, DMACOH_FOUND_DT, "/reserved-memory/buffer@90000000", 0);
    T_EQ_U64(f->bus, 0x90000000);
    T_EQ_U64(f->size, 0x400000);
    T_EQ_INT(f->flags, DMACOH_FOUND_NO_MAP);
    T_EQ_STR(f->label, "shared-dma-pool");
    T_EQ_INT(f->path[0].via, DMACOH_VIA_DEVMEM);
    T_EQ_INT(f->path[0].state, getuid() == 0 ? DMACOH_PATH_READY : DMACOH_PATH_DENIED);
    T_EQ_U64(f->path[0].offset, 0x90000000);
    f = find(s, DMACOH_FOUND_DT, "/reserved-memory/linux,cma", 0);
    T_EQ_INT(f->flags, DMACOH_FOUND_REUSABLE | DMACOH_FOUND_NO_ADDR);
    T_EQ_U64(f->size, 16u << 20);
    f = find(s, DMACOH_FOUND_DT, "/soc/sram@50000000", 0); /* the parent's 1 + 1 cells */
    T_EQ_U64(f->bus, 0x50000000);
    T_EQ_U64(f->size, 0x8000);
    T_EQ_STR(f->label, "acme,sram");
    /* The kernel's sram driver claims the range (CONFIG_IO_STRICT_DEVMEM): busy, saying so. */
    T_EQ_INT(f->path[0].state, DMACOH_PATH_BUSY);
    T_ASSERT(strstr(f->path[0].how, "sram driver holds 50000000.sram") != NULL);
    T_ASSERT(strstr(f->path[0].how, "as RAM") == NULL);    /* SRAM is never the kernel's RAM */
    f = find(s, DMACOH_FOUND_DT, "/soc/sram@51000000", 0); /* no driver, not no-map: usable */
    T_EQ_INT(f->path[0].state, getuid() == 0 ? DMACOH_PATH_READY : DMACOH_PATH_DENIED);
    f = find(s, DMACOH_FOUND_DT, "/soc/bad-sram@0", 0);
    T_ASSERT(strstr(f->problem, "5 bytes") != NULL);
    for (size_t i = 0; i < s->n; i++)
        T_ASSERT(strncmp(s->f[i].device, "dax2.0", 6) != 0);
    T_EQ_INT(s->n, 2 + 2 + 2 + 5);
    free(s);
    t_remove_tree(root);
}

static void filters_and_errors(void)
{
    struct dmacoh_discover_opts o = {NULL, NULL, NULL, 0};
    struct seen *s;

    make();
    s = walk("nvme0", 0, 0);
    T_EQ_INT(s->n, 1);
    free(s);
    s = walk("uio1", 0, 0);
    T_EQ_INT(s->n, 2);
    free(s);
    s = walk("sram@50000000", 0, 0);
    T_EQ_INT(s->n, 1);
    free(s);
    s = walk("0000:00:03.0", DMACOH_FOUND_PCI, 0);
    T_EQ_INT(s->n, 2);
    free(s);
    free(walk("0000:00:99.0", 0, DMACOH_ENOENT));
    free(walk("0000:00:03.0", DMACOH_FOUND_UIO, DMACOH_ENOENT));
    free(walk("a/b", 0, DMACOH_EINVAL));
    free(walk("", 0, DMACOH_EINVAL));
    free(walk(NULL, 0x40, DMACOH_EINVAL));
    T_ERR(dmacoh_discover(&o, NULL, NULL), DMACOH_EINVAL);
    t_remove_tree(root);
}

static int stop_at_second(void *user, const struct dmacoh_found *f)
{
    (void)f;
    return ++*(int *)user == 2 ? 7 : 0;
}

static void callback_stops_and_order_is_stable(void)
{
    struct dmacoh_discover_opts o;
    struct seen *a, *b;
    int calls = 0;

    make();
    o = (struct dmacoh_discover_opts){sys, dev, NULL, 0};
    T_EQ_INT(dmacoh_discover(&o, stop_at_second, &calls), 7);
    T_EQ_INT(calls, 2);
    a = walk(NULL, 0, 0);
    b = walk(NULL, 0, 0);
    T_EQ_INT(a->n, b->n);
    T_EQ_INT(a->n, 14 + 3 + 11);
    for (size_t i = 0; i < a->n; i++) {
        T_EQ_STR(a->f[i].device, b->f[i].device);
        T_EQ_INT(a->f[i].index, b->f[i].index);
    }
    /* PCI by address, each function's CMB after its BARs, then UIO, DAX, devicetree. */
    T_EQ_STR(a->f[0].device, "0000:00:03.0");
    T_EQ_INT(a->f[10].kind, DMACOH_FOUND_NVME);
    T_EQ_STR(a->f[16].device, "0000:00:1f.2"); /* address order: 1f after 14 */
    for (size_t i = 1; i < 17; i++)
        T_ASSERT(strcmp(a->f[i - 1].device, a->f[i].device) <= 0);
    T_EQ_STR(a->f[a->n - 1].device, "/soc/sram@51000000");
    free(a);
    free(b);
    t_remove_tree(root);
}

static void hostile_trees(void)
{
    char path[PATH_MAX], rel[PATH_MAX] = "sys/firmware/devicetree/base";
    struct seen *s;

    make();
    /* A FIFO where an attribute should be: refused without blocking. */
    snprintf(path, sizeof(path), "%s/sys/class/uio/uio1/maps/map0/size", root);
    T_EQ_INT(unlink(path), 0);
    T_EQ_INT(mkfifo(path, 0600), 0);
    /* A tree deeper than the walk goes, and uio names the kernel does not make. */
    for (int i = 0; i < 40; i++)
        strcat(rel, "/n");
    strcat(rel, "/sram/compatible");
    t_put_bytes(root, rel, "mmio-sram", 10);
    t_put_text(root, "sys/class/uio/uioX/name", "x\n");
    t_put_link(root, "sys/class/uio/uio7", "uio7");
    /* DAX names the kernel does not make: each skipped, none put into a command. */
    t_put_text(root, "sys/bus/dax/devices/da/size", "4096\n");
    t_put_text(root, "sys/bus/dax/devices/dax0./size", "4096\n");
    t_put_text(root, "sys/bus/dax/devices/dax.0/size", "4096\n");
    t_put_text(root, "sys/bus/dax/devices/dax1.0x/size", "4096\n");
    s = walk(NULL, DMACOH_FOUND_DAX, 0);
    T_EQ_INT(s->n, 2); /* dax0.0 and dax1.0 */
    T_ASSERT(t_log_find("/da: not a device DAX name"));
    T_ASSERT(t_log_find("/dax1.0x: not a device DAX name"));
    free(s);
    s = walk(NULL, DMACOH_FOUND_UIO | DMACOH_FOUND_DT, 0);
    T_ASSERT(find(s, DMACOH_FOUND_UIO, "uio1", 0)->problem[0] != '\0');
    T_ASSERT(t_log_find("deeper than"));
    T_ASSERT(t_log_find("uioX"));
    for (size_t i = 0; i < s->n; i++)
        T_ASSERT(strcmp(s->f[i].device, "uio7") != 0); /* a loop: no maps to list */
    free(s);
    t_remove_tree(root);
}

static void cell(const char *rel, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};

    t_put_bytes(root, rel, b, 4);
}

static int count(void *user, const struct dmacoh_found *f)
{
    (void)f;
    ++*(size_t *)user;
    return 0;
}

/* Addresses are presented as physical only where they are: not behind a `ranges`
 * translation, not on a bus without `ranges`, not with #address-cells 0; disabled nodes are
 * skipped; cell counts are printed as they are; a `reg` of the largest size read is whole. */
static void devicetree_addresses(void)
{
    static const char b[] = "sys/firmware/devicetree/base";
    /* reg <0x1000 0x100> in big-endian cells; ranges <0 0x80000000 0x10000>. */
    static const unsigned char one[8] = {0, 0, 0x10, 0, 0, 0, 1, 0};
    static const unsigned char xlate[12] = {0, 0, 0, 0, 0x80, 0, 0, 0, 0, 1, 0, 0};
    struct dmacoh_discover_opts o = {sys, dev, "big@0", DMACOH_FOUND_DT};
    unsigned char big[4096 + 16];
    char rel[PATH_MAX];
    struct seen *s;
    const struct dmacoh_found *f;
    size_t n = 0;

    make();
#define DT(p) (snprintf(rel, sizeof(rel), "%s/%s", b, p), rel)
    /* A bus translating its children's addresses (ranges child parent size). */
    cell(DT("soc/bus@80000000/#address-cells"), 1);
    cell(DT("soc/bus@80000000/#size-cells"), 1);
    t_put_bytes(root, DT("soc/bus@80000000/ranges"), xlate, sizeof(xlate));
    t_put_bytes(root, DT("soc/bus@80000000/sram@1000/compatible"), "mmio-sram", 10);
    t_put_bytes(root, DT("soc/bus@80000000/sram@1000/reg"), one, sizeof(one));
    /* A bus without `ranges`: its addresses are its own. */
    cell(DT("i2c@0/#address-cells"), 1);
    cell(DT("i2c@0/#size-cells"), 1);
    t_put_bytes(root, DT("i2c@0/sram@1000/compatible"), "mmio-sram", 10);
    t_put_bytes(root, DT("i2c@0/sram@1000/reg"), one, sizeof(one));
    /* #address-cells 0, and a width no one can decode. */
    cell(DT("soc/zero/#address-cells"), 0);
    cell(DT("soc/zero/#size-cells"), 1);
    t_put_text(root, DT("soc/zero/ranges"), "");
    t_put_bytes(root, DT("soc/zero/sram/compatible"), "mmio-sram", 10);
    t_put_bytes(root, DT("soc/zero/sram/reg"), one, 4);
    cell(DT("soc/wide/#address-cells"), 5);
    t_put_text(root, DT("soc/wide/ranges"), "");
    t_put_bytes(root, DT("soc/wide/sram@0/compatible"), "mmio-sram", 10);
    t_put_bytes(root, DT("soc/wide/sram@0/reg"), one, sizeof(one));
    /* Disabled: no device is made of it, and it is not listed. */
    t_put_bytes(root, DT("soc/sram@52000000/compatible"), "mmio-sram", 10);
    t_put_bytes(root, DT("soc/sram@52000000/reg"), one, sizeof(one));
    t_put_bytes(root, DT("soc/sram@52000000/status"), "disabled", 9);
    t_put_bytes(root, DT("soc/sram@53000000/compatible"), "mmio-sram", 10);
    t_put_bytes(root, DT("soc/sram@53000000/reg"), one, sizeof(one));
    t_put_bytes(root, DT("soc/sram@53000000/status"), "okay", 5);
    /* reg of exactly the most read (256 pairs of 2 + 2 cells), and of more. */
    memset(big, 0, sizeof(big));
    for (size_t i = 0; i < 256; i++)
        big[16 * i + 15] = 1; /* size 1 */
    t_put_bytes(root, DT("reserved-memory/big@0/reg"), big, 4096);
    t_put_bytes(root, DT("reserved-memory/huge@0/reg"), big, sizeof(big));
#undef DT
    s = walk(NULL, DMACOH_FOUND_DT, 0);
    f = find(s, DMACOH_FOUND_DT, "/soc/bus@80000000/sram@1000", 0);
    T_EQ_INT(f->flags, DMACOH_FOUND_NO_ADDR);
    T_EQ_U64(f->bus, 0);
    T_EQ_INT(f->npaths, 0);
    T_ASSERT(strstr(f->problem, "behind a bus translation (ranges) not applied") != NULL);
    f = find(s, DMACOH_FOUND_DT, "/i2c@0/sram@1000", 0);
    T_EQ_INT(f->flags, DMACOH_FOUND_NO_ADDR);
    T_EQ_INT(f->npaths, 0);
    T_ASSERT(strstr(f->problem, "not CPU-addressable") != NULL);
    f = find(s, DMACOH_FOUND_DT, "/soc/zero/sram", 0);
    T_EQ_INT(f->flags, DMACOH_FOUND_NO_ADDR);
    T_EQ_INT(f->npaths, 0);
    T_ASSERT(strstr(f->problem, "#address-cells is 0") != NULL);
    f = find(s, DMACOH_FOUND_DT, "/soc/wide/sram@0", 0);
    T_ASSERT(strstr(f->problem, "#address-cells 5 ") != NULL);
    T_ASSERT(strstr(f->problem, "4294967295") == NULL);
    f = find(s, DMACOH_FOUND_DT, "/soc/sram@53000000", 0);
    T_EQ_U64(f->bus, 0x1000);
    f = find(s, DMACOH_FOUND_DT, "/reserved-memory/huge@0", 0);
    T_EQ_INT(f->flags, DMACOH_FOUND_NO_ADDR);
    T_ASSERT(strstr(f->problem, "huge@0/reg: ") != NULL);
    T_ASSERT(strstr(f->problem, " -") == NULL); /* no negative byte count */
    for (size_t i = 0; i < s->n; i++)
        T_ASSERT(strcmp(s->f[i].device, "/soc/sram@52000000") != 0);
    free(s);
    T_EQ_INT(dmacoh_discover(&o, count, &n), 0);
    T_EQ_INT(n, 256);
    t_remove_tree(root);
}

struct deep {
    struct dmacoh_discover_opts o;
    struct seen s;
    int rc;
};

static void *deep_walk(void *arg)
{
    struct deep *d = arg;

    d->rc = dmacoh_discover(&d->o, collect, &d->s);
    return NULL;
}

/* The walk of deep_tree_small_stack, in a child: 0 when it listed the node 16 levels down
 * and skipped the one below it. The thread's 128 KiB stack lies above 1 MiB of PROT_NONE, so
 * that a frame larger than the guard page glibc leaves faults instead of writing past it. */
static int deep_child(void)
{
    const size_t guard = 1u << 20, stack = 128u << 10;
    struct deep *d = calloc(1, sizeof(*d));
    const struct dmacoh_found *f = NULL;
    pthread_attr_t a;
    pthread_t th;
    char *m;

    m = mmap(NULL, guard + stack, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!d || m == MAP_FAILED || mprotect(m + guard, stack, PROT_READ | PROT_WRITE) != 0)
        return 10;
    d->o = (struct dmacoh_discover_opts){sys, dev, NULL, DMACOH_FOUND_DT};
    if (pthread_attr_init(&a) != 0 || pthread_attr_setstack(&a, m + guard, stack) != 0 ||
        pthread_create(&th, &a, deep_walk, d) != 0 || pthread_join(th, NULL) != 0)
        return 11;
    if (d->rc != 0)
        return 12;
    for (size_t i = 0; i < d->s.n; i++) {
        if (strstr(d->s.f[i].device, "too-deep"))
            return 13;
        if (!strcmp(d->s.f[i].device, "/n/n/n/n/n/n/n/n/n/n/n/n/n/n/n/sram@1000000"))
            f = &d->s.f[i];
    }
    if (!f || f->bus != 0x1000000)
        return 14;
    return t_log_find("deeper than 16 nodes") ? 0 : 15;
}

/* A node 16 levels down is listed from a thread with a 128 KiB stack; one 17 levels down is
 * skipped with one log line. */
static void deep_tree_small_stack(void)
{
    char rel[PATH_MAX] = "sys/firmware/devicetree/base", path[PATH_MAX + 32];
    const uint32_t reg[3] = {0, 0x1000000, 0x1000};
    unsigned char be[12];
    int status;
    pid_t pid;

    make();
    for (size_t i = 0; i < 12; i++)
        be[i] = (unsigned char)(reg[i / 4] >> (24 - 8 * (i % 4)));
    for (int i = 0; i < 15; i++) {
        strcat(rel, "/n");
        snprintf(path, sizeof(path), "%s/ranges", rel);
        t_put_text(root, path, "");
    }
    snprintf(path, sizeof(path), "%s/sram@1000000/compatible", rel);
    t_put_bytes(root, path, "mmio-sram", 10);
    snprintf(path, sizeof(path), "%s/sram@1000000/reg", rel);
    t_put_bytes(root, path, be, sizeof(be));
    snprintf(path, sizeof(path), "%s/n/too-deep@0/compatible", rel);
    t_put_bytes(root, path, "mmio-sram", 10);
    snprintf(path, sizeof(path), "%s/n/too-deep@0/reg", rel);
    t_put_bytes(root, path, be, sizeof(be));
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0)
        _exit(deep_child());
    T_EQ_INT(waitpid(pid, &status, 0), pid);
    T_ASSERT(WIFEXITED(status)); /* not killed by SIGSEGV: the stack sufficed */
    T_EQ_INT(WEXITSTATUS(status), 0);
    t_remove_tree(root);
}

/* What a user without the permissions sees (run as nobody when the test runs as root). */
static int as_user(bool was_root)
{
    struct dmacoh_discover_opts o = {sys, dev, NULL, 0};
    struct seen *s = calloc(1, sizeof(*s));
    const struct dmacoh_found *f;
    const char *want = was_root ? "read and write" : "write";
    int code = 0;

    if (!s)
        return 10;
    if (dmacoh_discover(&o, collect, s) != DMACOH_EACCES) /* sys/bus/dax/devices unlisted */
        code = 11;
    f = code ? NULL : find(s, DMACOH_FOUND_PCI, "0000:00:03.0", 2);
    /* sysfs (kernfs) keeps no ACLs: the file is to be taken, not granted. */
    if (f &&
        (f->path[0].state != DMACOH_PATH_DENIED || strcmp(f->path[0].missing, want) != 0 ||
         !strstr(f->path[0].how, "sudo chown $(id -un) ") || strstr(f->path[0].how, "setfacl")))
        code = 12;
    /* /dev/mem asks for CAP_SYS_RAWIO, which no file permission gives. */
    f = code ? NULL : find(s, DMACOH_FOUND_DT, "/reserved-memory/buffer@90000000", 0);
    if (f && (f->path[0].state != DMACOH_PATH_DENIED ||
              strcmp(f->path[0].how, "run as root (needs CAP_SYS_RAWIO)") != 0))
        code = 14;
    /* A device node has ACLs: a grant works there. */
    f = code ? NULL : find(s, DMACOH_FOUND_UIO, "uio1", 0);
    if (f && (f->path[0].state != DMACOH_PATH_DENIED || !strstr(f->path[0].how, "setfacl")))
        code = 15;
    if (!code && find(s, DMACOH_FOUND_UIO, "uio1", 0)->size != 0xf800) /* the rest is listed */
        code = 13;
    free(s);
    return code;
}

static void permissions_are_named(void)
{
    char path[PATH_MAX];
    bool root_user = getuid() == 0;
    int status;
    pid_t pid;

    make();
    snprintf(path, sizeof(path), "%s/sys/bus/pci/devices/0000:00:03.0/resource2", root);
    T_EQ_INT(chmod(path, getuid() == 0 ? 0600 : 0400), 0);
    snprintf(path, sizeof(path), "%s/dev/uio1", root);
    T_EQ_INT(chmod(path, 0444), 0);
    snprintf(path, sizeof(path), "%s/sys/bus/dax/devices", root);
    T_EQ_INT(chmod(path, 0300), 0);
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        if (root_user && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(20);
        _exit(as_user(root_user));
    }
    T_EQ_INT(waitpid(pid, &status, 0), pid);
    T_ASSERT(WIFEXITED(status));
    T_EQ_INT(WEXITSTATUS(status), 0);
    T_EQ_INT(chmod(path, 0755), 0);
    t_remove_tree(root);
}

static const struct t_case cases[] = {
    T_CASE(pci_bars_and_paths),
    T_CASE(nvme_cmbs),
    T_CASE(nvme_bound_without_attributes),
    T_CASE(nvme_registers_guarded),
    T_CASE(uio_dax_dt),
    T_CASE(filters_and_errors),
    T_CASE(callback_stops_and_order_is_stable),
    T_CASE(hostile_trees),
    T_CASE(permissions_are_named),
    T_CASE(devicetree_addresses),
    T_CASE(deep_tree_small_stack),
};

T_MAIN(cases)
