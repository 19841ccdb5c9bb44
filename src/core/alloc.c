/* SPDX-License-Identifier: MIT */
/*
 * alloc.c - dmacoh_alloc_coherent() and dmacoh_free_coherent(): choose the region, take
 * granules under the region lock, zero outside it, fall back to the platform's system memory.
 *
 * Mirrors the kernel's dma_alloc_from_dev_coherent() path, with three differences: children
 * reach an ancestor's region declared with INCLUDES_CHILDREN (the kernel never implemented
 * it), a full exclusive region can be waited on, and every free is checked against the
 * allocator state before anything changes.
 */
#include "internal.h"
#include "lock.h"

#if !(defined(DMACOH_TRACK_ASAN) && DMACOH_TRACK_ASAN)
void (*dmacoh__track_fn)(bool handed_out, const void *p, uint64_t n);
#endif

/* What an allocation found of clean memory (taken under the lock): how many of its granules
 * were clean, and which, block-relative, for its first DMACOH__SNAP_WORDS * 64 granules (the
 * granules past those are zeroed whatever they held). */
#define DMACOH__SNAP_WORDS 32
struct snap {
    uint64_t clean;
    uint64_t w[DMACOH__SNAP_WORDS];
};

/* 64 granule bits from 16 group bits: bits 4j .. 4j + 3 of the result are bit j of x. */
static uint64_t spread4(uint64_t x)
{
    x &= 0xffffu;
    x = (x | (x << 24)) & 0x000000ff000000ffull;
    x = (x | (x << 12)) & 0x000f000f000f000full;
    x = (x | (x << 6)) & 0x0303030303030303ull;
    x = (x | (x << 3)) & 0x1111111111111111ull;
    return x * 0xfu;
}

/* Bits G0 .. G0 + 16 of the clean bitmap (nw words) in the low bits (0 past its end). */
static uint64_t group_bits(const uint64_t *w, uint64_t nw, uint64_t G0)
{
    uint64_t k = G0 >> 6, sh = G0 & 63, v = w[k] >> sh;

    if (sh > 47 && k + 1 < nw)
        v |= w[k + 1] << (64 - sh);
    return v;
}

/* Granules [off, off+n), all free, are taken: those in clean groups were zero. The group bits
 * stay (what is left free in those groups is still zero). snap (may be NULL) receives which
 * granules were clean, block-relative. 64 granules per step: 17 group bits spread to one
 * granule bit each. */
static uint64_t clean_take(struct dmacoh__pool *pool, uint64_t off, uint64_t n, uint64_t *snap)
{
    uint64_t taken = 0, nw = dmacoh__clean_words(pool->pa->ngranules);

    if (!pool->clean || pool->nclean == 0)
        return 0;
    for (uint64_t i = 0; i < n; i += 64) {
        uint64_t a = off + i, s = a & (DMACOH__CLEAN_G - 1);
        uint64_t gb = group_bits(pool->clean, nw, a >> DMACOH__CLEAN_SHIFT);
        uint64_t m = spread4(gb) >> s;

        if (s && ((gb >> 16) & 1u))
            m |= ~(uint64_t)0 << (64 - s);
        if (n - i < 64)
            m &= ((uint64_t)1 << (n - i)) - 1;
        taken += (uint64_t)__builtin_popcountll(m);
        if (snap && (i >> 6) < DMACOH__SNAP_WORDS)
            snap[i >> 6] = m;
    }
    if (snap)
        for (uint64_t k = (n + 63) >> 6; k < DMACOH__SNAP_WORDS; k++)
            snap[k] = 0;
    pool->nclean -= taken;
    return taken;
}

uint64_t dmacoh__clean_clear(struct dmacoh__pool *pool, uint64_t off, uint64_t n)
{
    return clean_take(pool, off, n, NULL);
}

/* Group G, touched by the freed block [off, end), is dirty now: its other free granules were
 * clean until now if it was marked. */
