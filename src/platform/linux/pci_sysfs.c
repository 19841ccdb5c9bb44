/* SPDX-License-Identifier: MIT */
/*
 * pci_sysfs.c - the PCI platform: declared memory inside a device's memory BARs, mapped
 * through sysfs resourceN files.
 *
 * open() reads the six BARs from `resource` (start, end, flags per line). map() finds the
 * memory BAR holding the whole bus range, opens resourceN (or resourceN_wc; checked to be a
 * regular file of at least the BAR's size, not a symlink) and maps the range at its offset in
 * the BAR, placed for the congruence the core asks for, after claiming the physical range
 * process-wide (common.c), so that no other platform instance of the process - a second
 * dmacoh_pci_open of the function, UIO, /dev/mem, VFIO - maps the same bytes for another
 * allocator; the mapping holds the claim until unmap. The failure the kernel reports
 * confusingly, mmap failing with EINVAL, is explained from what can be checked: a bound
 * driver is named (-DMACOH_EBUSY), else the remaining causes are listed. Each file descriptor
 * is closed once mapped (the mapping keeps the BAR). Open/close follow the libmetal shape:
 * close tolerates any partial state.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err: a backend's errors reach the same log */

#include <dmacoh/pci.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct dmacoh_pci {
    struct dmacoh_platform plat;
    char dir[PATH_MAX]; /* <sysfs>/bus/pci/devices/<bdf> */
    bool wc;
    struct dmacoh__pci_bar bar[DMACOH_PCI_NBARS];
};

/* Opens resourceN (resourceN_wc when asked and present). Each must be the regular file sysfs
 * makes, not a symlink, and at least the BAR's size (sysfs gives it exactly that size): a
 * shorter file would map pages that fault on first touch. */
static int open_bar(const struct dmacoh_pci *pci, int n, int *fd)
{
    char path[PATH_MAX + 32];
    uint64_t size = pci->bar[n].size;

    if (pci->wc) {
        snprintf(path, sizeof(path), "%s/resource%d_wc", pci->dir, n);
        *fd = dmacoh__linux_open_checked(path, O_RDWR, DMACOH__FILE_REGULAR, size);
        if (*fd >= 0)
            return 0;
        if (*fd == DMACOH_EIO)
            return DMACOH_EIO; /* there, but not what sysfs makes: logged */
    }
    snprintf(path, sizeof(path), "%s/resource%d", pci->dir, n);
    *fd = dmacoh__linux_open_checked(path, O_RDWR, DMACOH__FILE_REGULAR, size);
    if (*fd >= 0)
        return 0;
    if (*fd == DMACOH_EIO)
        return DMACOH_EIO;
    if (*fd == DMACOH_EACCES) {
        dmacoh__err("pci: %s: permission denied (needs root, or write access to the file)", path);
        return DMACOH_EACCES;
    }
    dmacoh__err("pci: cannot open %s: %s", path, dmacoh_strerror(*fd));
    return DMACOH_ENXIO;
}

/*
 * mmap of resourceN refused with EINVAL. The kernel (pci_mmap_resource) says EINVAL when the
 * BAR's range is claimed by a driver and iomem is strict (CONFIG_IO_STRICT_DEVMEM, or
 * iomem=strict; or the range is marked exclusive), and when the mapping does not fit the BAR
 * as the kernel knows it. The log says what was checked: whether a driver is bound (then it
 * is named, and is the likely claimant), and that the range lies inside the BAR as `resource`
 * said at open; what is left is named as such.
 */
static int explain_einval(const struct dmacoh_pci *pci, int n, const char *bdf)
{
    char link[PATH_MAX + 16], name[64];
    const struct dmacoh__pci_bar *b = &pci->bar[n];
    int r;

    snprintf(link, sizeof(link), "%s/driver", pci->dir);
    r = dmacoh__linux_link_name(link, name, sizeof(name));
    if (r == 0) {
        dmacoh__err("pci: the kernel refused to map BAR %d of %s (EINVAL): kernel driver '%s' is "
                    "bound to the device and has probably claimed the BAR, which strict iomem "
                    "keeps from user space: unbind the driver (or boot with iomem=relaxed)",
                    n, bdf, name);
        return DMACOH_EBUSY;
    }
    dmacoh__err("pci: the kernel refused to map BAR %d of %s (EINVAL); checked: %s, and the "
                "range lies inside this memory BAR (%#llx+%#llx) as `resource` said at open",
                n, bdf,
                r == DMACOH_ENOENT ? "no driver is bound to the device"
                                   : "whether a driver is bound could not be read",
                (unsigned long long)b->start, (unsigned long long)b->size);
    dmacoh__err("pci: what remains: another owner claimed the BAR's range under strict iomem (a "
                "boot framebuffer such as efifb, firmware: see /proc/iomem as root; "
                "iomem=relaxed lifts it), or the BAR was moved or resized since open");
    return DMACOH_EINVAL;
}

/* The BDF at the end of the device folder, for logs. */
static const char *bdf_of(const struct dmacoh_pci *pci)
{
    const char *s = strrchr(pci->dir, '/');

    return s ? s + 1 : pci->dir;
}

