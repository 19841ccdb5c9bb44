/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ops.c - libFuzzer target: bytes become a sequence of declare / alloc / free / occupied /
 * release / pool operations on a small device tree, mirrored in a reference model.
 *
 * The platform is the bare-metal one over one malloc'd buffer (fast: no mapping, no system
 * call): declared memory lives in the first 2 MiB of it, fallback RAM in the third. The
 * harness adds the Linux platforms' reserve op (src/platform/linux/common.c, an mmap of
 * PROT_NONE) so that in debug mode IO regions hand out cookies, which every access of the
 * model goes through the accessors with. Four
 * devices: d0 and d3 are roots, d1 is d0's child and d2 is d1's, so INCLUDES_CHILDREN reaches
 * one and two levels down.
 *
 * The model knows every live allocation and pool block (device, CPU range, handle, the byte
 * written into it), every occupied range and every declared region. After each operation it
 * checks: dmacoh_check() on every device; no two live ranges (allocations, blocks, occupied
 * ranges) share a byte, as CPU ranges or as device-address ranges; each allocation still
 * holds its byte (the first and last bytes every step, all of it when freed); and at
 * allocation time, the alignment promise of design.md rule 5 (handle and MAP pointer aligned to
 * the power-of-two number of granules), zeroing, and both translations. Errors are predicted
 * where the contract fixes them (bad arguments, a second declare, an overlap, a double free,
 * wrong size or handle, freeing an occupied range, release while busy); where it does not
 * (a region full), any of the documented codes is accepted. At the end every object is torn
 * down and the platform must have nothing left: no region, no fallback memory, no metadata.
 *
 * Operations whose outcome the contract leaves undefined are not generated: declaring on a
 * device whose live memory came from an ancestor's region (its frees would go elsewhere), a
 * forced release under a live pool, a double free while a pool could have reused the memory.
 */
#include <dmacoh/baremetal.h>
#include <dmacoh/dmacoh.h>
#include <dmacoh/pool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/platform/linux/internal.h" /* dmacoh__linux_reserve */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BUS      0x10000000u
#define WIN      (2u << 20) /* declared memory */
#define RAM      (1u << 20) /* fallback RAM, right after it */
#define NDEV     4
#define MAXLIVE  96
#define MAXOCC   24
#define MAXPOOL  4
#define MAXFREED 8
#define HIGH     ((uint64_t)1 << 32) /* device addresses may sit this far above bus ones */

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fuzz_ops: line %d, op %u: ", __LINE__, st.nops);                          \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)
#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            FAIL(__VA_ARGS__);                                                                     \
    } while (0)

struct live {
    int dev;   /* the device it was allocated for */
    int owner; /* device whose region served it, -1 for system memory */
    int pool;  /* pool index for a block, -1 for an allocation */
    unsigned char *cpu;
    dmacoh_dma_addr_t h;
    size_t size;
    unsigned char tag;
};

struct occ {
    int dev;
    unsigned char *cpu;
    dmacoh_dma_addr_t h;
    uint64_t len;
};

struct reg {
    bool on;
    uint64_t bus, size, granule;
    dmacoh_dma_addr_t daddr;
    int flags, mode;
};

struct fpool {
    struct dmacoh_pool *p;
    int dev;
    size_t size, align, boundary;
};

static struct {
    struct dmacoh_baremetal bm;
    struct dmacoh_device dev[NDEV];
    struct reg reg[NDEV];
    struct live live[MAXLIVE];
    struct occ occ[MAXOCC];
    struct fpool pool[MAXPOOL];
    struct live freed[MAXFREED];
    unsigned nlive, nocc, nfreed;
    unsigned nops;
    const uint8_t *in;
    size_t left;
    unsigned char tag;
} st;

static unsigned char *buf;        /* WIN + RAM bytes, 1 MiB aligned */
static uint64_t arena[64 * 1024]; /* 512 KiB of metadata */
static uint64_t ram_meta[512];

static const int parent_of[NDEV] = {-1, 0, 1, -1};
static const char *const names[NDEV] = {"d0", "d1", "d2", "d3"};