static void group_dirty(struct dmacoh__pool *pool, uint64_t G, uint64_t off, uint64_t end)
{
    uint64_t a = G << DMACOH__CLEAN_SHIFT, ng = pool->pa->ngranules, fm, bit;
    uint64_t cnt = ng - a < DMACOH__CLEAN_G ? ng - a : DMACOH__CLEAN_G;

    bit = (uint64_t)1 << (G & 63);
    if (!(pool->clean[G >> 6] & bit))
        return;
    fm = dmacoh__pa_free_mask(pool->pa, a, (unsigned)cnt);
    for (uint64_t j = 0; j < cnt; j++)
        if (((fm >> j) & 1u) && (a + j < off || a + j >= end))
            pool->nclean--;
    pool->clean[G >> 6] &= ~bit;
}

void dmacoh__clean_dirty(struct dmacoh__pool *pool, uint64_t off, uint64_t n)
{
    uint64_t end = off + n, G0 = off >> DMACOH__CLEAN_SHIFT;
    uint64_t G1 = (end - 1) >> DMACOH__CLEAN_SHIFT;

    /* Only the first and the last group can hold free granules outside the block. */
    group_dirty(pool, G0, off, end);
    if (G1 == G0)
        return;
    group_dirty(pool, G1, off, end);
    for (uint64_t G = G0 + 1; G < G1;) { /* the groups between: whole words at a time */
        uint64_t sh = G & 63, cnt = 64 - sh < G1 - G ? 64 - sh : G1 - G;
        uint64_t m = (cnt == 64 ? ~(uint64_t)0 : (((uint64_t)1 << cnt) - 1)) << sh;

        pool->clean[G >> 6] &= ~m;
        G += cnt;
    }
}

/* Zeroes the granules of the block at cpu (n granules) that were not clean. */
static void zero_dirty(const struct dmacoh__pool *pool, char *cpu, uint64_t n, const struct snap *s)
{
    uint64_t lim = (uint64_t)DMACOH__SNAP_WORDS * 64 < n ? (uint64_t)DMACOH__SNAP_WORDS * 64 : n;
    uint64_t i = 0;

    if (s->clean == n)
        return;
    while (i < lim) {
        uint64_t d = dmacoh__bit_next(s->w, i, lim, false), e;

        if (d >= lim)
            break;
        e = dmacoh__bit_next(s->w, d, lim, true);
        dmacoh__zero(pool, cpu + (d << pool->gshift), (e - d) << pool->gshift);
        i = e;
    }
    if (lim < n)
        dmacoh__zero(pool, cpu + (lim << pool->gshift), (n - lim) << pool->gshift);
}

/* Sizes above 2^62 bytes are refused, and sizes that rounded up to whole pages no longer fit
 * size_t (32-bit builds: system memory is taken in pages). A function, so that 32-bit builds,
 * where size_t cannot reach 2^62, do not warn about an always-false comparison. */
static bool oversize(uint64_t bytes)
{
    uint64_t max = (uint64_t)SIZE_MAX - (DMACOH_PAGE_SIZE - 1);

    if (max > ((uint64_t)1 << 62))
        max = (uint64_t)1 << 62;
    return bytes > max;
}

/* Takes n granules from the pool, waiting for room when asked. Inlined with region_alloc. */
static inline __attribute__((always_inline)) int take(struct dmacoh__pool *pool, uint64_t n,
                                                      uint64_t limit, bool wait,
                                                      uint64_t timeout_ns, uint64_t *off,
                                                      struct snap *sn)
{
    const struct dmacoh_platform *p = pool->plat;
    uint64_t align = dmacoh__pow2_ceil(n), deadline = 0;
    int r;

    if (pool->align_cap_g && align > pool->align_cap_g)
        align = pool->align_cap_g;

