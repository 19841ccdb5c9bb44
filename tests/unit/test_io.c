/* SPDX-License-Identifier: MIT */
/*
 * test_io.c - the IO accessors of include/dmacoh/io.h and their kernel names in
 * dma-mapping.h: single accesses of every width (round trips, little-endian byte order in
 * memory and on the simulated bus), the block copies memcpy_toio / memcpy_fromio / memset_io
 * for every source alignment, destination alignment (0..7) and length (0..70) against plain
 * memcpy/memset, with guard bytes around the target, on plain memory and inside IO regions
 * with access-width caps of 8, 4, 2 and 1; dmacoh_io_width_at() for regions declared with a
 * platform width and with dmacoh_declare_opts.io_width; and the access widths the block copies
 * issue, observed by compiling src/core/io.c a second time into this test with counting raw
 * accessors (the same source the library is built from).
 */
#include <dmacoh/dmacoh.h>
#include <dmacoh/dma-mapping.h>
#include <dmacoh/sim.h>

#include "t.h"

#include <string.h>
#include <sys/mman.h>

#define PG      UINT64_C(0x1000)
#define MEM_BUS UINT64_C(0x100000000)
#define AREA    128 /* bytes of a target area: 16 guard, up to 7 + 70 copied, guard */
#define GUARD   16
#define MAXLEN  70

#define CHECK(c, ...)                                                                              \
    do {                                                                                           \
        if (!(c))                                                                                  \
            t_fail(__FILE__, __LINE__, __VA_ARGS__);                                               \
    } while (0)

/* ---- single accesses ---- */

static void accessors_round_trip(void)
{
    _Alignas(8) unsigned char buf[64];
    uint64_t rs = 0x10;

    for (unsigned iter = 0; iter < 2000; iter++) {
        uint64_t v = t_rand(&rs);
        unsigned off8 = (unsigned)(t_rand(&rs) % 8) * 8;

        memset(buf, 0xcc, sizeof(buf));
        dmacoh_iowrite8((uint8_t)v, buf + off8 + 3);
        T_EQ_INT(buf[off8 + 3], (uint8_t)v);
        T_EQ_INT(dmacoh_ioread8(buf + off8 + 3), (uint8_t)v);
        T_EQ_INT(buf[off8 + 2], 0xcc);
        T_EQ_INT(buf[off8 + 4], 0xcc);

        memset(buf, 0xcc, sizeof(buf));
        dmacoh_iowrite16((uint16_t)v, buf + off8 + 2);
        for (unsigned i = 0; i < 2; i++)
            T_EQ_INT(buf[off8 + 2 + i], (uint8_t)(v >> (8 * i))); /* little-endian */
        T_EQ_INT(dmacoh_ioread16(buf + off8 + 2), (uint16_t)v);
        T_EQ_INT(buf[off8 + 1], 0xcc);
        T_EQ_INT(buf[off8 + 4], 0xcc);

        memset(buf, 0xcc, sizeof(buf));
        dmacoh_iowrite32((uint32_t)v, buf + off8 + 4);
        for (unsigned i = 0; i < 4; i++)
            T_EQ_INT(buf[off8 + 4 + i], (uint8_t)(v >> (8 * i)));
        T_EQ_U64(dmacoh_ioread32(buf + off8 + 4), (uint32_t)v);
        T_EQ_INT(buf[off8 + 3], 0xcc);

        memset(buf, 0xcc, sizeof(buf));
        dmacoh_iowrite64(v, buf + off8);
        for (unsigned i = 0; i < 8; i++)
            T_EQ_INT(buf[off8 + i], (uint8_t)(v >> (8 * i)));
        T_EQ_U64(dmacoh_ioread64(buf + off8), v);
        if (off8 + 8 < sizeof(buf))
            T_EQ_INT(buf[off8 + 8], 0xcc);

        /* The other direction: bytes in memory read as a little-endian value. */
        for (unsigned i = 0; i < 8; i++)
            buf[i] = (unsigned char)(v >> (8 * (7 - i)));
        T_EQ_U64(dmacoh_ioread64(buf), __builtin_bswap64(v));
        T_EQ_U64(dmacoh_ioread32(buf), (uint32_t)(__builtin_bswap64(v)));
        T_EQ_U64(dmacoh_ioread16(buf + 6), (uint16_t)(__builtin_bswap64(v) >> 48));

        /* Relaxed forms behave the same. */
        dmacoh_iowrite32_relaxed((uint32_t)v, buf + 8);
        T_EQ_U64(dmacoh_ioread32_relaxed(buf + 8), (uint32_t)v);
        T_EQ_INT(buf[8], (uint8_t)v);
        dmacoh_iowrite64_relaxed(v, buf + 16);
        T_EQ_U64(dmacoh_ioread64_relaxed(buf + 16), v);
        dmacoh_iowrite16_relaxed((uint16_t)v, buf + 24);
        T_EQ_U64(dmacoh_ioread16_relaxed(buf + 24), (uint16_t)v);
        dmacoh_iowrite8_relaxed((uint8_t)v, buf + 26);
        T_EQ_U64(dmacoh_ioread8_relaxed(buf + 26), (uint8_t)v);
    }
}

