/* SPDX-License-Identifier: MIT */
/*
 * bench_pool.c - alloc+free pair cost of dmacoh's dma_pool (with its per-thread magazines, and
 * without: DMACOH_POOL_CACHE_OFF) against glibc malloc/free and a mutex-protected free list (the
 * baseline, written here), for 32-, 64- and 512-byte blocks, on one thread and on two threads
 * sharing one pool, in the same run.
 *
 * Workload per thread: a ring of RING live blocks; each step allocates one block, writes its
 * first word (so the memory is really touched), and frees the oldest. Time is taken per batch
 * of BATCH steps (the clock's granularity is far coarser than one pair), and the median, p99
 * and maximum over batches are reported in ns per pair. Output: one name=value per line.
 * --quick runs a few batches only (CI smoke test); --batches=N runs N per thread (default 301:
 * about 20 ms per configuration, short enough that the second thread may start late; a longer
 * run shows the two-thread scaling better). --callgrind runs one million pairs of 64-byte
 * blocks (--callgrind=SIZE: of SIZE bytes) on one thread, untimed, for instruction counts:
 *   valgrind --tool=callgrind --callgrind-out-file=cg.pool bench_pool --callgrind
 *   callgrind_annotate --inclusive=yes cg.pool | grep dmacoh_pool_
 */
#define _GNU_SOURCE
#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING  64
#define BATCH 4096

static unsigned nbatches = 301;

/* ---- the three allocators behind one interface ---- */

struct flist { /* baseline: mutex + intrusive free list over a malloc'd arena */
    pthread_mutex_t mu;
    void *head;
    char *arena;
};

struct alloc_ops {
    const char *name;
    void *(*get)(void *ctx, uint64_t *handle);
    void (*put)(void *ctx, void *p, uint64_t handle);
};

static void *pool_get(void *ctx, uint64_t *h)
{
    void *p = NULL;

    if (dmacoh_pool_alloc((struct dmacoh_pool *)ctx, 0, &p, h) != 0)
        abort();
    return p;
}

static void pool_put(void *ctx, void *p, uint64_t h)
{
    if (dmacoh_pool_free((struct dmacoh_pool *)ctx, p, h) != 0)
        abort();
}

static size_t malloc_size;

static void *malloc_get(void *ctx, uint64_t *h)
{
    void *p = malloc(malloc_size);

    (void)ctx;
    *h = 0;
    if (!p)
        abort();
    return p;
}

static void malloc_put(void *ctx, void *p, uint64_t h)
{
    (void)ctx;
    (void)h;
    free(p);
}

static void *flist_get(void *ctx, uint64_t *h)
{
    struct flist *f = (struct flist *)ctx;
    void *p;

    pthread_mutex_lock(&f->mu);
    p = f->head;
    if (p)
        f->head = *(void **)p;
    pthread_mutex_unlock(&f->mu);
    if (!p)
        abort();
    *h = (uint64_t)(uintptr_t)p;
    return p;
}

static void flist_put(void *ctx, void *p, uint64_t h)
{
    struct flist *f = (struct flist *)ctx;

    (void)h;
    pthread_mutex_lock(&f->mu);
    *(void **)p = f->head;
    f->head = p;
    pthread_mutex_unlock(&f->mu);
}

/* The floor of any pair that takes a lock twice: two uncontended spinlock acquire/release
 * pairs (one locked exchange each), as dmacoh's alloc and free each do. */
static uint32_t floor_lock;
static uint64_t floor_token;

static void spin_pair(void)
{
    while (__atomic_exchange_n(&floor_lock, 1u, __ATOMIC_ACQUIRE))
        ;
    floor_token++;
    __atomic_store_n(&floor_lock, 0u, __ATOMIC_RELEASE);
}

static void *floor_get(void *ctx, uint64_t *h)
{
    static uint64_t slot[RING + 1];

    (void)ctx;
    spin_pair();
    *h = 0;
    return &slot[floor_token % (RING + 1)];
}

static void floor_put(void *ctx, void *p, uint64_t h)
{
    (void)ctx;
    (void)p;
    (void)h;
    spin_pair();
}

static const struct alloc_ops ops_floor = {"two_locked_xchg_floor", floor_get, floor_put};
static const struct alloc_ops ops_pool = {"dmacoh_pool", pool_get, pool_put};
static const struct alloc_ops ops_pool_nomag = {"dmacoh_pool_no_magazine", pool_get, pool_put};
static const struct alloc_ops ops_malloc = {"malloc", malloc_get, malloc_put};
static const struct alloc_ops ops_flist = {"mutex_freelist", flist_get, flist_put};

/* ---- timing ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct job {
    const struct alloc_ops *ops;
    void *ctx;
    double *ns; /* per batch, ns per pair */
    pthread_barrier_t *start;
};

