/* SPDX-License-Identifier: MIT */
/*
 * test_pool_mag.c - the per-thread magazines of dma_pool (pool.h, "Threads"): a freed block
 * kept in the freeing thread's magazine is handed out again LIFO and counted as cached, not in
 * use; a second free of it is refused (and so is a pointer that does not match its handle, or
 * a handle that is not a block start), changing nothing; two threads freeing one block at the
 * same instant, hundreds of times, succeed exactly once each time; an allocation that fails
 * while another thread holds blocks in its magazine makes that thread give them back at its
 * next call; the thread_cache option (by default no magazines over an exclusive region); blocks
 * of a region released under the pool are never
 * handed out from a magazine; destroy does not count cached blocks as outstanding; and the
 * Linux platforms' thread ids (distinct while threads live, handed on when they exit, -1 past
 * DMACOH_THREAD_IDS).
 */
#include <dmacoh/dmacoh.h>
#include <dmacoh/platform.h>
#include <dmacoh/pool.h>
#include <dmacoh/sim.h>

#include "fixture.h"
#include "t.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(c, ...)                                                                              \
    do {                                                                                           \
        if (!(c))                                                                                  \
            t_fail(__FILE__, __LINE__, __VA_ARGS__);                                               \
    } while (0)

#define MEM_A UINT64_C(0x10000000)
#define DEV_A UINT64_C(0x80000000)
#define PG    UINT64_C(0x1000)

struct fx {
    struct dmacoh_sim *sim;
    struct dmacoh_device dev;
};

/* A simulator, a device "magdev" and an exclusive MAP region of `size` bytes on it. */
static void fx_init(struct fx *f, uint64_t size)
{
    int g = 0;

    f->sim = NULL;
    T_OK(dmacoh_sim_create(NULL, &f->sim));
    T_OK(dmacoh_device_init(&f->dev, "magdev", NULL, dmacoh_sim_platform(f->sim)));
    t_add_memory(f->sim, MEM_A, size, DMACOH_MEMORY_MAP, false);
    T_OK(dmacoh_declare_coherent_memory(&f->dev, MEM_A, DEV_A, size,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL, &g));
}

static void fx_fini(struct fx *f)
{
    T_ASSERT(dmacoh_check(&f->dev));
    if (dmacoh_device_has_region(&f->dev))
        T_OK(dmacoh_release_coherent_memory(&f->dev, 0));
    T_OK(dmacoh_device_fini(&f->dev));
    T_OK(dmacoh_sim_destroy(f->sim));
}

/* A pool with magazines on (the regions here are exclusive: off by default). */
static struct dmacoh_pool *mag_pool(struct fx *f, const char *name, size_t size)
{
    struct dmacoh_pool_opts o;
    struct dmacoh_pool *p = NULL;

    memset(&o, 0, sizeof(o));
    o.thread_cache = DMACOH_POOL_CACHE_ON;
    T_OK(dmacoh_pool_create(&p, name, &f->dev, size, 0, 0, &o));
    return p;
}

static struct dmacoh_pool_stats pst(const struct dmacoh_pool *p)
{
    struct dmacoh_pool_stats s;

    T_OK(dmacoh_pool_get_stats(p, &s));
    return s;
}

/* ---- one thread ---- */

/* A freed block waits in the magazine (cached, not in use) and comes back first; every bad
 * free of it, or of its neighbours in the same chunk, is refused and changes nothing. */
