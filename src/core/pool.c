/* SPDX-License-Identifier: MIT */
/*
 * pool.c - dma_pool: fixed-size blocks carved from chunks of coherent memory.
 *
 * Chunks come from dmacoh_alloc_coherent(), so they are aligned (as DMA handles) to their
 * size, a power of two: a block's chunk is found from its handle by masking, through an
 * open-addressed hash table of chunk handles.
 *
 * Packing. A chunk of one page holds two 1536-byte blocks (75 % of the page), and blocks never
 * cross a chunk's end, so the chunk size is chosen per pool: the smallest power of two from
 * max(PAGE_SIZE, stride) up to MAX_CHUNK whose blocks fill at least 96 % of it (1536-byte
 * blocks: 32 KiB, 21 blocks, 98.4 %), else the one filled best. Power-of-two chunks keep the
 * alignment of dmacoh_alloc_coherent() from wasting anything and a region of a power-of-two
 * size divides into them exactly. When the region has no room for a chunk of that size, the
 * pool takes the largest smaller power of two it can get, down to the smallest size, so the
 * end of a region is used as well; so a pool holds chunks of a few sizes (a bit per size in
 * `shifts`) and free tries the mask of each size held, the largest (the common one) first
 * (each chunk's header names its size, so a hit is exact): O(1), one probe per size held.
 *
 * Each chunk's header lives in metadata memory (never in the chunk, which may be IO memory)
 * and holds a two-level bitmap of free blocks: one summary word over up to 64 bitmap words,
 * so taking the lowest free block is two count-trailing-zeros and a fresh chunk hands out
 * ascending addresses. Block offsets inside
 * a chunk skip to the next `boundary` when a block would cross it; the inverse mapping uses a
 * precomputed reciprocal instead of a division (exact for every block start, and a non-start
 * is caught by multiplying back).
 *
 * Threads. With one lock per pool, two threads were 7 to 10 times slower per pair than one
 * (the lock's cache line bounces between cores). So a pool has up to SHARDS shards, each with
 * its own lock, chunks, list of chunks with room and hash table, on cache lines of its own. A
 * thread allocates from its home shard (the platform's thread_slot), and a block is freed to
 * the shard that owns its chunk, the home shard being tried first. A shard that cannot get a
 * new chunk takes a block from another shard before failing, so a small exclusive region is
 * never starved by the split.
 */
#include "internal.h"

#include <dmacoh/pool.h>

#define POOL_MAGIC    0x706f6c32u /* "pol2" */
#define MAX_PER_CHUNK 4096u
#define MAX_CHUNK     ((size_t)256 * 1024) /* the largest chunk a default pool chooses */
#define FILL_DIV      25u                  /* a chunk may waste at most 1/FILL_DIV of itself */
#define DEFAULT_ALIGN 8u
#define TAB_MIN       16u
#define SHARDS        4u /* a power of two: shards are picked with a mask */
#define LINE          64u
#define MAG_DEPTH     8u /* blocks a thread's magazine holds */

struct chunk {
    void *raw;                         /* what meta_alloc returned (the header is line-aligned) */
    struct chunk *next, *prev;         /* on its shard's avail list while it has free blocks */
    char *cpu;                         /* first byte (pointer or IO cookie) */
    dmacoh_dma_addr_t dma;             /* its handle */
    const struct dmacoh_device *owner; /* the device whose region it came from */
    uint64_t region;                   /* that region's id; 0: system memory */
    uint32_t nfree;
    uint32_t nblocks; /* blocks it holds */
    unsigned shift;   /* its size is 1 << shift */
    unsigned shard;   /* the shard whose table holds it */
    uint32_t pins;    /* magazines whose `last` it is (shard lock) */
    bool orphan;      /* it went while pinned: the last unpin puts the header away (lock) */
    bool retired;     /* its region was released under the pool, or it went (atomic) */
    uint64_t summary; /* bit w: bits[w] has a free block */
    uint64_t bits[];  /* bit i: block i is free and not in a magazine; then the st bytes */
};

/* The fields a magazine reads without the shard lock (dma, cpu, nblocks, nfree, shift,
 * retired, the st bytes) are written with relaxed atomic stores; a header may be given to a
 * new chunk while a magazine still names it (mag_free re-checks after its swap). */
#define LD(x)    __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* st[i] of a chunk of nblocks blocks: 1 while block i is free (in the bitmap or in a
 * magazine), 0 while it is handed out. It goes from 0 to 1 by compare-and-swap only, so that
 * of two frees of one block, racing or not, exactly one succeeds. */
static uint8_t *st_of(struct chunk *c, uint32_t nblocks)
{
    return (uint8_t *)&c->bits[(nblocks + 63) / 64];
}

/* A thread's magazine (file comment): touched by the thread holding its id only, but for
 * the counters, which stats read. */
struct mag {
    void *raw;              /* what meta_alloc returned: the magazine is on lines of its own */
    uint64_t gen;           /* flush_gen when this thread last looked */
    struct chunk *last;     /* the chunk of the last block freed here: skips the lookup */
    uint64_t allocs, frees; /* blocks handed out from / taken into the magazine (atomic) */
    uint32_t count;         /* blocks held (atomic) */
    uint32_t idx[MAG_DEPTH];
    struct chunk *c[MAG_DEPTH];
};

struct shard {
    uint32_t lock;
    struct chunk *avail; /* chunks with free blocks */
    struct chunk **tab;  /* this shard's chunks by their handle */
    struct chunk *last;  /* the chunk last freed into: frees cluster, this skips the hash */
    size_t tab_cap, nchunks;
    unsigned nempty; /* its empty chunks kept, when keep_empty is per shard */
    uint64_t in_use, peak, allocs, frees, failures;
};

/* A shard padded to whole cache lines, so that two shards never share one. */
union shard_line {
    struct shard s;
    char pad[(sizeof(struct shard) + LINE - 1) / LINE * LINE];
};

