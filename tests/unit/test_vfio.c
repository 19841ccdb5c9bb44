/* SPDX-License-Identifier: MIT */
/*
 * test_vfio.c - the VFIO platform against a fake VFIO kernel: a fake sysfs and /dev tree in a
 * temporary folder, and a system-call table (struct dmacoh__vfio_sys) that plays container,
 * group and device. The device descriptor it hands out is a real sparse file laid out as the
 * regions it reports, so what an allocation in a BAR writes is read back from outside at the
 * region offset, and config space (the command register) is real bytes. DMA map and unmap
 * calls are recorded and checked against the kernel's rules (page aligned, inside the usable
 * IOVA ranges, no overlap, unmap of exactly what was mapped).
 */
#include "fixture.h"
#include "t.h"

#include "platform/linux/internal.h"

#include <dmacoh/dmacoh.h>
#include <dmacoh/vfio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define BDF      "0000:00:03.0"
#define OTHER    "0000:00:03.1" /* the other device of the group */
#define GROUP    "7"
#define BAR0     0xfe000000ull  /* 1 MiB memory */
#define BAR2     0x800000000ull /* 4 MiB prefetchable */
#define BAR0_SZ  (1u << 20)
#define BAR2_SZ  (4u << 20)
#define REG_OFF  (1ull << 24) /* region i at i * REG_OFF in the device file */
#define MAX_RECS 64

struct rec {
    uint64_t iova, size, vaddr;
};

/* The fake kernel's state and the faults a test asks for. */
struct fake {
    char root[64], sysfs[128], dev[128], image[160];
    int container, group, device, opened, closed;
    bool viable, type1v2, noiommu_ext, attached, unset, bar2_nommap, no_caps;
    int caps_fault;     /* a hostile second VFIO_IOMMU_GET_INFO reply: see hostile_caps() */
    bool not_container; /* the container node is some other file: VFIO ioctls fail ENOTTY */
    bool iommu_unset;   /* VFIO_IOMMU_GET_INFO fails EINVAL, as on a container with no IOMMU */
    int open_errno, set_iommu_errno, map_errno;
    long iommu_type;
    unsigned nmaps, nunmaps, nlive;
    struct rec maps[MAX_RECS], unmaps[MAX_RECS], live[MAX_RECS];
    struct vfio_iova_range ranges[2];
    unsigned nranges;
};

static struct fake F;

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);

    return n >= t && strcmp(s + n - t, tail) == 0;
}

static int fake_open(void *ctx, const char *path, int flags)
{
    struct fake *f = (struct fake *)ctx;
    int fd;

    if (f->open_errno && !ends_with(path, "/vfio/vfio")) {
        errno = f->open_errno; /* the group node refuses */
        return -1;
    }
    fd = open(path, flags);
    if (fd < 0)
        return -1;
    f->opened++;
    if (ends_with(path, "/vfio/vfio"))
        f->container = fd;
    else
        f->group = fd;
    return fd;
}

static int fake_close(void *ctx, int fd)
{
    struct fake *f = (struct fake *)ctx;

    f->closed++;
    return close(fd);
}

static int region_info(struct fake *f, struct vfio_region_info *ri)
{
    static const uint64_t size[9] = {BAR0_SZ, 0, BAR2_SZ, 0, 0, 0, 0, 256, 0};

    if (ri->index >= 9 || !size[ri->index]) {
        errno = EINVAL;
        return -1;
    }
    ri->size = size[ri->index];
    ri->offset = ri->index * REG_OFF;
    ri->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    if (ri->index != 7 && !(ri->index == 2 && f->bar2_nommap))
        ri->flags |= VFIO_REGION_INFO_FLAG_MMAP;
    return 0;
}

/* The faults caps_fault asks of the reply that fills the capabilities: each claims a larger
 * argsz than the caller allocated, and something beyond the allocation. */
enum {
    CAPS_CHAIN_OUT = 1,   /* a first capability whose `next` lies 2 GiB past the buffer */
    CAPS_RANGES_OUT = 2,  /* an IOVA-range capability listing 16 ranges, nranges in the buffer */
    CAPS_INTO_HEADER = 3, /* cap_offset pointing into the fixed header */
    CAPS_INVERTED = 4,    /* every range of the capability with its start above its end */
};

static void hostile_caps(struct fake *f, struct vfio_iommu_type1_info *info, uint32_t at)
{
    struct vfio_iommu_type1_info_cap_iova_range c; /* its header first: fits either kind */
    char *p = (char *)info + at;

    memcpy(&c, p, sizeof(c));
    switch (f->caps_fault) {
    case CAPS_CHAIN_OUT:
        c.header.id = 2; /* VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION: not the one wanted */
        c.header.next = 0x80000000u;
        info->argsz = 0x80000000u + info->argsz;
        break;
    case CAPS_RANGES_OUT:
        c.nr_iovas = 16;
        info->argsz += (16 - f->nranges) * 16;
        break;
    case CAPS_INTO_HEADER:
        info->cap_offset = 4;
        break;
    case CAPS_INVERTED:
        for (uint32_t i = 0; i < c.nr_iovas; i++) {
            struct vfio_iova_range r;
            char *e = p + sizeof(c) + i * sizeof(r);

            memcpy(&r, e, sizeof(r));
            r = (struct vfio_iova_range){.start = r.end, .end = r.start};
            memcpy(e, &r, sizeof(r));
        }
        break;
    }
    memcpy(p, &c, sizeof(c));
}

/* The type1 info with an IOVA-range capability, as the kernel lays it out. */
static int iommu_info(struct fake *f, void *arg)
{
    struct vfio_iommu_type1_info *info = arg;
    struct vfio_iommu_type1_info_cap_iova_range cap = {
        {VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 1, 0}, f->nranges, 0};
    uint32_t at = sizeof(*info), need = at + (uint32_t)(sizeof(cap) + f->nranges * 16);

    info->flags = VFIO_IOMMU_INFO_PGSIZES;
    info->iova_pgsizes = 0x40201000; /* 4 KiB, 2 MiB, 1 GiB */
    if (f->no_caps)
        return 0;
    info->flags |= VFIO_IOMMU_INFO_CAPS;
    if (info->argsz < need) {
        info->argsz = need;
        info->cap_offset = 0;
        return 0;
    }
    info->cap_offset = at;
    memcpy((char *)arg + at, &cap, sizeof(cap));
    memcpy((char *)arg + at + sizeof(cap), f->ranges, f->nranges * 16);
    hostile_caps(f, info, at);
    return 0;
}

