/* SPDX-License-Identifier: MIT */
/*
 * bench_alloc.c - the region page allocator (whatever src/core has, reached through the public
 * API only) against three baselines in the same run, interleaved configuration by
 * configuration: the kernel's declared-memory allocator (kernel_bitmap.c), a binary buddy
 * allocator that gives the unused tail of a rounded block back (buddy.c, impl=buddy) and
 * genalloc-style bitmap first fit with the alignment promise (first_fit.c, impl=firstfit).
 * Issue 3, deliverable 4; issue 17, items 1, 2 and 6.
 *
 * Measures, one name=value line each (labels in braces):
 *  - alloc_pair_ns_{median,p99,max}: ns per alloc+free pair at steady state, 1-page and mixed
 *    requests (the mixed trace's sizes, at most pool/16 pages), pool 50 % and 90 % full (by
 *    pages taken out of the pool: the baseline's rounded footprint), pools of 2^9, 2^18 and
 *    2^24 pages, and 2^30 pages for dmacoh only. A step frees random live blocks until the next
 *    request fits under the fill target, then allocates it. The pool is filled (ss_fill), warmed
 *    up with min(2 * live blocks, 100000) steps (at most 5 s), then batches of steps are timed
 *    with clock_gettime and divided by their pairs ((allocations + frees) / 2); a batch lasts
 *    about 20 us (1 step when a step is slower). Median, p99 and max are over batches: at most
 *    5001 batches or 10 s; a configuration stopped by the time limit says alloc_capped=1.
 *    impl=harness is the loop with an allocator that does nothing (RNG, bookkeeping, calls).
 *    The p99 is the 99th percentile of the per-batch figures (each batch a mean over its
 *    pairs), so it shows slow stretches of about 20 us, not single slow pairs.
 *  - util_*: utilisation at the first failed allocation of two seeded traces (trace.h): the
 *    mixed trace and a DMA-driver-shaped trace; requested live pages / pool pages and the
 *    pages taken (footprint), per seed and the median over the seeds.
 *  - meta_bytes: allocator metadata per pool size.
 *  - mt_pairs_per_s: two threads allocating in one region at once against one thread doing the
 *    same steps alone (total throughput; 1-page requests, pool 50 % full; median of trials).
 *  - fill_ns_per_alloc{impl,pages,live=D}: the cost per allocation while a fresh region of 2^24
 *    or 2^30 pages is filled with mixed requests on the timed path (no frees), the mean over
 *    the allocations from 0.9 D to D live blocks, D = 10^3 .. 10^6, until the first failure or
 *    the time budget (fill_end says which); the buddy is skipped at 2^30 (9 GiB of metadata).
 * The kernel and first-fit baselines fill, warm up and run the utilisation traces with a fast
 * path (kbm_alloc_fast(), ff_alloc_fast()) that places exactly as the timed path (checked at
 * start: selfcheck_kernel_fast_path=ok, and selfcheck_baselines, which also checks every buddy
 * and first-fit block against a shadow page map: inside the pool, aligned, not overlapping a
 * live block, and no refusal while an aligned window is free).
 *
 * Usage: bench_alloc [--quick] [--sections=meta,steady,util,driver,fill,mt] [--log2=N]
 *                    [--budget=S] [--fill-budget=S]
 *   (no option) full run, about 8 minutes on the 2-core machine;
 *   --quick     smaller pools and budgets (CI smoke test, a few seconds); give it first, it
 *               resets the budgets;
 *   --log2=N    steady-state runs of the 2^N-page pool only;
 *   --budget=S, --fill-budget=S  seconds per steady-state / fill configuration, at most.
 * bench_alloc --callgrind dmacoh|buddy|firstfit|kernel|harness LOG2_PAGES FILL 1|mixed STEPS
 * builds one steady state (warm-up of a fixed min(2 * live blocks, 100000) steps) and runs
 * STEPS timed-path steps in callgrind_pairs(), for `valgrind --tool=callgrind
 * --toggle-collect=callgrind_pairs`; it prints the pairs those steps made (instructions / pairs
 * = instructions per pair).
 *
 * dmacoh regions: pools up to 2^18 pages on the simulator (dmacoh_sim_add_memory, MAP, 4 KiB
 * granule); larger ones on the bare-metal platform over a fake bus range whose CPU addresses are
 * non-canonical, so any access would fault: allocations pass DMACOH_ALLOC_NOZERO (the memory is
 * never written; the simulator regions get the same flag so every size measures the allocator
 * alone) and DMACOH_ALLOC_NOFALLBACK (a full region fails instead of using system memory).
 */
#define _GNU_SOURCE
#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>
#include <dmacoh/baremetal.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dmacoh/baremetal.h>

#include "kernel_bitmap.c"
#include "buddy.c"
#include "first_fit.c"
#include "trace.c"

#define PAGE         4096u
#define SIM_MAX_LOG2 18                  /* larger pools use the bare-metal platform */
#define BM_BUS       ((uint64_t)1 << 44) /* fake bus (and device) base */
#define BM_CPU_OFF   ((uint64_t)0x7f00000000000000ull) /* CPU = bus + this: non-canonical */
#define WARM_MAX     100000 /* warm-up pairs, at most (and at most twice the live blocks) */
#define ALLOC_FLAGS  (DMACOH_ALLOC_NOZERO | DMACOH_ALLOC_NOFALLBACK)

/* ---- run parameters ---- */

struct params {
    bool quick;
    double cfg_budget_s;    /* measured time per steady-state configuration, at most */
    double warm_budget_s;   /* warm-up time per configuration, at most */
    unsigned max_batches;   /* batches per configuration, at most */
    double batch_ns;        /* aimed duration of one batch */
    unsigned sizes[4];      /* log2 pool pages of the steady-state runs (0 ends) */
    unsigned dm_only_log2;  /* a size run for dmacoh only (0: none) */
    unsigned util_log2;     /* pool of the mixed trace */
    unsigned util_seeds;    /* seeds 1..n */
    unsigned drv_log2;      /* pool of the driver trace */
    uint64_t drv_ramp;      /* driver trace: steps of the 50 % -> 100 % ramp */
    unsigned drv_seeds;     /* seeds 1..n */
    unsigned mt_sizes[3];   /* log2 pool pages of the thread runs (0 ends) */
    double mt_seconds;      /* aimed duration of one single-thread run */
    unsigned mt_trials;     /* alternating 1- and 2-thread runs */
    unsigned fill_sizes[2]; /* log2 pool pages of the fill section (0 ends) */
    uint64_t fill_max;      /* fill section: stop at this many live blocks */
    double fill_budget_s;   /* fill section: time per configuration, at most */
    const char *sections;   /* NULL: all */
    unsigned only_log2;     /* steady state: this pool size only (0: all) */
};

static const struct params full_params = {
    .quick = false,
    .cfg_budget_s = 10.0,
    .warm_budget_s = 5.0,
    .max_batches = 5001,
    .batch_ns = 20000.0,
    .sizes = {9, 18, 24, 0},
    .dm_only_log2 = 30,
    .util_log2 = 18,
    .util_seeds = 11,
    .drv_log2 = 16,
    .drv_ramp = 200000,
    .drv_seeds = 11,
    .mt_sizes = {9, 18, 0},
    .mt_seconds = 0.5,
    .mt_trials = 5,
    .fill_sizes = {24, 30},
    .fill_max = 1000000,
    .fill_budget_s = 40.0,
    .sections = NULL,
};

