/* SPDX-License-Identifier: MIT */
/*
 * vfio.c - the VFIO platform: a PCI device bound to vfio-pci, reached through its IOMMU group
 * and a type1 container (Documentation/driver-api/vfio.rst; the UAPI is <linux/vfio.h>).
 *
 * open() walks the documented sequence - group number from sysfs, container, API version,
 * group node, viability, container attach, IOMMU type, device descriptor, IOMMU info - and
 * turns each way it can fail into its own error code and a log line saying what to do. Open
 * and close follow the libmetal shape: close tolerates any partial state (descriptors are -1
 * until opened), so open just calls it on failure.
 *
 * Declared memory: the bus range must lie inside one memory BAR (from sysfs `resource`, as the
 * PCI platform reads it); the BAR's VFIO region is mapped from the device descriptor at the
 * region offset plus the page holding the range.
 *
 * Fallback memory: anonymous pages mapped into the container with VFIO_IOMMU_MAP_DMA at IOVAs
 * from an IOVA space (iova.c): first fit over the kernel's usable IOVA ranges (the IOVA-range
 * capability of VFIO_IOMMU_GET_INFO, when present) clipped to [iova_base, iova_limit] and the
 * device's DMA mask, and outside the device range of every region declared on the platform
 * (map holds it in the IOVA space, unmap releases it; a declare over live IOVAs is refused), so
 * a DMA handle names one memory only. Its table of live blocks also serves checked frees, both
 * translations and the clean-up at close. A mutex covers the table, the held ranges and the
 * MAP/UNMAP calls, so a freed IOVA is unmapped before it can be handed out again; memory whose
 * unmap failed is never reused.
 *
 * Another process: send_fds passes the container and device descriptors with a fixed-size
 * header (struct hand) over a Unix socket; attach_fds checks the message, the descriptors and
 * the device's identity, and builds an instance marked secondary: no group, no IOMMU setup,
 * no fallback (the IOVA space is the primary's), declares confined to what cannot name the
 * primary's fallback IOVAs (collides_with_primary), and a teardown that only closes its two
 * descriptors.
 *
 * System calls go through struct dmacoh__vfio_sys so a unit test can play the kernel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err: a backend's errors reach the same log */

#include <dmacoh/vfio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_IOVA_LO  0x100000ull
#define PCI_COMMAND      4          /* offset of the command register in config space */
#define PCI_COMMAND_BM   0x4u       /* Bus Master enable */
#define CONFIG_REGION    7          /* VFIO_PCI_CONFIG_REGION_INDEX */
#define VFIO_DRIVER_NAME "vfio"     /* what names of VFIO drivers contain */
#define VFIO_PCI_DRIVER  "vfio-pci" /* the one driver the platform works with */
#define HAND_MAX         16         /* ranges of each kind a hand-over carries */

/* What an attached instance knows of the IOVAs of the process that opened the device. */
struct peer_iovas {
    unsigned nranges, nheld;
    struct dmacoh__iova_range range[HAND_MAX]; /* where its fallback IOVAs may lie */
    struct dmacoh__iova_range held[HAND_MAX];  /* device ranges of its declared regions */
};

struct dmacoh_vfio {
    struct dmacoh_platform plat;
    struct dmacoh__vfio_sys sys;
    char dir[PATH_MAX]; /* <sysfs>/bus/pci/devices/<bdf> */
    char bdf[16];
    char group[80]; /* the group node's name: "5" or "noiommu-5" */
    int container, groupfd, device;
    bool noiommu, hugetlb, attached;
    bool secondary;         /* built by dmacoh_vfio_attach_fds: the setup is another process's */
    bool told_no_fallback;  /* the secondary's "no fallback" line was logged */
    struct peer_iovas peer; /* secondary: the primary's IOVAs, from the hand-over */
    uint64_t iommu_page;    /* smallest IOMMU page size */
    struct dmacoh__pci_bar bar[DMACOH_PCI_NBARS];
    pthread_mutex_t lock;           /* covers `iova` and the MAP/UNMAP calls */
    struct dmacoh__iova_space iova; /* usable ranges and live fallback blocks */
};

static int real_open(void *ctx, const char *path, int flags)
{
    (void)ctx;
    return open(path, flags);
}

static int real_close(void *ctx, int fd)
{
    (void)ctx;
    return close(fd);
}

static int real_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
    (void)ctx;
    return ioctl(fd, request, arg);
}

static const struct dmacoh__vfio_sys real_sys = {real_open, real_close, real_ioctl, NULL};

static uint64_t page_size(void)
{
    return (uint64_t)sysconf(_SC_PAGESIZE);
}

static int xioctl(const struct dmacoh_vfio *v, int fd, unsigned long req, void *arg)
{
    return v->sys.ioctl(v->sys.ctx, fd, req, arg);
}

static int access_code(int e)
{
    return (e == EACCES || e == EPERM) ? DMACOH_EACCES : -e;
}

/* ---- open, step by step ---------------------------------------------------------------- */

/* The group number from the iommu_group link. Without one there is no IOMMU (or no-IOMMU
 * group) for the device, and the log says which of the two the kernel could offer - or that
 * it cannot tell, when vfio is not loaded (its module parameters are not in sysfs then). */
static int find_group(struct dmacoh_vfio *v, const char *sysfs, const char *dev)
{
    char link[PATH_MAX + 16], path[PATH_MAX], node[PATH_MAX];

    snprintf(link, sizeof(link), "%s/iommu_group", v->dir);
    if (dmacoh__linux_link_name(link, v->group, sizeof(v->group)) == 0)
        return 0;
    snprintf(path, sizeof(path), "%s/module/vfio/parameters/enable_unsafe_noiommu_mode", sysfs);
    snprintf(node, sizeof(node), "%s/vfio/vfio", dev);
    snprintf(link, sizeof(link), "%s/module/vfio", sysfs);
    if (access(path, F_OK) == 0)
        dmacoh__err("vfio %s: no IOMMU group: enable VT-d/AMD-Vi in firmware; on "
                    "Intel add intel_iommu=on to the kernel command line; in a VM give it a "
                    "virtual IOMMU, or, knowing it is unsafe, set %s to 1, bind "
                    "the device to vfio-pci and open with allow_noiommu",
                    v->bdf, path);
    else if (access(link, F_OK) != 0 && access(node, F_OK) != 0)
        dmacoh__err("vfio %s: no IOMMU group: enable VT-d/AMD-Vi in firmware; on "
                    "Intel add intel_iommu=on to the kernel command line; in a VM give it a "
                    "virtual IOMMU; the vfio module is not loaded (modprobe "
                    "vfio-pci), so whether this kernel has a no-IOMMU mode is unknown",
                    v->bdf);
    else
        dmacoh__err("vfio %s: no IOMMU group: enable VT-d/AMD-Vi in firmware; on "
                    "Intel add intel_iommu=on to the kernel command line; in a VM give it a "
                    "virtual IOMMU; this kernel's vfio has no no-IOMMU mode "
                    "(built without CONFIG_VFIO_NOIOMMU, as Debian's kernels are)",
                    v->bdf);
    return DMACOH_ENOTSUP;
}