struct dmacoh_pool {
    union shard_line shard[SHARDS]; /* first: the struct is placed on a cache line */
    /* Written whenever a chunk turns empty or stops being empty, by any thread: on a line of
     * its own, away from the fields every call reads. */
    union {
        unsigned nempty; /* empty chunks kept, all shards together (atomic) */
        char pad[LINE];
    } empty;
    uint32_t magic;
    const char *name;
    struct dmacoh_device *dev;
    struct dmacoh_platform *plat;
    void *raw; /* what meta_alloc returned; the pool is aligned to LINE inside it */
    size_t size, stride, chunk_size, per_chunk, per_seg;
    size_t boundary;    /* 0: none inside a chunk */
    unsigned min_shift; /* log2 of the smallest chunk taken when chunk_size cannot be had */
    unsigned shifts;    /* bit s: chunks of 1 << s bytes were adopted (atomic) */
    unsigned chunk_shift, bshift, nshards, keep_empty;
    uint32_t recip; /* ceil(2^32 / stride) */
    bool poison;
    uint64_t poison_errors;
    uint32_t epoch;      /* dmacoh__release_epoch when the chunks were last checked (atomic) */
    uint32_t gone_lock;  /* protects gone and spare */
    struct chunk *gone;  /* retired chunks that had blocks outstanding (headers only) */
    struct chunk *spare; /* headers of chunks dropped or retired empty, kept for reuse */
    bool cache;          /* per-thread magazines on */
    bool keep_per_shard; /* the default keep_empty: one empty chunk per shard (empty_kept) */
    uint64_t flush_gen;  /* bumped by an allocation about to fail: magazines flush (atomic) */
    struct mag *mags[DMACOH_THREAD_IDS]; /* by thread id; made by their thread (atomic) */
};

static void mag_flush(struct dmacoh_pool *p, struct mag *m);
static void release_header(struct dmacoh_pool *p, struct chunk *c);

/* A magazine's allocation: whole cache lines, none shared with another thread's data. */
#define MAG_BYTES ((sizeof(struct mag) + LINE - 1) / LINE * LINE + LINE)

/* Bytes asked of meta_alloc for a chunk header: whole cache lines and one more to align it,
 * so that the headers of two threads' chunks never share a line (their st bytes and counts
 * are written at every pair). */
static size_t header_size(size_t nblocks)
{
    size_t bytes = sizeof(struct chunk) + ((nblocks + 63) / 64) * sizeof(uint64_t) + nblocks;

    return (bytes + LINE - 1) / LINE * LINE + LINE;
}

static void header_free(struct dmacoh_pool *p, struct chunk *c)
{
    p->plat->ops->meta_free(p->plat->ctx, c->raw, header_size(c->nblocks));
}

/* Chunk headers are never freed while the pool lives: a header whose chunk went is kept on
 * `spare` and used again for a chunk of as many blocks, unless a magazine names it as its
 * `last` (pinned): then it stays as it is, retired, until the last pin goes (release_header,
 * unpin), so a pinned header never describes another chunk. */
static struct chunk *header_get(struct dmacoh_pool *p, size_t nblocks)
{
    struct chunk *c, **pp;

    dmacoh__lock(&p->gone_lock, p->plat);
    for (pp = &p->spare; (c = *pp) != NULL && c->nblocks != nblocks; pp = &c->next)
        ;
    if (c)
        *pp = c->next;
    dmacoh__unlock(&p->gone_lock);
    if (!c) {
        void *raw = p->plat->ops->meta_alloc(p->plat->ctx, header_size(nblocks));

        if (!raw)
            return NULL;
        c = (struct chunk *)(((uintptr_t)raw + LINE - 1) & ~(uintptr_t)(LINE - 1));
        c->raw = raw;
        ST(c->nblocks, (uint32_t)nblocks);
    }
    return c;
}

static void header_put(struct dmacoh_pool *p, struct chunk *c)
{
    __atomic_store_n(&c->retired, true, __ATOMIC_RELAXED); /* magazines pass it by */
    dmacoh__lock(&p->gone_lock, p->plat);
    c->next = p->spare;
    p->spare = c;
    dmacoh__unlock(&p->gone_lock);
}

static size_t chunk_bytes(const struct chunk *c)
{
    return (size_t)1 << c->shift;
}

/* Blocks a chunk of 1 << shift bytes holds: whole boundary segments, or as many strides as fit
 * (a chunk no larger than the boundary is aligned to its size, so no block in it crosses). */
static size_t blocks_in(const struct dmacoh_pool *p, unsigned shift)
{
    size_t bytes = (size_t)1 << shift;

    if (p->boundary && bytes > p->boundary)
        return (bytes >> p->bshift) * p->per_seg;
    return bytes / p->stride;
}

/* ---- a shard's chunk hash table (linear probing, backward-shift deletion) ---- */

static size_t slot_of(const struct dmacoh_pool *p, const struct shard *sh, dmacoh_dma_addr_t dma)
{
    return (size_t)(((dma >> p->min_shift) * 0x9e3779b97f4a7c15ull) >> 32) & (sh->tab_cap - 1);
}

static struct chunk *tab_find(const struct dmacoh_pool *p, const struct shard *sh,
                              dmacoh_dma_addr_t chunk_dma)
{
    if (!sh->tab)
        return NULL;
    for (size_t i = slot_of(p, sh, chunk_dma);; i = (i + 1) & (sh->tab_cap - 1)) {
        struct chunk *c = sh->tab[i];

        if (!c || c->dma == chunk_dma)
            return c;
    }
}

static void tab_put(const struct dmacoh_pool *p, struct shard *sh, struct chunk *c)
{
    size_t i = slot_of(p, sh, c->dma);

    while (sh->tab[i])
        i = (i + 1) & (sh->tab_cap - 1);
    sh->tab[i] = c;
}

static void tab_del(const struct dmacoh_pool *p, struct shard *sh, const struct chunk *c)
{
    size_t mask = sh->tab_cap - 1, i = slot_of(p, sh, c->dma), j;

    while (sh->tab[i] != c)
        i = (i + 1) & mask;
    sh->tab[i] = NULL;
    /* Shift back later entries of the probe run that can move into the hole. */
    for (j = (i + 1) & mask; sh->tab[j]; j = (j + 1) & mask) {
        size_t home = slot_of(p, sh, sh->tab[j]->dma);

        if (((j - home) & mask) >= ((j - i) & mask)) {
            sh->tab[i] = sh->tab[j];
            sh->tab[j] = NULL;
            i = j;
        }
    }
}

/* Makes room for one more chunk; called with the shard lock held. */
static int tab_grow(const struct dmacoh_pool *p, struct shard *sh)
{
    size_t cap = sh->tab_cap ? sh->tab_cap * 2 : TAB_MIN, old_cap = sh->tab_cap;
    struct chunk **old = sh->tab, **t;

    if ((sh->nchunks + 1) * 2 <= sh->tab_cap)
        return 0;
    t = (struct chunk **)p->plat->ops->meta_alloc(p->plat->ctx, cap * sizeof(*t));
    if (!t)
        return DMACOH_ENOMEM;
    for (size_t i = 0; i < cap; i++)
        t[i] = NULL;
    sh->tab = t;
    sh->tab_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            tab_put(p, sh, old[i]);
    if (old)
        p->plat->ops->meta_free(p->plat->ctx, old, old_cap * sizeof(*old));
    return 0;
}

/* ---- a shard's list of chunks with room ---- */

static void list_add(struct shard *sh, struct chunk *c)
{
    c->prev = NULL;
    c->next = sh->avail;
    if (sh->avail)
        sh->avail->prev = c;
    sh->avail = c;
}