static const struct params quick_params = {
    .quick = true,
    .cfg_budget_s = 0.1,
    .warm_budget_s = 0.05,
    .max_batches = 51,
    .batch_ns = 20000.0,
    .sizes = {9, 14, 20, 0},
    .dm_only_log2 = 0,
    .util_log2 = 14,
    .util_seeds = 1,
    .drv_log2 = 14,
    .drv_ramp = 20000,
    .drv_seeds = 1,
    .mt_sizes = {9, 0, 0},
    .mt_seconds = 0.05,
    .mt_trials = 1,
    .fill_sizes = {20, 0},
    .fill_max = 10000,
    .fill_budget_s = 0.3,
    .sections = NULL,
};

static struct params P;

static bool section_on(const char *name)
{
    return !P.sections || strstr(P.sections, name) != NULL;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int r)
{
    fprintf(stderr, "bench_alloc: %s failed: %d (%s)\n", what, r, r ? dmacoh_strerror(r) : "");
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p)
        die("malloc", DMACOH_ENOMEM);
    return p;
}

/* ---- dmacoh through the public API ---- */

static struct dmacoh_sim *sim;
static struct dmacoh_baremetal bm;
static bool bm_ready;

/* Simulated memories are placed once per size (a sim cannot remove one) and re-declared. */
static struct {
    uint64_t pages;
    dmacoh_phys_addr_t bus;
} placed[8];
static unsigned nplaced;

struct dm {
    struct dmacoh_device dev;
    char *cpu0;    /* CPU address of the region's first byte */
    uint64_t dev0; /* device address of the region's first byte */
    uint64_t pages;
    void *meta; /* caller metadata (bare-metal regions) */
};

static dmacoh_phys_addr_t sim_memory(uint64_t pages)
{
    struct dmacoh_sim_memory mem;
    int r;

    for (unsigned i = 0; i < nplaced; i++) {
        if (placed[i].pages == pages)
            return placed[i].bus;
    }
    if (!sim) {
        struct dmacoh_sim_opts o = {.no_ram = true};

        if ((r = dmacoh_sim_create(&o, &sim)) != 0)
            die("dmacoh_sim_create", r);
    }
    if (nplaced == sizeof(placed) / sizeof(placed[0]))
        die("sim_memory (too many sizes)", DMACOH_ENOMEM);
    mem = (struct dmacoh_sim_memory){(uint64_t)(nplaced + 1) << 32, pages * PAGE, DMACOH_MEMORY_MAP,
                                     false, 0};
    if ((r = dmacoh_sim_add_memory(sim, &mem)) != 0)
        die("dmacoh_sim_add_memory", r);
    placed[nplaced].pages = pages;
    placed[nplaced].bus = mem.bus;
    return placed[nplaced++].bus;
}

/* Placement variants of dmacoh for the utilisation traces: the default (best fit), first fit,
 * and best fit with the alignment capped at 256 KiB (dmacoh_declare_opts.align_cap). */
static unsigned dm_variant;
static const char *const dm_variant_names[] = {"dmacoh", "dmacoh_first_fit", "dmacoh_cap256k"};

static void dm_open(struct dm *d, uint64_t pages)
{
    uint64_t bytes = pages * PAGE;
    dmacoh_phys_addr_t bus;
    int r;

    memset(d, 0, sizeof(*d));
    d->pages = pages;
    if (pages <= ((uint64_t)1 << SIM_MAX_LOG2)) {
        struct dmacoh_declare_opts o = {0};

        bus = sim_memory(pages);
        if ((r = dmacoh_device_init(&d->dev, "bench", NULL, dmacoh_sim_platform(sim))) != 0)
            die("dmacoh_device_init", r);
        o.placement = dm_variant == 1 ? DMACOH_PLACE_FIRST_FIT : DMACOH_PLACE_BEST_FIT;
        o.align_cap = dm_variant == 2 ? 256 * 1024 : 0;
        r = dmacoh_declare_coherent_memory(&d->dev, bus, bus, bytes, DMACOH_MEMORY_MAP, &o, NULL);
    } else {
        struct dmacoh_declare_opts o = {0};

        if (!bm_ready) {
            struct dmacoh_baremetal_config c = {0};

            c.cpu_offset = BM_CPU_OFF;
            c.modes = DMACOH_MEMORY_MAP;
            if ((r = dmacoh_baremetal_init(&bm, &c)) != 0)
                die("dmacoh_baremetal_init", r);
            bm_ready = true;
        }
        bus = BM_BUS;
        o.meta_size = dmacoh_region_meta_size(bytes, PAGE);
        if (o.meta_size == 0)
            die("dmacoh_region_meta_size", DMACOH_EOVERFLOW);
        o.meta = d->meta = xmalloc(o.meta_size);
        if ((r = dmacoh_device_init(&d->dev, "bench", NULL, &bm.plat)) != 0)
            die("dmacoh_device_init", r);
        r = dmacoh_declare_coherent_memory(&d->dev, bus, bus, bytes, DMACOH_MEMORY_MAP, &o, NULL);
    }
    if (r)
        die("dmacoh_declare_coherent_memory", r);
    d->dev0 = bus;
    d->cpu0 = (char *)dmacoh_dma_to_virt(&d->dev, bus);
    if (!d->cpu0)
        die("dmacoh_dma_to_virt", DMACOH_EINVAL);
}

static void dm_close(struct dm *d)
{
    int r;

    if ((r = dmacoh_release_coherent_memory(&d->dev, DMACOH_RELEASE_FORCE)) != 0)
        die("dmacoh_release_coherent_memory", r);
    if ((r = dmacoh_device_fini(&d->dev)) != 0)
        die("dmacoh_device_fini", r);
    free(d->meta);
}

static int dm_alloc(void *ctx, uint64_t pages, uint64_t *page)
{
    struct dm *d = (struct dm *)ctx;
    void *cpu;
    dmacoh_dma_addr_t h;

    if (dmacoh_alloc_coherent(&d->dev, (size_t)(pages * PAGE), ALLOC_FLAGS, 0, &cpu, &h) != 0)
        return 1;
    *page = (h - d->dev0) / PAGE;
    return 0;
}

static void dm_free(void *ctx, uint64_t page, uint64_t pages)
{
    struct dm *d = (struct dm *)ctx;
    int r = dmacoh_free_coherent(&d->dev, (size_t)(pages * PAGE), d->cpu0 + page * PAGE,
                                 d->dev0 + page * PAGE);

    if (r)
        die("dmacoh_free_coherent", r);
}

static uint64_t dm_footprint(uint64_t pages)
{
    return pages; /* what dmacoh documents; checked against its statistics (dm_used) */
}

static uint64_t dm_used(void *ctx)
{
    struct dm *d = (struct dm *)ctx;
    struct dmacoh_region_stats st;
    int r = dmacoh_region_get_stats(&d->dev, &st);

    if (r)
        die("dmacoh_region_get_stats", r);
    return st.in_use / PAGE;
}