/* Device memory is little-endian on every host, as with the kernel's ioread32: fixed values
 * against fixed bytes, for every width and layer (ordered, relaxed, kernel names), with the
 * host's own byte order as the control. On a big-endian CPU (s390x in `make cross-test`) a
 * native store puts the bytes the other way round, so an accessor that forgot to swap fails
 * here. Block copies move bytes as they are: no swapping. */
static void accessors_are_little_endian_on_any_host(void)
{
    static const unsigned char le[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    const uint64_t v64 = UINT64_C(0xefcdab8967452301);
    const union {
        uint32_t v;
        unsigned char b[4];
    } probe = {0x01020304u};
    const bool big = probe.b[0] == 0x01;
    _Alignas(8) unsigned char buf[8];
    uint32_t native;

    T_ASSERT(big || probe.b[0] == 0x04); /* one of the two byte orders */
    memcpy(&native, le, 4);
    T_EQ_U64(native, big ? 0x01234567u : 0x67452301u);
    T_EQ_U64(dmacoh_ioread16(le), 0x2301u);
    T_EQ_U64(dmacoh_ioread32(le), 0x67452301u);
    T_EQ_U64(dmacoh_ioread64(le), v64);
    T_EQ_U64(dmacoh_ioread16_relaxed(le + 2), 0x6745u);
    T_EQ_U64(dmacoh_ioread32_relaxed(le + 4), 0xefcdab89u);
    T_EQ_U64(dmacoh_ioread64_relaxed(le), v64);
    T_EQ_U64(ioread32(le), 0x67452301u);
    T_EQ_U64(readl(le + 4), 0xefcdab89u);

    memset(buf, 0, sizeof(buf));
    dmacoh_iowrite64(v64, buf);
    T_ASSERT(memcmp(buf, le, 8) == 0);
    memset(buf, 0, sizeof(buf));
    dmacoh_iowrite32(0x67452301u, buf);
    dmacoh_iowrite16_relaxed(0xab89u, buf + 4);
    iowrite16(0xefcdu, buf + 6);
    T_ASSERT(memcmp(buf, le, 8) == 0);
    memset(buf, 0, sizeof(buf));
    writel(0x67452301u, buf);
    dmacoh_iowrite32_relaxed(0xefcdab89u, buf + 4);
    T_ASSERT(memcmp(buf, le, 8) == 0);
    memset(buf, 0, sizeof(buf));
    dmacoh_iowrite64_relaxed(v64, buf);
    T_ASSERT(memcmp(buf, le, 8) == 0);

    memset(buf, 0, sizeof(buf));
    memcpy_toio(buf, le, 8);
    T_ASSERT(memcmp(buf, le, 8) == 0);
    T_EQ_U64(dmacoh_ioread64(buf), v64);
}

/* The kernel's names (value first, then address) are the same accessors. */
static void accessors_kernel_names(void)
{
    _Alignas(8) unsigned char buf[32];

    memset(buf, 0, sizeof(buf));
    iowrite32(0x11223344u, buf);
    T_EQ_INT(buf[0], 0x44);
    T_EQ_INT(buf[3], 0x11);
    T_EQ_U64(ioread32(buf), 0x11223344u);
    T_EQ_U64(readl(buf), 0x11223344u);
    T_EQ_U64(readl_relaxed(buf), 0x11223344u);
    iowrite16(0xbeef, buf + 4);
    T_EQ_INT(buf[4], 0xef);
    T_EQ_U64(ioread16(buf + 4), 0xbeef);
    T_EQ_U64(readw(buf + 4), 0xbeef);
    iowrite8(0x5a, buf + 6);
    T_EQ_U64(ioread8(buf + 6), 0x5a);
    T_EQ_U64(readb(buf + 6), 0x5a);
    iowrite64(UINT64_C(0x0102030405060708), buf + 8);
    T_EQ_INT(buf[8], 0x08);
    T_EQ_INT(buf[15], 0x01);
    T_EQ_U64(ioread64(buf + 8), UINT64_C(0x0102030405060708));
    T_EQ_U64(readq(buf + 8), UINT64_C(0x0102030405060708));
    writeb(0x11, buf + 16);
    writew(0x2233, buf + 18);
    writel(0x44556677u, buf + 20);
    writeq(UINT64_C(0x8899aabbccddeeff), buf + 24);
    T_EQ_U64(readb(buf + 16), 0x11);
    T_EQ_U64(readw(buf + 18), 0x2233);
    T_EQ_U64(readl(buf + 20), 0x44556677u);
    T_EQ_U64(readq(buf + 24), UINT64_C(0x8899aabbccddeeff));
    T_EQ_INT(buf[18], 0x33);
    T_EQ_INT(buf[20], 0x77);
    T_EQ_INT(buf[24], 0xff);
    writeb_relaxed(0x12, buf);
    writew_relaxed(0x3456, buf + 2);
    writel_relaxed(0x789abcdeu, buf + 4);
    writeq_relaxed(UINT64_C(0x1122334455667788), buf + 8);
    T_EQ_U64(readb_relaxed(buf), 0x12);
    T_EQ_U64(readw_relaxed(buf + 2), 0x3456);
    T_EQ_U64(readl_relaxed(buf + 4), 0x789abcdeu);
    T_EQ_U64(readq_relaxed(buf + 8), UINT64_C(0x1122334455667788));
    T_EQ_INT(buf[2], 0x56);
    T_EQ_INT(buf[8], 0x88);
}

/* ---- simulator helpers ---- */

static struct dmacoh_sim *new_sim(void)
{
    struct dmacoh_sim *sim = NULL;

    T_OK(dmacoh_sim_create(NULL, &sim));
    return sim;
}

static void add_mem(struct dmacoh_sim *sim, uint64_t bus, uint64_t size, int modes,
                    unsigned io_width)
{
    struct dmacoh_sim_memory m;

    memset(&m, 0, sizeof(m));
    m.bus = bus;
    m.size = size;
    m.modes = modes;
    m.io_width = io_width;
    T_OK(dmacoh_sim_add_memory(sim, &m));
}

static int declare_w(struct dmacoh_device *dev, uint64_t bus, uint64_t da, uint64_t size, int flags,
                     unsigned io_width, int *granted)
{
    struct dmacoh_declare_opts o;

    memset(&o, 0, sizeof(o));
    o.io_width = io_width;
    return dmacoh_declare_coherent_memory(dev, bus, da, size, flags, &o, granted);
}

/* Single accesses through an IO cookie land little-endian on the simulated bus. */
static void accessors_on_io_region(void)
{
    struct dmacoh_sim *sim = new_sim();
    struct dmacoh_device dev;
    unsigned char b[8], junk[64];
    void *cpu = NULL;
    uint64_t h = 0, bus;
    int granted = 0;

    add_mem(sim, MEM_BUS, 16 * PG, DMACOH_MEMORY_IO, 0);
    T_OK(dmacoh_device_init(&dev, "iodev", NULL, dmacoh_sim_platform(sim)));
    T_OK(declare_w(&dev, MEM_BUS, 0x3000, 16 * PG, DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, 0,
                   &granted));
    T_EQ_INT(granted, DMACOH_MEMORY_IO);
    T_OK(dmacoh_alloc_coherent(&dev, 64, 0, 0, &cpu, &h));
    bus = dmacoh_dma_to_bus(&dev, h);
    T_EQ_U64(bus, MEM_BUS + (h - 0x3000));
    iowrite32(0x11223344u, (unsigned char *)cpu + 4);
    T_OK(dmacoh_sim_bus_read(sim, bus + 4, b, 4));
    T_EQ_INT(b[0], 0x44);
    T_EQ_INT(b[1], 0x33);
    T_EQ_INT(b[2], 0x22);
    T_EQ_INT(b[3], 0x11);
    dmacoh_iowrite16(0xa1b2, (unsigned char *)cpu + 10);
    T_OK(dmacoh_sim_bus_read(sim, bus + 10, b, 2));
    T_EQ_INT(b[0], 0xb2);
    T_EQ_INT(b[1], 0xa1);
    for (unsigned i = 0; i < 8; i++)
        b[i] = (unsigned char)(i + 1);
    T_OK(dmacoh_sim_bus_write(sim, bus + 16, b, 8));
    T_EQ_U64(ioread64((unsigned char *)cpu + 16), UINT64_C(0x0807060504030201));
    T_EQ_U64(readl((unsigned char *)cpu + 16), 0x04030201u);
    T_EQ_U64(dmacoh_ioread16((unsigned char *)cpu + 22), 0x0807);
    T_EQ_U64(dmacoh_ioread8((unsigned char *)cpu + 19), 0x04);
    /* Dirty the memory through the bus, free, allocate again: memset_io zeroed it. */
    memset(junk, 0x6b, sizeof(junk));
    T_OK(dmacoh_sim_bus_write(sim, bus, junk, sizeof(junk)));
    T_OK(dmacoh_free_coherent(&dev, 64, cpu, h));
    T_OK(dmacoh_alloc_coherent(&dev, 64, 0, 0, &cpu, &h));
    T_EQ_U64(dmacoh_dma_to_bus(&dev, h), bus);
    T_OK(dmacoh_sim_bus_read(sim, bus, junk, sizeof(junk)));
    for (unsigned i = 0; i < sizeof(junk); i++)
        T_EQ_INT(junk[i], 0);
    T_OK(dmacoh_free_coherent(&dev, 64, cpu, h));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* ---- block copies: every alignment and length against memcpy/memset ---- */

/* Where a target area lives: plain memory, or an IO region read back through the bus. */
struct target {
    volatile unsigned char *io; /* AREA bytes, 8-aligned */
    struct dmacoh_sim *sim;     /* NULL: plain memory at io */
    uint64_t bus;
    const char *name;
};

static void area_read(const struct target *t, unsigned char *out)
{
    if (t->sim) {
        T_OK(dmacoh_sim_bus_read(t->sim, t->bus, out, AREA));
    } else {
        for (unsigned i = 0; i < AREA; i++)
            out[i] = t->io[i];
    }
}

static void area_write(const struct target *t, const unsigned char *in)
{
    if (t->sim) {
        T_OK(dmacoh_sim_bus_write(t->sim, t->bus, in, AREA));
    } else {
        for (unsigned i = 0; i < AREA; i++)
            t->io[i] = in[i];
    }
}

static unsigned char guard_byte(unsigned i)
{
    return (unsigned char)(0xa0u ^ (i * 29u));
}

static unsigned char src_byte(unsigned i)
{
    return (unsigned char)(i * 7u + 1u);
}

/* Block-copy variants under test. width == 0 means the automatic (address-looked-up) cap,
 * kernel != 0 the kernel's macro names; otherwise the explicit _width function. */
struct variant {
    unsigned width; /* passed to the _width functions; 0 with !use_width */
    bool use_width;
    bool kernel;
};

static void do_toio(const struct variant *v, volatile void *d, const void *s, size_t n)
{
    if (v->use_width)
        dmacoh_memcpy_toio_width(d, s, n, v->width);
    else if (v->kernel)
        memcpy_toio(d, s, n);
    else
        dmacoh_memcpy_toio(d, s, n);
}

static void do_fromio(const struct variant *v, void *d, const volatile void *s, size_t n)
{
    if (v->use_width)
        dmacoh_memcpy_fromio_width(d, s, n, v->width);
    else if (v->kernel)
        memcpy_fromio(d, s, n);
    else
        dmacoh_memcpy_fromio(d, s, n);
}

static void do_memset(const struct variant *v, volatile void *d, int c, size_t n)
{
    if (v->use_width)
        dmacoh_memset_io_width(d, c, n, v->width);
    else if (v->kernel)
        memset_io(d, c, n);
    else
        dmacoh_memset_io(d, c, n);
}

static void grid(const struct target *t, const struct variant *v)
{
    unsigned char guard[AREA], got[AREA], want[AREA];
    _Alignas(8) unsigned char src[AREA], dst[AREA];
    static const int fills[] = {0x00, 0xa5, 0x1ff, -1, 0x7f};

    for (unsigned i = 0; i < AREA; i++) {
        guard[i] = guard_byte(i);
        src[i] = src_byte(i);
    }
    for (unsigned sa = 0; sa < 8; sa++) {
        for (unsigned da = 0; da < 8; da++) {
            for (unsigned len = 0; len <= MAXLEN; len++) {
                /* memcpy_toio: normal memory at src + sa to IO at GUARD + da. */
                area_write(t, guard);
                do_toio(v, t->io + GUARD + da, src + sa, len);
                area_read(t, got);
                memcpy(want, guard, AREA);
                memcpy(want + GUARD + da, src + sa, len);
                CHECK(memcmp(got, want, AREA) == 0,
                      "%s: memcpy_toio(width %u%s) src align %u dst align %u len %u is wrong",
                      t->name, v->width, v->use_width ? "" : " auto", sa, da, len);
                /* memcpy_fromio: IO at GUARD + sa to normal memory at GUARD + da. */
                area_write(t, src);
                memcpy(dst, guard, AREA);
                do_fromio(v, dst + GUARD + da, t->io + GUARD + sa, len);
                memcpy(want, guard, AREA);
                memcpy(want + GUARD + da, src + GUARD + sa, len);
                CHECK(memcmp(dst, want, AREA) == 0,
                      "%s: memcpy_fromio(width %u%s) src align %u dst align %u len %u is wrong",
                      t->name, v->width, v->use_width ? "" : " auto", sa, da, len);
                area_read(t, got);
                CHECK(memcmp(got, src, AREA) == 0, "%s: memcpy_fromio changed its source", t->name);
            }
        }
        /* memset_io: sa doubles as the index of the fill value. */
        for (unsigned da = 0; da < 8; da++) {
            for (unsigned len = 0; len <= MAXLEN; len++) {
                int c = fills[(sa + da + len) % 5];

                area_write(t, guard);
                do_memset(v, t->io + GUARD + da, c, len);
                area_read(t, got);
                memcpy(want, guard, AREA);
                memset(want + GUARD + da, c, len);
                CHECK(memcmp(got, want, AREA) == 0,
                      "%s: memset_io(0x%x, width %u%s) dst align %u len %u is wrong", t->name,
                      (unsigned)c, v->width, v->use_width ? "" : " auto", da, len);
            }
        }
    }
    for (unsigned i = 0; i < AREA; i++)
        T_EQ_INT(src[i], src_byte(i)); /* sources are never written */
}

static void block_copies_plain_memory(void)
{
    static const unsigned widths[] = {1, 2, 4, 8, 0, 3, 5, 16}; /* the last four mean 1 */
    _Alignas(8) unsigned char mem[AREA];
    struct target t = {mem, NULL, 0, "plain memory"};
    struct variant v;

    memset(&v, 0, sizeof(v));
    grid(&t, &v);
    v.kernel = true;
    grid(&t, &v);
    v.kernel = false;
    v.use_width = true;
    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
        v.width = widths[i];
        grid(&t, &v);
    }
}

/* Inside IO regions with caps 8, 4, 2 and 1 (from the platform or from the declare options);
 * the target is read back on the simulated bus. */
static void block_copies_io_regions(void)
{
    static const struct {
        unsigned mem_width, opt_width, cap;
    } cases[] = {{0, 0, 8}, {4, 0, 4}, {8, 2, 2}, {1, 0, 1}, {4, 2, 2}, {2, 4, 2}};
    struct dmacoh_sim *sim = new_sim();

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        uint64_t bus = MEM_BUS + c * 16 * PG;
        struct dmacoh_device dev;
        struct target t;
        struct variant v;
        void *cpu = NULL;
        uint64_t h = 0;
        int granted = 0;

        add_mem(sim, bus, 16 * PG, DMACOH_MEMORY_IO, cases[c].mem_width);
        T_OK(dmacoh_device_init(&dev, "ioregion", NULL, dmacoh_sim_platform(sim)));
        T_OK(declare_w(&dev, bus, 0x12345000, 16 * PG, DMACOH_MEMORY_IO, cases[c].opt_width,
                       &granted));
        T_EQ_INT(granted, DMACOH_MEMORY_IO);
        T_OK(dmacoh_alloc_coherent(&dev, 3 * PG, 0, 0, &cpu, &h));
        /* An area in the middle of the allocation, 8-aligned. */
        t.io = (volatile unsigned char *)cpu + PG + 0x18;
        t.sim = sim;
        t.bus = dmacoh_dma_to_bus(&dev, h) + PG + 0x18;
        t.name = "IO region";
        T_EQ_U64(dmacoh_io_width_at(t.io), cases[c].cap);
        memset(&v, 0, sizeof(v));
        grid(&t, &v);
        v.kernel = true;
        grid(&t, &v);
        T_OK(dmacoh_free_coherent(&dev, 3 * PG, cpu, h));
        T_OK(dmacoh_release_coherent_memory(&dev, 0));
        T_OK(dmacoh_device_fini(&dev));
    }
    T_OK(dmacoh_sim_destroy(sim));
}

