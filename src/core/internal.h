/* SPDX-License-Identifier: MIT */
/*
 * internal.h - private layouts and dmacoh__ prototypes shared by the core's files.
 *
 * The core is freestanding: nothing here or in src/core/ includes an OS header. Locks are
 * test-and-test-and-set spinlocks on a uint32_t (with the platform's relax op while spinning),
 * because the critical sections are a few hundred instructions and a mutex pair costs more
 * than that under contention; sleeping (DMACOH_ALLOC_WAIT) goes through the platform's
 * wait/wake ops on a sequence word.
 */
#ifndef DMACOH_CORE_INTERNAL_H
#define DMACOH_CORE_INTERNAL_H

#include <dmacoh/dmacoh.h>
#include <dmacoh/shared.h>

#define DMACOH__DEVICE_MAGIC   0x64657631u /* "dev1" */
#define DMACOH__PLATFORM_MAGIC 0x706c6131u /* "pla1" */
#define DMACOH__POOL_MAGIC     0x706f6f31u /* "poo1" */
#define DMACOH__DEVICE_DEAD    0x64656164u /* "dead": retired by dmacoh_device_fini */

/* ---- errors and logging (log.c) ---- */

/* Formats like a tiny printf (%s %d %u %x %llu %llx %zu %zx %p %%) and hands the line to the
 * installed log function; does nothing when none is installed or level is above the cap. */
void dmacoh__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Installs fn as dmacoh_set_log_fn would, unless the program has called dmacoh_set_log_fn:
 * a hosted platform's default (the Linux build's stderr log), which the program's own choice,
 * made before or after, always overrides. */
void dmacoh__log_default(void (*fn)(void *user, int level, const char *msg), void *user,
                         int max_level);

/* The highest level logged, -1 when no log function is installed. The macros test it before
 * calling, so a disabled log line on the allocation path costs one load and a compare. */
extern int dmacoh__log_max;

#define DMACOH__LOG(level, ...)                                                                    \
    do {                                                                                           \
        if (__atomic_load_n(&dmacoh__log_max, __ATOMIC_RELAXED) >= (level))                        \
            dmacoh__log((level), __VA_ARGS__);                                                     \
    } while (0)
#define dmacoh__err(...)  DMACOH__LOG(DMACOH_LOG_ERROR, __VA_ARGS__)
#define dmacoh__warn(...) DMACOH__LOG(DMACOH_LOG_WARN, __VA_ARGS__)
#define dmacoh__info(...) DMACOH__LOG(DMACOH_LOG_INFO, __VA_ARGS__)
#define dmacoh__dbg(...)  DMACOH__LOG(DMACOH_LOG_DEBUG, __VA_ARGS__)

/* ---- locks ---- */

static inline void dmacoh__lock(uint32_t *l, const struct dmacoh_platform *p)
{
    for (;;) {
        if (__atomic_exchange_n(l, 1u, __ATOMIC_ACQUIRE) == 0)
            return;
        for (unsigned spins = 0; __atomic_load_n(l, __ATOMIC_RELAXED) != 0; spins++) {
            if (spins >= 64 && p && p->ops->relax) {
                p->ops->relax(p->ctx);
                spins = 0;
            } else {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            }
        }
    }
}

/* dmacoh__lock that says whether the lock was held by someone else at first. */
static inline bool dmacoh__lock_spun(uint32_t *l, const struct dmacoh_platform *p)
{
    if (__atomic_exchange_n(l, 1u, __ATOMIC_ACQUIRE) == 0)
        return false;
    dmacoh__lock(l, p);
    return true;
}

static inline void dmacoh__unlock(uint32_t *l)
{
    __atomic_store_n(l, 0u, __ATOMIC_RELEASE);
}

/* ---- the page allocator (pages.c) ----
 *
 * State of a region's granules: two bits of kind per granule, a busy summary and an index of
 * the free runs by size class, all in the 64-bit words that follow the struct (caller or
 * platform memory, never the device memory). Offsets only, no pointers, so the same state
 * could live in memory shared by several processes. pages.c's opening comment has the design.
 */
