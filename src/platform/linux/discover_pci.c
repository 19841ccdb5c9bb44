/* SPDX-License-Identifier: MIT */
/*
 * discover_pci.c - the PCI part of dmacoh_discover(): every function under bus/pci/devices,
 * each memory BAR with its three access paths (sysfs resourceN, UIO, VFIO), and for an NVMe
 * controller (class 0x010802) its controller memory buffer.
 *
 * The CMB comes from the nvme driver's attributes when the driver is bound (cmbloc and cmbsz
 * of the controller device, nvme/nvmeX, printed "%u" by drivers/nvme/host/pci.c and shown only
 * when the controller has a CMB), else from the controller's registers: CAP (offset 0, bit 57
 * CMBS), CMBLOC (0x38) and CMBSZ (0x3c), read with 32-bit loads through a read-only shared
 * mapping of resource0 that is unmapped at once. NVMe 1.4 controllers show CMBLOC and CMBSZ
 * only after the host sets CMBMSC.CRE (0x50, bit 0). A listing does not write registers: it
 * reports such a CMB as present but hidden, and says what would show it. Decoding (NVMe base
 * specification): unit = 4 KiB << (4 * CMBSZ.SZU), size = CMBSZ.SZ * unit, the CMB starts at
 * CMBLOC.OFST * unit in BAR CMBLOC.BIR. The registers are read only of a function that decodes
 * memory (COMMAND.MSE) and is in D0, and all ones there means the controller did not answer.
 *
 * The UIO path follows what uio_pci_generic makes (drivers/uio/uio_pci_generic.c): maps only of
 * BARs 0 to 4 whose resource flags are plain 32-bit non-prefetchable memory, numbered from 0,
 * each with `addr` the page of the BAR's start and `offset` the BAR's place in that page.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err */

#include <dmacoh/uio.h> /* DMACOH_UIO_MAX_MAPS */

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NVME_CLASS      0x010802u
#define NVME_REG_CAP    0x00u
#define NVME_REG_CMBLOC 0x38u
#define NVME_REG_CMBSZ  0x3cu
#define NVME_CAP_CMBS   (1ull << 57)

/* What one function is, read once for all its records. */
struct pci_fn {
    char dir[PATH_MAX];
    struct dmacoh__pci_bar bar[DMACOH_PCI_NBARS];
};

/* A storage controller's driver: unbinding it takes away every disk behind it, the
 * system's own perhaps. The warning to put before an unbind command ("" for other drivers). */
static const char *storage_warning(const char *driver)
{
    static const char *const storage[] = {"nvme", "ahci", "ata_piix", "megaraid_sas", "mpt3sas"};

    for (size_t i = 0; i < sizeof(storage) / sizeof(storage[0]); i++)
        if (!strcmp(driver, storage[i]))
            return "WARNING: unbinding it removes the disks behind it (unmount them first; "
                   "never the one the system runs from): ";
    return "";
}

/* The commands that bind the function to `drv` (after unbinding its current driver). */
static void bind_how(char *how, size_t len, const struct dmacoh__walk *w, const char *bdf,
                     const char *cur, const char *drv)
{
    char unbind[PATH_MAX + 256] = "";

    if (*cur)
        snprintf(unbind, sizeof(unbind),
                 "%secho %s | sudo tee %s/bus/pci/devices/%s/driver/unbind; ", storage_warning(cur),
                 bdf, w->sys, bdf);
    dmacoh__discover_fmt(how, len,
                         "sudo modprobe %s; %secho %s | sudo tee %s/bus/pci/devices/%s/"
                         "driver_override; echo %s | sudo tee %s/bus/pci/drivers_probe",
                         drv, unbind, drv, w->sys, bdf, bdf, w->sys);
}

/* Whether uio_pci_generic offers BAR i as a map: it looks at BARs 0 to 4 (as many as a UIO
 * device has maps) and takes only those whose resource flags are plain memory, 32-bit and
 * not prefetchable, numbering the maps it makes from 0 in BAR order. */