/* ---- dmacoh_io_width_at ---- */

/* Declares an IO region alone, checks the cap at its ends, inside an allocation and in
 * statistics, then that it is gone after release. */
static void width_case(struct dmacoh_sim *sim, uint64_t bus, unsigned mem_width, unsigned opt_width,
                       int flags, unsigned cap)
{
    struct dmacoh_device dev;
    struct dmacoh_region_stats st;
    unsigned char *first, *last, *cookie;
    void *cpu = NULL;
    uint64_t h = 0, size = 8 * PG;
    int granted = 0;
    int stack_var = 0;

    add_mem(sim, bus, size, flags & (DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO), mem_width);
    T_OK(dmacoh_device_init(&dev, "width", NULL, dmacoh_sim_platform(sim)));
    T_OK(declare_w(&dev, bus, 0x3000, size, flags, opt_width, &granted));
    T_OK(dmacoh_region_get_stats(&dev, &st));
    CHECK(st.io_width == cap, "memory width %u, declared io_width %u: stats io_width %u, want %u",
          mem_width, opt_width, st.io_width, cap);
    first = dmacoh_dma_to_virt(&dev, 0x3000);
    last = dmacoh_dma_to_virt(&dev, 0x3000 + size - 1);
    T_ASSERT(first != NULL && last == first + size - 1);
    CHECK(dmacoh_io_width_at(first) == cap && dmacoh_io_width_at(last) == cap &&
              dmacoh_io_width_at(first + size / 2 + 3) == cap,
          "memory width %u, declared io_width %u: width_at %u/%u inside, want %u", mem_width,
          opt_width, dmacoh_io_width_at(first), dmacoh_io_width_at(last), cap);
    /* Just outside (no other capped region is declared now) and unrelated memory: 8. */
    T_EQ_INT(dmacoh_io_width_at(first - 1), 8);
    T_EQ_INT(dmacoh_io_width_at(last + 1), 8);
    T_EQ_INT(dmacoh_io_width_at(&stack_var), 8);
    T_EQ_INT(dmacoh_io_width_at(NULL), 8);
    T_OK(dmacoh_alloc_coherent(&dev, 100, 0, 0, &cpu, &h));
    cookie = cpu;
    T_EQ_INT(dmacoh_io_width_at(cookie), cap);
    T_EQ_INT(dmacoh_io_width_at(cookie + 99), cap);
    T_OK(dmacoh_free_coherent(&dev, 100, cpu, h));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_EQ_INT(dmacoh_io_width_at(first), 8);
    T_EQ_INT(dmacoh_io_width_at(last), 8);
    T_EQ_INT(dmacoh_io_width_at(cookie), 8);
    T_OK(dmacoh_device_fini(&dev));
}

