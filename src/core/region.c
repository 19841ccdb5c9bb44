/* SPDX-License-Identifier: MIT */
/*
 * region.c - declaring, releasing, occupying, translating and checking regions.
 *
 * A declared range is a pool: the platform's mapping, the allocator state (pages.c) and the
 * counters, in one block of metadata memory from the caller or the platform, never in the
 * device memory. A device points at its pool; devices that declare the same shared range
 * point at the same pool (refcounted). Each platform keeps the list of its pools so that
 * overlapping declarations are refused (design.md rule 2). Declare and release hold the platform
 * lock throughout, including the platform's map/unmap: they are rare, and this keeps two
 * racing declarations from both passing the overlap check.
 */
#include "internal.h"
#include "lock.h"
#include <dmacoh/shared.h>
#include <dmacoh/debug.h>

/* The CPU-pointer congruence asked of the platform is capped at 1 TiB: aligning a 4 TiB
 * region's mapping to 4 TiB would need 8 TiB of address space. DEVIATION(kernel): the kernel
 * makes no CPU-pointer promise at all; ours holds for allocations up to 1 TiB. */
#define CONGRUENCE_MAX ((uint64_t)1 << 40)

uint32_t dmacoh__release_epoch;
static uint64_t region_ids;

uint64_t dmacoh__pool_meta_size(uint64_t size, unsigned gshift)
{
    uint64_t pa = dmacoh__pa_state_size(size >> gshift);

    if (pa == 0 || pa > UINT64_MAX - sizeof(struct dmacoh__pool) - 8 * (size >> gshift >> 6) - 8)
        return 0;
    /* The clean bitmap follows the allocator state: one bit per group of granules. */
    pa = (pa + 7) & ~(uint64_t)7;
    return sizeof(struct dmacoh__pool) - sizeof(struct dmacoh__pa) + pa +
           8 * dmacoh__clean_words(size >> gshift);
}

size_t dmacoh_region_meta_size(uint64_t size, uint64_t granule)
{
    uint64_t m;

    if (!dmacoh__is_pow2(granule) || granule < DMACOH_GRANULE_MIN || granule > DMACOH_GRANULE_MAX ||
        size == 0 || (size & (granule - 1)))
        return 0;
    m = dmacoh__pool_meta_size(size, dmacoh__log2(granule));
    return m > SIZE_MAX ? 0 : (size_t)m;
}

/* Argument checks of declare that need no lock. */
static int check_declare(const struct dmacoh_device *dev, dmacoh_phys_addr_t bus,
                         dmacoh_dma_addr_t daddr, uint64_t size, int flags,
                         const struct dmacoh_declare_opts *o, uint64_t granule)
{
    const char *n = dev->name;

    if (!(flags & (DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO)) || (flags & ~DMACOH_MEMORY_ALL_FLAGS)) {
        dmacoh__err("declare on '%s': flags %#x need MAP and/or IO and no unknown bits", n,
                    (unsigned)flags);
        return DMACOH_EINVAL;
    }
    if (!dmacoh__is_pow2(granule) || granule < DMACOH_GRANULE_MIN || granule > DMACOH_GRANULE_MAX) {
        dmacoh__err("declare on '%s': granule %#llx is not a power of two in [16, 2 MiB]", n,
                    (unsigned long long)granule);
        return DMACOH_EINVAL;
    }
    if (o && o->io_width != 0 && o->io_width != 1 && o->io_width != 2 && o->io_width != 4 &&
        o->io_width != 8) {
        dmacoh__err("declare on '%s': io_width %u is not 0, 1, 2, 4 or 8", n, o->io_width);
        return DMACOH_EINVAL;
    }
    if (o && ((o->align_cap && (!dmacoh__is_pow2(o->align_cap) || o->align_cap < granule)) ||
              (o->placement != DMACOH_PLACE_BEST_FIT && o->placement != DMACOH_PLACE_FIRST_FIT))) {
        dmacoh__err("declare on '%s': align_cap %#llx is not 0 or a power of two >= the granule, "
                    "or placement %u is unknown",
                    n, (unsigned long long)o->align_cap, o->placement);
        return DMACOH_EINVAL;
    }
    if (size == 0 || (size & (granule - 1))) {
        dmacoh__err("declare on '%s': size %#llx is not a non-zero multiple of the granule %#llx",
                    n, (unsigned long long)size, (unsigned long long)granule);
        return DMACOH_EINVAL;
    }
    if ((bus | daddr) & (granule - 1)) {
        dmacoh__err("declare on '%s': bus %#llx or device address %#llx is not aligned to %#llx", n,
                    (unsigned long long)bus, (unsigned long long)daddr,
                    (unsigned long long)granule);
        return DMACOH_EINVAL;
    }
    if (bus + (size - 1) < bus || daddr + (size - 1) < daddr) {
        dmacoh__err("declare on '%s': range of %#llx bytes wraps past 2^64", n,
                    (unsigned long long)size);
        return DMACOH_ERANGE;
    }
    if (daddr + (size - 1) > dev->dma_mask) {
        dmacoh__err("declare on '%s': device range ends above the DMA mask %#llx", n,
                    (unsigned long long)dev->dma_mask);
        return DMACOH_ERANGE;
    }
    return 0;
}

/* With the platform lock held: 1 if dev may join an existing identical shared pool (set in
 * *found), 0 if no pool overlaps, or -DMACOH_EBUSY. */