/* ---- the baseline ---- */

struct kb {
    struct kbm kb;
    uint64_t *bits;
};

static void kb_open(struct kb *k, uint64_t pages)
{
    k->bits = xmalloc(kbm_bitmap_bytes(pages));
    kbm_init(&k->kb, pages, k->bits);
}

static void kb_close(struct kb *k)
{
    free(k->bits);
}

static int kb_alloc(void *ctx, uint64_t pages, uint64_t *page)
{
    return kbm_alloc(&((struct kb *)ctx)->kb, pages, page);
}

static int kb_alloc_fast(void *ctx, uint64_t pages, uint64_t *page)
{
    return kbm_alloc_fast(&((struct kb *)ctx)->kb, pages, page);
}

static void kb_free(void *ctx, uint64_t page, uint64_t pages)
{
    kbm_free(&((struct kb *)ctx)->kb, page, pages);
}

/* ---- the two other baselines: buddy with tail reuse, aligned bitmap first fit ---- */

struct bd {
    struct buddy b;
    void *meta;
};

static bool bd_open(struct bd *d, uint64_t pages)
{
    size_t n = buddy_meta_bytes(pages);

    if (n == 0)
        return false;
    d->meta = xmalloc(n);
    buddy_init(&d->b, pages, d->meta);
    return true;
}

static int bd_alloc(void *ctx, uint64_t pages, uint64_t *page)
{
    return buddy_alloc(&((struct bd *)ctx)->b, pages, page);
}

static void bd_free(void *ctx, uint64_t page, uint64_t pages)
{
    buddy_free(&((struct bd *)ctx)->b, page, pages);
}

static uint64_t bd_used(void *ctx)
{
    const struct buddy *b = &((struct bd *)ctx)->b;

    return b->npages - b->nfree;
}

struct fft {
    struct ff f;
    uint64_t *bits;
};

static void fft_open(struct fft *f, uint64_t pages)
{
    f->bits = xmalloc(ff_bitmap_bytes(pages));
    ff_init(&f->f, pages, f->bits);
}

static int fft_alloc(void *ctx, uint64_t pages, uint64_t *page)
{
    return ff_alloc(&((struct fft *)ctx)->f, pages, page);
}

static int fft_alloc_fast(void *ctx, uint64_t pages, uint64_t *page)
{
    return ff_alloc_fast(&((struct fft *)ctx)->f, pages, page);
}

static void fft_free(void *ctx, uint64_t page, uint64_t pages)
{
    ff_free(&((struct fft *)ctx)->f, page, pages);
}

/* ---- the harness alone: an "allocator" that does nothing (the floor of the figures) ---- */

static uint64_t nop_next;

static int nop_alloc(void *ctx, uint64_t pages, uint64_t *page)
{
    (void)ctx;
    *page = nop_next;
    nop_next = (nop_next + pages) & 0xffffff;
    return 0;
}

static void nop_free(void *ctx, uint64_t page, uint64_t pages)
{
    (void)ctx;
    (void)page;
    (void)pages;
    __asm__ volatile("" ::: "memory");
}

/* ---- an implementation under test: the timed path and the set-up path ---- */

enum impl_kind { IMPL_DMACOH, IMPL_BUDDY, IMPL_FIRSTFIT, IMPL_KERNEL, IMPL_HARNESS };
static const char *const impl_names[] = {"dmacoh", "buddy", "firstfit", "kernel", "harness"};

struct impl {
    enum impl_kind kind;
    struct dm dm;
    struct kb kb;
    struct bd bd;
    struct fft ff;
    struct trace_alloc timed; /* what is measured */
    struct trace_alloc setup; /* the same placements, for fill and warm-up */
};

static void impl_open(struct impl *im, enum impl_kind kind, uint64_t pages)
{
    memset(im, 0, sizeof(*im));
    im->kind = kind;
    if (kind == IMPL_DMACOH) {
        dm_open(&im->dm, pages);
        im->timed =
            (struct trace_alloc){"dmacoh", &im->dm, dm_alloc, dm_free, dm_footprint, dm_used};
        im->setup = im->timed;
    } else if (kind == IMPL_BUDDY) {
        if (!bd_open(&im->bd, pages))
            die("buddy_meta_bytes", DMACOH_EOVERFLOW);
        im->timed =
            (struct trace_alloc){"buddy", &im->bd, bd_alloc, bd_free, buddy_footprint, bd_used};
        im->setup = im->timed;
    } else if (kind == IMPL_FIRSTFIT) {
        fft_open(&im->ff, pages);
        im->timed =
            (struct trace_alloc){"firstfit", &im->ff, fft_alloc, fft_free, ff_footprint, NULL};
        im->setup = im->timed;
        im->setup.alloc = fft_alloc_fast;
    } else if (kind == IMPL_KERNEL) {
        kb_open(&im->kb, pages);
        im->timed = (struct trace_alloc){"kernel", &im->kb, kb_alloc, kb_free, kbm_footprint, NULL};
        im->setup = im->timed;
        im->setup.alloc = kb_alloc_fast;
    } else {
        im->timed = (struct trace_alloc){"harness", NULL, nop_alloc, nop_free, dm_footprint, NULL};
        im->setup = im->timed;
    }
}

static void impl_close(struct impl *im)
{
    if (im->kind == IMPL_DMACOH)
        dm_close(&im->dm);
    else if (im->kind == IMPL_KERNEL)
        kb_close(&im->kb);
    else if (im->kind == IMPL_BUDDY)
        free(im->bd.meta);
    else if (im->kind == IMPL_FIRSTFIT)
        free(im->ff.bits);
}

/* ---- steady state ---- */

struct steady {
    const struct trace_alloc *a; /* the path in use */
    struct trace_blk *live;
    uint64_t n, cap;
    uint64_t foot;    /* pages taken: live blocks and ballast */
    uint64_t ballast; /* pages of ballast blocks (never freed) */
    uint64_t target;  /* pages taken aimed at */
    uint64_t maxreq;  /* largest mixed request */
    bool mixed;
    struct rng r;
    uint64_t allocs, frees, fails;
};

/* Frees random live blocks until the next request fits under the target, then allocates it. */
static inline void ss_step(struct steady *s)
{
    uint64_t n = s->mixed ? trace_mixed_pages(&s->r, s->maxreq) : 1;
    uint64_t f = s->a->footprint(n), page;

    while (s->foot + f > s->target && s->n > 0) {
        uint64_t i = rng_below(&s->r, s->n);
        struct trace_blk b = s->live[i];

        s->a->free(s->a->ctx, b.page, b.pages);
        s->live[i] = s->live[--s->n];
        s->foot -= s->a->footprint(b.pages);
        s->frees++;
    }
    if (s->n < s->cap && s->a->alloc(s->a->ctx, n, &page) == 0) {
        s->live[s->n].page = (uint32_t)page;
        s->live[s->n].pages = (uint32_t)n;
        s->n++;
        s->foot += f;
        s->allocs++;
    } else {
        s->fails++;
    }
}