static void cached_block_checks(void)
{
    struct dmacoh_pool *p = NULL;
    struct dmacoh_pool_stats s;
    void *a, *b, *c, *b2;
    dmacoh_dma_addr_t ha, hb, hc, hb2;
    struct fx f;

    fx_init(&f, 16 * PG);
    p = mag_pool(&f, "mag", 64);
    T_OK(dmacoh_pool_alloc(p, 0, &a, &ha));
    T_OK(dmacoh_pool_alloc(p, 0, &b, &hb));
    T_OK(dmacoh_pool_alloc(p, 0, &c, &hc));
    T_OK(dmacoh_pool_free(p, b, hb)); /* through the locked path: names the chunk */
    T_OK(dmacoh_pool_alloc(p, 0, &b2, &hb2));
    T_EQ_U64(hb2, hb);
    T_OK(dmacoh_pool_free(p, b2, hb2)); /* the lock-free path now */
    s = pst(p);
    T_EQ_U64(s.cached, 1);
    T_EQ_U64(s.in_use, 2);
    T_EQ_U64(s.frees, 2);
    /* Double free of the cached block, through both paths (the lookup is warm). */
    T_ERR(dmacoh_pool_free(p, b, hb), DMACOH_EFAULT);
    T_ERR(dmacoh_pool_free(p, b, hb), DMACOH_EFAULT);
    /* A live block with the wrong pointer, and a handle inside a block. */
    T_ERR(dmacoh_pool_free(p, (char *)a + 64, ha), DMACOH_EINVAL);
    T_ERR(dmacoh_pool_free(p, (char *)a + 8, ha + 8), DMACOH_EFAULT);
    s = pst(p);
    T_EQ_U64(s.cached, 1);
    T_EQ_U64(s.in_use, 2);
    T_EQ_U64(s.frees, 2);
    /* LIFO: the cached block is the next one handed out. */
    T_OK(dmacoh_pool_alloc(p, 0, &b2, &hb2));
    T_EQ_U64(hb2, hb);
    T_ASSERT(b2 == b);
    T_EQ_U64(pst(p).cached, 0);
    T_OK(dmacoh_pool_free(p, a, ha));
    T_OK(dmacoh_pool_free(p, c, hc));
    T_OK(dmacoh_pool_free(p, b, hb));
    s = pst(p);
    T_EQ_U64(s.in_use, 0);
    T_EQ_U64(s.allocs, 5);
    T_EQ_U64(s.frees, 5);
    /* a and c went into the magazine; b would have left its chunk empty but for them, so all
     * three went back to the chunk, which is empty now and kept (keep_empty). */
    T_EQ_U64(s.cached, 0);
    T_EQ_U64(s.chunks, 1);
    T_OK(dmacoh_pool_destroy(p, 0)); /* cached blocks are not outstanding */
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    fx_fini(&f);
}

/* thread_cache: AUTO has magazines over a shared region and none over an exclusive one; OFF
 * has none; an unknown value is refused. Without magazines every freed block goes straight
 * back to its chunk (and a double free is refused all the same). */
static void thread_cache_option(void)
{
    static const struct {
        bool exclusive;
        unsigned want;
        uint64_t cached;
    } cases[] = {
        {false, DMACOH_POOL_CACHE_AUTO, 1},
        {true, DMACOH_POOL_CACHE_AUTO, 0},
        {false, DMACOH_POOL_CACHE_OFF, 0},
        {true, DMACOH_POOL_CACHE_ON, 1},
    };
    struct dmacoh_pool_opts o;
    struct dmacoh_pool *p = NULL;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        void *a, *b;
        dmacoh_dma_addr_t ha, hb;
        struct fx f;
        int g = 0;

        f.sim = NULL;
        T_OK(dmacoh_sim_create(NULL, &f.sim));
        T_OK(dmacoh_device_init(&f.dev, "magdev", NULL, dmacoh_sim_platform(f.sim)));
        t_add_memory(f.sim, MEM_A, 16 * PG, DMACOH_MEMORY_MAP, false);
        T_OK(dmacoh_declare_coherent_memory(
            &f.dev, MEM_A, DEV_A, 16 * PG,
            DMACOH_MEMORY_MAP | (cases[i].exclusive ? DMACOH_MEMORY_EXCLUSIVE : 0), NULL, &g));
        memset(&o, 0, sizeof(o));
        o.thread_cache = cases[i].want;
        T_OK(dmacoh_pool_create(&p, "opt", &f.dev, 64, 0, 0, &o));
        T_OK(dmacoh_pool_alloc(p, 0, &a, &ha));
        T_OK(dmacoh_pool_alloc(p, 0, &b, &hb));
        T_OK(dmacoh_pool_free(p, b, hb));
        CHECK(pst(p).cached == cases[i].cached, "case %zu: %llu cached, %llu expected", i,
              (unsigned long long)pst(p).cached, (unsigned long long)cases[i].cached);
        T_ERR(dmacoh_pool_free(p, b, hb), DMACOH_EFAULT);
        T_OK(dmacoh_pool_free(p, a, ha));
        T_OK(dmacoh_pool_destroy(p, 0));
        if (i == 0) {
            o.thread_cache = DMACOH_POOL_CACHE_OFF + 1;
            T_ERR(dmacoh_pool_create(&p, "bad", &f.dev, 64, 0, 0, &o), DMACOH_EINVAL);
        }
        fx_fini(&f);
    }
}