static int find_overlap(struct dmacoh_platform *p, dmacoh_phys_addr_t bus, dmacoh_dma_addr_t daddr,
                        uint64_t size, unsigned gshift, struct dmacoh__pool **found)
{
    for (struct dmacoh__pool *q = p->pools; q; q = q->next) {
        if (bus + (size - 1) < q->bus || q->bus + (q->size - 1) < bus)
            continue;
        if (q->shared && q->bus == bus && q->size == size && q->dev_base == daddr &&
            q->gshift == gshift) {
            *found = q;
            return 1;
        }
        return DMACOH_EBUSY;
    }
    return 0;
}

/* Takes the region lock with the per-thread caches drained and held, so the allocator state
 * is exact and stays so until unlock_exact. */
static void lock_exact(struct dmacoh__pool *pool)
{
    (void)dmacoh__pool_lock(pool);
    dmacoh__tc_hold(pool);
}

static void unlock_exact(struct dmacoh__pool *pool)
{
    dmacoh__tc_unhold(pool);
    dmacoh__pool_unlock(pool);
}

static unsigned pick_width(unsigned asked, unsigned platform)
{
    unsigned w = platform ? platform : 8u;

    return (asked && asked < w) ? asked : w;
}

/* Whether the region's pointers are IO cookies (debug mode) rather than its mapping's. */
static bool has_cookies(const struct dmacoh__pool *pool)
{
    return pool->cpu != (char *)pool->map.cpu;
}

/* Gives a fresh IO region cookies (debug mode): reserves address space that faults, congruent
 * to the device addresses, and registers it with the delta to the mapping; on success
 * pool->cpu points into it and pool->io_slot is its slot. When either step fails the region
 * keeps its mapping's addresses, as outside debug mode, and a warning says so. Platform lock
 * held. */
static void use_cookies(const struct dmacoh_device *dev, struct dmacoh__pool *pool,
                        dmacoh_dma_addr_t daddr, uint64_t cong)
{
    const struct dmacoh_platform *p = dev->platform;
    void *at = NULL;
    int r;

    if (!p->ops->reserve) {
        dmacoh__warn("declare on '%s': platform '%s' cannot make faulting addresses; IO "
                     "cookies are not enforced for this region",
                     dev->name, p->ops->name);
        return;
    }
    r = p->ops->reserve(p->ctx, pool->size, daddr, cong, &at);
    if (r) {
        dmacoh__warn("declare on '%s': no address space for IO cookies (%s); they are not "
                     "enforced for this region",
                     dev->name, dmacoh_strerror(r));
        return;
    }
    if (!at || (((uint64_t)(uintptr_t)at - daddr) & (cong - 1))) {
        dmacoh__err("declare on '%s': platform '%s' reserved address space that breaks its "
                    "contract",
                    dev->name, p->ops->name);
        if (at)
            p->ops->unreserve(p->ctx, at, pool->size);
        return;
    }
    r = dmacoh__io_register(at, pool->size, pool->io_width, pool->map.cpu);
    if (r < 0) {
        dmacoh__warn("declare on '%s': IO cookies are not enforced for this region: %s", dev->name,
                     r == DMACOH_EBUSY ? "the reserved range overlaps a registered one"
                                       : "the IO registry is full");
        p->ops->unreserve(p->ctx, at, pool->size);
        return;
    }
    pool->cpu = (char *)at;
    pool->io_slot = r;
}

/* Places the clean bitmap after the allocator state: every group clean when the platform
 * says the memory reads zero, none otherwise. */
static void init_clean(struct dmacoh__pool *pool, uint64_t ng)
{
    uint64_t nw = dmacoh__clean_words(ng), ngr = dmacoh__clean_groups(ng);
    uint64_t at = (dmacoh__pa_state_size(ng) + 7) & ~(uint64_t)7;

    pool->clean = (uint64_t *)(void *)((char *)&pool->pa_own + at);
    for (uint64_t k = 0; k < nw; k++)
        pool->clean[k] = pool->map.zeroed ? ~(uint64_t)0 : 0;
    if (pool->map.zeroed && (ngr & 63))
        pool->clean[nw - 1] = ((uint64_t)1 << (ngr & 63)) - 1;
    pool->nclean = pool->map.zeroed ? ng : 0;
}