    if (wait) {
        deadline = p->ops->now_ns(p->ctx);
        deadline = (timeout_ns > UINT64_MAX - deadline) ? UINT64_MAX : deadline + timeout_ns;
    }
    for (;;) {
        uint32_t seen;
        uint64_t now;
        bool counted = false;

        if (dmacoh__pool_lock(pool))
            dmacoh__tc_enable(pool);
        r = dmacoh__pa_alloc(pool->pa, n, align, limit, off);
        if (r && pool->shm) {
            dmacoh__shm_full(pool); /* a dead owner's blocks may be reclaimable */
            r = dmacoh__pa_alloc(pool->pa, n, align, limit, off);
        }
        if (r && wait) {
            /* Counted before the drain: a free parking a block after it sees us (tcache.c). */
            __atomic_add_fetch(pool->waiters, 1u, __ATOMIC_SEQ_CST);
            counted = true;
        }
        if (r && dmacoh__tc_active(pool)) {
            dmacoh__tc_drain(pool); /* cached blocks never make an allocation fail */
            r = dmacoh__pa_alloc(pool->pa, n, align, limit, off);
        }
        if (r == 0) {
            pool->allocs++;
            /* Taken granules are no longer clean: the caller, then a device, writes them. */
            if (pool->nclean) /* never set without a bitmap */
                sn->clean = clean_take(pool, *off, n, sn->w);
            if (pool->track)
                DMACOH__TRACK_ALLOC(pool->cpu + (*off << pool->gshift), n << pool->gshift);
        } else
            pool->failures++;
        seen = __atomic_load_n(pool->seq, __ATOMIC_RELAXED);
        /* Never wait for room that cannot appear: more than the device reaches, or than is
         * left outside occupied ranges. */
        if (r == 0 || !wait || n > limit || n > pool->pa->ngranules - pool->pa->occupied) {
            if (counted)
                __atomic_sub_fetch(pool->waiters, 1u, __ATOMIC_SEQ_CST);
            dmacoh__pool_unlock(pool);
            return r;
        }
        pool->failures--; /* counted once, when the wait ends */
        dmacoh__pool_unlock(pool);
        now = p->ops->now_ns(p->ctx);
        if (now < deadline)
            (void)p->ops->wait(p->ctx, pool->seq, seen, deadline - now);
        __atomic_sub_fetch(pool->waiters, 1u, __ATOMIC_SEQ_CST);
        if (now >= deadline) {
            (void)dmacoh__pool_lock(pool);
            pool->failures++;
            dmacoh__pool_unlock(pool);
            return DMACOH_ETIMEDOUT;
        }
    }
}

static int from_system(struct dmacoh_device *dev, uint64_t bytes, unsigned flags, void **cpu,
                       dmacoh_dma_addr_t *handle)
{
    const struct dmacoh_platform *p = dev->platform;
    void *c = NULL;
    dmacoh_dma_addr_t h = 0;
    int r;

    if (!p->ops->sys_alloc) {
        dmacoh__err("alloc on '%s': platform '%s' has no system memory for DMA", dev->name,
                    p->ops->name);
        return DMACOH_ENOMEM;
    }
    r = p->ops->sys_alloc(p->ctx, dev, bytes, dmacoh__pow2_ceil(bytes), &c, &h);
    if (r) {
        dmacoh__err("alloc on '%s': %#llx bytes of system memory below the DMA mask %#llx: %s",
                    dev->name, (unsigned long long)bytes, (unsigned long long)dev->dma_mask,
                    dmacoh_strerror(r));
        return r;
    }
    if (h + (bytes - 1) > dev->dma_mask || h + (bytes - 1) < h) {
        (void)p->ops->sys_free(p->ctx, dev, c, bytes, h);
        dmacoh__err("alloc on '%s': platform memory at %#llx is above the DMA mask %#llx",
                    dev->name, (unsigned long long)h, (unsigned long long)dev->dma_mask);
        return DMACOH_ERANGE;
    }
    if (!(flags & DMACOH_ALLOC_NOZERO))
        dmacoh__zero(NULL, c, bytes);
    __atomic_add_fetch(&dev->fallbacks, 1u, __ATOMIC_RELAXED);
    *cpu = c;
    *handle = h;
    return 0;
}

/* Tries the region serving dev. Returns 0 with *cpu and *handle set, or an error with *may_fall
 * telling whether system memory may be tried. Inlined into the allocation of a device with one
 * region of its own (the common case: with take, about 50 instructions of calls and register
 * saves a pair); from_region is the one out-of-line copy for every other caller. */