static void io_width_at_regions(void)
{
    struct dmacoh_sim *sim = new_sim();
    const int io = DMACOH_MEMORY_IO;

    width_case(sim, MEM_BUS + 0x000000, 4, 0, io, 4); /* the platform's width */
    width_case(sim, MEM_BUS + 0x100000, 8, 2, io, 2); /* opts narrower than the platform */
    width_case(sim, MEM_BUS + 0x200000, 0, 2, io, 2); /* platform default 8, opts 2 */
    width_case(sim, MEM_BUS + 0x300000, 4, 8, io, 4); /* opts cannot widen the memory's cap */
    width_case(sim, MEM_BUS + 0x400000, 2, 1, io, 1); /* opts 1 on a 2-byte memory */
    width_case(sim, MEM_BUS + 0x500000, 0, 0, io, 8); /* no cap at all */
    width_case(sim, MEM_BUS + 0x600000, 4, 0, io | DMACOH_MEMORY_MAP, 4); /* granted MAP */
    /* The same bus range declared again after release, with another cap. */
    {
        struct dmacoh_device dev;
        unsigned char *first;

        T_OK(dmacoh_device_init(&dev, "again", NULL, dmacoh_sim_platform(sim)));
        T_OK(declare_w(&dev, MEM_BUS, 0x3000, 8 * PG, io, 2, NULL));
        first = dmacoh_dma_to_virt(&dev, 0x3000);
        T_EQ_INT(dmacoh_io_width_at(first), 2);
        T_OK(dmacoh_release_coherent_memory(&dev, 0));
        T_EQ_INT(dmacoh_io_width_at(first), 8);
        T_OK(dmacoh_device_fini(&dev));
    }
    T_OK(dmacoh_sim_destroy(sim));
}