/* Maps the range and fills in a fresh pool at meta. Platform lock held. */
static int map_pool(struct dmacoh_device *dev, struct dmacoh__pool *pool, dmacoh_phys_addr_t bus,
                    dmacoh_dma_addr_t daddr, uint64_t size, int flags, bool cookies,
                    unsigned gshift, unsigned asked_width)
{
    struct dmacoh_platform *p = dev->platform;
    uint64_t cong = dmacoh__pow2_ceil(size);
    int want = flags & (DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO), r;

    if (pool->shm)
        want |= DMACOH_MAP_MULTIPROCESS;

    if (cong == 0 || cong > CONGRUENCE_MAX)
        cong = CONGRUENCE_MAX;
    pool->map.cpu = NULL;
    pool->map.mode = 0;
    pool->map.shared = false;
    pool->map.io_width = 0;
    pool->map.priv = NULL;
    pool->map.ram = false;
    pool->map.zeroed = false;
    r = p->ops->map(p->ctx, bus, size, daddr, cong, want, &pool->map);
    want &= DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO;
    if (r) {
        dmacoh__err("declare on '%s': platform '%s' could not map bus %#llx+%#llx: %s", dev->name,
                    p->ops->name, (unsigned long long)bus, (unsigned long long)size,
                    dmacoh_strerror(r));
        return r;
    }
    if (!(pool->map.mode & want) ||
        (pool->map.mode != DMACOH_MEMORY_MAP && pool->map.mode != DMACOH_MEMORY_IO) ||
        (((uint64_t)(uintptr_t)pool->map.cpu - daddr) & (cong - 1))) {
        dmacoh__err("declare on '%s': platform '%s' returned a mapping that breaks its contract",
                    dev->name, p->ops->name);
        p->ops->unmap(p->ctx, &pool->map, size);
        return DMACOH_EIO;
    }
    pool->magic = DMACOH__POOL_MAGIC;
    pool->lock = 0;
    if (!pool->shm) {
        pool->seq_own = pool->waiters_own = 0;
        pool->seq = &pool->seq_own;
        pool->waiters = &pool->waiters_own;
        pool->pa = &pool->pa_own;
        dmacoh__pa_init(pool->pa, size >> gshift, daddr >> gshift);
        init_clean(pool, size >> gshift);
    } else {
        pool->clean = NULL; /* shared regions do not track clean memory */
        pool->nclean = 0;
    }
    pool->scrub_at = 0;
    pool->refs = 1;
    pool->id = __atomic_add_fetch(&region_ids, 1u, __ATOMIC_RELAXED);
    pool->mode = pool->map.mode;
    pool->io_width = pick_width(asked_width, pool->map.io_width);
    pool->gshift = gshift;
    pool->shared = pool->map.shared;
    pool->bus = bus;
    pool->dev_base = daddr;
    pool->size = size;
    pool->cpu = (char *)pool->map.cpu;
    pool->plat = p;
    pool->allocs = pool->frees = pool->failures = pool->fallbacks = 0;
    pool->align_cap_g = 0;
    pool->tc_ok = p->ops->thread_slot != NULL && !pool->shm; /* blocks parked by a process
                                                                 that dies would be lost */
    pool->tc_on = 0;
    for (unsigned i = 0; i < DMACOH__TC_SLOTS; i++) {
        pool->tc[i].lock = pool->tc[i].count = 0;
        pool->tc[i].allocs = pool->tc[i].frees = 0;
    }
    pool->io_slot = -1;
    if (pool->mode == DMACOH_MEMORY_IO && cookies)
        use_cookies(dev, pool, daddr, cong);
    if (pool->io_width < 8 && pool->io_slot < 0) {
        r = dmacoh__io_register(pool->cpu, size, pool->io_width, pool->cpu);
        if (r < 0) {
            dmacoh__err("declare on '%s': too many regions with an IO width cap or IO cookies",
                        dev->name);
            p->ops->unmap(p->ctx, &pool->map, size);
            return DMACOH_ENOMEM;
        }
        pool->io_slot = r;
    }
    /* Not in a shared region: this process may touch blocks that others allocated. */
    pool->track = pool->map.ram && !has_cookies(pool) && !pool->shm;
    if (pool->track) {
        DMACOH__TRACK_FREE(pool->cpu, size);        /* nothing is handed out yet */
        DMACOH__TRACK_ALLOC(pool, pool->meta_size); /* metadata carved from it stays usable */
    }
    return 0;
}

/* Gets metadata storage: the caller's, or the platform's. */
static struct dmacoh__pool *get_meta(struct dmacoh_device *dev, const struct dmacoh_declare_opts *o,
                                     uint64_t need, int *err)
{
    struct dmacoh_platform *p = dev->platform;
    struct dmacoh__pool *pool;

    if (need == 0 || need > SIZE_MAX) {
        dmacoh__err("declare on '%s': too many granules to track", dev->name);
        *err = DMACOH_EOVERFLOW;
        return NULL;
    }
    if (o && o->meta) {
        if (o->meta_size < need || ((uintptr_t)o->meta & 7u)) {
            dmacoh__err("declare on '%s': metadata storage needs %#llx bytes, 8-aligned", dev->name,
                        (unsigned long long)need);
            *err = DMACOH_EINVAL;
            return NULL;
        }
        pool = (struct dmacoh__pool *)o->meta;
        pool->own_meta = false;
    } else {
        pool = p->ops->meta_alloc ? (struct dmacoh__pool *)p->ops->meta_alloc(p->ctx, (size_t)need)
                                  : NULL;
        if (!pool) {
            dmacoh__err("declare on '%s': no metadata memory (%#llx bytes)", dev->name,
                        (unsigned long long)need);
            *err = DMACOH_ENOMEM;
            return NULL;
        }
        pool->own_meta = true;
    }
    pool->meta_size = (size_t)need;
    return pool;
}

static void put_meta(struct dmacoh_platform *p, struct dmacoh__pool *pool)
{
    if (pool->own_meta)
        p->ops->meta_free(p->ctx, pool, pool->meta_size);
}

static int join_shared(struct dmacoh_device *dev, struct dmacoh__pool *q, int flags)
{
    if (!(q->mode & flags)) {
        dmacoh__err("declare on '%s': shared range was granted %s, which was not asked", dev->name,
                    q->mode == DMACOH_MEMORY_MAP ? "MAP" : "IO");
        return DMACOH_ENOTSUP;
    }
    q->refs++;
    return 0;
}

