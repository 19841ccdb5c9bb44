/* SPDX-License-Identifier: MIT */
/*
 * test_threads.c - concurrency of allocation and free (docs/design.md rule 10; dmacoh/alloc.h
 * "thread-safe; many threads may allocate and free at once", DMACOH_ALLOC_WAIT):
 *  - several threads doing tens of thousands of random allocs and frees on one device (an
 *    exclusive region, and a non-exclusive one that falls back to system memory), each writing
 *    a thread- and allocation-specific pattern and verifying it before the free, so two threads
 *    handed overlapping memory are caught; afterwards the region is consistent, empty, and its
 *    counters add up to what the threads saw; meanwhile an observer thread checks that
 *    dmacoh_check() holds and statistics snapshots are self-consistent;
 *  - the same on the children (and a grandchild) of a device declared with INCLUDES_CHILDREN;
 *  - DMACOH_ALLOC_WAIT: a waiter on a full exclusive region gets the memory another thread
 *    frees; several waiters all get served; a wait with nothing freed times out.
 * Worker threads never call the harness's assertions (they longjmp); they record the first
 * problem and the main thread reports it. The harness's log capture is not made for several
 * threads at once, so every test here installs a thread-safe counting log callback instead
 * (device.h: the callback may be called from any thread).
 */
#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

#include "core/internal.h" /* struct dmacoh__pool's `waiters`: to know a waiter is asleep */
#include "t.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PG      UINT64_C(0x1000)
#define MIB     UINT64_C(0x100000)
#define MEM_BUS UINT64_C(0x100000000)
#define NTHR    4
#define ITERS   30000
#define MAXLIVE 24

/* ---- helpers ---- */

static uint64_t rnd(uint64_t *s, uint64_t n)
{
    return t_rand(s) % n;
}

static struct dmacoh_sim *new_sim(void)
{
    struct dmacoh_sim *sim = NULL;
    struct dmacoh_sim_memory m;

    T_OK(dmacoh_sim_create(NULL, &sim));
    memset(&m, 0, sizeof(m));
    m.bus = MEM_BUS;
    m.size = 4 * MIB;
    m.modes = DMACOH_MEMORY_MAP;
    T_OK(dmacoh_sim_add_memory(sim, &m));
    return sim;
}

static struct dmacoh_region_stats stats_of(const struct dmacoh_device *dev)
{
    struct dmacoh_region_stats st;