/* Several capped regions at once: each address answers its own region's cap, and releasing
 * one leaves the others in place. Beyond the library's capacity for capped regions a declare
 * may fail, but then cleanly (an error, no region, nothing else changed). */
static void io_width_at_many_regions(void)
{
    enum { NSIM = 2, PER = 40 };
    static struct dmacoh_device dev[NSIM][PER];
    static bool ok[NSIM][PER];
    static const unsigned caps[] = {1, 2, 4};
    struct dmacoh_sim *sim[NSIM];
    unsigned declared = 0;

    for (unsigned s = 0; s < NSIM; s++) {
        sim[s] = new_sim();
        for (unsigned i = 0; i < PER; i++) {
            uint64_t bus = MEM_BUS + (uint64_t)i * 2 * PG;
            int r;

            add_mem(sim[s], bus, PG, DMACOH_MEMORY_IO, caps[i % 3]);
            T_OK(dmacoh_device_init(&dev[s][i], "many", NULL, dmacoh_sim_platform(sim[s])));
            r = declare_w(&dev[s][i], bus, 0x3000, PG, DMACOH_MEMORY_IO, 0, NULL);
            ok[s][i] = r == 0;
            if (r) {
                CHECK(r < 0 && !dmacoh_device_has_region(&dev[s][i]),
                      "declare of capped region %u failed uncleanly (%s)", s * PER + i,
                      dmacoh_err_name(r));
                continue;
            }
            declared++;
        }
    }
    for (unsigned s = 0; s < NSIM; s++) {
        for (unsigned i = 0; i < PER; i++) {
            if (ok[s][i]) {
                const unsigned char *p = dmacoh_dma_to_virt(&dev[s][i], 0x3000);

                T_EQ_INT(dmacoh_io_width_at(p), caps[i % 3]);
                T_EQ_INT(dmacoh_io_width_at(p + PG - 1), caps[i % 3]);
            }
        }
    }
    /* Release every other one; the rest keep their caps. */
    for (unsigned s = 0; s < NSIM; s++)
        for (unsigned i = 0; i < PER; i += 2)
            if (ok[s][i])
                T_OK(dmacoh_release_coherent_memory(&dev[s][i], 0));
    for (unsigned s = 0; s < NSIM; s++) {
        for (unsigned i = 1; i < PER; i += 2) {
            if (ok[s][i]) {
                const unsigned char *p = dmacoh_dma_to_virt(&dev[s][i], 0x3000);

                T_EQ_INT(dmacoh_io_width_at(p), caps[i % 3]);
                T_OK(dmacoh_release_coherent_memory(&dev[s][i], 0));
            }
        }
    }
    for (unsigned s = 0; s < NSIM; s++) {
        for (unsigned i = 0; i < PER; i++)
            T_OK(dmacoh_device_fini(&dev[s][i]));
        T_OK(dmacoh_sim_destroy(sim[s]));
    }
    T_ASSERT(declared >= 60);
}

