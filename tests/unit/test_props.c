/* SPDX-License-Identifier: MIT */
/*
 * test_props.c - property tests of the region allocator through the public API (design.md
 * rules 4-7, 9, 11; include/dmacoh/alloc.h and region.h), driven by the seeded t_rand:
 *  (a) the alignment promise over thousands of random sizes, on regions at random bus bases and
 *      random (also oddly aligned) device bases with granules 4096, 64 and 16, and on system
 *      memory fallback allocations;
 *  (b) a few thousand random operations (alloc, free, bad frees of every kind, mark occupied)
 *      mirrored in a reference model, with the allocator's state, statistics, walk and the
 *      contents of every live allocation compared against it after every step;
 *  (c) same-size allocations without frees come out at ascending device addresses;
 *  (d) exhaustion with one-granule allocations, and recovery.
 * A failure message names the seed-derived case (granule, bases, size) that broke.
 */
#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

#include "fixture.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

#define KIB      UINT64_C(0x400)
#define MIB      UINT64_C(0x100000)
#define PG       UINT64_C(0x1000)
#define MEM_BUS  UINT64_C(0x100000000) /* 8 MiB of MAP|IO memory for regions */
#define MEM_SIZE (8 * MIB)
#define MEM2_BUS UINT64_C(0x200000000) /* a second memory, away from any RAM window */

/* An assertion that prints the case it was checking. */
#define CHECK(c, ...)                                                                              \
    do {                                                                                           \
        if (!(c))                                                                                  \
            t_fail(__FILE__, __LINE__, __VA_ARGS__);                                               \
    } while (0)

/* ---- helpers ---- */

static uint64_t rnd(uint64_t *s, uint64_t n)
{
    return t_rand(s) % n;
}

