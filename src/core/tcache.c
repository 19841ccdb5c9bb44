/* SPDX-License-Identifier: MIT */
/*
 * tcache.c - per-thread caches of freed small blocks, for regions that several threads use at
 * once.
 *
 * One lock per region serialises every allocation and free. When two threads allocate at
 * once, the lock and the allocator state bounce between their caches and the pair of threads
 * does less work than one thread alone. So a region switches, the first time a thread finds
 * its lock taken, to caching: a free of a block of up to DMACOH__TC_MAX_N granules goes to a
 * small LIFO cache picked by the platform's thread slot, under that cache's own lock, and an
 * allocation of the same size from the same slot takes it back. Neither touches the region
 * lock nor the placement state.
 *
 * A cached block is "parked" (dmacoh__pa_park): still allocated as far as placement goes, its
 * first granule marked OCC by a compare-and-swap that is also where a racing second free of the
 * same block loses. So a double free is still caught at once, by whichever free comes second:
 * it finds OCC (or FREE) instead of HEAD, takes the region lock, drains the caches and gets
 * -DMACOH_EFAULT from the allocator.
 *
 * The caches are drained back into the allocator, under the region lock, whenever something
 * needs the exact state: an allocation the allocator cannot satisfy (so cached blocks never
 * cause a failure), statistics, walks, lookups, the invariant check, occupying a range,
 * release. A free that parks a block while a thread waits for room (DMACOH_ALLOC_WAIT) drains
 * and wakes it; the waiter counts itself before it drains, so the two cannot miss each other.
 *
 * Not used for regions declared with DMACOH_PLACE_FIRST_FIT (reuse is LIFO, not lowest
 * first), nor on platforms without thread slots. Order: region lock, then cache locks; a cache
 * lock is never held while taking the region lock.
 */
#include "internal.h"
#include "lock.h"

static struct dmacoh__tc *slot_of(struct dmacoh__pool *pool)
{
    const struct dmacoh_platform *p = pool->plat;

    return &pool->tc[p->ops->thread_slot(p->ctx) & (DMACOH__TC_SLOTS - 1)];
}

void dmacoh__tc_enable(struct dmacoh__pool *pool)
{
    if (!pool->tc_ok || __atomic_load_n(&pool->tc_on, __ATOMIC_RELAXED))
        return;
    dmacoh__pa_set_concurrent(pool->pa);
    __atomic_store_n(&pool->tc_on, 1u, __ATOMIC_RELEASE);
    dmacoh__dbg("region at bus %#llx: contended, caching freed blocks per thread",
                (unsigned long long)pool->bus);
}

bool dmacoh__tc_alloc(struct dmacoh__pool *pool, uint64_t n, uint64_t limit, uint64_t *off)
{
    struct dmacoh__tc *c = slot_of(pool);
    bool found = false;

    dmacoh__lock(&c->lock, pool->plat);
    for (uint32_t i = c->count; i-- > 0;) {
        uint64_t o = c->ent[i] >> 4;

        if ((c->ent[i] & 15u) + 1 == n && o + n <= limit) {
            c->ent[i] = c->ent[--c->count];
            c->allocs++;
            dmacoh__pa_unpark(pool->pa, o);
            if (pool->track) /* under the cache lock: no one else can have the block */
                DMACOH__TRACK_ALLOC(pool->cpu + (o << pool->gshift), n << pool->gshift);
            *off = o;
            found = true;
            break;
        }
    }
    dmacoh__unlock(&c->lock);
    return found;
}

bool dmacoh__tc_free(struct dmacoh__pool *pool, uint64_t off, uint64_t n)
{
    struct dmacoh__tc *c = slot_of(pool);
    bool parked = false;

    dmacoh__lock(&c->lock, pool->plat);
    if (c->count < DMACOH__TC_DEPTH && dmacoh__pa_park(pool->pa, off, n) == 0) {
        c->ent[c->count++] = off << 4 | (n - 1);
        c->frees++;
        parked = true;
        if (pool->track) /* before the cache lock lets anyone take the block again */
            DMACOH__TRACK_FREE(pool->cpu + (off << pool->gshift), n << pool->gshift);
    }
    dmacoh__unlock(&c->lock);
    if (parked && __atomic_load_n(pool->waiters, __ATOMIC_SEQ_CST)) {
        /* Someone waits for room: hand the block back to the allocator and wake them. */
        (void)dmacoh__pool_lock(pool);
        dmacoh__tc_drain(pool);
        dmacoh__pool_unlock(pool);
        if (pool->plat->ops->wake)
            pool->plat->ops->wake(pool->plat->ctx, pool->seq);
    }
    return parked;
}

/* Empties every cache into the allocator; with `hold`, leaves the cache locks taken so that
 * nothing is parked until dmacoh__tc_unhold. */
static void drain(struct dmacoh__pool *pool, bool hold)
{
    bool any = false;

    if (!__atomic_load_n(&pool->tc_on, __ATOMIC_ACQUIRE))
        return;
    for (unsigned s = 0; s < DMACOH__TC_SLOTS; s++) {
        struct dmacoh__tc *c = &pool->tc[s];

        dmacoh__lock(&c->lock, pool->plat);
        while (c->count) {
            uint64_t e = c->ent[--c->count];
            int r;

            r = dmacoh__pa_free_parked(pool->pa, e >> 4, (e & 15u) + 1);
            if (r == 0)
                dmacoh__clean_freed(pool, e >> 4, (e & 15u) + 1);
            if (r) { /* cannot happen unless the state was corrupted from outside */
                dmacoh__err("region at bus %#llx: cached block at granule %llu was not parked",
                            (unsigned long long)pool->bus, (unsigned long long)(e >> 4));
                DMACOH_ASSERT(r == 0);
            }
            any = true;
        }
        pool->allocs += c->allocs;
        pool->frees += c->frees;
        c->allocs = c->frees = 0;
        if (!hold)
            dmacoh__unlock(&c->lock);
    }
    if (any)
        __atomic_add_fetch(pool->seq, 1u, __ATOMIC_RELAXED);
}

void dmacoh__tc_drain(struct dmacoh__pool *pool)
{
    drain(pool, false);
}

void dmacoh__tc_hold(struct dmacoh__pool *pool)
{
    drain(pool, true);
}

void dmacoh__tc_unhold(struct dmacoh__pool *pool)
{
    if (!__atomic_load_n(&pool->tc_on, __ATOMIC_ACQUIRE))
        return;
    for (unsigned s = 0; s < DMACOH__TC_SLOTS; s++)
        dmacoh__unlock(&pool->tc[s].lock);
}
