/* SPDX-License-Identifier: MIT */
/*
 * hostmem.c - system memory for DMA whose handle is the physical address from the page map.
 *
 * Memory comes in chunks: one ordinary page (mlocked) for allocations of at most a page, or
 * hugetlb pages for larger ones. Each chunk is a memfd (MFD_HUGETLB for huge chunks), mapped
 * once with MAP_POPULATE and locked, after which every page's frame number is read from the
 * page map and checked: present, non-zero (zero means the kernel hides it: not root), and
 * consecutive, so the chunk is one physically contiguous range. When the first mapping is not
 * congruent to the physical address modulo the chunk's power-of-two size, the memfd is mapped
 * again where it is (the same pages, so the frame numbers hold) and the first mapping goes.
 * The chunk is then a dmacoh_window at bus address = physical address: the core's allocator
 * gives the alignment promise, honours the DMA mask and checks frees. A chunk whose last
 * allocation is freed is unmapped at once, so huge pages are not held idle.
 *
 * One mutex guards the chunk list; allocations are rare next to declared memory and the
 * mapping work dominates. Declared memory, when opts.declared is given, goes to that
 * platform's map/unmap unchanged. Resource acquisition in new_chunk unwinds with goto labels.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create, MAP_POPULATE */
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err: a backend's errors reach the same log */

#include <dmacoh/hostmem.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004u
#endif

#define PM_PRESENT  (1ull << 63)
#define PM_PFN_MASK ((1ull << 55) - 1)

void (*dmacoh__hostmem_mapped_hook)(const void *cpu, size_t len);

struct chunk {
    struct chunk *next;
    struct dmacoh_window win;
    char *cpu;
    size_t len;
    void *meta;
    size_t meta_size;
};

struct dmacoh_hostmem {
    struct dmacoh_platform plat;
    struct dmacoh_platform *declared;
    char pagemap[PATH_MAX];
    bool no_hugetlb;
    uint64_t chunk_size;
    size_t page;
    pthread_mutex_t lock;
    struct chunk *chunks;
};

static uint64_t pow2_ceil(uint64_t v)
{
    uint64_t p = 1;

    while (p < v && p < ((uint64_t)1 << 62))
        p <<= 1;
    return p;
}

/* Reads n page-map entries starting with the page holding cpu. */
static int read_entries(const struct dmacoh_hostmem *hm, const void *cpu, uint64_t *e, size_t n)
{
    off_t off = (off_t)(((uintptr_t)cpu / hm->page) * sizeof(uint64_t));
    int fd = open(hm->pagemap, O_RDONLY | O_CLOEXEC), r = 0;
    ssize_t got;

    if (fd < 0) {
        r = (errno == EACCES || errno == EPERM) ? DMACOH_EACCES : -errno;
        dmacoh__err("hostmem: cannot open %s: %s%s", hm->pagemap, strerror(errno),
                    r == DMACOH_EACCES ? " (needs root, and a dumpable process)" : "");
        return r;
    }
    got = pread(fd, e, n * sizeof(*e), off);
    if (got != (ssize_t)(n * sizeof(*e))) {
        dmacoh__err("hostmem: %s: short read at %#llx", hm->pagemap, (unsigned long long)off);
        r = DMACOH_EIO;
    }
    close(fd);
    return r;
}

/* Checks one entry; returns its frame number through *pfn, or an error with a log line. */
static int entry_pfn(const struct dmacoh_hostmem *hm, uint64_t e, const void *cpu, uint64_t *pfn)
{
    if (!(e & PM_PRESENT)) {
        dmacoh__err("hostmem: page at %p is not present in RAM", cpu);
        return DMACOH_EFAULT;
    }
    *pfn = e & PM_PFN_MASK;
    if (*pfn == 0) {
        dmacoh__err("hostmem: %s hides physical addresses (frame numbers read 0): run as root "
                    "(CAP_SYS_ADMIN), or use the VFIO platform's IOVA fallback",
                    hm->pagemap);
        return DMACOH_EPERM;
    }
    return 0;
}

