/* SPDX-License-Identifier: MIT */
/*
 * debug.c - the DMA-API debug mode (dmacoh/debug.h): allocation records, misuse reports with
 * sites, poisoning of freed memory.
 *
 * The public entry points (api.c) come through here when the global flag word is non-zero
 * (one relaxed load when it is zero); this layer calls the core's own functions (dmacoh__alloc
 * and friends) for the work, and the core never calls back up into it.
 *
 * A record and a poison map name their region by its id (region.c), not by the address of
 * its state: a release frees that state, and a region declared later may get the same
 * storage (caller-supplied metadata, or a reused heap block) and the same CPU addresses. So
 * nothing recorded of a released region applies to a later one: its records turn RELEASED
 * (keeping the site of the release that ended them), its poison map is dropped, and neither
 * matches a region declared since.
 *
 * Records live per platform in an open-addressed table keyed by CPU address (linear probing,
 * no deletion: a record goes from LIVE to FREED or RELEASED and is overwritten when its
 * address is handed out again; when the table must grow and most of it is history, the
 * history is dropped instead). The table and everything else here comes from the platform's
 * meta_alloc, taken with the platform's debug lock held (platform ops never call back into
 * the library, platform.h). Poisoned granules of a region are tracked in a bitmap per region,
 * so that only memory this mode filled is checked on reuse: never-allocated memory and
 * occupied ranges (e.g. a firmware mailbox) are neither written nor checked.
 *
 * Lock order: the registry lock, then a platform's lock or a platform's debug lock.
 */
#include "internal.h"

#include <dmacoh/debug.h>

#define MIN_CAP 64u

enum { EMPTY = 0, LIVE = 1, FREED = 2, RELEASED = 3 };

struct rec {
    const char *cpu; /* key; NULL: empty slot */
    const struct dmacoh_device *dev;
    const struct dmacoh__pool *pool; /* NULL: system memory; followed only while LIVE */
    uint64_t region;                 /* pool's id, 0 for system memory: what it is compared by */
    const char *dev_name;
    dmacoh_dma_addr_t handle;
    uint64_t size;
    const void *site;      /* where it was allocated */
    const void *gone_site; /* where it was freed, or its region released */
    unsigned state;
};

struct pmap {
    uint64_t region; /* the id of the region it maps */
    struct pmap *next;
    size_t words;
    uint64_t bits[]; /* bit g: granule g was poisoned by a free */
};

struct dmacoh__dbg_state {
    struct dmacoh_platform *plat;
    struct dmacoh__dbg_state *next; /* on the registry */
    uint32_t lock;
    uint32_t epoch; /* records of another epoch are forgotten */
    struct rec *tab;
    size_t cap, used;
    struct pmap *pmaps;
};

unsigned dmacoh__dbg_flags;
static uint32_t epoch = 1;
static uint32_t reg_lock;
static struct dmacoh__dbg_state *registry;
static uint64_t n_reports, n_poison, n_lost;
static const char *(*symbolizer)(const void *, char *, size_t);

/* ---- switches, counters ---- */

int dmacoh_debug_set(unsigned flags)
{
    unsigned old;

    if (flags & ~(unsigned)DMACOH_DEBUG_ALL) {
        dmacoh__err("debug set: unknown flags %#x", flags);
        return DMACOH_EINVAL;
    }
    if (flags)
        flags |= DMACOH_DEBUG_RECORD;
    old = __atomic_exchange_n(&dmacoh__dbg_flags, flags, __ATOMIC_SEQ_CST);
    if (old && !flags)
        __atomic_add_fetch(&epoch, 1u, __ATOMIC_SEQ_CST);
    return 0;
}

unsigned dmacoh_debug_get(void)
{
    return __atomic_load_n(&dmacoh__dbg_flags, __ATOMIC_RELAXED);
}

void dmacoh_debug_set_symbolizer(const char *(*fn)(const void *addr, char *buf, size_t len))
{
    __atomic_store_n(&symbolizer, fn, __ATOMIC_RELEASE);
}

int dmacoh_debug_get_stats(struct dmacoh_debug_stats *st)
{
    if (!st)
        return DMACOH_EINVAL;
    st->reports = __atomic_load_n(&n_reports, __ATOMIC_RELAXED);
    st->poison_errors = __atomic_load_n(&n_poison, __ATOMIC_RELAXED);
    st->lost = __atomic_load_n(&n_lost, __ATOMIC_RELAXED);
    return 0;
}

