/* SPDX-License-Identifier: MIT */
/*
 * lock.h - the region lock: a private region's spinlock, or a shared region's lock
 * (shared.c), for the files that take it (alloc.c, region.c, tcache.c, export.c).
 */
#ifndef DMACOH_CORE_LOCK_H
#define DMACOH_CORE_LOCK_H

#include "internal.h"

/* A shared region's lock (shared.c): takes the lock in the shared object, repairs the
 * state when its previous holder died holding it, and stamps this process as the owner of
 * what is allocated until the unlock. */
void dmacoh__shm_lock(struct dmacoh__pool *pool);
void dmacoh__shm_unlock(struct dmacoh__pool *pool);

/* The region lock. Returns whether it was contended (a private region's spinlock: the
 * per-thread caches switch on then). */
static inline bool dmacoh__pool_lock(struct dmacoh__pool *pool)
{
    if (__builtin_expect(pool->shm != NULL, 0)) {
        dmacoh__shm_lock(pool);
        return false;
    }
    return dmacoh__lock_spun(&pool->lock, pool->plat);
}

static inline void dmacoh__pool_unlock(struct dmacoh__pool *pool)
{
    if (__builtin_expect(pool->shm != NULL, 0))
        dmacoh__shm_unlock(pool);
    else
        dmacoh__unlock(&pool->lock);
}

#endif /* DMACOH_CORE_LOCK_H */