static bool uio_maps_bar(const struct dmacoh__pci_bar *b, unsigned i)
{
    return i < DMACOH_UIO_MAX_MAPS && b->kind == DMACOH_PCI_BAR_MEM && !b->is64;
}

/* The UIO map of uio_pci_generic's device that covers BAR `b`, as a path. The kernel makes a
 * map's `addr` the page of the BAR's start and its `offset` where the BAR starts in that
 * page, so a map is the BAR's when addr + offset is the BAR's start. */
static void uio_path(struct dmacoh_found_path *p, const struct dmacoh__walk *w,
                     const struct pci_fn *fn, const struct dmacoh__pci_bar *b)
{
    char path[PATH_MAX + 64], (*uios)[256] = NULL;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/uio", fn->dir);
    if (dmacoh__linux_list_dir(path, &uios, &n) == 0 && n > 0) {
        for (unsigned m = 0; m < DMACOH_UIO_MAX_MAPS; m++) {
            uint64_t addr, offs = 0;
            int rc;

            snprintf(path, sizeof(path), "%s/class/uio/%s/maps/map%u/addr", w->sys, uios[0], m);
            if (dmacoh__linux_read_u64(path, &addr) != 0)
                continue;
            snprintf(path, sizeof(path), "%s/class/uio/%s/maps/map%u/offset", w->sys, uios[0], m);
            rc = dmacoh__linux_read_u64(path, &offs);
            if ((rc != 0 && rc != DMACOH_ENOENT) || addr + offs != b->start)
                continue;
            snprintf(path, sizeof(path), "%s/%s", w->dev, uios[0]);
            dmacoh__discover_path(p, DMACOH_VIA_UIO, path,
                                  (uint64_t)m * (uint64_t)sysconf(_SC_PAGESIZE) + offs);
            free(uios);
            return;
        }
    }
    memset(p, 0, sizeof(*p));
    p->via = DMACOH_VIA_UIO;
    p->state = DMACOH_PATH_ABSENT;
    dmacoh__discover_fmt(p->how, sizeof(p->how), "%s",
                         n ? "uio_pci_generic is bound but shows no map of this BAR"
                           : "uio_pci_generic is bound but no UIO device was made");
    free(uios);
}

/* The three access paths of BAR `i` of function f (its driver and group already read). */
static void bar_paths(struct dmacoh_found *f, const struct dmacoh__walk *w, const struct pci_fn *fn,
                      unsigned i, uint64_t off)
{
    struct dmacoh_found_path *p = f->path;
    char path[PATH_MAX + 64];
    bool uio = !strcmp(f->driver, "uio_pci_generic"), vfio = !strcmp(f->driver, "vfio-pci");

    snprintf(path, sizeof(path), "%s/resource%u", fn->dir, i);
    dmacoh__discover_path(&p[0], DMACOH_VIA_SYSFS, path, off);
    if (p[0].state == DMACOH_PATH_ABSENT)
        dmacoh__discover_fmt(p[0].how, sizeof(p[0].how),
                             "the kernel made no resource%u file for this BAR", i);
    if (p[0].state == DMACOH_PATH_READY && *f->driver && !uio && !vfio) {
        p[0].state = DMACOH_PATH_BUSY;
        dmacoh__discover_fmt(p[0].how, sizeof(p[0].how),
                             "the %s driver holds the BAR: %secho %s | sudo tee "
                             "%s/bus/pci/drivers/%s/unbind (or boot with iomem=relaxed)",
                             f->driver, storage_warning(f->driver), f->device, w->sys, f->driver);
    }
    if (!uio_maps_bar(&fn->bar[i], i)) {
        memset(&p[1], 0, sizeof(p[1]));
        p[1].via = DMACOH_VIA_UIO;
        p[1].state = DMACOH_PATH_ABSENT;
        dmacoh__discover_fmt(p[1].how, sizeof(p[1].how),
                             "uio_pci_generic does not map this BAR; use sysfs or VFIO (it maps "
                             "only 32-bit non-prefetchable memory BARs 0 to 4)");
    } else if (uio) {
        uio_path(&p[1], w, fn, &fn->bar[i]);
        p[1].offset += off;
    } else {
        memset(&p[1], 0, sizeof(p[1]));
        p[1].via = DMACOH_VIA_UIO;
        p[1].state = DMACOH_PATH_ABSENT;
        bind_how(p[1].how, sizeof(p[1].how), w, f->device, f->driver, "uio_pci_generic");
    }
    memset(&p[2], 0, sizeof(p[2]));
    if (vfio && f->iommu_group >= 0) {
        snprintf(path, sizeof(path), "%s/vfio/%d", w->dev, f->iommu_group);
        dmacoh__discover_path(&p[2], DMACOH_VIA_VFIO, path, off);
    } else {
        p[2].via = DMACOH_VIA_VFIO;
        p[2].state = DMACOH_PATH_ABSENT;
        if (f->iommu_group < 0)
            dmacoh__discover_fmt(p[2].how, sizeof(p[2].how),
                                 "no IOMMU group: enable VT-d/AMD-Vi in firmware; on "
                                 "Intel add intel_iommu=on to the kernel command line; in "
                                 "a VM give it a virtual IOMMU");
        else
            bind_how(p[2].how, sizeof(p[2].how), w, f->device, f->driver, "vfio-pci");
    }
    f->npaths = 3;
}