/* Declares a private region, or with `share` a shared one (shared.c holds its state). */
static int declare(struct dmacoh_device *dev, const char *name, dmacoh_phys_addr_t bus_addr,
                   dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                   const struct dmacoh_declare_opts *opts, int *granted, bool cookies,
                   const struct dmacoh_share_opts *share)
{
    uint64_t granule = (opts && opts->granule) ? opts->granule : DMACOH_PAGE_SIZE;
    struct dmacoh__pool *pool = NULL;
    struct dmacoh_platform *p;
    unsigned gshift;
    int r;

    if (!dmacoh__device_ok(dev)) {
        dmacoh__err("declare: not an initialised device");
        return DMACOH_EINVAL;
    }
    r = check_declare(dev, bus_addr, device_addr, size, flags, opts, granule);
    if (r)
        return r;
    r = dmacoh__list_room(dev, name, device_addr, size);
    if (r)
        return r;
    gshift = dmacoh__log2(granule);
    p = dev->platform;
    dmacoh__lock(&p->lock, p);
    r = find_overlap(p, bus_addr, device_addr, size, gshift, &pool);
    if (r == 1) { /* never one of dev's own: dmacoh__list_room refused the device range */
        r = join_shared(dev, pool, flags);
    } else if (r == 0) {
        pool =
            get_meta(dev, opts,
                     share ? dmacoh_shared_meta_size() : dmacoh__pool_meta_size(size, gshift), &r);
        if (pool) {
            pool->shm = NULL;
            pool->sp = share ? (struct dmacoh__shproc *)(void *)(pool + 1) : NULL;
            if (share)
                r = dmacoh__shm_attach(dev, pool, bus_addr, device_addr, size, gshift, opts, share);
            if (r == 0)
                r = map_pool(dev, pool, bus_addr, device_addr, size, flags, cookies, gshift,
                             opts ? opts->io_width : 0);
            if (r == 0 && opts) {
                pool->align_cap_g = opts->align_cap >> gshift;
                if (!share) /* a shared region's creator set it */
                    pool->pa->always_first_fit = opts->placement == DMACOH_PLACE_FIRST_FIT;
                pool->tc_ok = pool->tc_ok && !pool->pa->always_first_fit;
            }
            if (r) {
                if (pool->shm)
                    dmacoh__shm_detach(pool, share ? share->name : NULL);
                put_meta(p, pool);
            } else {
                pool->next = p->pools;
                p->pools = pool;
            }
        }
    } else {
        dmacoh__err("declare on '%s': bus %#llx+%#llx overlaps another region", dev->name,
                    (unsigned long long)bus_addr, (unsigned long long)size);
    }
    dmacoh__unlock(&p->lock);
    if (r)
        return r;
    if (!pool) /* never: both paths that leave r == 0 set it (said for the static analyzer) */
        return DMACOH_EIO;
    dmacoh__list_add(dev, name, pool,
                     (flags & ~(DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO)) | pool->mode);
    if (granted)
        *granted = pool->mode;
    return 0;
}

int dmacoh__declare(struct dmacoh_device *dev, const char *name, dmacoh_phys_addr_t bus_addr,
                    dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                    const struct dmacoh_declare_opts *opts, int *granted, bool cookies)
{
    return declare(dev, name, bus_addr, device_addr, size, flags, opts, granted, cookies, NULL);
}

int dmacoh__declare_shared(struct dmacoh_device *dev, dmacoh_phys_addr_t bus_addr,
                           dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                           const struct dmacoh_declare_opts *opts,
                           const struct dmacoh_share_opts *share, int *granted)
{
    const char *n = dmacoh__device_ok(dev) ? dev->name : "?";

    if (!share || dmacoh__shm_name_ok(share->name)) {
        dmacoh__err("declare shared on '%s': %s", n,
                    !share ? "share is NULL"
                           : "the name must be 1 to 64 of [A-Za-z0-9._-], not starting with a dot");
        return DMACOH_EINVAL;
    }
    if ((share->flags &
         ~(unsigned)(DMACOH_SHARE_CREATE | DMACOH_SHARE_ATTACH | DMACOH_SHARE_RESET_ON_DEATH)) ||
        share->max_procs > 254) {
        dmacoh__err("declare shared on '%s': unknown flags %#x, or max_procs %u above 254", n,
                    share->flags, share->max_procs);
        return DMACOH_EINVAL;
    }
    if (dmacoh__device_ok(dev) && !dmacoh__shm_ops(dev->platform)) {
        dmacoh__err("declare shared on '%s': platform '%s' has no shared-state objects", n,
                    dev->platform->ops->name);
        return DMACOH_ENOTSUP;
    }
    return declare(dev, NULL, bus_addr, device_addr, size, flags, opts, granted, false, share);
}

/* Allocations of this process outstanding in pool. Platform lock held. */
static uint64_t outstanding(struct dmacoh__pool *pool)
{
    uint64_t live;

    if (pool->shm)
        return dmacoh__shm_own_blocks(pool); /* other processes' do not count */
    lock_exact(pool); /* blocks in the per-thread caches are not outstanding */
    live = pool->pa->live;
    unlock_exact(pool);
    return live;
}