static void *run(void *arg)
{
    struct job *j = (struct job *)arg;
    void *ring[RING];
    uint64_t hring[RING];
    unsigned pos = 0;

    for (unsigned i = 0; i < RING; i++)
        ring[i] = j->ops->get(j->ctx, &hring[i]);
    if (j->start)
        pthread_barrier_wait(j->start);
    for (unsigned b = 0; b < nbatches; b++) {
        uint64_t t0 = now_ns();

        for (unsigned i = 0; i < BATCH; i++) {
            uint64_t h;
            void *p = j->ops->get(j->ctx, &h);

            *(volatile uint32_t *)p = i;
            j->ops->put(j->ctx, ring[pos], hring[pos]);
            ring[pos] = p;
            hring[pos] = h;
            pos = (pos + 1) % RING;
        }
        j->ns[b] = (double)(now_ns() - t0) / BATCH;
    }
    for (unsigned i = 0; i < RING; i++)
        j->ops->put(j->ctx, ring[i], hring[i]);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void report(const char *what, size_t size, unsigned threads, double *ns, unsigned n)
{
    qsort(ns, n, sizeof(*ns), cmp_double);
    printf("pool_pair_ns_median{alloc=%s,size=%zu,threads=%u}=%.1f\n", what, size, threads,
           ns[n / 2]);
    printf("pool_pair_ns_p99{alloc=%s,size=%zu,threads=%u}=%.1f\n", what, size, threads,
           ns[(n * 99) / 100]);
    printf("pool_pair_ns_max{alloc=%s,size=%zu,threads=%u}=%.1f\n", what, size, threads, ns[n - 1]);
}

/* Runs `threads` jobs on one allocator; reports per-pair cost seen by each thread (all
 * threads' batches together: with two threads, a pair costs what one thread sees), and the
 * total work: pairs of all threads per second of wall time (pool_pairs_per_s; two threads
 * against one is the scaling). */
static void measure(const struct alloc_ops *ops, void *ctx, size_t size, unsigned threads)
{
    pthread_t tid[2];
    struct job jobs[2];
    pthread_barrier_t start;
    double *ns = calloc((size_t)nbatches * threads, sizeof(double));
    uint64_t t0 = now_ns();

    pthread_barrier_init(&start, NULL, threads);
    for (unsigned t = 0; t < threads; t++) {
        jobs[t] = (struct job){ops, ctx, ns + (size_t)t * nbatches, &start};
        pthread_create(&tid[t], NULL, run, &jobs[t]);
    }
    for (unsigned t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    t0 = now_ns() - t0;
    pthread_barrier_destroy(&start);
    report(ops->name, size, threads, ns, nbatches * threads);
    printf("pool_pairs_per_s{alloc=%s,size=%zu,threads=%u}=%.0f\n", ops->name, size, threads,
           (double)threads * nbatches * BATCH * 1e9 / (double)t0);
    free(ns);
}

static void flist_init(struct flist *f, size_t size, size_t count)
{
    size_t stride = (size + 15) & ~(size_t)15;

    pthread_mutex_init(&f->mu, NULL);
    f->arena = aligned_alloc(4096, stride * count);
    f->head = NULL;
    for (size_t i = count; i-- > 0;) {
        void *p = f->arena + i * stride;
        *(void **)p = f->head;
        f->head = p;
    }
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = {32, 64, 512};
    struct dmacoh_sim *sim;
    struct dmacoh_device dev;
    struct dmacoh_sim_memory mem = {0xfe000000u, 16u << 20, DMACOH_MEMORY_MAP, false, 0};

    bool callgrind = argc > 1 && strncmp(argv[1], "--callgrind", 11) == 0;
    size_t cg_size = callgrind && argv[1][11] == '=' ? strtoul(argv[1] + 12, NULL, 10) : 64;

    if (argc > 1 && strcmp(argv[1], "--quick") == 0)
        nbatches = 5;
    if (argc > 1 && strncmp(argv[1], "--batches=", 10) == 0)
        nbatches = (unsigned)strtoul(argv[1] + 10, NULL, 10) | 1u; /* odd: a true median */
    if (dmacoh_sim_create(NULL, &sim) || dmacoh_sim_add_memory(sim, &mem) ||
        dmacoh_device_init(&dev, "bench", NULL, dmacoh_sim_platform(sim)) ||
        dmacoh_declare_coherent_memory(&dev, mem.bus, 0, mem.size, DMACOH_MEMORY_MAP, NULL, NULL))
        return 1;
    if (callgrind) {
        struct dmacoh_pool *pool;
        struct job j = {&ops_pool, NULL, NULL, NULL};

        nbatches = 1000000 / BATCH;
        if (dmacoh_pool_create(&pool, "bench", &dev, cg_size, 0, 0, NULL))
            return 1;
        j.ctx = pool;
        j.ns = calloc(nbatches, sizeof(double));
        run(&j);
        printf("pairs=%u\n", nbatches * BATCH);
        free(j.ns);
        dmacoh_pool_destroy(pool, 0);
        goto done;
    }
    printf("batch_pairs=%u\nbatches_per_thread=%u\nring=%u\n", BATCH, nbatches, RING);
    for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (unsigned threads = 1; threads <= 2; threads++) {
            struct dmacoh_pool *pool;
            struct flist fl;

            struct dmacoh_pool_opts nomag = {.thread_cache = DMACOH_POOL_CACHE_OFF};

            if (dmacoh_pool_create(&pool, "bench", &dev, sizes[s], 0, 0, NULL))
                return 1;
            measure(&ops_pool, pool, sizes[s], threads);
            if (dmacoh_pool_destroy(pool, 0))
                return 1;
            if (dmacoh_pool_create(&pool, "bench", &dev, sizes[s], 0, 0, &nomag))
                return 1;
            measure(&ops_pool_nomag, pool, sizes[s], threads);
            if (dmacoh_pool_destroy(pool, 0))
                return 1;
            malloc_size = sizes[s];
            measure(&ops_malloc, NULL, sizes[s], threads);
            flist_init(&fl, sizes[s], 4 * RING);
            measure(&ops_flist, &fl, sizes[s], threads);
            free(fl.arena);
            pthread_mutex_destroy(&fl.mu);
            if (threads == 1)
                measure(&ops_floor, NULL, sizes[s], threads);
        }
    }
done:
    dmacoh_release_coherent_memory(&dev, 0);
    dmacoh_device_fini(&dev);
    return dmacoh_sim_destroy(sim) ? 1 : 0;
}