enum {
    DMACOH__G_FREE = 0, /* not allocated */
    DMACOH__G_CONT = 1, /* continues the allocation or occupied range that began earlier */
    DMACOH__G_HEAD = 2, /* first granule of an allocation */
    DMACOH__G_OCC = 3,  /* first granule of an occupied (reserved) range */
};

struct dmacoh__pa {
    uint64_t ngranules;    /* granules in the region */
    uint64_t base_g;       /* device base address / granule: alignment is absolute */
    uint64_t used;         /* granules in allocations (not occupied) */
    uint64_t occupied;     /* granules in occupied ranges */
    uint64_t peak;         /* most `used` has been */
    uint64_t live;         /* allocations outstanding */
    uint64_t nwords;       /* words of state that follow the struct */
    uint64_t stride;       /* words per bitmap descriptor */
    uint64_t nclasses;     /* free-run size classes: floor(log2 ngranules) + 1 */
    uint64_t count_off;    /* word offset of the per-class run counts, then the class cursors */
    uint64_t kind_off;     /* word offset of the 2-bit kinds */
    uint64_t runs;         /* maximal free runs */
    uint64_t classmask;    /* bit c: some free run is in class c */
    uint64_t largest;      /* longest free run, unless largest_stale */
    uint64_t nlargest;     /* free runs that long */
    bool largest_stale;    /* the last longest run went: recount on the next read */
    bool first_fit;        /* nothing freed since the region was last empty: lowest fit wins */
    bool always_first_fit; /* DMACOH_PLACE_FIRST_FIT: lowest fit always wins */
    bool concurrent;       /* blocks may be parked: kind words change without the lock */
    /* Shared regions only (dmacoh__pa_init_owned; all zero otherwise). owners_off is the word
     * offset of one owner byte per granule, set at the head granule of every allocation to
     * `owner` (1..255; 0: none) and cleared when it is freed. The journal j_* names the one
     * operation in progress (j_op non-zero from before its first store to after its last), so
     * that a process that dies inside it leaves what dmacoh__pa_recover needs. */
    uint64_t owners_off;
    uint64_t owner;
    uint64_t j_op, j_off, j_n;
};

enum { DMACOH__J_NONE = 0, DMACOH__J_ALLOC = 1, DMACOH__J_FREE = 2, DMACOH__J_RESERVE = 3 };

/* Test hook: called with a step number at each point of a shared region's update where a
 * process may die (the kill tests make it die there); NULL in real use. */
extern void (*dmacoh__step_fn)(unsigned step);
#define DMACOH__STEP(n)                                                                            \
    do {                                                                                           \
        if (__builtin_expect(dmacoh__step_fn != NULL, 0))                                          \
            dmacoh__step_fn(n);                                                                    \
    } while (0)

/* Bytes of state (struct plus words) for n granules; 0 when n is 0 or too large. */
uint64_t dmacoh__pa_state_size(uint64_t ngranules);
void dmacoh__pa_init(struct dmacoh__pa *pa, uint64_t ngranules, uint64_t base_g);
/* The same, with owner records and the journal (shared regions): state of
 * dmacoh__pa_owned_size bytes. */
uint64_t dmacoh__pa_owned_size(uint64_t ngranules);
void dmacoh__pa_init_owned(struct dmacoh__pa *pa, uint64_t ngranules, uint64_t base_g);
/* After a process died holding the lock of an owned state: finishes or undoes the journalled
 * operation (a free is finished, an allocation or reservation undone: its granules were free
 * before), then rebuilds everything else from the kinds (summary, free-run index, counters,
 * owner bytes of granules that head no allocation). O(n). The state passes dmacoh__pa_check
 * afterwards, whatever step the process died at. Its size is the caller's (ngranules,
 * base_g), never read from the state: the layout is rewritten for it, so a damaged header
 * cannot make the repair write outside dmacoh__pa_owned_size(ngranules) bytes. */
void dmacoh__pa_recover(struct dmacoh__pa *pa, uint64_t ngranules, uint64_t base_g);
/* The owner byte of the allocation whose head is granule off (owned states). */
static inline unsigned dmacoh__pa_owner(const struct dmacoh__pa *pa, uint64_t off)
{
    return ((const uint8_t *)((const uint64_t *)(pa + 1) + pa->owners_off))[off];
}
/* n granules whose absolute index (base_g + off) is a multiple of align (a power of two) and
 * that end at or below granule `limit`; -DMACOH_ENOMEM if none is found (pages.c says when a
 * fit that exists is not looked at, in best fit). */