/* ---- the access widths, observed ----
 *
 * src/core/io.c is compiled a second time below, with its raw single accesses redirected to
 * counting wrappers and its exported names renamed (cnt_*) so that they do not clash with the
 * library's. The counting wrappers perform the real access, so data is checked too. */

struct acc {
    uintptr_t addr;
    unsigned width;
    bool write;
};

static struct acc acc_log[1024];
static unsigned acc_n;

static void acc_rec(const volatile void *a, unsigned w, bool write)
{
    if (acc_n < sizeof(acc_log) / sizeof(acc_log[0])) {
        acc_log[acc_n].addr = (uintptr_t)a;
        acc_log[acc_n].width = w;
        acc_log[acc_n].write = write;
    }
    acc_n++;
}

#define CNT_RAW(bits)                                                                              \
    static inline uint##bits##_t cnt_read##bits(const volatile void *a)                            \
    {                                                                                              \
        acc_rec(a, bits / 8, false);                                                               \
        return dmacoh__raw_read##bits(a);                                                          \
    }                                                                                              \
    static inline void cnt_write##bits(uint##bits##_t v, volatile void *a)                         \
    {                                                                                              \
        acc_rec(a, bits / 8, true);                                                                \
        dmacoh__raw_write##bits(v, a);                                                             \
    }