/* The physical address of [cpu, cpu + len) if it is one contiguous range, else an error. */
static int contiguous_phys(const struct dmacoh_hostmem *hm, const char *cpu, size_t len,
                           dmacoh_phys_addr_t *phys)
{
    size_t n = len / hm->page;
    uint64_t *e = calloc(n ? n : 1, sizeof(*e)), first = 0, pfn = 0;
    int r;

    if (!e)
        return DMACOH_ENOMEM;
    r = read_entries(hm, cpu, e, n);
    for (size_t i = 0; !r && i < n; i++) {
        r = entry_pfn(hm, e[i], cpu + i * hm->page, &pfn);
        if (!r && i == 0)
            first = pfn;
        if (!r && pfn != first + i) {
            dmacoh__err("hostmem: %zu bytes at %p are not physically contiguous (page %zu is "
                        "frame %#llx, not %#llx): refused",
                        len, (const void *)cpu, i, (unsigned long long)pfn,
                        (unsigned long long)(first + i));
            r = DMACOH_ENOMEM;
        }
    }
    free(e);
    *phys = first * hm->page;
    return r;
}

/* Maps the memfd of a new chunk, populated and locked. */
static int map_chunk(const struct dmacoh_hostmem *hm, int fd, size_t len, bool huge, char **cpu)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);

    if (p == MAP_FAILED) {
        int e = errno;

        if (huge)
            dmacoh__err("hostmem: no free huge pages for %zu bytes (%s): reserve some, e.g. "
                        "echo 16 > /proc/sys/vm/nr_hugepages",
                        len, strerror(e));
        else
            dmacoh__err("hostmem: mmap of %zu bytes failed: %s", len, strerror(e));
        return e == ENOMEM ? DMACOH_ENOMEM : -e;
    }
    if (mlock(p, len) != 0) {
        int e = errno;

        dmacoh__err("hostmem: cannot lock %zu bytes in RAM (%s): run as root or raise "
                    "RLIMIT_MEMLOCK (ulimit -l)",
                    len, strerror(e));
        munmap(p, len);
        return (e == EPERM || e == EAGAIN || e == ENOMEM) ? DMACOH_ENOMEM : -e;
    }
    (void)hm;
    *cpu = p;
    return 0;
}

/* Moves the chunk's mapping so that cpu is congruent to phys modulo pow2(len). */
static int place_congruent(int fd, size_t len, dmacoh_phys_addr_t phys, char **cpu)
{
    uint64_t cong = pow2_ceil(len);
    char *again;
    int r = 0;

    if ((((uintptr_t)*cpu) & (cong - 1)) == (phys & (cong - 1)))
        return 0;
    again = dmacoh__linux_map_congruent(fd, 0, len, 0, phys, cong, &r);
    if (!again)
        return r;
    if (mlock(again, len) != 0) {
        munmap(again, len);
        return DMACOH_ENOMEM;
    }
    munmap(*cpu, len);
    *cpu = again;
    return 0;
}

static void destroy_chunk(struct chunk *c)
{
    if (!c)
        return;
    (void)dmacoh_window_fini(&c->win);
    munmap(c->cpu, c->len);
    free(c->meta);
    free(c);
}

/* A new chunk of len bytes (one page, or whole chunk_size units), verified contiguous. */
static int new_chunk(struct dmacoh_hostmem *hm, size_t len, struct chunk **out)
{
    bool huge = len > hm->page && !hm->no_hugetlb;
    struct chunk *c = calloc(1, sizeof(*c));
    dmacoh_phys_addr_t phys = 0;
    int fd, r;

    if (!c)
        return DMACOH_ENOMEM;
    fd = memfd_create("dmacoh-hostmem", MFD_CLOEXEC | (huge ? MFD_HUGETLB : 0u));
    if (fd < 0 || ftruncate(fd, (off_t)len) != 0) {
        r = -errno;
        dmacoh__err("hostmem: memfd for %zu bytes%s: %s", len, huge ? " of huge pages" : "",
                    strerror(errno));
        goto out_close;
    }
    r = map_chunk(hm, fd, len, huge, &c->cpu);
    if (r)
        goto out_close;
    c->len = len;
    if (dmacoh__hostmem_mapped_hook)
        dmacoh__hostmem_mapped_hook(c->cpu, len);
    r = contiguous_phys(hm, c->cpu, len, &phys);
    if (!r)
        r = place_congruent(fd, len, phys, &c->cpu);
    if (r)
        goto out_unmap;
    c->meta_size = dmacoh_region_meta_size(len, DMACOH_PAGE_SIZE);
    c->meta = calloc(1, c->meta_size);
    r = c->meta ? 0 : DMACOH_ENOMEM;
    if (!r)
        r = dmacoh_window_init(&c->win, "hostmem", c->cpu, phys, len, 0, c->meta, c->meta_size);
    if (r)
        goto out_free_meta;
    close(fd);
    *out = c;
    return 0;
out_free_meta:
    free(c->meta);
out_unmap:
    munmap(c->cpu, len);
out_close:
    if (fd >= 0)
        close(fd);
    free(c);
    return r;
}