int dmacoh__pa_alloc(struct dmacoh__pa *pa, uint64_t n, uint64_t align, uint64_t limit,
                     uint64_t *off);
/* Frees the allocation of n granules at off, checked in this order: -DMACOH_EFAULT (not the
 * start of an allocation), -DMACOH_EPERM (start of an occupied range), -DMACOH_EINVAL (the
 * caller's handle did not match, !handle_ok, or it is not n granules long). */
int dmacoh__pa_free(struct dmacoh__pa *pa, uint64_t off, uint64_t n, bool handle_ok);
/* Parking, for the per-thread caches (tcache.c). A parked block stays allocated as far as the
 * placement is concerned, and is marked OCC so that a second free of it is caught; only
 * dmacoh__pa_unpark gives it back its HEAD. Both run WITHOUT the region lock, concurrently
 * with any dmacoh__pa_* call under it, once dmacoh__pa_set_concurrent (lock held) was called.
 * park returns 0, or the error dmacoh__pa_free would give (the caller then takes the lock). */
void dmacoh__pa_set_concurrent(struct dmacoh__pa *pa);
int dmacoh__pa_park(struct dmacoh__pa *pa, uint64_t off, uint64_t n);
void dmacoh__pa_unpark(struct dmacoh__pa *pa, uint64_t off);
/* Frees a parked block of n granules (region lock held): OCC straight to FREE. */
int dmacoh__pa_free_parked(struct dmacoh__pa *pa, uint64_t off, uint64_t n);
/* Marks [off, off + n) occupied; -DMACOH_EBUSY if any granule is not free. */
int dmacoh__pa_reserve(struct dmacoh__pa *pa, uint64_t off, uint64_t n);
/* Longest free run in granules; O(1) unless it was just consumed (pages.c). */
uint64_t dmacoh__pa_largest_free(struct dmacoh__pa *pa);

/* Bit j set for each FREE granule a + j of [a, a + cnt); the range lies in one aligned group of
 * at most 32 granules. O(1). */
uint64_t dmacoh__pa_free_mask(const struct dmacoh__pa *pa, uint64_t a, unsigned cnt);
/* Walks the whole state and verifies every invariant; O(n). */
bool dmacoh__pa_check(const struct dmacoh__pa *pa);
/* The run containing granule i: its first granule, length and kind (0 free, 1 allocation,
 * 2 occupied). */
void dmacoh__pa_find(const struct dmacoh__pa *pa, uint64_t i, uint64_t *start, uint64_t *n,
                     int *kind);
int dmacoh__pa_walk(const struct dmacoh__pa *pa, int (*fn)(void *, uint64_t, uint64_t, int),
                    void *user);

/* ---- per-thread caches of freed small blocks (tcache.c) ---- */

#define DMACOH__TC_SLOTS 4  /* caches per region, picked by the platform's thread slot */
#define DMACOH__TC_DEPTH 16 /* blocks per cache */
#define DMACOH__TC_MAX_N 16 /* largest cached block, in granules */

struct dmacoh__tc {
    uint64_t guard[8]; /* 64 bytes apart from whatever comes before: no shared cache line */
    uint32_t lock;
    uint32_t count;                 /* blocks in ent */
    uint64_t allocs, frees;         /* served from / taken into this cache since a drain */
    uint64_t ent[DMACOH__TC_DEPTH]; /* offset << 4 | (granules - 1) */
};

/* ---- pools (region.c): one per declared range, shared by devices that share it ---- */

struct dmacoh__shm;

/* A process's part of a shared region (shared.c). */
struct dmacoh__shproc {
    uint64_t shm_size;
    unsigned slot;            /* this process's entry in the owner table */
    unsigned nslots;          /* entries of the table: this process's copy, checked */
    struct dmacoh_proc_id me; /* who the entry names */
    uint32_t seq_locked;      /* *seq when the lock was taken */
    bool created;             /* this declaration created the object */
};