static unsigned log2_floor(uint64_t x)
{
    unsigned l = 0;

    while (x > 1) {
        x >>= 1;
        l++;
    }
    return l;
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

/* A size biased towards small values: uniform in [1, 2^k] for a random k <= log2(max) + 1. */
static size_t rand_size(uint64_t *s, uint64_t max)
{
    unsigned bits = (unsigned)rnd(s, log2_floor(max) + 2);

    return (size_t)(1 + rnd(s, UINT64_C(1) << bits));
}

static struct dmacoh_sim *new_sim(const struct dmacoh_sim_opts *opts)
{
    struct dmacoh_sim *sim = NULL;

    T_OK(dmacoh_sim_create(opts, &sim));
    T_ASSERT(sim != NULL);
    return sim;
}

static void declare_placed(struct dmacoh_device *dev, uint64_t bus, uint64_t dbase, uint64_t size,
                           uint64_t granule, int flags, unsigned placement)
{
    struct dmacoh_declare_opts o;
    int granted = 0;

    memset(&o, 0, sizeof(o));
    o.granule = granule;
    o.placement = placement;
    T_OK(dmacoh_declare_coherent_memory(dev, bus, dbase, size, flags, &o, &granted));
    T_EQ_INT(granted, DMACOH_MEMORY_MAP);
}

static void declare(struct dmacoh_device *dev, uint64_t bus, uint64_t dbase, uint64_t size,
                    uint64_t granule, int flags)
{
    struct dmacoh_declare_opts o;
    int granted = 0;

    memset(&o, 0, sizeof(o));
    o.granule = granule;
    T_OK(dmacoh_declare_coherent_memory(dev, bus, dbase, size, flags, &o, &granted));
    T_EQ_INT(granted, DMACOH_MEMORY_MAP);
}

/* Writes distinct bytes at both ends of [cpu, cpu + size) (through the accessors for an IO
 * cookie) and reads them back on the bus. */
static void check_bus_view(struct dmacoh_sim *sim, unsigned char *cpu, size_t size, uint64_t bus,
                           unsigned char tag, bool io)
{
    unsigned char b[2] = {0, 0}, want[2] = {tag, (unsigned char)(tag ^ 0x5a)};

    if (io) {
        dmacoh_iowrite8(want[0], cpu);
        dmacoh_iowrite8(want[1], cpu + size - 1);
    } else {
        cpu[0] = want[0];
        cpu[size - 1] = want[1];
    }
    if (size == 1)
        want[0] = want[1]; /* the same byte, written twice */
    T_OK(dmacoh_sim_bus_read(sim, bus, &b[0], 1));
    T_OK(dmacoh_sim_bus_read(sim, bus + size - 1, &b[1], 1));
    CHECK(b[0] == want[0] && b[1] == want[1],
          "bus 0x%" PRIx64 "+%zu does not see what the CPU wrote through %p", bus, size,
          (void *)cpu);
}

/* ---- (a) alignment ---- */

struct a_live {
    void *cpu;
    uint64_t h;
    size_t size;
};

/* The alignment promise for one allocation of `size` bytes in units of `g`. */
static void check_aligned(uint64_t h, const void *cpu, size_t size, uint64_t g, bool check_cpu,
                          const char *what, uint64_t base)
{
    uint64_t n = div_up(size, g), align = t_pow2_ceil(n) * g;
    uint64_t c = (uint64_t)(uintptr_t)cpu;

    CHECK((h & (align - 1)) == 0,
          "%s: handle 0x%" PRIx64 " of size %zu (granule 0x%" PRIx64 ", base 0x%" PRIx64
          ") is not aligned to 0x%" PRIx64,
          what, h, size, g, base, align);
    CHECK(!check_cpu || (c & (align - 1)) == 0,
          "%s: cpu %p of size %zu (granule 0x%" PRIx64 ", base 0x%" PRIx64
          ") is not aligned to 0x%" PRIx64,
          what, cpu, size, g, base, align);
    if (size <= 64 * KIB) {
        CHECK(h >> 16 == (h + size - 1) >> 16,
              "%s: handle 0x%" PRIx64 " + %zu crosses a 64 KiB boundary (granule 0x%" PRIx64
              ", base 0x%" PRIx64 ")",
              what, h, size, g, base);
        CHECK(!check_cpu || c >> 16 == (c + size - 1) >> 16,
              "%s: cpu %p + %zu crosses a 64 KiB boundary", what, cpu, size);
    }
}

/* A random granule-aligned device base that fits size bytes below 2^64, often an awkward one. */
static uint64_t pick_dbase(uint64_t *rs, uint64_t g, uint64_t size, uint64_t bus)
{
    uint64_t top = (uint64_t)0 - size; /* the highest base: the region ends at 2^64 - 1 */
    uint64_t d;

    switch (rnd(rs, 9)) {
    case 0:
        d = 0x3000;
        break;
    case 1:
        d = 0x12345000;
        break;
    case 2:
        d = 0;
        break;
    case 3:
        d = top;
        break;
    case 4:
        d = (2 * rnd(rs, 0x10000) + 1) * g; /* an odd number of granules */
        break;
    case 5:
        d = t_rand(rs) & 0xffffffffu;
        break;
    case 6:
        d = bus;
        break;
    case 7:
        d = UINT64_C(0x80000000) + rnd(rs, 64) * g;
        break;
    default:
        d = t_rand(rs);
        break;
    }
    d &= ~(g - 1);
    if (d > top)
        d = top;
    /* A granule below the page size needs the device base congruent to the bus base modulo
     * the page for the simulator to map it congruently (platform.h map()): mostly make it so. */
    if (g < PG && rnd(rs, 5) != 0) {
        d = (d & ~(PG - 1)) | (bus & (PG - 1));
        if (d > top)
            d -= PG;
    }
    return d;
}

/* One random region and a few dozen random allocations and frees on it. */
static void alignment_region(struct dmacoh_sim *sim, uint64_t *rs, uint64_t g, unsigned *nok)
{
    struct dmacoh_device dev;
    struct dmacoh_declare_opts o;
    struct a_live live[48];
    unsigned nlive = 0;
    uint64_t ng = 1 + rnd(rs, g == PG ? 256 : 1024), size = ng * g;
    uint64_t bus = MEM_BUS + rnd(rs, (MEM_SIZE - size) / g + 1) * g;
    uint64_t dbase = pick_dbase(rs, g, size, bus);
    uint64_t cong = t_pow2_ceil(size) < PG ? t_pow2_ceil(size) : PG;
    bool io = rnd(rs, 5) == 0; /* some regions granted IO: the handle promise still holds */
    int flags =
        (io ? DMACOH_MEMORY_IO : DMACOH_MEMORY_MAP) | (rnd(rs, 2) ? DMACOH_MEMORY_EXCLUSIVE : 0);
    int granted = 0, r;

    T_OK(dmacoh_device_init(&dev, "align", NULL, dmacoh_sim_platform(sim)));
    memset(&o, 0, sizeof(o));
    o.granule = g;
    r = dmacoh_declare_coherent_memory(&dev, bus, dbase, size, flags, &o, &granted);
    if (r == DMACOH_ENOTSUP && ((dbase - bus) & (cong - 1)) != 0) {
        /* The simulator cannot map a page with that congruence: allowed by platform.h. */
        T_OK(dmacoh_device_fini(&dev));
        return;
    }
    CHECK(r == 0,
          "declare bus 0x%" PRIx64 " device 0x%" PRIx64 " size 0x%" PRIx64 " granule 0x%" PRIx64
          ": %s",
          bus, dbase, size, g, dmacoh_err_name(r));
    T_EQ_INT(granted, io ? DMACOH_MEMORY_IO : DMACOH_MEMORY_MAP);
    for (unsigned op = 0; op < 48; op++) {
        if (nlive < 48 && (nlive == 0 || rnd(rs, 4) != 0)) {
            size_t sz = rand_size(rs, size);
            unsigned af = DMACOH_ALLOC_NOZERO;
            void *cpu = NULL;
            uint64_t h = 0;

            if (!(flags & DMACOH_MEMORY_EXCLUSIVE) || rnd(rs, 2))
                af |= DMACOH_ALLOC_NOFALLBACK;
            r = dmacoh_alloc_coherent(&dev, sz, af, 0, &cpu, &h);
            if (r) {
                CHECK(r == DMACOH_ENOMEM, "alloc %zu: %s", sz, dmacoh_err_name(r));
                continue;
            }
            /* The CPU-pointer promise is for MAP regions; an IO cookie is opaque. */
            check_aligned(h, cpu, sz, g, !io, io ? "IO region" : "region", dbase);
            CHECK(h >= dbase && h - dbase < size && div_up(sz, g) * g <= size - (h - dbase),
                  "handle 0x%" PRIx64 " + %zu is outside the region 0x%" PRIx64 "+0x%" PRIx64, h,
                  sz, dbase, size);
            T_EQ_INT(dmacoh_origin_of(&dev, cpu), DMACOH_ORIGIN_REGION);
            T_EQ_U64(dmacoh_virt_to_dma(&dev, cpu), h);
            T_EQ_PTR(dmacoh_dma_to_virt(&dev, h), cpu);
            T_EQ_U64(dmacoh_dma_to_bus(&dev, h), bus + (h - dbase));
            check_bus_view(sim, cpu, sz, bus + (h - dbase), (unsigned char)op, io);
            live[nlive].cpu = cpu;
            live[nlive].h = h;
            live[nlive].size = sz;
            nlive++;
            (*nok)++;
        } else {
            unsigned i = (unsigned)rnd(rs, nlive);

            T_OK(dmacoh_free_coherent(&dev, live[i].size, live[i].cpu, live[i].h));
            live[i] = live[--nlive];
        }
    }
    while (nlive) {
        nlive--;
        T_OK(dmacoh_free_coherent(&dev, live[nlive].size, live[nlive].cpu, live[nlive].h));
    }
    T_ASSERT(dmacoh_check(&dev));
    T_EQ_U64(t_region_stats(&dev).in_use, 0);
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
}

static void alignment_random_regions(void)
{
    static const uint64_t granules[] = {PG, 64, 16};
    struct dmacoh_sim *sim = new_sim(NULL);
    uint64_t rs = 0x5eed0001;
    unsigned nok = 0;

    t_add_memory(sim, MEM_BUS, MEM_SIZE, DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, false);
    for (unsigned i = 0; i < 1200; i++)
        alignment_region(sim, &rs, granules[i % 3], &nok);
    T_ASSERT(nok > 10000); /* the property held on thousands of allocations */
    T_OK(dmacoh_sim_destroy(sim));
}

/* Fixed awkward device bases for every allocation size of a granule count up to the region. */
static void alignment_fixed_bases(void)
{
    static const struct {
        uint64_t dbase, g, bus_off;
    } cases[] = {
        {0x3000, PG, 0x5000},
        {0x12345000, PG, 0},
        {0x1000, PG, 0x1000},
        {0x12345040, 64, 0x1040},
        {0x3040, 64, 0x40},
        {0xfff0, 16, 0xff0},
        {UINT64_C(0xfffffffffff00000), PG, 0x3000},
    };
    struct dmacoh_sim *sim = new_sim(NULL);

    t_add_memory(sim, MEM_BUS, MEM_SIZE, DMACOH_MEMORY_MAP, false);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct dmacoh_device dev;
        uint64_t g = cases[c].g, size = 128 * g, dbase = cases[c].dbase;

        if (dbase + (size - 1) < dbase)
            dbase = (uint64_t)0 - size;
        T_OK(dmacoh_device_init(&dev, "fixed", NULL, dmacoh_sim_platform(sim)));
        declare(&dev, MEM_BUS + cases[c].bus_off, dbase, size, g, DMACOH_MEMORY_MAP);
        for (uint64_t n = 1; n <= 128; n++) {
            size_t sz = (size_t)(n * g - (n & 1) * (g / 2)); /* odd counts end mid-granule */
            void *cpu = NULL;
            uint64_t h = 0;
            int r = dmacoh_alloc_coherent(&dev, sz, DMACOH_ALLOC_NOFALLBACK | DMACOH_ALLOC_NOZERO,
                                          0, &cpu, &h);
            uint64_t align = t_pow2_ceil(n) * g;
            /* Alone in the region: it fits exactly when an aligned block lies inside it. */
            uint64_t first = (dbase + align - 1) & ~(align - 1);
            bool fits = first >= dbase && first - dbase <= size && n * g <= size - (first - dbase);

            CHECK((r == 0) == fits,
                  "alone in 0x%" PRIx64 "+0x%" PRIx64 ": %" PRIu64 " granules of 0x%" PRIx64
                  ": got %s, an aligned block %s",
                  dbase, size, n, g, dmacoh_err_name(r), fits ? "exists" : "does not exist");
            if (r == 0) {
                check_aligned(h, cpu, sz, g, true, "fixed", dbase);
                T_OK(dmacoh_free_coherent(&dev, sz, cpu, h));
            } else {
                T_ERR(r, DMACOH_ENOMEM);
            }
        }
        T_ASSERT(dmacoh_check(&dev));
        T_OK(dmacoh_release_coherent_memory(&dev, 0));
        T_OK(dmacoh_device_fini(&dev));
    }
    T_OK(dmacoh_sim_destroy(sim));
}