static unsigned get8(void)
{
    if (!st.left)
        return 0;
    st.left--;
    return *st.in++;
}

static unsigned get16(void)
{
    unsigned lo = get8();

    return lo | get8() << 8;
}

static uint64_t pow2_ceil(uint64_t x)
{
    uint64_t p = 1;

    while (p < x)
        p <<= 1;
    return p;
}

/* ---- the model's view of the device tree ---- */

/* The device whose region serves x under the regions in r, or -1. */
static int serving(const struct reg *r, int x)
{
    if (r[x].on)
        return x;
    for (int d = parent_of[x]; d >= 0; d = parent_of[d])
        if (r[d].on && (r[d].flags & DMACOH_MEMORY_INCLUDES_CHILDREN))
            return d;
    return -1;
}

static bool has_pool(int d)
{
    for (int i = 0; i < MAXPOOL; i++)
        if (st.pool[i].p && st.pool[i].dev == d)
            return true;
    return false;
}

/* True when changing the regions to r would change where the live memory of some device
 * goes back to (the op is then not generated). */
static bool would_strand(const struct reg *r)
{
    for (int x = 0; x < NDEV; x++) {
        if (serving(r, x) == serving(st.reg, x))
            continue;
        if (has_pool(x))
            return true;
        for (unsigned i = 0; i < st.nlive; i++)
            if (st.live[i].dev == x && st.live[i].owner >= 0)
                return true;
    }
    return false;
}

/* ---- checks ---- */

static void check_bytes(const struct live *l, bool all)
{
    unsigned char tmp[64];
    size_t n = l->size < sizeof(tmp) ? l->size : sizeof(tmp);

    if (all) {
        for (size_t off = 0; off < l->size; off += sizeof(tmp)) {
            size_t k = l->size - off < sizeof(tmp) ? l->size - off : sizeof(tmp);

            dmacoh_memcpy_fromio(tmp, l->cpu + off, k);
            for (size_t i = 0; i < k; i++)
                EXPECT(tmp[i] == l->tag, "allocation %p+%zu changed at %zu", (void *)l->cpu,
                       l->size, off + i);
        }
        return;
    }
    dmacoh_memcpy_fromio(tmp, l->cpu, n);
    for (size_t i = 0; i < n; i++)
        EXPECT(tmp[i] == l->tag, "allocation %p head changed", (void *)l->cpu);
    dmacoh_memcpy_fromio(tmp, l->cpu + l->size - n, n);
    for (size_t i = 0; i < n; i++)
        EXPECT(tmp[i] == l->tag, "allocation %p tail changed", (void *)l->cpu);
}

struct span {
    uint64_t lo, hi; /* [lo, hi) */
};

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = (const struct span *)a, *y = (const struct span *)b;

    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void check_disjoint(struct span *s, unsigned n, const char *what)
{
    qsort(s, n, sizeof(*s), span_cmp);
    for (unsigned i = 1; i < n; i++)
        EXPECT(s[i - 1].hi <= s[i].lo, "%s ranges overlap: [%llx,%llx) and [%llx,%llx)", what,
               (unsigned long long)s[i - 1].lo, (unsigned long long)s[i - 1].hi,
               (unsigned long long)s[i].lo, (unsigned long long)s[i].hi);
}

static void check_all(void)
{
    static struct span cpu[MAXLIVE + MAXOCC], dma[MAXLIVE + MAXOCC];
    unsigned n = 0;

    for (int d = 0; d < NDEV; d++) {
        EXPECT(dmacoh_check(&st.dev[d]), "dmacoh_check failed on %s", names[d]);
        EXPECT(dmacoh_device_has_region(&st.dev[d]) == st.reg[d].on, "%s region state", names[d]);
    }
    for (unsigned i = 0; i < st.nlive; i++, n++) {
        const struct live *l = &st.live[i];

        check_bytes(l, false);
        cpu[n].lo = (uint64_t)(uintptr_t)l->cpu;
        cpu[n].hi = cpu[n].lo + l->size;
        dma[n].lo = l->h;
        dma[n].hi = l->h + l->size;
    }
    for (unsigned i = 0; i < st.nocc; i++, n++) {
        cpu[n].lo = (uint64_t)(uintptr_t)st.occ[i].cpu;
        cpu[n].hi = cpu[n].lo + st.occ[i].len;
        dma[n].lo = st.occ[i].h;
        dma[n].hi = st.occ[i].h + st.occ[i].len;
    }
    check_disjoint(cpu, n, "CPU");
    check_disjoint(dma, n, "device address");
}