static bool poisoning(void)
{
    return (__atomic_load_n(&dmacoh__dbg_flags, __ATOMIC_RELAXED) & DMACOH_DEBUG_POISON) != 0;
}

/* " (symbol)" for a code address, or "" when no symbolizer knows it. */
struct sym {
    char s[128];
};

static const char *sym(const void *addr, struct sym *b)
{
    const char *(*fn)(const void *, char *, size_t) =
        __atomic_load_n(&symbolizer, __ATOMIC_ACQUIRE);
    size_t n = 2;

    if (!fn || !fn(addr, b->s + 2, sizeof(b->s) - 3))
        return "";
    b->s[0] = ' ';
    b->s[1] = '(';
    while (n < sizeof(b->s) - 2 && b->s[n])
        n++;
    b->s[n] = ')';
    b->s[n + 1] = '\0';
    return b->s;
}

/* Counts a misuse report; the message itself is logged by the caller. */
static void reported(void)
{
    __atomic_add_fetch(&n_reports, 1u, __ATOMIC_RELAXED);
}

/* ---- per-platform state ---- */

/* Drops the poison maps of the region with id `only`, or all of them when it is 0. */
static void drop_pmaps(struct dmacoh__dbg_state *s, uint64_t only)
{
    struct pmap **pp = &s->pmaps;

    while (*pp) {
        struct pmap *m = *pp;

        if (only && m->region != only) {
            pp = &m->next;
            continue;
        }
        *pp = m->next;
        s->plat->ops->meta_free(s->plat->ctx, m, sizeof(*m) + m->words * sizeof(uint64_t));
    }
}

/* With s->lock held: forgets what an earlier period of debug mode recorded. */
static void fresh(struct dmacoh__dbg_state *s)
{
    uint32_t e = __atomic_load_n(&epoch, __ATOMIC_RELAXED);

    if (s->epoch == e)
        return;
    for (size_t i = 0; i < s->cap; i++)
        s->tab[i].cpu = NULL;
    s->used = 0;
    drop_pmaps(s, 0);
    s->epoch = e;
}

/* The debug state of p, created (and entered on the registry) when asked; NULL when p has no
 * metadata memory to give. */
static struct dmacoh__dbg_state *state(struct dmacoh_platform *p, bool create)
{
    struct dmacoh__dbg_state *s;
    bool made = false;

    s = __atomic_load_n(&p->dbg, __ATOMIC_ACQUIRE);
    if (s || !create || !p->ops->meta_alloc)
        return s;
    dmacoh__lock(&p->lock, p);
    s = p->dbg;
    if (!s) {
        s = (struct dmacoh__dbg_state *)p->ops->meta_alloc(p->ctx, sizeof(*s));
        if (s) {
            __builtin_memset(s, 0, sizeof(*s));
            s->plat = p;
            s->epoch = __atomic_load_n(&epoch, __ATOMIC_RELAXED);
            __atomic_store_n(&p->dbg, s, __ATOMIC_RELEASE);
            made = true;
        }
    }
    dmacoh__unlock(&p->lock);
    if (made) {
        dmacoh__lock(&reg_lock, p);
        s->next = registry;
        registry = s;
        dmacoh__unlock(&reg_lock);
    }
    return s;
}