/* System memory fallback: a device without a region (or with a tiny non-exclusive one). */
static void fallback_case(uint64_t ram_base, uint64_t ram_size, unsigned mask_bits,
                          bool small_region, uint64_t seed, unsigned *nsys)
{
    struct dmacoh_sim_opts so;
    struct dmacoh_sim *sim;
    struct dmacoh_device dev;
    struct a_live live[16];
    unsigned nlive = 0;
    uint64_t rs = seed, mask = DMACOH_BIT_MASK(mask_bits);
    bool must_fit;

    memset(&so, 0, sizeof(so));
    so.ram_base = ram_base;
    so.ram_size = ram_size;
    sim = new_sim(&so);
    if (ram_base == 0)
        ram_base = 0x40000000; /* the documented defaults */
    if (ram_size == 0)
        ram_size = 64 * MIB;
    /* 16 live allocations of at most 2 MiB always fit in 64 MiB of 2 MiB-aligned RAM. */
    must_fit = mask_bits == 64 && ram_size >= 64 * MIB && ram_base % (2 * MIB) == 0;
    T_OK(dmacoh_device_init(&dev, "fallback", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_set_dma_mask(&dev, mask));
    if (small_region) {
        t_add_memory(sim, MEM2_BUS, 16 * PG, DMACOH_MEMORY_MAP, false);
        declare(&dev, MEM2_BUS + 4 * PG, 0x3000, 4 * PG, PG, DMACOH_MEMORY_MAP);
    }
    for (unsigned op = 0; op < 1500; op++) {
        if (nlive < 16 && (nlive == 0 || rnd(&rs, 3) != 0)) {
            size_t sz = rand_size(&rs, MIB);
            void *cpu = NULL;
            uint64_t h = 0;
            int r = dmacoh_alloc_coherent(&dev, sz, DMACOH_ALLOC_NOZERO, 0, &cpu, &h);

            if (r) {
                CHECK(!must_fit && (r == DMACOH_ENOMEM || r == DMACOH_ERANGE),
                      "fallback alloc %zu (ram 0x%" PRIx64 "+0x%" PRIx64 ", mask %u): %s", sz,
                      ram_base, ram_size, mask_bits, dmacoh_err_name(r));
                continue;
            }
            CHECK(h + (sz - 1) <= mask, "handle 0x%" PRIx64 " + %zu is above the mask 0x%" PRIx64,
                  h, sz, mask);
            if (dmacoh_origin_of(&dev, cpu) == DMACOH_ORIGIN_REGION) {
                T_ASSERT(small_region);
                check_aligned(h, cpu, sz, PG, true, "small region", 0x3000);
            } else {
                T_EQ_INT(dmacoh_origin_of(&dev, cpu), DMACOH_ORIGIN_SYSTEM);
                check_aligned(h, cpu, sz, PG, true, "system", ram_base);
                CHECK(h >= ram_base && h - ram_base < ram_size &&
                          div_up(sz, PG) * PG <= ram_size - (h - ram_base),
                      "system handle 0x%" PRIx64 " + %zu is outside RAM 0x%" PRIx64 "+0x%" PRIx64,
                      h, sz, ram_base, ram_size);
                T_EQ_U64(dmacoh_virt_to_dma(&dev, cpu), h);
                T_EQ_PTR(dmacoh_dma_to_virt(&dev, h), cpu);
                check_bus_view(sim, cpu, sz, h, (unsigned char)op, false); /* identity on the sim */
                (*nsys)++;
            }
            live[nlive].cpu = cpu;
            live[nlive].h = h;
            live[nlive].size = sz;
            nlive++;
        } else {
            unsigned i = (unsigned)rnd(&rs, nlive);

            T_OK(dmacoh_free_coherent(&dev, live[i].size, live[i].cpu, live[i].h));
            live[i] = live[--nlive];
        }
    }
    while (nlive) {
        nlive--;
        T_OK(dmacoh_free_coherent(&dev, live[nlive].size, live[nlive].cpu, live[nlive].h));
    }
    if (small_region) {
        T_ASSERT(dmacoh_check(&dev));
        T_EQ_U64(t_region_stats(&dev).in_use, 0);
        T_OK(dmacoh_release_coherent_memory(&dev, 0));
    }
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

static void alignment_system_fallback(void)
{
    unsigned nsys = 0;

    fallback_case(0, 0, 64, false, 11, &nsys);
    fallback_case(0x12345000, 32 * MIB, 64, false, 12, &nsys);
    fallback_case(0x3000, 32 * MIB, 64, false, 13, &nsys);
    fallback_case(0x7ff000, 8 * MIB, 64, false, 14, &nsys);
    /* RAM straddles 4 GiB; a 32-bit device only gets the part below. */
    fallback_case(0xff000000, 32 * MIB, 32, false, 15, &nsys);
    fallback_case(0x12345000, 32 * MIB, 64, true, 16, &nsys);
    T_ASSERT(nsys > 4000);
}

/* ---- (b) random operations against a reference model ---- */

#define M_MAXG 512

enum { K_FREE, K_AHEAD, K_ACONT, K_OHEAD, K_OCONT };

struct m_alloc {
    unsigned char *cpu;
    uint64_t h, off, n;
    size_t size;
    uint32_t id;
};

struct m_occ {
    unsigned char *cpu; /* of the granule start */
    uint64_t off, n;
    uint32_t id;
};

struct model {
    struct dmacoh_device *dev;
    struct dmacoh_sim *sim;
    uint64_t g, base, bus, ng, size;
    unsigned char *cpu0; /* CPU address of the region's first byte */
    unsigned char kind[M_MAXG];
    struct m_alloc live[M_MAXG];
    unsigned nlive;
    struct m_alloc dead[64]; /* freed allocations, for double frees */
    unsigned ndead;
    struct m_occ occ[64];
    unsigned nocc;
    uint64_t allocs, frees, failures, peak, in_use, occupied;
    uint32_t next_id;
    uint64_t probe_rs; /* for the random probes of dmacoh_region_find */
};

static unsigned char pat(uint32_t id, uint64_t i)
{
    return (unsigned char)(id * 151u + (uint32_t)i * 7u + (uint32_t)(i >> 8) * 13u + 1u);
}

static void fill(unsigned char *p, uint64_t len, uint32_t id)
{
    for (uint64_t i = 0; i < len; i++)
        p[i] = pat(id, i);
}

static void verify(const unsigned char *p, uint64_t len, uint32_t id, const char *what, uint64_t h)
{
    for (uint64_t i = 0; i < len; i++)
        CHECK(p[i] == pat(id, i),
              "%s at 0x%" PRIx64 " (id %u, %" PRIu64 " bytes): byte %" PRIu64
              " is 0x%02x, want 0x%02x: "
              "another allocation overlapped it",
              what, h, id, len, i, p[i], pat(id, i));
}

static bool m_range_free(const struct model *m, uint64_t off, uint64_t n)
{
    for (uint64_t i = off; i < off + n; i++)
        if (m->kind[i] != K_FREE)
            return false;
    return true;
}

/* True if n free granules exist at an absolute index that is a multiple of t_pow2_ceil(n). */
static bool m_fits(const struct model *m, uint64_t n)
{
    uint64_t align = t_pow2_ceil(n), base_g = m->base / m->g;

    for (uint64_t off = 0; off + n <= m->ng; off++)
        if ((base_g + off) % align == 0 && m_range_free(m, off, n))
            return true;
    return false;
}

static void m_set(struct model *m, uint64_t off, uint64_t n, unsigned char head, unsigned char cont)
{
    m->kind[off] = head;
    for (uint64_t i = off + 1; i < off + n; i++)
        m->kind[i] = cont;
}

struct walk_rec {
    struct dmacoh_extent e[M_MAXG + 1];
    unsigned n;
};

static int walk_cb(void *user, const struct dmacoh_extent *e)
{
    struct walk_rec *w = (struct walk_rec *)user;

    if (w->n > M_MAXG)
        return 1;
    w->e[w->n++] = *e;
    return 0;
}

/* Compares everything the library shows with the model. */
static void m_check(struct model *m, const char *after)
{
    static struct walk_rec w;
    struct dmacoh_region_stats st = t_region_stats(m->dev);
    uint64_t largest = 0, run = 0, fb = 0, fails = 0;
    unsigned k = 0;

    CHECK(dmacoh_check(m->dev), "dmacoh_check false after %s", after);
    CHECK(st.in_use == m->in_use && st.live == m->nlive && st.occupied == m->occupied,
          "after %s: stats in_use 0x%" PRIx64 " live %" PRIu64 " occupied 0x%" PRIx64
          ", model 0x%" PRIx64 " %u 0x%" PRIx64,
          after, st.in_use, st.live, st.occupied, m->in_use, m->nlive, m->occupied);
    for (uint64_t i = 0; i < m->ng; i++) {
        run = m->kind[i] == K_FREE ? run + 1 : 0;
        if (run > largest)
            largest = run;
    }
    CHECK(st.largest_free == largest * m->g,
          "after %s: largest_free 0x%" PRIx64 ", model 0x%" PRIx64, after, st.largest_free,
          largest * m->g);
    CHECK(st.allocs == m->allocs && st.frees == m->frees && st.failures == m->failures &&
              st.peak == m->peak && st.fallbacks == 0,
          "after %s: allocs/frees/failures/peak %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/0x%" PRIx64
          ", model %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/0x%" PRIx64,
          after, st.allocs, st.frees, st.failures, st.peak, m->allocs, m->frees, m->failures,
          m->peak);
    dmacoh_device_counters(m->dev, &fb, &fails);
    T_EQ_U64(fb, 0);
    T_EQ_U64(fails, m->failures);
    /* The walk lists the model's extents, in order. */
    w.n = 0;
    T_OK(dmacoh_region_walk(m->dev, walk_cb, &w));
    for (uint64_t i = 0; i < m->ng; k++) {
        uint64_t j = i + 1;
        int kind;

        if (m->kind[i] == K_FREE) {
            while (j < m->ng && m->kind[j] == K_FREE)
                j++;
            kind = DMACOH_EXTENT_FREE;
        } else {
            unsigned char cont = m->kind[i] == K_AHEAD ? K_ACONT : K_OCONT;

            while (j < m->ng && m->kind[j] == cont)
                j++;
            kind = m->kind[i] == K_AHEAD ? DMACOH_EXTENT_ALLOC : DMACOH_EXTENT_OCCUPIED;
        }
        CHECK(k < w.n && w.e[k].offset == i * m->g && w.e[k].size == (j - i) * m->g &&
                  w.e[k].kind == kind && w.e[k].dma == m->base + i * m->g,
              "after %s: extent %u of the walk is not kind %d at 0x%" PRIx64 "+0x%" PRIx64, after,
              k, kind, i * m->g, (j - i) * m->g);
        i = j;
    }
    CHECK(k == w.n, "after %s: the walk has %u extents, the model %u", after, w.n, k);
    /* dmacoh_region_find at random bytes answers the extent the walk listed around it. */
    for (unsigned p = 0; p < 4; p++) {
        uint64_t off = rnd(&m->probe_rs, m->size);
        struct dmacoh_extent e;
        unsigned x = 0;

        while (x + 1 < w.n && w.e[x + 1].offset <= off)
            x++;
        memset(&e, 0, sizeof(e));
        T_OK(dmacoh_region_find(m->dev, m->cpu0 + off, &e));
        CHECK(e.offset == w.e[x].offset && e.size == w.e[x].size && e.kind == w.e[x].kind &&
                  e.dma == w.e[x].dma,
              "after %s: region_find at +0x%" PRIx64 " gives kind %d 0x%" PRIx64 "+0x%" PRIx64
              ", the walk kind %d 0x%" PRIx64 "+0x%" PRIx64,
              after, off, e.kind, e.offset, e.size, w.e[x].kind, w.e[x].offset, w.e[x].size);
    }
}

static void m_verify_all(const struct model *m)
{
    for (unsigned i = 0; i < m->nlive; i++)
        verify(m->live[i].cpu, m->live[i].size, m->live[i].id, "live allocation", m->live[i].h);
    for (unsigned i = 0; i < m->nocc; i++)
        verify(m->occ[i].cpu, m->occ[i].n * m->g, m->occ[i].id, "occupied range",
               m->base + m->occ[i].off * m->g);
}

static void op_alloc(struct model *m, uint64_t *rs)
{
    uint64_t n = 1 + (rnd(rs, 4) ? rnd(rs, 4) : rnd(rs, 32));
    size_t size = (size_t)((n - 1) * m->g + 1 + rnd(rs, m->g));
    unsigned flags = rnd(rs, 4) == 0 ? DMACOH_ALLOC_NOZERO : 0;
    bool fits = m_fits(m, n);
    unsigned char *cpu = NULL;
    void *c = NULL;
    uint64_t h = 0, off;
    struct m_alloc *a;
    int r = dmacoh_alloc_coherent(m->dev, size, flags, 0, &c, &h);

    if (r) {
        CHECK(r == DMACOH_ENOMEM && !fits,
              "alloc of %" PRIu64 " granules: %s, while an aligned free run %s", n,
              dmacoh_err_name(r), fits ? "exists" : "does not exist");
        m->failures++;
        return;
    }
    cpu = c;
    CHECK(fits, "alloc of %" PRIu64 " granules succeeded at 0x%" PRIx64 " with no room", n, h);
    check_aligned(h, cpu, size, m->g, true, "model", m->base);
    CHECK(h >= m->base && h - m->base + n * m->g <= m->size && (h - m->base) % m->g == 0,
          "handle 0x%" PRIx64 " is not inside the region", h);
    off = (h - m->base) / m->g;
    CHECK(m_range_free(m, off, n),
          "alloc of %" PRIu64 " granules at 0x%" PRIx64 " overlaps a live allocation or an "
          "occupied range",
          n, h);
    T_EQ_PTR(cpu, m->cpu0 + (h - m->base));
    if (!(flags & DMACOH_ALLOC_NOZERO))
        for (uint64_t i = 0; i < n * m->g; i++)
            CHECK(cpu[i] == 0, "alloc at 0x%" PRIx64 ": byte %" PRIu64 " is not zeroed", h, i);
    a = &m->live[m->nlive++];
    a->cpu = cpu;
    a->h = h;
    a->off = off;
    a->n = n;
    a->size = size;
    a->id = m->next_id++;
    fill(cpu, size, a->id);
    m_set(m, off, n, K_AHEAD, K_ACONT);
    m->in_use += n * m->g;
    if (m->in_use > m->peak)
        m->peak = m->in_use;
    m->allocs++;
}

static void op_free(struct model *m, uint64_t *rs)
{
    unsigned i = (unsigned)rnd(rs, m->nlive);
    struct m_alloc a = m->live[i];
    /* "size compared in whole granules": any size with the same granule count will do. */
    size_t size = rnd(rs, 2) ? a.size : (size_t)((a.n - 1) * m->g + 1 + rnd(rs, m->g));

    verify(a.cpu, a.size, a.id, "allocation before free", a.h);
    T_OK(dmacoh_free_coherent(m->dev, size, a.cpu, a.h));
    m->live[i] = m->live[--m->nlive];
    m_set(m, a.off, a.n, K_FREE, K_FREE);
    m->in_use -= a.n * m->g;
    m->frees++;
    if (m->ndead < 64)
        m->dead[m->ndead++] = a;
    else
        m->dead[rnd(rs, 64)] = a;
}

/* One bad free of a random kind: it must fail with the documented code and change nothing. */
static void op_bad_free(struct model *m, uint64_t *rs)
{
    struct dmacoh_region_stats before = t_region_stats(m->dev), after;
    unsigned kind = (unsigned)rnd(rs, 8);
    unsigned char foreign[64];
    unsigned char *cpu = NULL;
    uint64_t h = 0;
    size_t size = 0;
    int want = 0, r;
    const char *what;

    if (m->nlive == 0 && kind < 4)
        kind = 4 + (unsigned)rnd(rs, 4);
    if (kind <= 3) {
        const struct m_alloc *a = &m->live[rnd(rs, m->nlive)];

        cpu = a->cpu;
        h = a->h;
        size = a->size;
        if (kind == 0) {
            /* A size with a different granule count. */
            uint64_t n2 =
                (a->n > 1 && rnd(rs, 2)) ? a->n - 1 - rnd(rs, a->n - 1) : a->n + 1 + rnd(rs, 3);
            size = (size_t)(n2 * m->g - rnd(rs, m->g));
            want = DMACOH_EINVAL;
            what = "free with a wrong size";
        } else if (kind == 1) {
            uint64_t d = rnd(rs, 2) ? m->g * (1 + rnd(rs, 8)) : 1 + rnd(rs, m->g - 1);

            h = rnd(rs, 2) ? h + d : h - d;
            want = DMACOH_EINVAL;
            what = "free with a wrong handle";
        } else if (kind == 2 && a->n > 1) {
            uint64_t k = 1 + rnd(rs, a->n - 1);

            cpu += k * m->g;
            h += k * m->g;
            size = (size_t)((a->n - k) * m->g);
            want = DMACOH_EFAULT;
            what = "free of an interior granule";
        } else {
            uint64_t j = 1 + rnd(rs, a->n * m->g - 1);

            if (j % m->g == 0)
                j--;
            cpu += j;
            h += j;
            want = DMACOH_EFAULT;
            what = "free of an interior pointer";
        }
    } else if (kind == 4 && m->ndead) {
        const struct m_alloc *a = &m->dead[rnd(rs, m->ndead)];

        if (m->kind[a->off] == K_AHEAD)
            return; /* reused by a live allocation: freeing it again would be legitimate */
        cpu = a->cpu;
        h = a->h;
        size = a->size;
        want = m->kind[a->off] == K_OHEAD ? DMACOH_EPERM : DMACOH_EFAULT;
        what = "double free";
    } else if (kind == 5 && m->nocc) {
        const struct m_occ *o = &m->occ[rnd(rs, m->nocc)];

        cpu = o->cpu;
        h = m->base + o->off * m->g;
        size = (size_t)(o->n * m->g);
        want = DMACOH_EPERM;
        what = "free of an occupied range";
    } else if (kind == 6) {
        uint64_t off = rnd(rs, m->ng);

        if (m->kind[off] != K_FREE)
            return;
        cpu = m->cpu0 + off * m->g;
        h = m->base + off * m->g;
        size = (size_t)m->g;
        want = DMACOH_EFAULT;
        what = "free of memory never allocated";
    } else {
        memset(foreign, 0, sizeof(foreign));
        cpu = foreign;
        h = (uint64_t)(uintptr_t)foreign;
        size = sizeof(foreign);
        want = DMACOH_EFAULT;
        what = "free of a foreign pointer";
    }
    t_log_reset();
    r = dmacoh_free_coherent(m->dev, size, cpu, h);
    CHECK(r == want, "%s (cpu %p size %zu handle 0x%" PRIx64 "): got %s, want %s", what,
          (void *)cpu, size, h, dmacoh_err_name(r), dmacoh_err_name(want));
    CHECK(t_log_count() > 0, "%s was not reported in the log", what);
    after = t_region_stats(m->dev);
    CHECK(after.in_use == before.in_use && after.live == before.live &&
              after.frees == before.frees && after.occupied == before.occupied,
          "%s changed the region's statistics", what);
    m_check(m, what);
}

static void op_occupy(struct model *m, uint64_t *rs)
{
    uint64_t da = m->base - 2 * m->g + rnd(rs, m->size + 3 * m->g);
    uint64_t size = 1 + rnd(rs, 4 * m->g), off, first, last;
    void *cpu = NULL;
    int want, r;

    if (rnd(rs, 2))
        da &= ~(m->g - 1);
    if (da < m->base || da - m->base >= m->size || size > m->size - (da - m->base)) {
        want = DMACOH_ERANGE;
    } else {
        off = da - m->base;
        first = off / m->g;
        last = (off + size - 1) / m->g;
        want = m_range_free(m, first, last - first + 1) ? 0 : DMACOH_EBUSY;
    }
    r = dmacoh_mark_declared_memory_occupied(m->dev, da, size, &cpu);
    CHECK(r == want, "mark occupied 0x%" PRIx64 "+0x%" PRIx64 ": got %s, want %s", da, size,
          dmacoh_err_name(r), dmacoh_err_name(want));
    if (r == 0) {
        struct m_occ *o = &m->occ[m->nocc++];

        off = da - m->base;
        first = off / m->g;
        last = (off + size - 1) / m->g;
        T_EQ_PTR(cpu, m->cpu0 + off);
        o->off = first;
        o->n = last - first + 1;
        o->cpu = m->cpu0 + first * m->g;
        o->id = m->next_id++;
        fill(o->cpu, o->n * m->g, o->id);
        m_set(m, first, o->n, K_OHEAD, K_OCONT);
        m->occupied += o->n * m->g;
    }
}

static void model_run(uint64_t g, uint64_t ng, uint64_t dbase, uint64_t bus_off, uint64_t seed,
                      unsigned steps)
{
    static struct model m;
    struct dmacoh_sim *sim = new_sim(NULL);
    struct dmacoh_device dev;
    uint64_t rs = seed;

    T_ASSERT(ng <= M_MAXG);
    t_add_memory(sim, MEM_BUS, MEM_SIZE, DMACOH_MEMORY_MAP, false);
    T_OK(dmacoh_device_init(&dev, "model", NULL, dmacoh_sim_platform(sim)));
    declare(&dev, MEM_BUS + bus_off, dbase, ng * g, g, DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE);
    memset(&m, 0, sizeof(m));
    m.dev = &dev;
    m.sim = sim;
    m.g = g;
    m.ng = ng;
    m.size = ng * g;
    m.base = dbase;
    m.bus = MEM_BUS + bus_off;
    m.next_id = 1;
    m.probe_rs = seed ^ 0xf00d;
    m.cpu0 = dmacoh_dma_to_virt(&dev, dbase);
    T_ASSERT(m.cpu0 != NULL);
    m_check(&m, "declare");
    for (unsigned step = 0; step < steps; step++) {
        uint64_t p = rnd(&rs, 100);
        const char *what;

        if (p < 40 && m.nlive < M_MAXG) {
            op_alloc(&m, &rs);
            what = "alloc";
        } else if (p < 72 && m.nlive) {
            op_free(&m, &rs);
            what = "free";
        } else if (p < 92) {
            op_bad_free(&m, &rs);
            what = "bad free";
        } else if (p < 96 && m.nocc < 64 && m.occupied < m.size / 8) {
            op_occupy(&m, &rs);
            what = "mark occupied";
        } else {
            m_verify_all(&m);
            what = "verify";
        }
        m_check(&m, what);
    }
    m_verify_all(&m);
    while (m.nlive)
        op_free(&m, &rs);
    m_check(&m, "freeing everything");
    {
        struct dmacoh_extent e;

        T_ERR(dmacoh_region_find(&dev, m.cpu0 - 1, &e), DMACOH_ERANGE);
        T_ERR(dmacoh_region_find(&dev, m.cpu0 + m.size, &e), DMACOH_ERANGE);
    }
    T_ASSERT(m.allocs > steps / 5 && m.failures > 0); /* both outcomes were exercised */
    /* Occupied ranges do not keep a non-forced release from succeeding. */
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

static void model_page_granule(void)
{
    model_run(PG, 256, 0x3000, 0x5000, 0xb0b0, 4000);
}

static void model_small_granule(void)
{
    model_run(64, 512, 0x12345040, 0x1040, 0xb0b1, 4000);
}

/* ---- (c) ascending order ---- */

struct held {
    void *cpu;
    uint64_t h;
    size_t size;
};

/* Allocates `size` until the region is full (optionally interleaving other sizes, which are not
 * frees) and asserts ascending handles. Returns the number of `size` allocations. */
static unsigned ascend(struct dmacoh_device *dev, size_t size, bool interleave, uint64_t *rs,
                       struct held *keep, unsigned *nkeep, unsigned cap)
{
    uint64_t prev = 0;
    unsigned count = 0;

    while (*nkeep < cap) {
        void *cpu = NULL;
        uint64_t h = 0;
        int r;

        if (interleave && rnd(rs, 2)) {
            size_t other = (size_t)(1 + rnd(rs, 3 * PG));

            if (dmacoh_alloc_coherent(dev, other, DMACOH_ALLOC_NOZERO, 0, &cpu, &h) == 0) {
                keep[*nkeep].cpu = cpu;
                keep[*nkeep].h = h;
                keep[(*nkeep)++].size = other;
            }
            if (*nkeep == cap)
                break;
        }
        r = dmacoh_alloc_coherent(dev, size, DMACOH_ALLOC_NOZERO, 0, &cpu, &h);
        if (r) {
            T_ERR(r, DMACOH_ENOMEM);
            break;
        }
        CHECK(count == 0 || h > prev,
              "allocation %u of size %zu at 0x%" PRIx64 " is not above the previous 0x%" PRIx64,
              count, size, h, prev);
        prev = h;
        count++;
        keep[*nkeep].cpu = cpu;
        keep[*nkeep].h = h;
        keep[(*nkeep)++].size = size;
    }
    return count;
}

static void release_all(struct dmacoh_device *dev, struct held *keep, unsigned *nkeep)
{
    while (*nkeep) {
        (*nkeep)--;
        T_OK(dmacoh_free_coherent(dev, keep[*nkeep].size, keep[*nkeep].cpu, keep[*nkeep].h));
    }
}

static void ascending_order(void)
{
    static struct held keep[1024];
    static const uint64_t granules[] = {PG, 64};
    struct dmacoh_sim *sim = new_sim(NULL);
    uint64_t rs = 0xa5c;

    t_add_memory(sim, MEM_BUS, MEM_SIZE, DMACOH_MEMORY_MAP, false);
    for (unsigned gi = 0; gi < 4; gi++) {
        uint64_t g = granules[gi & 1];
        /* First fit keeps the order between any two frees, after any history; best fit keeps
         * it while nothing has been freed since the region was last empty (region.h). */
        unsigned placement = gi < 2 ? DMACOH_PLACE_FIRST_FIT : DMACOH_PLACE_BEST_FIT;
        static const unsigned first_fit_variants[] = {0, 1, 2, 3}, best_fit_variants[] = {0, 4};
        const unsigned *variants = gi < 2 ? first_fit_variants : best_fit_variants;
        unsigned nvariants = gi < 2 ? 4 : 2;
        const size_t sizes[] = {1,
                                (size_t)g,
                                (size_t)g + 1,
                                2 * (size_t)g,
                                3 * (size_t)g,
                                5 * (size_t)g - 7,
                                16 * (size_t)g,
                                100};
        struct dmacoh_device dev;
        unsigned nkeep = 0;

        T_OK(dmacoh_device_init(&dev, "ascend", NULL, dmacoh_sim_platform(sim)));
        declare_placed(&dev, MEM_BUS + 0x3000, 0x3000, 128 * g, g,
                       DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, placement);
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            for (unsigned vi = 0; vi < nvariants; vi++) {
                unsigned variant = variants[vi], count;

                if (variant >= 1 && variant <= 3) {
                    /* Fragment the region first: random sizes, then free about half. */
                    for (unsigned i = 0; i < 40; i++) {
                        size_t sz = (size_t)(1 + rnd(&rs, 4 * g));
                        void *cpu = NULL;
                        uint64_t h = 0;

                        if (dmacoh_alloc_coherent(&dev, sz, 0, 0, &cpu, &h) == 0) {
                            keep[nkeep].cpu = cpu;
                            keep[nkeep].h = h;
                            keep[nkeep++].size = sz;
                        }
                    }
                    for (unsigned i = 0; i < nkeep; i++) {
                        if (rnd(&rs, 2)) {
                            T_OK(dmacoh_free_coherent(&dev, keep[i].size, keep[i].cpu, keep[i].h));
                            keep[i--] = keep[--nkeep];
                        }
                    }
                }
                count = ascend(&dev, sizes[s], variant >= 3, &rs, keep, &nkeep, 1024);
                CHECK(count >= 1, "no allocation of size %zu (granule 0x%" PRIx64 ")", sizes[s], g);
                release_all(&dev, keep, &nkeep);
                T_ASSERT(dmacoh_check(&dev));
            }
        }
        T_EQ_U64(t_region_stats(&dev).in_use, 0);
        T_OK(dmacoh_release_coherent_memory(&dev, 0));
        T_OK(dmacoh_device_fini(&dev));
    }
    T_OK(dmacoh_sim_destroy(sim));
}

/* Ascending order holds around occupied ranges too. */
static void ascending_order_with_occupied(void)
{
    static struct held keep[256];
    struct dmacoh_sim *sim = new_sim(NULL);
    struct dmacoh_device dev;
    unsigned nkeep = 0, count;
    uint64_t rs = 0xa5d;
    void *cpu = NULL;

    t_add_memory(sim, MEM_BUS, MEM_SIZE, DMACOH_MEMORY_MAP, false);
    T_OK(dmacoh_device_init(&dev, "ascocc", NULL, dmacoh_sim_platform(sim)));
    declare(&dev, MEM_BUS, 0x12345000, 128 * PG, PG, DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE);
    T_OK(dmacoh_mark_declared_memory_occupied(&dev, 0x12345000 + 5 * PG, 3 * PG, &cpu));
    T_OK(dmacoh_mark_declared_memory_occupied(&dev, 0x12345000 + 40 * PG, 1, &cpu));
    T_OK(dmacoh_mark_declared_memory_occupied(&dev, 0x12345000 + 77 * PG, 9 * PG, &cpu));
    count = ascend(&dev, 2 * PG, false, &rs, keep, &nkeep, 256);
    T_ASSERT(count >= 50);
    release_all(&dev, keep, &nkeep);
    count = ascend(&dev, PG + 1, true, &rs, keep, &nkeep, 256);
    T_ASSERT(count >= 10);
    release_all(&dev, keep, &nkeep);
    T_ASSERT(dmacoh_check(&dev));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* ---- (d) exhaustion and recovery ---- */

/* Fills the region with one-granule allocations, frees them in random order, and returns
 * the number it held. */
static unsigned exhaust(struct dmacoh_device *dev, uint64_t g, unsigned alloc_flags, uint64_t *rs)
{
    struct dmacoh_region_stats st = t_region_stats(dev);
    uint64_t ng = st.size / g;
    struct held *keep = calloc((size_t)ng + 1, sizeof(*keep));
    unsigned n = 0;
    void *cpu = NULL;
    uint64_t h = 0;
    int r;

    T_ASSERT(keep != NULL);
    for (;;) {
        size_t sz = (size_t)(1 + rnd(rs, g)); /* any size up to one granule */

        r = dmacoh_alloc_coherent(dev, sz, alloc_flags, 0, &cpu, &h);
        if (r)
            break;
        T_ASSERT(n < ng);
        T_EQ_U64(h % g, 0);
        for (unsigned i = 0; i < n; i++)
            CHECK(keep[i].h != h, "handle 0x%" PRIx64 " handed out twice", h);
        keep[n].cpu = cpu;
        keep[n].h = h;
        keep[n++].size = sz;
    }
    T_ERR(r, DMACOH_ENOMEM);
    CHECK(n == ng, "the region of %" PRIu64 " granules held only %u one-granule allocations", ng,
          n);
    st = t_region_stats(dev);
    T_EQ_U64(st.in_use, st.size);
    T_EQ_U64(st.live, n);
    T_EQ_U64(st.largest_free, 0);
    T_ASSERT(dmacoh_check(dev));
    /* Free in random order. */
    for (unsigned left = n; left; left--) {
        unsigned i = (unsigned)rnd(rs, left);

        T_OK(dmacoh_free_coherent(dev, keep[i].size, keep[i].cpu, keep[i].h));
        keep[i] = keep[left - 1];
    }
    st = t_region_stats(dev);
    T_EQ_U64(st.in_use, 0);
    T_EQ_U64(st.live, 0);
    T_EQ_U64(st.largest_free, st.size);
    T_ASSERT(dmacoh_check(dev));
    free(keep);
    return n;
}

static void exhaustion_and_recovery(void)
{
    static const struct {
        uint64_t g, ng, dbase, bus_off;
        int flags;
        unsigned alloc_flags;
    } cases[] = {
        {PG, 64, 0x40000, 0, DMACOH_MEMORY_EXCLUSIVE, 0},
        {PG, 256, 0x12300000, 0x100000, DMACOH_MEMORY_EXCLUSIVE, DMACOH_ALLOC_NOZERO},
        {64, 128, 0x12346000, 0x2000, DMACOH_MEMORY_EXCLUSIVE, 0},
        {16, 1000, 0x80000000, 0x4000, DMACOH_MEMORY_EXCLUSIVE, DMACOH_ALLOC_NOZERO},
        /* Not exclusive, but NOFALLBACK: the same behaviour. */
        {PG, 100, 0x200000, 0x200000, 0, DMACOH_ALLOC_NOFALLBACK},
    };
    struct dmacoh_sim *sim = new_sim(NULL);
    uint64_t rs = 0xe4;

    t_add_memory(sim, MEM_BUS, MEM_SIZE, DMACOH_MEMORY_MAP, false);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct dmacoh_device dev;
        uint64_t g = cases[c].g, size = cases[c].ng * g;
        void *cpu = NULL;
        uint64_t h = 0;

        T_OK(dmacoh_device_init(&dev, "exhaust", NULL, dmacoh_sim_platform(sim)));
        declare(&dev, MEM_BUS + cases[c].bus_off, cases[c].dbase, size, g,
                DMACOH_MEMORY_MAP | cases[c].flags);
        for (unsigned round = 0; round < 3; round++)
            T_EQ_U64(exhaust(&dev, g, cases[c].alloc_flags, &rs), cases[c].ng);
        /* The whole region (its base is aligned to its size rounded to a power of two) in one
         * allocation. */
        T_OK(dmacoh_alloc_coherent(&dev, (size_t)size, cases[c].alloc_flags, 0, &cpu, &h));
        T_EQ_U64(h, cases[c].dbase);
        T_EQ_PTR(cpu, dmacoh_dma_to_virt(&dev, cases[c].dbase));
        T_EQ_U64(t_region_stats(&dev).in_use, size);
        T_ERR(dmacoh_alloc_coherent(&dev, 1, cases[c].alloc_flags, 0, &cpu, &h), DMACOH_ENOMEM);
        T_OK(dmacoh_free_coherent(&dev, (size_t)size, dmacoh_dma_to_virt(&dev, cases[c].dbase),
                                  cases[c].dbase));
        T_EQ_U64(exhaust(&dev, g, cases[c].alloc_flags, &rs), cases[c].ng);
        T_ASSERT(dmacoh_check(&dev));
        T_OK(dmacoh_release_coherent_memory(&dev, 0));
        T_OK(dmacoh_device_fini(&dev));
    }
    T_OK(dmacoh_sim_destroy(sim));
}

/* A base not aligned to the region's size: the count still matches, but the whole region can
 * not be one allocation (its handle would break the alignment promise); the largest aligned
 * block that fits can. A non-exclusive region then falls back to system memory. */
static void exhaustion_misaligned_base(void)
{
    struct dmacoh_sim *sim = new_sim(NULL);
    struct dmacoh_device dev;
    struct dmacoh_region_stats st;
    uint64_t rs = 0xe5, h = 0;
    void *cpu = NULL;

    t_add_memory(sim, MEM_BUS, MEM_SIZE, DMACOH_MEMORY_MAP, false);
    T_OK(dmacoh_device_init(&dev, "misaligned", NULL, dmacoh_sim_platform(sim)));
    declare(&dev, MEM_BUS + 0x3000, 0x3000, 16 * PG, PG, DMACOH_MEMORY_MAP);
    T_EQ_U64(exhaust(&dev, PG, DMACOH_ALLOC_NOFALLBACK, &rs), 16);
    /* [0x3000, 0x13000): no 64 KiB-aligned 64 KiB block inside. */
    T_ERR(dmacoh_alloc_coherent(&dev, 16 * PG, DMACOH_ALLOC_NOFALLBACK, 0, &cpu, &h),
          DMACOH_ENOMEM);
    T_OK(dmacoh_alloc_coherent(&dev, 8 * PG, DMACOH_ALLOC_NOFALLBACK, 0, &cpu, &h));
    T_EQ_U64(h, 0x8000);
    /* Without NOFALLBACK the same request is served from system memory, aligned. */
    {
        void *c2 = NULL;
        uint64_t h2 = 0;

        T_OK(dmacoh_alloc_coherent(&dev, 16 * PG, 0, 0, &c2, &h2));
        T_EQ_INT(dmacoh_origin_of(&dev, c2), DMACOH_ORIGIN_SYSTEM);
        check_aligned(h2, c2, 16 * PG, PG, true, "fallback", 0);
        st = t_region_stats(&dev);
        T_EQ_U64(st.fallbacks, 1);
        T_OK(dmacoh_free_coherent(&dev, 16 * PG, c2, h2));
    }
    T_OK(dmacoh_free_coherent(&dev, 8 * PG, cpu, h));
    T_ASSERT(dmacoh_check(&dev));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* ---- (e) the opt-in alignment cap and bad placement options ---- */

/* With a 64 KiB cap a 40-page buffer (256 KiB-aligned uncapped) is 64 KiB-aligned, and so fits
 * where an uncapped region has no 256 KiB-aligned room; smaller buffers keep the full promise.
 * Bad caps and placements are refused. */
static void align_cap_limits_alignment(void)
{
    struct dmacoh_sim *sim = new_sim(NULL);
    struct dmacoh_device dev, plain;
    struct dmacoh_declare_opts o;
    void *cpu[3];
    dmacoh_dma_addr_t h[3];

    t_add_memory(sim, MEM_BUS, MEM_SIZE, DMACOH_MEMORY_MAP, false);
    T_OK(dmacoh_device_init(&dev, "capped", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_init(&plain, "plain", NULL, dmacoh_sim_platform(sim)));
    memset(&o, 0, sizeof(o));
    o.granule = PG;
    o.align_cap = 0x3000; /* not a power of two */
    T_ERR(dmacoh_declare_coherent_memory(&dev, MEM_BUS, 0x10000, 64 * PG, DMACOH_MEMORY_MAP, &o,
                                         NULL),
          DMACOH_EINVAL);
    o.align_cap = PG / 2; /* below the granule */
    T_ERR(dmacoh_declare_coherent_memory(&dev, MEM_BUS, 0x10000, 64 * PG, DMACOH_MEMORY_MAP, &o,
                                         NULL),
          DMACOH_EINVAL);
    o.align_cap = 0;
    o.placement = 7;
    T_ERR(dmacoh_declare_coherent_memory(&dev, MEM_BUS, 0x10000, 64 * PG, DMACOH_MEMORY_MAP, &o,
                                         NULL),
          DMACOH_EINVAL);
    /* Both regions: 64 pages at device 0x10000 (64 KiB-aligned, not 256 KiB-aligned). */
    o.placement = DMACOH_PLACE_BEST_FIT;
    o.align_cap = 0x10000;
    T_OK(dmacoh_declare_coherent_memory(&dev, MEM_BUS, 0x10000, 64 * PG, DMACOH_MEMORY_MAP, &o,
                                        NULL));
    T_OK(dmacoh_declare_coherent_memory(&plain, MEM_BUS + 64 * PG, 0x10000, 64 * PG,
                                        DMACOH_MEMORY_MAP, NULL, NULL));
    /* 40 pages: 256 KiB alignment uncapped. The plain region [0x10000, 0x50000) holds a
     * 256 KiB-aligned start only at 0x40000, with 16 pages after it: no room. */
    T_ERR(dmacoh_alloc_coherent(&plain, 40 * PG, DMACOH_ALLOC_NOFALLBACK, 0, &cpu[0], &h[0]),
          DMACOH_ENOMEM);
    T_OK(dmacoh_alloc_coherent(&dev, 40 * PG, DMACOH_ALLOC_NOFALLBACK, 0, &cpu[0], &h[0]));
    T_EQ_U64(h[0] % 0x10000, 0);
    T_ASSERT(h[0] % 0x40000 != 0);
    /* Below the cap the full promise holds. */
    T_OK(dmacoh_alloc_coherent(&dev, 3 * PG, DMACOH_ALLOC_NOFALLBACK, 0, &cpu[1], &h[1]));
    T_EQ_U64(h[1] % (4 * PG), 0);
    T_OK(dmacoh_free_coherent(&dev, 40 * PG, cpu[0], h[0]));
    T_OK(dmacoh_free_coherent(&dev, 3 * PG, cpu[1], h[1]));
    T_ASSERT(dmacoh_check(&dev) && dmacoh_check(&plain));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_release_coherent_memory(&plain, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_device_fini(&plain));
    T_OK(dmacoh_sim_destroy(sim));
}

static const struct t_case cases[] = {
    T_CASE(alignment_random_regions),      T_CASE(alignment_fixed_bases),
    T_CASE(alignment_system_fallback),     T_CASE(model_page_granule),
    T_CASE(model_small_granule),           T_CASE(ascending_order),
    T_CASE(ascending_order_with_occupied), T_CASE(exhaustion_and_recovery),
    T_CASE(exhaustion_misaligned_base),    T_CASE(align_cap_limits_alignment),
};

T_MAIN(cases)