/* ---- model bookkeeping ---- */

static void add_live(int dev, int owner, int pool, void *cpu, dmacoh_dma_addr_t h, size_t size)
{
    struct live *l = &st.live[st.nlive++];

    l->dev = dev;
    l->owner = owner;
    l->pool = pool;
    l->cpu = (unsigned char *)cpu;
    l->h = h;
    l->size = size;
    l->tag = (unsigned char)(++st.tag | 1u); /* never 0: zeroing stays visible */
    dmacoh_memset_io(l->cpu, l->tag, size);
}

static void drop_live(unsigned i)
{
    st.freed[st.nfreed++ % MAXFREED] = st.live[i];
    st.live[i] = st.live[--st.nlive];
}

static bool any_pool(void)
{
    for (int i = 0; i < MAXPOOL; i++)
        if (st.pool[i].p)
            return true;
    return false;
}

static bool starts_live(const unsigned char *cpu)
{
    for (unsigned i = 0; i < st.nlive; i++)
        if (st.live[i].cpu == cpu)
            return true;
    for (unsigned i = 0; i < st.nocc; i++)
        if (st.occ[i].cpu == cpu)
            return true;
    return false;
}

/* ---- operations ---- */

static void op_declare(int d)
{
    static const uint64_t granules[4] = {4096, 4096, 1024, 16384};
    struct dmacoh_declare_opts o;
    struct reg r = {0}, next[NDEV];
    unsigned slot = get8() % 32, pages = get8() % 48 + 1, f = get8();
    int want = 0, got, granted = 0;

    memset(&o, 0, sizeof(o));
    r.granule = granules[f >> 6];
    r.bus = BUS + (uint64_t)slot * (64u << 10);
    r.size = pages * r.granule;
    if (r.bus + r.size > BUS + WIN)
        r.size = (BUS + WIN - r.bus) / r.granule * r.granule;
    r.daddr = r.bus + ((f & 0x20) ? HIGH : 0);
    r.flags = (int)(f & 0x0f);
    o.granule = r.granule;
    if (f & 0x10)
        r.size += 512; /* not a multiple of the granule */
    if (!(r.flags & (DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO)) || (f & 0x10))
        want = DMACOH_EINVAL;
    else if (st.reg[d].on)
        want = DMACOH_EBUSY;
    for (int x = 0; x < NDEV && !want; x++)
        if (st.reg[x].on && r.bus < st.reg[x].bus + st.reg[x].size &&
            st.reg[x].bus < r.bus + r.size)
            want = DMACOH_EBUSY;
    if (!want) {
        memcpy(next, st.reg, sizeof(next));
        next[d] = r;
        next[d].on = true;
        if (would_strand(next))
            return;
    }
    got = dmacoh_declare_coherent_memory(&st.dev[d], r.bus, r.daddr, r.size, r.flags, &o, &granted);
    EXPECT(got == want, "declare on %s: %d, expected %d", names[d], got, want);
    if (got)
        return;
    EXPECT(granted == ((r.flags & DMACOH_MEMORY_MAP) ? DMACOH_MEMORY_MAP : DMACOH_MEMORY_IO),
           "declare granted %d for flags %#x", granted, (unsigned)r.flags);
    r.on = true;
    r.mode = granted;
    st.reg[d] = r;
}