void dmacoh__dbg_platform_fini(struct dmacoh_platform *p)
{
    struct dmacoh__dbg_state *s = p->dbg, **pp;
    struct sym b;

    dmacoh__lock(&reg_lock, p);
    for (pp = &registry; *pp && *pp != s; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = s->next;
    dmacoh__unlock(&reg_lock);
    fresh(s);
    for (size_t i = 0; i < s->cap; i++) {
        const struct rec *r = &s->tab[i];

        if (r->cpu && r->state == LIVE)
            dmacoh__warn("platform fini '%s': %llu bytes at %p for '%s' still allocated, from "
                         "%p%s",
                         p->ops->name, (unsigned long long)r->size, (const void *)r->cpu,
                         r->dev_name, r->site, sym(r->site, &b));
    }
    drop_pmaps(s, 0);
    if (s->tab)
        p->ops->meta_free(p->ctx, s->tab, s->cap * sizeof(*s->tab));
    p->dbg = NULL;
    p->ops->meta_free(p->ctx, s, sizeof(*s));
}

/* ---- the record table (s->lock held) ---- */

static size_t slot(const struct dmacoh__dbg_state *s, const void *cpu)
{
    return (size_t)(((uint64_t)(uintptr_t)cpu * 0x9e3779b97f4a7c15ull) >> 32) & (s->cap - 1);
}

static struct rec *find(const struct dmacoh__dbg_state *s, const void *cpu)
{
    if (!s->tab)
        return NULL;
    for (size_t i = slot(s, cpu);; i = (i + 1) & (s->cap - 1)) {
        struct rec *r = &s->tab[i];

        if (!r->cpu || r->cpu == (const char *)cpu)
            return r->cpu ? r : NULL;
    }
}

static struct rec *place(struct dmacoh__dbg_state *s, const void *cpu)
{
    size_t i = slot(s, cpu);

    while (s->tab[i].cpu && s->tab[i].cpu != (const char *)cpu)
        i = (i + 1) & (s->cap - 1);
    if (!s->tab[i].cpu)
        s->used++;
    s->tab[i].cpu = (const char *)cpu;
    return &s->tab[i];
}

/* Makes room for one more record: a table twice the size, or the same size without history
 * when live records fill less than a quarter of it. */
static bool grow(struct dmacoh__dbg_state *s)
{
    struct rec *old = s->tab;
    size_t old_cap = s->cap, live = 0, cap;

    for (size_t i = 0; i < old_cap; i++)
        live += old[i].cpu && old[i].state == LIVE;
    cap = !old_cap ? MIN_CAP : (live * 4 < old_cap ? old_cap : old_cap * 2);
    s->tab = (struct rec *)s->plat->ops->meta_alloc(s->plat->ctx, cap * sizeof(*s->tab));
    if (!s->tab) {
        s->tab = old;
        return false;
    }
    __builtin_memset(s->tab, 0, cap * sizeof(*s->tab));
    s->cap = cap;
    s->used = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].cpu && (cap > old_cap || old[i].state == LIVE))
            *place(s, old[i].cpu) = old[i];
    }
    if (old)
        s->plat->ops->meta_free(s->plat->ctx, old, old_cap * sizeof(*old));
    return true;
}

static struct rec *insert(struct dmacoh__dbg_state *s, const void *cpu)
{
    if ((s->used + 1) * 2 > s->cap && !find(s, cpu) && !grow(s))
        return NULL;
    return place(s, cpu);
}

/* ---- poisoning ---- */

static struct pmap *pmap_of(const struct dmacoh__dbg_state *s, const struct dmacoh__pool *pool)
{
    struct pmap *m = s->pmaps;

    while (m && m->region != pool->id)
        m = m->next;
    return m;
}

static void add_pmap(struct dmacoh__dbg_state *s, const struct dmacoh__pool *pool)
{
    size_t words = (size_t)(((pool->size >> pool->gshift) + 63) / 64);
    struct pmap *m;

    if (pmap_of(s, pool))
        return;
    m = (struct pmap *)s->plat->ops->meta_alloc(s->plat->ctx, sizeof(*m) + words * 8);
    if (!m) {
        __atomic_add_fetch(&n_lost, 1u, __ATOMIC_RELAXED);
        return;
    }
    __builtin_memset(m, 0, sizeof(*m) + words * 8);
    m->region = pool->id;
    m->words = words;
    m->next = s->pmaps;
    s->pmaps = m;
}

static bool region_io(const struct dmacoh__pool *pool)
{
    return pool->mode == DMACOH_MEMORY_IO || pool->io_width < 8;
}

static void fill(const struct dmacoh__pool *pool, void *cpu, uint64_t bytes, int c)
{
    if (pool && region_io(pool))
        dmacoh_memset_io_width(cpu, c, (size_t)bytes, pool->io_width);
    else
        __builtin_memset(cpu, c, (size_t)bytes);
}

/* Offset of the first byte in [cpu, cpu + n) that is not the poison, or n. */
static uint64_t first_bad(const struct dmacoh__pool *pool, const char *cpu, uint64_t n)
{
    unsigned char buf[64];

    for (uint64_t off = 0; off < n; off += sizeof(buf)) {
        size_t k = (size_t)(n - off < sizeof(buf) ? n - off : sizeof(buf));

        if (region_io(pool))
            dmacoh_memcpy_fromio_width(buf, cpu + off, k, pool->io_width);
        else
            __builtin_memcpy(buf, cpu + off, k);
        for (size_t i = 0; i < k; i++)
            if (buf[i] != DMACOH_DEBUG_POISON_BYTE)
                return off + i;
    }
    return n;
}

