/* SPDX-License-Identifier: MIT */
/*
 * shared.c - shared regions: the allocator state in a named object that several processes
 * map, the lock that survives its holder around it, the owner table, death, quarantine and reaping.
 *
 * The object, as every process sees it (offsets only, so each may map it anywhere):
 *
 *   struct dmacoh__shm   header: what was declared, counters, the lock, seq and waiters
 *   owner table          max_procs entries: pid and start time of a process, and a state
 *   struct dmacoh__pa    the allocator state with one owner byte per granule and a journal
 *
 * The object's header (sizes, offsets, granule count) is checked once, at attach, against
 * what the process's own declaration implies, and the per-process pool keeps its own copies.
 * The allocator state's own layout words (pages.c) are read from the object at every call:
 * the processes of a region trust each other not to damage them, as the threads of one
 * process do. A look from outside (dmacoh_shared_inspect) checks the whole state, on a copy,
 * before it walks it.
 *
 * The owner byte of an allocation is its owner's table entry plus one. An entry is taken at
 * attach; it becomes DEAD when its process is found dead (or releases by force), and FREE
 * only once no allocation records it, so an owner byte never names a later process.
 */
#include "internal.h"
#include "lock.h"
#include <dmacoh/shared.h>

#define SHM_MAGIC     0x3153686f63616d64ull /* "dmacohS1" */
#define SHM_VERSION   3u
#define SLOTS_MAX     254u
#define SLOTS_DEFAULT 64u
#define ATTACH_WAIT   1000000000ull /* ns an attach waits for the creator to finish */
#define SWEEP_GAP     10000000ull   /* ns between the sweeps of allocations that find no room */
#define VIEW_WAIT     2000000000ull /* ns a look from outside waits for the region's lock */
#define VIEW_MAX      0x40000000ull /* bytes of object a look from outside copies, at most */

enum { SLOT_FREE = 0, SLOT_LIVE = 1, SLOT_DEAD = 2 };

struct owner_entry {
    uint64_t pid, start, ns; /* struct dmacoh_proc_id */
    uint64_t state;
};

struct dmacoh__shm {
    uint64_t magic;  /* SHM_MAGIC, stored last by the creator */
    uint64_t layout; /* sizes of the structs, so that another build's object is refused */
    uint64_t version;
    uint64_t total; /* bytes of the object */
    uint64_t bus, dev_base, size, gshift, placement, align_cap, flags, nslots;
    uint64_t slots_off, pa_off; /* byte offsets from the header */
    uint64_t ns;                /* the creator's pid namespace: every attacher's */
    uint64_t recoveries, deaths, reaped_blocks, reaped_bytes, last_sweep;
    uint32_t seq, waiters; /* DMACOH_ALLOC_WAIT across processes */
    uint64_t fallbacks;    /* allocations of every process served from system memory */
    uint64_t pad[1];
    /* The lock, on a line of its own: 0, or the holder's tag (pid << 32 | the low 32 bits of
     * its start time), and the holder's whole start time, written once it holds it. */
    uint64_t lock __attribute__((aligned(64)));
    uint64_t lock_start;
    uint64_t lock_pad[6];
};

static uint64_t layout_tag(void)
{
    /* The pointer and long widths too: a 32-bit and a 64-bit process whose structs happen
     * to have one size are still two builds (ARM EABI, x32). */
    return (uint64_t)sizeof(struct dmacoh__shm) | (uint64_t)sizeof(struct owner_entry) << 16 |
           (uint64_t)sizeof(struct dmacoh__pa) << 32 | (uint64_t)sizeof(void *) << 48 |
           (uint64_t)sizeof(long) << 56;
}

static uint64_t round64(uint64_t x)
{
    return (x + 63) & ~(uint64_t)63;
}

static struct owner_entry *entries(const struct dmacoh__pool *pool)
{
    return (struct owner_entry *)(void *)((char *)pool->shm + round64(sizeof(struct dmacoh__shm)));
}

bool dmacoh__shm_ops(const struct dmacoh_platform *p)
{
    const struct dmacoh_platform_ops *o = p->ops;

    return o->shm_open && o->shm_close && o->shm_unlink && o->proc_self && o->proc_alive &&
           o->now_ns;
}