static void check_new(int d, int owner, void *cpu, dmacoh_dma_addr_t h, size_t size, bool zero)
{
    uint64_t g = owner >= 0 ? st.reg[owner].granule : DMACOH_PAGE_SIZE;
    uint64_t a = pow2_ceil((size + g - 1) / g) * g;
    const unsigned char *c = (const unsigned char *)cpu;

    EXPECT(h % a == 0, "handle %#llx of %zu bytes not aligned to %#llx", (unsigned long long)h,
           size, (unsigned long long)a);
    if (owner < 0 || st.reg[owner].mode == DMACOH_MEMORY_MAP)
        EXPECT((uintptr_t)cpu % a == 0, "pointer %p of %zu bytes not aligned", cpu, size);
    EXPECT(dmacoh_virt_to_dma(&st.dev[d], cpu) == h, "virt_to_dma of %p", cpu);
    EXPECT(dmacoh_dma_to_virt(&st.dev[d], h) == cpu, "dma_to_virt of %#llx", (unsigned long long)h);
    if (owner >= 0)
        EXPECT(h >= st.reg[owner].daddr && h + size <= st.reg[owner].daddr + st.reg[owner].size,
               "handle outside the serving region");
    for (size_t i = 0; zero && i < size; i++)
        EXPECT(dmacoh_ioread8(c + i) == 0, "new memory not zeroed at %zu", i);
}

static void op_alloc(int d)
{
    unsigned f = get8();
    size_t size = (f & 0x80) ? get16() % (96u << 10) : get8() * 16u;
    unsigned flags = f & (DMACOH_ALLOC_NOZERO | DMACOH_ALLOC_NOFALLBACK);
    int owner = serving(st.reg, d), r;
    void *cpu = NULL;
    dmacoh_dma_addr_t h = 0;

    if (st.nlive == MAXLIVE)
        return;
    r = dmacoh_alloc_coherent(&st.dev[d], size, flags, 0, &cpu, &h);
    if (size == 0) {
        EXPECT(r == DMACOH_EINVAL, "alloc of 0 bytes: %d", r);
        return;
    }
    EXPECT(r == 0 || r == DMACOH_ENOMEM, "alloc of %zu on %s: %d", size, names[d], r);
    if (r)
        return;
    if (dmacoh_origin_of(&st.dev[d], cpu) != DMACOH_ORIGIN_REGION) {
        EXPECT(owner < 0 || !((st.reg[owner].flags & DMACOH_MEMORY_EXCLUSIVE) ||
                              (flags & DMACOH_ALLOC_NOFALLBACK)),
               "system memory given despite EXCLUSIVE or NOFALLBACK");
        owner = -1;
    }
    EXPECT(owner >= 0 || dmacoh_origin_of(&st.dev[d], cpu) == DMACOH_ORIGIN_SYSTEM, "origin of %p",
           cpu);
    check_new(d, owner, cpu, h, size, !(flags & DMACOH_ALLOC_NOZERO));
    add_live(d, owner, -1, cpu, h, size);
}

/* Picks a live allocation (not a pool block); -1 if none. */
static int pick_alloc(void)
{
    unsigned k = get8();

    for (unsigned i = 0; i < st.nlive; i++) {
        unsigned j = (k + i) % st.nlive;

        if (st.live[j].pool < 0)
            return (int)j;
    }
    return -1;
}

static void op_free(void)
{
    int i = pick_alloc(), r;
    struct live l;

    if (i < 0)
        return;
    l = st.live[i];
    check_bytes(&l, true);
    r = dmacoh_free_coherent(&st.dev[l.dev], l.size, l.cpu, l.h);
    EXPECT(r == 0, "free of %p+%zu: %d", (void *)l.cpu, l.size, r);
    drop_live((unsigned)i);
}