/* Drops region i of dev's list, whose `live` allocations become invalid. Platform lock held. */
static void drop(struct dmacoh_device *dev, unsigned i, uint64_t live)
{
    struct dmacoh_platform *p = dev->platform;
    int f;
    struct dmacoh__pool *pool = dmacoh__dev_region(dev, i, &f);

    if (!pool) /* never: i < dev->nregions (said for the static analyzer) */
        return;
    if (live)
        dmacoh__warn("release on '%s': %llu outstanding allocations%s%s%s become invalid%s",
                     dev->name, (unsigned long long)live,
                     dmacoh__region_name(dev, i)[0] ? " of '" : "", dmacoh__region_name(dev, i),
                     dmacoh__region_name(dev, i)[0] ? "'" : "",
                     pool->shm ? " (quarantined in the shared region until reaped)" : "");
    if (--pool->refs == 0) {
        struct dmacoh__pool **pp = &p->pools;

        while (*pp != pool)
            pp = &(*pp)->next;
        *pp = pool->next;
        dmacoh__io_unregister(pool->io_slot);
        if (pool->track)
            DMACOH__TRACK_ALLOC(pool->cpu, pool->size);
        if (has_cookies(pool))
            p->ops->unreserve(p->ctx, pool->cpu, pool->size);
        p->ops->unmap(p->ctx, &pool->map, pool->size);
        if (pool->shm)
            dmacoh__shm_detach(pool, NULL);
        pool->magic = 0;
        put_meta(p, pool);
    }
    dmacoh__list_remove(dev, i);
}

int dmacoh__release(struct dmacoh_device *dev, const char *name, unsigned flags)
{
    struct dmacoh_platform *p;
    uint64_t live[DMACOH_REGIONS_MAX];
    unsigned lo = 0, hi;
    int f;

    if (!dmacoh__device_ok(dev) || (flags & ~(unsigned)DMACOH_RELEASE_FORCE)) {
        dmacoh__err("release: not an initialised device, or unknown flags %#x", flags);
        return DMACOH_EINVAL;
    }
    if (!dev->pool) {
        /* Not an error line: the RFC's release of a device without a region does nothing. */
        dmacoh__info("release on '%s': no region declared, nothing released", dev->name);
        return DMACOH_ENODEV;
    }
    hi = dev->nregions;
    if (name) {
        int i = dmacoh__region_index(dev, name);

        if (i < 0)
            return i;
        lo = (unsigned)i;
        hi = lo + 1;
    }
    p = dev->platform;
    dmacoh__lock(&p->lock, p);
    for (unsigned i = lo; i < hi; i++) {
        struct dmacoh__pool *pool = dmacoh__dev_region(dev, i, &f);

        live[i] = pool ? outstanding(pool) : 0; /* never NULL: i < dev->nregions */
        if (live[i] && !(flags & DMACOH_RELEASE_FORCE)) {
            dmacoh__unlock(&p->lock);
            dmacoh__err("release on '%s': %llu allocations%s%s%s%s are outstanding", dev->name,
                        (unsigned long long)live[i], dmacoh__region_name(dev, i)[0] ? " of '" : "",
                        dmacoh__region_name(dev, i), dmacoh__region_name(dev, i)[0] ? "'" : "",
                        pool && pool->shm ? " of this process" : "");
            return DMACOH_EBUSY;
        }
    }
    for (unsigned i = hi; i-- > lo;)
        drop(dev, i, live[i]);
    dmacoh__unlock(&p->lock);
    return 0;
}

int dmacoh_mark_declared_memory_occupied(struct dmacoh_device *dev, dmacoh_dma_addr_t device_addr,
                                         uint64_t size, void **cpu)
{
    struct dmacoh__pool *pool;
    uint64_t off, first, last;
    int r, f;

    if (!dmacoh__device_ok(dev) || size == 0 || !cpu) {
        dmacoh__err("mark occupied: bad device, size 0 or cpu NULL");
        return DMACOH_EINVAL;
    }
    pool = dev->pool;
    if (!pool) {
        dmacoh__err("mark occupied on '%s': no region of its own", dev->name);
        return DMACOH_ENODEV;
    }
    /* The region of dev's list whose device range holds device_addr (the device ranges of a
     * list never meet); the first when none does, for the error below. */
    for (unsigned i = 1; i < dev->nregions; i++) {
        struct dmacoh__pool *q = dmacoh__dev_region(dev, i, &f);

        if (q && device_addr >= q->dev_base && device_addr - q->dev_base < q->size)
            pool = q;
    }
    off = device_addr - pool->dev_base;
    if (device_addr < pool->dev_base || off >= pool->size || size > pool->size - off) {
        dmacoh__err("mark occupied on '%s': %#llx+%#llx is not inside one of its regions",
                    dev->name, (unsigned long long)device_addr, (unsigned long long)size);
        return DMACOH_ERANGE;
    }
    first = off >> pool->gshift;
    last = (off + size - 1) >> pool->gshift;
    lock_exact(pool);
    r = dmacoh__pa_reserve(pool->pa, first, last - first + 1);
    if (r == 0)
        (void)dmacoh__clean_clear(pool, first, last - first + 1); /* the device writes it */
    if (r == 0 && pool->track)
        DMACOH__TRACK_ALLOC(pool->cpu + (first << pool->gshift), (last - first + 1)
                                                                     << pool->gshift);
    unlock_exact(pool);
    if (r) {
        dmacoh__err("mark occupied on '%s': %#llx+%#llx is already in use", dev->name,
                    (unsigned long long)device_addr, (unsigned long long)size);
        return r;
    }
    *cpu = pool->cpu + off;
    return 0;
}