struct dmacoh__pool {
    uint32_t magic;
    uint32_t lock;                 /* protects pa and the counters below (a private region's) */
    uint32_t *seq;                 /* bumped by every free; DMACOH_ALLOC_WAIT sleeps on it */
    uint32_t *waiters;             /* threads sleeping on seq */
    uint32_t seq_own, waiters_own; /* where seq and waiters point in a private region */
    uint32_t refs;                 /* devices whose region this is */
    uint64_t id;       /* unique to this declaration, never 0: what caches of it remember */
    int mode;          /* DMACOH_MEMORY_MAP or _IO */
    unsigned io_width; /* cap on block IO access width */
    unsigned gshift;   /* log2(granule) */
    bool shared;       /* the platform allows several declarers */
    bool own_meta;     /* meta came from the platform's meta_alloc */
    dmacoh_phys_addr_t bus;
    dmacoh_dma_addr_t dev_base;
    uint64_t size;
    char *cpu; /* pointer handed out for the first byte: map.cpu, or its IO cookie */
    struct dmacoh_mapping map;
    bool track;  /* tell sanitizers about blocks (map.ram, no cookies) */
    int io_slot; /* its slot in the IO registry (width cap or cookies), or -1 */
    struct dmacoh_platform *plat;
    struct dmacoh__pool *next; /* on plat->pools */
    size_t meta_size;
    uint64_t align_cap_g; /* alignment cap in granules; 0: none */
    bool tc_ok;           /* per-thread caches allowed (platform has thread slots, best fit) */
    uint32_t tc_on;       /* caching switched on (atomic; set once, under lock) */
    struct dmacoh__tc tc[DMACOH__TC_SLOTS];
    uint64_t tc_guard[8]; /* keeps the last cache off the lines of what follows */
    uint64_t allocs, frees, failures, fallbacks;
    /* Clean memory (a private region; NULL in a shared one): one bit per group of
     * DMACOH__CLEAN_G granules, set while every free granule of the group is known to hold
     * zeros (the platform declared the memory zero, or dmacoh_region_scrub cleared the group).
     * Taking granules leaves the bit alone (the rest of the group stays clean); a free or a
     * drained cache clears the bits of the groups it touches, so a freed block is dirty and so
     * are the free granules beside it in those groups. All under the region lock. nclean: the
     * free granules of set groups; scrub_at: the granule where the next scrub goes on, in the
     * middle of a group when a budget ended there (the granules of the group before it are
     * zeroed; a free in the group moves it back to the group's start). */
    uint64_t *clean;
    uint64_t nclean;
    uint64_t scrub_at;
    /* A shared region (shared.c): the object holding the allocator state, the lock, seq and
     * waiters, and the owner table, and this process's part of it (after the pool, in the
     * same metadata block); both NULL for a private region. */
    struct dmacoh__shm *shm;
    struct dmacoh__shproc *sp;
    struct dmacoh__pa *pa;    /* pa_own, or the state in shm */
    struct dmacoh__pa pa_own; /* last: its words follow (a private region's state) */
};

/* Zeroes memory of pool (NULL: plain memory): with the accessors on IO regions and on any
 * region whose accesses are capped (memset may use vector stores), with memset otherwise. */
static inline void dmacoh__zero(const struct dmacoh__pool *pool, void *cpu, uint64_t bytes)
{
    if (pool && (pool->mode == DMACOH_MEMORY_IO || pool->io_width < 8))
        dmacoh_memset_io_width(cpu, 0, (size_t)bytes, pool->io_width);
    else
        __builtin_memset(cpu, 0, (size_t)bytes);
}

/* Clean memory is tracked per group of DMACOH__CLEAN_G granules (a quarter bit per granule);
 * a group never straddles a word of kinds (32 granules). */
#define DMACOH__CLEAN_SHIFT 2u
#define DMACOH__CLEAN_G     ((uint64_t)1 << DMACOH__CLEAN_SHIFT)

/* Groups, and words of the clean bitmap, of a region of n granules. */
static inline uint64_t dmacoh__clean_groups(uint64_t n)
{
    return (n + DMACOH__CLEAN_G - 1) >> DMACOH__CLEAN_SHIFT;
}

static inline uint64_t dmacoh__clean_words(uint64_t n)
{
    return (dmacoh__clean_groups(n) + 63) >> 6;
}