static int dma_map(struct fake *f, const struct vfio_iommu_type1_dma_map *m)
{
    bool inside = false;

    T_ASSERT(m->argsz >= sizeof(*m));
    T_EQ_U64(m->flags, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
    T_EQ_U64(m->iova % 4096, 0);
    T_EQ_U64(m->size % 4096, 0);
    T_EQ_U64(m->vaddr % 4096, 0);
    for (unsigned i = 0; i < f->nranges; i++)
        inside |= m->iova >= f->ranges[i].start && m->iova + m->size - 1 <= f->ranges[i].end;
    T_ASSERT(inside);
    T_ASSERT(m->size && m->iova + (m->size - 1) >= m->iova); /* no wrap past 2^64 */
    for (unsigned i = 0; i < f->nlive; i++)
        T_ASSERT(m->iova + (m->size - 1) < f->live[i].iova ||
                 f->live[i].iova + (f->live[i].size - 1) < m->iova);
    if (f->map_errno) {
        errno = f->map_errno;
        return -1;
    }
    T_ASSERT(f->nmaps < MAX_RECS && f->nlive < MAX_RECS);
    f->maps[f->nmaps++] = f->live[f->nlive++] = (struct rec){m->iova, m->size, m->vaddr};
    return 0;
}

static int dma_unmap(struct fake *f, struct vfio_iommu_type1_dma_unmap *u)
{
    for (unsigned i = 0; i < f->nlive; i++) {
        if (f->live[i].iova == u->iova && f->live[i].size == u->size) {
            f->unmaps[f->nunmaps++] = f->live[i];
            f->live[i] = f->live[--f->nlive];
            return 0;
        }
    }
    u->size = 0; /* nothing mapped there */
    return 0;
}

static int container_ioctl(struct fake *f, unsigned long req, void *arg)
{
    if (f->not_container) {
        errno = ENOTTY;
        return -1;
    }
    switch (req) {
    case VFIO_GET_API_VERSION:
        return VFIO_API_VERSION;
    case VFIO_CHECK_EXTENSION:
        if ((uintptr_t)arg == VFIO_NOIOMMU_IOMMU)
            return f->noiommu_ext;
        return (uintptr_t)arg == VFIO_TYPE1_IOMMU ||
               ((uintptr_t)arg == VFIO_TYPE1v2_IOMMU && f->type1v2);
    case VFIO_SET_IOMMU:
        T_ASSERT(f->attached); /* the kernel wants a group in the container first */
        if (f->set_iommu_errno) {
            errno = f->set_iommu_errno;
            return -1;
        }
        f->iommu_type = (long)(uintptr_t)arg;
        return 0;
    case VFIO_IOMMU_GET_INFO:
        if (f->iommu_unset) {
            errno = EINVAL;
            return -1;
        }
        return iommu_info(f, arg);
    case VFIO_IOMMU_MAP_DMA:
        return dma_map(f, arg);
    case VFIO_IOMMU_UNMAP_DMA:
        return dma_unmap(f, arg);
    }
    errno = ENOTTY;
    return -1;
}

static int group_ioctl(struct fake *f, unsigned long req, void *arg)
{
    switch (req) {
    case VFIO_GROUP_GET_STATUS:
        ((struct vfio_group_status *)arg)->flags = f->viable ? VFIO_GROUP_FLAGS_VIABLE : 0;
        return 0;
    case VFIO_GROUP_SET_CONTAINER:
        T_EQ_INT(*(int *)arg, f->container);
        f->attached = true;
        return 0;
    case VFIO_GROUP_UNSET_CONTAINER:
        f->unset = true;
        return 0;
    case VFIO_GROUP_GET_DEVICE_FD:
        if (strcmp(arg, BDF) != 0) {
            errno = ENODEV;
            return -1;
        }
        f->device = open(f->image, O_RDWR);
        f->opened++;
        return f->device;
    }
    errno = ENOTTY;
    return -1;
}

/* True when fd is the file at path: a descriptor passed over a socket has another number. */
static bool same_file(int fd, const char *path)
{
    struct stat a, b;

    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

static int device_ioctl(struct fake *f, unsigned long req, void *arg)
{
    struct vfio_device_info *di = arg;

    if (req == VFIO_DEVICE_GET_REGION_INFO)
        return region_info(f, arg);
    if (req == VFIO_DEVICE_GET_INFO) {
        T_ASSERT(di->argsz >= sizeof(*di));
        di->flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
        di->num_regions = VFIO_PCI_NUM_REGIONS;
        di->num_irqs = VFIO_PCI_NUM_IRQS;
        return 0;
    }
    errno = ENOTTY;
    return -1;
}

static int fake_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
    struct fake *f = (struct fake *)ctx;
    char node[160];

    snprintf(node, sizeof(node), "%s/vfio/vfio", f->dev);
    if (fd == f->container || (fd != f->group && same_file(fd, node)))
        return container_ioctl(f, req, arg);
    if (fd == f->group)
        return group_ioctl(f, req, arg);
    if (fd == f->device || same_file(fd, f->image))
        return device_ioctl(f, req, arg);
    errno = ENOTTY;
    return -1;
}

static const struct dmacoh__vfio_sys fake_sys = {fake_open, fake_close, fake_ioctl, &F};

static void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd), fmt, a, b);
    T_EQ_INT(system(cmd), 0);
}

/* sysfs: the device (BAR0 memory, BAR1 I/O, BAR2 prefetchable) in group 7 with a second
 * device, bound to vfio-pci; /dev/vfio/{vfio,7}; the device image with config space. */
static void make_tree(void)
{
    char d[512], p[600];
    uint8_t cmd[2] = {0x02, 0x00};            /* memory decoding on, bus master off */
    uint8_t id[4] = {0x34, 0x12, 0xe8, 0x11}; /* vendor 1234, device 11e8 */
    int fd;

    memset(&F, 0, sizeof(F));
    F.container = F.group = F.device = -1;
    F.viable = F.type1v2 = true;
    F.ranges[0] = (struct vfio_iova_range){0, 0xfedfffffull};
    F.ranges[1] = (struct vfio_iova_range){0xfef00000ull, (1ull << 48) - 1};
    F.nranges = 2;
    snprintf(F.root, sizeof(F.root), "/tmp/dmacoh-vfio-XXXXXX");
    T_ASSERT(mkdtemp(F.root) != NULL);
    snprintf(F.sysfs, sizeof(F.sysfs), "%s/sys", F.root);
    snprintf(F.dev, sizeof(F.dev), "%s/dev", F.root);
    snprintf(F.image, sizeof(F.image), "%s/device-image", F.root);
    snprintf(d, sizeof(d), "%s/bus/pci/devices/" BDF, F.sysfs);
    sh("mkdir -p '%s' '%s/vfio'", d, F.dev);
    sh("mkdir -p '%s/kernel/iommu_groups/7/devices' '%s/bus/pci/drivers/vfio-pci'", F.sysfs,
       F.sysfs);
    sh("mkdir -p '%s/bus/pci/drivers/e1000e' '%s/bus/pci/devices/" OTHER "'", F.sysfs, F.sysfs);
    sh("ln -s ../../../kernel/iommu_groups/7 '%s/iommu_group' && ln -s "
       "../../../bus/pci/drivers/vfio-pci '%s/driver'",
       d, d);
    sh("ln -s '%s' '%s/kernel/iommu_groups/7/devices/" BDF "'", d, F.sysfs);
    snprintf(p, sizeof(p), "%s/resource", d);
    t_put_file(p, "0x00000000fe000000 0x00000000fe0fffff 0x0000000000040200\n"
                  "0x000000000000e000 0x000000000000e01f 0x0000000000040101\n"
                  "0x0000000800000000 0x00000008003fffff 0x000000000014220c\n"
                  "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                  "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                  "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
    snprintf(p, sizeof(p), "%s/vendor", d);
    t_put_file(p, "0x1234\n");
    snprintf(p, sizeof(p), "%s/device", d);
    t_put_file(p, "0x11e8\n");
    snprintf(p, sizeof(p), "%s/vfio/vfio", F.dev);
    t_put_file(p, "");
    snprintf(p, sizeof(p), "%s/vfio/" GROUP, F.dev);
    t_put_file(p, "");
    t_sparse_file(F.image, 8 * REG_OFF);
    fd = open(F.image, O_RDWR);
    T_ASSERT(fd >= 0);
    T_EQ_INT(pwrite(fd, cmd, 2, (off_t)(7 * REG_OFF + 4)), 2);
    T_EQ_INT(pwrite(fd, id, 4, (off_t)(7 * REG_OFF)), 4);
    close(fd);
}

static void remove_tree(void)
{
    sh("rm -rf '%s'%s", F.root, "");
}

static int open_fake(struct dmacoh_vfio **v, const struct dmacoh_vfio_opts *extra)
{
    struct dmacoh_vfio_opts o = {0};

    if (extra)
        o = *extra;
    o.sysfs_root = F.sysfs;
    o.dev_root = F.dev;
    return dmacoh__vfio_open_sys(BDF, &o, &fake_sys, v);
}

static void read_image(uint64_t off, void *buf, size_t len)
{
    int fd = open(F.image, O_RDONLY);

    T_ASSERT(fd >= 0);
    T_EQ_INT(pread(fd, buf, len, (off_t)off), (long long)len);
    close(fd);
}

static void opens_through_the_group_and_maps_a_bar(void)
{
    struct dmacoh_vfio *v;
    struct dmacoh_device dev;
    char buf[8] = {0};
    void *a;
    dmacoh_dma_addr_t h;
    dmacoh_phys_addr_t bus;
    uint64_t size;

    make_tree();
    T_OK(open_fake(&v, NULL));
    T_EQ_INT(F.iommu_type, VFIO_TYPE1v2_IOMMU);
    T_ASSERT(!dmacoh_vfio_is_noiommu(v));
    T_EQ_INT(dmacoh_vfio_device_fd(v), F.device);
    T_OK(dmacoh_vfio_bar(v, 2, &bus, &size, NULL));
    T_EQ_U64(bus, BAR2);
    T_EQ_U64(size, BAR2_SZ);
    T_ERR(dmacoh_vfio_bar(v, 3, &bus, NULL, NULL), DMACOH_ENOENT);
    T_OK(dmacoh_device_init(&dev, "card", NULL, dmacoh_vfio_platform(v)));
    /* The top 2 MiB of BAR2, which the card reaches at device address 0x200000. */
    t_declare_device_memory(&dev, BAR2 + 0x200000, 0x200000, 0x200000, DMACOH_MEMORY_EXCLUSIVE,
                            NULL);
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &a, &h));
    T_OK(dmacoh_alloc_coherent(&dev, 8192, 0, 0, &a, &h));
    T_EQ_U64(h, 0x202000);
    T_EQ_U64((uintptr_t)a % 8192, 0);
    dmacoh_memcpy_toio(a, "in bar2", 8);
    read_image(2 * REG_OFF + 0x202000, buf, 8);
    T_ASSERT(strcmp(buf, "in bar2") == 0);
    T_EQ_U64(F.nmaps, 0); /* BAR memory needs no IOMMU mapping */
    T_ERR(dmacoh_vfio_close(v), DMACOH_EBUSY);
    T_OK(dmacoh_release_coherent_memory(&dev, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_vfio_close(v));
    T_EQ_INT(F.opened, F.closed);
    T_ASSERT(F.unset);
    remove_tree();
}