/* A region released under the pool: a block of it waiting in a magazine is never handed out
 * again (its memory belongs to whoever declares the range next). */
static void released_region_cached(void)
{
    struct dmacoh_pool *p = NULL;
    void *a, *b, *c;
    dmacoh_dma_addr_t ha, hb, hc;
    struct fx f;
    int g = 0;

    fx_init(&f, 16 * PG);
    p = mag_pool(&f, "rel", 64);
    T_OK(dmacoh_pool_alloc(p, 0, &a, &ha));
    T_OK(dmacoh_pool_alloc(p, 0, &b, &hb));
    T_OK(dmacoh_pool_free(p, b, hb));
    T_OK(dmacoh_pool_alloc(p, 0, &b, &hb));
    T_OK(dmacoh_pool_free(p, b, hb));
    T_EQ_U64(pst(p).cached, 1);
    T_OK(dmacoh_release_coherent_memory(&f.dev, DMACOH_RELEASE_FORCE));
    /* The range is declared again, at another device address: a block of the old chunk
     * would carry a handle of the old one. */
    T_OK(dmacoh_declare_coherent_memory(&f.dev, MEM_A, DEV_A + 0x100000, 16 * PG,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL, &g));
    T_OK(dmacoh_pool_alloc(p, 0, &c, &hc));
    CHECK(hc >= DEV_A + 0x100000, "block at %#llx from the released region",
          (unsigned long long)hc);
    T_ERR(dmacoh_pool_free(p, a, ha), DMACOH_EFAULT); /* invalid since the release */
    T_OK(dmacoh_pool_free(p, c, hc));
    T_OK(dmacoh_pool_destroy(p, 0));
    fx_fini(&f);
}

/* The chunk a magazine names as its last goes (keep_empty none) while named: its header is
 * kept, retired, and put away when the magazine moves on; nothing leaks (the sanitizers and
 * valgrind runs check) and the next chunk is a fresh one. */
static void pinned_header_survives_drop(void)
{
    struct dmacoh_pool_opts o;
    struct dmacoh_pool *p = NULL;
    struct dmacoh_pool_stats s;
    void *a, *b, *c;
    dmacoh_dma_addr_t ha, hb, hc;
    struct fx f;

    fx_init(&f, 16 * PG);
    memset(&o, 0, sizeof(o));
    o.thread_cache = DMACOH_POOL_CACHE_ON;
    o.keep_empty = DMACOH_POOL_KEEP_NONE;
    T_OK(dmacoh_pool_create(&p, "pin", &f.dev, 64, 0, 0, &o));
    T_OK(dmacoh_pool_alloc(p, 0, &a, &ha));
    T_OK(dmacoh_pool_alloc(p, 0, &b, &hb));
    T_OK(dmacoh_pool_free(p, a, ha)); /* checked path: the chunk becomes the magazine's last */
    T_EQ_U64(pst(p).cached, 1);
    T_OK(dmacoh_pool_free(p, b, hb)); /* would empty it: both go back, and the chunk goes */
    s = pst(p);
    T_EQ_U64(s.chunks, 0);
    T_EQ_U64(s.cached, 0);
    T_EQ_U64(t_region_stats(&f.dev).in_use, 0);
    T_ERR(dmacoh_pool_free(p, b, hb), DMACOH_EFAULT); /* the gone chunk's block */
    T_OK(dmacoh_pool_alloc(p, 0, &c, &hc));
    T_EQ_U64(pst(p).chunks, 1);
    T_OK(dmacoh_pool_free(p, c, hc)); /* the new chunk is the last now: the old header goes */
    T_EQ_U64(pst(p).chunks, 0);
    T_OK(dmacoh_pool_destroy(p, 0));
    fx_fini(&f);
}

/* ---- several threads ---- */

struct race {
    struct dmacoh_pool *p;
    pthread_barrier_t go, mid, done;
    void *cpu; /* the block both free, set before the racers start */
    dmacoh_dma_addr_t h;
    unsigned rounds;
    unsigned start; /* round the racers may start: they spin on it, so they start together */
    unsigned ok[2], refused[2], regained[2], warm[2];
};

struct racer {
    struct race *r;
    unsigned who;
};

/* Warm-up (one racer at a time): free the block and take it back twice, so that this
 * thread's magazine names its chunk and the lock-free path is the one taken. Then, every
 * round, free it at the same instant as the other racer; the winner takes it back (its
 * magazine hands out the block it just took), so the block is live again for the next round. */