static int open_container(struct dmacoh_vfio *v, const char *dev)
{
    char path[PATH_MAX];
    int api;

    snprintf(path, sizeof(path), "%s/vfio/vfio", dev);
    v->container = v->sys.open(v->sys.ctx, path, O_RDWR | O_CLOEXEC);
    if (v->container < 0) {
        int e = errno;

        if (e == ENOENT) {
            dmacoh__err("vfio: no %s: the vfio modules are not loaded (modprobe vfio-pci)", path);
            return DMACOH_ENODEV;
        }
        dmacoh__err("vfio: cannot open %s: %s", path,
                    access_code(e) == DMACOH_EACCES ? "permission denied (needs root)"
                                                    : strerror(e));
        return access_code(e);
    }
    api = xioctl(v, v->container, VFIO_GET_API_VERSION, NULL);
    if (api < 0) {
        dmacoh__err("vfio: %s is not a VFIO container (the vfio character device): "
                    "VFIO_GET_API_VERSION fails with %s",
                    path, strerror(errno));
        return DMACOH_ENODEV;
    }
    if (api != VFIO_API_VERSION) {
        dmacoh__err("vfio: the kernel speaks VFIO API %d, not %d", api, VFIO_API_VERSION);
        return DMACOH_ENOTSUP;
    }
    return 0;
}

/* Refuses a device another driver holds, naming it and the way to bind vfio-pci. The driver
 * must be vfio-pci itself (the basename of the `driver` link), not any name containing
 * "vfio": that is the driver whose group hands out the device and whose regions are laid out
 * as this file expects. */
static int check_driver(const struct dmacoh_vfio *v)
{
    char link[PATH_MAX + 16], name[NAME_MAX + 1];
    int r;

    snprintf(link, sizeof(link), "%s/driver", v->dir);
    r = dmacoh__linux_link_name(link, name, sizeof(name));
    if (r == DMACOH_ENOENT) {
        dmacoh__err("vfio %s: no driver is bound; bind vfio-pci (echo vfio-pci > "
                    "%s/driver_override; echo %s > /sys/bus/pci/drivers_probe)",
                    v->bdf, v->dir, v->bdf);
        return DMACOH_ENXIO;
    }
    if (r) {
        dmacoh__err("vfio %s: cannot read %s: %s", v->bdf, link, dmacoh_strerror(r));
        return DMACOH_ENXIO;
    }
    if (strcmp(name, VFIO_PCI_DRIVER) != 0) {
        dmacoh__err("vfio %s: bound to driver '%s', not vfio-pci: unbind it (echo %s > "
                    "%s/driver/unbind) and bind vfio-pci (driver_override)",
                    v->bdf, name, v->bdf, v->dir);
        return DMACOH_ENXIO;
    }
    return 0;
}

static int open_group(struct dmacoh_vfio *v, const char *dev, bool allow_noiommu)
{
    char path[PATH_MAX + 96], num[64];
    int e;

    snprintf(num, sizeof(num), "%.63s", v->group);
    snprintf(path, sizeof(path), "%s/vfio/%s", dev, num);
    if (access(path, F_OK) != 0) {
        snprintf(v->group, sizeof(v->group), "noiommu-%s", num);
        snprintf(path, sizeof(path), "%s/vfio/%s", dev, v->group);
        if (access(path, F_OK) != 0) {
            dmacoh__err("vfio %s: no %s/vfio/%s: the device is not bound to vfio-pci", v->bdf, dev,
                        num);
            return DMACOH_ENXIO;
        }
        if (!allow_noiommu) {
            dmacoh__err("vfio %s: only a no-IOMMU group (%s) exists: the device could reach "
                        "all memory; open with allow_noiommu to accept that",
                        v->bdf, path);
            return DMACOH_ENOTSUP;
        }
        v->noiommu = true;
    }
    v->groupfd = v->sys.open(v->sys.ctx, path, O_RDWR | O_CLOEXEC);
    if (v->groupfd >= 0)
        return 0;
    e = errno;
    if (e == EBUSY) {
        dmacoh__err("vfio %s: %s is open in another process", v->bdf, path);
        return DMACOH_EBUSY;
    }
    dmacoh__err("vfio %s: cannot open %s: %s", v->bdf, path,
                access_code(e) != DMACOH_EACCES ? strerror(e)
                : v->noiommu ? "permission denied (no-IOMMU groups need CAP_SYS_RAWIO)"
                             : "permission denied (needs root, or ownership of the node)");
    return access_code(e);
}

/* Logs each device of the group that a host driver holds (what makes it not viable). */
static void explain_not_viable(const struct dmacoh_vfio *v, const char *sysfs)
{
    char dir[PATH_MAX], link[PATH_MAX + 300], name[64];
    struct dirent *d;
    DIR *dp;

    snprintf(dir, sizeof(dir), "%s/kernel/iommu_groups/%s/devices", sysfs, v->group);
    dp = opendir(dir);
    if (!dp)
        return;
    while ((d = readdir(dp)) != NULL) {
        if (d->d_name[0] == '.')
            continue;
        snprintf(link, sizeof(link), "%s/%s/driver", dir, d->d_name);
        if (dmacoh__linux_link_name(link, name, sizeof(name)) == 0 &&
            !strstr(name, VFIO_DRIVER_NAME) && strcmp(name, "pcieport") != 0)
            dmacoh__err("vfio: %s in group %s is bound to host driver '%s': unbind it or bind "
                        "it to vfio-pci too",
                        d->d_name, v->group, name);
    }
    closedir(dp);
}

static int check_viable(struct dmacoh_vfio *v, const char *sysfs)
{
    struct vfio_group_status st = {.argsz = sizeof(st)};

    if (xioctl(v, v->groupfd, VFIO_GROUP_GET_STATUS, &st) < 0) {
        dmacoh__err("vfio %s: VFIO_GROUP_GET_STATUS: %s", v->bdf, strerror(errno));
        return DMACOH_EIO;
    }
    if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
        dmacoh__err("vfio %s: IOMMU group %s is not viable: every device in %s/kernel/"
                    "iommu_groups/%s/devices must be bound to vfio-pci or have no driver",
                    v->bdf, v->group, sysfs, v->group);
        explain_not_viable(v, sysfs);
        return DMACOH_EBUSY;
    }
    return 0;
}

/* Attaches the group and picks the IOMMU: no-IOMMU, else type1 v2, else type1. */
static int set_iommu(struct dmacoh_vfio *v)
{
    static const int prefs[] = {VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU};
    int type = -1;

    if (v->noiommu) {
        if (xioctl(v, v->container, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_NOIOMMU_IOMMU) >
            0)
            type = VFIO_NOIOMMU_IOMMU;
    } else {
        for (unsigned i = 0; i < 2 && type < 0; i++)
            if (xioctl(v, v->container, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)prefs[i]) > 0)
                type = prefs[i];
    }
    if (type < 0) {
        dmacoh__err("vfio %s: the container offers no %s IOMMU", v->bdf,
                    v->noiommu ? "no-IOMMU" : "type1");
        return DMACOH_ENOTSUP;
    }
    if (xioctl(v, v->groupfd, VFIO_GROUP_SET_CONTAINER, &v->container) < 0) {
        dmacoh__err("vfio %s: VFIO_GROUP_SET_CONTAINER: %s", v->bdf, strerror(errno));
        return DMACOH_EIO;
    }
    v->attached = true;
    if (xioctl(v, v->container, VFIO_SET_IOMMU, (void *)(uintptr_t)type) < 0) {
        int e = errno;

        if (e == EPERM)
            dmacoh__err("vfio %s: VFIO_SET_IOMMU refused (EPERM): on x86 the usual cause is no "
                        "interrupt remapping; vfio_iommu_type1.allow_unsafe_interrupts=1 lifts "
                        "that (knowingly)",
                        v->bdf);
        else
            dmacoh__err("vfio %s: VFIO_SET_IOMMU: %s", v->bdf, strerror(e));
        return e == EPERM ? DMACOH_EPERM : DMACOH_EIO;
    }
    return 0;
}