/* The freed allocation whose granules held the byte at cpu, or NULL. */
static const struct rec *last_owner(const struct dmacoh__dbg_state *s,
                                    const struct dmacoh__pool *pool, const char *cpu)
{
    uint64_t gmask = ((uint64_t)1 << pool->gshift) - 1;

    for (size_t i = 0; i < s->cap; i++) {
        const struct rec *r = &s->tab[i];

        if (r->cpu && r->state == FREED && r->region == pool->id && cpu >= r->cpu &&
            (uint64_t)(cpu - r->cpu) < ((r->size + gmask) & ~gmask))
            return r;
    }
    return NULL;
}

static void report_poison(const struct dmacoh__dbg_state *s, const struct dmacoh__pool *pool,
                          const char *lo, const char *hi)
{
    const struct rec *o = last_owner(s, pool, lo);
    struct sym b1, b2;

    __atomic_add_fetch(&n_poison, 1u, __ATOMIC_RELAXED);
    if (!o) {
        dmacoh__err("poison: freed memory %p..%p (dma %#llx) was written after it was freed",
                    (const void *)lo, (const void *)hi,
                    (unsigned long long)(pool->dev_base + (uint64_t)(lo - pool->cpu)));
        return;
    }
    dmacoh__err("poison: freed memory %p..%p (dma %#llx) was written after it was freed; last "
                "owner: %llu bytes at %p for '%s', allocated at %p%s, freed at %p%s",
                (const void *)lo, (const void *)hi,
                (unsigned long long)(pool->dev_base + (uint64_t)(lo - pool->cpu)),
                (unsigned long long)o->size, (const void *)o->cpu, o->dev_name, o->site,
                sym(o->site, &b1), o->gone_site, sym(o->gone_site, &b2));
}

/* New region memory [cpu, cpu + size): checks and clears the poisoned granules in it. */
static void check_reuse(const struct dmacoh__dbg_state *s, const struct dmacoh__pool *pool,
                        const char *cpu, uint64_t size)
{
    struct pmap *m = pmap_of(s, pool);
    uint64_t g0 = (uint64_t)(cpu - pool->cpu) >> pool->gshift, gsz = (uint64_t)1 << pool->gshift;
    uint64_t n = (size + gsz - 1) >> pool->gshift;
    const char *lo = NULL, *hi = NULL;

    for (uint64_t g = g0; m && g < g0 + n; g++) {
        uint64_t *w = &m->bits[g / 64], bit = (uint64_t)1 << (g % 64);
        const char *gc = pool->cpu + (g << pool->gshift);
        uint64_t bad;

        if (*w == 0 && (g % 64) == 0 && g0 + n - g >= 64) {
            g += 63; /* a word with nothing poisoned (huge blocks are mostly such) */
            continue;
        }
        if (!(*w & bit))
            continue;
        *w &= ~bit;
        bad = first_bad(pool, gc, gsz);
        if (bad == gsz)
            continue;
        if (!lo)
            lo = gc + bad;
        hi = gc + gsz - 1;
        while (hi > gc + bad && first_bad(pool, hi, 1) == 1) /* back over intact bytes */
            hi--;
    }
    if (lo)
        report_poison(s, pool, lo, hi);
}

/* Poisons granules [g, g + n) of pool and marks them for the check on reuse. */
static void poison_granules(struct pmap *m, const struct dmacoh__pool *pool, uint64_t g, uint64_t n)
{
    fill(pool, pool->cpu + (g << pool->gshift), n << pool->gshift, DMACOH_DEBUG_POISON_BYTE);
    for (uint64_t i = g; i < g + n; i++)
        m->bits[i / 64] |= (uint64_t)1 << (i % 64);
}

/* A freed block is poisoned whole up to twice POISON_EDGE bytes; a larger one only in its
 * first and last POISON_EDGE bytes (rounded to granules), where stale writes through an old
 * descriptor or an overrun land: poisoning 128 GiB on every free would take minutes. */
#define POISON_EDGE ((uint64_t)512 * 1024)