/* Frees that must fail and change nothing. */
static void op_bad_free(void)
{
    unsigned kind = get8() % 4;
    int i = pick_alloc(), r;
    struct live l;
    uint64_t g;

    if (kind == 3) { /* double free */
        if (!st.nfreed || any_pool())
            return;
        l = st.freed[get8() % (st.nfreed < MAXFREED ? st.nfreed : MAXFREED)];
        if (l.pool >= 0 || starts_live(l.cpu))
            return;
        r = dmacoh_free_coherent(&st.dev[l.dev], l.size, l.cpu, l.h);
        EXPECT(r == DMACOH_EFAULT, "double free of %p: %d", (void *)l.cpu, r);
        return;
    }
    if (i < 0)
        return;
    l = st.live[i];
    g = l.owner >= 0 ? st.reg[l.owner].granule : DMACOH_PAGE_SIZE;
    if (kind == 0) { /* a size of another number of granules */
        r = dmacoh_free_coherent(&st.dev[l.dev], l.size + (size_t)g, l.cpu, l.h);
        EXPECT(r == DMACOH_EINVAL, "free with a wrong size: %d", r);
    } else if (kind == 1) { /* a wrong handle */
        r = dmacoh_free_coherent(&st.dev[l.dev], l.size, l.cpu, l.h + g);
        EXPECT(r == DMACOH_EINVAL, "free with a wrong handle: %d", r);
    } else if (l.size > g) { /* the middle of the allocation */
        r = dmacoh_free_coherent(&st.dev[l.dev], l.size - (size_t)g, l.cpu + g, l.h + g);
        EXPECT(r == DMACOH_EFAULT, "free of the middle of an allocation: %d", r);
    }
}

static void op_occupy(int d)
{
    const struct reg *g = &st.reg[d];
    uint64_t off = (uint64_t)get16() * 64u, len = (uint64_t)get8() * 256u + 1;
    void *cpu = NULL;
    int r;

    if (st.nocc == MAXOCC)
        return;
    r = dmacoh_mark_declared_memory_occupied(&st.dev[d], g->daddr + off, len, &cpu);
    if (!g->on) {
        EXPECT(r == DMACOH_ENODEV, "occupy without a region: %d", r);
        return;
    }
    if (off >= g->size || len > g->size - off) {
        EXPECT(r == DMACOH_ERANGE, "occupy outside the region: %d", r);
        return;
    }
    EXPECT(r == 0 || r == DMACOH_EBUSY, "occupy: %d", r);
    if (r)
        return;
    st.occ[st.nocc].dev = d;
    st.occ[st.nocc].h = g->daddr + off / g->granule * g->granule;
    st.occ[st.nocc].len =
        ((off + len + g->granule - 1) / g->granule) * g->granule - off / g->granule * g->granule;
    st.occ[st.nocc].cpu = (unsigned char *)cpu - off % g->granule;
    EXPECT(dmacoh_virt_to_dma(&st.dev[d], cpu) == g->daddr + off, "occupied pointer");
    /* Freeing an occupied range is refused. */
    r = dmacoh_free_coherent(&st.dev[d], (size_t)g->granule, st.occ[st.nocc].cpu,
                             st.occ[st.nocc].h);
    EXPECT(r == DMACOH_EPERM, "free of an occupied range: %d", r);
    st.nocc++;
}

static void op_release(int d)
{
    bool force = get8() & 1;
    struct dmacoh_region_stats rs;
    struct reg next[NDEV];
    int r;

    if (!st.reg[d].on) {
        EXPECT(dmacoh_release_coherent_memory(&st.dev[d], 0) == DMACOH_ENODEV, "release");
        return;
    }
    memcpy(next, st.reg, sizeof(next));
    next[d].on = false;
    for (int x = 0; x < NDEV && force; x++)
        if (serving(st.reg, x) == d && has_pool(x))
            return; /* its chunks would be stranded */
    EXPECT(dmacoh_region_get_stats(&st.dev[d], &rs) == 0, "stats");
    if (!force && would_strand(next) && rs.live == 0)
        return;
    r = dmacoh_release_coherent_memory(&st.dev[d], force ? DMACOH_RELEASE_FORCE : 0);
    if (!force && rs.live) {
        EXPECT(r == DMACOH_EBUSY, "release with %llu live: %d", (unsigned long long)rs.live, r);
        return;
    }
    EXPECT(r == 0, "release: %d", r);
    st.reg[d].on = false;
    for (unsigned i = st.nlive; i-- > 0;)
        if (st.live[i].owner == d) {
            EXPECT(force, "a live allocation outlived a plain release");
            st.live[i] = st.live[--st.nlive];
        }
    for (unsigned i = st.nocc; i-- > 0;)
        if (st.occ[i].dev == d)
            st.occ[i] = st.occ[--st.nocc];
    st.nfreed = 0; /* their addresses may be declared again */
}