/* Whether the controller's registers can be read without changing anything: memory
 * decoding on (COMMAND bit 1, Memory Space Enable, in the first 64 bytes of `config`, which
 * any user may read) and, where the kernel shows it, power state D0. A disabled or sleeping
 * function answers a read with all ones, or not at all; enabling or waking it is a write a
 * listing does not make. 0, or an error with the reason in why. */
static int nvme_regs_live(const struct pci_fn *fn, char *why, size_t len)
{
    char path[PATH_MAX + 16], ps[16];
    unsigned char cfg[64] = {0};
    ssize_t n;
    long k;
    int fd;

    snprintf(path, sizeof(path), "%s/config", fn->dir);
    fd = dmacoh__linux_open_checked(path, O_RDONLY, DMACOH__FILE_REGULAR, 0);
    n = fd < 0 ? fd : pread(fd, cfg, sizeof(cfg), 0);
    if (fd >= 0)
        close(fd);
    if (n < 6) {
        dmacoh__discover_fmt(why, len, "cannot read the COMMAND register in %s", path);
        return DMACOH_EIO;
    }
    if (!(cfg[4] & 0x02)) {
        dmacoh__discover_fmt(why, len,
                             "memory decoding is off (COMMAND.MSE clear): the registers are not "
                             "read; binding a driver enables it");
        return DMACOH_EIO;
    }
    snprintf(path, sizeof(path), "%s/power_state", fn->dir);
    k = dmacoh__linux_read_file(path, ps, sizeof(ps));
    if (k == DMACOH_ENOENT)
        return 0; /* kernels before 5.x do not show it */
    if (k > 0)
        ps[strcspn(ps, "\n")] = '\0';
    if (k <= 0 || strcmp(ps, "D0") != 0) {
        dmacoh__discover_fmt(why, len,
                             "the controller is in power state %s, not D0: the registers are "
                             "not read",
                             k > 0 ? ps : "(unreadable)");
        return DMACOH_EIO;
    }
    return 0;
}

/* A register as the CPU loaded it, in the controller's byte order: PCI memory is little-endian
 * (what the kernel's readl() swaps on a big-endian CPU). */
static uint32_t le32(uint32_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap32(v);
#else
    return v;
#endif
}