/* The first bit from i below lim of bitmap w that is `set` (1) or not, or lim. */
static inline uint64_t dmacoh__bit_next(const uint64_t *w, uint64_t i, uint64_t lim, bool set)
{
    while (i < lim) {
        uint64_t x = set ? w[i >> 6] : ~w[i >> 6];

        x &= ~(uint64_t)0 << (i & 63);
        if (x) {
            uint64_t j = (i & ~(uint64_t)63) + (uint64_t)__builtin_ctzll(x);

            return j < lim ? j : lim;
        }
        i = (i | 63) + 1;
    }
    return lim;
}

/* Granules [off, off+n), free until now, are taken or occupied (lock held): they leave the
 * clean count. Returns how many of them were clean. */
uint64_t dmacoh__clean_clear(struct dmacoh__pool *pool, uint64_t off, uint64_t n);

/* Granules [off, off+n) were just freed (lock held): the groups they touch are dirty now, and
 * their other free granules leave the clean count. */
void dmacoh__clean_dirty(struct dmacoh__pool *pool, uint64_t off, uint64_t n);

/* The same, with the usual case inline: a block inside one group already dirty costs a load
 * and a test. A scrub stopped inside a group the block touches starts that group again: the
 * granules it zeroed there may be the ones just freed. */
static inline void dmacoh__clean_freed(struct dmacoh__pool *pool, uint64_t off, uint64_t n)
{
    uint64_t G = off >> DMACOH__CLEAN_SHIFT, GL = (off + n - 1) >> DMACOH__CLEAN_SHIFT;
    uint64_t sg = pool->scrub_at >> DMACOH__CLEAN_SHIFT;

    if (!pool->clean)
        return;
    if ((pool->scrub_at & (DMACOH__CLEAN_G - 1)) && sg >= G && sg <= GL)
        pool->scrub_at = sg << DMACOH__CLEAN_SHIFT;
    if (GL == G && !((pool->clean[G >> 6] >> (G & 63)) & 1u))
        return;
    dmacoh__clean_dirty(pool, off, n);
}

/* The rest of shared.c, for region.c and alloc.c. */
bool dmacoh__shm_ops(const struct dmacoh_platform *p);
int dmacoh__shm_name_ok(const char *name);
/* Creates or attaches to the shared state named by s for a region being declared (platform
 * lock held, before the device memory is mapped): sets pool->shm, pa, seq, waiters and slot,
 * with an owner entry taken for this process. Errors of dmacoh_declare_shared_memory. */
int dmacoh__shm_attach(struct dmacoh_device *dev, struct dmacoh__pool *pool, dmacoh_phys_addr_t bus,
                       dmacoh_dma_addr_t daddr, uint64_t size, unsigned gshift,
                       const struct dmacoh_declare_opts *o, const struct dmacoh_share_opts *s);
/* Leaves it: this process's owner entry is freed, or marked dead (its blocks quarantined)
 * when it still owns blocks; then the object is unmapped, and, when `failed_name` is given
 * (the declaration failed after creating the object of that name), removed. */
void dmacoh__shm_detach(struct dmacoh__pool *pool, const char *failed_name);
/* This process's outstanding allocations (takes the lock). */
uint64_t dmacoh__shm_own_blocks(struct dmacoh__pool *pool);
/* An allocation of a process of the region fell back to system memory (lock held). */
void dmacoh__shm_fallback(struct dmacoh__pool *pool);
/* An allocation found no room (lock held): looks for dead owners, at most every 10 ms. */
void dmacoh__shm_full(struct dmacoh__pool *pool);
int dmacoh__declare_shared(struct dmacoh_device *dev, dmacoh_phys_addr_t bus_addr,
                           dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                           const struct dmacoh_declare_opts *opts,
                           const struct dmacoh_share_opts *share, int *granted);

/* Region identity and release epoch (region.c). Every declaration of a new range gets an id
 * from one process-wide counter, so an id is never reused even when the region's metadata
 * storage (and so its address) is. Every release by the program (api.c; not the library's own
 * windows, which hold no dma_pool chunks) bumps dmacoh__release_epoch: a cache that
 * can hold memory of a region outside the region's own state (a dma_pool's chunks) compares
 * the epoch it last checked with it, and on a change checks each region id it holds against
 * dmacoh__region_live. */