/* Fills *st for pool, declared with flags f. */
static void fill_stats(struct dmacoh__pool *pool, int f, struct dmacoh_region_stats *st)
{
    unsigned g = pool->gshift;

    lock_exact(pool);
    st->bus_base = pool->bus;
    st->device_base = pool->dev_base;
    st->size = pool->size;
    st->granule = (uint64_t)1 << g;
    st->flags = f;
    st->mode = pool->mode;
    st->io_width = pool->io_width;
    st->sharers = pool->refs;
    st->in_use = pool->pa->used << g;
    st->peak = pool->pa->peak << g;
    st->occupied = pool->pa->occupied << g;
    st->largest_free = dmacoh__pa_largest_free(pool->pa) << g;
    st->live = pool->pa->live;
    st->allocs = pool->allocs;
    st->frees = pool->frees;
    st->failures = pool->failures;
    st->fallbacks = pool->fallbacks;
    unlock_exact(pool);
}

int dmacoh_region_get_stats(const struct dmacoh_device *dev, struct dmacoh_region_stats *st)
{
    if (!dmacoh__device_ok(dev) || !st)
        return DMACOH_EINVAL;
    if (!dev->pool)
        return DMACOH_ENODEV;
    fill_stats(dev->pool, dev->region_flags, st);
    return 0;
}

int dmacoh_region_get_stats_at(const struct dmacoh_device *dev, unsigned index,
                               struct dmacoh_region_stats *st, const char **name)
{
    struct dmacoh__pool *pool;
    int f;

    if (!dmacoh__device_ok(dev) || !st) {
        dmacoh__err("region stats: %s", !st ? "st is NULL" : "not an initialised device");
        return DMACOH_EINVAL;
    }
    pool = index < DMACOH_REGIONS_MAX ? dmacoh__dev_region(dev, index, &f) : NULL;
    if (!pool)
        return DMACOH_ENOENT; /* the end of an enumeration: no log line */
    fill_stats(pool, f, st);
    if (name)
        *name = dmacoh__region_name(dev, index);
    return 0;
}

int dmacoh_default_memory_get_stats(const struct dmacoh_platform *p, struct dmacoh_region_stats *st)
{
    if (!dmacoh__platform_ok(p) || !st) {
        dmacoh__err("default pool stats: %s", !st ? "st is NULL" : "not an initialised platform");
        return DMACOH_EINVAL;
    }
    if (!dmacoh__device_ok(&p->defdev) || !p->defdev.pool)
        return DMACOH_ENODEV;
    fill_stats(p->defdev.pool, p->defdev.region_flags, st);
    return 0;
}

struct walk_ctx {
    const struct dmacoh__pool *pool;
    int (*fn)(void *, const struct dmacoh_extent *);
    void *user;
};

static int walk_one(void *user, uint64_t off, uint64_t n, int kind)
{
    struct walk_ctx *w = (struct walk_ctx *)user;
    struct dmacoh_extent e;

    e.offset = off << w->pool->gshift;
    e.size = n << w->pool->gshift;
    e.dma = w->pool->dev_base + e.offset;
    e.kind = kind;
    return w->fn(w->user, &e);
}

int dmacoh_region_walk(const struct dmacoh_device *dev,
                       int (*fn)(void *user, const struct dmacoh_extent *e), void *user)
{
    struct walk_ctx w;
    int r = 0, f;

    if (!dmacoh__device_ok(dev) || !fn)
        return DMACOH_EINVAL;
    if (!dev->pool)
        return DMACOH_ENODEV;
    w.fn = fn;
    w.user = user;
    for (unsigned i = 0; r == 0 && i < DMACOH_REGIONS_MAX; i++) {
        struct dmacoh__pool *pool = dmacoh__dev_region(dev, i, &f);

        if (!pool)
            break;
        w.pool = pool;
        lock_exact(pool);
        r = dmacoh__pa_walk(pool->pa, walk_one, &w);
        unlock_exact(pool);
    }
    return r;
}

int dmacoh_region_find(const struct dmacoh_device *dev, const void *cpu, struct dmacoh_extent *e)
{
    struct dmacoh__pool *pool = NULL;
    uint64_t start, n;
    int kind, f;

    if (!dmacoh__device_ok(dev) || !cpu || !e)
        return DMACOH_EINVAL;
    if (!dev->pool)
        return DMACOH_ENODEV;
    for (unsigned i = 0; i < DMACOH_REGIONS_MAX; i++) {
        pool = dmacoh__dev_region(dev, i, &f);
        if (!pool || dmacoh__pool_holds(pool, cpu))
            break;
    }
    if (!pool)
        return DMACOH_ERANGE;
    lock_exact(pool);
    dmacoh__pa_find(pool->pa, (uint64_t)((const char *)cpu - pool->cpu) >> pool->gshift, &start, &n,
                    &kind);
    unlock_exact(pool);
    e->offset = start << pool->gshift;
    e->size = n << pool->gshift;
    e->dma = pool->dev_base + e->offset;
    e->kind = kind;
    return 0;
}