static void list_del(struct shard *sh, struct chunk *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        sh->avail = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

/* ---- chunks of a region released under the pool ----
 *
 * A chunk remembers the region it came from (its id, which no later declaration reuses) and
 * the device that declared it. When a release happens anywhere (dmacoh__release_epoch moved),
 * the next call on the pool takes every chunk whose region is gone out of its shard: it never
 * hands out a block again, its memory is never freed (it belongs to whoever declared the range
 * since), and its header is kept while it had blocks outstanding, so that their frees are
 * refused naming the release rather than as blocks never allocated. */

static bool chunk_stale(const struct chunk *c)
{
    return c->region != 0 && !dmacoh__region_live(c->owner, c->region);
}

/* A chunk of shard sh turned empty (shard lock held): true if it is kept. By default each
 * shard keeps one, so that threads emptying and refilling chunks in their own shards (a ring
 * of blocks that cycles through whole chunks) never hand chunks to each other through the
 * region, whose lock and state all threads share; an explicit keep_empty counts for the whole
 * pool, on a cache line of its own. */
static bool empty_kept(struct dmacoh_pool *p, struct shard *sh)
{
    if (p->keep_per_shard) {
        if (sh->nempty)
            return false;
        sh->nempty = 1;
        return true;
    }
    if (__atomic_add_fetch(&p->empty.nempty, 1u, __ATOMIC_RELAXED) <= p->keep_empty)
        return true;
    __atomic_sub_fetch(&p->empty.nempty, 1u, __ATOMIC_RELAXED);
    return false;
}

/* A kept empty chunk of shard sh is used again, or goes (shard lock held). */
static void empty_gone(struct dmacoh_pool *p, struct shard *sh)
{
    if (p->keep_per_shard)
        sh->nempty--;
    else
        __atomic_sub_fetch(&p->empty.nempty, 1u, __ATOMIC_RELAXED);
}

/* Takes shard sh's stale chunks off its list and table onto *out (lock held); returns the
 * blocks outstanding in them, which are invalid now. */
static uint64_t retire_shard(struct dmacoh_pool *p, struct shard *sh, struct chunk **out)
{
    struct chunk *list = NULL;
    uint64_t lost = 0;

    for (size_t i = 0; i < sh->tab_cap; i++) {
        struct chunk *c = sh->tab[i];

        if (!c || !chunk_stale(c))
            continue;
        __atomic_store_n(&c->retired, true, __ATOMIC_RELAXED);
        if (c->nfree)
            list_del(sh, c);
        c->next = list; /* the table is not changed while it is walked */
        list = c;
    }
    while (list) {
        struct chunk *c = list;
        size_t held = c->nblocks - c->nfree;

        list = c->next;
        tab_del(p, sh, c);
        sh->nchunks--;
        if (sh->last == c)
            sh->last = NULL;
        if (held == 0) /* an empty chunk counts as kept */
            empty_gone(p, sh);
        sh->in_use -= held;
        lost += held;
        c->next = *out;
        *out = c;
    }
    return lost;
}

static void retire(struct dmacoh_pool *p, uint32_t epoch)
{
    struct chunk *out = NULL;
    uint64_t lost = 0;
    unsigned n = 0;

    for (unsigned k = 0; k < p->nshards; k++) {
        struct shard *sh = &p->shard[k].s;

        dmacoh__lock(&sh->lock, p->plat);
        lost += retire_shard(p, sh, &out);
        dmacoh__unlock(&sh->lock);
    }
    __atomic_store_n(&p->epoch, epoch, __ATOMIC_RELEASE);
    while (out) {
        struct chunk *c = out;

        out = c->next;
        n++;
        if (c->nfree == c->nblocks) {
            release_header(p, c);
            continue;
        }
        dmacoh__lock(&p->gone_lock, p->plat);
        c->next = p->gone;
        p->gone = c;
        dmacoh__unlock(&p->gone_lock);
    }
    if (n)
        dmacoh__warn("pool '%s': the region serving '%s' was released under it: %u chunks "
                     "retired, %llu blocks outstanding in them are invalid",
                     p->name, p->dev->name, n, (unsigned long long)lost);
}

/* Retires stale chunks when a region was released since the last look: one load otherwise. */
static inline void check_epoch(struct dmacoh_pool *p)
{
    uint32_t e = dmacoh__epoch();

    /* Acquire: the chunks retired before the epoch was stored are seen as retired. */
    if (__builtin_expect(e != __atomic_load_n(&p->epoch, __ATOMIC_ACQUIRE), 0))
        retire(p, e);
}

/* Whether a retired chunk holds handle. */
static bool was_retired(struct dmacoh_pool *p, dmacoh_dma_addr_t handle)
{
    bool hit = false;

    dmacoh__lock(&p->gone_lock, p->plat);
    for (const struct chunk *c = p->gone; c && !hit; c = c->next)
        hit = handle - c->dma < chunk_bytes(c);
    dmacoh__unlock(&p->gone_lock);
    return hit;
}

/* ---- block geometry ---- */

static uint64_t block_off(const struct dmacoh_pool *p, size_t idx)
{
    if (!p->boundary)
        return (uint64_t)idx * p->stride;
    return ((uint64_t)(idx / p->per_seg) << p->bshift) + (uint64_t)(idx % p->per_seg) * p->stride;
}

/* Index of the block starting at off (< the chunk's size) of a chunk of nblocks blocks, or
 * nblocks if no block starts there. */
static size_t block_idx(const struct dmacoh_pool *p, uint32_t nblocks, uint64_t off)
{
    uint64_t seg = p->boundary ? off >> p->bshift : 0;
    uint64_t within = p->boundary ? off & (p->boundary - 1) : off;
    uint64_t q = (within * p->recip) >> 32;

    if (q * p->stride != within || q >= p->per_seg)
        return nblocks;
    q += seg * p->per_seg;
    return q < nblocks ? (size_t)q : nblocks;
}

/* ---- create / destroy ---- */

/* The default chunk size, as a shift in [lo, hi]: the smallest whose blocks fill all but
 * 1/FILL_DIV of it, else the one filled best (the smallest of equals). */
static unsigned pick_shift(const struct dmacoh_pool *p, unsigned lo, unsigned hi)
{
    unsigned best = lo;

    for (unsigned s = lo; s <= hi; s++) {
        uint64_t n = blocks_in(p, s), bytes = (uint64_t)1 << s;

        if (n > MAX_PER_CHUNK)
            break;
        if ((bytes - n * p->stride) * FILL_DIV <= bytes)
            return s;
        if (n > ((uint64_t)blocks_in(p, best) << (s - best)))
            best = s;
    }
    return best;
}

static int geometry(struct dmacoh_pool *p, size_t size, size_t align, size_t boundary,
                    size_t chunk_opt)
{
    size_t stride, chunk;
    unsigned lo;

    if (align == 0)
        align = DEFAULT_ALIGN;
    if (size == 0 || !dmacoh__is_pow2(align) || (boundary && !dmacoh__is_pow2(boundary)) ||
        (boundary && boundary < size))
        return DMACOH_EINVAL;
    if (size > ((size_t)1 << 30) || align > ((size_t)1 << 30))
        return DMACOH_EOVERFLOW;
    stride = (size + align - 1) & ~(align - 1);
    stride = (stride + 7u) & ~(size_t)7u;
    if (boundary && stride >= boundary) {
        /* Blocks start on boundary multiples and are no longer than it: none can cross. */
        stride = (stride + boundary - 1) & ~(boundary - 1);
        boundary = 0;
    }
    if (chunk_opt && (chunk_opt < stride || chunk_opt > ((size_t)1 << 31)))
        return DMACOH_EINVAL; /* cannot hold one block, or far beyond any chunk's size */
    chunk = chunk_opt ? chunk_opt : DMACOH_PAGE_SIZE;
    if (chunk < stride)
        chunk = stride;
    chunk = (size_t)dmacoh__pow2_ceil(chunk);
    while (chunk / stride > MAX_PER_CHUNK)
        chunk /= 2;
    p->size = size;
    p->stride = stride;
    p->boundary = boundary;
    p->bshift = boundary ? dmacoh__log2(boundary) : 0;
    p->per_seg = boundary ? boundary / stride : MAX_PER_CHUNK;
    lo = dmacoh__log2(chunk);
    p->min_shift = lo;
    /* A chunk size the caller chose is kept; else the one that packs (file comment). */
    p->chunk_shift =
        (chunk_opt || chunk >= MAX_CHUNK) ? lo : pick_shift(p, lo, dmacoh__log2(MAX_CHUNK));
    p->chunk_size = (size_t)1 << p->chunk_shift;
    if (p->boundary >= p->chunk_size) { /* no chunk is larger: none has a boundary inside */
        p->boundary = 0;
        p->bshift = 0;
        p->per_seg = MAX_PER_CHUNK;
    }
    p->per_chunk = blocks_in(p, p->chunk_shift);
    if (p->per_chunk == 0)
        return DMACOH_EINVAL;
    p->recip = (uint32_t)((((uint64_t)1 << 32) + stride - 1) / stride);
    return 0;
}

/* opts->thread_cache: AUTO is on unless the region serving dev now is exclusive. */
static bool cache_wanted(const struct dmacoh_device *dev, const struct dmacoh_pool_opts *opts)
{
    const struct dmacoh_device *owner = NULL;
    unsigned want = opts ? opts->thread_cache : DMACOH_POOL_CACHE_AUTO;
    int flags = 0;

    if (want != DMACOH_POOL_CACHE_AUTO)
        return want == DMACOH_POOL_CACHE_ON;
    if (!dmacoh__pool_for(dev, &owner) || !owner)
        return true;
    for (unsigned i = 0; dmacoh__dev_region(owner, i, &flags) != NULL; i++)
        if (flags & DMACOH_MEMORY_EXCLUSIVE)
            return false;
    return true;
}

int dmacoh_pool_create(struct dmacoh_pool **out, const char *name, struct dmacoh_device *dev,
                       size_t size, size_t align, size_t boundary,
                       const struct dmacoh_pool_opts *opts)
{
    struct dmacoh_platform *plat;
    struct dmacoh_pool *p;
    void *raw;
    int r;

    if (!out || !name || !dmacoh__device_ok(dev) ||
        (opts && opts->thread_cache > DMACOH_POOL_CACHE_OFF)) {
        dmacoh__err("pool create '%s': %s", name ? name : "(null)",
                    !out                      ? "out is NULL"
                    : !name                   ? "name is NULL"
                    : !dmacoh__device_ok(dev) ? "not an initialised device"
                                              : "unknown thread_cache");
        return DMACOH_EINVAL;
    }
    plat = dev->platform;
    raw = plat->ops->meta_alloc ? plat->ops->meta_alloc(plat->ctx, sizeof(*p) + LINE) : NULL;
    if (!raw) {
        dmacoh__err("pool create '%s': no metadata memory", name);
        return DMACOH_ENOMEM;
    }
    p = (struct dmacoh_pool *)(((uintptr_t)raw + LINE - 1) & ~(uintptr_t)(LINE - 1));
    __builtin_memset(p, 0, sizeof(*p));
    r = geometry(p, size, align, boundary, opts ? opts->chunk_size : 0);
    if (r) {
        plat->ops->meta_free(plat->ctx, raw, sizeof(*p) + LINE);
        dmacoh__err("pool create '%s': size %zu, align %zu, boundary %zu are not usable", name,
                    size, align, boundary);
        return r;
    }
    p->raw = raw;
    p->name = name;
    p->dev = dev;
    p->plat = plat;
    p->poison = opts && opts->poison;
    p->keep_empty = (!opts || opts->keep_empty == 0)            ? 1
                    : opts->keep_empty == DMACOH_POOL_KEEP_NONE ? 0
                                                                : opts->keep_empty;
    p->keep_per_shard = !opts || opts->keep_empty == 0;
    p->nshards = plat->ops->thread_slot ? SHARDS : 1;
    p->cache = plat->ops->thread_id && cache_wanted(dev, opts);
    p->epoch = dmacoh__epoch();
    p->magic = POOL_MAGIC;
    *out = p;
    return 0;
}

/* The header of a chunk that went (dropped, or retired with no block out): to the spare
 * list, or, while a magazine names it, retired and left to the last unpin. */
static void release_header(struct dmacoh_pool *p, struct chunk *c)
{
    struct shard *sh = &p->shard[c->shard].s;
    bool pinned;

    dmacoh__lock(&sh->lock, p->plat);
    ST(c->retired, true);
    pinned = c->pins != 0;
    c->orphan = pinned;
    dmacoh__unlock(&sh->lock);
    if (!pinned)
        header_put(p, c);
}

/* A magazine stops naming c as its last. */
static void unpin(struct dmacoh_pool *p, struct chunk *c)
{
    struct shard *sh = &p->shard[c->shard].s;
    bool put;

    dmacoh__lock(&sh->lock, p->plat);
    put = --c->pins == 0 && c->orphan;
    if (put)
        c->orphan = false;
    dmacoh__unlock(&sh->lock);
    if (put)
        header_put(p, c);
}

static void drop_chunk(struct dmacoh_pool *p, struct chunk *c)
{
    (void)dmacoh_free_coherent(p->dev, chunk_bytes(c), c->cpu, c->dma);
    release_header(p, c);
}

static uint64_t report_outstanding(const struct dmacoh_pool *p, int level)
{
    uint64_t n = 0;

    for (unsigned k = 0; k < p->nshards; k++) {
        const struct shard *sh = &p->shard[k].s;

        for (size_t i = 0; i < sh->tab_cap; i++) {
            const struct chunk *c = sh->tab[i];

            if (c && c->nfree != c->nblocks) {
                dmacoh__log(level, "pool '%s': chunk at dma %#llx has %zu blocks outstanding",
                            p->name, (unsigned long long)c->dma, (size_t)(c->nblocks - c->nfree));
                n += c->nblocks - c->nfree;
            }
        }
    }
    return n;
}

int dmacoh_pool_destroy(struct dmacoh_pool *p, unsigned flags)
{
    if (!p)
        return 0;
    if (p->magic != POOL_MAGIC || (flags & ~(unsigned)DMACOH_POOL_DESTROY_FORCE)) {
        dmacoh__err("pool destroy: not a pool, or unknown flags %#x", flags);
        return DMACOH_EINVAL;
    }
    check_epoch(p); /* blocks of a released region are not outstanding: they are invalid */
    for (unsigned i = 0; i < DMACOH_THREAD_IDS; i++) { /* cached blocks are not outstanding */
        struct mag *m = p->mags[i];

        if (!m)
            continue;
        mag_flush(p, m);
        if (m->last)
            unpin(p, m->last);
        m->last = NULL;
    }
    if (report_outstanding(p, flags ? DMACOH_LOG_WARN : DMACOH_LOG_ERROR) &&
        !(flags & DMACOH_POOL_DESTROY_FORCE)) {
        dmacoh__err("pool destroy '%s': blocks are outstanding", p->name);
        return DMACOH_EBUSY;
    }
    for (unsigned k = 0; k < p->nshards; k++) {
        struct shard *sh = &p->shard[k].s;

        for (size_t i = 0; i < sh->tab_cap; i++)
            if (sh->tab[i])
                drop_chunk(p, sh->tab[i]);
        if (sh->tab)
            p->plat->ops->meta_free(p->plat->ctx, sh->tab, sh->tab_cap * sizeof(*sh->tab));
    }
    while (p->gone) { /* headers only: the memory went with its region */
        struct chunk *c = p->gone;

        p->gone = c->next;
        header_free(p, c);
    }
    while (p->spare) {
        struct chunk *c = p->spare;

        p->spare = c->next;
        header_free(p, c);
    }
    for (unsigned i = 0; i < DMACOH_THREAD_IDS; i++)
        if (p->mags[i])
            p->plat->ops->meta_free(p->plat->ctx, p->mags[i]->raw, MAG_BYTES);
    p->magic = 0;
    p->plat->ops->meta_free(p->plat->ctx, p->raw, sizeof(*p) + LINE);
    return 0;
}

/* ---- per-thread magazines ---- */

static struct chunk *give_block(struct dmacoh_pool *p, struct shard *sh, struct chunk *c,
                                size_t idx);

static void mag_add(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, *counter + n, __ATOMIC_RELAXED); /* one writer: no locked add */
}