/* Fallback memory gets an IOVA mapped in the container; free unmaps it; a double free or a
 * wrong size is refused without touching the mapping. */
static void fallback_is_mapped_at_an_iova_and_unmapped_on_free(void)
{
    struct dmacoh_vfio *v;
    struct dmacoh_device dev;
    void *a, *b;
    dmacoh_dma_addr_t ha, hb;

    make_tree();
    T_OK(open_fake(&v, NULL));
    T_OK(dmacoh_device_init(&dev, "nic", NULL, dmacoh_vfio_platform(v)));
    T_OK(dmacoh_alloc_coherent(&dev, 8192, 0, 0, &a, &ha));
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &b, &hb));
    T_EQ_U64(ha, 0x100000); /* the default lowest IOVA */
    T_EQ_U64(hb, 0x102000);
    T_EQ_U64((uintptr_t)a % 8192, 0);
    T_EQ_U64(F.nmaps, 2);
    T_EQ_U64(F.maps[0].iova, ha);
    T_EQ_U64(F.maps[0].size, 8192);
    T_EQ_U64(F.maps[0].vaddr, (uintptr_t)a);
    T_EQ_U64(dmacoh_virt_to_dma(&dev, (char *)a + 100), ha + 100);
    T_EQ_PTR(dmacoh_dma_to_virt(&dev, hb + 8), (char *)b + 8);
    memset(a, 0x5a, 8192);                                  /* real, writable memory */
    T_ASSERT(dmacoh_free_coherent(&dev, 4096, a, ha) != 0); /* wrong size */
    T_EQ_U64(F.nunmaps, 0);
    T_OK(dmacoh_free_coherent(&dev, 8192, a, ha));
    T_EQ_U64(F.nunmaps, 1);
    T_EQ_U64(F.unmaps[0].iova, ha);
    T_EQ_U64(F.unmaps[0].size, 8192);
    T_ASSERT(dmacoh_free_coherent(&dev, 8192, a, ha) != 0); /* double free */
    T_EQ_U64(F.nunmaps, 1);
    /* The freed IOVA is reused, first fit. */
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &a, &ha));
    T_EQ_U64(ha, 0x100000);
    T_OK(dmacoh_free_coherent(&dev, 4096, a, ha));
    T_OK(dmacoh_free_coherent(&dev, 4096, b, hb));
    T_EQ_U64(F.nlive, 0);
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_vfio_close(v));
    remove_tree();
}

/* IOVAs stay in the kernel's usable ranges (the MSI window 0xfee00000 is not one of them) and
 * below the device's DMA mask. */
static void iova_ranges_and_dma_mask_are_respected(void)
{
    struct dmacoh_vfio_opts o = {.iova_base = 0xfed00000ull};
    struct dmacoh_vfio *v;
    struct dmacoh_device dev;
    void *a, *b, *c;
    dmacoh_dma_addr_t ha, hb, hc;

    make_tree();
    T_OK(open_fake(&v, &o));
    T_OK(dmacoh_device_init(&dev, "dev", NULL, dmacoh_vfio_platform(v)));
    T_OK(dmacoh_alloc_coherent(&dev, 1 << 20, 0, 0, &a, &ha));
    T_EQ_U64(ha, 0xfed00000ull);
    T_OK(dmacoh_alloc_coherent(&dev, 1 << 20, 0, 0, &b, &hb));
    T_EQ_U64(hb, 0xfef00000ull); /* past the reserved hole */
    T_OK(dmacoh_device_set_dma_mask(&dev, 0xffffffffull));
    /* 32 bits leave 0xfef00000 + 1 MiB .. 4 GiB - 1: 16 MiB fits, 32 MiB does not. */
    T_OK(dmacoh_alloc_coherent(&dev, 16 << 20, 0, 0, &c, &hc));
    T_EQ_U64(hc, 0xff000000ull);
    T_ERR(dmacoh_alloc_coherent(&dev, 32 << 20, 0, 0, &c, &hc), DMACOH_ENOMEM);
    T_OK(dmacoh_free_coherent(&dev, 16 << 20, c, 0xff000000ull));
    T_OK(dmacoh_device_set_dma_mask(&dev, 0xfffffull)); /* all below the lowest IOVA */
    T_ERR(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &c, &hc), DMACOH_ERANGE);
    T_OK(dmacoh_free_coherent(&dev, 1 << 20, a, ha));
    T_OK(dmacoh_free_coherent(&dev, 1 << 20, b, hb));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_vfio_close(v));
    remove_tree();
}

/* hugetlb: whole 2 MiB sizes come from huge pages; without any reserved the allocation
 * fails and the log says where to look. Smaller sizes still use ordinary pages. */