static void poison_free(struct dmacoh__dbg_state *s, const struct rec *r)
{
    struct pmap *m;
    uint64_t gsz, g0, n, edge;

    if (!r->pool) {
        uint64_t k = r->size > 2 * POISON_EDGE ? POISON_EDGE : r->size;

        __builtin_memset((void *)(uintptr_t)r->cpu, DMACOH_DEBUG_POISON_BYTE, (size_t)k);
        if (k < r->size)
            __builtin_memset((void *)(uintptr_t)(r->cpu + (r->size - k)), DMACOH_DEBUG_POISON_BYTE,
                             (size_t)k);
        return;
    }
    m = pmap_of(s, r->pool);
    if (!m)
        return;
    gsz = (uint64_t)1 << r->pool->gshift;
    g0 = (uint64_t)(r->cpu - r->pool->cpu) >> r->pool->gshift;
    n = (r->size + gsz - 1) >> r->pool->gshift;
    edge = (POISON_EDGE + gsz - 1) >> r->pool->gshift;
    if (n <= 2 * edge) {
        poison_granules(m, r->pool, g0, n);
    } else {
        poison_granules(m, r->pool, g0, edge);
        poison_granules(m, r->pool, g0 + n - edge, edge);
    }
}

/* ---- the checked entry points ---- */

/* True (with a report) when dev is a device that dmacoh_device_fini() retired. */
static bool retired(const struct dmacoh_device *dev, const char *what, const void *site)
{
    struct sym b;

    if (!dev || dev->magic != DMACOH__DEVICE_DEAD)
        return false;
    reported();
    dmacoh__err("%s from %p%s: device %p was retired by dmacoh_device_fini", what, site,
                sym(site, &b), (const void *)dev);
    return true;
}

static void record(struct dmacoh_device *dev, const struct dmacoh__pool *pool, void *cpu,
                   dmacoh_dma_addr_t h, uint64_t size, const void *site)
{
    struct dmacoh__dbg_state *s = state(dev->platform, true);
    struct rec *r;

    if (!s) {
        __atomic_add_fetch(&n_lost, 1u, __ATOMIC_RELAXED);
        return;
    }
    dmacoh__lock(&s->lock, dev->platform);
    fresh(s);
    if (pool && poisoning())
        check_reuse(s, pool, (const char *)cpu, size);
    r = find(s, cpu);
    if (r && r->state == LIVE) {
        reported();
        dmacoh__err("alloc on '%s': %p was handed out while still allocated (allocator state "
                    "corrupt)",
                    dev->name, cpu);
    }
    r = insert(s, cpu);
    if (r) {
        r->dev = dev;
        r->pool = pool;
        r->region = pool ? pool->id : 0;
        r->dev_name = dev->name;
        r->handle = h;
        r->size = size;
        r->site = site;
        r->gone_site = NULL;
        r->state = LIVE;
    } else {
        __atomic_add_fetch(&n_lost, 1u, __ATOMIC_RELAXED);
    }
    dmacoh__unlock(&s->lock);
}

int dmacoh__dbg_alloc(struct dmacoh_device *dev, const char *region, size_t size, unsigned flags,
                      uint64_t timeout_ns, void **cpu, dmacoh_dma_addr_t *handle, const void *site)
{
    const struct dmacoh_device *owner;
    struct dmacoh__pool *pool;
    dmacoh_dma_addr_t h;
    uint64_t bytes;
    void *c;
    int r;

    if (retired(dev, "alloc", site))
        return DMACOH_EINVAL;
    if (!cpu || !handle) { /* the core refuses them; the local copies below would hide them */
        return region ? dmacoh__alloc_from(dev, region, size, flags, timeout_ns, cpu, handle)
                      : dmacoh__alloc(dev, size, flags, timeout_ns, cpu, handle);
    }
    r = region
            ? dmacoh__alloc_from(dev, region, size, flags | DMACOH_ALLOC_NOZERO, timeout_ns, &c, &h)
            : dmacoh__alloc(dev, size, flags | DMACOH_ALLOC_NOZERO, timeout_ns, &c, &h);
    if (r)
        return r;
    pool = dmacoh__pool_holding(dev, c, &owner);
    /* Not a shared region's blocks: another process may free one and its memory come back
     * here, which this process's records (and poison) would take for corruption. */
    if (!pool || !pool->shm)
        record(dev, pool, c, h, size, site);
    if (!(flags & DMACOH_ALLOC_NOZERO)) {
        uint64_t unit = pool ? (uint64_t)1 << pool->gshift : DMACOH_PAGE_SIZE;

        bytes = ((uint64_t)size + unit - 1) & ~(unit - 1);
        fill(pool, c, bytes, 0);
    }
    *cpu = c;
    *handle = h;
    return 0;
}