/* Zeroes the free granules of group G from granule i on (the ones before i were zeroed by an
 * earlier step, and nothing in the group was freed since: dmacoh__clean_freed moves the
 * cursor back otherwise), at most *left of them. Marks the group clean and
 * returns true when it got to the group's end; false, with *at where it stopped, when the
 * budget ran out first. Lock held. */
static bool scrub_group(struct dmacoh__pool *pool, uint64_t G, uint64_t i, uint64_t *left,
                        uint64_t *zeroed, uint64_t *at)
{
    uint64_t a = G << DMACOH__CLEAN_SHIFT, ng = pool->pa->ngranules;
    uint64_t cnt = ng - a < DMACOH__CLEAN_G ? ng - a : DMACOH__CLEAN_G;
    uint64_t fm = dmacoh__pa_free_mask(pool->pa, a, (unsigned)cnt);

    while (i < a + cnt) {
        uint64_t d = i, e;

        while (d < a + cnt && !((fm >> (d - a)) & 1u))
            d++;
        if (d == a + cnt)
            break;
        if (*left == 0) {
            *at = d;
            return false;
        }
        for (e = d; e < a + cnt && ((fm >> (e - a)) & 1u) && e - d < *left; e++)
            ;
        if (pool->track)
            DMACOH__TRACK_ALLOC(pool->cpu + (d << pool->gshift), (e - d) << pool->gshift);
        dmacoh__zero(pool, pool->cpu + (d << pool->gshift), (e - d) << pool->gshift);
        if (pool->track)
            DMACOH__TRACK_FREE(pool->cpu + (d << pool->gshift), (e - d) << pool->gshift);
        *left -= e - d;
        *zeroed += e - d;
        i = e;
    }
    pool->clean[G >> 6] |= (uint64_t)1 << (G & 63);
    pool->nclean += (uint64_t)__builtin_popcountll(fm);
    *at = a + cnt;
    return true;
}

/* Bytes a scrub looks at (granules passed) or zeroes in one hold of the region lock. */
#define SCRUB_STEP ((uint64_t)256 << 10)

/* Zeroes the free granules of pool's dirty groups, from its scrub cursor on, one bounded step
 * per hold of the lock, until budget bytes are zeroed or every group has been looked at once.
 * A budget may end inside a group: the next step goes on from there (a free in that group
 * has moved the cursor back to the group's start meanwhile). Returns the bytes zeroed. */
static uint64_t scrub_pool(struct dmacoh__pool *pool, uint64_t budget)
{
    uint64_t ng = pool->size >> pool->gshift, step = SCRUB_STEP >> pool->gshift, seen = 0;
    uint64_t total = 0;

    if (step == 0)
        step = 1; /* granules over 256 KiB: one per hold */
    while (seen < ng && budget >> pool->gshift) {
        uint64_t i, start, lim, zeroed = 0, left = budget >> pool->gshift;

        if (left > step)
            left = step;
        (void)dmacoh__pool_lock(pool);
        i = pool->scrub_at < ng ? pool->scrub_at : 0;
        start = i;
        lim = ng - i < step ? ng : i + step;
        if (lim - i > ng - seen)
            lim = i + (ng - seen);
        while (i < lim) {
            uint64_t G = i >> DMACOH__CLEAN_SHIFT, glim = dmacoh__clean_groups(lim), at;

            G = dmacoh__bit_next(pool->clean, G, glim, false);
            if (G >= glim) {
                i = lim;
                break;
            }
            if (G << DMACOH__CLEAN_SHIFT > i)
                i = G << DMACOH__CLEAN_SHIFT;
            if (!scrub_group(pool, G, i, &left, &zeroed, &at)) {
                i = at;
                break;
            }
            i = at;
        }
        seen += i > start ? i - start : 0;
        pool->scrub_at = i < ng ? i : 0;
        dmacoh__pool_unlock(pool);
        total += zeroed << pool->gshift;
        budget -= zeroed << pool->gshift;
        if (i == start)
            break; /* no progress: the budget is below one granule */
    }
    return total;
}

int dmacoh_region_scrub(struct dmacoh_device *dev, uint64_t max_bytes, uint64_t *scrubbed)
{
    uint64_t done = 0;
    int f;

    if (scrubbed)
        *scrubbed = 0;
    if (!dmacoh__device_ok(dev)) {
        dmacoh__err("scrub: not an initialised device");
        return DMACOH_EINVAL;
    }
    if (dev->nregions == 0) {
        dmacoh__err("scrub on '%s': no region of its own", dev->name);
        return DMACOH_ENODEV;
    }
    /* Debug mode poisons freed memory to catch writes after free: zeroing it would pass
     * for such a write. */
    if (__atomic_load_n(&dmacoh__dbg_flags, __ATOMIC_RELAXED) & DMACOH_DEBUG_POISON) {
        dmacoh__dbg("scrub on '%s': freed memory is poisoned (debug mode), left as it is",
                    dev->name);
        return 0;
    }
    for (unsigned i = 0; i < dev->nregions && done < max_bytes; i++) {
        struct dmacoh__pool *pool = dmacoh__dev_region(dev, i, &f);

        if (pool && pool->clean)
            done += scrub_pool(pool, max_bytes - done);
    }
    if (scrubbed)
        *scrubbed = done;
    return 0;
}

/* The clean bitmap agrees with the allocator (lock held): no bit past the last group, and
 * nclean counts the free granules of the groups marked clean. */