static void op_pool_create(int d)
{
    struct dmacoh_pool_opts o;
    unsigned f = get8();
    size_t size = get8() * 3u, align = (size_t)1 << (f & 7), boundary = 0;
    int i, r;

    for (i = 0; i < MAXPOOL && st.pool[i].p; i++)
        ;
    if (i == MAXPOOL)
        return;
    if (f & 0x08)
        boundary = (size_t)pow2_ceil(size ? size : 1) << ((f >> 4) & 3);
    memset(&o, 0, sizeof(o));
    o.poison = f & 0x40;
    o.keep_empty = (f & 0x80) ? DMACOH_POOL_KEEP_NONE : 0;
    r = dmacoh_pool_create(&st.pool[i].p, "fuzz", &st.dev[d], size, align, boundary, &o);
    if (size == 0) {
        EXPECT(r == DMACOH_EINVAL, "pool of 0-byte blocks: %d", r);
        st.pool[i].p = NULL;
        return;
    }
    EXPECT(r == 0, "pool create (%zu, %zu, %zu): %d", size, align, boundary, r);
    st.pool[i].dev = d;
    st.pool[i].size = size;
    st.pool[i].align = align;
    st.pool[i].boundary = boundary;
}

static void op_pool_alloc(void)
{
    int i = (int)(get8() % MAXPOOL), r;
    const struct fpool *p = &st.pool[i];
    void *cpu;
    dmacoh_dma_addr_t h;

    if (!p->p || st.nlive == MAXLIVE)
        return;
    r = dmacoh_pool_alloc(p->p, DMACOH_POOL_ZERO, &cpu, &h);
    EXPECT(r == 0 || r == DMACOH_ENOMEM, "pool alloc: %d", r);
    if (r)
        return;
    EXPECT(h % p->align == 0, "block %#llx not aligned to %zu", (unsigned long long)h, p->align);
    EXPECT(!p->boundary || h / p->boundary == (h + p->size - 1) / p->boundary,
           "block %#llx crosses %zu", (unsigned long long)h, p->boundary);
    for (size_t k = 0; k < p->size; k++)
        EXPECT(dmacoh_ioread8((unsigned char *)cpu + k) == 0, "block not zeroed");
    add_live(p->dev, -2, i, cpu, h, p->size);
}

static void op_pool_free(bool twice)
{
    unsigned k = get8();
    struct live l;
    int r;

    for (unsigned n = 0; n < st.nlive; n++) {
        unsigned j = (k + n) % st.nlive;

        if (st.live[j].pool < 0)
            continue;
        l = st.live[j];
        check_bytes(&l, true);
        r = dmacoh_pool_free(st.pool[l.pool].p, l.cpu, l.h);
        EXPECT(r == 0, "pool free: %d", r);
        drop_live(j);
        if (twice && !starts_live(l.cpu)) {
            r = dmacoh_pool_free(st.pool[l.pool].p, l.cpu, l.h);
            EXPECT(r == DMACOH_EFAULT, "pool double free: %d", r);
        }
        return;
    }
}

static void op_pool_destroy(void)
{
    int i = (int)(get8() % MAXPOOL), r;
    bool busy = false;

    if (!st.pool[i].p)
        return;
    for (unsigned n = 0; n < st.nlive; n++)
        busy |= st.live[n].pool == i;
    r = dmacoh_pool_destroy(st.pool[i].p, 0);
    if (busy) {
        EXPECT(r == DMACOH_EBUSY, "destroy of a busy pool: %d", r);
        if (!(get8() & 1))
            return;
        r = dmacoh_pool_destroy(st.pool[i].p, DMACOH_POOL_DESTROY_FORCE);
        for (unsigned n = st.nlive; n-- > 0;)
            if (st.live[n].pool == i)
                st.live[n] = st.live[--st.nlive];
    }
    EXPECT(r == 0, "pool destroy: %d", r);
    st.pool[i].p = NULL;
    st.nfreed = 0;
}

