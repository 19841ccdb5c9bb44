/* SPDX-License-Identifier: MIT */
/*
 * test_misuse.c - careless and hostile calls that once misbehaved: a wait for room that can
 * never appear, teardown with devices or memory still live, re-initialising a live device,
 * garbage passed as a device while logging is on, statistics of a fallback that fails.
 */
#include "t.h"

#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

#include <pthread.h>
#include <string.h>
#include <time.h>

#define BUS  0xd0000000u
#define SIZE (64u * 1024u)

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct dmacoh_sim *sim_with_memory(const struct dmacoh_sim_opts *o)
{
    struct dmacoh_sim *sim = NULL;
    struct dmacoh_sim_memory m = {BUS, SIZE, DMACOH_MEMORY_MAP, false, 0};

    T_OK(dmacoh_sim_create(o, &sim));
    T_OK(dmacoh_sim_add_memory(sim, &m));
    return sim;
}

/* Waiting is for room that frees can make: a request larger than the region fails at once. */
static void wait_for_impossible_room_fails_at_once(void)
{
    struct dmacoh_sim *sim = sim_with_memory(NULL);
    struct dmacoh_device dev;
    void *cpu;
    dmacoh_dma_addr_t h;
    uint64_t t0;

    T_OK(dmacoh_device_init(&dev, "dev", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_declare_coherent_memory(&dev, BUS, 0, SIZE,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL, NULL));
    t0 = now_ms();
    T_ERR(dmacoh_alloc_coherent(&dev, 2 * SIZE, DMACOH_ALLOC_WAIT, UINT64_MAX, &cpu, &h),
          DMACOH_ENOMEM);
    /* Nor with half of the region occupied and the rest asked for twice over. */
    T_OK(dmacoh_mark_declared_memory_occupied(&dev, 0, SIZE / 2, &cpu));
    T_ERR(dmacoh_alloc_coherent(&dev, SIZE, DMACOH_ALLOC_WAIT, UINT64_MAX, &cpu, &h),
          DMACOH_ENOMEM);
    T_ASSERT(now_ms() - t0 < 2000);
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* A platform outlives its devices and the memory it handed out. */
static void teardown_refused_while_devices_or_memory_live(void)
{
    struct dmacoh_sim *sim = sim_with_memory(NULL);
    struct dmacoh_device dev;
    void *cpu;
    dmacoh_dma_addr_t h;

    T_OK(dmacoh_device_init(&dev, "dev", NULL, dmacoh_sim_platform(sim)));
    T_ERR(dmacoh_sim_destroy(sim), DMACOH_EBUSY); /* a live device */
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &cpu, &h));
    T_EQ_INT(dmacoh_origin_of(&dev, cpu), DMACOH_ORIGIN_SYSTEM);
    T_OK(dmacoh_device_fini(&dev));
    T_ERR(dmacoh_sim_destroy(sim), DMACOH_EBUSY); /* system memory still handed out */
    T_OK(dmacoh_device_init(&dev, "dev", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_free_coherent(&dev, 4096, cpu, h));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* A device cannot be its own parent (that would make the parent walk loop for ever). */
static void self_parent_refused(void)
{
    struct dmacoh_sim *sim = sim_with_memory(NULL);
    struct dmacoh_device dev, child;
    struct dmacoh_region_stats st;

    T_OK(dmacoh_device_init(&dev, "dev", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_declare_coherent_memory(&dev, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, NULL));
    T_ERR(dmacoh_device_init(&child, "child", &child, NULL), DMACOH_EINVAL);
    T_OK(dmacoh_region_get_stats(&dev, &st));
    T_EQ_U64(st.size, SIZE);
    T_OK(dmacoh_device_init(&child, "child", &dev, NULL));
    T_OK(dmacoh_device_fini(&child));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* Storage that is not a device is refused, and the log line does not read through it. */
static void garbage_device_refused_with_logging_on(void)
{
    struct dmacoh_device junk;
    void *cpu;
    dmacoh_dma_addr_t h;

    memset(&junk, 0xab, sizeof(junk)); /* name is a wild pointer */
    T_ERR(dmacoh_alloc_coherent(&junk, 4096, 0, 0, &cpu, &h), DMACOH_EINVAL);
    T_ERR(dmacoh_free_coherent(&junk, 4096, &junk, 0), DMACOH_EINVAL);
    T_ASSERT(t_log_find("(not a device)"));
    T_ERR(dmacoh_release_coherent_memory(&junk, 0), DMACOH_EINVAL);
    T_ASSERT(!dmacoh_check(&junk));
}

/* A region's fallbacks count only fallbacks that succeeded, and never exceed its failures. */
static void failed_fallback_not_counted(void)
{
    struct dmacoh_sim_opts o = {.no_ram = true};
    struct dmacoh_sim *sim = sim_with_memory(&o);
    struct dmacoh_device dev;
    struct dmacoh_region_stats st;
    void *cpu;
    dmacoh_dma_addr_t h;

    T_OK(dmacoh_device_init(&dev, "dev", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_declare_coherent_memory(&dev, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, NULL));
    T_ERR(dmacoh_alloc_coherent(&dev, 2 * SIZE, 0, 0, &cpu, &h), DMACOH_ENOMEM);
    T_OK(dmacoh_region_get_stats(&dev, &st));
    T_EQ_U64(st.failures, 1);
    T_EQ_U64(st.fallbacks, 0);
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

struct grab {
    struct dmacoh_pool *pool;
    void *cpu;
    dmacoh_dma_addr_t h;
    int r;
};

static void *grab_one(void *arg)
{
    struct grab *g = (struct grab *)arg;

    g->r = dmacoh_pool_alloc(g->pool, 0, &g->cpu, &g->h);
    return NULL;
}

/* A second thread's first block comes from the on-chip chunk that has room, not from a new
 * chunk of system memory; a zeroed options struct keeps the default empty chunk. */
static void pool_threads_share_scarce_device_memory(void)
{
    struct dmacoh_sim *sim = sim_with_memory(NULL);
    struct dmacoh_pool_opts o;
    struct dmacoh_pool_stats ps;
    struct dmacoh_device dev;
    struct dmacoh_pool *pool;
    struct grab g[2];
    pthread_t t;

    memset(&o, 0, sizeof(o));
    T_OK(dmacoh_device_init(&dev, "dev", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_declare_coherent_memory(&dev, BUS, 0, 4096, DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_pool_create(&pool, "scarce", &dev, 64, 0, 0, &o));
    for (unsigned i = 0; i < 2; i++) {
        g[i].pool = pool;
        T_EQ_INT(pthread_create(&t, NULL, grab_one, &g[i]), 0);
        T_EQ_INT(pthread_join(t, NULL), 0);
        T_OK(g[i].r);
        T_EQ_INT(dmacoh_origin_of(&dev, g[i].cpu), DMACOH_ORIGIN_REGION);
    }
    T_OK(dmacoh_pool_get_stats(pool, &ps));
    T_EQ_U64(ps.chunks, 1);
    for (unsigned i = 0; i < 2; i++)
        T_OK(dmacoh_pool_free(pool, g[i].cpu, g[i].h));
    T_OK(dmacoh_pool_get_stats(pool, &ps));
    T_EQ_U64(ps.chunks, 1); /* kept: keep_empty 0 in opts means the default, 1 */
    T_OK(dmacoh_pool_destroy(pool, 0));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

static const struct t_case cases[] = {
    T_CASE(pool_threads_share_scarce_device_memory),
    T_CASE(wait_for_impossible_room_fails_at_once),
    T_CASE(teardown_refused_while_devices_or_memory_live),
    T_CASE(self_parent_refused),
    T_CASE(garbage_device_refused_with_logging_on),
    T_CASE(failed_fallback_not_counted),
};

T_MAIN(cases)