static inline __attribute__((always_inline)) int
region_alloc(struct dmacoh_device *dev, struct dmacoh__pool *pool, int owner_flags, uint64_t mask,
             size_t size, unsigned flags, uint64_t timeout_ns, void **cpu,
             dmacoh_dma_addr_t *handle, bool *may_fall)
{
    uint64_t n = ((uint64_t)size + ((uint64_t)1 << pool->gshift) - 1) >> pool->gshift, off;
    uint64_t reach, limit;
    struct snap sn;
    bool strict = (owner_flags & DMACOH_MEMORY_EXCLUSIVE) || (flags & DMACOH_ALLOC_NOFALLBACK);
    int r;

    *may_fall = !strict;
    sn.clean = 0;
    if (pool->dev_base > mask) {
        dmacoh__dbg("alloc on '%s': region lies above the device's DMA mask", dev->name);
        (void)dmacoh__pool_lock(pool);
        pool->failures++;
        dmacoh__pool_unlock(pool);
        return DMACOH_ENOMEM;
    }
    /* Only the granules the device can reach: those ending at or below its mask. */
    reach = mask - pool->dev_base; /* bytes reachable, minus one */
    limit = reach == UINT64_MAX ? UINT64_MAX : (reach + 1) >> pool->gshift;
    if (n > DMACOH__TC_MAX_N || !dmacoh__tc_active(pool) ||
        !dmacoh__tc_alloc(pool, n, limit, &off)) {
        r = take(pool, n, limit, strict && (flags & DMACOH_ALLOC_WAIT), timeout_ns, &off, &sn);
        if (r)
            return r;
    }
    *cpu = pool->cpu + (off << pool->gshift);
    *handle = pool->dev_base + (off << pool->gshift);
    if (flags & DMACOH_ALLOC_NOZERO)
        return 0;
    if (sn.clean)
        zero_dirty(pool, *cpu, n, &sn);
    else
        dmacoh__zero(pool, *cpu, n << pool->gshift);
    return 0;
}

static __attribute__((noinline)) int from_region(struct dmacoh_device *dev,
                                                 struct dmacoh__pool *pool, int owner_flags,
                                                 uint64_t mask, size_t size, unsigned flags,
                                                 uint64_t timeout_ns, void **cpu,
                                                 dmacoh_dma_addr_t *handle, bool *may_fall)
{
    return region_alloc(dev, pool, owner_flags, mask, size, flags, timeout_ns, cpu, handle,
                        may_fall);
}

/* Tries the regions of owner's list that serve dev, in order, none waiting; then, when the
 * caller asked to wait and no fallback is allowed, waits on the first. Any EXCLUSIVE region
 * of the list makes the whole list exclusive. *first receives the first region tried. */
static int from_list(struct dmacoh_device *dev, const struct dmacoh_device *owner, size_t size,
                     unsigned flags, uint64_t timeout_ns, void **cpu, dmacoh_dma_addr_t *handle,
                     bool *may_fall, struct dmacoh__pool **first)
{
    struct dmacoh__pool *pool;
    int excl = 0, f, ff = 0, r = DMACOH_ENOMEM;

    *first = NULL;
    for (unsigned i = 0; dmacoh__dev_region(owner, i, &f) != NULL; i++)
        if (dmacoh__serves(dev, owner, f))
            excl |= f & DMACOH_MEMORY_EXCLUSIVE;
    for (unsigned i = 0; (pool = dmacoh__dev_region(owner, i, &f)) != NULL; i++) {
        if (!dmacoh__serves(dev, owner, f))
            continue;
        if (!*first) {
            *first = pool;
            ff = f;
        }
        r = from_region(dev, pool, f | excl, dev->dma_mask, size,
                        flags & ~(unsigned)DMACOH_ALLOC_WAIT, timeout_ns, cpu, handle, may_fall);
        if (r == 0)
            return 0;
    }
    if (*first && !*may_fall && (flags & DMACOH_ALLOC_WAIT))
        r = from_region(dev, *first, ff | excl, dev->dma_mask, size, flags, timeout_ns, cpu, handle,
                        may_fall);
    return r;
}