/* A free that the records refuse: which check failed, and the code to return. */
static int refuse(const struct rec *r, const struct dmacoh_device *dev, size_t size,
                  dmacoh_dma_addr_t handle)
{
    if (r->state == FREED || r->state == RELEASED)
        return DMACOH_EFAULT;
    if (r->dev != dev || r->size != size || r->handle != handle)
        return DMACOH_EINVAL;
    return 0;
}

static void report_free(const struct rec *r, const struct dmacoh_device *dev, size_t size,
                        dmacoh_dma_addr_t handle, const void *site)
{
    struct sym b1, b2, b3;
    const char *why = r->state == FREED      ? "double free"
                      : r->state == RELEASED ? "free after its region was released"
                      : r->dev != dev        ? "free with the wrong device"
                      : r->size != size      ? "free with the wrong size"
                                             : "free with the wrong handle";

    reported();
    dmacoh__err("%s of %p on '%s' from %p%s (size %zu, handle %#llx); allocated for '%s' "
                "(size %llu, handle %#llx) at %p%s",
                why, (const void *)r->cpu, dev->name, site, sym(site, &b1), size,
                (unsigned long long)handle, r->dev_name, (unsigned long long)r->size,
                (unsigned long long)r->handle, r->site, sym(r->site, &b2));
    if (r->gone_site)
        dmacoh__err("%s of %p: %s at %p%s", why, (const void *)r->cpu,
                    r->state == FREED ? "freed" : "released", r->gone_site, sym(r->gone_site, &b3));
}

int dmacoh__dbg_free(struct dmacoh_device *dev, size_t size, void *cpu, dmacoh_dma_addr_t handle,
                     const void *site)
{
    struct dmacoh__dbg_state *s;
    struct rec *r;
    struct sym b;
    int e;

    if (retired(dev, "free", site))
        return DMACOH_EINVAL;
    s = dmacoh__device_ok(dev) && cpu && size ? state(dev->platform, false) : NULL;
    if (!s)
        return dmacoh__free(dev, size, cpu, handle);
    dmacoh__lock(&s->lock, dev->platform);
    fresh(s);
    r = find(s, cpu);
    if (!r) {
        dmacoh__unlock(&s->lock);
        e = dmacoh__free(dev, size, cpu, handle);
        if (e == DMACOH_EFAULT) {
            reported();
            dmacoh__err("free of %p on '%s' from %p%s: never allocated", cpu, dev->name, site,
                        sym(site, &b));
        }
        return e;
    }
    e = refuse(r, dev, size, handle);
    if (e == DMACOH_EFAULT) {
        /* Freed or released on record: the core has the last word (the address may be an
         * occupied range now, or live but unrecorded when the table was full), and never
         * changes anything for memory that is not live. */
        dmacoh__unlock(&s->lock);
        e = dmacoh__free(dev, size, cpu, handle);
        dmacoh__lock(&s->lock, dev->platform);
        r = find(s, cpu);
        if (e == DMACOH_EFAULT && r)
            report_free(r, dev, size, handle, site);
        dmacoh__unlock(&s->lock);
        return e;
    }
    if (e) {
        report_free(r, dev, size, handle, site);
        dmacoh__unlock(&s->lock);
        return e;
    }
    if (poisoning())
        poison_free(s, r);
    r->state = FREED;
    r->gone_site = site;
    dmacoh__unlock(&s->lock);
    e = dmacoh__free(dev, size, cpu, handle);
    if (e) {
        dmacoh__lock(&s->lock, dev->platform);
        r = find(s, cpu);
        if (r && r->state == FREED && r->gone_site == site)
            r->state = LIVE;
        dmacoh__unlock(&s->lock);
    }
    return e;
}

/* Whether pool's mapping overlaps another region's or live system memory (mappings, not IO
 * cookies: two cookie ranges never overlap, the memory behind them may). */