/* The timed loop of --callgrind, kept out of line so callgrind can count it alone. */
void callgrind_pairs(struct steady *s, uint64_t steps);
__attribute__((noinline)) void callgrind_pairs(struct steady *s, uint64_t steps)
{
    for (uint64_t i = 0; i < steps; i++)
        ss_step(s);
}

static int alloc_one(struct steady *s, uint64_t n, uint64_t *page)
{
    if (s->a->alloc(s->a->ctx, n, page) != 0)
        return 1;
    s->foot += s->a->footprint(n);
    return 0;
}

static void push_live(struct steady *s, uint64_t page, uint64_t n)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4096;
        s->live = realloc(s->live, (size_t)s->cap * sizeof(*s->live));
        if (!s->live)
            die("realloc", DMACOH_ENOMEM);
    }
    s->live[s->n].page = (uint32_t)page;
    s->live[s->n].pages = (uint32_t)n;
    s->n++;
}

/* One request of the workload that fits under the target, or 0 when none would. */
static uint64_t fill_draw(struct steady *s)
{
    uint64_t n = s->mixed ? trace_mixed_pages(&s->r, s->maxreq) : 1;

    return s->foot + s->a->footprint(n) > s->target ? 0 : n;
}

/*
 * Fills an empty pool up to the target with requests of the workload.
 *
 * Mixed requests are placed unit by unit (units of 4 * the largest request, at most 2048
 * pages): requests of the workload while they land in the current unit, then 1-page blocks
 * (live blocks like the others) into the unit's leftover holes. A plain first-fit fill leaves
 * about one alignment hole per ten requests below its frontier, and every larger request then
 * rescans them all: dmacoh's current allocator needed 30-110 s to fill 2^24 pages that way.
 *
 * Pools of 2^30 pages (units = true) would need ~10^9 live 1-page blocks; there, each unit
 * holds working blocks (the live set) at its start and naturally aligned ballast blocks, never
 * freed, after them: 1-page workload: one working page, then ballast of 1, 2, 4, ..., 512
 * pages (1024-page units); mixed workload: 2048 working pages as above, then ballast of 2048,
 * 4096 and 8192 pages (16384-page units). Working blocks are spread over the whole pool, so
 * first-fit scans still cross it.
 *
 * What is left under the target after the units is filled with plain requests.
 */