/* The argument checks of an allocation: 0, or the error (logged, and counted on dev). */
static inline int check_alloc(struct dmacoh_device *dev, size_t size, unsigned flags, void **cpu,
                              dmacoh_dma_addr_t *handle)
{
    if (!dmacoh__device_ok(dev) || size == 0 || (flags & ~(unsigned)DMACOH_ALLOC_ALL_FLAGS) ||
        !cpu || !handle) {
        dmacoh__err("alloc on '%s': %s (flags %#x)", dmacoh_device_name(dev),
                    !dmacoh__device_ok(dev) ? "not an initialised device"
                    : size == 0             ? "size 0"
                    : !cpu                  ? "the CPU address out-pointer is NULL"
                    : !handle               ? "the DMA handle out-pointer is NULL"
                                            : "unknown flags",
                    flags);
        if (dmacoh__device_ok(dev))
            __atomic_add_fetch(&dev->failures, 1u, __ATOMIC_RELAXED);
        return DMACOH_EINVAL;
    }
    if ((flags & DMACOH_ALLOC_WAIT) && !dev->platform->ops->wait) {
        dmacoh__err("alloc on '%s': platform cannot wait", dev->name);
        __atomic_add_fetch(&dev->failures, 1u, __ATOMIC_RELAXED);
        return DMACOH_ENOTSUP;
    }
    if (oversize(size)) {
        dmacoh__err("alloc on '%s': %zu bytes is more than an allocation may have (2^62 bytes, "
                    "and no more than rounds up to whole pages in a size_t)",
                    dev->name, size);
        __atomic_add_fetch(&dev->failures, 1u, __ATOMIC_RELAXED);
        return DMACOH_EOVERFLOW;
    }
    return 0;
}

int dmacoh__alloc(struct dmacoh_device *dev, size_t size, unsigned flags, uint64_t timeout_ns,
                  void **cpu, dmacoh_dma_addr_t *handle)
{
    const struct dmacoh_device *owner = NULL;
    struct dmacoh__pool *pool;
    void *c = NULL;
    dmacoh_dma_addr_t h = 0;
    bool may_fall = !(flags & DMACOH_ALLOC_NOFALLBACK);
    int r = check_alloc(dev, size, flags, cpu, handle);

    if (r)
        return r;
    r = DMACOH_ENOMEM;
    if (dev->nregions == 1) { /* one region of its own: no list to look at */
        pool = dev->pool;
        owner = dev;
        r = region_alloc(dev, pool, dev->region_flags, dev->dma_mask, size, flags, timeout_ns, &c,
                         &h, &may_fall);
    } else if ((pool = dmacoh__pool_for(dev, &owner)) != NULL && owner->nregions > 1) {
        r = from_list(dev, owner, size, flags, timeout_ns, &c, &h, &may_fall, &pool);
    } else if (pool) { /* one region: an ancestor's, or the default pool below dev's mask */
        r = from_region(dev, pool, owner->region_flags, dev->dma_mask, size, flags, timeout_ns, &c,
                        &h, &may_fall);
    }
    if (r && may_fall) {
        uint64_t page = DMACOH_PAGE_SIZE;

        r = from_system(dev, ((uint64_t)size + page - 1) & ~(page - 1), flags, &c, &h);
        if (r == 0 && pool) {
            (void)dmacoh__pool_lock(pool);
            pool->fallbacks++;
            if (pool->shm)
                dmacoh__shm_fallback(pool);
            dmacoh__pool_unlock(pool);
        }
    }
    if (r) {
        __atomic_add_fetch(&dev->failures, 1u, __ATOMIC_RELAXED);
        if (pool && !may_fall)
            dmacoh__err("alloc on '%s': no room for %zu bytes in the region of '%s' (%s): %s",
                        dev->name, size, owner->name,
                        (flags & DMACOH_ALLOC_NOFALLBACK) ? "no fallback asked" : "exclusive",
                        dmacoh_strerror(r));
        return r;
    }
    *cpu = c;
    *handle = h;
    dmacoh__dbg("alloc on '%s': %zu bytes at cpu %p dma %#llx", dev->name, size, c,
                (unsigned long long)h);
    return 0;
}