static void *racer_main(void *arg)
{
    struct racer *me = (struct racer *)arg;
    struct race *r = me->r;
    void *cpu;
    dmacoh_dma_addr_t h;

    for (unsigned turn = 0; turn < 2; turn++) {
        pthread_barrier_wait(&r->go);
        for (unsigned i = 0; me->who == turn && i < 2; i++)
            r->warm[turn] += dmacoh_pool_free(r->p, r->cpu, r->h) == 0 &&
                             dmacoh_pool_alloc(r->p, 0, &cpu, &h) == 0 && h == r->h;
        pthread_barrier_wait(&r->done);
    }
    for (unsigned i = 0; i < r->rounds; i++) {
        int e;

        pthread_barrier_wait(&r->go);
        while (__atomic_load_n(&r->start, __ATOMIC_ACQUIRE) != i + 1)
            ;
        e = dmacoh_pool_free(r->p, r->cpu, r->h);
        pthread_barrier_wait(&r->mid); /* both frees are over */
        if (e == 0) {
            r->ok[me->who]++;
            if (dmacoh_pool_alloc(r->p, 0, &cpu, &h) == 0 && h == r->h && cpu == r->cpu)
                r->regained[me->who]++;
        } else if (e == DMACOH_EFAULT) {
            r->refused[me->who]++;
        }
        pthread_barrier_wait(&r->done);
    }
    return NULL;
}

/* Two threads free one block at the same instant, round after round, both on the lock-free
 * path (each has the block's chunk as its last, and room in its magazine): exactly one free
 * succeeds every time, the winner gets the block back, and the pool's counts come out exact.
 * With the compare-and-swap of the block's st byte replaced by a load and a store, both frees
 * of a round can succeed. */
static void racing_double_free(void)
{
    static struct race r;
    struct racer who[2];
    pthread_t t[2];
    struct dmacoh_pool_stats s;
    void *a, *b;
    dmacoh_dma_addr_t ha, hb;
    struct fx f;

    fx_init(&f, 64 * PG);
    memset(&r, 0, sizeof(r));
    r.rounds = getenv("DMACOH_TEST_QUICK") ? 100 : 2000; /* valgrind runs threads in turn */
    r.p = mag_pool(&f, "race", 64);
    /* Two more blocks of the chunk stay out: it never turns empty. */
    T_OK(dmacoh_pool_alloc(r.p, 0, &a, &ha));
    T_OK(dmacoh_pool_alloc(r.p, 0, &b, &hb));
    T_OK(dmacoh_pool_alloc(r.p, 0, &r.cpu, &r.h));
    T_EQ_INT(pthread_barrier_init(&r.go, NULL, 3), 0);
    T_EQ_INT(pthread_barrier_init(&r.mid, NULL, 3), 0);
    T_EQ_INT(pthread_barrier_init(&r.done, NULL, 3), 0);
    for (unsigned k = 0; k < 2; k++) {
        who[k].r = &r;
        who[k].who = k;
        T_EQ_INT(pthread_create(&t[k], NULL, racer_main, &who[k]), 0);
    }
    for (unsigned i = 0; i < r.rounds + 2; i++) {
        pthread_barrier_wait(&r.go);
        if (i >= 2) {
            usleep(20); /* both racers spinning */
            __atomic_store_n(&r.start, i - 1, __ATOMIC_RELEASE);
            pthread_barrier_wait(&r.mid);
        }
        pthread_barrier_wait(&r.done);
    }
    for (unsigned k = 0; k < 2; k++)
        T_EQ_INT(pthread_join(t[k], NULL), 0);
    T_EQ_U64(r.warm[0] + r.warm[1], 4);
    T_EQ_U64(r.ok[0] + r.ok[1], r.rounds);
    T_EQ_U64(r.refused[0] + r.refused[1], r.rounds);
    T_EQ_U64(r.regained[0] + r.regained[1], r.rounds);
    s = pst(r.p);
    T_EQ_U64(s.in_use, 3);
    T_EQ_U64(s.allocs, 3 + 4 + r.rounds);
    T_EQ_U64(s.frees, 4 + r.rounds);
    T_OK(dmacoh_pool_free(r.p, r.cpu, r.h));
    T_OK(dmacoh_pool_free(r.p, a, ha));
    T_OK(dmacoh_pool_free(r.p, b, hb));
    T_OK(dmacoh_pool_destroy(r.p, 0));
    T_EQ_INT(pthread_barrier_destroy(&r.go), 0);
    T_EQ_INT(pthread_barrier_destroy(&r.mid), 0);
    T_EQ_INT(pthread_barrier_destroy(&r.done), 0);
    fx_fini(&f);
}