static void ss_fill(struct steady *s, uint64_t pool, bool units)
{
    uint64_t page, n, fails = 0;
    uint64_t unit = units ? (s->mixed ? 16384 : 1024) : 4 * s->maxreq;
    uint64_t work = units ? (s->mixed ? 2048 : 1) : unit;

    if (unit > 2048 && !units)
        unit = work = 2048;
    for (uint64_t base = 0;
         (units || s->mixed) && base + unit <= pool && s->foot + unit <= s->target; base += unit) {
        uint64_t w = 0, before;

        /* working blocks, then 1-page blocks into the holes */
        for (bool plug = false;;) {
            n = plug ? 1 : s->mixed ? trace_mixed_pages(&s->r, s->maxreq) : 1;
            if (w + s->a->footprint(n) > work) {
                if (plug)
                    break;
                plug = true;
                continue;
            }
            if (alloc_one(s, n, &page) != 0)
                break;
            if (page >= base + work) { /* no room for it in the working part */
                s->a->free(s->a->ctx, page, n);
                s->foot -= s->a->footprint(n);
                if (plug)
                    break;
                plug = true;
                continue;
            }
            push_live(s, page, n);
            if (page >= base)
                w += s->a->footprint(n);
        }
        before = s->foot;
        for (uint64_t b = work; b < unit; b *= 2) {
            if (alloc_one(s, b, &page) != 0)
                die("ballast allocation", DMACOH_ENOMEM);
        }
        s->ballast += s->foot - before;
    }
    while (fails < 64) {
        if ((n = fill_draw(s)) == 0 || alloc_one(s, n, &page) != 0) {
            fails++; /* a request too large for the room left, or no aligned room */
            continue;
        }
        push_live(s, page, n);
    }
    /* room for every block the steady state could hold */
    if (s->target - s->ballast + 1 > s->cap) {
        s->cap = s->target - s->ballast + 1;
        s->live = realloc(s->live, (size_t)s->cap * sizeof(*s->live));
        if (!s->live)
            die("realloc", DMACOH_ENOMEM);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

struct cfg {
    enum impl_kind impl;
    unsigned log2;
    unsigned fill; /* percent */
    bool mixed;
};

static void labels(char *buf, size_t n, const struct cfg *c)
{
    snprintf(buf, n, "impl=%s,pages=%" PRIu64 ",fill=%u,req=%s", impl_names[c->impl],
             (uint64_t)1 << c->log2, c->fill, c->mixed ? "mixed" : "1");
}

static void ss_init(struct steady *s, const struct cfg *c, const struct impl *im)
{
    uint64_t pool = (uint64_t)1 << c->log2;

    memset(s, 0, sizeof(*s));
    s->a = &im->setup;
    s->target = pool * c->fill / 100;
    s->mixed = c->mixed;
    s->maxreq = pool / 16 < 512 ? pool / 16 : 512;
    rng_seed(&s->r, 0x5eed0000u + c->log2 * 1000 + c->fill * 10 + c->mixed);
}

/* Warm-up on the set-up path: up to twice the live blocks, within the time budget. */
static uint64_t ss_warm(struct steady *s, double budget_s, uint64_t max_steps)
{
    double t0 = now_s();
    uint64_t steps = 0;

    while (steps < max_steps) {
        for (unsigned i = 0; i < 64 && steps < max_steps; i++, steps++)
            ss_step(s);
        if (now_s() - t0 > budget_s)
            break;
    }
    return steps;
}

static void run_steady(const struct cfg *c)
{
    uint64_t pool = (uint64_t)1 << c->log2, warm, steps = 0, b, batch, pairs0, fails0;
    bool units = c->log2 > 24;
    struct impl im;
    struct steady s;
    double t_setup = now_s(), t0, est, *ns;
    unsigned nb = 0;
    char lab[128];

    labels(lab, sizeof(lab), c);
    impl_open(&im, c->impl, pool);
    ss_init(&s, c, &im);
    ss_fill(&s, pool, units);
    warm = ss_warm(&s, P.warm_budget_s, 2 * s.n < WARM_MAX ? 2 * s.n : WARM_MAX);
    t_setup = now_s() - t_setup;
    /* calibrate on the timed path: at least 2 ms or 4096 steps */
    s.a = &im.timed;
    t0 = now_s();
    pairs0 = s.allocs + s.fails + s.frees;
    do {
        ss_step(&s);
        steps++;
    } while (steps < 4096 && now_s() - t0 < 0.002);
    est = (now_s() - t0) * 1e9 / ((double)(s.allocs + s.fails + s.frees - pairs0) / 2.0);
    batch = 1;
    while (batch < 4096 && (double)(2 * batch) * est <= P.batch_ns)
        batch *= 2;
    /* measure */
    ns = xmalloc(P.max_batches * sizeof(double));
    fails0 = s.fails;
    pairs0 = s.allocs + s.fails + s.frees;
    t0 = now_s();
    while (nb < P.max_batches) {
        uint64_t ops0 = s.allocs + s.fails + s.frees, t1 = now_ns(), t2;

        for (b = 0; b < batch; b++)
            ss_step(&s);
        t2 = now_ns();
        ns[nb++] = (double)(t2 - t1) / ((double)(s.allocs + s.fails + s.frees - ops0) / 2.0);
        if (now_s() - t0 > P.cfg_budget_s)
            break;
    }
    t0 = now_s() - t0;
    qsort(ns, nb, sizeof(*ns), cmp_double);
    printf("alloc_pair_ns_median{%s}=%.1f\n", lab, ns[nb / 2]);
    printf("alloc_pair_ns_p99{%s}=%.1f\n", lab, ns[(nb * 99) / 100]);
    printf("alloc_pair_ns_max{%s}=%.1f\n", lab, ns[nb - 1]);
    printf("alloc_batch_pairs{%s}=%" PRIu64 "\n", lab, batch);
    printf("alloc_batches{%s}=%u\n", lab, nb);
    printf("alloc_pairs{%s}=%.0f\n", lab, (double)(s.allocs + s.fails + s.frees - pairs0) / 2.0);
    printf("alloc_capped{%s}=%d\n", lab, nb < P.max_batches);
    printf("alloc_fail_rate{%s}=%.4f\n", lab,
           (double)(s.fails - fails0) / ((double)nb * (double)batch));
    printf("alloc_fill_actual{%s}=%.4f\n", lab, (double)s.foot / (double)pool);
    printf("alloc_warmup_pairs{%s}=%" PRIu64 "\n", lab, warm);
    printf("alloc_seconds{%s,part=setup}=%.2f\n", lab, t_setup);
    printf("alloc_seconds{%s,part=measure}=%.2f\n", lab, t0);
    if (units)
        printf("alloc_layout_units{%s}=1\n", lab);
    if (c->impl == IMPL_DMACOH && dm_used(&im.dm) != s.foot)
        printf("alloc_footprint_mismatch{%s}=%" PRIu64 "\n", lab, dm_used(&im.dm));
    if (c->impl == IMPL_BUDDY && bd_used(&im.bd) != s.foot)
        printf("alloc_footprint_mismatch{%s}=%" PRIu64 "\n", lab, bd_used(&im.bd));
    fflush(stdout);
    free(ns);
    free(s.live);
    impl_close(&im);
}

static void section_steady(void)
{
    for (unsigned k = 0; k < 5; k++) {
        unsigned log2 = k < 4 ? P.sizes[k] : P.dm_only_log2;

        if (log2 == 0 || (P.only_log2 && log2 != P.only_log2))
            continue;
        for (int mixed = 0; mixed <= 1; mixed++) {
            for (unsigned fill = 50; fill <= 90; fill += 40) {
                for (int impl = IMPL_DMACOH; impl <= IMPL_KERNEL; impl++) {
                    struct cfg c = {(enum impl_kind)impl, log2, fill, mixed != 0};

                    if (k == 4 && impl != IMPL_DMACOH)
                        continue;
                    run_steady(&c);
                }
            }
        }
    }
    /* the harness alone: RNG, live-set bookkeeping and indirect calls */
    for (int mixed = 0; mixed <= 1; mixed++) {
        struct cfg c = {IMPL_HARNESS, P.quick ? 14 : 18, 90, mixed != 0};

        run_steady(&c);
    }
}

/* ---- callgrind mode ---- */

static int run_callgrind(int argc, char **argv)
{
    struct cfg c = {IMPL_DMACOH, 18, 90, false};
    struct impl im;
    struct steady s;
    uint64_t steps, ops0, warm;
    char lab[128];

    if (argc < 7) {
        fprintf(stderr,
                "usage: %s --callgrind dmacoh|buddy|firstfit|kernel|harness LOG2_PAGES FILL "
                "1|mixed STEPS\n",
                argv[0]);
        return 2;
    }
    c.impl = IMPL_DMACOH;
    for (int i = IMPL_DMACOH; i <= IMPL_HARNESS; i++) {
        if (strcmp(argv[2], impl_names[i]) == 0)
            c.impl = (enum impl_kind)i;
    }
    c.log2 = (unsigned)strtoul(argv[3], NULL, 10);
    c.fill = (unsigned)strtoul(argv[4], NULL, 10);
    c.mixed = strcmp(argv[5], "mixed") == 0;
    steps = strtoull(argv[6], NULL, 10);
    labels(lab, sizeof(lab), &c);
    impl_open(&im, c.impl, (uint64_t)1 << c.log2);
    ss_init(&s, &c, &im);
    ss_fill(&s, (uint64_t)1 << c.log2, c.log2 > 24);
    warm = 2 * s.n < WARM_MAX ? 2 * s.n : WARM_MAX; /* a fixed count: repeatable */
    for (uint64_t i = 0; i < warm; i++)
        ss_step(&s);
    s.a = &im.timed;
    ops0 = s.allocs + s.fails + s.frees;
    callgrind_pairs(&s, steps);
    printf("callgrind_pairs{%s}=%.1f\n", lab, (double)(s.allocs + s.fails + s.frees - ops0) / 2.0);
    printf("callgrind_steps{%s}=%" PRIu64 "\n", lab, steps);
    printf("callgrind_warmup_pairs{%s}=%" PRIu64 "\n", lab, warm);
    free(s.live);
    impl_close(&im);
    return 0;
}

/* ---- utilisation at first failure ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

static void section_util(const char *trace, unsigned log2, unsigned seeds, uint64_t limit)
{
    uint64_t pool = (uint64_t)1 << log2;

    /* dmacoh's three placement variants, then the baselines */
    for (int run = 0; run < 6; run++) {
        int impl = run < 3 ? IMPL_DMACOH : IMPL_BUDDY + (run - 3);
        const char *name = run < 3 ? dm_variant_names[run] : impl_names[impl];
        uint64_t *req = xmalloc(seeds * sizeof(uint64_t)), *foot = xmalloc(seeds * sizeof(*foot));
        double t0 = now_s();

        dm_variant = run < 3 ? (unsigned)run : 0;

        for (unsigned seed = 1; seed <= seeds; seed++) {
            struct impl im;
            struct trace_result res;
            char lab[128];
            int r;

            impl_open(&im, (enum impl_kind)impl, pool);
            /* the baseline's fast path makes the same placements as its timed path */
            if (strcmp(trace, "mixed") == 0)
                r = trace_mixed(&im.setup, pool, seed, limit, &res);
            else
                r = trace_driver(&im.setup, pool, seed, limit, &res);
            if (r)
                die("trace", DMACOH_ENOMEM);
            snprintf(lab, sizeof(lab), "impl=%s,trace=%s,pages=%" PRIu64 ",seed=%u", name, trace,
                     pool, seed);
            printf("util_requested{%s}=%.4f\n", lab, (double)res.live_pages / (double)pool);
            printf("util_footprint{%s}=%.4f\n", lab, (double)res.footprint / (double)pool);
            printf("util_failed{%s}=%d\n", lab, res.failed);
            printf("util_fail_request_pages{%s}=%" PRIu64 "\n", lab, res.fail_pages);
            if (strcmp(trace, "driver") == 0)
                printf("util_fail_kind{%s}=%s\n", lab,
                       res.fail_kind == 0   ? "packet"
                       : res.fail_kind == 1 ? "ring"
                                            : "scratch");
            printf("util_steps{%s}=%" PRIu64 "\n", lab, res.steps);
            printf("util_live_blocks{%s}=%" PRIu64 "\n", lab, res.live_blocks);
            req[seed - 1] = res.live_pages;
            foot[seed - 1] = res.footprint;
            impl_close(&im);
        }
        qsort(req, seeds, sizeof(*req), cmp_u64);
        qsort(foot, seeds, sizeof(*foot), cmp_u64);
        printf("util_requested_median{impl=%s,trace=%s,pages=%" PRIu64 "}=%.4f\n", name, trace,
               pool, (double)req[seeds / 2] / (double)pool);
        printf("util_footprint_median{impl=%s,trace=%s,pages=%" PRIu64 "}=%.4f\n", name, trace,
               pool, (double)foot[seeds / 2] / (double)pool);
        printf("util_seconds{impl=%s,trace=%s}=%.2f\n", name, trace, now_s() - t0);
        fflush(stdout);
        free(req);
        free(foot);
    }
    dm_variant = 0;
}

/* ---- metadata ---- */

static void section_meta(void)
{
    static const unsigned sizes[] = {9, 12, 14, 16, 18, 24, 30};

    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint64_t pages = (uint64_t)1 << sizes[i];
        size_t d = dmacoh_region_meta_size(pages * PAGE, PAGE), k = kbm_bitmap_bytes(pages);

        printf("meta_bytes{impl=dmacoh,pages=%" PRIu64 "}=%zu\n", pages, d);
        printf("meta_bytes{impl=kernel,pages=%" PRIu64 "}=%zu\n", pages, k);
        printf("meta_bits_per_page{impl=dmacoh,pages=%" PRIu64 "}=%.3f\n", pages,
               (double)d * 8 / (double)pages);
        printf("meta_bits_per_page{impl=kernel,pages=%" PRIu64 "}=%.3f\n", pages,
               (double)k * 8 / (double)pages);
        printf("meta_bits_per_page{impl=buddy,pages=%" PRIu64 "}=%.3f\n", pages,
               (double)pages * 9 * 8 / (double)pages);
        printf("meta_bits_per_page{impl=firstfit,pages=%" PRIu64 "}=%.3f\n", pages,
               (double)ff_bitmap_bytes(pages) * 8 / (double)pages);
    }
    fflush(stdout);
}