/* Puts a block that was in a magazine back into its chunk. Not for a chunk whose region was
 * released (its memory is not the pool's: the block is simply forgotten). The shard counted
 * the block in use all along and never as freed: neither changes but in_use. */
static void mag_return(struct dmacoh_pool *p, struct chunk *c, uint32_t idx)
{
    struct shard *sh = &p->shard[c->shard].s;
    struct chunk *drop = NULL;

    dmacoh__lock(&sh->lock, p->plat);
    if (!__atomic_load_n(&c->retired, __ATOMIC_RELAXED)) { /* retired under this lock */
        drop = give_block(p, sh, c, idx);
        sh->frees--;
    }
    dmacoh__unlock(&sh->lock);
    if (drop)
        drop_chunk(p, drop);
}

static void mag_flush(struct dmacoh_pool *p, struct mag *m)
{
    for (uint32_t k = m->count; k-- > 0;) {
        __atomic_store_n(&m->count, k, __ATOMIC_RELAXED);
        mag_return(p, m->c[k], m->idx[k]);
    }
    m->gen = __atomic_load_n(&p->flush_gen, __ATOMIC_RELAXED);
}

static __attribute__((noinline)) struct mag *mag_make(struct dmacoh_pool *p, int id)
{
    void *raw = p->plat->ops->meta_alloc(p->plat->ctx, MAG_BYTES);
    struct mag *m;

    if (!raw)
        return NULL;
    m = (struct mag *)(((uintptr_t)raw + LINE - 1) & ~(uintptr_t)(LINE - 1));
    __builtin_memset(m, 0, sizeof(*m));
    m->raw = raw;
    m->gen = __atomic_load_n(&p->flush_gen, __ATOMIC_RELAXED);
    __atomic_store_n(&p->mags[id], m, __ATOMIC_RELEASE);
    return m;
}