struct holder {
    struct dmacoh_pool *p;
    pthread_barrier_t step;
    void *cpu[4];
    dmacoh_dma_addr_t h[4];
    int r[4];
};

/* Takes the region's four blocks and frees two into its magazine; waits; takes one (its next
 * call: the magazine is flushed first); waits; frees what it holds. */
static void *holder_main(void *arg)
{
    struct holder *o = (struct holder *)arg;

    for (unsigned i = 0; i < 4; i++)
        o->r[0] |= dmacoh_pool_alloc(o->p, 0, &o->cpu[i], &o->h[i]);
    o->r[0] |= dmacoh_pool_free(o->p, o->cpu[2], o->h[2]);
    o->r[0] |= dmacoh_pool_free(o->p, o->cpu[3], o->h[3]);
    pthread_barrier_wait(&o->step); /* 1: the other thread's allocation fails */
    pthread_barrier_wait(&o->step); /* 2 */
    o->r[1] = dmacoh_pool_alloc(o->p, 0, &o->cpu[2], &o->h[2]);
    pthread_barrier_wait(&o->step); /* 3: the other thread's allocation succeeds */
    pthread_barrier_wait(&o->step); /* 4 */
    for (unsigned i = 0; i < 3; i++)
        o->r[2] |= dmacoh_pool_free(o->p, o->cpu[i], o->h[i]);
    return NULL;
}

/* One chunk of four 1 KiB blocks fills the exclusive region. A thread holds two and keeps
 * two in its magazine: another thread's allocation fails (no block in any chunk), and asks
 * for the magazines back; the holder's next call gives them back, and the other thread's next
 * allocation succeeds (pool.h: how a magazine is flushed before an allocation may fail). */
static void flush_before_failure(void)
{
    static struct holder o;
    struct dmacoh_pool_stats s;
    pthread_t t;
    void *cpu;
    dmacoh_dma_addr_t h;
    struct fx f;

    fx_init(&f, PG);
    memset(&o, 0, sizeof(o));
    o.p = mag_pool(&f, "flush", 1024);
    T_EQ_INT(pthread_barrier_init(&o.step, NULL, 2), 0);
    T_EQ_INT(pthread_create(&t, NULL, holder_main, &o), 0);
    pthread_barrier_wait(&o.step); /* 1 */
    T_OK(o.r[0]);
    s = pst(o.p);
    T_EQ_U64(s.cached, 2);
    T_EQ_U64(s.in_use, 2);
    T_ERR(dmacoh_pool_alloc(o.p, 0, &cpu, &h), DMACOH_ENOMEM);
    pthread_barrier_wait(&o.step); /* 2 */
    pthread_barrier_wait(&o.step); /* 3 */
    T_OK(o.r[1]);
    T_EQ_U64(pst(o.p).cached, 0);
    T_OK(dmacoh_pool_alloc(o.p, 0, &cpu, &h));
    pthread_barrier_wait(&o.step); /* 4 */
    T_EQ_INT(pthread_join(t, NULL), 0);
    T_OK(o.r[2]);
    T_OK(dmacoh_pool_free(o.p, cpu, h));
    T_EQ_U64(pst(o.p).in_use, 0);
    T_OK(dmacoh_pool_destroy(o.p, 0));
    T_EQ_INT(pthread_barrier_destroy(&o.step), 0);
    fx_fini(&f);
}

/* ---- the platform's thread ids ---- */

#define NT (DMACOH_THREAD_IDS + 6)

struct idrun {
    const struct dmacoh_platform *plat;
    pthread_barrier_t all;
    int id[NT], again[NT];
};

struct idarg {
    struct idrun *run;
    unsigned k;
};

static void *id_main(void *arg)
{
    struct idarg *a = (struct idarg *)arg;
    const struct dmacoh_platform *pl = a->run->plat;

    a->run->id[a->k] = pl->ops->thread_id(pl->ctx);
    pthread_barrier_wait(&a->run->all); /* every thread alive and asked */
    a->run->again[a->k] = pl->ops->thread_id(pl->ctx);
    return NULL;
}