static int get_device(struct dmacoh_vfio *v)
{
    v->device = xioctl(v, v->groupfd, VFIO_GROUP_GET_DEVICE_FD, v->bdf);
    if (v->device >= 0)
        return 0;
    dmacoh__err("vfio %s: group %s does not hand out the device (%s): is it bound to vfio-pci?",
                v->bdf, v->group, strerror(errno));
    return DMACOH_ENXIO;
}

/* Copies the usable ranges of an IOVA-range capability at info + off (len bytes in all);
 * stops at the first entry that does not lie wholly inside, and skips inverted ones. The
 * ranges are replaced only when at least one usable range was read: a capability cut off
 * before its first entry, or listing only inverted ones, leaves the default (everything, as
 * on a kernel without the capability), with a warning, rather than no IOVA at all. */
static void copy_ranges(struct dmacoh_vfio *v, const char *info, size_t len, size_t off)
{
    struct dmacoh__iova_range got[DMACOH__IOVA_MAX_RANGES];
    struct vfio_iommu_type1_info_cap_iova_range c;
    unsigned n = 0;

    memcpy(&c, info + off, sizeof(c));
    for (uint32_t i = 0; i < c.nr_iovas && n < DMACOH__IOVA_MAX_RANGES; i++) {
        struct vfio_iova_range r;
        size_t at = off + sizeof(c) + (size_t)i * sizeof(r);

        if (at > len || len - at < sizeof(r)) {
            dmacoh__warn("vfio %s: the IOVA-range capability lists %u ranges but only %u fit "
                         "in the reply; using those",
                         v->bdf, c.nr_iovas, i);
            break;
        }
        memcpy(&r, info + at, sizeof(r));
        if (r.start <= r.end)
            got[n++] = (struct dmacoh__iova_range){r.start, r.end};
    }
    if (n == 0) {
        dmacoh__warn("vfio %s: the IOVA-range capability gives no usable range; taking every "
                     "IOVA as usable",
                     v->bdf);
        return;
    }
    memcpy(v->iova.range, got, n * sizeof(got[0]));
    v->iova.nranges = n;
}

/*
 * Finds the IOVA-range capability in the chain of `info`, of which len bytes were allocated
 * and are the only ones read: a link outside them, into the fixed header, or a chain longer
 * than 64 ends the walk with a warning (the ranges then stay the default: all of them, as on
 * a kernel without the capability).
 */
static void read_ranges(struct dmacoh_vfio *v, const char *info, size_t len, uint32_t off)
{
    for (unsigned hops = 0; off; hops++) {
        struct vfio_info_cap_header h;

        if (hops == 64 || off < sizeof(struct vfio_iommu_type1_info) || off > len ||
            len - off < sizeof(h)) {
            dmacoh__warn("vfio %s: VFIO_IOMMU_GET_INFO capability chain %s at offset %u of a "
                         "%zu-byte reply; IOVA ranges not read",
                         v->bdf, hops == 64 ? "loops" : "leaves the reply", off, len);
            return;
        }
        memcpy(&h, info + off, sizeof(h));
        if (h.id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
            if (len - off < sizeof(struct vfio_iommu_type1_info_cap_iova_range)) {
                dmacoh__warn("vfio %s: the IOVA-range capability at offset %u is cut off by the "
                             "end of the %zu-byte reply; IOVA ranges not read",
                             v->bdf, off, len);
                return;
            }
            copy_ranges(v, info, len, off);
            return;
        }
        off = h.next;
    }
}

/*
 * IOMMU page size and usable IOVA ranges (one range, everything, when the kernel is silent).
 * The first call learns the size the capabilities need (argsz), the second fills a buffer of
 * that size; only that buffer is walked, whatever argsz the second reply states.
 */
static int read_iommu_info(struct dmacoh_vfio *v)
{
    struct vfio_iommu_type1_info head = {.argsz = sizeof(head)};
    size_t len;
    char *buf;

    v->iommu_page = page_size();
    v->iova.nranges = 1;
    v->iova.range[0] = (struct dmacoh__iova_range){0, UINT64_MAX};
    if (xioctl(v, v->container, VFIO_IOMMU_GET_INFO, &head) < 0) {
        dmacoh__err("vfio %s: VFIO_IOMMU_GET_INFO: %s", v->bdf, strerror(errno));
        return DMACOH_EIO;
    }
    if ((head.flags & VFIO_IOMMU_INFO_PGSIZES) && head.iova_pgsizes)
        v->iommu_page = head.iova_pgsizes & (~head.iova_pgsizes + 1);
    if (!(head.flags & VFIO_IOMMU_INFO_CAPS) || head.argsz <= sizeof(head) || head.argsz > 65536)
        return 0;
    len = head.argsz;
    buf = calloc(1, len);
    if (!buf)
        return DMACOH_ENOMEM;
    memcpy(buf, &head, sizeof(head));
    if (xioctl(v, v->container, VFIO_IOMMU_GET_INFO, buf) == 0) {
        memcpy(&head, buf, sizeof(head));
        if (head.argsz > len)
            dmacoh__warn("vfio %s: VFIO_IOMMU_GET_INFO asked for %u bytes after %zu; only the "
                         "%zu allocated are read",
                         v->bdf, head.argsz, len, len);
        if (head.flags & VFIO_IOMMU_INFO_CAPS)
            read_ranges(v, buf, len, head.cap_offset);
    }
    free(buf);
    return 0;
}

/* ---- declared memory in BARs ----------------------------------------------------------- */

static int region_info(const struct dmacoh_vfio *v, unsigned index, struct vfio_region_info *ri)
{
    memset(ri, 0, sizeof(*ri));
    ri->argsz = sizeof(*ri);
    ri->index = index;
    if (xioctl(v, v->device, VFIO_DEVICE_GET_REGION_INFO, ri) < 0)
        return errno == EINVAL ? DMACOH_ENOENT : DMACOH_EIO;
    return 0;
}

/*
 * In an attached instance, a declared region's device range must not name memory the primary
 * may have handed out as fallback IOVAs, which this process cannot see: it must lie inside the
 * device range of a region the primary had declared when it handed the descriptors over (the
 * same memory, at the same device addresses), or outside every range the primary picks
 * fallback IOVAs from. True (logged) when it does neither.
 */
static bool collides_with_primary(const struct dmacoh_vfio *v, uint64_t lo, uint64_t hi)
{
    const struct peer_iovas *p = &v->peer;
    unsigned i;

    if (!v->secondary)
        return false;
    for (i = 0; i < p->nheld; i++)
        if (p->held[i].lo <= lo && hi <= p->held[i].hi)
            return false;
    for (i = 0; i < p->nranges; i++)
        if (p->range[i].lo <= hi && lo <= p->range[i].hi)
            break;
    if (i == p->nranges)
        return false;
    dmacoh__err("vfio %s: device addresses %#llx..%#llx lie in the primary's fallback IOVAs "
                "(%#llx..%#llx) and in none of the regions it had declared when it handed the "
                "device over: a handle must name one memory only; declare the region in the "
                "primary first, or at device addresses outside its IOVA range",
                v->bdf, (unsigned long long)lo, (unsigned long long)hi,
                (unsigned long long)p->range[i].lo, (unsigned long long)p->range[i].hi);
    return true;
}