CNT_RAW(8)
CNT_RAW(16)
CNT_RAW(32)
CNT_RAW(64)
#undef CNT_RAW

#define dmacoh__raw_read8          cnt_read8
#define dmacoh__raw_read16         cnt_read16
#define dmacoh__raw_read32         cnt_read32
#define dmacoh__raw_read64         cnt_read64
#define dmacoh__raw_write8         cnt_write8
#define dmacoh__raw_write16        cnt_write16
#define dmacoh__raw_write32        cnt_write32
#define dmacoh__raw_write64        cnt_write64
#define dmacoh_memcpy_toio_width   cnt_memcpy_toio_width
#define dmacoh_memcpy_fromio_width cnt_memcpy_fromio_width
#define dmacoh_memset_io_width     cnt_memset_io_width
#define dmacoh_memcpy_toio         cnt_memcpy_toio
#define dmacoh_memcpy_fromio       cnt_memcpy_fromio
#define dmacoh_memset_io           cnt_memset_io
#define dmacoh_io_width_at         cnt_io_width_at
#define dmacoh__io_register        cnt_io_register
#define dmacoh__io_unregister      cnt_io_unregister
#define dmacoh__io_resolve         cnt_io_resolve
#define dmacoh__io_cookies         cnt_io_cookies

void cnt_memcpy_toio_width(volatile void *dst, const void *src, size_t n, unsigned width);
void cnt_memcpy_fromio_width(void *dst, const volatile void *src, size_t n, unsigned width);
void cnt_memset_io_width(volatile void *dst, int c, size_t n, unsigned width);
void cnt_memcpy_toio(volatile void *dst, const void *src, size_t n);
void cnt_memcpy_fromio(void *dst, const volatile void *src, size_t n);
void cnt_memset_io(volatile void *dst, int c, size_t n);
unsigned cnt_io_width_at(const volatile void *addr);
volatile void *cnt_io_resolve(const volatile void *addr);
extern unsigned cnt_io_cookies;

#include "core/io.c"

#undef dmacoh__raw_read8
#undef dmacoh__raw_read16
#undef dmacoh__raw_read32
#undef dmacoh__raw_read64
#undef dmacoh__raw_write8
#undef dmacoh__raw_write16
#undef dmacoh__raw_write32
#undef dmacoh__raw_write64
#undef dmacoh_memcpy_toio_width
#undef dmacoh_memcpy_fromio_width
#undef dmacoh_memset_io_width
#undef dmacoh_memcpy_toio
#undef dmacoh_memcpy_fromio
#undef dmacoh_memset_io
#undef dmacoh_io_width_at
#undef dmacoh__io_register
#undef dmacoh__io_unregister
#undef dmacoh__io_resolve
#undef dmacoh__io_cookies

/* The accesses logged since acc_n was reset: all of kind `write`, naturally aligned, no wider
 * than cap, and together covering [start, start + n) exactly once: no byte outside the range
 * is touched and none twice (reading device memory twice can have side effects). */
static void check_accesses(const volatile unsigned char *start, size_t n, unsigned cap, bool write,
                           const char *what, unsigned align, unsigned len)
{
    unsigned char cover[AREA];
    uintptr_t s = (uintptr_t)start;

    T_ASSERT(acc_n <= sizeof(acc_log) / sizeof(acc_log[0]));
    memset(cover, 0, sizeof(cover));
    for (unsigned i = 0; i < acc_n; i++) {
        const struct acc *a = &acc_log[i];

        CHECK(a->write == write, "%s (cap %u, align %u, len %u): a %s access", what, cap, align,
              len, a->write ? "write" : "read");
        CHECK(a->width <= cap,
              "%s (cap %u, align %u, len %u): a %u-byte access at +%td exceeds the cap", what, cap,
              align, len, a->width, (ptrdiff_t)(a->addr - s));
        CHECK(a->addr % a->width == 0,
              "%s (cap %u, align %u, len %u): a %u-byte access at %#lx is not naturally aligned",
              what, cap, align, len, a->width, (unsigned long)a->addr);
        CHECK(a->addr >= s && a->addr + a->width <= s + n,
              "%s (cap %u, align %u, len %u): a %u-byte access at +%td is outside the range", what,
              cap, align, len, a->width, (ptrdiff_t)(a->addr - s));
        for (unsigned k = 0; k < a->width; k++)
            cover[a->addr - s + k]++;
    }
    for (size_t k = 0; k < n; k++)
        CHECK(cover[k] == 1, "%s (cap %u, align %u, len %u): byte %zu accessed %u times", what, cap,
              align, len, k, cover[k]);
}

/* Checks every alignment and length with an explicit width, or with the one looked up from
 * the registry when `lookup` (io then lies in a region registered with cap `width`, or in
 * none when width is 8). */