static struct chunk *chunk_of(struct dmacoh_hostmem *hm, const void *cpu, struct chunk ***link)
{
    struct chunk **l = &hm->chunks;

    for (; *l; l = &(*l)->next) {
        uintptr_t base = (uintptr_t)(*l)->cpu;

        if ((uintptr_t)cpu >= base && (uintptr_t)cpu - base < (*l)->len) {
            if (link)
                *link = l;
            return *l;
        }
    }
    return NULL;
}

static int hm_sys_alloc(void *ctx, const struct dmacoh_device *dev, uint64_t size, uint64_t align,
                        void **cpu, dmacoh_dma_addr_t *handle)
{
    struct dmacoh_hostmem *hm = (struct dmacoh_hostmem *)ctx;
    uint64_t mask = dmacoh_device_dma_mask(dev), len;
    struct chunk *c = NULL;
    int r = DMACOH_ENOMEM;

    (void)align; /* a window aligns each allocation to pow2(size) already */
    len = size <= hm->page ? hm->page : (size + hm->chunk_size - 1) & ~(hm->chunk_size - 1);
    if (len < size || len > SIZE_MAX)
        return DMACOH_ENOMEM;
    pthread_mutex_lock(&hm->lock);
    /* Single-page chunks are always full; only multi-page chunks have room to share. */
    for (c = hm->chunks; c && r && size > hm->page; c = c->next)
        if (c->len > hm->page)
            r = dmacoh_window_alloc(&c->win, size, mask, cpu, handle);
    if (r) {
        c = NULL;
        r = new_chunk(hm, (size_t)len, &c);
        if (!r && !c)
            r = DMACOH_EIO; /* cannot happen: new_chunk sets c when it succeeds */
        if (!r) {
            r = dmacoh_window_alloc(&c->win, size, mask, cpu, handle);
            if (r == DMACOH_ERANGE)
                dmacoh__err("hostmem: memory at physical %#llx is above %s's DMA mask %#llx",
                            (unsigned long long)c->win.bus, dmacoh_device_name(dev),
                            (unsigned long long)mask);
            if (r) {
                destroy_chunk(c);
            } else {
                c->next = hm->chunks;
                hm->chunks = c;
            }
        }
    }
    pthread_mutex_unlock(&hm->lock);
    return r;
}

static int hm_sys_free(void *ctx, const struct dmacoh_device *dev, void *cpu, uint64_t size,
                       dmacoh_dma_addr_t handle)
{
    struct dmacoh_hostmem *hm = (struct dmacoh_hostmem *)ctx;
    struct chunk *c, **link = NULL;
    int r = DMACOH_EFAULT;

    (void)dev;
    pthread_mutex_lock(&hm->lock);
    c = chunk_of(hm, cpu, &link);
    if (c)
        r = dmacoh_window_free(&c->win, cpu, size, handle);
    if (!r && dmacoh_window_live(&c->win) == 0) {
        *link = c->next;
        destroy_chunk(c);
    }
    pthread_mutex_unlock(&hm->lock);
    return r;
}

static dmacoh_dma_addr_t hm_virt_to_dma(void *ctx, const struct dmacoh_device *dev, const void *cpu)
{
    struct dmacoh_hostmem *hm = (struct dmacoh_hostmem *)ctx;
    dmacoh_dma_addr_t d = DMACOH_BAD_DMA_ADDR;
    const struct chunk *c;

    (void)dev;
    pthread_mutex_lock(&hm->lock);
    c = chunk_of(hm, cpu, NULL);
    if (c)
        d = dmacoh_window_virt_to_dma(&c->win, cpu);
    pthread_mutex_unlock(&hm->lock);
    return d;
}

static void *hm_dma_to_virt(void *ctx, const struct dmacoh_device *dev, dmacoh_dma_addr_t dma)
{
    struct dmacoh_hostmem *hm = (struct dmacoh_hostmem *)ctx;
    void *p = NULL;

    (void)dev;
    pthread_mutex_lock(&hm->lock);
    for (const struct chunk *c = hm->chunks; c && !p; c = c->next)
        if (dma >= c->win.bus && dma - c->win.bus < c->len)
            p = dmacoh_window_dma_to_virt(&c->win, dma);
    pthread_mutex_unlock(&hm->lock);
    return p;
}