static int ask_in_thread(struct idrun *run)
{
    static struct idarg a;
    pthread_t t;

    a.run = run;
    a.k = 0;
    T_EQ_INT(pthread_barrier_init(&run->all, NULL, 1), 0);
    T_EQ_INT(pthread_create(&t, NULL, id_main, &a), 0);
    T_EQ_INT(pthread_join(t, NULL), 0);
    T_EQ_INT(pthread_barrier_destroy(&run->all), 0);
    return run->id[0];
}

/* Ids are distinct among live threads, stable per thread, -1 past DMACOH_THREAD_IDS, and
 * handed on when threads exit. */
static void thread_ids(void)
{
    static struct idrun run;
    static struct idarg args[NT];
    pthread_t t[NT];
    struct dmacoh_sim *sim = NULL;
    uint64_t seen = 0;
    unsigned none = 0;
    int mine;

    T_OK(dmacoh_sim_create(NULL, &sim));
    run.plat = dmacoh_sim_platform(sim);
    T_ASSERT(run.plat->ops->thread_id != NULL);
    mine = run.plat->ops->thread_id(run.plat->ctx);
    T_ASSERT(mine >= 0 && mine < DMACOH_THREAD_IDS);
    T_EQ_INT(run.plat->ops->thread_id(run.plat->ctx), mine);
    seen |= 1ull << mine;
    T_EQ_INT(pthread_barrier_init(&run.all, NULL, NT), 0);
    for (unsigned k = 0; k < NT; k++) {
        args[k].run = &run;
        args[k].k = k;
        T_EQ_INT(pthread_create(&t[k], NULL, id_main, &args[k]), 0);
    }
    for (unsigned k = 0; k < NT; k++)
        T_EQ_INT(pthread_join(t[k], NULL), 0);
    T_EQ_INT(pthread_barrier_destroy(&run.all), 0);
    for (unsigned k = 0; k < NT; k++) {
        T_EQ_INT(run.again[k], run.id[k]);
        if (run.id[k] < 0) {
            none++;
            continue;
        }
        T_ASSERT(run.id[k] < DMACOH_THREAD_IDS);
        CHECK(!(seen & (1ull << run.id[k])), "id %d held by two live threads", run.id[k]);
        seen |= 1ull << run.id[k];
    }
    /* This thread and the other tests' threads may hold a few ids; the rest went to these. */
    CHECK(none >= NT - DMACOH_THREAD_IDS + 1 && none <= NT - DMACOH_THREAD_IDS + 8,
          "%u threads of %u had no id", none, NT);
    /* They have all exited: a new thread gets a low id again. */
    CHECK(ask_in_thread(&run) >= 0, "no id for a thread after %u exited", NT);
    T_OK(dmacoh_sim_destroy(sim));
}

/* A destructor of a key made after the thread's first id runs after the id was given back:
 * by then the thread has forgotten its id, so a pool call from it cannot share a magazine
 * with the next thread that takes the id. */
static const struct dmacoh_platform *late_plat;
static int late_id = -2;

static void late_destructor(void *v)
{
    (void)v;
    late_id = late_plat->ops->thread_id(late_plat->ctx);
}

static void *late_main(void *arg)
{
    pthread_key_t *key = (pthread_key_t *)arg;

    (void)late_plat->ops->thread_id(late_plat->ctx); /* the platform's key exists from here */
    T_EQ_INT(pthread_key_create(key, late_destructor), 0);
    T_EQ_INT(pthread_setspecific(*key, key), 0);
    return NULL;
}

static void id_forgotten_at_exit(void)
{
    struct dmacoh_sim *sim = NULL;
    pthread_key_t key;
    pthread_t t;

    T_OK(dmacoh_sim_create(NULL, &sim));
    late_plat = dmacoh_sim_platform(sim);
    T_EQ_INT(pthread_create(&t, NULL, late_main, &key), 0);
    T_EQ_INT(pthread_join(t, NULL), 0);
    T_EQ_INT(late_id, -1);
    T_EQ_INT(pthread_key_delete(key), 0);
    T_OK(dmacoh_sim_destroy(sim));
}

static const struct t_case cases[] = {
    T_CASE(cached_block_checks),    T_CASE(thread_cache_option),
    T_CASE(released_region_cached), T_CASE(pinned_header_survives_drop),
    T_CASE(id_forgotten_at_exit),   T_CASE(racing_double_free),
    T_CASE(flush_before_failure),   T_CASE(thread_ids),
};

T_MAIN(cases)