static void widths_grid(unsigned char *io, unsigned width, bool lookup)
{
    _Alignas(8) unsigned char src[AREA], dst[AREA];
    unsigned cap = (width == 2 || width == 4 || width == 8) ? width : 1;

    for (unsigned i = 0; i < AREA; i++)
        src[i] = src_byte(i);
    for (unsigned a = 0; a < 8; a++) {
        for (unsigned len = 0; len <= MAXLEN; len++) {
            unsigned sa = (a * 3 + len) % 8; /* the normal-memory side's alignment varies too */

            memset(io, 0, AREA);
            acc_n = 0;
            if (lookup)
                cnt_memcpy_toio(io + a, src + sa, len);
            else
                cnt_memcpy_toio_width(io + a, src + sa, len, width);
            check_accesses(io + a, len, cap, true, "memcpy_toio", a, len);
            T_ASSERT(memcmp(io + a, src + sa, len) == 0);

            memset(dst, 0, sizeof(dst));
            acc_n = 0;
            if (lookup)
                cnt_memcpy_fromio(dst + sa, io + a, len);
            else
                cnt_memcpy_fromio_width(dst + sa, io + a, len, width);
            check_accesses(io + a, len, cap, false, "memcpy_fromio", a, len);
            T_ASSERT(memcmp(dst + sa, src + sa, len) == 0);

            acc_n = 0;
            if (lookup)
                cnt_memset_io(io + a, 0x3c, len);
            else
                cnt_memset_io_width(io + a, 0x3c, len, width);
            check_accesses(io + a, len, cap, true, "memset_io", a, len);
            for (unsigned k = 0; k < len; k++)
                T_EQ_INT(io[a + k], 0x3c);
        }
    }
}

static _Alignas(64) unsigned char io_area[AREA];

static void access_widths_explicit(void)
{
    static const unsigned widths[] = {1, 2, 4, 8, 0, 3, 6, 16};

    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
        widths_grid(io_area, widths[i], false);
}

/* The automatic variants take the cap of the registered region the IO address lies in, and
 * 8 (no cap) outside any. */
static void access_widths_registry(void)
{
    static const unsigned caps[] = {1, 2, 4};

    T_EQ_INT(cnt_io_width_at(io_area), 8);
    widths_grid(io_area, 8, true);
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        int slot = cnt_io_register(io_area, AREA, caps[i], io_area);

        T_ASSERT(slot >= 0);
        T_EQ_INT(cnt_io_width_at(io_area), caps[i]);
        T_EQ_INT(cnt_io_width_at(io_area + AREA - 1), caps[i]);
        T_EQ_INT(cnt_io_width_at(io_area + AREA), 8);
        widths_grid(io_area, caps[i], true);
        cnt_io_unregister(slot);
        T_EQ_INT(cnt_io_width_at(io_area), 8);
    }
    widths_grid(io_area, 8, true);
}

/* Through an IO cookie range (debug mode): block copies reach the memory behind it, one
 * access per byte, within the region's width cap; a second cookie range over the first is
 * refused, and the range is forgotten with its slot. */
static void access_widths_through_a_cookie(void)
{
    static const unsigned lens[] = {0, 1, 2, 7, 13, MAXLEN};
    _Alignas(8) unsigned char src[AREA], dst[AREA];
    unsigned char *res = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *ck;
    int slot;

    T_ASSERT(res != MAP_FAILED);
    ck = res + ((uintptr_t)io_area & 4095); /* aligned as the memory behind it */
    for (unsigned i = 0; i < AREA; i++)
        src[i] = src_byte(i);
    slot = cnt_io_register(ck, AREA, 4, io_area);
    T_ASSERT(slot >= 0);
    T_EQ_INT(cnt_io_width_at(ck + 5), 4);
    T_EQ_INT(cnt_io_register(ck + 8, 16, 4, io_area), DMACOH_EBUSY);
    for (unsigned a = 0; a < 8; a++) {
        for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
            unsigned len = lens[l];

            memset(io_area, 0, AREA);
            acc_n = 0;
            cnt_memcpy_toio(ck + a, src, len);
            check_accesses(io_area + a, len, 4, true, "memcpy_toio via cookie", a, len);
            T_ASSERT(memcmp(io_area + a, src, len) == 0);
            memset(dst, 0, sizeof(dst));
            acc_n = 0;
            cnt_memcpy_fromio(dst, ck + a, len);
            check_accesses(io_area + a, len, 4, false, "memcpy_fromio via cookie", a, len);
            T_ASSERT(memcmp(dst, src, len) == 0);
            acc_n = 0;
            cnt_memset_io(ck + a, 0x5a, len);
            check_accesses(io_area + a, len, 4, true, "memset_io via cookie", a, len);
        }
    }
    cnt_io_unregister(slot);
    T_EQ_INT(cnt_io_width_at(ck + 5), 8);
    T_EQ_INT(cnt_io_cookies, 0);
    munmap(res, 8192);
}

static const struct t_case cases[] = {
    T_CASE(access_widths_through_a_cookie),
    T_CASE(accessors_round_trip),
    T_CASE(accessors_are_little_endian_on_any_host),
    T_CASE(accessors_kernel_names),
    T_CASE(accessors_on_io_region),
    T_CASE(block_copies_plain_memory),
    T_CASE(block_copies_io_regions),
    T_CASE(io_width_at_regions),
    T_CASE(io_width_at_many_regions),
    T_CASE(access_widths_explicit),
    T_CASE(access_widths_registry),
};

T_MAIN(cases)