static int hm_map(void *ctx, dmacoh_phys_addr_t bus, uint64_t size, dmacoh_dma_addr_t device_addr,
                  uint64_t congruence, int want, struct dmacoh_mapping *out)
{
    struct dmacoh_hostmem *hm = (struct dmacoh_hostmem *)ctx;

    if (!hm->declared) {
        dmacoh__err("hostmem: no platform for declared memory was given (opts.declared)");
        return DMACOH_ENODEV;
    }
    /* want as asked, DMACOH_MAP_MULTIPROCESS included: the declared platform claims. */
    return hm->declared->ops->map(hm->declared->ctx, bus, size, device_addr, congruence, want, out);
}

static void hm_unmap(void *ctx, struct dmacoh_mapping *m, uint64_t size)
{
    struct dmacoh_hostmem *hm = (struct dmacoh_hostmem *)ctx;

    hm->declared->ops->unmap(hm->declared->ctx, m, size);
}

static const struct dmacoh_platform_ops hostmem_ops = {
    .name = "hostmem",
    .map = hm_map,
    .unmap = hm_unmap,
    .sys_alloc = hm_sys_alloc,
    .sys_free = hm_sys_free,
    .sys_virt_to_dma = hm_virt_to_dma,
    .sys_dma_to_virt = hm_dma_to_virt,
    DMACOH__LINUX_SERVICE_OPS,
};

int dmacoh_hostmem_open(const struct dmacoh_hostmem_opts *opts, struct dmacoh_hostmem **out)
{
    const char *pm = (opts && opts->pagemap_path) ? opts->pagemap_path : "/proc/self/pagemap";
    struct dmacoh_hostmem *hm;
    int r;

    if (!out) {
        dmacoh__err("hostmem create: out is NULL");
        return DMACOH_EINVAL;
    }
    hm = calloc(1, sizeof(*hm));
    if (!hm)
        return DMACOH_ENOMEM;
    hm->page = (size_t)sysconf(_SC_PAGESIZE);
    hm->chunk_size = (opts && opts->chunk_size) ? opts->chunk_size : (2u << 20);
    hm->no_hugetlb = opts && opts->no_hugetlb;
    hm->declared = opts ? opts->declared : NULL;
    if ((hm->chunk_size & (hm->chunk_size - 1)) || hm->chunk_size < hm->page ||
        (size_t)snprintf(hm->pagemap, sizeof(hm->pagemap), "%s", pm) >= sizeof(hm->pagemap)) {
        dmacoh__err("hostmem open: chunk size %#llx is not a power of two of at least a page, "
                    "or the page map path is too long",
                    (unsigned long long)hm->chunk_size);
        free(hm);
        return DMACOH_EINVAL;
    }
    r = dmacoh_platform_init(&hm->plat, &hostmem_ops, hm);
    if (r) {
        free(hm);
        return r;
    }
    pthread_mutex_init(&hm->lock, NULL);
    *out = hm;
    return 0;
}

int dmacoh_hostmem_close(struct dmacoh_hostmem *hm)
{
    int r;

    if (!hm)
        return 0;
    if (hm->chunks) {
        dmacoh__err("hostmem close: system memory is still handed out");
        return DMACOH_EBUSY;
    }
    r = dmacoh_platform_fini(&hm->plat);
    if (r)
        return r;
    pthread_mutex_destroy(&hm->lock);
    free(hm);
    return 0;
}

struct dmacoh_platform *dmacoh_hostmem_platform(struct dmacoh_hostmem *hm)
{
    return hm ? &hm->plat : NULL;
}

int dmacoh_hostmem_phys(struct dmacoh_hostmem *hm, const void *cpu, dmacoh_phys_addr_t *phys)
{
    uint64_t e = 0, pfn = 0;
    int r;

    if (!hm || !cpu || !phys)
        return DMACOH_EINVAL;
    r = read_entries(hm, cpu, &e, 1);
    if (!r)
        r = entry_pfn(hm, e, cpu, &pfn);
    if (!r)
        *phys = pfn * hm->page + ((uintptr_t)cpu & (hm->page - 1));
    return r;
}