int dmacoh__shm_name_ok(const char *name)
{
    size_t i;

    if (!name || name[0] == '\0' || name[0] == '.')
        return DMACOH_EINVAL;
    for (i = 0; name[i]; i++) {
        char c = name[i];

        if (i >= DMACOH_SHARE_NAME_MAX ||
            !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return DMACOH_EINVAL;
    }
    return 0;
}

/* ---- owners ---- */

/* Blocks and granules of each owner byte (index 0: heads with no or a bad owner byte). */
struct counts {
    uint64_t blocks[SLOTS_MAX + 1], granules[SLOTS_MAX + 1];
};

static void count_owners(const struct dmacoh__pool *pool, struct counts *c)
{
    const struct dmacoh__pa *pa = pool->pa;
    uint64_t n = pa->ngranules, i = 0;

    for (unsigned k = 0; k <= SLOTS_MAX; k++)
        c->blocks[k] = c->granules[k] = 0;
    while (i < n) {
        uint64_t s, len;
        int kind;

        dmacoh__pa_find(pa, i, &s, &len, &kind);
        if (kind == 1) {
            unsigned o = dmacoh__pa_owner(pa, s);

            if (o > pool->sp->nslots)
                o = 0;
            c->blocks[o]++;
            c->granules[o] += len;
        }
        i = s + len;
    }
}

static bool owner_dead(const struct dmacoh__pool *pool, unsigned o)
{
    return o == 0 || o > pool->sp->nslots || entries(pool)[o - 1].state != SLOT_LIVE;
}

/* Frees every block whose owner is not a live process (lock held). */
static void reap_locked(struct dmacoh__pool *pool, uint64_t *blocks, uint64_t *granules)
{
    struct dmacoh__pa *pa = pool->pa;
    struct dmacoh__shm *h = pool->shm;
    uint64_t n = pa->ngranules, i = 0, b = 0, g = 0;

    while (i < n) {
        uint64_t s, len;
        int kind;

        dmacoh__pa_find(pa, i, &s, &len, &kind);
        if (kind == 1 && owner_dead(pool, dmacoh__pa_owner(pa, s)) &&
            dmacoh__pa_free(pa, s, len, true) == 0) {
            b++;
            g += len;
        }
        i = s + len;
    }
    for (unsigned k = 0; k < pool->sp->nslots; k++)
        if (entries(pool)[k].state == SLOT_DEAD)
            entries(pool)[k].state = SLOT_FREE;
    h->reaped_blocks += b;
    h->reaped_bytes += g << pool->gshift;
    if (b)
        __atomic_add_fetch(pool->seq, 1u, __ATOMIC_RELAXED);
    *blocks = b;
    *granules = g;
}

/* Checks every other live owner for life (lock held): the dead become DEAD, and their blocks
 * quarantined, or freed in a reset-on-death region; an owner that is dead and holds nothing
 * is freed. */
static void sweep(struct dmacoh__pool *pool)
{
    const struct dmacoh_platform *p = pool->plat;
    struct dmacoh__shm *h = pool->shm;
    unsigned found = 0, dead = 0;

    for (unsigned k = 0; k < pool->sp->nslots; k++) {
        struct owner_entry *s = &entries(pool)[k];
        struct dmacoh_proc_id id;

        if (s->state == SLOT_DEAD)
            dead++;
        if (s->state != SLOT_LIVE || k == pool->sp->slot)
            continue;
        id.pid = s->pid;
        id.start = s->start;
        id.ns = s->ns;
        if (p->ops->proc_alive(p->ctx, &id) == 0) {
            s->state = SLOT_DEAD;
            h->deaths++;
            found++;
            dead++;
        }
    }
    h->last_sweep = p->ops->now_ns(p->ctx);
    if (!dead)
        return;
    if (h->flags & DMACOH_SHARE_RESET_ON_DEATH) {
        uint64_t b, g;

        reap_locked(pool, &b, &g);
        if (b)
            dmacoh__warn("shared region: %u owner(s) died; %llu blocks (%#llx bytes) freed at "
                         "once (reset on death)",
                         found, (unsigned long long)b, (unsigned long long)(g << pool->gshift));
        return;
    }
    {
        struct counts c;

        count_owners(pool, &c);
        for (unsigned k = 0; k < pool->sp->nslots; k++)
            if (entries(pool)[k].state == SLOT_DEAD && c.blocks[k + 1] == 0)
                entries(pool)[k].state = SLOT_FREE;
        if (found)
            dmacoh__warn("shared region: %u owner(s) died; their blocks are quarantined until "
                         "dmacoh_shared_reap",
                         found);
    }
}

/* ---- the lock ---- */

/* The previous holder died holding the lock: undo or finish its operation and rebuild. */
static void recover(struct dmacoh__pool *pool, uint64_t dead)
{
    struct dmacoh__shm *h = pool->shm;
    struct dmacoh__pa *pa = pool->pa;
    uint64_t op = pa->j_op;

    dmacoh__pa_recover(pa, pool->size >> pool->gshift, pool->dev_base >> pool->gshift);
    h->recoveries++;
    dmacoh__warn("shared region: process %llu died holding the lock (operation %llu in "
                 "progress); state repaired",
                 (unsigned long long)(dead >> 32), (unsigned long long)op);
    sweep(pool);
}

static bool same_proc(const struct owner_entry *s, const struct dmacoh_proc_id *id)
{
    return s->pid == id->pid && s->start == id->start && s->ns == id->ns;
}

/* Takes a free owner entry for this process (lock held): 0, or -DMACOH_ENOMEM. */
static int take_entry(struct dmacoh__pool *pool, const struct dmacoh_proc_id *me)
{
    for (unsigned k = 0; k < pool->sp->nslots; k++) {
        struct owner_entry *sl = &entries(pool)[k];

        if (sl->state == SLOT_FREE) {
            sl->pid = me->pid;
            sl->start = me->start;
            sl->ns = me->ns;
            sl->state = SLOT_LIVE;
            pool->sp->slot = k;
            pool->sp->me = *me;
            return 0;
        }
    }
    return DMACOH_ENOMEM;
}

/* The calling process is not the one the attachment's entry names: a child forked after the
 * attach, or this process after its entry was taken for dead (lock held). */
static void not_the_owner(struct dmacoh__pool *pool, const struct dmacoh_proc_id *me)
{
    struct owner_entry *sl = &entries(pool)[pool->sp->slot];

    if (same_proc(sl, me)) { /* taken for dead, yet alive: its blocks may have been reaped */
        sl->state = SLOT_LIVE;
        pool->sp->me = *me;
        dmacoh__err("shared region: this process (pid %llu) was taken for dead; blocks of it "
                    "that were reaped since are no longer its own",
                    (unsigned long long)me->pid);
        return;
    }
    if (take_entry(pool, me) == 0) {
        dmacoh__info("shared region: process %llu (a forked child?) takes owner entry %u",
                     (unsigned long long)me->pid, pool->sp->slot + 1);
        return;
    }
    dmacoh__err("shared region: no free owner entry for process %llu (a forked child?): what "
                "it allocates is recorded as process %llu's",
                (unsigned long long)me->pid, (unsigned long long)pool->sp->me.pid);
    pool->sp->me = *me; /* said once */
}

static uint64_t tag_of(const struct dmacoh_proc_id *id)
{
    return id->pid << 32 | (id->start & 0xffffffffu);
}

/* Whether the process whose tag holds the lock is dead. Never true of a live process: its
 * start time is used only when the holder has written it (the low bits agree), else only
 * "no such process" or a zombie counts. */
static bool holder_dead(const struct dmacoh_platform *p, const struct dmacoh__shm *h, uint64_t tag,
                        uint64_t ns)
{
    struct dmacoh_proc_id id;
    uint64_t start = __atomic_load_n(&h->lock_start, __ATOMIC_RELAXED);

    id.pid = tag >> 32;
    id.start = (start & 0xffffffffu) == (tag & 0xffffffffu) ? start : 0;
    id.ns = ns;
    return p->ops->proc_alive(p->ctx, &id) == 0;
}

/* Takes the region's lock as the process `me`: a compare-and-swap of its tag into the free
 * word. A waiter spins, then yields; every 64 yields it asks whether the holder is alive, and
 * takes the lock over from a dead one (the compare-and-swap from the dead tag: of several
 * waiters, one wins). Returns the dead holder's tag, or 0. Processes of a region share one
 * pid namespace (attach checks it), so a holder's pid names it for every waiter. */
static uint64_t acquire_until(const struct dmacoh_platform *p, struct dmacoh__shm *h,
                              const struct dmacoh_proc_id *me, uint64_t deadline, bool *late);

static uint64_t acquire(const struct dmacoh_platform *p, struct dmacoh__shm *h,
                        const struct dmacoh_proc_id *me)
{
    return acquire_until(p, h, me, 0, NULL);
}

/* acquire, giving up (*late set, 0 returned, the lock not taken) once now_ns passes deadline;
 * deadline 0: never. */
static uint64_t acquire_until(const struct dmacoh_platform *p, struct dmacoh__shm *h,
                              const struct dmacoh_proc_id *me, uint64_t deadline, bool *late)
{
    uint64_t tag = tag_of(me), cur = 0;

    if (__atomic_compare_exchange_n(&h->lock, &cur, tag, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        goto mine;
    for (unsigned spins = 0;; spins++) {
        cur = __atomic_load_n(&h->lock, __ATOMIC_RELAXED);
        if (cur == 0) {
            if (__atomic_compare_exchange_n(&h->lock, &cur, tag, false, __ATOMIC_ACQUIRE,
                                            __ATOMIC_RELAXED))
                goto mine;
            continue;
        }
        if (spins < 64 || !p->ops->relax) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        } else {
            p->ops->relax(p->ctx);
        }
        if (spins >= 64 && (spins & 63) == 0 && holder_dead(p, h, cur, me->ns) &&
            __atomic_compare_exchange_n(&h->lock, &cur, tag, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
            __atomic_store_n(&h->lock_start, me->start, __ATOMIC_RELAXED);
            return cur;
        }
        if (deadline && spins >= 64 && (spins & 63) == 0 && p->ops->now_ns(p->ctx) >= deadline) {
            *late = true;
            return 0;
        }
    }
mine:
    __atomic_store_n(&h->lock_start, me->start, __ATOMIC_RELAXED);
    return 0;
}

static void release(struct dmacoh__shm *h)
{
    __atomic_store_n(&h->lock, 0, __ATOMIC_RELEASE);
}

void dmacoh__shm_lock(struct dmacoh__pool *pool)
{
    const struct dmacoh_platform *p = pool->plat;
    struct dmacoh__shm *h = pool->shm;
    struct dmacoh_proc_id me;
    uint64_t dead;

    if (p->ops->proc_self(p->ctx, &me) != 0)
        me = pool->sp->me; /* cached by the platform: does not fail once it has answered */
    dead = acquire(p, h, &me);
    /* A dead holder, or an update left half done by one (a process that took the lock over
     * from it and released it unrepaired: dmacoh_shared_unlink's look). */
    if (dead || pool->pa->j_op != DMACOH__J_NONE)
        recover(pool, dead);
    if (pool->sp->slot < pool->sp->nslots &&
        (me.pid != pool->sp->me.pid || entries(pool)[pool->sp->slot].state != SLOT_LIVE))
        not_the_owner(pool, &me);
    pool->pa->owner = pool->sp->slot + 1;
    pool->sp->seq_locked = __atomic_load_n(pool->seq, __ATOMIC_RELAXED);
    DMACOH__STEP(70); /* locked, nothing changed */
}

void dmacoh__shm_unlock(struct dmacoh__pool *pool)
{
    const struct dmacoh_platform *p = pool->plat;
    bool freed = __atomic_load_n(pool->seq, __ATOMIC_RELAXED) != pool->sp->seq_locked;

    release(pool->shm);
    /* Memory a sweep gave back (a dead owner's, in a reset-on-death region) wakes waiters in
     * every process, as a free does. */
    if (freed && __atomic_load_n(pool->waiters, __ATOMIC_SEQ_CST) && p->ops->wake)
        p->ops->wake(p->ctx, pool->seq);
}

void dmacoh__shm_fallback(struct dmacoh__pool *pool)
{
    pool->shm->fallbacks++;
}

void dmacoh__shm_full(struct dmacoh__pool *pool)
{
    const struct dmacoh_platform *p = pool->plat;
    uint64_t now = p->ops->now_ns(p->ctx);

    if (now - pool->shm->last_sweep >= SWEEP_GAP || now == 0)
        sweep(pool);
}

/* ---- attach and detach ---- */

static int mismatch(const struct dmacoh_device *dev, const char *what, uint64_t theirs,
                    uint64_t ours)
{
    dmacoh__err("declare shared on '%s': the region has %s %#llx, this declaration %#llx",
                dev->name, what, (unsigned long long)theirs, (unsigned long long)ours);
    return DMACOH_EINVAL;
}

/* The attacher's checks of a header the creator published. */
static int check_header(const struct dmacoh_device *dev, const struct dmacoh__shm *h,
                        uint64_t actual, const struct dmacoh__shm *want)
{
    if (h->version != SHM_VERSION || h->layout != want->layout) {
        dmacoh__err("declare shared on '%s': the object was made by another build of the "
                    "library (version %llu, layout %#llx; this build: %u, %#llx)",
                    dev->name, (unsigned long long)h->version, (unsigned long long)h->layout,
                    SHM_VERSION, (unsigned long long)want->layout);
        return DMACOH_EINVAL;
    }
    if (h->bus != want->bus)
        return mismatch(dev, "bus base", h->bus, want->bus);
    if (h->dev_base != want->dev_base)
        return mismatch(dev, "device base", h->dev_base, want->dev_base);
    if (h->size != want->size)
        return mismatch(dev, "size", h->size, want->size);
    if (h->gshift != want->gshift)
        return mismatch(dev, "granule", (uint64_t)1 << (h->gshift & 63),
                        (uint64_t)1 << want->gshift);
    if (h->placement != want->placement)
        return mismatch(dev, "placement", h->placement, want->placement);
    if (h->align_cap != want->align_cap)
        return mismatch(dev, "align_cap", h->align_cap, want->align_cap);
    if ((h->flags ^ want->flags) & DMACOH_SHARE_RESET_ON_DEATH)
        return mismatch(dev, "reset-on-death flag", h->flags & DMACOH_SHARE_RESET_ON_DEATH,
                        want->flags & DMACOH_SHARE_RESET_ON_DEATH);
    if (want->nslots && h->nslots != want->nslots)
        return mismatch(dev, "max_procs", h->nslots, want->nslots);
    if (h->nslots == 0 || h->nslots > SLOTS_MAX) {
        dmacoh__err("declare shared on '%s': the object's owner table is damaged", dev->name);
        return DMACOH_EIO;
    }
    return actual == 0 ? DMACOH_EIO : 0;
}

/* Bytes of the object for n granules and nslots owners; 0 on overflow. */
static uint64_t object_size(uint64_t n, uint64_t nslots, uint64_t *pa_off)
{
    uint64_t pa = dmacoh__pa_owned_size(n);

    *pa_off = round64(sizeof(struct dmacoh__shm)) + round64(nslots * sizeof(struct owner_entry));
    if (pa == 0 || pa > UINT64_MAX - *pa_off)
        return 0;
    return *pa_off + pa;
}

int dmacoh__shm_attach(struct dmacoh_device *dev, struct dmacoh__pool *pool, dmacoh_phys_addr_t bus,
                       dmacoh_dma_addr_t daddr, uint64_t size, unsigned gshift,
                       const struct dmacoh_declare_opts *o, const struct dmacoh_share_opts *s)
{
    const struct dmacoh_platform *p = dev->platform;
    struct dmacoh__shm want, *h = NULL;
    struct dmacoh_proc_id me;
    unsigned mode = s->flags & (DMACOH_SHARE_CREATE | DMACOH_SHARE_ATTACH);
    uint64_t n = size >> gshift, total, pa_off, actual = 0;
    void *at = NULL;
    bool created = false;
    int r;

    pool->plat = dev->platform;
    __builtin_memset(&want, 0, sizeof(want));
    want.layout = layout_tag();
    want.bus = bus;
    want.dev_base = daddr;
    want.size = size;
    want.gshift = gshift;
    want.placement = o ? o->placement : 0;
    want.align_cap = o ? o->align_cap : 0;
    want.flags = s->flags & DMACOH_SHARE_RESET_ON_DEATH;
    want.nslots = s->max_procs;
    if (mode == 0)
        mode = DMACOH_SHARE_CREATE | DMACOH_SHARE_ATTACH;
    r = p->ops->proc_self(p->ctx, &me);
    if (r == 0 && (me.pid == 0 || me.pid > 0xffffffffu))
        r = DMACOH_ERANGE; /* a tag holds 32 bits of pid */
    if (r) {
        dmacoh__err("declare shared on '%s': this process's identity: %s", dev->name,
                    dmacoh_strerror(r));
        return r;
    }
    if (mode & DMACOH_SHARE_CREATE) {
        uint64_t ns = s->max_procs ? s->max_procs : SLOTS_DEFAULT;

        total = object_size(n, ns, &pa_off);
        if (total == 0 || total > SIZE_MAX) {
            dmacoh__err("declare shared on '%s': too many granules to track", dev->name);
            return DMACOH_EOVERFLOW;
        }
        r = p->ops->shm_open(p->ctx, s->name, total, true, &at, &actual);
        if (r == 0) {
            created = true;
            h = (struct dmacoh__shm *)at;
            __builtin_memcpy(h, &want, sizeof(want));
            h->nslots = ns;
            h->version = SHM_VERSION;
            h->total = total;
            h->slots_off = round64(sizeof(struct dmacoh__shm));
            h->pa_off = pa_off;
            h->ns = me.ns;
            pool->pa = (struct dmacoh__pa *)(void *)((char *)at + pa_off);
            dmacoh__pa_init_owned(pool->pa, n, daddr >> gshift);
            pool->pa->always_first_fit = want.placement == DMACOH_PLACE_FIRST_FIT;
            __atomic_store_n(&h->magic, SHM_MAGIC, __ATOMIC_RELEASE);
        } else if (r != DMACOH_EEXIST || !(mode & DMACOH_SHARE_ATTACH)) {
            dmacoh__err("declare shared on '%s': cannot create region '%s': %s", dev->name, s->name,
                        dmacoh_strerror(r));
            return r;
        }
    }
    if (!created) {
        uint64_t deadline = p->ops->now_ns(p->ctx) + ATTACH_WAIT;

        r = p->ops->shm_open(p->ctx, s->name, 0, false, &at, &actual);
        if (r) {
            dmacoh__err("declare shared on '%s': cannot attach to region '%s': %s", dev->name,
                        s->name, dmacoh_strerror(r));
            return r;
        }
        h = (struct dmacoh__shm *)at;
        if (actual < sizeof(struct dmacoh__shm)) {
            p->ops->shm_close(p->ctx, at, actual);
            dmacoh__err("declare shared on '%s': '%s' is not a shared region (%#llx bytes)",
                        dev->name, s->name, (unsigned long long)actual);
            return DMACOH_EINVAL;
        }
        while (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != SHM_MAGIC &&
               p->ops->now_ns(p->ctx) < deadline)
            if (p->ops->relax)
                p->ops->relax(p->ctx);
        r = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == SHM_MAGIC
                ? check_header(dev, h, actual, &want)
                : DMACOH_EIO;
        if (r == 0 && h->ns != me.ns) {
            dmacoh__err("declare shared on '%s': region '%s' was made in another pid "
                        "namespace: its processes must share one (a pid names a process only "
                        "within its namespace)",
                        dev->name, s->name);
            r = DMACOH_ENOTSUP;
        }
        if (r == 0) {
            total = object_size(n, h->nslots, &pa_off);
            if (total != actual || h->total != total || h->pa_off != pa_off ||
                h->slots_off != round64(sizeof(struct dmacoh__shm)))
                r = DMACOH_EIO;
        }
        if (r) {
            if (r == DMACOH_EIO)
                dmacoh__err("declare shared on '%s': region '%s' is damaged, or its creator died "
                            "setting it up: remove it (dmacoh_shared_unlink) and declare again",
                            dev->name, s->name);
            p->ops->shm_close(p->ctx, at, actual);
            return r;
        }
        pool->pa = (struct dmacoh__pa *)(void *)((char *)at + pa_off);
    }
    pool->shm = h;
    pool->sp->shm_size = actual;
    pool->sp->created = created;
    pool->sp->nslots = (unsigned)h->nslots; /* checked: 1..254 */
    pool->size = size;                      /* what recover() trusts */
    pool->gshift = gshift;
    pool->dev_base = daddr;
    pool->seq = &h->seq;
    pool->waiters = &h->waiters;
    pool->sp->slot = pool->sp->nslots; /* none yet: no owner byte is stamped before it is set */
    pool->sp->me = me;
    dmacoh__shm_lock(pool);
    r = 0;
    if (pool->pa->ngranules != n || pool->pa->base_g != daddr >> gshift ||
        pool->pa->owners_off == 0 || !dmacoh__pa_check(pool->pa)) {
        dmacoh__pa_recover(pool->pa, n, daddr >> gshift);
        if (pool->pa->ngranules != n || pool->pa->base_g != daddr >> gshift ||
            pool->pa->owners_off == 0 || !dmacoh__pa_check(pool->pa))
            r = DMACOH_EIO;
        else
            dmacoh__warn("declare shared on '%s': region '%s' was inconsistent; repaired",
                         dev->name, s->name);
    }
    if (r == 0) {
        sweep(pool);
        r = take_entry(pool, &me);
    }
    dmacoh__shm_unlock(pool);
    if (r) {
        if (r == DMACOH_EIO)
            dmacoh__err("declare shared on '%s': region '%s' is damaged beyond repair", dev->name,
                        s->name);
        else
            dmacoh__err("declare shared on '%s': all %llu owner entries of region '%s' are held "
                        "(live processes, or dead ones with quarantined blocks: reap them)",
                        dev->name, (unsigned long long)h->nslots, s->name);
        pool->shm = NULL;
        p->ops->shm_close(p->ctx, at, actual);
        if (created)
            (void)p->ops->shm_unlink(p->ctx, s->name);
        return r;
    }
    dmacoh__info("declare shared on '%s': %s region '%s' as owner %u (pid %llu)", dev->name,
                 created ? "created" : "attached to", s->name, pool->sp->slot + 1,
                 (unsigned long long)me.pid);
    return 0;
}

uint64_t dmacoh__shm_own_blocks(struct dmacoh__pool *pool)
{
    struct counts c;

    dmacoh__shm_lock(pool);
    count_owners(pool, &c);
    dmacoh__shm_unlock(pool);
    return c.blocks[pool->sp->slot + 1];
}

void dmacoh__shm_detach(struct dmacoh__pool *pool, const char *failed_name)
{
    const struct dmacoh_platform *p = pool->plat;
    struct counts c;

    dmacoh__shm_lock(pool);
    count_owners(pool, &c);
    entries(pool)[pool->sp->slot].state = c.blocks[pool->sp->slot + 1] ? SLOT_DEAD : SLOT_FREE;
    dmacoh__shm_unlock(pool);
    p->ops->shm_close(p->ctx, pool->shm, pool->sp->shm_size);
    pool->shm = NULL;
    /* A declaration that created the region and then failed leaves nothing behind. */
    if (failed_name && pool->sp->created)
        (void)p->ops->shm_unlink(p->ctx, failed_name);
}

/* ---- public queries ---- */

static int shared_pool(const struct dmacoh_device *dev, struct dmacoh__pool **pool,
                       const char *what)
{
    if (!dmacoh__device_ok(dev)) {
        dmacoh__err("%s: not an initialised device", what);
        return DMACOH_EINVAL;
    }
    if (!dev->pool) {
        dmacoh__err("%s on '%s': no region", what, dev->name);
        return DMACOH_ENODEV;
    }
    if (!dev->pool->shm) {
        dmacoh__err("%s on '%s': the region is not shared", what, dev->name);
        return DMACOH_ENOTSUP;
    }
    *pool = dev->pool;
    return 0;
}

/* *st from the state of pool (lock held, or a copy of the state). */
static void fill_stats(const struct dmacoh__pool *pool, struct dmacoh_shared_stats *st)
{
    const struct dmacoh__shm *h = pool->shm;
    unsigned g = pool->gshift;
    struct counts c;

    __builtin_memset(st, 0, sizeof(*st));
    count_owners(pool, &c);
    st->max_procs = pool->sp->nslots;
    st->reset_on_death = (h->flags & DMACOH_SHARE_RESET_ON_DEATH) != 0;
    st->quarantined_blocks = c.blocks[0];
    st->quarantined_bytes = c.granules[0] << g;
    for (unsigned k = 0; k < pool->sp->nslots; k++) {
        const struct owner_entry *s = &entries(pool)[k];

        if (s->state == SLOT_LIVE) {
            st->procs++;
            st->live_blocks += c.blocks[k + 1];
            st->live_bytes += c.granules[k + 1] << g;
        } else {
            if (s->state == SLOT_DEAD)
                st->dead++;
            st->quarantined_blocks += c.blocks[k + 1];
            st->quarantined_bytes += c.granules[k + 1] << g;
        }
    }
    if (pool->sp->slot < pool->sp->nslots) {
        st->own_blocks = c.blocks[pool->sp->slot + 1];
        st->own_bytes = c.granules[pool->sp->slot + 1] << g;
    }
    st->occupied_bytes = pool->pa->occupied << g;
    st->free_bytes = pool->size - ((pool->pa->used + pool->pa->occupied) << g);
    st->recoveries = h->recoveries;
    st->deaths = h->deaths;
    st->reaped_blocks = h->reaped_blocks;
    st->reaped_bytes = h->reaped_bytes;
}

int dmacoh_shared_get_stats(const struct dmacoh_device *dev, struct dmacoh_shared_stats *st)
{
    struct dmacoh__pool *pool;
    int r;

    if (!st) {
        dmacoh__err("shared stats: st is NULL");
        return DMACOH_EINVAL;
    }
    r = shared_pool(dev, &pool, "shared stats");
    if (r)
        return r;
    dmacoh__shm_lock(pool);
    sweep(pool);
    fill_stats(pool, st);
    dmacoh__shm_unlock(pool);
    return 0;
}

/* The owner-table entries in use, as struct dmacoh_shared_owner (lock held, or a copy). */
static int walk_entries(const struct dmacoh__pool *pool,
                        int (*fn)(void *user, const struct dmacoh_shared_owner *o), void *user)
{
    struct counts c;
    int r = 0;

    count_owners(pool, &c);
    for (unsigned k = 0; k < pool->sp->nslots && r == 0; k++) {
        const struct owner_entry *s = &entries(pool)[k];
        struct dmacoh_shared_owner o;

        if (s->state == SLOT_FREE)
            continue;
        o.index = k + 1;
        o.pid = s->pid;
        o.start = s->start;
        o.state = s->state == SLOT_LIVE ? DMACOH_OWNER_LIVE : DMACOH_OWNER_DEAD;
        o.self = k == pool->sp->slot;
        o.blocks = c.blocks[k + 1];
        o.bytes = c.granules[k + 1] << pool->gshift;
        r = fn(user, &o);
    }
    return r;
}

int dmacoh_shared_walk_owners(const struct dmacoh_device *dev,
                              int (*fn)(void *user, const struct dmacoh_shared_owner *o),
                              void *user)
{
    struct dmacoh__pool *pool;
    int r;

    if (!fn) {
        dmacoh__err("shared owners: fn is NULL");
        return DMACOH_EINVAL;
    }
    r = shared_pool(dev, &pool, "shared owners");
    if (r)
        return r;
    dmacoh__shm_lock(pool);
    sweep(pool);
    r = walk_entries(pool, fn, user);
    dmacoh__shm_unlock(pool);
    return r;
}

int dmacoh_shared_reap(struct dmacoh_device *dev, uint64_t *blocks, uint64_t *bytes)
{
    struct dmacoh__pool *pool;
    uint64_t b, g;
    uint32_t waiters;
    int r = shared_pool(dev, &pool, "shared reap");

    if (r)
        return r;
    dmacoh__shm_lock(pool);
    sweep(pool);
    reap_locked(pool, &b, &g);
    dmacoh__shm_unlock(pool);
    waiters = __atomic_load_n(pool->waiters, __ATOMIC_SEQ_CST);
    if (b && waiters && pool->plat->ops->wake)
        pool->plat->ops->wake(pool->plat->ctx, pool->seq);
    dmacoh__info("shared reap on '%s': %llu quarantined blocks (%#llx bytes) freed", dev->name,
                 (unsigned long long)b, (unsigned long long)(g << pool->gshift));
    if (blocks)
        *blocks = b;
    if (bytes)
        *bytes = g << pool->gshift;
    return 0;
}

/* Live processes attached to the object at `at` (its lock taken), or 0 when the object is not
 * a whole region (never finished, damaged: nothing can be attached to it). */
static unsigned attached(const struct dmacoh_platform *p, void *at, uint64_t actual,
                         uint64_t *first)
{
    struct dmacoh__shm *h = (struct dmacoh__shm *)at;
    const struct owner_entry *sl =
        (const struct owner_entry *)(void *)((char *)at + round64(sizeof(struct dmacoh__shm)));
    unsigned live = 0;
    uint64_t ns;

    if (actual < sizeof(*h) || __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != SHM_MAGIC ||
        h->layout != layout_tag() || h->nslots == 0 || h->nslots > SLOTS_MAX)
        return 0;
    ns = h->nslots;
    if (round64(sizeof(*h)) + ns * sizeof(struct owner_entry) > actual)
        return 0;
    {
        struct dmacoh_proc_id me;

        if (p->ops->proc_self(p->ctx, &me) != 0 || h->ns != me.ns)
            return 0; /* nothing attached can be judged from here */
        /* A dead holder is taken over and not repaired: its journal tells the next user. */
        (void)acquire(p, h, &me);
    }
    for (uint64_t k = 0; k < ns; k++) {
        struct dmacoh_proc_id id;

        if (sl[k].state != SLOT_LIVE)
            continue;
        id.pid = sl[k].pid;
        id.start = sl[k].start;
        id.ns = sl[k].ns;
        if (p->ops->proc_alive(p->ctx, &id)) {
            if (live++ == 0)
                *first = id.pid;
        }
    }
    release(h);
    return live;
}

int dmacoh_shared_unlink(struct dmacoh_platform *p, const char *name)
{
    void *at = NULL;
    uint64_t actual = 0, first = 0;
    unsigned live = 0;
    int r;

    if (!dmacoh__platform_ok(p) || dmacoh__shm_name_ok(name)) {
        dmacoh__err("shared unlink: not an initialised platform, or a bad name");
        return DMACOH_EINVAL;
    }
    if (!dmacoh__shm_ops(p)) {
        dmacoh__err("shared unlink: platform '%s' has no shared-state objects", p->ops->name);
        return DMACOH_ENOTSUP;
    }
    /* A region in use stays: a new one of the same name would be a second allocator over the
     * same device memory. One that cannot be opened as a region (damaged, never finished) is
     * removed: that is the remedy its attach suggests. */
    r = p->ops->shm_open(p->ctx, name, 0, false, &at, &actual);
    if (r == DMACOH_ENOENT)
        return r;
    if (r == 0) {
        live = attached(p, at, actual, &first);
        p->ops->shm_close(p->ctx, at, actual);
    }
    if (live) {
        dmacoh__err("shared unlink of '%s': %u processes are attached (process %llu among "
                    "them); it is removed once they have released it",
                    name, live, (unsigned long long)first);
        return DMACOH_EBUSY;
    }
    r = p->ops->shm_unlink(p->ctx, name);
    if (r)
        dmacoh__err("shared unlink of '%s': %s", name, dmacoh_strerror(r));
    return r;
}

/* ---- looking from outside: dmacoh_shared_list, _inspect, _reap_by_name ---- */

int dmacoh_shared_list(struct dmacoh_platform *p,
                       int (*fn)(void *user, const struct dmacoh_shared_entry *e), void *user)
{
    if (!dmacoh__platform_ok(p) || !fn) {
        dmacoh__err("shared list: not an initialised platform, or fn is NULL");
        return DMACOH_EINVAL;
    }
    if (!p->ops->shm_list) {
        dmacoh__err("shared list: platform '%s' cannot enumerate shared regions", p->ops->name);
        return DMACOH_ENOTSUP;
    }
    return p->ops->shm_list(p->ctx, fn, user);
}

/* A region looked at from outside: the object mapped, its header as read once (every size
 * and offset used comes from this copy, checked against itself, never from the object
 * again), and a pool of no device over it, with no owner entry, which is what the lock, the
 * sweep and the reap need. */
struct view {
    struct dmacoh__shm hl;
    void *at;
    uint64_t actual, n, pa_off;
    struct dmacoh__pool *pool;
};

/* Maps the object `name` and checks that its header agrees with itself and with the
 * object's size (there is no declaration to check it against): 0, or an error, logged, with
 * nothing left mapped. */
static int view_open(struct dmacoh_platform *p, const char *name, const char *what, struct view *v)
{
    struct dmacoh__shm *hl = &v->hl;
    struct dmacoh_proc_id me;
    struct dmacoh__pool *pool;
    size_t meta = dmacoh_shared_meta_size();
    uint64_t total = 0;
    int r;

    __builtin_memset(v, 0, sizeof(*v));
    if (!dmacoh__platform_ok(p) || dmacoh__shm_name_ok(name)) {
        dmacoh__err("%s: not an initialised platform, or a bad region name", what);
        return DMACOH_EINVAL;
    }
    if (!dmacoh__shm_ops(p) || !p->ops->meta_alloc || !p->ops->meta_free) {
        dmacoh__err("%s: platform '%s' has no shared-state objects", what, p->ops->name);
        return DMACOH_ENOTSUP;
    }
    r = p->ops->proc_self(p->ctx, &me);
    if (r) {
        dmacoh__err("%s of '%s': this process's identity: %s", what, name, dmacoh_strerror(r));
        return r;
    }
    /* size 1: no wait for a creator still sizing the object (shm_open's contract). */
    r = p->ops->shm_open(p->ctx, name, 1, false, &v->at, &v->actual);
    if (r) {
        if (r == DMACOH_ENOENT)
            dmacoh__err("%s of '%s': no such shared region", what, name);
        return r;
    }
    if (v->actual < sizeof(*hl) ||
        __atomic_load_n(&((struct dmacoh__shm *)v->at)->magic, __ATOMIC_ACQUIRE) != SHM_MAGIC) {
        dmacoh__err("%s of '%s': not a whole region (its creator is setting it up, or died "
                    "doing so; or it is no region's object)",
                    what, name);
        p->ops->shm_close(p->ctx, v->at, v->actual);
        return DMACOH_EIO;
    }
    __builtin_memcpy(hl, v->at, sizeof(*hl));
    if (hl->version != SHM_VERSION || hl->layout != layout_tag()) {
        dmacoh__err("%s of '%s': made by another build of the library (version %llu, layout "
                    "%#llx; this build: %u, %#llx)",
                    what, name, (unsigned long long)hl->version, (unsigned long long)hl->layout,
                    SHM_VERSION, (unsigned long long)layout_tag());
        r = DMACOH_EINVAL;
    } else {
        if (hl->nslots != 0 && hl->nslots <= SLOTS_MAX &&
            hl->gshift >= dmacoh__log2(DMACOH_GRANULE_MIN) &&
            hl->gshift <= dmacoh__log2(DMACOH_GRANULE_MAX) && hl->size != 0 &&
            (hl->size & (((uint64_t)1 << hl->gshift) - 1)) == 0) {
            v->n = hl->size >> hl->gshift;
            total = object_size(v->n, hl->nslots, &v->pa_off);
        }
        if (total == 0 || total != v->actual || hl->total != total || hl->pa_off != v->pa_off ||
            hl->slots_off != round64(sizeof(*hl))) {
            dmacoh__err("%s of '%s': the object is damaged (%#llx bytes; its header says %#llx "
                        "bytes of %llu owners, granule 2^%llu, %#llx bytes of device memory)",
                        what, name, (unsigned long long)v->actual, (unsigned long long)hl->total,
                        (unsigned long long)hl->nslots, (unsigned long long)hl->gshift,
                        (unsigned long long)hl->size);
            r = DMACOH_EIO;
        }
    }
    if (r == 0 && v->actual > VIEW_MAX) {
        dmacoh__err("%s of '%s': the object is %#llx bytes, more than a look from outside "
                    "copies (%#llx)",
                    what, name, (unsigned long long)v->actual, VIEW_MAX);
        r = DMACOH_ENOMEM;
    }
    if (r == 0 && hl->ns != me.ns) {
        dmacoh__err("%s of '%s': the region belongs to another pid namespace, whose processes "
                    "cannot be judged from here",
                    what, name);
        r = DMACOH_ENOTSUP;
    }
    pool = r ? NULL : (struct dmacoh__pool *)p->ops->meta_alloc(p->ctx, meta);
    if (r == 0 && !pool) {
        dmacoh__err("%s of '%s': no memory", what, name);
        r = DMACOH_ENOMEM;
    }
    if (r) {
        p->ops->shm_close(p->ctx, v->at, v->actual);
        return r;
    }
    __builtin_memset(pool, 0, meta);
    pool->sp = (struct dmacoh__shproc *)(void *)(pool + 1);
    pool->plat = p;
    pool->shm = (struct dmacoh__shm *)v->at;
    pool->pa = (struct dmacoh__pa *)(void *)((char *)v->at + v->pa_off);
    pool->sp->shm_size = v->actual;
    pool->sp->nslots = (unsigned)hl->nslots;
    pool->sp->slot = pool->sp->nslots; /* no entry: every owner is someone else */
    pool->sp->me = me;
    pool->gshift = (unsigned)hl->gshift;
    pool->size = v->n << pool->gshift;
    pool->dev_base = hl->dev_base;
    pool->bus = hl->bus;
    pool->seq = &pool->shm->seq;
    pool->waiters = &pool->shm->waiters;
    v->pool = pool;
    return 0;
}

static void view_close(struct view *v)
{
    const struct dmacoh_platform *p = v->pool->plat;

    p->ops->shm_close(p->ctx, v->at, v->actual);
    p->ops->meta_free(p->ctx, v->pool, dmacoh_shared_meta_size());
}

/* Whether the state v->pool->pa points at is one the walks may read: its header as the
 * object's sizes say, and every invariant. */
static bool view_sound(const struct view *v)
{
    const struct dmacoh__pa *pa = v->pool->pa;

    return pa->ngranules == v->n && pa->base_g == v->pool->dev_base >> v->pool->gshift &&
           pa->owners_off != 0 && dmacoh__pa_check(pa);
}

/* Takes the region's lock as a process of no owner entry, waiting at most VIEW_WAIT: 0, or
 * -DMACOH_EBUSY, logged with the holder's pid. A holder found dead is recovered from, as any
 * process of the region would; so is an update left half done (a journal that fits the
 * region); a journal that does not fit is left alone (the state is then reported, not
 * rebuilt from what may be garbage). */
static int view_lock(struct view *v, const char *what, const char *name)
{
    struct dmacoh__pool *pool = v->pool;
    const struct dmacoh_platform *p = pool->plat;
    struct dmacoh__pa *pa = pool->pa;
    bool late = false;
    uint64_t holder = __atomic_load_n(&pool->shm->lock, __ATOMIC_RELAXED), dead;

    dead = acquire_until(p, pool->shm, &pool->sp->me, p->ops->now_ns(p->ctx) + VIEW_WAIT, &late);
    if (late) {
        dmacoh__err("%s of '%s': process %llu has held the region's lock for over 2 s (stopped, "
                    "or in a long operation); try again",
                    what, name, (unsigned long long)(holder >> 32));
        return DMACOH_EBUSY;
    }
    pool->sp->seq_locked = __atomic_load_n(pool->seq, __ATOMIC_RELAXED);
    if (dead || (pa->j_op >= DMACOH__J_ALLOC && pa->j_op <= DMACOH__J_RESERVE &&
                 pa->ngranules == v->n && pa->j_off < v->n && pa->j_n <= v->n - pa->j_off))
        recover(pool, dead);
    return 0;
}

static void span_of(const struct dmacoh__pool *pool, uint64_t i, struct dmacoh_shared_span *sp,
                    uint64_t *next)
{
    uint64_t s, len;
    int kind;

    dmacoh__pa_find(pool->pa, i, &s, &len, &kind);
    sp->offset = s << pool->gshift;
    sp->size = len << pool->gshift;
    sp->kind = kind;
    sp->owner = 0;
    sp->quarantined = false;
    if (kind == DMACOH_SPAN_ALLOCATED) {
        unsigned o = dmacoh__pa_owner(pool->pa, s);

        sp->owner = o <= pool->sp->nslots ? o : 0;
        sp->quarantined = owner_dead(pool, o);
    }
    *next = s + len > i ? s + len : i + 1; /* always forward */
}

int dmacoh_shared_inspect(struct dmacoh_platform *p, const char *name,
                          struct dmacoh_shared_info *info,
                          int (*owner_fn)(void *user, const struct dmacoh_shared_owner *o),
                          int (*span_fn)(void *user, const struct dmacoh_shared_span *s),
                          void *user)
{
    struct dmacoh_shared_info in;
    struct view v;
    struct dmacoh__shm *h;
    void *copy;
    bool sound;
    int r = view_open(p, name, "shared inspect", &v);

    if (r)
        return r;
    copy = p->ops->meta_alloc(p->ctx, (size_t)v.actual);
    if (!copy) {
        dmacoh__err("shared inspect of '%s': no memory for a copy of %#llx bytes", name,
                    (unsigned long long)v.actual);
        view_close(&v);
        return DMACOH_ENOMEM;
    }
    r = view_lock(&v, "shared inspect", name);
    if (r) {
        p->ops->meta_free(p->ctx, copy, (size_t)v.actual);
        view_close(&v);
        return r;
    }
    sound = view_sound(&v);
    if (sound)
        sweep(v.pool); /* only over a sound state: the sweep walks it */
    __builtin_memcpy(copy, v.at, (size_t)v.actual);
    dmacoh__shm_unlock(v.pool);

    /* From here on, the copy, checked again: a process that wrote the object without the
     * lock cannot change it under the walks any more. */
    v.pool->shm = h = (struct dmacoh__shm *)copy;
    v.pool->pa = (struct dmacoh__pa *)(void *)((char *)copy + v.pa_off);
    sound = sound && view_sound(&v);
    __builtin_memset(&in, 0, sizeof(in));
    in.bus = v.hl.bus;
    in.device_addr = v.hl.dev_base;
    in.size = v.pool->size;
    in.granule = (uint64_t)1 << v.pool->gshift;
    in.placement = (unsigned)v.hl.placement;
    in.align_cap = v.hl.align_cap;
    in.fallbacks = h->fallbacks;
    in.consistent = sound;
    in.stats.max_procs = v.pool->sp->nslots;
    if (sound) {
        fill_stats(v.pool, &in.stats);
        for (uint64_t i = 0; i < v.n;) {
            struct dmacoh_shared_span sp;

            span_of(v.pool, i, &sp, &i);
            if (sp.kind == DMACOH_SPAN_FREE) {
                in.free_spans++;
                if (sp.size > in.largest_free)
                    in.largest_free = sp.size;
            }
        }
    } else {
        dmacoh__err("shared inspect of '%s': the allocator state fails the invariant checker "
                    "(the next process to attach repairs it)",
                    name);
        r = DMACOH_EIO;
    }
    if (info)
        *info = in;
    if (r == 0 && owner_fn)
        r = walk_entries(v.pool, owner_fn, user);
    for (uint64_t i = 0; r == 0 && span_fn && i < v.n;) {
        struct dmacoh_shared_span sp;

        span_of(v.pool, i, &sp, &i);
        r = span_fn(user, &sp);
    }
    p->ops->meta_free(p->ctx, copy, (size_t)v.actual);
    view_close(&v);
    return r;
}

int dmacoh_shared_reap_by_name(struct dmacoh_platform *p, const char *name, uint64_t *blocks,
                               uint64_t *bytes)
{
    struct view v;
    uint64_t b = 0, g = 0;
    bool sound;
    int r = view_open(p, name, "shared reap", &v);

    if (r)
        return r;
    r = view_lock(&v, "shared reap", name);
    if (r) {
        view_close(&v);
        return r;
    }
    sound = view_sound(&v);
    if (sound) {
        sweep(v.pool);
        reap_locked(v.pool, &b, &g);
    }
    dmacoh__shm_unlock(v.pool);
    if (b && __atomic_load_n(v.pool->waiters, __ATOMIC_SEQ_CST) && p->ops->wake)
        p->ops->wake(p->ctx, v.pool->seq);
    if (sound)
        dmacoh__info("shared reap of '%s': %llu quarantined blocks (%#llx bytes) freed", name,
                     (unsigned long long)b, (unsigned long long)(g << v.pool->gshift));
    else
        dmacoh__err("shared reap of '%s': the allocator state fails the invariant checker; "
                    "nothing freed (the next process to attach repairs it)",
                    name);
    if (sound && blocks)
        *blocks = b;
    if (sound && bytes)
        *bytes = g << v.pool->gshift;
    view_close(&v);
    return sound ? 0 : DMACOH_EIO;
}

size_t dmacoh_shared_meta_size(void)
{
    return sizeof(struct dmacoh__pool) + sizeof(struct dmacoh__shproc);
}
