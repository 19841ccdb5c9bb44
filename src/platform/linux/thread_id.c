/* SPDX-License-Identifier: MIT */
/*
 * thread_id.c - exclusive thread ids for the per-thread caches of dma_pools.
 *
 * A 64-bit word of ids in use. A thread's first call takes the lowest free id with a
 * compare-and-swap and remembers it in a thread-local; a pthread key whose destructor runs at
 * the thread's exit gives it back, so a new thread may take it (and with it the blocks that
 * the exited thread had cached in each pool: they stay the pool's, the new holder uses them).
 * A thread that finds all DMACOH_THREAD_IDS ids held gets -1 for the rest of its life.
 *
 * After fork() the child keeps the parent's word: the ids of the parent's other threads stay
 * held in the child (there is no thread left to give them back), and so do the blocks those
 * threads had in their magazines (at most 8 per thread and pool), until the pool is
 * destroyed: a child that forks from a threaded parent and needs every block of a small
 * region creates its pools with DMACOH_POOL_CACHE_OFF.
 *
 * The key is deleted when the library is unloaded (dlclose) so that no thread exiting later
 * calls its destructor in unmapped code; for a program linked statically that also happens at
 * exit(), and a thread still running then and asking its first id could set a value on a key
 * that is gone: a thread that starts while the process exits.
 */
#include "internal.h"

#include <pthread.h>
#include <stdint.h>

#define NOT_ASKED (-2)

static uint64_t ids_used; /* bit i: id i is held by a live thread */
static _Thread_local int my_id = NOT_ASKED;
static pthread_key_t id_key;
static pthread_once_t id_once = PTHREAD_ONCE_INIT;
static int id_key_state; /* 0: not made, 1: made, -1: could not be made */

/* Runs on the exiting thread (or on a claim that failed). The thread forgets its id first:
 * a destructor of another key that runs after this one may still call into a pool, and must
 * then go without a magazine rather than share the id with the next thread that takes it. */
static void id_release(void *v)
{
    int id = (int)(intptr_t)v - 1;

    my_id = -1;
    if (id >= 0 && id < DMACOH_THREAD_IDS)
        __atomic_and_fetch(&ids_used, ~(1ull << id), __ATOMIC_RELEASE);
}

static void id_key_make(void)
{
    id_key_state = pthread_key_create(&id_key, id_release) == 0 ? 1 : -1;
}

/* The key's destructor is code of this library: delete the key when the library is unloaded,
 * so that no thread exiting afterwards calls into unmapped code. */
__attribute__((destructor)) static void id_key_delete(void)
{
    if (id_key_state == 1)
        (void)pthread_key_delete(id_key);
    id_key_state = -1;
}

static int claim_id(void)
{
    uint64_t used;

    (void)pthread_once(&id_once, id_key_make);
    if (id_key_state != 1)
        return my_id = -1;
    used = __atomic_load_n(&ids_used, __ATOMIC_RELAXED);
    for (;;) {
        int id;

        if (used == ~0ull)
            return my_id = -1;
        id = __builtin_ctzll(~used);
        if (__atomic_compare_exchange_n(&ids_used, &used, used | (1ull << id), false,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            if (pthread_setspecific(id_key, (void *)(intptr_t)(id + 1)) != 0) {
                id_release((void *)(intptr_t)(id + 1));
                return my_id = -1;
            }
            return my_id = id;
        }
    }
}

int dmacoh__linux_thread_id(void *ctx)
{
    (void)ctx;
    if (__builtin_expect(my_id != NOT_ASKED, 1))
        return my_id;
    return claim_id();
}