static void hugetlb_fallback(void)
{
    struct dmacoh_vfio_opts o = {.hugetlb = true};
    struct dmacoh_vfio *v;
    struct dmacoh_device dev;
    void *a;
    dmacoh_dma_addr_t h;
    int r;

    make_tree();
    T_OK(open_fake(&v, &o));
    T_OK(dmacoh_device_init(&dev, "dev", NULL, dmacoh_vfio_platform(v)));
    T_OK(dmacoh_alloc_coherent(&dev, 8192, 0, 0, &a, &h));
    T_OK(dmacoh_free_coherent(&dev, 8192, a, h));
    r = dmacoh_alloc_coherent(&dev, 2u << 20, DMACOH_ALLOC_NOZERO, 0, &a, &h);
    if (r == 0) {
        T_EQ_U64(h % (2u << 20), 0);
        T_EQ_U64((uintptr_t)a % (2u << 20), 0);
        T_EQ_U64(F.maps[F.nmaps - 1].size, 2u << 20);
        T_OK(dmacoh_free_coherent(&dev, 2u << 20, a, h));
    } else {
        T_EQ_INT(r, DMACOH_ENOMEM);
        T_ASSERT(t_log_find("hugetlb"));
        T_EQ_U64(F.nlive, 0);
    }
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_vfio_close(v));
    remove_tree();
}

/* Close unmaps and frees what is left; a failed MAP_DMA leaves nothing behind. */
static void close_unmaps_everything(void)
{
    struct dmacoh_vfio *v;
    struct dmacoh_device dev;
    void *a;
    dmacoh_dma_addr_t h;

    make_tree();
    F.no_caps = true; /* an older kernel: no IOVA-range capability */
    T_OK(open_fake(&v, NULL));
    T_OK(dmacoh_device_init(&dev, "dev", NULL, dmacoh_vfio_platform(v)));
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &a, &h));
    T_OK(dmacoh_alloc_coherent(&dev, 65536, 0, 0, &a, &h));
    T_EQ_U64(h, 0x110000);
    F.map_errno = ENOMEM;
    T_ERR(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &a, &h), DMACOH_ENOMEM);
    T_ASSERT(t_log_find("RLIMIT_MEMLOCK"));
    F.map_errno = 0;
    T_OK(dmacoh_device_fini(&dev));
    T_EQ_U64(F.nunmaps, 0);
    T_OK(dmacoh_vfio_close(v));
    T_EQ_U64(F.nunmaps, 2);
    T_EQ_U64(F.nlive, 0);
    T_EQ_INT(F.opened, F.closed);
    remove_tree();
}

/* A DMA handle names one memory: with a region declared at device address 0x100000 (the
 * lowest IOVA), fallback memory gets IOVAs past it, each translation finds its own memory, a
 * declare over live IOVAs is refused naming what holds them, and a released region's
 * addresses serve as IOVAs again. */
static void fallback_never_shares_a_handle_with_a_region(void)
{
    struct dmacoh_vfio *v;
    struct dmacoh_device dev, other;
    void *r[2], *a, *b, *c;
    dmacoh_dma_addr_t hr[2], ha, hb, hc;

    make_tree();
    T_OK(open_fake(&v, NULL));
    T_OK(dmacoh_device_init(&dev, "edu", NULL, dmacoh_vfio_platform(v)));
    T_OK(dmacoh_device_init(&other, "other", NULL, dmacoh_vfio_platform(v)));
    T_OK(dmacoh_declare_coherent_memory(&dev, BAR0 + 0x80000, 0x100000, 0x2000,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL, NULL));
    for (int i = 0; i < 2; i++) {
        T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &r[i], &hr[i]));
        T_EQ_U64(hr[i], 0x100000 + 0x1000 * (uint64_t)i);
    }
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &a, &ha)); /* the region is full: fallback */
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &b, &hb));
    T_EQ_INT(dmacoh_origin_of(&dev, a), DMACOH_ORIGIN_SYSTEM);
    T_EQ_U64(ha, 0x102000);
    T_EQ_U64(hb, 0x103000);
    T_EQ_U64(F.nmaps, 2);
    T_EQ_U64(F.maps[0].iova, 0x102000);
    T_EQ_PTR(dmacoh_dma_to_virt(&dev, 0x100000), r[0]);
    T_EQ_PTR(dmacoh_dma_to_virt(&dev, 0x101000), r[1]);
    T_EQ_PTR(dmacoh_dma_to_virt(&dev, ha), a);
    T_EQ_PTR(dmacoh_dma_to_virt(&dev, hb + 8), (char *)b + 8);
    T_EQ_U64(dmacoh_virt_to_dma(&dev, b), hb);
    /* Over b's IOVA: refused, naming b. */
    T_ERR(dmacoh_declare_coherent_memory(&other, BAR0 + 0x90000, 0x103000, 0x1000,
                                         DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL, NULL),
          DMACOH_EBUSY);
    T_ASSERT(t_log_find("fallback memory at IOVA 0x103000+0x1000"));
    T_ASSERT(!dmacoh_device_has_region(&other));
    T_OK(dmacoh_free_coherent(&dev, 4096, b, hb));
    T_OK(dmacoh_declare_coherent_memory(&other, BAR0 + 0x90000, 0x103000, 0x1000,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &c, &hc));
    T_EQ_U64(hc, 0x104000); /* 0x103000 is other's region now */
    /* Released, the first region's device addresses are IOVAs again. */
    T_OK(dmacoh_free_coherent(&dev, 4096, r[0], hr[0]));
    T_OK(dmacoh_free_coherent(&dev, 4096, r[1], hr[1]));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_alloc_coherent(&dev, 8192, 0, 0, &b, &hb));
    T_EQ_U64(hb, 0x100000);
    T_EQ_PTR(dmacoh_dma_to_virt(&dev, 0x101000), (char *)b + 0x1000);
    T_OK(dmacoh_free_coherent(&dev, 8192, b, hb));
    T_OK(dmacoh_free_coherent(&dev, 4096, a, ha));
    T_OK(dmacoh_free_coherent(&dev, 4096, c, hc));
    T_OK(dmacoh_release_coherent_memory(&other, 0));
    T_OK(dmacoh_device_fini(&other));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_vfio_close(v));
    T_EQ_U64(F.nlive, 0);
    remove_tree();
}

/* An IOVA base in the last pages of the 64-bit space: each page is handed out once. */
static void iova_base_at_the_top_of_the_space(void)
{
    struct dmacoh_vfio_opts o = {.iova_base = UINT64_MAX - 0x1fff};
    struct dmacoh_vfio *v;
    struct dmacoh_device dev;
    void *a, *b, *c;
    dmacoh_dma_addr_t ha, hb, hc;

    make_tree();
    F.ranges[1].end = UINT64_MAX; /* the IOMMU reaches the top of the space */
    T_OK(open_fake(&v, &o));
    T_OK(dmacoh_device_init(&dev, "dev", NULL, dmacoh_vfio_platform(v)));
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &a, &ha));
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &b, &hb));
    T_EQ_U64(ha, UINT64_MAX - 0x1fff);
    T_EQ_U64(hb, UINT64_MAX - 0xfff);
    T_ERR(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &c, &hc), DMACOH_ENOMEM);
    T_EQ_U64(F.nmaps, 2);
    T_EQ_PTR(dmacoh_dma_to_virt(&dev, UINT64_MAX), (char *)b + 0xfff);
    T_OK(dmacoh_free_coherent(&dev, 4096, a, ha));
    T_OK(dmacoh_free_coherent(&dev, 4096, b, hb));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_vfio_close(v));
    remove_tree();
}