extern uint32_t dmacoh__release_epoch;

static inline uint32_t dmacoh__epoch(void)
{
    return __atomic_load_n(&dmacoh__release_epoch, __ATOMIC_ACQUIRE);
}

/* Region i of dev's list (0 is dev->pool) and its flags; NULL past the end. */
static inline struct dmacoh__pool *dmacoh__dev_region(const struct dmacoh_device *dev, unsigned i,
                                                      int *flags)
{
    if (i == 0) {
        *flags = dev->region_flags;
        return dev->pool;
    }
    if (i >= dev->nregions)
        return NULL;
    *flags = dev->more[i - 1].flags;
    return dev->more[i - 1].pool;
}

/* The name of region i of dev's list ("" when unnamed); i < dev->nregions. The string stays
 * where it is until that region is released. */
static inline const char *dmacoh__region_name(const struct dmacoh_device *dev, unsigned i)
{
    return dev->region_name[dev->name_slot[i] % DMACOH_REGIONS_MAX];
}

/* Whether dev is an initialised device (its magic set by dmacoh_device_init). Inline: every
 * allocation and free starts with it. */
static inline bool dmacoh__device_ok(const struct dmacoh_device *dev)
{
    return dev && dev->magic == DMACOH__DEVICE_MAGIC;
}

/* Whether owner (an initialised device, or storage fini retired) still has the region with
 * this id declared. Not with declare or release of owner running (undefined, DESIGN.md 4.10). */
static inline bool dmacoh__region_live(const struct dmacoh_device *owner, uint64_t id)
{
    int f;

    if (!dmacoh__device_ok(owner))
        return false;
    for (unsigned i = 0; i < DMACOH_REGIONS_MAX; i++) {
        const struct dmacoh__pool *pool = dmacoh__dev_region(owner, i, &f);

        if (!pool)
            return false;
        if (pool->id == id)
            return true;
    }
    return false;
}

/* Bytes of pool state for a region. 0 on overflow. */
uint64_t dmacoh__pool_meta_size(uint64_t size, unsigned gshift);

/* The device whose region list serves dev's allocations: dev itself when it has a region;
 * else the nearest ancestor with a region declared with INCLUDES_CHILDREN (only those of its
 * regions then serve); else the platform's default-pool holder when a default pool is
 * declared; else NULL. */
const struct dmacoh_device *dmacoh__serving(const struct dmacoh_device *dev);

/* Whether region i of owner's list (flags f) may serve dev: all of dev's own and the default
 * pool's, only the INCLUDES_CHILDREN ones of an ancestor's. */
static inline bool dmacoh__serves(const struct dmacoh_device *dev,
                                  const struct dmacoh_device *owner, int f)
{
    return owner == dev || owner == &dev->platform->defdev ||
           (f & DMACOH_MEMORY_INCLUDES_CHILDREN) != 0;
}

/* rlist.c: the list's upkeep. list_room checks that a region named `name` (NULL: the RFC's
 * unnamed one, which needs an empty list) may be added at device range daddr+size, with the
 * error and log line of dmacoh_declare_region when not; list_add appends (the caller checked);
 * list_remove takes region i out, moving the later ones up. */
int dmacoh__list_room(const struct dmacoh_device *dev, const char *name, dmacoh_dma_addr_t daddr,
                      uint64_t size);
void dmacoh__list_add(struct dmacoh_device *dev, const char *name, struct dmacoh__pool *pool,
                      int flags);
void dmacoh__list_remove(struct dmacoh_device *dev, unsigned i);

/* The first region serving dev's allocations (of dmacoh__serving's list); *owner receives the
 * device that declared it. NULL if none, and NULL (with *owner NULL) when that is the default
 * pool lying wholly above dev's DMA mask. */
struct dmacoh__pool *dmacoh__pool_for(const struct dmacoh_device *dev,
                                      const struct dmacoh_device **owner);

/* The region that holds cpu among every region that may have served dev: its own list, the
 * nearest INCLUDES_CHILDREN ancestor's, the default pool, whichever serves now (a region
 * declared after an allocation does not hide it). *owner receives its declarer. NULL if
 * none. O(regions), at most 2 * DMACOH_REGIONS_MAX + 1 plus the depth of the tree. */