    memset(&st, 0, sizeof(st));
    T_OK(dmacoh_region_get_stats(dev, &st));
    return st;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static uint64_t log_lines;

static void count_log(void *user, int level, const char *msg)
{
    (void)user;
    (void)level;
    if (msg && msg[0])
        __atomic_add_fetch(&log_lines, 1u, __ATOMIC_RELAXED);
}

/* Replaces the harness's log capture (reinstalled by the runner for the next test). */
static void thread_safe_logs(void)
{
    __atomic_store_n(&log_lines, 0u, __ATOMIC_RELAXED);
    dmacoh_set_log_fn(count_log, NULL, DMACOH_LOG_DEBUG);
}

/* After a test's threads ran: all of simulated RAM is free again (nothing leaked from system
 * memory and its allocator is intact), shown by allocating all 64 MiB at once. */
static void assert_ram_free(struct dmacoh_sim *sim)
{
    struct dmacoh_device d;
    void *cpu = NULL;
    uint64_t h = 0;

    T_OK(dmacoh_device_init(&d, "ramcheck", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_alloc_coherent(&d, (size_t)(64 * MIB), DMACOH_ALLOC_NOZERO, 0, &cpu, &h));
    T_EQ_U64(h, 0x40000000);
    T_OK(dmacoh_free_coherent(&d, (size_t)(64 * MIB), cpu, h));
    T_OK(dmacoh_device_fini(&d));
}

/* ---- stress workers ---- */

struct w_alloc {
    unsigned char *cpu;
    uint64_t h;
    size_t size;
    uint64_t key;
    struct dmacoh_device *dev;
};

struct worker {
    pthread_t th;
    unsigned idx;
    struct dmacoh_device **devs; /* allocate through a random one of these */
    unsigned ndevs;
    unsigned iters;
    size_t max_size;
    uint64_t seed;
    uint64_t wait_ns; /* non-zero: half the allocations use DMACOH_ALLOC_WAIT with this timeout */
    pthread_barrier_t *start; /* all workers begin together, for contention */
    /* results */
    char err[300];
    uint64_t region_allocs, sys_allocs, enomem, frees, timeouts;
};

static void w_fail(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_fail(struct worker *w, const char *fmt, ...)
{
    va_list ap;

    if (w->err[0])
        return;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof(w->err), fmt, ap);
    va_end(ap);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 29);
}

/* The pattern: 64-bit words derived from the key, then bytes for the tail. */
static void w_fill(unsigned char *p, size_t n, uint64_t key)
{
    size_t words = n / 8;

    for (size_t i = 0; i < words; i++) {
        uint64_t v = key + i * 0x100000001b3ull;

        memcpy(p + 8 * i, &v, 8);
    }
    for (size_t i = words * 8; i < n; i++)
        p[i] = (unsigned char)(key >> (8 * (i & 7)));
}

/* Returns the first byte index that differs, or n. */
static size_t w_check(const unsigned char *p, size_t n, uint64_t key)
{
    size_t words = n / 8;

    for (size_t i = 0; i < words; i++) {
        uint64_t v = key + i * 0x100000001b3ull, got;

        memcpy(&got, p + 8 * i, 8);
        if (got != v)
            return 8 * i;
    }
    for (size_t i = words * 8; i < n; i++)
        if (p[i] != (unsigned char)(key >> (8 * (i & 7))))
            return i;
    return n;
}

static bool w_free(struct worker *w, struct w_alloc *a)
{
    size_t bad = w_check(a->cpu, a->size, a->key);
    int r;

    if (bad != a->size) {
        w_fail(w,
               "thread %u: allocation at 0x%" PRIx64 " (%zu bytes) was overwritten at byte %zu:"
               " another thread was given overlapping memory",
               w->idx, a->h, a->size, bad);
        return false;
    }
    r = dmacoh_free_coherent(a->dev, a->size, a->cpu, a->h);
    if (r) {
        w_fail(w, "thread %u: free of 0x%" PRIx64 " (%zu bytes) on '%s': %s", w->idx, a->h, a->size,
               dmacoh_device_name(a->dev), dmacoh_err_name(r));
        return false;
    }
    w->frees++;
    return true;
}

static void *w_main(void *arg)
{
    struct worker *w = (struct worker *)arg;
    struct w_alloc live[MAXLIVE];
    unsigned nlive = 0;
    uint64_t rs = w->seed, serial = 0;

    pthread_barrier_wait(w->start);
    for (unsigned it = 0; it < w->iters && !w->err[0]; it++) {
        if (nlive < MAXLIVE && (nlive == 0 || rnd(&rs, 2))) {
            struct w_alloc *a = &live[nlive];
            unsigned flags = rnd(&rs, 2) ? DMACOH_ALLOC_NOZERO : 0;
            bool waiting = w->wait_ns && rnd(&rs, 2);
            void *cpu = NULL;
            uint64_t h = 0;
            size_t size = (size_t)(1 + rnd(&rs, w->max_size));
            struct dmacoh_device *dev = w->devs[rnd(&rs, w->ndevs)];
            enum dmacoh_origin origin;
            int r;

            if (waiting)
                flags |= DMACOH_ALLOC_WAIT;
            r = dmacoh_alloc_coherent(dev, size, flags, waiting ? w->wait_ns : 0, &cpu, &h);
            if (r == (waiting ? DMACOH_ETIMEDOUT : DMACOH_ENOMEM)) {
                w->enomem++; /* a failed request either way */
                w->timeouts += waiting;
                continue;
            }
            if (r) {
                w_fail(w, "thread %u: alloc of %zu on '%s': %s", w->idx, size,
                       dmacoh_device_name(dev), dmacoh_err_name(r));
                break;
            }
            if (!(flags & DMACOH_ALLOC_NOZERO)) {
                const unsigned char *c = cpu;

                for (size_t i = 0; i < size; i++) {
                    if (c[i]) {
                        w_fail(w, "thread %u: alloc at 0x%" PRIx64 " not zeroed at byte %zu",
                               w->idx, h, i);
                        break;
                    }
                }
            }
            if (dmacoh_virt_to_dma(dev, cpu) != h)
                w_fail(w, "thread %u: virt_to_dma(%p) != handle 0x%" PRIx64, w->idx, cpu, h);
            origin = dmacoh_origin_of(dev, cpu);
            if (origin == DMACOH_ORIGIN_REGION)
                w->region_allocs++;
            else if (origin == DMACOH_ORIGIN_SYSTEM)
                w->sys_allocs++;
            else
                w_fail(w, "thread %u: allocation %p has no origin", w->idx, cpu);
            a->cpu = cpu;
            a->h = h;
            a->size = size;
            a->dev = dev;
            a->key = mix(((uint64_t)w->idx << 48) ^ ++serial);
            w_fill(a->cpu, size, a->key);
            nlive++;
        } else {
            unsigned i = (unsigned)rnd(&rs, nlive);

            if (!w_free(w, &live[i]))
                break;
            live[i] = live[--nlive];
        }
    }
    while (nlive && !w->err[0]) {
        nlive--;
        w_free(w, &live[nlive]);
    }
    return NULL;
}

/* Meanwhile, an observer checks the region with the calls documented as thread-safe:
 * dmacoh_check() holds, and every statistics snapshot is self-consistent. */
struct observer {
    pthread_t th;
    const struct dmacoh_device *owner;
    int stop;
    uint64_t rounds;
    char err[300];
};

static void *observer_main(void *arg)
{
    struct observer *o = (struct observer *)arg;

    while (!__atomic_load_n(&o->stop, __ATOMIC_ACQUIRE) && !o->err[0]) {
        struct dmacoh_region_stats st;
        int r = dmacoh_region_get_stats(o->owner, &st);

        if (r) {
            snprintf(o->err, sizeof(o->err), "get_stats during the stress: %s", dmacoh_err_name(r));
        } else if (st.allocs - st.frees != st.live || st.in_use > st.size ||
                   st.live * st.granule > st.in_use || st.peak < st.in_use ||
                   st.largest_free > st.size - st.in_use - st.occupied) {
            snprintf(o->err, sizeof(o->err),
                     "inconsistent stats snapshot during the stress: allocs %" PRIu64
                     " frees %" PRIu64 " live %" PRIu64 " in_use 0x%" PRIx64
                     " largest_free 0x%" PRIx64,
                     st.allocs, st.frees, st.live, st.in_use, st.largest_free);
        } else if ((o->rounds & 15) == 0 && !dmacoh_check(o->owner)) {
            snprintf(o->err, sizeof(o->err), "dmacoh_check false during the stress");
        }
        o->rounds++;
        {
            struct timespec ts = {0, 50000}; /* look, not hog the lock */

            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* Runs NTHR workers over devs (and an observer of owner's region) and returns their summed
 * counts. */
static void run_workers(struct dmacoh_device *owner, struct dmacoh_device **devs, unsigned ndevs,
                        size_t max_size, uint64_t seed, uint64_t wait_ns, struct worker *sum)
{
    static struct worker w[NTHR];
    static struct observer obs;
    pthread_barrier_t start;

    memset(sum, 0, sizeof(*sum));
    T_EQ_INT(pthread_barrier_init(&start, NULL, NTHR), 0);
    for (unsigned i = 0; i < NTHR; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].idx = i;
        w[i].devs = devs;
        w[i].ndevs = ndevs;
        w[i].iters = ITERS;
        w[i].max_size = max_size;
        w[i].seed = seed * 1000 + i + 1;
        w[i].wait_ns = wait_ns;
        w[i].start = &start;
        T_EQ_INT(pthread_create(&w[i].th, NULL, w_main, &w[i]), 0);
    }
    memset(&obs, 0, sizeof(obs));
    obs.owner = owner;
    T_EQ_INT(pthread_create(&obs.th, NULL, observer_main, &obs), 0);
    for (unsigned i = 0; i < NTHR; i++)
        T_EQ_INT(pthread_join(w[i].th, NULL), 0);
    __atomic_store_n(&obs.stop, 1, __ATOMIC_RELEASE);
    T_EQ_INT(pthread_join(obs.th, NULL), 0);
    T_EQ_INT(pthread_barrier_destroy(&start), 0);
    if (obs.err[0])
        t_fail(__FILE__, __LINE__, "%s", obs.err);
    T_ASSERT(obs.rounds > 0);
    for (unsigned i = 0; i < NTHR; i++) {
        if (w[i].err[0])
            t_fail(__FILE__, __LINE__, "%s", w[i].err);
        sum->region_allocs += w[i].region_allocs;
        sum->sys_allocs += w[i].sys_allocs;
        sum->enomem += w[i].enomem;
        sum->timeouts += w[i].timeouts;
        sum->frees += w[i].frees;
    }
}

/* Checks a region after the workers: consistent, empty, counters match the threads' counts. */
static void check_after(struct dmacoh_device *owner, struct dmacoh_device **devs, unsigned ndevs,
                        const struct worker *sum, bool exclusive)
{
    struct dmacoh_region_stats st = stats_of(owner);
    uint64_t fb_total = 0, fail_total = 0;

    T_ASSERT(dmacoh_check(owner));
    T_EQ_U64(st.in_use, 0);
    T_EQ_U64(st.live, 0);
    T_EQ_U64(st.allocs, st.frees);
    T_EQ_U64(st.allocs, sum->region_allocs);
    T_EQ_U64(sum->region_allocs + sum->sys_allocs, sum->frees);
    T_ASSERT(st.peak > 0 && st.peak <= st.size);
    T_EQ_U64(st.largest_free, st.size);
    for (unsigned i = 0; i < ndevs; i++) {
        uint64_t fb = 0, fails = 0;

        dmacoh_device_counters(devs[i], &fb, &fails);
        fb_total += fb;
        fail_total += fails;
    }
    T_EQ_U64(fb_total, sum->sys_allocs);
    T_EQ_U64(fail_total, sum->enomem);
    if (exclusive) {
        T_EQ_U64(sum->sys_allocs, 0);
        T_EQ_U64(st.failures, sum->enomem);
        T_ASSERT(sum->enomem > 0); /* the region did fill up under contention */
    } else {
        T_EQ_U64(sum->enomem, 0);
        T_EQ_U64(st.fallbacks, sum->sys_allocs);
        T_EQ_U64(st.failures, st.fallbacks);
        T_ASSERT(sum->sys_allocs > 0); /* the fallback path ran concurrently too */
    }
    T_ASSERT(sum->region_allocs > (uint64_t)NTHR * ITERS / 8);
    /* Every allocation was logged at DEBUG (device.h), from all threads at once. */
    T_ASSERT(__atomic_load_n(&log_lines, __ATOMIC_RELAXED) >= sum->region_allocs + sum->sys_allocs);
}

static void stress_one_device(int flags, uint64_t seed, uint64_t wait_ns)
{
    struct dmacoh_sim *sim = new_sim();
    struct dmacoh_device dev, *devs[1] = {&dev};
    struct dmacoh_declare_opts o;
    struct worker sum;
    int granted = 0;

    thread_safe_logs();
    T_OK(dmacoh_device_init(&dev, "stress", NULL, dmacoh_sim_platform(sim)));
    memset(&o, 0, sizeof(o));
    o.granule = PG;
    /* 64 pages at an oddly aligned device base: 4 threads x 24 live x ~1.5 pages do not fit. */
    T_OK(dmacoh_declare_coherent_memory(&dev, MEM_BUS + 0x3000, 0x3000, 64 * PG,
                                        DMACOH_MEMORY_MAP | flags, &o, &granted));
    run_workers(&dev, devs, 1, (size_t)(2 * PG), seed, wait_ns, &sum);
    if (wait_ns)
        T_ASSERT(sum.timeouts > 0); /* the waiting path ran (and its failures were counted) */
    check_after(&dev, devs, 1, &sum, (flags & DMACOH_MEMORY_EXCLUSIVE) != 0);
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    assert_ram_free(sim);
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

static void stress_exclusive_region(void)
{
    stress_one_device(DMACOH_MEMORY_EXCLUSIVE, 1, 0);
}

/* Half the requests wait (briefly) for room: they end in success or -DMACOH_ETIMEDOUT, never
 * -DMACOH_ENOMEM, while other threads allocate and free around them. */
static void stress_exclusive_region_waiting(void)
{
    stress_one_device(DMACOH_MEMORY_EXCLUSIVE, 5, UINT64_C(200000));
}

static void stress_region_with_fallback(void)
{
    stress_one_device(0, 2, 0);
}

/* Parent declared with INCLUDES_CHILDREN, threads allocating through the parent, two children
 * and a grandchild, with a small granule. */
static void stress_children(int flags, uint64_t seed)
{
    struct dmacoh_sim *sim = new_sim();
    struct dmacoh_device parent, c1, c2, gc;
    struct dmacoh_device *devs[4] = {&parent, &c1, &c2, &gc};
    struct dmacoh_declare_opts o;
    struct worker sum;
    int granted = 0;

    thread_safe_logs();
    T_OK(dmacoh_device_init(&parent, "bridge", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_init(&c1, "child1", &parent, NULL));
    T_OK(dmacoh_device_init(&c2, "child2", &parent, NULL));
    T_OK(dmacoh_device_init(&gc, "grandchild", &c1, NULL));
    memset(&o, 0, sizeof(o));
    o.granule = 256;
    T_OK(dmacoh_declare_coherent_memory(&parent, MEM_BUS + 0x10100, 0x12345100, 512 * 256,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_INCLUDES_CHILDREN | flags,
                                        &o, &granted));
    T_EQ_INT(granted, DMACOH_MEMORY_MAP);
    run_workers(&parent, devs, 4, (size_t)(4 * 1024), seed, 0, &sum);
    check_after(&parent, devs, 4, &sum, (flags & DMACOH_MEMORY_EXCLUSIVE) != 0);
    for (unsigned i = 1; i < 4; i++)
        T_ASSERT(dmacoh_check(devs[i]));
    T_OK(dmacoh_release_coherent_memory(&parent, 0));
    assert_ram_free(sim);
    T_OK(dmacoh_device_fini(&gc));
    T_OK(dmacoh_device_fini(&c2));
    T_OK(dmacoh_device_fini(&c1));
    T_OK(dmacoh_device_fini(&parent));
    T_OK(dmacoh_sim_destroy(sim));
}

static void stress_children_exclusive(void)
{
    stress_children(DMACOH_MEMORY_EXCLUSIVE, 3);
}

static void stress_children_with_fallback(void)
{
    stress_children(0, 4);
}

/* ---- DMACOH_ALLOC_WAIT ---- */

struct waiter {
    pthread_t th;
    struct dmacoh_device *dev;
    size_t size;
    unsigned flags;
    uint64_t timeout_ns;
    int r;
    void *cpu;
    uint64_t h;
    uint64_t elapsed_ns;
    int done;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = (struct waiter *)arg;
    uint64_t t0 = now_ns();

    w->r = dmacoh_alloc_coherent(w->dev, w->size, w->flags, w->timeout_ns, &w->cpu, &w->h);
    w->elapsed_ns = now_ns() - t0;
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void start_waiter(struct waiter *w, struct dmacoh_device *dev, size_t size, unsigned flags,
                         uint64_t timeout_ns)
{
    memset(w, 0, sizeof(*w));
    w->dev = dev;
    w->size = size;
    w->flags = flags;
    w->timeout_ns = timeout_ns;
    w->r = 1;
    w->cpu = (void *)w; /* sentinels: a failed allocation must leave them as they are */
    w->h = 0x5a5a;
    T_EQ_INT(pthread_create(&w->th, NULL, waiter_main, w), 0);
}

/* Waits (at most 10 s) until `n` threads sleep on the device's region. */
static void wait_for_sleepers(struct dmacoh_device *dev, uint32_t n)
{
    uint64_t t0 = now_ns();

    while (__atomic_load_n(dev->pool->waiters, __ATOMIC_SEQ_CST) != n) {
        T_ASSERT(now_ns() - t0 < UINT64_C(10000000000));
        sleep_ms(1);
    }
    sleep_ms(20); /* let it reach the futex */
}

/* Declares a 4-page region and fills it; returns the four allocations. */
static void fill_four(struct dmacoh_device *dev, int flags, unsigned alloc_flags, void *cpu[4],
                      uint64_t h[4])
{
    T_OK(dmacoh_declare_coherent_memory(dev, MEM_BUS, 0x3000, 4 * PG, DMACOH_MEMORY_MAP | flags,
                                        NULL, NULL));
    for (unsigned i = 0; i < 4; i++) {
        T_OK(dmacoh_alloc_coherent(dev, PG, alloc_flags, 0, &cpu[i], &h[i]));
        memset(cpu[i], 0xee, PG); /* dirty, so that the waiter's zeroing shows */
    }
    {
        void *c = NULL;
        uint64_t hh = 0;

        T_ERR(dmacoh_alloc_coherent(dev, 1, alloc_flags, 0, &c, &hh), DMACOH_ENOMEM);
    }
}

static void wait_gets_freed_memory_case(int flags, unsigned alloc_flags)
{
    struct dmacoh_sim *sim = new_sim();
    struct dmacoh_device dev;
    struct waiter w;
    void *cpu[4];
    uint64_t h[4];
    const unsigned char *c;

    thread_safe_logs();
    T_OK(dmacoh_device_init(&dev, "waitdev", NULL, dmacoh_sim_platform(sim)));
    fill_four(&dev, flags, alloc_flags, cpu, h);
    start_waiter(&w, &dev, 100, alloc_flags | DMACOH_ALLOC_WAIT, UINT64_C(20000000000));
    wait_for_sleepers(&dev, 1);
    T_ASSERT(!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE)); /* it is really waiting */
    T_OK(dmacoh_free_coherent(&dev, PG, cpu[2], h[2]));
    T_EQ_INT(pthread_join(w.th, NULL), 0);
    T_OK(w.r);
    T_EQ_U64(w.h, h[2]); /* the only room there was */
    T_EQ_PTR(w.cpu, cpu[2]);
    T_EQ_INT(dmacoh_origin_of(&dev, w.cpu), DMACOH_ORIGIN_REGION);
    T_ASSERT(w.elapsed_ns < UINT64_C(15000000000));
    c = w.cpu;
    for (unsigned i = 0; i < 100; i++)
        T_EQ_INT(c[i], 0);
    T_EQ_U64(stats_of(&dev).live, 4);
    T_EQ_U64(stats_of(&dev).fallbacks, 0);
    T_OK(dmacoh_free_coherent(&dev, 100, w.cpu, w.h));
    for (unsigned i = 0; i < 4; i++)
        if (i != 2)
            T_OK(dmacoh_free_coherent(&dev, PG, cpu[i], h[i]));
    T_ASSERT(dmacoh_check(&dev));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

static void wait_gets_freed_memory(void)
{
    wait_gets_freed_memory_case(DMACOH_MEMORY_EXCLUSIVE, 0);
}

/* A non-exclusive region with NOFALLBACK waits too (types.h DMACOH_ALLOC_WAIT). */
static void wait_with_nofallback(void)
{
    wait_gets_freed_memory_case(0, DMACOH_ALLOC_NOFALLBACK);
}

/* Three waiters, three frees one at a time: every waiter is served, each with a freed page. */
static void wait_several_waiters(void)
{
    struct dmacoh_sim *sim = new_sim();
    struct dmacoh_device dev;
    struct waiter w[3];
    void *cpu[4];
    uint64_t h[4];
    bool used[4] = {false, false, false, false};

    thread_safe_logs();
    T_OK(dmacoh_device_init(&dev, "waiters", NULL, dmacoh_sim_platform(sim)));
    fill_four(&dev, DMACOH_MEMORY_EXCLUSIVE, 0, cpu, h);
    for (unsigned i = 0; i < 3; i++)
        start_waiter(&w[i], &dev, PG, DMACOH_ALLOC_WAIT, UINT64_C(20000000000));
    wait_for_sleepers(&dev, 3);
    for (unsigned i = 0; i < 3; i++) {
        unsigned done = 0;
        uint64_t t0 = now_ns();

        T_OK(dmacoh_free_coherent(&dev, PG, cpu[i + 1], h[i + 1]));
        /* Exactly one more waiter completes. */
        for (;;) {
            done = 0;
            for (unsigned k = 0; k < 3; k++)
                done += (unsigned)__atomic_load_n(&w[k].done, __ATOMIC_ACQUIRE);
            if (done == i + 1 || now_ns() - t0 > UINT64_C(10000000000))
                break;
            sleep_ms(1);
        }
        T_EQ_INT(done, i + 1);
    }
    for (unsigned i = 0; i < 3; i++) {
        T_EQ_INT(pthread_join(w[i].th, NULL), 0);
        T_OK(w[i].r);
        T_ASSERT(w[i].h == h[1] || w[i].h == h[2] || w[i].h == h[3]);
        for (unsigned k = 1; k < 4; k++) {
            if (w[i].h == h[k]) {
                T_ASSERT(!used[k]); /* two waiters never get the same page */
                used[k] = true;
            }
        }
    }
    T_EQ_U64(stats_of(&dev).live, 4);
    T_OK(dmacoh_free_coherent(&dev, PG, cpu[0], h[0]));
    for (unsigned i = 0; i < 3; i++)
        T_OK(dmacoh_free_coherent(&dev, PG, w[i].cpu, w[i].h));
    T_ASSERT(dmacoh_check(&dev));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* Nothing is freed: the wait ends with -DMACOH_ETIMEDOUT after about the timeout, counted as
 * one failure, with the out-pointers untouched and the region unchanged. */
static void wait_times_out(void)
{
    struct dmacoh_sim *sim = new_sim();
    struct dmacoh_device dev;
    struct waiter w;
    void *cpu[4];
    uint64_t h[4], fails = 0;
    uint64_t failures_before;
    const uint64_t timeout = UINT64_C(150000000); /* 150 ms */

    thread_safe_logs();
    T_OK(dmacoh_device_init(&dev, "timeout", NULL, dmacoh_sim_platform(sim)));
    fill_four(&dev, DMACOH_MEMORY_EXCLUSIVE, 0, cpu, h);
    failures_before = stats_of(&dev).failures;
    start_waiter(&w, &dev, PG, DMACOH_ALLOC_WAIT, timeout);
    T_EQ_INT(pthread_join(w.th, NULL), 0);
    T_ERR(w.r, DMACOH_ETIMEDOUT);
    T_EQ_PTR(w.cpu, &w);
    T_EQ_U64(w.h, 0x5a5a);
    T_ASSERT(w.elapsed_ns >= timeout - UINT64_C(1000000));
    T_ASSERT(w.elapsed_ns < UINT64_C(10000000000));
    T_EQ_U64(stats_of(&dev).failures, failures_before + 1);
    T_EQ_U64(stats_of(&dev).live, 4);
    dmacoh_device_counters(&dev, NULL, &fails);
    T_EQ_U64(fails, 2); /* the probe in fill_four, and this one */
    for (unsigned i = 0; i < 4; i++)
        T_OK(dmacoh_free_coherent(&dev, PG, cpu[i], h[i]));
    T_ASSERT(dmacoh_check(&dev));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

static const struct t_case cases[] = {
    T_CASE(stress_exclusive_region),
    T_CASE(stress_exclusive_region_waiting),
    T_CASE(stress_region_with_fallback),
    T_CASE(stress_children_exclusive),
    T_CASE(stress_children_with_fallback),
    T_CASE(wait_gets_freed_memory),
    T_CASE(wait_with_nofallback),
    T_CASE(wait_several_waiters),
    T_CASE(wait_times_out),
};

T_MAIN(cases)