/* The calling thread's magazine, flushed first if an allocation asked for it; NULL if the
 * pool or the thread has none. */
static inline struct mag *my_mag(struct dmacoh_pool *p)
{
    const struct dmacoh_platform *pl = p->plat;
    struct mag *m;
    int id;

    if (!p->cache)
        return NULL;
    id = pl->ops->thread_id(pl->ctx);
    if ((unsigned)id >= DMACOH_THREAD_IDS)
        return NULL;
    m = __atomic_load_n(&p->mags[id], __ATOMIC_ACQUIRE);
    if (__builtin_expect(!m, 0))
        m = mag_make(p, id);
    if (m && __builtin_expect(m->gen != __atomic_load_n(&p->flush_gen, __ATOMIC_RELAXED), 0))
        mag_flush(p, m);
    return m;
}

/* The chunk of the last block the magazine took and the block's offset in *off; NULL if the
 * magazine holds none (blocks of retired chunks are dropped on the way). */
static struct chunk *mag_pop(struct mag *m, const struct dmacoh_pool *p, uint64_t *off)
{
    while (m->count) {
        uint32_t k = m->count - 1;
        struct chunk *ch = m->c[k];

        __atomic_store_n(&m->count, k, __ATOMIC_RELAXED);
        if (__atomic_load_n(&ch->retired, __ATOMIC_RELAXED))
            continue; /* its region was released: the block is not the pool's */
        ST(st_of(ch, ch->nblocks)[m->idx[k]], (uint8_t)0);
        mag_add(&m->allocs, 1);
        *off = block_off(p, m->idx[k]);
        return ch;
    }
    return NULL;
}