static bool check_clean(struct dmacoh__pool *pool)
{
    uint64_t ng = pool->size >> pool->gshift, nw = dmacoh__clean_words(ng), count = 0;
    uint64_t ngr = dmacoh__clean_groups(ng);

    if (!pool->clean)
        return pool->nclean == 0;
    if ((ngr & 63) && (pool->clean[nw - 1] >> (ngr & 63))) {
        dmacoh__err("check: clean bitmap has bits past the region");
        return false;
    }
    for (uint64_t G = dmacoh__bit_next(pool->clean, 0, ngr, true); G < ngr;
         G = dmacoh__bit_next(pool->clean, G + 1, ngr, true)) {
        uint64_t a = G << DMACOH__CLEAN_SHIFT;
        uint64_t cnt = ng - a < DMACOH__CLEAN_G ? ng - a : DMACOH__CLEAN_G;

        count += (uint64_t)__builtin_popcountll(dmacoh__pa_free_mask(pool->pa, a, (unsigned)cnt));
    }
    if (count != pool->nclean) {
        dmacoh__err("check: clean bitmap counts %llu free granules against %llu recorded",
                    (unsigned long long)count, (unsigned long long)pool->nclean);
        return false;
    }
    return true;
}

static bool check_pool(struct dmacoh__pool *pool)
{
    bool ok;

    lock_exact(pool);
    ok = pool->magic == DMACOH__POOL_MAGIC && pool->refs >= 1 && dmacoh__pa_check(pool->pa) &&
         pool->pa->ngranules == pool->size >> pool->gshift && check_clean(pool);
    unlock_exact(pool);
    return ok;
}

bool dmacoh_check(const struct dmacoh_device *dev)
{
    bool ok = true;
    int f;

    if (!dmacoh__device_ok(dev) || (dev->parent && !dmacoh__device_ok(dev->parent))) {
        dmacoh__err("check: not an initialised device, or its parent is gone");
        return false;
    }
    if (dev->nregions > DMACOH_REGIONS_MAX || (dev->nregions == 0) != (dev->pool == NULL)) {
        dmacoh__err("check on '%s': region list is inconsistent", dev->name);
        return false;
    }
    for (unsigned i = 0, taken = 0; i < dev->nregions; i++) {
        unsigned s = dev->name_slot[i];

        if (s >= DMACOH_REGIONS_MAX || (taken & (1u << s))) {
            dmacoh__err("check on '%s': name slot %u of region %u is out of range or shared",
                        dev->name, s, i);
            return false;
        }
        taken |= 1u << s;
    }
    for (unsigned i = 0; i < dev->nregions; i++) {
        struct dmacoh__pool *pool = dmacoh__dev_region(dev, i, &f);

        if (!pool || !check_pool(pool)) {
            dmacoh__err("check on '%s': allocator state of region %u%s%s%s is inconsistent",
                        dev->name, i, dmacoh__region_name(dev, i)[0] ? " '" : "",
                        dmacoh__region_name(dev, i), dmacoh__region_name(dev, i)[0] ? "'" : "");
            ok = false;
        }
    }
    return ok;
}

dmacoh_dma_addr_t dmacoh_virt_to_dma(const struct dmacoh_device *dev, const void *cpu)
{
    const struct dmacoh_device *owner;
    const struct dmacoh__pool *pool;
    const struct dmacoh_platform *p;

    if (!dmacoh__device_ok(dev) || !cpu)
        return DMACOH_BAD_DMA_ADDR;
    pool = dmacoh__pool_holding(dev, cpu, &owner);
    if (pool)
        return pool->dev_base + (uint64_t)((const char *)cpu - pool->cpu);
    p = dev->platform;
    return p->ops->sys_virt_to_dma ? p->ops->sys_virt_to_dma(p->ctx, dev, cpu)
                                   : DMACOH_BAD_DMA_ADDR;
}

void *dmacoh_dma_to_virt(const struct dmacoh_device *dev, dmacoh_dma_addr_t dma)
{
    const struct dmacoh__pool *pool;
    const struct dmacoh_platform *p;

    if (!dmacoh__device_ok(dev))
        return NULL;
    pool = dmacoh__pool_reaching(dev, dma, false);
    if (pool)
        return pool->cpu + (dma - pool->dev_base);
    p = dev->platform;
    return p->ops->sys_dma_to_virt ? p->ops->sys_dma_to_virt(p->ctx, dev, dma) : NULL;
}

dmacoh_phys_addr_t dmacoh_dma_to_bus(const struct dmacoh_device *dev, dmacoh_dma_addr_t dma)
{
    const struct dmacoh__pool *pool;

    if (!dmacoh__device_ok(dev))
        return DMACOH_BAD_DMA_ADDR;
    pool = dmacoh__pool_reaching(dev, dma, false);
    if (pool)
        return pool->bus + (dma - pool->dev_base);
    return DMACOH_BAD_DMA_ADDR;
}

dmacoh_dma_addr_t dmacoh_bus_to_dma(const struct dmacoh_device *dev, dmacoh_phys_addr_t bus)
{
    const struct dmacoh__pool *pool;

    if (!dmacoh__device_ok(dev))
        return DMACOH_BAD_DMA_ADDR;
    pool = dmacoh__pool_reaching(dev, bus, true);
    if (pool)
        return pool->dev_base + (bus - pool->bus);
    return DMACOH_BAD_DMA_ADDR;
}