static int pci_map(void *ctx, dmacoh_phys_addr_t bus, uint64_t size, dmacoh_dma_addr_t device_addr,
                   uint64_t congruence, int want, struct dmacoh_mapping *out)
{
    struct dmacoh_pci *pci = (struct dmacoh_pci *)ctx;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), off, delta, len;
    int n = dmacoh__pci_bar_for(pci->bar, bus, size), fd, r;
    char who[40];
    struct dmacoh__phys_claim claim = {bus, size, pci, "pci", who, want};

    if (n < 0) {
        dmacoh__err("pci: bus %#llx+%#llx is not inside one memory BAR of %s",
                    (unsigned long long)bus, (unsigned long long)size, pci->dir);
        return DMACOH_ENXIO;
    }
    /* resourceN's offset 0 is the page holding the BAR's first byte, which need not be page
     * aligned (small BARs share a page). */
    off = (bus & ~(page - 1)) - (pci->bar[n].start & ~(page - 1));
    delta = bus & (page - 1);
    len = (delta + size + page - 1) & ~(page - 1);
    out->mode = dmacoh__linux_device_mode(want);
    if (!out->mode)
        return DMACOH_ENOTSUP;
    r = open_bar(pci, n, &fd);
    if (r)
        return r;
    snprintf(who, sizeof(who), "%.16s BAR %d", bdf_of(pci), n);
    r = dmacoh__linux_phys_claim(&claim);
    if (r) {
        close(fd);
        return r;
    }
    r = dmacoh__linux_map_claimed(fd, off, len, delta, device_addr, congruence, bus, size, out);
    close(fd);
    if (r)
        return r == DMACOH_EINVAL ? explain_einval(pci, n, bdf_of(pci)) : r;
    out->shared = false;
    out->io_width = 0;
    return 0;
}

/* Exporting a block: resourceN (or _wc, as map() chose), opened afresh since the platform
 * keeps no descriptor; the caller closes it. Offsets as map() computes them. */
static int pci_file_of(void *ctx, const struct dmacoh_mapping *map, dmacoh_phys_addr_t bus,
                       uint64_t size, struct dmacoh_file_range *out)
{
    struct dmacoh_pci *pci = (struct dmacoh_pci *)ctx;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    int n = dmacoh__pci_bar_for(pci->bar, bus, size), fd, r;

    (void)map;
    if (n < 0) {
        dmacoh__err("pci export: bus %#llx+%#llx is not inside one memory BAR of %s",
                    (unsigned long long)bus, (unsigned long long)size, pci->dir);
        return DMACOH_ENXIO;
    }
    r = open_bar(pci, n, &fd);
    if (r)
        return r;
    out->fd = fd;
    out->close_fd = true;
    out->offset = (bus & ~(page - 1)) - (pci->bar[n].start & ~(page - 1));
    out->delta = bus & (page - 1);
    out->align = page;
    return 0;
}

static const struct dmacoh_platform_ops pci_ops = {
    .name = "pci",
    .map = pci_map,
    .file_of = pci_file_of,
    DMACOH__LINUX_COMMON_OPS,
};

int dmacoh_pci_open(const char *bdf, const struct dmacoh_pci_opts *opts, struct dmacoh_pci **out)
{
    const char *root = (opts && opts->sysfs_root) ? opts->sysfs_root : "/sys";
    struct dmacoh_pci *pci;
    int r;

    if (!out) {
        dmacoh__err("pci open '%s': out is NULL", bdf ? bdf : "(null)");
        return DMACOH_EINVAL;
    }
    if (!dmacoh__pci_bdf_ok(bdf)) {
        dmacoh__err("pci open: '%s' is not a PCI address like 0000:03:00.0", bdf ? bdf : "(null)");
        return DMACOH_EINVAL;
    }
    pci = calloc(1, sizeof(*pci));
    if (!pci)
        return DMACOH_ENOMEM;
    if ((size_t)snprintf(pci->dir, sizeof(pci->dir), "%s/bus/pci/devices/%s", root, bdf) >=
        sizeof(pci->dir)) {
        free(pci);
        return DMACOH_EINVAL;
    }
    if (access(pci->dir, F_OK) != 0) {
        dmacoh__err("pci open: no PCI device %s under %s/bus/pci/devices", bdf, root);
        free(pci);
        return DMACOH_ENOENT;
    }
    pci->wc = opts && opts->write_combine;
    r = dmacoh__pci_read_bars(pci->dir, "pci", pci->bar);
    if (!r)
        r = dmacoh_platform_init(&pci->plat, &pci_ops, pci);
    if (r) {
        free(pci);
        return r;
    }
    *out = pci;
    return 0;
}

int dmacoh_pci_close(struct dmacoh_pci *pci)
{
    int r;

    if (!pci)
        return 0;
    r = dmacoh_platform_fini(&pci->plat);
    if (r)
        return r;
    free(pci);
    return 0;
}

struct dmacoh_platform *dmacoh_pci_platform(struct dmacoh_pci *pci)
{
    return pci ? &pci->plat : NULL;
}

int dmacoh_pci_bar(const struct dmacoh_pci *pci, unsigned n, dmacoh_phys_addr_t *bus,
                   uint64_t *size, int *kind)
{
    return pci ? dmacoh__pci_bar_get(pci->bar, n, bus, size, kind) : DMACOH_EINVAL;
}