/* ---- two threads in one region ---- */

struct mt_job {
    struct steady *s;
    unsigned ns; /* steady states this thread steps in turn */
    uint64_t steps;
    pthread_barrier_t *bar;
};

static void *mt_run(void *arg)
{
    struct mt_job *j = (struct mt_job *)arg;

    pthread_barrier_wait(j->bar);
    for (uint64_t i = 0; i < j->steps; i++) {
        for (unsigned k = 0; k < j->ns; k++)
            ss_step(&j->s[k]);
    }
    return NULL;
}

/* Wall time of: one thread stepping both halves in turn (threads = 1), or each half on its
 * own thread (threads = 2). The same steps either way. */
static double mt_time(struct steady *half, uint64_t steps, unsigned threads)
{
    pthread_t tid[2];
    struct mt_job jobs[2];
    pthread_barrier_t bar;
    double t0;

    pthread_barrier_init(&bar, NULL, threads + 1);
    for (unsigned t = 0; t < threads; t++) {
        jobs[t] =
            (struct mt_job){threads == 1 ? half : &half[t], threads == 1 ? 2u : 1u, steps, &bar};
        pthread_create(&tid[t], NULL, mt_run, &jobs[t]);
    }
    t0 = now_s();
    pthread_barrier_wait(&bar);
    for (unsigned t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    t0 = now_s() - t0;
    pthread_barrier_destroy(&bar);
    return t0;
}

static void section_mt(void)
{
    for (unsigned k = 0; k < 3 && P.mt_sizes[k]; k++) {
        for (int impl = IMPL_DMACOH; impl <= IMPL_KERNEL; impl++) {
            struct cfg c = {(enum impl_kind)impl, P.mt_sizes[k], 50, false};
            uint64_t pool = (uint64_t)1 << c.log2, steps = 64, pairs[2] = {0, 0};
            double *tp[2], t;
            struct steady half[2], all;
            struct impl im;
            char lab[128];

            labels(lab, sizeof(lab), &c);
            impl_open(&im, c.impl, pool);
            ss_init(&all, &c, &im);
            ss_fill(&all, pool, false);
            /* split the live set: even blocks to half 0, odd to half 1 */
            for (unsigned h = 0; h < 2; h++) {
                half[h] = all;
                half[h].cap = all.target + 2;
                half[h].live = xmalloc((size_t)half[h].cap * sizeof(*all.live));
                half[h].n = 0;
                half[h].foot = 0;
                for (uint64_t i = h; i < all.n; i += 2) {
                    half[h].live[half[h].n++] = all.live[i];
                    half[h].foot += all.live[i].pages;
                }
                half[h].target = half[h].foot;
                half[h].a = &im.timed;
                rng_seed(&half[h].r, 77 + h);
            }
            free(all.live);
            /* size the runs: one thread for about mt_seconds */
            while ((t = mt_time(half, steps, 1)) < P.mt_seconds / 4 && steps < ((uint64_t)1 << 40))
                steps *= 2;
            steps = (uint64_t)((double)steps * P.mt_seconds / (t > 1e-6 ? t : 1e-6)) + 1;
            tp[0] = xmalloc(P.mt_trials * sizeof(double));
            tp[1] = xmalloc(P.mt_trials * sizeof(double));
            for (unsigned trial = 0; trial < P.mt_trials; trial++) {
                for (unsigned th = 1; th <= 2; th++) {
                    uint64_t ops0 = 0, ops1 = 0;

                    for (unsigned h = 0; h < 2; h++)
                        ops0 += half[h].allocs + half[h].frees + half[h].fails;
                    t = mt_time(half, steps, th);
                    for (unsigned h = 0; h < 2; h++)
                        ops1 += half[h].allocs + half[h].frees + half[h].fails;
                    tp[th - 1][trial] = (double)(ops1 - ops0) / 2.0 / t;
                    pairs[th - 1] = (ops1 - ops0) / 2;
                }
            }
            qsort(tp[0], P.mt_trials, sizeof(double), cmp_double);
            qsort(tp[1], P.mt_trials, sizeof(double), cmp_double);
            printf("mt_pairs_per_s{%s,threads=1}=%.0f\n", lab, tp[0][P.mt_trials / 2]);
            printf("mt_pairs_per_s{%s,threads=2}=%.0f\n", lab, tp[1][P.mt_trials / 2]);
            printf("mt_scaling{%s}=%.3f\n", lab, tp[1][P.mt_trials / 2] / tp[0][P.mt_trials / 2]);
            printf("mt_pairs_per_run{%s}=%" PRIu64 "\n", lab, pairs[1]);
            printf("mt_trials{%s}=%u\n", lab, P.mt_trials);
            fflush(stdout);
            free(tp[0]);
            free(tp[1]);
            free(half[0].live);
            free(half[1].live);
            impl_close(&im);
        }
    }
}

/* ---- the baseline's fast path must place exactly as its timed path ---- */

static void selfcheck(void)
{
    uint64_t pages = 4096, *b1 = xmalloc(kbm_bitmap_bytes(pages)), *b2;
    struct kbm k1, k2;
    struct blkvec live = {NULL, 0, 0};
    struct rng r;

    b2 = xmalloc(kbm_bitmap_bytes(pages));
    kbm_init(&k1, pages, b1);
    kbm_init(&k2, pages, b2);
    rng_seed(&r, 42);
    for (unsigned i = 0; i < 200000; i++) {
        if (live.n == 0 || rng_below(&r, 100) < 52) {
            uint64_t n = trace_mixed_pages(&r, 512), p1 = 0, p2 = 0;
            int r1 = kbm_alloc(&k1, n, &p1), r2 = kbm_alloc_fast(&k2, n, &p2);

            if (r1 != r2 || p1 != p2) {
                fprintf(stderr, "selfcheck: kbm_alloc_fast differs at step %u\n", i);
                exit(1);
            }
            if (r1 == 0 && blkvec_push(&live, p1, n) != 0)
                die("selfcheck", DMACOH_ENOMEM);
        } else {
            uint64_t j = rng_below(&r, live.n);

            kbm_free(&k1, live.v[j].page, live.v[j].pages);
            kbm_free(&k2, live.v[j].page, live.v[j].pages);
            live.v[j] = live.v[--live.n];
        }
    }
    printf("selfcheck_kernel_fast_path=ok\n");
    free(live.v);
    free(b1);
    free(b2);
}

/* ---- the two other baselines: placements checked against a shadow page map ---- */

static bool shadow_range_free(const uint8_t *sh, uint64_t p, uint64_t n)
{
    for (uint64_t i = p; i < p + n; i++) {
        if (sh[i])
            return false;
    }
    return true;
}

/* True if some window of n pages starting at a multiple of align is free in the shadow. */
static bool shadow_has_window(const uint8_t *sh, uint64_t pool, uint64_t n, uint64_t align)
{
    for (uint64_t p = 0; p + n <= pool; p += align) {
        if (shadow_range_free(sh, p, n))
            return true;
    }
    return false;
}

static void selfcheck_fail(const char *impl, unsigned step, const char *what)
{
    fprintf(stderr, "selfcheck: %s at step %u: %s\n", impl, step, what);
    exit(1);
}

/*
 * A seeded mixed trace on pools of `pages` pages run through the buddy allocator and through
 * first fit (timed and fast paths side by side). Every block returned must lie inside the pool,
 * start at a multiple of 2^ceil(log2 n), and overlap no live block of the same allocator; a
 * failure is allowed only when no free window of that alignment exists (the buddy's window is
 * 2^ceil(log2 n) pages: a fully free aligned window of that size always merges into one free
 * block; first fit's is n pages). At the end everything is freed: the buddy must be whole
 * again (one free block per piece of the region's binary decomposition).
 */
static void selfcheck_baselines(uint64_t pages, uint64_t seed)
{
    struct bd bdm;
    struct fft f1, f2;
    uint8_t *shb = xmalloc(pages), *shf = xmalloc(pages);
    struct blkvec lb = {NULL, 0, 0}, lf = {NULL, 0, 0};
    struct rng r;
    unsigned fails_b = 0, fails_f = 0;

    memset(shb, 0, pages);
    memset(shf, 0, pages);
    if (!bd_open(&bdm, pages))
        die("selfcheck buddy_meta_bytes", DMACOH_EOVERFLOW);
    fft_open(&f1, pages);
    fft_open(&f2, pages);
    rng_seed(&r, seed);
    for (unsigned i = 0; i < 100000; i++) {
        bool alloc = rng_below(&r, 100) < 55;
        uint64_t n = trace_mixed_pages(&r, pages / 8), al = kbm_footprint(n), p = 0, p2 = 0;

        if (alloc || lb.n == 0) {
            if (buddy_alloc(&bdm.b, n, &p) == 0) {
                if (p + n > pages || p % al != 0 || !shadow_range_free(shb, p, n))
                    selfcheck_fail("buddy", i, "block outside, misaligned or overlapping");
                memset(shb + p, 1, n);
                if (blkvec_push(&lb, p, n) != 0)
                    die("selfcheck", DMACOH_ENOMEM);
            } else {
                fails_b++;
                if (shadow_has_window(shb, pages, al, al))
                    selfcheck_fail("buddy", i, "failed with an aligned window free");
            }
            if (i % 64 == 0) {
                uint64_t used = 0;

                for (uint64_t j = 0; j < lb.n; j++)
                    used += lb.v[j].pages;
                if (bdm.b.nfree != pages - used)
                    selfcheck_fail("buddy", i, "free page count");
            }
        } else {
            uint64_t j = rng_below(&r, lb.n);

            buddy_free(&bdm.b, lb.v[j].page, lb.v[j].pages);
            memset(shb + lb.v[j].page, 0, lb.v[j].pages);
            lb.v[j] = lb.v[--lb.n];
        }
        if (alloc || lf.n == 0) {
            int r1 = ff_alloc(&f1.f, n, &p), r2 = ff_alloc_fast(&f2.f, n, &p2);

            if (r1 != r2 || (r1 == 0 && p != p2))
                selfcheck_fail("firstfit", i, "ff_alloc_fast differs from ff_alloc");
            if (r1 == 0) {
                if (p + n > pages || p % al != 0 || !shadow_range_free(shf, p, n))
                    selfcheck_fail("firstfit", i, "block outside, misaligned or overlapping");
                memset(shf + p, 1, n);
                if (blkvec_push(&lf, p, n) != 0)
                    die("selfcheck", DMACOH_ENOMEM);
            } else {
                fails_f++;
                if (shadow_has_window(shf, pages, n, al))
                    selfcheck_fail("firstfit", i, "failed with an aligned window free");
            }
        } else {
            uint64_t j = rng_below(&r, lf.n);

            ff_free(&f1.f, lf.v[j].page, lf.v[j].pages);
            ff_free(&f2.f, lf.v[j].page, lf.v[j].pages);
            memset(shf + lf.v[j].page, 0, lf.v[j].pages);
            lf.v[j] = lf.v[--lf.n];
        }
    }
    for (uint64_t j = 0; j < lb.n; j++)
        buddy_free(&bdm.b, lb.v[j].page, lb.v[j].pages);
    for (uint64_t j = 0; j < lf.n; j++)
        ff_free(&f1.f, lf.v[j].page, lf.v[j].pages);
    if (bdm.b.nfree != pages ||
        (uint64_t)__builtin_popcount(bdm.b.nonempty) != (uint64_t)__builtin_popcountll(pages))
        selfcheck_fail("buddy", 0, "not whole again after freeing everything");
    if (ff_next(&f1.f, 0, pages, true) != pages)
        selfcheck_fail("firstfit", 0, "bits left set after freeing everything");
    if (fails_b == 0 || fails_f == 0)
        selfcheck_fail("trace", 0, "never reached a full pool");
    printf("selfcheck_baselines{pages=%" PRIu64 "}=ok\n", pages);
    free(lb.v);
    free(lf.v);
    free(bdm.meta);
    free(f1.bits);
    free(f2.bits);
    free(shb);
    free(shf);
}

/* ---- filling a fresh region: cost per allocation by live blocks ---- */

/*
 * Allocates mixed requests (at most 512 pages) on the timed path into a fresh region, never
 * freeing, until the first failure, fill_max live blocks or the time budget. Chunks of 100
 * allocations are timed; fill_ns_per_alloc{...,live=D} is the mean over the allocations from
 * 0.9 D to D (D = 10^3 .. fill_max), and {live=last} the mean over the last 10 % before the
 * fill ended (fill_end says why: full = first failure, budget, done = fill_max reached).
 */
static void run_fill(enum impl_kind kind, unsigned log2)
{
    uint64_t pool = (uint64_t)1 << log2, nchunks = P.fill_max / 100 + 1, live = 0, done = 0;
    uint64_t *chunk = xmalloc(nchunks * sizeof(uint64_t)), page, pages_used = 0;
    const char *end = "done";
    struct impl im;
    struct rng r;
    double t0;
    char lab[96];

    snprintf(lab, sizeof(lab), "impl=%s,pages=%" PRIu64, impl_names[kind], pool);
    if (kind == IMPL_BUDDY && (log2 > 30 || sizeof(size_t) < 8 ||
                               (double)buddy_meta_bytes(pool) > 4.0 * 1024 * 1024 * 1024)) {
        printf("fill_skipped{%s,reason=buddy_metadata_%.1f_GiB}=1\n", lab,
               (double)pool * 9 / (1024.0 * 1024 * 1024));
        free(chunk);
        return;
    }
    if (sizeof(size_t) < 8 && log2 > 24) {
        printf("fill_skipped{%s,reason=32_bit_host}=1\n", lab);
        free(chunk);
        return;
    }
    impl_open(&im, kind, pool);
    rng_seed(&r, 0xf111u + log2);
    t0 = now_s();
    while (live < P.fill_max) {
        uint64_t t1 = now_ns(), k;
        bool full = false;

        for (k = 0; k < 100; k++) {
            uint64_t n = trace_mixed_pages(&r, 512);

            if (im.timed.alloc(im.timed.ctx, n, &page) != 0) {
                full = true;
                break;
            }
            pages_used += n;
        }
        if (k == 100)
            chunk[done++] = now_ns() - t1;
        live += k;
        if (full) {
            end = "full";
            break;
        }
        if (now_s() - t0 > P.fill_budget_s) {
            end = "budget";
            break;
        }
    }
    for (uint64_t d = 1000; d <= P.fill_max && d / 100 <= done; d *= 10) {
        uint64_t sum = 0, a = (d - d / 10) / 100;

        for (uint64_t c = a; c < d / 100; c++)
            sum += chunk[c];
        printf("fill_ns_per_alloc{%s,live=%" PRIu64 "}=%.1f\n", lab, d,
               (double)sum / (double)((d / 100 - a) * 100));
    }
    if (done > 0) {
        uint64_t a = done - (done / 10 ? done / 10 : 1), sum = 0;

        for (uint64_t c = a; c < done; c++)
            sum += chunk[c];
        printf("fill_ns_per_alloc{%s,live=last}=%.1f\n", lab,
               (double)sum / (double)((done - a) * 100));
    }
    printf("fill_end{%s}=%s\n", lab, end);
    printf("fill_live_blocks{%s}=%" PRIu64 "\n", lab, live);
    printf("fill_pages_used{%s}=%.4f\n", lab, (double)pages_used / (double)pool);
    printf("fill_seconds{%s}=%.2f\n", lab, now_s() - t0);
    fflush(stdout);
    free(chunk);
    impl_close(&im);
}

static void section_fill(void)
{
    for (unsigned k = 0; k < 2 && P.fill_sizes[k]; k++) {
        for (int impl = IMPL_DMACOH; impl <= IMPL_KERNEL; impl++)
            run_fill((enum impl_kind)impl, P.fill_sizes[k]);
    }
}

int main(int argc, char **argv)
{
    double t0 = now_s(), t;

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Filling a region until it refuses is part of every trace: no stderr line per refusal
     * (the hosted default), which would also be measured. */
    dmacoh_set_log_fn(NULL, NULL, 0);
    P = full_params;
    if (argc > 1 && strcmp(argv[1], "--callgrind") == 0)
        return run_callgrind(argc, argv);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            struct params keep = P;

            P = quick_params;
            P.sections = keep.sections;
            P.only_log2 = keep.only_log2;
        } else if (strncmp(argv[i], "--sections=", 11) == 0) {
            P.sections = argv[i] + 11;
        } else if (strncmp(argv[i], "--budget=", 9) == 0) {
            P.cfg_budget_s = strtod(argv[i] + 9, NULL);
        } else if (strncmp(argv[i], "--fill-budget=", 14) == 0) {
            P.fill_budget_s = strtod(argv[i] + 14, NULL);
        } else if (strncmp(argv[i], "--log2=", 7) == 0) {
            P.only_log2 = (unsigned)strtoul(argv[i] + 7, NULL, 10);
        } else {
            fprintf(stderr,
                    "usage: %s [--quick] [--sections=meta,steady,util,driver,fill,mt]\n"
                    "       [--log2=N] [--budget=S] [--fill-budget=S]\n"
                    "       %s --callgrind dmacoh|buddy|firstfit|kernel|harness LOG2_PAGES FILL "
                    "1|mixed STEPS\n",
                    argv[0], argv[0]);
            return 2;
        }
    }
    printf("mode=%s\npage_bytes=%u\ncfg_budget_s=%.2f\nmax_batches=%u\n",
           P.quick ? "quick" : "full", PAGE, P.cfg_budget_s, P.max_batches);
    selfcheck();
    selfcheck_baselines(4096, 7);
    selfcheck_baselines(3000, 8);
    if (section_on("meta"))
        section_meta();
    if (section_on("steady")) {
        t = now_s();
        section_steady();
        printf("section_seconds{section=steady}=%.1f\n", now_s() - t);
    }
    if (section_on("util")) {
        t = now_s();
        section_util("mixed", P.util_log2, P.util_seeds, 100000000);
        printf("section_seconds{section=util}=%.1f\n", now_s() - t);
    }
    if (section_on("driver")) {
        t = now_s();
        section_util("driver", P.drv_log2, P.drv_seeds, P.drv_ramp);
        printf("section_seconds{section=driver}=%.1f\n", now_s() - t);
    }
    if (section_on("fill")) {
        t = now_s();
        section_fill();
        printf("section_seconds{section=fill}=%.1f\n", now_s() - t);
    }
    if (section_on("mt")) {
        t = now_s();
        section_mt();
        printf("section_seconds{section=mt}=%.1f\n", now_s() - t);
    }
    printf("total_seconds=%.1f\n", now_s() - t0);
    if (sim && dmacoh_sim_destroy(sim) != 0)
        return 1;
    if (bm_ready && dmacoh_baremetal_fini(&bm) != 0)
        return 1;
    return 0;
}