/* The IOMMU info's capability chain is walked inside the buffer the platform allocated,
 * whatever argsz the reply that filled it states: a link 2 GiB past it (read, it faults), a
 * range list running past it, a link into the fixed header. Each is logged; what lies inside
 * is used, else the ranges stay "everything" as on a kernel without the capability. */
static void capability_chain_stays_in_the_buffer(void)
{
    static const struct {
        int fault;
        const char *log;
    } cases[] = {
        {CAPS_CHAIN_OUT, "capability chain leaves the reply at offset 2147483648"},
        {CAPS_RANGES_OUT, "lists 16 ranges but only 2 fit"},
        {CAPS_INTO_HEADER, "capability chain leaves the reply at offset 4"},
        {CAPS_INVERTED, "gives no usable range; taking every IOVA as usable"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* From the start of the fake's reserved hole: skipped only if the ranges were read. */
        struct dmacoh_vfio_opts o = {.iova_base = 0xfee00000ull};
        struct dmacoh_vfio *v;
        struct dmacoh_device dev;
        void *a;
        dmacoh_dma_addr_t h;

        make_tree();
        t_log_reset();
        F.caps_fault = cases[i].fault;
        if (cases[i].fault != CAPS_RANGES_OUT)
            o.iova_base = 0; /* the ranges are unknown: stay clear of the hole */
        T_OK(open_fake(&v, &o));
        T_ASSERT(t_log_find(cases[i].log));
        T_ASSERT(t_log_find("VFIO_IOMMU_GET_INFO asked for") ==
                 (cases[i].fault != CAPS_INTO_HEADER && cases[i].fault != CAPS_INVERTED));
        T_OK(dmacoh_device_init(&dev, "dev", NULL, dmacoh_vfio_platform(v)));
        T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &a, &h));
        T_EQ_U64(h, cases[i].fault == CAPS_RANGES_OUT ? 0xfef00000ull : 0x100000ull);
        T_OK(dmacoh_free_coherent(&dev, 4096, a, h));
        T_OK(dmacoh_device_fini(&dev));
        T_OK(dmacoh_vfio_close(v));
        remove_tree();
    }
}

static void bus_master_is_set_in_config_space(void)
{
    struct dmacoh_vfio *v;
    uint8_t cmd[2];
    uint64_t off;

    make_tree();
    T_OK(open_fake(&v, NULL));
    T_OK(dmacoh_vfio_region(v, 7, &off, NULL, NULL));
    T_EQ_U64(off, 7 * REG_OFF);
    T_OK(dmacoh_vfio_set_bus_master(v, true));
    read_image(7 * REG_OFF + 4, cmd, 2);
    T_EQ_INT(cmd[0], 0x06);
    T_OK(dmacoh_vfio_set_bus_master(v, false));
    read_image(7 * REG_OFF + 4, cmd, 2);
    T_EQ_INT(cmd[0], 0x02);
    T_ERR(dmacoh_vfio_region(v, 4, &off, NULL, NULL), DMACOH_ENOENT);
    T_ERR(dmacoh_vfio_set_bus_master(NULL, true), DMACOH_EINVAL);
    T_OK(dmacoh_vfio_close(v));
    remove_tree();
}

static void declare_refusals(void)
{
    struct dmacoh_vfio *v;
    struct dmacoh_device dev;

    make_tree();
    F.bar2_nommap = true;
    T_OK(open_fake(&v, NULL));
    T_OK(dmacoh_device_init(&dev, "card", NULL, dmacoh_vfio_platform(v)));
    T_ERR(dmacoh_declare_coherent_memory(&dev, BAR0 + 0xff000, 0, 0x2000, DMACOH_MEMORY_MAP, NULL,
                                         NULL),
          DMACOH_ENXIO); /* straddles the end of BAR0 */
    T_ASSERT(t_log_find("not inside one memory BAR"));
    T_ERR(dmacoh_declare_coherent_memory(&dev, 0xe000, 0, 0x1000, DMACOH_MEMORY_MAP, NULL, NULL),
          DMACOH_ENXIO); /* the I/O BAR */
    T_ERR(dmacoh_declare_coherent_memory(&dev, BAR2, 0, 0x1000, DMACOH_MEMORY_MAP, NULL, NULL),
          DMACOH_ENXIO);
    T_ASSERT(t_log_find("cannot be mmapped"));
    T_OK(dmacoh_declare_coherent_memory(&dev, BAR0, 0, BAR0_SZ, DMACOH_MEMORY_IO, NULL, NULL));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_vfio_close(v));
    remove_tree();
}

/* Opens that fail: each cause its own code and a log line saying what to do, and every
 * descriptor opened on the way closed again. */
static void expect_open_error(int code, const char *log_word)
{
    struct dmacoh_vfio *v = NULL;

    T_ERR(open_fake(&v, NULL), code);
    T_EQ_PTR(v, NULL);
    T_ASSERT(t_log_find(log_word));
    T_EQ_INT(F.opened, F.closed);
}

static void missing_module_and_permission(void)
{
    char p[256];

    make_tree();
    snprintf(p, sizeof(p), "%s/vfio/vfio", F.dev);
    T_EQ_INT(unlink(p), 0);
    expect_open_error(DMACOH_ENODEV, "modprobe vfio-pci");
    remove_tree();

    /* Some other file where the container should be: named as such, not as an API version. */
    make_tree();
    F.not_container = true;
    t_log_reset();
    expect_open_error(DMACOH_ENODEV, "/vfio/vfio is not a VFIO container");
    T_ASSERT(!t_log_find("speaks VFIO API"));
    remove_tree();

    make_tree();
    F.open_errno = EACCES;
    expect_open_error(DMACOH_EACCES, "permission denied");
    F.open_errno = EPERM;
    expect_open_error(DMACOH_EACCES, "permission denied");
    F.open_errno = EBUSY;
    expect_open_error(DMACOH_EBUSY, "another process");
    remove_tree();
}

static void group_not_viable(void)
{
    char p[256];

    make_tree();
    F.viable = false;
    snprintf(p, sizeof(p), "%s/bus/pci/devices/" OTHER, F.sysfs);
    sh("ln -s ../../../bus/pci/drivers/e1000e '%s/driver'%s", p, "");
    snprintf(p, sizeof(p), "%s/kernel/iommu_groups/7/devices/" OTHER, F.sysfs);
    sh("ln -s '%s/bus/pci/devices/" OTHER "' '%s'", F.sysfs, p);
    expect_open_error(DMACOH_EBUSY, "not viable");
    T_ASSERT(t_log_find(OTHER " in group 7 is bound to host driver 'e1000e'"));
    remove_tree();
}

static void not_bound_to_vfio_pci(void)
{
    char d[256], p[256];

    make_tree();
    snprintf(d, sizeof(d), "%s/bus/pci/devices/" BDF, F.sysfs);
    sh("rm '%s/driver' && ln -s ../../../bus/pci/drivers/e1000e '%s/driver'", d, d);
    expect_open_error(DMACOH_ENXIO, "bound to driver 'e1000e'");
    /* A name that merely contains "vfio" is not vfio-pci. */
    sh("mkdir -p '%s/bus/pci/drivers/my-vfio-shim'%s", F.sysfs, "");
    sh("rm '%s/driver' && ln -s ../../../bus/pci/drivers/my-vfio-shim '%s/driver'", d, d);
    expect_open_error(DMACOH_ENXIO, "bound to driver 'my-vfio-shim', not vfio-pci");
    sh("rm '%s/driver'%s", d, "");
    expect_open_error(DMACOH_ENXIO, "no driver is bound");
    /* Bound, but the group node is gone (the kernel has not made it). */
    sh("ln -s ../../../bus/pci/drivers/vfio-pci '%s/driver'%s", d, "");
    snprintf(p, sizeof(p), "%s/vfio/" GROUP, F.dev);
    T_EQ_INT(unlink(p), 0);
    expect_open_error(DMACOH_ENXIO, "not bound to vfio-pci");
    remove_tree();
}