int dmacoh__alloc_from(struct dmacoh_device *dev, const char *region, size_t size, unsigned flags,
                       uint64_t timeout_ns, void **cpu, dmacoh_dma_addr_t *handle)
{
    struct dmacoh__pool *pool;
    bool may_fall;
    int i, f = 0, r;

    r = check_alloc(dev, size, flags, cpu, handle);
    if (r)
        return r;
    if (!region) {
        dmacoh__err("alloc on '%s': the region name is NULL", dev->name);
        __atomic_add_fetch(&dev->failures, 1u, __ATOMIC_RELAXED);
        return DMACOH_EINVAL;
    }
    i = dmacoh__region_index(dev, region);
    if (i < 0) {
        __atomic_add_fetch(&dev->failures, 1u, __ATOMIC_RELAXED);
        return i;
    }
    pool = dmacoh__dev_region(dev, (unsigned)i, &f);
    r = from_region(dev, pool, f, dev->dma_mask, size, flags | DMACOH_ALLOC_NOFALLBACK, timeout_ns,
                    cpu, handle, &may_fall);
    if (r) {
        __atomic_add_fetch(&dev->failures, 1u, __ATOMIC_RELAXED);
        dmacoh__err("alloc on '%s': no room for %zu bytes in its region '%s': %s", dev->name, size,
                    region, dmacoh_strerror(r));
        return r;
    }
    dmacoh__dbg("alloc on '%s': %zu bytes from '%s' at cpu %p dma %#llx", dev->name, size, region,
                *cpu, (unsigned long long)*handle);
    return 0;
}

int dmacoh__alloc_below(struct dmacoh_device *dev, uint64_t size, uint64_t mask, void **cpu,
                        dmacoh_dma_addr_t *handle)
{
    bool may_fall;

    if (!dmacoh__device_ok(dev) || !dev->pool || size == 0 || size > ((uint64_t)1 << 62))
        return DMACOH_EINVAL;
    return from_region(dev, dev->pool, dev->region_flags, mask, (size_t)size, DMACOH_ALLOC_NOZERO,
                       0, cpu, handle, &may_fall);
}

static int free_region(struct dmacoh_device *dev, struct dmacoh__pool *pool, size_t size, void *cpu,
                       dmacoh_dma_addr_t handle)
{
    uint64_t off = (uint64_t)((char *)cpu - pool->cpu);
    uint64_t gmask = ((uint64_t)1 << pool->gshift) - 1, n;
    uint32_t waiters;
    int r;

    if (off & gmask) {
        dmacoh__err("free on '%s': %p is not the start of an allocation", dev->name, cpu);
        return DMACOH_EFAULT;
    }
    n = ((uint64_t)size + gmask) >> pool->gshift;
    if (n <= DMACOH__TC_MAX_N && handle == pool->dev_base + off && dmacoh__tc_active(pool) &&
        dmacoh__tc_free(pool, off >> pool->gshift, n)) {
        dmacoh__dbg("free on '%s': %zu bytes at cpu %p dma %#llx (cached)", dev->name, size, cpu,
                    (unsigned long long)handle);
        return 0;
    }
    if (dmacoh__pool_lock(pool))
        dmacoh__tc_enable(pool);
    r = dmacoh__pa_free(pool->pa, off >> pool->gshift, n, handle == pool->dev_base + off);
    if (r == DMACOH_EPERM && dmacoh__tc_active(pool)) {
        /* Occupied, or parked in a cache: a double free then, which the drain exposes. */
        dmacoh__tc_drain(pool);
        r = dmacoh__pa_free(pool->pa, off >> pool->gshift, n, handle == pool->dev_base + off);
    }
    if (r == 0) {
        pool->frees++;
        dmacoh__clean_freed(pool, off >> pool->gshift, n);
        /* Every change of seq is made under the region lock: a store, not a locked add. */
        __atomic_store_n(pool->seq, __atomic_load_n(pool->seq, __ATOMIC_RELAXED) + 1u,
                         __ATOMIC_RELAXED);
        if (pool->track)
            DMACOH__TRACK_FREE(cpu, ((uint64_t)size + gmask) & ~gmask);
    }
    dmacoh__pool_unlock(pool);
    if (r == DMACOH_EFAULT)
        dmacoh__err("free on '%s': %p is not a live allocation (double free?)", dev->name, cpu);
    else if (r == DMACOH_EPERM)
        dmacoh__err("free on '%s': %p is an occupied range, kept until release", dev->name, cpu);
    else if (r && handle != pool->dev_base + off)
        dmacoh__err("free on '%s': handle %#llx does not match %p (expected %#llx)", dev->name,
                    (unsigned long long)handle, cpu, (unsigned long long)(pool->dev_base + off));
    else if (r)
        dmacoh__err("free on '%s': size %zu does not match the allocation at %p", dev->name, size,
                    cpu);
    else
        dmacoh__dbg("free on '%s': %zu bytes at cpu %p dma %#llx", dev->name, size, cpu,
                    (unsigned long long)handle);
    waiters = __atomic_load_n(pool->waiters, __ATOMIC_SEQ_CST);
    if (r == 0 && waiters && pool->plat->ops->wake)
        pool->plat->ops->wake(pool->plat->ctx, pool->seq);
    return r;
}