/* Reads the NVMe registers through a read-only mapping of resource0. */
static int nvme_regs(const struct pci_fn *fn, uint64_t *cap, uint32_t *loc, uint32_t *sz, char *why,
                     size_t len)
{
    char path[PATH_MAX + 16];
    const volatile uint32_t *r;
    void *m;
    int fd;

    snprintf(path, sizeof(path), "%s/resource0", fn->dir);
    fd = dmacoh__linux_open_checked(path, O_RDONLY, DMACOH__FILE_REGULAR, 0x40);
    if (fd < 0) {
        dmacoh__discover_fmt(why, len, "cannot read the controller's registers: %s%s",
                             fd == DMACOH_EACCES ? "read permission missing on " : "", path);
        return fd;
    }
    m = mmap(NULL, 0x1000, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        dmacoh__discover_fmt(why, len,
                             "cannot map %s to read the controller's registers "
                             "(a driver may hold it)",
                             path);
        return DMACOH_EIO;
    }
    r = m;
    *cap = le32(r[NVME_REG_CAP / 4]) | (uint64_t)le32(r[NVME_REG_CAP / 4 + 1]) << 32;
    *loc = le32(r[NVME_REG_CMBLOC / 4]);
    *sz = le32(r[NVME_REG_CMBSZ / 4]);
    munmap(m, 0x1000);
    if ((uint32_t)*cap == UINT32_MAX || (uint32_t)(*cap >> 32) == UINT32_MAX || *sz == UINT32_MAX) {
        /* What a read of a function that does not answer returns (removed, in reset, or
         * decoding off): nothing in it is a register's value. */
        dmacoh__discover_fmt(why, len,
                             "the controller is not responding (CAP or CMBSZ reads 0xffffffff)");
        return DMACOH_EIO;
    }
    return 0;
}

/* CMBLOC and CMBSZ from the nvme driver's attributes: 0, or -DMACOH_ENOENT (no CMB shown). */
static int nvme_attrs(const struct pci_fn *fn, char *ctrl, size_t len, uint32_t *loc, uint32_t *sz)
{
    char path[PATH_MAX + 300], (*names)[256] = NULL;
    uint64_t a = 0, b = 0;
    size_t n = 0;
    int rc;

    snprintf(path, sizeof(path), "%s/nvme", fn->dir);
    if (dmacoh__linux_list_dir(path, &names, &n) != 0 || n == 0) {
        free(names);
        return DMACOH_ENOENT;
    }
    dmacoh__discover_fmt(ctrl, len, "%s", names[0]);
    snprintf(path, sizeof(path), "%s/nvme/%s/cmbloc", fn->dir, names[0]);
    rc = dmacoh__linux_read_u64(path, &a);
    snprintf(path, sizeof(path), "%s/nvme/%s/cmbsz", fn->dir, names[0]);
    rc = rc ? rc : dmacoh__linux_read_u64(path, &b);
    free(names);
    if (!rc && (a > UINT32_MAX || b > UINT32_MAX))
        rc = DMACOH_ERANGE;
    *loc = (uint32_t)a;
    *sz = (uint32_t)b;
    return rc;
}

/* Where the CMB is, from CMBLOC and CMBSZ: NULL, or why they make no sense. */
static const char *cmb_place(struct dmacoh_found *f, const struct pci_fn *fn, uint32_t loc,
                             uint32_t sz)
{
    unsigned szu = (sz >> 8) & 0xfu, bir = loc & 7u;
    const struct dmacoh__pci_bar *b = &fn->bar[bir < DMACOH_PCI_NBARS ? bir : 0];
    uint64_t unit;

    if (szu > 6)
        return "CMBSZ.SZU is a reserved value";
    unit = 4096ull << (4 * szu);
    f->index = bir;
    f->size = (uint64_t)(sz >> 12) * unit;
    f->offset = (uint64_t)(loc >> 12) * unit;
    if (bir >= DMACOH_PCI_NBARS ||
        (b->kind != DMACOH_PCI_BAR_MEM && b->kind != DMACOH_PCI_BAR_MEM_PREF))
        return "CMBLOC.BIR names no memory BAR";
    if (!f->size || f->offset > b->size || f->size > b->size - f->offset)
        return "the CMB does not lie inside its BAR";
    f->bus = b->start + f->offset;
    return NULL;
}

static int nvme_cmb_at(struct dmacoh__walk *w, struct dmacoh_found *f, const struct pci_fn *fn,
                       uint32_t loc, uint32_t sz);