/* No IOMMU group: the log says whether this kernel could offer no-IOMMU mode. A no-IOMMU
 * group is used only when allowed, and then offers no fallback memory. */
static void no_iommu(void)
{
    struct dmacoh_vfio_opts o = {.allow_noiommu = true};
    struct dmacoh_vfio *v = NULL;
    struct dmacoh_device dev;
    char d[256], p[256];
    void *a;
    dmacoh_dma_addr_t h;

    make_tree();
    snprintf(d, sizeof(d), "%s/bus/pci/devices/" BDF, F.sysfs);
    sh("rm '%s/iommu_group'%s", d, "");
    expect_open_error(DMACOH_ENOTSUP, "CONFIG_VFIO_NOIOMMU");
    /* vfio not loaded (no /sys/module/vfio, no container node): nothing can be said about
     * no-IOMMU mode, and the log says that rather than blaming the kernel's build. */
    snprintf(p, sizeof(p), "%s/vfio/vfio", F.dev);
    T_EQ_INT(unlink(p), 0);
    t_log_reset();
    expect_open_error(DMACOH_ENOTSUP, "the vfio module is not loaded");
    T_ASSERT(t_log_find("modprobe vfio-pci"));
    T_ASSERT(!t_log_find("CONFIG_VFIO_NOIOMMU"));
    t_put_file(p, "");
    sh("mkdir -p '%s/module/vfio/parameters' && touch "
       "'%s/module/vfio/parameters/enable_unsafe_noiommu_mode'",
       F.sysfs, F.sysfs);
    expect_open_error(DMACOH_ENOTSUP, "enable_unsafe_noiommu_mode");
    remove_tree();

    make_tree();
    snprintf(p, sizeof(p), "%s/vfio/" GROUP, F.dev);
    snprintf(d, sizeof(d), "%s/vfio/noiommu-" GROUP, F.dev);
    T_EQ_INT(rename(p, d), 0);
    expect_open_error(DMACOH_ENOTSUP, "allow_noiommu");
    T_ERR(open_fake(&v, &o), DMACOH_ENOTSUP); /* the container does not offer it */
    F.noiommu_ext = true;
    T_OK(open_fake(&v, &o));
    T_EQ_INT(F.iommu_type, VFIO_NOIOMMU_IOMMU);
    T_ASSERT(dmacoh_vfio_is_noiommu(v));
    T_OK(dmacoh_device_init(&dev, "dev", NULL, dmacoh_vfio_platform(v)));
    T_ERR(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &a, &h), DMACOH_ENOTSUP);
    T_ASSERT(t_log_find("no-IOMMU mode has no IOVAs"));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_vfio_close(v));
    remove_tree();
}

static void iommu_type_refused_and_bad_addresses(void)
{
    struct dmacoh_vfio_opts o = {.sysfs_root = "/nonexistent", .dev_root = "/nonexistent"};
    struct dmacoh_vfio *v = NULL;

    make_tree();
    F.set_iommu_errno = EPERM;
    expect_open_error(DMACOH_EPERM, "allow_unsafe_interrupts");
    F.set_iommu_errno = 0;
    F.type1v2 = false; /* an old kernel: type1 only */
    T_OK(open_fake(&v, NULL));
    T_EQ_INT(F.iommu_type, VFIO_TYPE1_IOMMU);
    T_OK(dmacoh_vfio_close(v));
    remove_tree();
    T_ERR(dmacoh__vfio_open_sys("../../etc", &o, &fake_sys, &v), DMACOH_EINVAL);
    T_ERR(dmacoh__vfio_open_sys(BDF, &o, &fake_sys, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh__vfio_open_sys(BDF, &o, &fake_sys, &v), DMACOH_ENOENT);
    o.iova_base = 0x2000000;
    o.iova_limit = 0x1000000;
    T_ERR(dmacoh__vfio_open_sys(BDF, &o, &fake_sys, &v), DMACOH_EINVAL);
    T_EQ_PTR(dmacoh_vfio_platform(NULL), NULL);
    T_OK(dmacoh_vfio_close(NULL));
}

/* ---- a second process's instance from passed descriptors ------------------------------- */

/* The number of descriptors this process has open (to see that none leaks). */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    T_ASSERT(d != NULL);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static int attach_fake(int sock, struct dmacoh_vfio **v)
{
    struct dmacoh_vfio_opts o = {.sysfs_root = F.sysfs};

    return dmacoh__vfio_attach_sys(sock, &o, &fake_sys, v);
}

/* Over a socket pair the primary hands the device to a secondary (here: the same process,
 * which is all the kernel sees of SCM_RIGHTS). The secondary maps the region declared in the
 * primary through its own descriptor, at the same DMA handles; it has no fallback (said once);
 * it may declare only inside the primary's declared ranges or outside its IOVA ranges; its
 * close unmaps nothing of the primary's, unsets nothing, and closes only its own copies. */
static void attach_maps_bars_with_the_primarys_handles(void)
{
    struct dmacoh_vfio_opts po = {.iova_limit = 0x0fffffff};
    struct dmacoh_vfio *v, *s;
    struct dmacoh_device pdev, sdev, other;
    void *pa, *sa, *f, *big;
    dmacoh_dma_addr_t ph, sh2, fh, bigh;
    char buf[16] = {0};
    int sv[2], before;

    make_tree();
    T_OK(open_fake(&v, &po));
    T_OK(dmacoh_device_init(&pdev, "card", NULL, dmacoh_vfio_platform(v)));
    t_declare_device_memory(&pdev, BAR2 + 0x200000, 0x200000, 0x200000, DMACOH_MEMORY_EXCLUSIVE,
                            NULL);
    T_OK(dmacoh_alloc_coherent(&pdev, 4096, 0, 0, &pa, &ph));
    T_EQ_U64(ph, 0x200000);
    T_OK(dmacoh_free_coherent(&pdev, 4096, pa, ph));
    T_OK(dmacoh_device_init(&other, "nic", NULL, dmacoh_vfio_platform(v)));
    T_OK(dmacoh_alloc_coherent(&other, 4096, 0, 0, &f, &fh)); /* fallback in the primary */
    T_EQ_U64(fh, 0x100000);
    T_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    before = open_fds();
    T_OK(dmacoh_vfio_send_fds(v, sv[0]));
    T_OK(attach_fake(sv[1], &s));
    T_EQ_INT(open_fds(), before + 2); /* its own copies of the container and the device */
    T_ASSERT(dmacoh_vfio_is_attached(s) && !dmacoh_vfio_is_attached(v));
    T_ASSERT(dmacoh_vfio_device_fd(s) != dmacoh_vfio_device_fd(v));
    T_OK(dmacoh_device_init(&sdev, "card", NULL, dmacoh_vfio_platform(s)));
    /* One process claims a physical range once: the primary lets the range go (the message
     * keeps its device range) so that the secondary, in the same process here, can map it. */
    T_OK(dmacoh_release_coherent_memory(&pdev, 0));
    T_OK(dmacoh_declare_coherent_memory(&sdev, BAR2 + 0x200000, 0x200000, 0x200000,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&sdev, 4096, 0, 0, &sa, &sh2));
    T_EQ_U64(sh2, ph); /* the primary's handle for the same bytes */
    dmacoh_memcpy_toio(sa, "secondary", 10);
    read_image(2 * REG_OFF + 0x200000, buf, 10);
    T_ASSERT(strcmp(buf, "secondary") == 0);
    T_OK(dmacoh_free_coherent(&sdev, 4096, sa, sh2));
    T_OK(dmacoh_release_coherent_memory(&sdev, 0));
    /* No fallback: said once, whatever the number of tries; nothing mapped. */
    t_log_reset();
    T_ERR(dmacoh_alloc_coherent(&sdev, 4096, 0, 0, &sa, &sh2), DMACOH_ENOTSUP);
    T_ASSERT(t_log_find("no system memory for DMA here"));
    t_log_reset();
    T_ERR(dmacoh_alloc_coherent(&sdev, 8192, 0, 0, &sa, &sh2), DMACOH_ENOTSUP);
    T_ASSERT(t_log_count() > 0 && !t_log_find("no system memory for DMA here"));
    T_EQ_U64(F.nmaps, 1);
    /* The device range handed over stays out of the primary's fallback, though released
     * there: 1 MiB aligned would be 0x200000 else. */
    T_OK(dmacoh_alloc_coherent(&other, 1 << 20, 0, 0, &big, &bigh));
    T_EQ_U64(bigh, 0x400000);
    /* Inside the primary's IOVA ranges (its fallback is at 0x100000) and in no region it
     * declared: refused. Past its iova_limit: nothing of the primary's can be there. */
    T_ERR(
        dmacoh_declare_coherent_memory(&sdev, BAR0, 0x100000, 0x1000, DMACOH_MEMORY_IO, NULL, NULL),
        DMACOH_EBUSY);
    T_ASSERT(t_log_find("lie in the primary's fallback IOVAs"));
    T_OK(dmacoh_declare_coherent_memory(&sdev, BAR0, 0x10000000, 0x1000, DMACOH_MEMORY_IO, NULL,
                                        NULL));
    T_OK(dmacoh_release_coherent_memory(&sdev, 0));
    T_OK(dmacoh_device_fini(&sdev));
    /* The secondary's close: no unmap, no unset, only its descriptors. */
    T_OK(dmacoh_vfio_close(s));
    T_EQ_INT(open_fds(), before);
    T_EQ_U64(F.nunmaps, 0);
    T_EQ_U64(F.nlive, 2);
    T_ASSERT(!F.unset);
    /* The primary goes on. */
    T_EQ_U64(dmacoh_virt_to_dma(&other, f), 0x100000);
    T_OK(dmacoh_free_coherent(&other, 4096, f, 0x100000));
    T_OK(dmacoh_free_coherent(&other, 1 << 20, big, bigh));
    T_EQ_U64(F.nunmaps, 2);
    T_OK(dmacoh_device_fini(&pdev));
    T_OK(dmacoh_device_fini(&other));
    T_OK(dmacoh_vfio_close(v));
    T_ASSERT(F.unset);
    close(sv[0]);
    close(sv[1]);
    remove_tree();
}

/* A stream socket carries the message too, and an attached instance hands on what it got. */
static void attach_over_a_stream_and_hand_on(void)
{
    struct dmacoh_vfio *v, *s, *t;
    struct dmacoh_device dev;
    int sv[2];

    make_tree();
    T_OK(open_fake(&v, NULL));
    T_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    T_OK(dmacoh_vfio_send_fds(v, sv[0]));
    T_OK(attach_fake(sv[1], &s));
    T_OK(dmacoh_vfio_send_fds(s, sv[1]));
    T_OK(attach_fake(sv[0], &t));
    T_ASSERT(dmacoh_vfio_is_attached(t));
    T_OK(dmacoh_device_init(&dev, "dev", NULL, dmacoh_vfio_platform(t)));
    T_ERR(
        dmacoh_declare_coherent_memory(&dev, BAR0, 0x100000, 0x1000, DMACOH_MEMORY_IO, NULL, NULL),
        DMACOH_EBUSY); /* the primary's ranges came along */
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_vfio_close(t));
    T_OK(dmacoh_vfio_close(s));
    T_OK(dmacoh_vfio_close(v));
    close(sv[0]);
    close(sv[1]);
    remove_tree();
}