/*
 * Takes a declared region's device addresses [device_addr, device_addr + size) out of the IOVA
 * space, so no fallback block is ever handed out there: every device of the platform shares
 * the container's IOVAs, and one handle must not name both region memory and system memory
 * (dmacoh_dma_to_virt could not tell them apart, and the device would reach only one). Refused
 * with -DMACOH_EBUSY while live fallback memory has IOVAs in the range, and in an attached
 * instance when the range could name the primary's fallback memory.
 */
static int hold_device_range(struct dmacoh_vfio *v, dmacoh_dma_addr_t device_addr, uint64_t size,
                             const void *key)
{
    uint64_t last = device_addr + (size - 1); /* the core passes ranges that do not wrap */
    struct dmacoh__iova_blk b = {0};
    int r;

    if (collides_with_primary(v, device_addr, last))
        return DMACOH_EBUSY;
    pthread_mutex_lock(&v->lock);
    r = dmacoh__iova_hold(&v->iova, device_addr, last, key);
    if (r == DMACOH_EBUSY)
        b = v->iova.blk[dmacoh__iova_live_in(&v->iova, device_addr, last)];
    pthread_mutex_unlock(&v->lock);
    if (r == DMACOH_EBUSY)
        dmacoh__err("vfio %s: device addresses %#llx+%#llx are in use as IOVAs: fallback "
                    "memory at IOVA %#llx+%#llx (CPU %p) is live there, and a handle must name "
                    "one memory only: free it first, or declare at other device addresses",
                    v->bdf, (unsigned long long)device_addr, (unsigned long long)size,
                    (unsigned long long)b.iova, (unsigned long long)b.len, (void *)b.cpu);
    return r;
}