/* Frees into the magazine without any lock when the block is in the chunk the thread last
 * freed into and the magazine has room: 0, or 1 to take the checked path (which gives every
 * error). The compare-and-swap of the block's st byte from 0 to 1 is the one locked
 * instruction of the pair, and where a second free of the block, racing or not, fails. The
 * header is re-read after it: a header that went to another chunk meanwhile (possible only
 * when this block was not handed out, a caller's bug) is seen, the byte put back and the
 * checked path taken. */
static int mag_free(struct dmacoh_pool *p, struct mag *m, void *cpu, dmacoh_dma_addr_t handle)
{
    struct chunk *c = m->last;
    dmacoh_dma_addr_t base, rel;
    uint32_t nblocks, mine = 1;
    size_t idx;
    uint8_t zero = 0, *st;

    if (!c || m->count == MAG_DEPTH || LD(c->retired))
        return 1;
    base = LD(c->dma);
    rel = handle - base;
    nblocks = LD(c->nblocks);
    if (rel >= ((dmacoh_dma_addr_t)1 << LD(c->shift)))
        return 1;
    idx = block_idx(p, nblocks, rel);
    if (idx >= nblocks || (char *)cpu != LD(c->cpu) + rel)
        return 1;
    /* Never the block that would leave its chunk empty but for this magazine: the checked
     * path gives them all back, so that empty chunks return to the region as without. */
    for (uint32_t k = 0; k < m->count; k++)
        mine += m->c[k] == c;
    if (LD(c->nfree) + mine >= nblocks)
        return 1;
    st = st_of(c, nblocks);
    if (LD(st[idx]) != 0 || !__atomic_compare_exchange_n(&st[idx], &zero, (uint8_t)1, false,
                                                         __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return 1;
    if (LD(c->retired) || LD(c->dma) != base || LD(c->nblocks) != nblocks) {
        ST(st[idx], (uint8_t)0);
        return 1;
    }
    if (p->poison)
        dmacoh_memset_io(cpu, DMACOH_POOL_POISON, p->size);
    ST(m->c[m->count], c);
    m->idx[m->count] = (uint32_t)idx;
    ST(m->count, m->count + 1);
    mag_add(&m->frees, 1);
    return 0;
}

/* ---- alloc ---- */

static unsigned home_shard(const struct dmacoh_pool *p)
{
    const struct dmacoh_platform *pl = p->plat;

    return p->nshards > 1 ? pl->ops->thread_slot(pl->ctx) & (p->nshards - 1) : 0;
}

/* Gets a new chunk of 1 << shift bytes (alloc flags as dmacoh_alloc_coherent) and its header,
 * outside any lock. */
static struct chunk *new_chunk(struct dmacoh_pool *p, unsigned shift, unsigned flags, int *err)
{
    size_t nblocks = blocks_in(p, shift), nwords = (nblocks + 63) / 64;
    struct chunk *c = header_get(p, nblocks);
    const struct dmacoh_device *owner = NULL;
    const struct dmacoh__pool *region;
    void *cpu;
    dmacoh_dma_addr_t dma;

    if (!c) {
        *err = DMACOH_ENOMEM;
        return NULL;
    }
    *err = dmacoh_alloc_coherent(p->dev, (size_t)1 << shift, DMACOH_ALLOC_NOZERO | flags, 0, &cpu,
                                 &dma);
    if (*err) {
        header_put(p, c); /* it may be a spare one that a magazine still names */
        return NULL;
    }
    ST(c->cpu, (char *)cpu);
    ST(c->dma, dma);
    region = dmacoh__pool_holding(p->dev, cpu, &owner);
    if (region) {
        c->owner = owner;
        c->region = region->id;
    } else {
        c->owner = NULL;
        c->region = 0;
    }
    ST(c->nfree, (uint32_t)nblocks);
    ST(c->nblocks, (uint32_t)nblocks);
    ST(c->shift, shift);
    for (size_t i = 0; i < nblocks; i++)
        ST(st_of(c, (uint32_t)nblocks)[i], (uint8_t)1);
    c->pins = 0;
    c->orphan = false;
    ST(c->retired, false);
    c->summary = 0;
    for (size_t w = 0; w < nwords; w++) {
        size_t left = nblocks - w * 64;

        c->bits[w] = left >= 64 ? ~0ull : ((1ull << left) - 1);
        c->summary |= 1ull << w;
    }
    if (p->poison)
        dmacoh_memset_io(c->cpu, DMACOH_POOL_POISON, chunk_bytes(c));
    return c;
}

/* Adds a fresh chunk to shard k (its lock held); false if its hash table cannot grow. */
static bool adopt(struct dmacoh_pool *p, unsigned k, struct chunk *c)
{
    struct shard *sh = &p->shard[k].s;

    c->shard = k;
    if (tab_grow(p, sh) != 0)
        return false;
    tab_put(p, sh, c);
    sh->nchunks++;
    list_add(sh, c);
    __atomic_or_fetch(&p->shifts, 1u << c->shift, __ATOMIC_RELAXED);
    return true;
}

/* Takes the lowest free block of the shard's first chunk with room (lock held). A chunk that
 * was kept empty stops counting against keep_empty; a fresh one never counted. */
static uint64_t take_block(struct dmacoh_pool *p, struct shard *sh, struct chunk **cp, bool fresh)
{
    struct chunk *c = sh->avail;
    unsigned w = (unsigned)__builtin_ctzll(c->summary);
    unsigned b = (unsigned)__builtin_ctzll(c->bits[w]);

    ST(st_of(c, c->nblocks)[(size_t)w * 64 + b], (uint8_t)0);
    c->bits[w] &= c->bits[w] - 1;
    if (!c->bits[w])
        c->summary &= ~(1ull << w);
    ST(c->nfree, c->nfree - 1);
    if (c->nfree + 1 == c->nblocks && !fresh)
        empty_gone(p, sh);
    if (!c->nfree)
        list_del(sh, c);
    if (++sh->in_use > sh->peak)
        sh->peak = sh->in_use;
    sh->allocs++;
    *cp = c;
    return block_off(p, (size_t)w * 64 + b);
}

/* When the home shard can get no chunk: a block from any other shard with room. */
static bool steal(struct dmacoh_pool *p, unsigned home, struct chunk **c, uint64_t *off)
{
    for (unsigned k = 1; k < p->nshards; k++) {
        struct shard *sh = &p->shard[(home + k) & (p->nshards - 1)].s;
        bool got = false;

        dmacoh__lock(&sh->lock, p->plat);
        if (sh->avail) {
            *off = take_block(p, sh, c, false);
            got = true;
        }
        dmacoh__unlock(&sh->lock);
        if (got)
            return true;
    }
    return false;
}

/* The home shard is full. In order: a new chunk of the device's region (threads keep to their
 * own shards); a free block of another shard (device memory is scarce: better than a chunk of
 * system memory while on-chip chunks have room); a smaller chunk of the region, the largest
 * it has room for (the packing chunk size may not fit at the region's end); a new chunk from
 * wherever dmacoh_alloc_coherent finds one. Lock not held. */
static int refill(struct dmacoh_pool *p, unsigned home, struct chunk **c, uint64_t *off)
{
    const struct dmacoh_device *owner;
    struct shard *sh = &p->shard[home].s;
    struct chunk *fresh = NULL;
    bool region = dmacoh__pool_for(p->dev, &owner) != NULL;
    int r = 0;

    if (region)
        fresh = new_chunk(p, p->chunk_shift, DMACOH_ALLOC_NOFALLBACK, &r);
    if (!fresh && steal(p, home, c, off))
        return 0;
    /* The region's end, or a hole between other allocations: the largest smaller chunk. */
    for (unsigned s = p->chunk_shift; region && !fresh && s-- > p->min_shift;)
        fresh = new_chunk(p, s, DMACOH_ALLOC_NOFALLBACK, &r);
    if (!fresh)
        fresh = new_chunk(p, p->chunk_shift, 0, &r);
    if (!fresh) {
        if (steal(p, home, c, off)) /* another thread freed meanwhile */
            return 0;
        /* Blocks other threads keep in their magazines come back at their next call. */
        if (p->cache)
            __atomic_add_fetch(&p->flush_gen, 1u, __ATOMIC_RELAXED);
        dmacoh__lock(&sh->lock, p->plat);
        sh->failures++;
        dmacoh__unlock(&sh->lock);
        dmacoh__err("pool alloc '%s': no chunk of %zu bytes or less: %s", p->name, p->chunk_size,
                    dmacoh_strerror(r));
        return r;
    }
    dmacoh__lock(&sh->lock, p->plat);
    if (!adopt(p, home, fresh)) {
        sh->failures++;
        dmacoh__unlock(&sh->lock);
        drop_chunk(p, fresh);
        dmacoh__err("pool alloc '%s': no metadata memory for the chunk table", p->name);
        return DMACOH_ENOMEM;
    }
    *off = take_block(p, sh, c, true);
    dmacoh__unlock(&sh->lock);
    return 0;
}

static void check_poison(struct dmacoh_pool *p, const char *cpu, dmacoh_dma_addr_t dma)
{
    for (size_t i = 0; i < p->size; i++) {
        if (dmacoh_ioread8(cpu + i) != DMACOH_POOL_POISON) {
            __atomic_add_fetch(&p->poison_errors, 1u, __ATOMIC_RELAXED);
            dmacoh__err("pool '%s': freed block at dma %#llx was written at offset %zu after "
                        "it was freed",
                        p->name, (unsigned long long)dma, i);
            return;
        }
    }
}

int dmacoh_pool_alloc(struct dmacoh_pool *p, unsigned flags, void **cpu, dmacoh_dma_addr_t *handle)
{
    struct chunk *c = NULL;
    struct mag *m;
    struct shard *sh;
    unsigned home;
    uint64_t off = 0;

    if (!p || p->magic != POOL_MAGIC || !cpu || !handle || (flags & ~(unsigned)DMACOH_POOL_ZERO)) {
        dmacoh__err("pool alloc: %s", (!p || p->magic != POOL_MAGIC)
                                          ? "not a pool (NULL or destroyed)"
                                      : !cpu    ? "the CPU address out-pointer is NULL"
                                      : !handle ? "the DMA handle out-pointer is NULL"
                                                : "unknown flags");
        return DMACOH_EINVAL;
    }
    check_epoch(p);
    m = my_mag(p);
    c = m ? mag_pop(m, p, &off) : NULL;
    if (!c) {
        home = home_shard(p);
        sh = &p->shard[home].s;
        dmacoh__lock(&sh->lock, p->plat);
        if (sh->avail)
            off = take_block(p, sh, &c, false);
        dmacoh__unlock(&sh->lock);
        if (!c) {
            int r = refill(p, home, &c, &off);

            if (r)
                return r;
            if (!c) /* refill sets it whenever it returns 0 */
                return DMACOH_ENOMEM;
        }
    }
    *cpu = c->cpu + off;
    *handle = c->dma + off;
    if (p->poison)
        check_poison(p, c->cpu + off, c->dma + off);
    if (flags & DMACOH_POOL_ZERO)
        dmacoh_memset_io(c->cpu + off, 0, p->size);
    return 0;
}

/* ---- free ---- */

/* Marks block idx of c free (shard lock held); returns the chunk to drop, if any. */
static struct chunk *give_block(struct dmacoh_pool *p, struct shard *sh, struct chunk *c,
                                size_t idx)
{
    c->bits[idx / 64] |= 1ull << (idx % 64);
    c->summary |= 1ull << (idx / 64);
    ST(c->nfree, c->nfree + 1);
    if (c->nfree == 1)
        list_add(sh, c);
    sh->in_use--;
    sh->frees++;
    if (c->nfree != c->nblocks || empty_kept(p, sh))
        return NULL;
    list_del(sh, c);
    tab_del(p, sh, c);
    sh->nchunks--;
    if (sh->last == c)
        sh->last = NULL;
    return c;
}

/* The chunk of shard sh holding handle among those smaller than chunk_size, or NULL (lock
 * held). A chunk is aligned to its size, so it starts at handle masked to one of the sizes
 * the pool holds, and it is the one found there only if it has that size. Not inlined: it is
 * the rare path (chunks at a region's end, or no chunk at all), and inlined into free_in it
 * cost every free about 14 instructions more. */
__attribute__((noinline)) static struct chunk *
find_smaller(const struct dmacoh_pool *p, const struct shard *sh, dmacoh_dma_addr_t handle)
{
    unsigned shifts = __atomic_load_n(&p->shifts, __ATOMIC_RELAXED) & ((1u << p->chunk_shift) - 1);

    while (shifts) {
        unsigned s = 31u - (unsigned)__builtin_clz(shifts);
        struct chunk *c = tab_find(p, sh, handle & ~(((dmacoh_dma_addr_t)1 << s) - 1));

        if (c && c->shift == s)
            return c;
        shifts &= ~(1u << s);
    }
    return NULL;
}

/* Puts a checked free block of c (st already 1) where it goes (shard lock held): into the
 * thread's magazine m if it has room and the chunk keeps other blocks handed out; else into
 * the chunk, and with it every block of that chunk in m when they would leave it empty
 * otherwise (so that a pool used by one thread returns empty chunks as it would without
 * magazines). Returns the chunk to drop, if any. */
static struct chunk *place_freed(struct dmacoh_pool *p, struct shard *sh, struct mag *m,
                                 struct chunk *c, size_t idx)
{
    uint32_t mine = 0;

    for (uint32_t k = 0; m && k < m->count; k++)
        mine += m->c[k] == c;
    if (m && m->count < MAG_DEPTH && c->nfree + mine + 1 < c->nblocks) {
        ST(m->c[m->count], c);
        m->idx[m->count] = (uint32_t)idx;
        ST(m->count, m->count + 1);
        mag_add(&m->frees, 1);
        return NULL;
    }
    if (mine && c->nfree + mine + 1 == c->nblocks) {
        for (uint32_t k = m->count; k-- > 0;) {
            if (m->c[k] != c)
                continue;
            (void)give_block(p, sh, c, m->idx[k]); /* cannot empty it: idx is still out */
            sh->frees--;                           /* a magazine's block, counted there */
            ST(m->c[k], m->c[m->count - 1]);
            m->idx[k] = m->idx[m->count - 1];
            ST(m->count, m->count - 1);
        }
    }
    return give_block(p, sh, c, idx);
}

/* Frees in shard sh if it owns the block's chunk: 1 if not its chunk, else 0 or an error. */
static int free_in(struct dmacoh_pool *p, struct shard *sh, struct mag *m, void *cpu,
                   dmacoh_dma_addr_t handle, struct chunk **drop, struct chunk **old)
{
    uint8_t zero = 0, *st;
    bool not_out; /* not a block start, or the block is free already */
    dmacoh_dma_addr_t base = handle & ~(((dmacoh_dma_addr_t)1 << p->chunk_shift) - 1);
    struct chunk *c;
    size_t idx;
    int r = 0;

    dmacoh__lock(&sh->lock, p->plat);
    c = sh->last; /* only ever a chunk of chunk_size bytes: it holds handle if it starts at base */
    if (!c || c->dma != base) {
        c = tab_find(p, sh, base);
        if (c && c->shift == p->chunk_shift)
            sh->last = c;
        else
            c = find_smaller(p, sh, handle);
    }
    if (!c) {
        dmacoh__unlock(&sh->lock);
        return 1;
    }
    idx = block_idx(p, c->nblocks, handle - c->dma);
    st = st_of(c, c->nblocks);
    /* Free in the chunk (its bit) or in a magazine (its st byte, set by compare-and-swap so
     * that a racing free without the lock cannot take the block as well). */
    not_out = idx == c->nblocks || (c->bits[idx / 64] & (1ull << (idx % 64))) || LD(st[idx]) != 0;
    if (!not_out && (char *)cpu != c->cpu + (handle - c->dma))
        r = DMACOH_EINVAL;
    else if (not_out || !__atomic_compare_exchange_n(&st[idx], &zero, (uint8_t)1, false,
                                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        r = DMACOH_EFAULT;
    if (!r) {
        if (m && m->last != c) { /* the magazine's last from now on: pinned (unpin) */
            c->pins++;
            *old = m->last;
            m->last = c;
        }
        if (p->poison)
            dmacoh_memset_io(cpu, DMACOH_POOL_POISON, p->size);
        *drop = place_freed(p, sh, m, c, idx);
    }
    dmacoh__unlock(&sh->lock);
    return r;
}

int dmacoh_pool_free(struct dmacoh_pool *p, void *cpu, dmacoh_dma_addr_t handle)
{
    struct chunk *drop = NULL, *old = NULL;
    struct mag *m;
    unsigned home;
    int r = 1;

    if (!p || p->magic != POOL_MAGIC || !cpu) {
        dmacoh__err("pool free: %s", (!p || p->magic != POOL_MAGIC)
                                         ? "not a pool (NULL or destroyed)"
                                         : "the CPU address is NULL");
        return DMACOH_EINVAL;
    }
    check_epoch(p);
    m = my_mag(p);
    if (m && mag_free(p, m, cpu, handle) == 0)
        return 0;
    home = home_shard(p);
    for (unsigned k = 0; r == 1 && k < p->nshards; k++)
        r = free_in(p, &p->shard[(home + k) & (p->nshards - 1)].s, m, cpu, handle, &drop, &old);
    if (old)
        unpin(p, old);
    if (r == 1 && was_retired(p, handle)) {
        dmacoh__err("pool free '%s': %p / dma %#llx is a block of a chunk whose region was "
                    "released under the pool (dma_release_declared_memory): it became invalid "
                    "then, and its memory may belong to another device now",
                    p->name, cpu, (unsigned long long)handle);
        return DMACOH_EFAULT;
    }
    if (r == 1)
        r = DMACOH_EFAULT;
    if (r)
        dmacoh__err("pool free '%s': %p / dma %#llx is %s", p->name, cpu,
                    (unsigned long long)handle,
                    r == DMACOH_EINVAL ? "a pointer that does not match its handle"
                                       : "not an allocated block of this pool (double free?)");
    if (drop)
        drop_chunk(p, drop);
    return r;
}

int dmacoh_pool_get_stats(const struct dmacoh_pool *p, struct dmacoh_pool_stats *st)
{
    struct dmacoh_pool *q = (struct dmacoh_pool *)(uintptr_t)p;

    if (!p || p->magic != POOL_MAGIC || !st)
        return DMACOH_EINVAL;
    __builtin_memset(st, 0, sizeof(*st));
    st->block_size = p->size;
    st->stride = p->stride;
    st->chunk_size = p->chunk_size;
    st->per_chunk = p->per_chunk;
    st->poison_errors = __atomic_load_n(&p->poison_errors, __ATOMIC_RELAXED);
    check_epoch(q);
    for (unsigned k = 0; k < p->nshards; k++) {
        struct shard *sh = &q->shard[k].s;

        dmacoh__lock(&sh->lock, p->plat);
        st->chunks += sh->nchunks;
        st->in_use += sh->in_use;
        st->peak += sh->peak;
        st->allocs += sh->allocs;
        st->frees += sh->frees;
        st->failures += sh->failures;
        dmacoh__unlock(&sh->lock);
    }
    /* The shards count a block in a magazine as in use and its taking and handing out not at
     * all. Read without the magazines' threads stopping: exact when no call is running. */
    for (unsigned i = 0; i < DMACOH_THREAD_IDS; i++) {
        const struct mag *m = __atomic_load_n(&q->mags[i], __ATOMIC_ACQUIRE);

        if (!m)
            continue;
        /* Blocks of a retired chunk left the shard's in_use when it was retired. */
        for (uint32_t k = 0, n = LD(m->count); k < n && k < MAG_DEPTH; k++)
            st->cached += !LD(LD(m->c[k])->retired);
        st->allocs += __atomic_load_n(&m->allocs, __ATOMIC_RELAXED);
        st->frees += __atomic_load_n(&m->frees, __ATOMIC_RELAXED);
    }
    st->in_use = st->in_use > st->cached ? st->in_use - st->cached : 0;
    return 0;
}