/* A valid message, as the primary sends it: its bytes and descriptors (the caller closes). */
struct raw {
    unsigned char buf[1024];
    size_t len;
    int fds[2];
};

static void capture(struct dmacoh_vfio *v, struct raw *m)
{
    char ctl[CMSG_SPACE(2 * sizeof(int))];
    struct iovec iov = {m->buf, sizeof(m->buf)};
    struct msghdr h = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
    int sv[2];
    ssize_t n;

    T_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    T_OK(dmacoh_vfio_send_fds(v, sv[0]));
    n = recvmsg(sv[1], &h, 0);
    T_ASSERT(n > 0 && CMSG_FIRSTHDR(&h) != NULL);
    m->len = (size_t)n;
    memcpy(m->fds, CMSG_DATA(CMSG_FIRSTHDR(&h)), sizeof(m->fds));
    close(sv[0]);
    close(sv[1]);
}

/* Sends len bytes of buf with nfds of fds on a fresh socket pair and attaches from it. */
static int attach_raw(const void *buf, size_t len, const int *fds, int nfds)
{
    char ctl[CMSG_SPACE(4 * sizeof(int))] = {0};
    struct iovec iov = {(void *)(uintptr_t)buf, len};
    struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1};
    struct dmacoh_vfio *s = NULL;
    int sv[2], r;

    T_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    if (nfds) {
        struct cmsghdr *c;

        h.msg_control = ctl;
        h.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    }
    T_EQ_INT(sendmsg(sv[0], &h, 0), (long long)len);
    close(sv[0]);
    r = attach_fake(sv[1], &s);
    close(sv[1]);
    if (r == 0)
        T_OK(dmacoh_vfio_close(s));
    else
        T_EQ_PTR(s, NULL);
    return r;
}

/* Each way a message can be wrong: its own error, a log line saying what, and every
 * descriptor that came closed again. */