static int vfio_map(void *ctx, dmacoh_phys_addr_t bus, uint64_t size, dmacoh_dma_addr_t device_addr,
                    uint64_t congruence, int want, struct dmacoh_mapping *out)
{
    struct dmacoh_vfio *v = (struct dmacoh_vfio *)ctx;
    uint64_t page = page_size(), in_bar, len;
    struct vfio_region_info ri;
    int n = dmacoh__pci_bar_for(v->bar, bus, size), r;
    char who[32];
    struct dmacoh__phys_claim claim = {bus, size, v, "vfio", who, want};

    if (n < 0) {
        dmacoh__err("vfio %s: bus %#llx+%#llx is not inside one memory BAR", v->bdf,
                    (unsigned long long)bus, (unsigned long long)size);
        return DMACOH_ENXIO;
    }
    in_bar = bus - v->bar[n].start;
    r = region_info(v, (unsigned)n, &ri);
    if (r || ri.size < in_bar + size) {
        dmacoh__err("vfio %s: BAR %d: region info %s", v->bdf, n,
                    r ? "unavailable" : "smaller than the BAR in sysfs");
        return r ? r : DMACOH_ENXIO;
    }
    if (!(ri.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
        dmacoh__err(
            "vfio %s: BAR %d cannot be mmapped through VFIO (no VFIO_REGION_INFO_FLAG_MMAP; "
            "sparse mmap areas are not used)",
            v->bdf, n);
        return DMACOH_ENXIO;
    }
    out->mode = dmacoh__linux_device_mode(want);
    if (!out->mode)
        return DMACOH_ENOTSUP;
    len = ((in_bar & (page - 1)) + size + page - 1) & ~(page - 1);
    snprintf(who, sizeof(who), "%s BAR %d", v->bdf, n);
    r = dmacoh__linux_phys_claim(&claim); /* one owner per physical range, process-wide */
    if (r)
        return r;
    r = dmacoh__linux_map_claimed(v->device, ri.offset + (in_bar & ~(page - 1)), len,
                                  in_bar & (page - 1), device_addr, congruence, bus, size, out);
    if (r) {
        dmacoh__err("vfio %s: mmap of BAR %d failed: %s", v->bdf, n, dmacoh_strerror(r));
        return r;
    }
    out->shared = false;
    out->io_width = 0;
    r = hold_device_range(v, device_addr, size, out->cpu);
    if (r)
        dmacoh__linux_unmap(v, out, size);
    return r;
}

static void vfio_unmap(void *ctx, struct dmacoh_mapping *m, uint64_t size)
{
    struct dmacoh_vfio *v = (struct dmacoh_vfio *)ctx;

    pthread_mutex_lock(&v->lock);
    (void)dmacoh__iova_unhold(&v->iova, m->cpu);
    pthread_mutex_unlock(&v->lock);
    dmacoh__linux_unmap(v, m, size);
}

/* ---- fallback memory: IOVAs ------------------------------------------------------------ */

static int dma_map(const struct dmacoh_vfio *v, const struct dmacoh__iova_blk *b)
{
    struct vfio_iommu_type1_dma_map m = {
        .argsz = sizeof(m),
        .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
        .vaddr = (uint64_t)(uintptr_t)b->cpu,
        .iova = b->iova,
        .size = b->len,
    };
    int e;

    if (xioctl(v, v->container, VFIO_IOMMU_MAP_DMA, &m) == 0)
        return 0;
    e = errno;
    if (e == ENOMEM || e == EPERM)
        dmacoh__err("vfio %s: VFIO_IOMMU_MAP_DMA of %llu bytes refused (%s): pinned memory is "
                    "limited by RLIMIT_MEMLOCK (ulimit -l)",
                    v->bdf, (unsigned long long)b->len, strerror(e));
    else
        dmacoh__err("vfio %s: VFIO_IOMMU_MAP_DMA at IOVA %#llx: %s", v->bdf,
                    (unsigned long long)b->iova, strerror(e));
    return e == ENOMEM || e == EPERM ? DMACOH_ENOMEM : -e;
}

static int dma_unmap(const struct dmacoh_vfio *v, const struct dmacoh__iova_blk *b)
{
    struct vfio_iommu_type1_dma_unmap u = {.argsz = sizeof(u), .iova = b->iova, .size = b->len};

    if (xioctl(v, v->container, VFIO_IOMMU_UNMAP_DMA, &u) == 0 && u.size == b->len)
        return 0;
    dmacoh__err("vfio %s: VFIO_IOMMU_UNMAP_DMA at IOVA %#llx failed: the memory is kept "
                "(the device may still reach it)",
                v->bdf, (unsigned long long)b->iova);
    return DMACOH_EIO;
}

/* An attached instance has no fallback memory: the container's IOVAs are the primary's to
 * hand out, and a second picker there could map over them. Said once per instance. */
static int no_fallback_here(struct dmacoh_vfio *v)
{
    bool tell;

    pthread_mutex_lock(&v->lock);
    tell = !v->told_no_fallback;
    v->told_no_fallback = true;
    pthread_mutex_unlock(&v->lock);
    if (tell)
        dmacoh__err("vfio %s: attached from handed-over descriptors: no system memory for DMA "
                    "here (the IOVAs are the primary's); allocate it in the primary and pass "
                    "its IOVA, or use a declared region",
                    v->bdf);
    return DMACOH_ENOTSUP;
}

static int vfio_sys_alloc(void *ctx, const struct dmacoh_device *dev, uint64_t size, uint64_t align,
                          void **cpu, dmacoh_dma_addr_t *handle)
{
    struct dmacoh_vfio *v = (struct dmacoh_vfio *)ctx;
    uint64_t page = page_size();
    struct dmacoh__iova_blk b = {.size = size};
    int r = 0;

    if (v->noiommu) {
        dmacoh__err("vfio %s: no-IOMMU mode has no IOVAs: no system memory for DMA", v->bdf);
        return DMACOH_ENOTSUP;
    }
    if (v->secondary)
        return no_fallback_here(v);
    if (size > UINT64_MAX - page)
        return DMACOH_ENOMEM;
    b.len = (size + page - 1) & ~(page - 1);
    if (align < v->iommu_page)
        align = v->iommu_page;
    if (align < page)
        align = page;
    b.cpu = dmacoh__linux_alloc_anon(b.len, align, v->hugetlb, &r);
    if (!b.cpu)
        return r;
    pthread_mutex_lock(&v->lock);
    r = dmacoh__iova_pick(&v->iova, b.len, align, dmacoh_device_dma_mask(dev), &b.iova);
    if (!r)
        r = dma_map(v, &b);
    if (!r) {
        r = dmacoh__iova_insert(&v->iova, &b);
        if (r)
            (void)dma_unmap(v, &b);
    }
    pthread_mutex_unlock(&v->lock);
    if (r) {
        munmap(b.cpu, (size_t)b.len);
        return r;
    }
    *cpu = b.cpu;
    *handle = b.iova;
    return 0;
}

static int vfio_sys_free(void *ctx, const struct dmacoh_device *dev, void *cpu, uint64_t size,
                         dmacoh_dma_addr_t handle)
{
    struct dmacoh_vfio *v = (struct dmacoh_vfio *)ctx;
    struct dmacoh__iova_blk b = {0};
    size_t i;
    int r = 0;

    (void)dev;
    pthread_mutex_lock(&v->lock);
    i = dmacoh__iova_find(&v->iova, cpu);
    if (i == v->iova.nblk)
        r = DMACOH_EFAULT;
    else if (v->iova.blk[i].size != size || v->iova.blk[i].iova != handle)
        r = DMACOH_EINVAL;
    else
        r = dma_unmap(v, &v->iova.blk[i]);
    if (!r) {
        b = v->iova.blk[i];
        dmacoh__iova_remove(&v->iova, i);
    }
    pthread_mutex_unlock(&v->lock);
    if (r == DMACOH_EFAULT || r == DMACOH_EINVAL)
        dmacoh__err("vfio %s: free of %p (%llu bytes, IOVA %#llx): %s", v->bdf, cpu,
                    (unsigned long long)size, (unsigned long long)handle,
                    r == DMACOH_EFAULT ? "not a live fallback allocation"
                                       : "size or handle do not match the allocation");
    if (!r)
        munmap(b.cpu, (size_t)b.len);
    return r;
}

static dmacoh_dma_addr_t vfio_virt_to_dma(void *ctx, const struct dmacoh_device *dev,
                                          const void *cpu)
{
    struct dmacoh_vfio *v = (struct dmacoh_vfio *)ctx;
    dmacoh_dma_addr_t r;

    (void)dev;
    pthread_mutex_lock(&v->lock);
    r = dmacoh__iova_virt_to_dma(&v->iova, cpu);
    pthread_mutex_unlock(&v->lock);
    return r;
}

static void *vfio_dma_to_virt(void *ctx, const struct dmacoh_device *dev, dmacoh_dma_addr_t dma)
{
    struct dmacoh_vfio *v = (struct dmacoh_vfio *)ctx;
    void *r;

    (void)dev;
    pthread_mutex_lock(&v->lock);
    r = dmacoh__iova_dma_to_virt(&v->iova, dma);
    pthread_mutex_unlock(&v->lock);
    return r;
}

static const struct dmacoh_platform_ops vfio_ops = {
    .name = "vfio",
    .map = vfio_map,
    .unmap = vfio_unmap,
    .sys_alloc = vfio_sys_alloc,
    .sys_free = vfio_sys_free,
    .sys_virt_to_dma = vfio_virt_to_dma,
    .sys_dma_to_virt = vfio_dma_to_virt,
    DMACOH__LINUX_SERVICE_OPS,
};

/* ---- open and close -------------------------------------------------------------------- */

/* Undoes whatever open got to: fallback memory, then device, group, container. */
static void teardown(struct dmacoh_vfio *v)
{
    while (v->iova.nblk) {
        struct dmacoh__iova_blk *b = &v->iova.blk[v->iova.nblk - 1];

        if (dma_unmap(v, b) == 0) /* else leak it: the device may still reach it */
            munmap(b->cpu, (size_t)b->len);
        v->iova.nblk--;
    }
    dmacoh__iova_fini(&v->iova);
    if (v->device >= 0)
        v->sys.close(v->sys.ctx, v->device);
    if (v->attached)
        (void)xioctl(v, v->groupfd, VFIO_GROUP_UNSET_CONTAINER, NULL);
    if (v->groupfd >= 0)
        v->sys.close(v->sys.ctx, v->groupfd);
    if (v->container >= 0)
        v->sys.close(v->sys.ctx, v->container);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

static int open_steps(struct dmacoh_vfio *v, const struct dmacoh_vfio_opts *o, const char *sysfs,
                      const char *dev)
{
    int r;

    if (access(v->dir, F_OK) != 0) {
        dmacoh__err("vfio open: no PCI device %s under %s/bus/pci/devices", v->bdf, sysfs);
        return DMACOH_ENOENT;
    }
    r = dmacoh__pci_read_bars(v->dir, "vfio", v->bar);
    if (!r)
        r = find_group(v, sysfs, dev);
    if (!r)
        r = open_container(v, dev);
    if (!r)
        r = check_driver(v);
    if (!r)
        r = open_group(v, dev, o && o->allow_noiommu);
    if (!r)
        r = check_viable(v, sysfs);
    if (!r)
        r = set_iommu(v);
    if (!r)
        r = get_device(v);
    if (!r && !v->noiommu)
        r = read_iommu_info(v);
    if (!r)
        dmacoh__iova_clip(&v->iova, (o && o->iova_base) ? o->iova_base : DEFAULT_IOVA_LO,
                          (o && o->iova_limit) ? o->iova_limit : UINT64_MAX);
    return r;
}

int dmacoh__vfio_open_sys(const char *bdf, const struct dmacoh_vfio_opts *opts,
                          const struct dmacoh__vfio_sys *sys, struct dmacoh_vfio **out)
{
    const char *sysfs = (opts && opts->sysfs_root) ? opts->sysfs_root : "/sys";
    const char *dev = (opts && opts->dev_root) ? opts->dev_root : "/dev";
    struct dmacoh_vfio *v;
    int r;

    if (!out) {
        dmacoh__err("vfio open '%s': out is NULL", bdf ? bdf : "(null)");
        return DMACOH_EINVAL;
    }
    if (!dmacoh__pci_bdf_ok(bdf)) {
        dmacoh__err("vfio open: '%s' is not a PCI address like 0000:03:00.0", bdf ? bdf : "(null)");
        return DMACOH_EINVAL;
    }
    if (opts && opts->iova_limit && opts->iova_base > opts->iova_limit) {
        dmacoh__err("vfio open %s: IOVA base %#llx is above the IOVA limit %#llx", bdf,
                    (unsigned long long)opts->iova_base, (unsigned long long)opts->iova_limit);
        return DMACOH_EINVAL;
    }
    v = calloc(1, sizeof(*v));
    if (!v)
        return DMACOH_ENOMEM;
    v->container = v->groupfd = v->device = -1;
    v->sys = sys ? *sys : real_sys;
    v->hugetlb = opts && opts->hugetlb;
    snprintf(v->bdf, sizeof(v->bdf), "%s", bdf);
    pthread_mutex_init(&v->lock, NULL);
    if ((size_t)snprintf(v->dir, sizeof(v->dir), "%s/bus/pci/devices/%s", sysfs, bdf) >=
        sizeof(v->dir))
        r = DMACOH_EINVAL;
    else
        r = open_steps(v, opts, sysfs, dev);
    if (!r)
        r = dmacoh_platform_init(&v->plat, &vfio_ops, v);
    if (r) {
        teardown(v);
        return r;
    }
    *out = v;
    return 0;
}

int dmacoh_vfio_open(const char *bdf, const struct dmacoh_vfio_opts *opts, struct dmacoh_vfio **out)
{
    return dmacoh__vfio_open_sys(bdf, opts, NULL, out);
}

int dmacoh_vfio_close(struct dmacoh_vfio *v)
{
    int r;

    if (!v)
        return 0;
    r = dmacoh_platform_fini(&v->plat);
    if (r)
        return r;
    teardown(v);
    return 0;
}

struct dmacoh_platform *dmacoh_vfio_platform(struct dmacoh_vfio *v)
{
    return v ? &v->plat : NULL;
}

int dmacoh_vfio_bar(const struct dmacoh_vfio *v, unsigned n, dmacoh_phys_addr_t *bus,
                    uint64_t *size, int *kind)
{
    return v ? dmacoh__pci_bar_get(v->bar, n, bus, size, kind) : DMACOH_EINVAL;
}

int dmacoh_vfio_region(const struct dmacoh_vfio *v, unsigned index, uint64_t *offset,
                       uint64_t *size, uint32_t *flags)
{
    struct vfio_region_info ri;
    int r;

    if (!v)
        return DMACOH_EINVAL;
    r = region_info(v, index, &ri);
    if (r)
        return r;
    if (offset)
        *offset = ri.offset;
    if (size)
        *size = ri.size;
    if (flags)
        *flags = ri.flags;
    return 0;
}

int dmacoh_vfio_set_bus_master(struct dmacoh_vfio *v, bool enable)
{
    uint8_t cmd[2]; /* config space is little-endian */
    uint64_t off;
    int r;

    if (!v)
        return DMACOH_EINVAL;
    r = dmacoh_vfio_region(v, CONFIG_REGION, &off, NULL, NULL);
    if (r || pread(v->device, cmd, sizeof(cmd), (off_t)(off + PCI_COMMAND)) != sizeof(cmd)) {
        dmacoh__err("vfio %s: cannot read the PCI command register", v->bdf);
        return DMACOH_EIO;
    }
    cmd[0] = (uint8_t)(enable ? (cmd[0] | PCI_COMMAND_BM) : (cmd[0] & ~PCI_COMMAND_BM));
    if (pwrite(v->device, cmd, sizeof(cmd), (off_t)(off + PCI_COMMAND)) != sizeof(cmd)) {
        dmacoh__err("vfio %s: cannot write the PCI command register", v->bdf);
        return DMACOH_EIO;
    }
    return 0;
}

int dmacoh_vfio_device_fd(const struct dmacoh_vfio *v)
{
    return v ? v->device : -1;
}

bool dmacoh_vfio_is_noiommu(const struct dmacoh_vfio *v)
{
    return v && v->noiommu;
}

/* ---- handing the descriptors to another process ---------------------------------------- */

#define HAND_MAGIC   0x56434d44u /* "DMCV" in memory order on little-endian machines */
#define HAND_VERSION 1u
#define HAND_NOIOMMU 0x1u /* flags: the device was opened in no-IOMMU mode */
#define HAND_NFDS    2    /* the container, then the device */
#define HAND_FDS_MAX 8    /* room to see (and close) descriptors beyond the two */

/*
 * The hand-over message. Fixed-width fields, every 64-bit one at a multiple of 8, so a 32-bit
 * and a 64-bit process lay it out alike; the machine's byte order (both ends share a
 * machine). Ranges are inclusive [lo, hi].
 */
struct hand {
    uint32_t magic;
    uint16_t version, flags;
    char bdf[16]; /* "DDDD:BB:DD.F", NUL-terminated */
    uint32_t nranges, nheld;
    uint64_t range[HAND_MAX][2]; /* where the primary picks fallback IOVAs */
    uint64_t held[HAND_MAX][2];  /* device ranges of the regions declared on it */
};
_Static_assert(sizeof(struct hand) == 32 + 2 * HAND_MAX * 16, "one layout for 32 and 64 bits");

/* Adds [lo, hi] to the message's held ranges unless it is there already: false when full. */
static bool add_held(struct hand *h, uint64_t lo, uint64_t hi)
{
    for (uint32_t i = 0; i < h->nheld; i++)
        if (h->held[i][0] == lo && h->held[i][1] == hi)
            return true;
    if (h->nheld == HAND_MAX)
        return false;
    h->held[h->nheld][0] = lo;
    h->held[h->nheld][1] = hi;
    h->nheld++;
    return true;
}

/*
 * The primary's side: its IOVA ranges and the distinct device ranges held in its IOVA space.
 * Each of those is then held once more, keyed by the instance itself, until close: the other
 * process may declare there from now on (the same memory, released here and declared there),
 * so no fallback block of this process may ever take those IOVAs, even after the region that
 * held them here is released. Called with the lock held.
 */
static int primary_ranges(struct dmacoh_vfio *v, struct hand *h)
{
    size_t n = v->iova.nheld;

    h->nranges = v->iova.nranges;
    for (unsigned i = 0; i < v->iova.nranges; i++) {
        h->range[i][0] = v->iova.range[i].lo;
        h->range[i][1] = v->iova.range[i].hi;
    }
    for (size_t i = 0; i < n; i++)
        if (!add_held(h, v->iova.held[i].lo, v->iova.held[i].hi))
            return DMACOH_ERANGE;
    for (uint32_t i = 0; i < h->nheld; i++) {
        size_t k = 0;

        while (k < n && !(v->iova.held[k].key == v && v->iova.held[k].lo == h->held[i][0] &&
                          v->iova.held[k].hi == h->held[i][1]))
            k++;
        if (k == n && dmacoh__iova_hold(&v->iova, h->held[i][0], h->held[i][1], v) != 0)
            return DMACOH_ENOMEM;
    }
    return 0;
}

/* The header: the primary's ranges, or those an attached instance received from it. */
static int fill_hand(struct dmacoh_vfio *v, struct hand *h)
{
    int r = 0;

    memset(h, 0, sizeof(*h));
    h->magic = HAND_MAGIC;
    h->version = HAND_VERSION;
    h->flags = v->noiommu ? HAND_NOIOMMU : 0;
    snprintf(h->bdf, sizeof(h->bdf), "%s", v->bdf);
    if (v->secondary) { /* the peer's ranges never change after attach */
        h->nranges = v->peer.nranges;
        h->nheld = v->peer.nheld;
        for (unsigned i = 0; i < v->peer.nranges; i++) {
            h->range[i][0] = v->peer.range[i].lo;
            h->range[i][1] = v->peer.range[i].hi;
        }
        for (unsigned i = 0; i < v->peer.nheld; i++) {
            h->held[i][0] = v->peer.held[i].lo;
            h->held[i][1] = v->peer.held[i].hi;
        }
        return 0;
    }
    pthread_mutex_lock(&v->lock);
    r = primary_ranges(v, h);
    pthread_mutex_unlock(&v->lock);
    if (r == DMACOH_ERANGE)
        dmacoh__err("vfio %s: more than %d device ranges are declared; a hand-over carries at "
                    "most %d",
                    v->bdf, HAND_MAX, HAND_MAX);
    return r;
}

/* The whole message, the container and device descriptors with it. */
static int send_hand(const struct dmacoh_vfio *v, int sock, const struct hand *h)
{
    int fds[HAND_NFDS] = {v->container, v->device};
    int r = dmacoh__linux_send_fds(sock, h, sizeof(*h), fds, HAND_NFDS);

    if (r == 0)
        return 0;
    dmacoh__err("vfio %s: sending the descriptors on socket %d: %s", v->bdf, sock, strerror(-r));
    return (r == -ENOTSOCK || r == -EBADF || r == -EOPNOTSUPP) ? DMACOH_EINVAL : DMACOH_EIO;
}

int dmacoh_vfio_send_fds(struct dmacoh_vfio *v, int sock)
{
    struct hand h;
    int r;

    if (!v || sock < 0) {
        dmacoh__err("vfio send_fds: %s", v ? "no socket" : "v is NULL");
        return DMACOH_EINVAL;
    }
    r = fill_hand(v, &h);
    return r ? r : send_hand(v, sock, &h);
}

/* Receives one message: 0 with its descriptors in fds[] (HAND_NFDS of them), or an error
 * with every descriptor that came closed again. */
static int recv_hand(int sock, struct hand *h, int fds[HAND_NFDS])
{
    char buf[sizeof(struct hand) + 1];
    union {
        struct cmsghdr align;
        /* Room for a credential and a pidfd too (SO_PASSCRED, SO_PASSPIDFD on the socket),
         * so that the descriptors are not cut off behind them. */
        char buf[CMSG_SPACE(HAND_FDS_MAX * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred)) +
                 CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {buf, sizeof(buf)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    int type = 0, got[HAND_FDS_MAX];
    socklen_t tlen = sizeof(type);
    unsigned nfds;
    ssize_t n;

    if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0) {
        dmacoh__err("vfio attach_fds: descriptor %d is not a socket: %s", sock, strerror(errno));
        return DMACOH_EINVAL;
    }
    if (type == SOCK_STREAM) /* no message boundary: read exactly one message's bytes */
        iov.iov_len = sizeof(*h);
    do {
        memset(&ctl, 0, sizeof(ctl));
        m.msg_control = ctl.buf;
        m.msg_controllen = sizeof(ctl.buf);
        n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | (type == SOCK_STREAM ? MSG_WAITALL : 0));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        dmacoh__err("vfio attach_fds: receiving on socket %d: %s", sock, strerror(errno));
        return DMACOH_EIO;
    }
    if (n == 0 && !(m.msg_flags & MSG_CTRUNC) && CMSG_FIRSTHDR(&m) == NULL) {
        dmacoh__err("vfio attach_fds: the other end closed socket %d without a message", sock);
        return DMACOH_EIO;
    }
    nfds = dmacoh__linux_take_fds(&m, got, HAND_FDS_MAX);
    for (unsigned i = HAND_NFDS; i < nfds && i < HAND_FDS_MAX; i++)
        dmacoh__linux_close_received(got[i]);
    for (unsigned i = 0; i < HAND_NFDS; i++)
        fds[i] = (i < nfds && nfds == HAND_NFDS) ? got[i] : -1;
    if (nfds != HAND_NFDS || (m.msg_flags & MSG_CTRUNC)) {
        for (unsigned i = 0; i < nfds && i < HAND_NFDS; i++)
            dmacoh__linux_close_received(got[i]);
        dmacoh__err("vfio attach_fds: the message carries %u descriptors%s, not %d (the VFIO "
                    "container and device)",
                    nfds, (m.msg_flags & MSG_CTRUNC) ? " and more" : "", HAND_NFDS);
        return DMACOH_EINVAL;
    }
    if ((size_t)n != sizeof(*h) || (m.msg_flags & MSG_TRUNC)) {
        dmacoh__linux_close_received(fds[0]);
        dmacoh__linux_close_received(fds[1]);
        dmacoh__err("vfio attach_fds: the message is %s%zu bytes, a VFIO hand-over is %zu",
                    (m.msg_flags & MSG_TRUNC) ? "more than " : "", (size_t)n, sizeof(*h));
        return DMACOH_EINVAL;
    }
    memcpy(h, buf, sizeof(*h));
    return 0;
}

/* The fields of a received message: 0, or -DMACOH_EINVAL (logged). */
static int check_hand(const struct hand *h)
{
    const char *why = NULL;

    if (h->magic != HAND_MAGIC)
        why = "wrong magic: not a dmacoh VFIO hand-over";
    else if (h->version != HAND_VERSION)
        why = "another version of the hand-over (a different dmacoh on the other end?)";
    else if (h->flags & ~HAND_NOIOMMU)
        why = "unknown flags";
    else if (!memchr(h->bdf, '\0', sizeof(h->bdf)) || !dmacoh__pci_bdf_ok(h->bdf))
        why = "the PCI address is not one like 0000:03:00.0";
    else if (h->nranges > HAND_MAX || h->nheld > HAND_MAX)
        why = "more ranges than a hand-over carries";
    for (uint32_t i = 0; !why && i < h->nranges + h->nheld; i++) {
        const uint64_t *r = i < h->nranges ? h->range[i] : h->held[i - h->nranges];

        if (r[0] > r[1])
            why = "a range whose start lies above its end";
    }
    if (!why)
        return 0;
    if (h->magic == HAND_MAGIC && h->version != HAND_VERSION)
        dmacoh__err("vfio attach_fds: version %u, this library speaks %u: %s", h->version,
                    HAND_VERSION, why);
    else
        dmacoh__err("vfio attach_fds: bad message: %s", why);
    return DMACOH_EINVAL;
}

/* The first descriptor is a VFIO container with an IOMMU set (the primary's setup done), the
 * second a VFIO PCI device. */
static int check_fds(struct dmacoh_vfio *v)
{
    struct vfio_iommu_type1_info info = {.argsz = sizeof(info)};
    struct vfio_device_info di = {.argsz = sizeof(di)};
    int api = xioctl(v, v->container, VFIO_GET_API_VERSION, NULL);

    if (api < 0) {
        dmacoh__err("vfio attach_fds %s: the first descriptor is not a VFIO container: "
                    "VFIO_GET_API_VERSION fails with %s",
                    v->bdf, strerror(errno));
        return DMACOH_ENODEV;
    }
    if (api != VFIO_API_VERSION) {
        dmacoh__err("vfio attach_fds %s: the container speaks VFIO API %d, not %d", v->bdf, api,
                    VFIO_API_VERSION);
        return DMACOH_ENOTSUP;
    }
    if (!v->noiommu && xioctl(v, v->container, VFIO_IOMMU_GET_INFO, &info) < 0) {
        dmacoh__err("vfio attach_fds %s: the container has no IOMMU set (VFIO_IOMMU_GET_INFO: "
                    "%s): hand it over after dmacoh_vfio_open succeeded",
                    v->bdf, strerror(errno));
        return DMACOH_ENODEV;
    }
    if (xioctl(v, v->device, VFIO_DEVICE_GET_INFO, &di) < 0 ||
        !(di.flags & VFIO_DEVICE_FLAGS_PCI) || di.num_regions <= CONFIG_REGION) {
        dmacoh__err(
            "vfio attach_fds %s: the second descriptor is not a VFIO PCI device (%s)", v->bdf,
            (di.flags & VFIO_DEVICE_FLAGS_PCI) ? "too few regions" : "VFIO_DEVICE_GET_INFO");
        return DMACOH_ENODEV;
    }
    return 0;
}

static uint64_t le16(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8;
}

/* The device behind the descriptor is the one at v->bdf, as far as can be told: its vendor
 * and device IDs (config space) are those in sysfs, and each memory BAR's VFIO region has the
 * size sysfs gives the BAR. */
static int check_identity(struct dmacoh_vfio *v)
{
    char path[PATH_MAX + 16];
    uint64_t vendor = 0, device = 0, off = 0;
    uint8_t id[4];
    struct vfio_region_info ri;

    snprintf(path, sizeof(path), "%s/vendor", v->dir);
    if (dmacoh__linux_read_u64(path, &vendor) == 0)
        snprintf(path, sizeof(path), "%s/device", v->dir);
    if (dmacoh__linux_read_u64(path, vendor ? &device : &vendor) != 0) {
        dmacoh__err("vfio attach_fds %s: cannot read %s", v->bdf, path);
        return DMACOH_EIO;
    }
    if (dmacoh_vfio_region(v, CONFIG_REGION, &off, NULL, NULL) ||
        pread(v->device, id, sizeof(id), (off_t)off) != (ssize_t)sizeof(id)) {
        dmacoh__err("vfio attach_fds %s: cannot read the device's config space", v->bdf);
        return DMACOH_EIO;
    }
    if (le16(id) != vendor || le16(id + 2) != device) {
        dmacoh__err("vfio attach_fds: the device descriptor is %#x:%#x, but %s is "
                    "%#llx:%#llx in sysfs: the message names another device",
                    (unsigned)le16(id), (unsigned)le16(id + 2), v->bdf, (unsigned long long)vendor,
                    (unsigned long long)device);
        return DMACOH_ENXIO;
    }
    for (unsigned n = 0; n < DMACOH_PCI_NBARS; n++) {
        int k = v->bar[n].kind;

        if (k != DMACOH_PCI_BAR_MEM && k != DMACOH_PCI_BAR_MEM_PREF)
            continue;
        if (region_info(v, n, &ri) || ri.size != v->bar[n].size) {
            dmacoh__err("vfio attach_fds: BAR %u of the device descriptor is not the %#llx "
                        "bytes sysfs gives BAR %u of %s: the message names another device",
                        n, (unsigned long long)v->bar[n].size, n, v->bdf);
            return DMACOH_ENXIO;
        }
    }
    return 0;
}

static void take_peer(struct dmacoh_vfio *v, const struct hand *h)
{
    v->peer.nranges = h->nranges;
    v->peer.nheld = h->nheld;
    for (uint32_t i = 0; i < h->nranges; i++)
        v->peer.range[i] = (struct dmacoh__iova_range){h->range[i][0], h->range[i][1]};
    for (uint32_t i = 0; i < h->nheld; i++)
        v->peer.held[i] = (struct dmacoh__iova_range){h->held[i][0], h->held[i][1]};
}

static int attach_steps(struct dmacoh_vfio *v, const struct dmacoh_vfio_opts *o, const char *sysfs,
                        const struct hand *h)
{
    int r;

    if ((h->flags & HAND_NOIOMMU) && !(o && o->allow_noiommu)) {
        dmacoh__err("vfio attach_fds %s: the device is in no-IOMMU mode (it could reach all "
                    "memory); attach with allow_noiommu to accept that",
                    v->bdf);
        return DMACOH_ENOTSUP;
    }
    if ((size_t)snprintf(v->dir, sizeof(v->dir), "%s/bus/pci/devices/%s", sysfs, v->bdf) >=
        sizeof(v->dir))
        return DMACOH_EINVAL;
    if (access(v->dir, F_OK) != 0) {
        dmacoh__err("vfio attach_fds: no PCI device %s under %s/bus/pci/devices", v->bdf, sysfs);
        return DMACOH_ENOENT;
    }
    r = check_fds(v);
    if (!r)
        r = dmacoh__pci_read_bars(v->dir, "vfio", v->bar);
    if (!r)
        r = check_driver(v);
    if (!r)
        r = check_identity(v);
    return r;
}

int dmacoh__vfio_attach_sys(int sock, const struct dmacoh_vfio_opts *opts,
                            const struct dmacoh__vfio_sys *sys, struct dmacoh_vfio **out)
{
    const char *sysfs = (opts && opts->sysfs_root) ? opts->sysfs_root : "/sys";
    int fds[HAND_NFDS], r;
    struct dmacoh_vfio *v;
    struct hand h;

    if (!out || sock < 0) {
        dmacoh__err("vfio attach_fds: %s", out ? "no socket" : "out is NULL");
        return DMACOH_EINVAL;
    }
    r = recv_hand(sock, &h, fds);
    if (!r && (r = check_hand(&h)) != 0) {
        dmacoh__linux_close_received(fds[0]);
        dmacoh__linux_close_received(fds[1]);
    }
    if (r)
        return r;
    v = calloc(1, sizeof(*v));
    if (!v) {
        dmacoh__linux_close_received(fds[0]);
        dmacoh__linux_close_received(fds[1]);
        return DMACOH_ENOMEM;
    }
    v->sys = sys ? *sys : real_sys;
    v->container = fds[0];
    v->device = fds[1];
    v->groupfd = -1; /* the primary's: never needed, never unset from the container here */
    v->secondary = true;
    v->noiommu = (h.flags & HAND_NOIOMMU) != 0;
    v->iommu_page = page_size();
    snprintf(v->bdf, sizeof(v->bdf), "%s", h.bdf);
    snprintf(v->group, sizeof(v->group), "(the primary's)");
    take_peer(v, &h);
    pthread_mutex_init(&v->lock, NULL);
    r = attach_steps(v, opts, sysfs, &h);
    if (!r)
        r = dmacoh_platform_init(&v->plat, &vfio_ops, v);
    if (r) {
        teardown(v);
        return r;
    }
    *out = v;
    return 0;
}

int dmacoh_vfio_attach_fds(int sock, const struct dmacoh_vfio_opts *opts, struct dmacoh_vfio **out)
{
    return dmacoh__vfio_attach_sys(sock, opts, NULL, out);
}

bool dmacoh_vfio_is_attached(const struct dmacoh_vfio *v)
{
    return v && v->secondary;
}