struct dmacoh__pool *dmacoh__pool_holding(const struct dmacoh_device *dev, const void *cpu,
                                          const struct dmacoh_device **owner);

/* The same for a device address (by_bus false) or a bus address (by_bus true). */
struct dmacoh__pool *dmacoh__pool_reaching(const struct dmacoh_device *dev, uint64_t addr,
                                           bool by_bus);

static inline bool dmacoh__pool_holds(const struct dmacoh__pool *pool, const void *cpu)
{
    const char *c = (const char *)cpu;

    return c >= pool->cpu && (uint64_t)(c - pool->cpu) < pool->size;
}

/* tcache.c. enable and drain need the region lock held; alloc and free must not hold it. */
void dmacoh__tc_enable(struct dmacoh__pool *pool);
bool dmacoh__tc_alloc(struct dmacoh__pool *pool, uint64_t n, uint64_t limit, uint64_t *off);
bool dmacoh__tc_free(struct dmacoh__pool *pool, uint64_t off, uint64_t n);
void dmacoh__tc_drain(struct dmacoh__pool *pool);
/* drain, keeping every cache locked (nothing can be parked) until unhold. */
void dmacoh__tc_hold(struct dmacoh__pool *pool);
void dmacoh__tc_unhold(struct dmacoh__pool *pool);

static inline bool dmacoh__tc_active(const struct dmacoh__pool *pool)
{
    return __atomic_load_n(&pool->tc_on, __ATOMIC_ACQUIRE) != 0;
}

/* Allocates from dev's own region only, not zeroed, with device addresses at or below mask
 * instead of dev's DMA mask (windows serve devices with different masks). */
int dmacoh__alloc_below(struct dmacoh_device *dev, uint64_t size, uint64_t mask, void **cpu,
                        dmacoh_dma_addr_t *handle);
bool dmacoh__platform_ok(const struct dmacoh_platform *p);

/* ---- the core's mechanisms behind the public entry points (api.c) ----
 *
 * The public alloc, free, declare, release, device fini and platform fini live in api.c:
 * with the debug flag word zero they call these directly; otherwise the dmacoh__dbg_
 * versions (debug.c), which check and record around the same functions. Nothing below the
 * entry points calls into debug.c: the debug mode is a layer, not a set of hooks, and what it
 * wants of the core it passes down (dmacoh__declare's `cookies`: give an IO region addresses
 * that fault when dereferenced, DMACOH_DEBUG_IO_COOKIES).
 */
int dmacoh__platform_fini(struct dmacoh_platform *p);
extern unsigned dmacoh__dbg_flags;

static inline bool dmacoh__dbg_on(void)
{
    return __atomic_load_n(&dmacoh__dbg_flags, __ATOMIC_RELAXED) != 0;
}

int dmacoh__alloc(struct dmacoh_device *dev, size_t size, unsigned flags, uint64_t timeout_ns,
                  void **cpu, dmacoh_dma_addr_t *handle);
/* From the region of dev's own list named `region` only ("" is the unnamed first region). */
int dmacoh__alloc_from(struct dmacoh_device *dev, const char *region, size_t size, unsigned flags,
                       uint64_t timeout_ns, void **cpu, dmacoh_dma_addr_t *handle);
int dmacoh__free(struct dmacoh_device *dev, size_t size, void *cpu, dmacoh_dma_addr_t handle);
/* name NULL: the RFC's declare (the device must have no region; the region is unnamed);
 * otherwise appended to the list under that name (dmacoh_declare_region). */
int dmacoh__declare(struct dmacoh_device *dev, const char *name, dmacoh_phys_addr_t bus_addr,
                    dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                    const struct dmacoh_declare_opts *opts, int *granted, bool cookies);
/* name NULL: every region of the list; otherwise the one of that name ("" the unnamed). */
int dmacoh__release(struct dmacoh_device *dev, const char *name, unsigned flags);
/* Index of the region named `name` in dev's list, or -DMACOH_ENOENT. */
int dmacoh__region_index(const struct dmacoh_device *dev, const char *name);
int dmacoh__device_fini(struct dmacoh_device *dev);

/* ---- debug mode (debug.c) ----
 * `site` is the public function's return address. */