static void attach_refuses_bad_messages(void)
{
    struct dmacoh_vfio *v, *s = NULL;
    struct raw m;
    unsigned char bad[1024];
    int fds3[3], swapped[2], before;
    char p[256];

    make_tree();
    T_OK(open_fake(&v, NULL));
    capture(v, &m);
    T_EQ_U64(m.len % 8, 0);
    memcpy(fds3, m.fds, sizeof(m.fds));
    fds3[2] = m.fds[0];
    swapped[0] = swapped[1] = m.fds[1];
    before = open_fds();
    /* The message as sent is accepted: the cases below fail for their one fault. */
    T_OK(attach_raw(m.buf, m.len, m.fds, 2));
    T_EQ_INT(open_fds(), before);

    T_ERR(attach_raw(m.buf, 10, m.fds, 2), DMACOH_EINVAL);
    T_ASSERT(t_log_find("the message is 10 bytes"));
    memcpy(bad, m.buf, m.len);
    bad[m.len] = 0;
    T_ERR(attach_raw(bad, m.len + 1, m.fds, 2), DMACOH_EINVAL); /* one byte too many */
    T_ASSERT(t_log_find("the message is 545 bytes, a VFIO hand-over is 544"));
    T_ERR(attach_raw(m.buf, m.len, m.fds, 0), DMACOH_EINVAL);
    T_ASSERT(t_log_find("carries 0 descriptors"));
    T_ERR(attach_raw(m.buf, m.len, m.fds, 1), DMACOH_EINVAL);
    T_ERR(attach_raw(m.buf, m.len, fds3, 3), DMACOH_EINVAL);
    T_ASSERT(t_log_find("carries 3 descriptors"));
    T_EQ_INT(open_fds(), before);

    memcpy(bad, m.buf, m.len);
    bad[0] ^= 0xff; /* the magic */
    T_ERR(attach_raw(bad, m.len, m.fds, 2), DMACOH_EINVAL);
    T_ASSERT(t_log_find("wrong magic"));
    memcpy(bad, m.buf, m.len);
    bad[4]++; /* the version */
    T_ERR(attach_raw(bad, m.len, m.fds, 2), DMACOH_EINVAL);
    T_ASSERT(t_log_find("version 2, this library speaks 1"));
    memcpy(bad, m.buf, m.len);
    bad[6] = 0x80; /* a flag nobody defined */
    T_ERR(attach_raw(bad, m.len, m.fds, 2), DMACOH_EINVAL);
    T_ASSERT(t_log_find("unknown flags"));
    memcpy(bad, m.buf, m.len);
    memcpy(bad + 8, "../../etc/passwd", 16); /* the PCI address, without its NUL */
    T_ERR(attach_raw(bad, m.len, m.fds, 2), DMACOH_EINVAL);
    T_ASSERT(t_log_find("not one like 0000:03:00.0"));
    memcpy(bad, m.buf, m.len);
    bad[24] = 17; /* nranges */
    T_ERR(attach_raw(bad, m.len, m.fds, 2), DMACOH_EINVAL);
    T_ASSERT(t_log_find("more ranges than a hand-over carries"));
    memcpy(bad, m.buf, m.len);
    memset(bad + 32, 0xff, 8); /* the first range starts at 2^64 - 1, above its end */
    T_ERR(attach_raw(bad, m.len, m.fds, 2), DMACOH_EINVAL);
    T_ASSERT(t_log_find("start lies above its end"));
    T_EQ_INT(open_fds(), before);

    /* Descriptors of the wrong kind. */
    T_ERR(attach_raw(m.buf, m.len, swapped, 2), DMACOH_ENODEV);
    T_ASSERT(t_log_find("the first descriptor is not a VFIO container"));
    swapped[0] = swapped[1] = m.fds[0];
    T_ERR(attach_raw(m.buf, m.len, swapped, 2), DMACOH_ENODEV);
    T_ASSERT(t_log_find("the second descriptor is not a VFIO PCI device"));
    F.iommu_unset = true;
    T_ERR(attach_raw(m.buf, m.len, m.fds, 2), DMACOH_ENODEV);
    T_ASSERT(t_log_find("has no IOMMU set"));
    F.iommu_unset = false;
    T_EQ_INT(open_fds(), before);

    /* The device behind the descriptor is not the one named. */
    snprintf(p, sizeof(p), "%s/bus/pci/devices/" BDF "/device", F.sysfs);
    t_put_file(p, "0x1110\n");
    T_ERR(attach_raw(m.buf, m.len, m.fds, 2), DMACOH_ENXIO);
    T_ASSERT(t_log_find("the device descriptor is 0x1234:0x11e8, but " BDF " is 0x1234:0x1110"));
    t_put_file(p, "0x11e8\n");
    memcpy(bad, m.buf, m.len);
    memcpy(bad + 8, OTHER, sizeof(OTHER)); /* a device with no sysfs resource file */
    T_ERR(attach_raw(bad, m.len, m.fds, 2), DMACOH_ENOENT);
    T_ASSERT(t_log_find(OTHER "/resource"));
    memcpy(bad + 8, "0000:00:09.0", 13); /* no such device */
    T_ERR(attach_raw(bad, m.len, m.fds, 2), DMACOH_ENOENT);
    T_EQ_INT(open_fds(), before);

    /* Not a socket; the other end gone; no out. */
    T_ERR(attach_fake(m.fds[0], &s), DMACOH_EINVAL);
    T_ASSERT(t_log_find("is not a socket"));
    T_ERR(attach_raw(m.buf, 0, m.fds, 0), DMACOH_EIO);
    T_ASSERT(t_log_find("closed socket"));
    T_ERR(dmacoh__vfio_attach_sys(0, NULL, &fake_sys, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_vfio_send_fds(NULL, 0), DMACOH_EINVAL);
    T_ERR(dmacoh_vfio_send_fds(v, m.fds[0]), DMACOH_EINVAL); /* not a socket */
    T_EQ_PTR(s, NULL);
    close(m.fds[0]);
    close(m.fds[1]);
    T_OK(dmacoh_vfio_close(v));
    remove_tree();
}

/* send_fds: more distinct declared ranges than a message carries is -ERANGE and holds
 * nothing; a socket whose other end is gone is -EIO, without SIGPIPE. */
static void send_refusals(void)
{
    struct dmacoh_vfio *v;
    struct dmacoh_device dev[17];
    char name[17][8];
    void *a;
    dmacoh_dma_addr_t h;
    int sv[2];

    make_tree();
    T_OK(open_fake(&v, NULL));
    for (unsigned i = 0; i < 17; i++) {
        snprintf(name[i], sizeof(name[i]), "d%u", i); /* a device keeps its name's pointer */
        T_OK(dmacoh_device_init(&dev[i], name[i], NULL, dmacoh_vfio_platform(v)));
        T_OK(dmacoh_declare_coherent_memory(&dev[i], BAR0 + 0x1000 * i, 0x100000 + 0x1000 * i,
                                            0x1000, DMACOH_MEMORY_IO, NULL, NULL));
    }
    T_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    T_ERR(dmacoh_vfio_send_fds(v, sv[0]), DMACOH_ERANGE);
    T_ASSERT(t_log_find("more than 16 device ranges are declared"));
    for (unsigned i = 0; i < 17; i++) {
        T_OK(dmacoh_release_coherent_memory(&dev[i], 0));
        if (i)
            T_OK(dmacoh_device_fini(&dev[i]));
    }
    T_OK(dmacoh_alloc_coherent(&dev[0], 4096, 0, 0, &a, &h));
    T_EQ_U64(h, 0x100000); /* nothing stayed held */
    T_OK(dmacoh_free_coherent(&dev[0], 4096, a, h));
    T_OK(dmacoh_device_fini(&dev[0]));
    close(sv[1]);
    T_ERR(dmacoh_vfio_send_fds(v, sv[0]), DMACOH_EIO);
    T_ASSERT(t_log_find("sending the descriptors on socket"));
    close(sv[0]);
    T_OK(dmacoh_vfio_close(v));
    remove_tree();
}

static const struct t_case cases[] = {
    T_CASE(opens_through_the_group_and_maps_a_bar),
    T_CASE(fallback_is_mapped_at_an_iova_and_unmapped_on_free),
    T_CASE(iova_ranges_and_dma_mask_are_respected),
    T_CASE(close_unmaps_everything),
    T_CASE(fallback_never_shares_a_handle_with_a_region),
    T_CASE(iova_base_at_the_top_of_the_space),
    T_CASE(capability_chain_stays_in_the_buffer),
    T_CASE(hugetlb_fallback),
    T_CASE(bus_master_is_set_in_config_space),
    T_CASE(declare_refusals),
    T_CASE(missing_module_and_permission),
    T_CASE(group_not_viable),
    T_CASE(not_bound_to_vfio_pci),
    T_CASE(no_iommu),
    T_CASE(iommu_type_refused_and_bad_addresses),
    T_CASE(attach_maps_bars_with_the_primarys_handles),
    T_CASE(attach_over_a_stream_and_hand_on),
    T_CASE(attach_refuses_bad_messages),
    T_CASE(send_refusals),
};

T_MAIN(cases)