static bool overlaps(const struct dmacoh__pool *pool, const struct dmacoh_device *dev)
{
    const char *lo = (const char *)pool->map.cpu, *hi = lo + (pool->size - 1);
    bool hit = false;

    dmacoh__lock(&reg_lock, dev->platform);
    for (struct dmacoh__dbg_state **tp = &registry; *tp && !hit;) {
        struct dmacoh__dbg_state *t = *tp;

        /* A platform abandoned without dmacoh_platform_fini (its storage reused) is dropped
         * from the registry rather than followed. */
        if (!dmacoh__platform_ok(t->plat) || t->plat->dbg != t) {
            *tp = t->next;
            continue;
        }
        tp = &t->next;
        dmacoh__lock(&t->plat->lock, t->plat);
        for (const struct dmacoh__pool *q = t->plat->pools; q && !hit; q = q->next)
            hit = q != pool && (const char *)q->map.cpu <= hi &&
                  lo <= (const char *)q->map.cpu + (q->size - 1);
        dmacoh__unlock(&t->plat->lock);
        dmacoh__lock(&t->lock, t->plat);
        for (size_t i = 0; i < t->cap && !hit; i++) {
            const struct rec *r = &t->tab[i];

            hit = r->cpu && r->state == LIVE && !r->pool && r->cpu <= hi && lo < r->cpu + r->size;
        }
        dmacoh__unlock(&t->lock);
    }
    dmacoh__unlock(&reg_lock);
    return hit;
}

int dmacoh__dbg_declare(struct dmacoh_device *dev, const char *name, dmacoh_phys_addr_t bus_addr,
                        dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                        const struct dmacoh_declare_opts *opts, int *granted, const void *site)
{
    struct dmacoh__dbg_state *s;
    struct dmacoh__pool *pool;
    struct sym b;
    int r, g = 0, f;

    if (retired(dev, "declare", site))
        return DMACOH_EINVAL;
    r = dmacoh__declare(dev, name, bus_addr, device_addr, size, flags, opts, &g,
                        (dmacoh_debug_get() & DMACOH_DEBUG_IO_COOKIES) != 0);
    if (r)
        return r;
    pool = dmacoh__dev_region(dev, dev->nregions - 1, &f); /* the one just declared */
    s = state(dev->platform, true);
    if (pool && pool->refs == 1 && overlaps(pool, dev)) { /* pool: never NULL, just added */
        reported();
        dmacoh__err("declare on '%s' from %p%s: CPU range %p+%#llx overlaps another region or "
                    "live system memory",
                    dev->name, site, sym(site, &b), pool->map.cpu, (unsigned long long)size);
        (void)dmacoh__release(dev, name ? name : "", 0);
        return DMACOH_EBUSY;
    }
    if (pool && s && poisoning()) {
        dmacoh__lock(&s->lock, dev->platform);
        fresh(s);
        add_pmap(s, pool);
        dmacoh__unlock(&s->lock);
    }
    if (granted)
        *granted = g;
    return 0;
}

/* Lists the live records of pool (those of dev only, unless all); returns how many. `region`
 * names the region in the lines ("" for the unnamed one). */
static unsigned list_live(const struct dmacoh__dbg_state *s, const struct dmacoh__pool *pool,
                          const struct dmacoh_device *dev, bool all, int level, const char *what,
                          const char *region)
{
    unsigned n = 0;
    struct sym b;

    for (size_t i = 0; i < s->cap; i++) {
        const struct rec *r = &s->tab[i];

        if (!r->cpu || r->state != LIVE || (pool && r->region != pool->id) ||
            (!all && r->dev != dev))
            continue;
        n++;
        dmacoh__log(level,
                    "%s '%s'%s%s%s: %llu bytes at %p (dma %#llx) for '%s', allocated at %p%s", what,
                    dev->name, region[0] ? " region '" : "", region, region[0] ? "'" : "",
                    (unsigned long long)r->size, (const void *)r->cpu,
                    (unsigned long long)r->handle, r->dev_name, r->site, sym(r->site, &b));
    }
    return n;
}

/* After dev released the region with this id (last: it is gone, not only left by dev), marks
 * its records released (s->lock held). */