/* The controller memory buffer of NVMe function f, if it has one. */
static int nvme_cmb(struct dmacoh__walk *w, struct dmacoh_found *f, const struct pci_fn *fn)
{
    uint32_t loc = 0, sz = 0;
    uint64_t cap = 0;
    bool bound;

    f->kind = DMACOH_FOUND_NVME;
    f->bus = f->size = f->offset = 0;
    f->index = 0;
    f->flags = 0;
    f->npaths = 0;
    f->problem[0] = f->label[0] = '\0';
    bound = !strcmp(f->driver, "nvme");
    if (bound && nvme_attrs(fn, f->label, sizeof(f->label), &loc, &sz) == 0)
        return sz ? nvme_cmb_at(w, f, fn, loc, sz) : 0;
    if (w->want && strcmp(w->want, f->device) != 0 && strcmp(w->want, f->label) != 0)
        return 0; /* not asked for: its registers are not touched */
    if (nvme_regs_live(fn, f->problem, sizeof(f->problem)) != 0 ||
        nvme_regs(fn, &cap, &loc, &sz, f->problem, sizeof(f->problem)) != 0) {
        if (!bound) {
            f->flags = DMACOH_FOUND_NO_ADDR;
            return dmacoh__discover_emit(w, f);
        }
        /* The driver shows cmbloc/cmbsz only when the controller has a CMB and the driver
         * registered it for peer-to-peer DMA (CONFIG_PCI_P2PDMA); its registers cannot be
         * mapped while it holds BAR0 (strict iomem). Most controllers have no CMB: nothing
         * is listed rather than a record that says nothing. */
        dmacoh__info("discover: %s: the nvme driver shows no CMB and holds the registers: %s",
                     f->device, f->problem);
        f->problem[0] = '\0';
        return 0;
    }
    if (!sz && !(cap & NVME_CAP_CMBS))
        return 0; /* no CMB */
    if (!sz) {
        f->flags = DMACOH_FOUND_HIDDEN | DMACOH_FOUND_NO_ADDR;
        dmacoh__discover_fmt(f->problem, sizeof(f->problem),
                             "the controller has a CMB (CAP.CMBS) but shows CMBLOC/CMBSZ only "
                             "once CMBMSC.CRE is set; binding the nvme driver sets it");
        return dmacoh__discover_emit(w, f);
    }
    return nvme_cmb_at(w, f, fn, loc, sz);
}

/* The record of a CMB that CMBLOC and CMBSZ describe. */
static int nvme_cmb_at(struct dmacoh__walk *w, struct dmacoh_found *f, const struct pci_fn *fn,
                       uint32_t loc, uint32_t sz)
{
    const char *bad;

    bad = cmb_place(f, fn, loc, sz);
    if (bad) {
        dmacoh__discover_fmt(f->problem, sizeof(f->problem), "CMBLOC %#x, CMBSZ %#x: %s", loc, sz,
                             bad);
        f->bus = f->size = 0;
        f->flags = DMACOH_FOUND_NO_ADDR;
        return dmacoh__discover_emit(w, f);
    }
    bar_paths(f, w, fn, f->index, f->offset);
    return dmacoh__discover_emit(w, f);
}