int dmacoh__free(struct dmacoh_device *dev, size_t size, void *cpu, dmacoh_dma_addr_t handle)
{
    const struct dmacoh_device *owner;
    struct dmacoh__pool *pool;
    const struct dmacoh_platform *p;
    uint64_t page = DMACOH_PAGE_SIZE;
    int r;

    if (!dmacoh__device_ok(dev) || !cpu || size == 0 || size > SIZE_MAX - DMACOH_GRANULE_MAX) {
        dmacoh__err("free on '%s': %s", dmacoh_device_name(dev),
                    !dmacoh__device_ok(dev) ? "not an initialised device"
                    : !cpu                  ? "the CPU address is NULL"
                    : size == 0             ? "size 0"
                                            : "the size is beyond any allocation");
        return DMACOH_EINVAL;
    }
    if (dev->nregions == 1 && dmacoh__pool_holds(dev->pool, cpu))
        pool = dev->pool; /* one region of its own, and the pointer is in it */
    else
        pool = dmacoh__pool_holding(dev, cpu, &owner); /* the regions of the lists */
    if (pool) /* the one call: free_region stays inlined here */
        return free_region(dev, pool, size, cpu, handle);
    p = dev->platform;
    if (!p->ops->sys_free) {
        dmacoh__err("free on '%s': %p was not allocated here", dev->name, cpu);
        return DMACOH_EFAULT;
    }
    r = p->ops->sys_free(p->ctx, dev, cpu, ((uint64_t)size + page - 1) & ~(page - 1), handle);
    if (!r)
        dmacoh__dbg("free on '%s': %zu bytes of system memory at cpu %p dma %#llx", dev->name, size,
                    cpu, (unsigned long long)handle);
    else
        dmacoh__err("free on '%s': %p (size %zu, handle %#llx) is not a live allocation: %s",
                    dev->name, cpu, size, (unsigned long long)handle, dmacoh_strerror(r));
    return r;
}

enum dmacoh_origin dmacoh_origin_of(const struct dmacoh_device *dev, const void *cpu)
{
    const struct dmacoh_device *owner;
    const struct dmacoh__pool *pool;

    if (!dmacoh__device_ok(dev) || !cpu)
        return DMACOH_ORIGIN_NONE;
    pool = dmacoh__pool_holding(dev, cpu, &owner);
    if (pool)
        return DMACOH_ORIGIN_REGION;
    if (dmacoh_virt_to_dma(dev, cpu) != DMACOH_BAD_DMA_ADDR)
        return DMACOH_ORIGIN_SYSTEM;
    return DMACOH_ORIGIN_NONE;
}