static void released(struct dmacoh__dbg_state *s, struct dmacoh_device *dev, uint64_t id, bool last,
                     const void *site)
{
    for (size_t i = 0; i < s->cap; i++) {
        struct rec *q = &s->tab[i];

        if (q->cpu && q->region == id && q->state != RELEASED &&
            (last || (q->state == LIVE && q->dev == dev))) {
            q->state = RELEASED;
            q->gone_site = site;
        }
    }
    if (last)
        drop_pmaps(s, id);
}

int dmacoh__dbg_release(struct dmacoh_device *dev, const char *name, unsigned flags,
                        const void *site)
{
    struct dmacoh__dbg_state *s;
    uint64_t id[DMACOH_REGIONS_MAX];
    bool last[DMACOH_REGIONS_MAX], any = false;
    unsigned lo = 0, hi;
    int r, f;

    if (retired(dev, "release", site))
        return DMACOH_EINVAL;
    s = dmacoh__device_ok(dev) && dev->pool ? state(dev->platform, false) : NULL;
    if (!s)
        return dmacoh__release(dev, name, flags);
    hi = dev->nregions;
    if (name) {
        r = dmacoh__region_index(dev, name);
        if (r < 0)
            return r;
        lo = (unsigned)r;
        hi = lo + 1;
    }
    dmacoh__lock(&s->lock, dev->platform);
    fresh(s);
    for (unsigned i = lo; i < hi; i++) {
        const struct dmacoh__pool *pool = dmacoh__dev_region(dev, i, &f);

        last[i] = pool->refs == 1;
        id[i] = pool->id; /* pool is gone after the release; its id is never reused */
        if (list_live(s, pool, dev, !(flags & DMACOH_RELEASE_FORCE) || last[i],
                      (flags & DMACOH_RELEASE_FORCE) ? DMACOH_LOG_WARN : DMACOH_LOG_ERROR,
                      "outstanding at release of", dmacoh__region_name(dev, i)))
            any = true;
    }
    if (any)
        reported();
    dmacoh__unlock(&s->lock);
    r = dmacoh__release(dev, name, flags);
    if (r)
        return r;
    dmacoh__lock(&s->lock, dev->platform);
    for (unsigned i = lo; i < hi; i++)
        released(s, dev, id[i], last[i], site);
    dmacoh__unlock(&s->lock);
    return 0;
}

int dmacoh__dbg_device_fini(struct dmacoh_device *dev, const void *site)
{
    struct dmacoh__dbg_state *s;
    unsigned n = 0;

    if (retired(dev, "device fini", site))
        return DMACOH_EINVAL;
    s = dmacoh__device_ok(dev) ? state(dev->platform, false) : NULL;
    if (s) {
        dmacoh__lock(&s->lock, dev->platform);
        fresh(s);
        n = list_live(s, NULL, dev, false, DMACOH_LOG_ERROR, "outstanding at fini of", "");
        dmacoh__unlock(&s->lock);
    }
    if (n) {
        reported();
        dmacoh__err("device fini '%s': %u allocations outstanding", dev->name, n);
        return DMACOH_EBUSY;
    }
    return dmacoh__device_fini(dev);
}

int dmacoh_debug_dump(const struct dmacoh_platform *p,
                      int (*fn)(void *user, const struct dmacoh_debug_record *rec), void *user)
{
    struct dmacoh__dbg_state *s;
    int n = 0;
    struct sym b;

    if (!dmacoh__platform_ok(p))
        return DMACOH_EINVAL;
    s = __atomic_load_n(&p->dbg, __ATOMIC_ACQUIRE);
    if (!s || !dmacoh_debug_get())
        return 0;
    dmacoh__lock(&s->lock, p);
    fresh(s);
    for (size_t i = 0; i < s->cap; i++) {
        const struct rec *r = &s->tab[i];
        struct dmacoh_debug_record d;

        if (!r->cpu || r->state != LIVE)
            continue;
        n++;
        d.dev = r->dev;
        d.cpu = r->cpu;
        d.handle = r->handle;
        d.size = r->size;
        d.site = r->site;
        d.region = r->pool != NULL;
        if (!fn)
            dmacoh__info("outstanding: %llu bytes at %p (dma %#llx, %s) for '%s', allocated at "
                         "%p%s",
                         (unsigned long long)r->size, (const void *)r->cpu,
                         (unsigned long long)r->handle, r->pool ? "region" : "system", r->dev_name,
                         r->site, sym(r->site, &b));
        else if (fn(user, &d))
            break;
    }
    dmacoh__unlock(&s->lock);
    return n;
}