/* Vendor, device, class, driver, IOMMU group and node of function bdf into f. */
static void fn_ids(struct dmacoh_found *f, const char *dir)
{
    char path[PATH_MAX + 16], name[32];
    uint64_t v;

    snprintf(path, sizeof(path), "%s/vendor", dir);
    f->vendor = dmacoh__linux_read_u64(path, &v) == 0 && v <= 0xffff ? (uint16_t)v : 0;
    snprintf(path, sizeof(path), "%s/device", dir);
    f->device_id = dmacoh__linux_read_u64(path, &v) == 0 && v <= 0xffff ? (uint16_t)v : 0;
    snprintf(path, sizeof(path), "%s/class", dir);
    f->class_code = dmacoh__linux_read_u64(path, &v) == 0 && v <= 0xffffff ? (uint32_t)v : 0;
    snprintf(path, sizeof(path), "%s/driver", dir);
    if (dmacoh__linux_link_name(path, f->driver, sizeof(f->driver)) != 0)
        f->driver[0] = '\0';
    snprintf(path, sizeof(path), "%s/iommu_group", dir);
    f->iommu_group = -1;
    if (dmacoh__linux_link_name(path, name, sizeof(name)) == 0 && name[0] &&
        strspn(name, "0123456789") == strlen(name) && strlen(name) < 8)
        f->iommu_group = (int)strtol(name, NULL, 10); /* digits only, at most 7 */
    f->numa_node = -1;
    snprintf(path, sizeof(path), "%s/numa_node", dir);
    dmacoh__discover_node(path, &f->numa_node);
}

static int pci_function(struct dmacoh__walk *w, const char *bdf, struct pci_fn *fn)
{
    char path[PATH_MAX + 32];
    struct dmacoh_found f;
    int rc = 0;

    memset(&f, 0, sizeof(f));
    f.kind = DMACOH_FOUND_PCI;
    dmacoh__discover_fmt(f.device, sizeof(f.device), "%s", bdf);
    snprintf(fn->dir, sizeof(fn->dir), "%s/bus/pci/devices/%s", w->sys, bdf);
    fn_ids(&f, fn->dir);
    rc = dmacoh__pci_read_bars(fn->dir, bdf, fn->bar);
    if (rc) {
        dmacoh__discover_fmt(f.problem, sizeof(f.problem), "%s/resource: %s", fn->dir,
                             dmacoh_strerror(rc));
        f.flags = DMACOH_FOUND_NO_ADDR;
        return dmacoh__discover_emit(w, &f);
    }
    for (unsigned i = 0; i < DMACOH_PCI_NBARS && !rc; i++) {
        const struct dmacoh__pci_bar *b = &fn->bar[i];

        if (b->kind != DMACOH_PCI_BAR_MEM && b->kind != DMACOH_PCI_BAR_MEM_PREF)
            continue;
        f.index = i;
        f.bus = b->start;
        f.size = b->size;
        f.flags = (b->is64 ? DMACOH_FOUND_64BIT : 0u) |
                  (b->kind == DMACOH_PCI_BAR_MEM_PREF ? DMACOH_FOUND_PREFETCH : 0u);
        snprintf(path, sizeof(path), "%s/resource%u_wc", fn->dir, i);
        if (access(path, F_OK) == 0)
            f.flags |= DMACOH_FOUND_WC;
        bar_paths(&f, w, fn, i, 0);
        rc = dmacoh__discover_emit(w, &f);
    }
    if (!rc && f.class_code == NVME_CLASS && (w->kinds & DMACOH_FOUND_NVME))
        rc = nvme_cmb(w, &f, fn);
    return rc;
}

/* PCI addresses have fixed-width hexadecimal fields: byte order is address order (the
 * listing's digit-run order would put 00:1f.2 before 00:02.0). */
static int by_address(const void *a, const void *b)
{
    return strcmp(a, b);
}

int dmacoh__discover_pci(struct dmacoh__walk *w)
{
    char dir[PATH_MAX], (*names)[256] = NULL;
    struct pci_fn *fn;
    size_t n = 0;
    int rc = 0;

    snprintf(dir, sizeof(dir), "%s/bus/pci/devices", w->sys);
    if (dmacoh__discover_list(w, dir, &names, &n) != 0)
        return 0; /* no PCI bus */
    if (n)
        qsort(names, n, sizeof(*names), by_address);
    fn = malloc(sizeof(*fn));
    if (!fn) {
        free(names);
        return DMACOH_ENOMEM;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (dmacoh__pci_bdf_ok(names[i]))
            rc = pci_function(w, names[i], fn);
        else
            dmacoh__warn("%s/%s: not a PCI address as sysfs spells one: skipped", dir, names[i]);
    }
    free(fn);
    free(names);
    return rc;
}