int dmacoh__dbg_alloc(struct dmacoh_device *dev, const char *region, size_t size, unsigned flags,
                      uint64_t timeout_ns, void **cpu, dmacoh_dma_addr_t *handle, const void *site);
int dmacoh__dbg_free(struct dmacoh_device *dev, size_t size, void *cpu, dmacoh_dma_addr_t handle,
                     const void *site);
int dmacoh__dbg_declare(struct dmacoh_device *dev, const char *name, dmacoh_phys_addr_t bus_addr,
                        dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                        const struct dmacoh_declare_opts *opts, int *granted, const void *site);
int dmacoh__dbg_release(struct dmacoh_device *dev, const char *name, unsigned flags,
                        const void *site);
int dmacoh__dbg_device_fini(struct dmacoh_device *dev, const void *site);
/* Frees p's debug state (p->dbg non-NULL), warning about what is still recorded as live;
 * after dmacoh__platform_fini succeeded. */
void dmacoh__dbg_platform_fini(struct dmacoh_platform *p);

#define DMACOH__SITE() __builtin_return_address(0)

/* ---- sanitizer tracking (CMake option DMACOH_TRACK, with DMACOH_SANITIZE) ----
 *
 * To ASan a declared region is one mapping; these tell it where blocks begin and end, as
 * mimalloc's track.h does: the region is poisoned when declared, an allocation or occupied
 * range unpoisoned when handed out, poisoned again when freed (under the region lock, so
 * that a racing allocation of the same granules cannot be poisoned after it), and the whole
 * region unpoisoned before it is unmapped; only for mappings the platform marks as plain
 * process memory (dmacoh_mapping.ram). Poisoning only marks ASan's shadow memory: the memory
 * itself is never written. The prototypes are ASan's public interface, declared here
 * so that the core keeps to its four headers.
 */
#if defined(DMACOH_TRACK_ASAN) && DMACOH_TRACK_ASAN
void __asan_poison_memory_region(void const volatile *addr, size_t size);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#define DMACOH__TRACK_ALLOC(p, n) __asan_unpoison_memory_region((p), (size_t)(n))
#define DMACOH__TRACK_FREE(p, n)  __asan_poison_memory_region((p), (size_t)(n))
#else
/* Without ASan: a hook a hosted platform may install (the Linux platforms do when running
 * under valgrind, which then knows the same block bounds); NULL costs a load and a branch. */
extern void (*dmacoh__track_fn)(bool handed_out, const void *p, uint64_t n);
#define DMACOH__TRACK_ALLOC(p, n)                                                                  \
    do {                                                                                           \
        if (__builtin_expect(dmacoh__track_fn != NULL, 0))                                         \
            dmacoh__track_fn(true, (p), (n));                                                      \
    } while (0)
#define DMACOH__TRACK_FREE(p, n)                                                                   \
    do {                                                                                           \
        if (__builtin_expect(dmacoh__track_fn != NULL, 0))                                         \
            dmacoh__track_fn(false, (p), (n));                                                     \
    } while (0)
#endif

/* ---- IO registry (io.c) ----
 * Registers [start, start + size) with its access-width cap; real is where the accessors
 * reach it: start itself, or the mapping behind an IO cookie range. Returns the slot (>= 0),
 * -DMACOH_ENOMEM (the table of 64 slots is full) or, for a cookie range, -DMACOH_EBUSY (it
 * overlaps a registered range). Unregister takes the slot; a negative one is ignored. */
int dmacoh__io_register(const void *start, uint64_t size, unsigned width, const void *real);
void dmacoh__io_unregister(int slot);

/* ---- small helpers ---- */
static inline bool dmacoh__is_pow2(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static inline unsigned dmacoh__log2(uint64_t x)
{
    return 63u - (unsigned)__builtin_clzll(x);
}

/* Smallest power of two >= x; 0 when there is none (x > 2^63): callers bound x first. */
static inline uint64_t dmacoh__pow2_ceil(uint64_t x)
{
    if (x > ((uint64_t)1 << 63))
        return 0;
    return x <= 1 ? 1 : (uint64_t)1 << (64 - __builtin_clzll(x - 1));
}

#endif /* DMACOH_CORE_INTERNAL_H */