/* ---- one input ---- */

static struct dmacoh_platform_ops with_reserve;

static void setup(void)
{
    struct dmacoh_baremetal_config c;

    if (!buf) {
        buf = (unsigned char *)aligned_alloc(1u << 20, WIN + RAM);
        if (!buf)
            abort();
    }
    memset(&st, 0, sizeof(st));
    memset(&c, 0, sizeof(c));
    c.cpu_offset = (uint64_t)(uintptr_t)buf - BUS;
    c.modes = DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO;
    c.ram_bus = BUS + WIN;
    c.ram_size = RAM;
    c.ram_meta = ram_meta;
    c.ram_meta_size = sizeof(ram_meta);
    c.meta_arena = arena;
    c.meta_arena_size = sizeof(arena);
    if (dmacoh_baremetal_init(&st.bm, &c) != 0)
        abort();
    with_reserve = *st.bm.plat.ops;
    with_reserve.reserve = dmacoh__linux_reserve; /* the Linux platforms' own */
    with_reserve.unreserve = dmacoh__linux_unreserve;
    st.bm.plat.ops = &with_reserve;
    for (int d = 0; d < NDEV; d++)
        if (dmacoh_device_init(&st.dev[d], names[d],
                               parent_of[d] >= 0 ? &st.dev[parent_of[d]] : NULL, &st.bm.plat) != 0)
            abort();
}

static void teardown(void)
{
    for (int i = 0; i < MAXPOOL; i++)
        if (st.pool[i].p)
            EXPECT(dmacoh_pool_destroy(st.pool[i].p, DMACOH_POOL_DESTROY_FORCE) == 0, "destroy");
    for (unsigned i = 0; i < st.nlive; i++) {
        const struct live *l = &st.live[i];

        if (l->pool < 0)
            EXPECT(dmacoh_free_coherent(&st.dev[l->dev], l->size, l->cpu, l->h) == 0, "free");
    }
    for (int d = 0; d < NDEV; d++) {
        if (st.reg[d].on)
            EXPECT(dmacoh_release_coherent_memory(&st.dev[d], 0) == 0, "final release of %s",
                   names[d]);
    }
    for (int d = NDEV; d-- > 0;)
        EXPECT(dmacoh_device_fini(&st.dev[d]) == 0, "fini %s", names[d]);
    /* It refuses while fallback memory or metadata (pools, records) is still handed out. */
    EXPECT(dmacoh_baremetal_fini(&st.bm) == 0, "platform fini: %llu metadata blocks leaked",
           (unsigned long long)dmacoh_window_live(&st.bm.meta));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Every refused input is logged by design; on stderr (the hosted default) that would be
     * millions of lines and a slow fuzzer. The model checks the error codes instead. */
    dmacoh_set_log_fn(NULL, NULL, 0);
    setup();
    st.in = data;
    st.left = size;
    /* The first byte picks the debug mode: its checks must agree with the model too. */
    if (dmacoh_debug_set(get8() % 4 == 3 ? DMACOH_DEBUG_ALL : 0))
        abort();
    while (st.left) {
        unsigned op = get8();
        int d = (int)((op >> 4) % NDEV);

        st.nops++;
        switch (op % 12) {
        case 0:
            op_declare(d);
            break;
        case 1:
        case 2:
            op_alloc(d);
            break;
        case 3:
            op_free();
            break;
        case 4:
            op_bad_free();
            break;
        case 5:
            op_occupy(d);
            break;
        case 6:
            op_release(d);
            break;
        case 7:
            op_pool_create(d);
            break;
        case 8:
        case 9:
            op_pool_alloc();
            break;
        case 10:
            op_pool_free(op & 0x40);
            break;
        default:
            op_pool_destroy();
            break;
        }
        check_all();
    }
    teardown();
    return 0;
}
