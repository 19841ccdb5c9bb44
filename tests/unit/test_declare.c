/* SPDX-License-Identifier: MIT */
/*
 * test_declare.c - declaring and releasing regions through the namespaced API (rules 1, 2, 3
 * and 8 of docs/design.md; include/dmacoh/region.h and device.h): one test per failure case of
 * dmacoh_declare_coherent_memory() and dmacoh_release_coherent_memory() (each must fail with
 * the documented code, log why and change nothing), one region per device, overlap and shared
 * memory between devices, the granted mode, platforms without declared memory, release with
 * outstanding allocations, and the device calls that guard regions (fini, DMA mask). Every test
 * builds its own simulator and devices and tears them down at the end.
 */
#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

#include "fixture.h"
#include "t.h"

#include <string.h>

#define PG     UINT64_C(0x1000)
#define MEM_A  UINT64_C(0x10000000) /* 1 MiB, MAP|IO, not shared */
#define MEM_B  UINT64_C(0x20000000) /* 1 MiB, MAP|IO, not shared */
#define MEM_SZ UINT64_C(0x100000)
#define DEV_A  UINT64_C(0x80000000)
#define DEV_B  UINT64_C(0x90000000)
#define MAPIO  (DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO)

/* A declare that must fail with `code`, log why, and leave the device's invariants intact. */
#define DECLARE_FAILS(dev, bus, da, size, flags, opts, code)                                       \
    do {                                                                                           \
        int g_ = 0;                                                                                \
        t_log_reset();                                                                             \
        T_ERR(dmacoh_declare_coherent_memory((dev), (bus), (da), (size), (flags), (opts), &g_),    \
              (code));                                                                             \
        T_ASSERT(t_log_count() > 0);                                                               \
        T_ASSERT(dmacoh_check(dev));                                                               \
    } while (0)

/* A declare that must succeed and grant `mode`. */
#define DECLARE_OK(dev, bus, da, size, flags, mode)                                                \
    do {                                                                                           \
        int g_ = -1;                                                                               \
        T_OK(dmacoh_declare_coherent_memory((dev), (bus), (da), (size), (flags), NULL, &g_));      \
        T_EQ_INT(g_, (mode));                                                                      \
        T_ASSERT(dmacoh_device_has_region(dev));                                                   \
        T_ASSERT(dmacoh_check(dev));                                                               \
    } while (0)

static struct dmacoh_sim *new_sim(const struct dmacoh_sim_opts *opts)
{
    struct dmacoh_sim *sim = NULL;

    T_OK(dmacoh_sim_create(opts, &sim));
    T_ASSERT(sim != NULL);
    T_ASSERT(dmacoh_sim_platform(sim) != NULL);
    return sim;
}

/* A simulator with the two standard memories and one root device on it. */
static struct dmacoh_sim *setup(struct dmacoh_device *dev, const char *name)
{
    struct dmacoh_sim *sim = new_sim(NULL);

    t_add_memory(sim, MEM_A, MEM_SZ, MAPIO, false);
    t_add_memory(sim, MEM_B, MEM_SZ, MAPIO, false);
    T_OK(dmacoh_device_init(dev, name, NULL, dmacoh_sim_platform(sim)));
    return sim;
}

/* Releases (if needed) and retires a device, then destroys the simulator. */
static void teardown(struct dmacoh_sim *sim, struct dmacoh_device *dev)
{
    if (dev) {
        if (dmacoh_device_has_region(dev))
            T_OK(dmacoh_release_coherent_memory(dev, DMACOH_RELEASE_FORCE));
        T_OK(dmacoh_device_fini(dev));
    }
    T_OK(dmacoh_sim_destroy(sim));
}

/* The device has no region and the memory at MEM_A is still free to declare. */
static void assert_nothing_declared(struct dmacoh_device *dev)
{
    struct dmacoh_region_stats st;

    T_ASSERT(!dmacoh_device_has_region(dev));
    T_ERR(dmacoh_region_get_stats(dev, &st), DMACOH_ENODEV);
    DECLARE_OK(dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_release_coherent_memory(dev, 0));
}

static void declare_bad_flags(void)
{
    struct dmacoh_device dev;
    struct dmacoh_sim *sim = setup(&dev, "flags0");

    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ, 0, NULL, DMACOH_EINVAL);
    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_INCLUDES_CHILDREN, NULL, DMACOH_EINVAL);
    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ,
                  DMACOH_MEMORY_EXCLUSIVE | DMACOH_MEMORY_INCLUDES_CHILDREN, NULL, DMACOH_EINVAL);
    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP | 0x10, NULL, DMACOH_EINVAL);
    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ, MAPIO | 0x100, NULL, DMACOH_EINVAL);
    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_IO | (int)0x40000000, NULL,
                  DMACOH_EINVAL);
    assert_nothing_declared(&dev);
    teardown(sim, &dev);
}

static void declare_size_zero(void)
{
    struct dmacoh_device dev;
    struct dmacoh_sim *sim = setup(&dev, "size0");

    DECLARE_FAILS(&dev, MEM_A, DEV_A, 0, DMACOH_MEMORY_MAP, NULL, DMACOH_EINVAL);
    DECLARE_FAILS(&dev, MEM_A, DEV_A, 0, MAPIO, NULL, DMACOH_EINVAL);
    assert_nothing_declared(&dev);
    teardown(sim, &dev);
}

static void declare_size_not_granule_multiple(void)
{
    struct dmacoh_device dev;
    struct dmacoh_declare_opts opts;
    struct dmacoh_sim *sim = setup(&dev, "scsi0");

    DECLARE_FAILS(&dev, MEM_A, DEV_A, PG + 1, DMACOH_MEMORY_MAP, NULL, DMACOH_EINVAL);
    /* The example line of device.h: the message names the granule. */
    T_ASSERT(t_log_find("granule"));
    DECLARE_FAILS(&dev, MEM_A, DEV_A, PG / 2, DMACOH_MEMORY_MAP, NULL, DMACOH_EINVAL);
    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ - 1, DMACOH_MEMORY_MAP, NULL, DMACOH_EINVAL);
    /* With a 64 KiB granule, a page multiple that is not a granule multiple fails too. */
    memset(&opts, 0, sizeof(opts));
    opts.granule = 0x10000;
    DECLARE_FAILS(&dev, MEM_A, DEV_A, 0x18000, DMACOH_MEMORY_MAP, &opts, DMACOH_EINVAL);
    assert_nothing_declared(&dev);
    teardown(sim, &dev);
}

static void declare_bus_misaligned(void)
{
    struct dmacoh_device dev;
    struct dmacoh_declare_opts opts;
    struct dmacoh_sim *sim = setup(&dev, "busalign");

    DECLARE_FAILS(&dev, MEM_A + 0x800, DEV_A, 4 * PG, DMACOH_MEMORY_MAP, NULL, DMACOH_EINVAL);
    DECLARE_FAILS(&dev, MEM_A + 1, DEV_A, 4 * PG, DMACOH_MEMORY_MAP, NULL, DMACOH_EINVAL);
    memset(&opts, 0, sizeof(opts));
    opts.granule = 0x10000;
    DECLARE_FAILS(&dev, MEM_A + PG, DEV_A, 0x10000, DMACOH_MEMORY_MAP, &opts, DMACOH_EINVAL);
    assert_nothing_declared(&dev);
    teardown(sim, &dev);
}

static void declare_device_misaligned(void)
{
    struct dmacoh_device dev;
    struct dmacoh_declare_opts opts;
    struct dmacoh_sim *sim = setup(&dev, "devalign");

    DECLARE_FAILS(&dev, MEM_A, DEV_A + 0x200, 4 * PG, DMACOH_MEMORY_MAP, NULL, DMACOH_EINVAL);
    DECLARE_FAILS(&dev, MEM_A, DEV_A + PG - 1, 4 * PG, DMACOH_MEMORY_IO, NULL, DMACOH_EINVAL);
    memset(&opts, 0, sizeof(opts));
    opts.granule = 0x10000;
    DECLARE_FAILS(&dev, MEM_A, DEV_A + PG, 0x10000, DMACOH_MEMORY_MAP, &opts, DMACOH_EINVAL);
    assert_nothing_declared(&dev);
    teardown(sim, &dev);
}

static void declare_bus_wraps(void)
{
    struct dmacoh_device dev;
    struct dmacoh_sim *sim = setup(&dev, "buswrap");
    uint64_t top = ~UINT64_C(0) - PG + 1; /* 0xfffffffffffff000 */

    DECLARE_FAILS(&dev, top, DEV_A, 2 * PG, DMACOH_MEMORY_MAP, NULL, DMACOH_ERANGE);
    DECLARE_FAILS(&dev, top - PG, DEV_A, 0x100000, DMACOH_MEMORY_MAP, NULL, DMACOH_ERANGE);
    assert_nothing_declared(&dev);
    teardown(sim, &dev);
}

static void declare_device_wraps(void)
{
    struct dmacoh_device dev;
    struct dmacoh_sim *sim = setup(&dev, "devwrap");
    uint64_t top = ~UINT64_C(0) - PG + 1;

    DECLARE_FAILS(&dev, MEM_A, top, 2 * PG, DMACOH_MEMORY_MAP, NULL, DMACOH_ERANGE);
    DECLARE_FAILS(&dev, MEM_A, top - 2 * PG, MEM_SZ, MAPIO, NULL, DMACOH_ERANGE);
    /* A range that ends exactly at 2^64 - 1 does not wrap. */
    DECLARE_OK(&dev, MEM_A, top - PG, 2 * PG, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    assert_nothing_declared(&dev);
    teardown(sim, &dev);
}

static void declare_second_on_same_device(void)
{
    struct dmacoh_device dev, other;
    struct dmacoh_sim *sim = setup(&dev, "twice");
    struct dmacoh_region_stats before, after;
    void *cpu = NULL, *cpu2 = NULL;
    dmacoh_dma_addr_t h = 0, h2 = 0;

    DECLARE_OK(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&dev, PG, 0, 0, &cpu, &h));
    before = t_region_stats(&dev);

    /* A different memory, the identical declaration, and a different mode: all refused. */
    DECLARE_FAILS(&dev, MEM_B, DEV_B, MEM_SZ, DMACOH_MEMORY_MAP, NULL, DMACOH_EBUSY);
    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, NULL, DMACOH_EBUSY);
    DECLARE_FAILS(&dev, MEM_A, DEV_B, MEM_SZ, DMACOH_MEMORY_IO, NULL, DMACOH_EBUSY);

    after = t_region_stats(&dev);
    T_EQ_U64(after.bus_base, MEM_A);
    T_EQ_U64(after.device_base, DEV_A);
    T_EQ_U64(after.size, MEM_SZ);
    T_EQ_INT(after.mode, DMACOH_MEMORY_MAP);
    T_EQ_U64(after.in_use, before.in_use);
    T_EQ_U64(after.live, 1);

    /* The first region still works, with its addresses unchanged. */
    T_EQ_U64(dmacoh_virt_to_dma(&dev, cpu), h);
    T_EQ_U64(dmacoh_dma_to_bus(&dev, h), MEM_A + (h - DEV_A));
    T_OK(dmacoh_alloc_coherent(&dev, PG, DMACOH_ALLOC_NOFALLBACK, 0, &cpu2, &h2));
    T_ASSERT(h2 >= DEV_A && h2 < DEV_A + MEM_SZ);
    T_EQ_INT(dmacoh_origin_of(&dev, cpu2), DMACOH_ORIGIN_REGION);
    T_OK(dmacoh_free_coherent(&dev, PG, cpu2, h2));
    T_OK(dmacoh_free_coherent(&dev, PG, cpu, h));
    T_ASSERT(dmacoh_check(&dev));

    /* The refused declaration on MEM_B took nothing: another device can have it. */
    T_OK(dmacoh_device_init(&other, "other", NULL, dmacoh_sim_platform(sim)));
    DECLARE_OK(&other, MEM_B, DEV_B, MEM_SZ, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_release_coherent_memory(&other, 0));
    T_OK(dmacoh_device_fini(&other));
    teardown(sim, &dev);
}

static void declare_overlap_two_devices(void)
{
    struct dmacoh_device a, b;
    struct dmacoh_sim *sim = setup(&a, "ovl-a");
    uint64_t k64 = 0x10000;

    T_OK(dmacoh_device_init(&b, "ovl-b", NULL, dmacoh_sim_platform(sim)));
    /* a holds [MEM_A + 64K, MEM_A + 128K). */
    DECLARE_OK(&a, MEM_A + k64, DEV_A, k64, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);

    DECLARE_FAILS(&b, MEM_A + k64 / 2, DEV_B, k64, DMACOH_MEMORY_MAP, NULL, DMACOH_EBUSY);
    DECLARE_FAILS(&b, MEM_A + k64 + k64 / 2, DEV_B, k64, DMACOH_MEMORY_MAP, NULL, DMACOH_EBUSY);
    DECLARE_FAILS(&b, MEM_A + k64 + PG, DEV_B, 2 * PG, DMACOH_MEMORY_MAP, NULL, DMACOH_EBUSY);
    DECLARE_FAILS(&b, MEM_A, DEV_B, 4 * k64, DMACOH_MEMORY_MAP, NULL, DMACOH_EBUSY);
    DECLARE_FAILS(&b, MEM_A + k64, DEV_A, k64, DMACOH_MEMORY_MAP, NULL, DMACOH_EBUSY);
    DECLARE_FAILS(&b, MEM_A + 2 * k64 - PG, DEV_B, PG, DMACOH_MEMORY_IO, NULL, DMACOH_EBUSY);
    T_ASSERT(!dmacoh_device_has_region(&b));
    T_EQ_U64(t_region_stats(&a).bus_base, MEM_A + k64);
    T_EQ_U64(t_region_stats(&a).sharers, 1);

    T_OK(dmacoh_device_fini(&b));
    teardown(sim, &a);
}

static void declare_adjacent_two_devices(void)
{
    struct dmacoh_device a, b, c;
    struct dmacoh_sim *sim = setup(&a, "adj-a");
    uint64_t k64 = 0x10000;

    T_OK(dmacoh_device_init(&b, "adj-b", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_init(&c, "adj-c", NULL, dmacoh_sim_platform(sim)));
    DECLARE_OK(&a, MEM_A + k64, DEV_A, k64, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    DECLARE_OK(&b, MEM_A, DEV_B, k64, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    DECLARE_OK(&c, MEM_A + 2 * k64, DEV_B + k64, k64, DMACOH_MEMORY_IO, DMACOH_MEMORY_IO);
    T_EQ_U64(t_region_stats(&a).sharers, 1);
    T_EQ_U64(t_region_stats(&b).sharers, 1);
    T_EQ_U64(t_region_stats(&c).bus_base, MEM_A + 2 * k64);

    T_OK(dmacoh_release_coherent_memory(&b, 0));
    T_OK(dmacoh_release_coherent_memory(&c, 0));
    T_OK(dmacoh_device_fini(&b));
    T_OK(dmacoh_device_fini(&c));
    teardown(sim, &a);
}

static void declare_shared_memory(void)
{
    struct dmacoh_sim *sim = new_sim(NULL);
    struct dmacoh_device a, b;
    void *cpu[8];
    dmacoh_dma_addr_t h[8];

    t_add_memory(sim, MEM_A, 16 * PG, MAPIO, true);
    T_OK(dmacoh_device_init(&a, "chan0", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_init(&b, "chan1", NULL, dmacoh_sim_platform(sim)));
    DECLARE_OK(&a, MEM_A, DEV_A, 16 * PG, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    DECLARE_OK(&b, MEM_A, DEV_A, 16 * PG, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    T_EQ_U64(t_region_stats(&a).sharers, 2);
    T_EQ_U64(t_region_stats(&b).sharers, 2);

    /* Alternate devices; one allocator means no two allocations overlap. */
    for (int i = 0; i < 8; i++) {
        struct dmacoh_device *d = (i % 2) ? &b : &a;
        T_OK(dmacoh_alloc_coherent(d, 2 * PG, DMACOH_ALLOC_NOFALLBACK, 0, &cpu[i], &h[i]));
        T_ASSERT(h[i] >= DEV_A && h[i] + 2 * PG <= DEV_A + 16 * PG);
        for (int j = 0; j < i; j++)
            T_ASSERT(h[i] + 2 * PG <= h[j] || h[j] + 2 * PG <= h[i]);
    }
    /* 8 x 2 pages fill the 16 shared pages: neither device gets more. */
    {
        void *x = NULL;
        dmacoh_dma_addr_t hx = 0;
        T_ERR(dmacoh_alloc_coherent(&a, PG, DMACOH_ALLOC_NOFALLBACK, 0, &x, &hx), DMACOH_ENOMEM);
        T_ERR(dmacoh_alloc_coherent(&b, PG, DMACOH_ALLOC_NOFALLBACK, 0, &x, &hx), DMACOH_ENOMEM);
    }
    T_EQ_U64(t_region_stats(&a).in_use, 16 * PG);
    T_EQ_U64(t_region_stats(&b).live, 8);
    T_ASSERT(dmacoh_check(&a));
    T_ASSERT(dmacoh_check(&b));
    for (int i = 0; i < 8; i++)
        T_OK(dmacoh_free_coherent((i % 2) ? &b : &a, 2 * PG, cpu[i], h[i]));
    T_EQ_U64(t_region_stats(&a).in_use, 0);

    /* After one sharer leaves, the other still allocates from the same memory. */
    T_OK(dmacoh_release_coherent_memory(&a, 0));
    T_EQ_U64(t_region_stats(&b).sharers, 1);
    T_OK(dmacoh_alloc_coherent(&b, PG, DMACOH_ALLOC_NOFALLBACK, 0, &cpu[0], &h[0]));
    T_EQ_U64(dmacoh_dma_to_bus(&b, h[0]), MEM_A + (h[0] - DEV_A));
    T_OK(dmacoh_free_coherent(&b, PG, cpu[0], h[0]));
    T_ASSERT(dmacoh_check(&b));
    T_OK(dmacoh_device_fini(&a));
    teardown(sim, &b);
}

static void declare_shared_not_identical(void)
{
    struct dmacoh_sim *sim = new_sim(NULL);
    struct dmacoh_device a, b;
    struct dmacoh_declare_opts opts;

    t_add_memory(sim, MEM_A, 16 * PG, MAPIO, true);
    T_OK(dmacoh_device_init(&a, "sh-a", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_init(&b, "sh-b", NULL, dmacoh_sim_platform(sim)));
    DECLARE_OK(&a, MEM_A, DEV_A, 16 * PG, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    /* Shared memory, but a different size, bus base, device base or granule: overlap. */
    DECLARE_FAILS(&b, MEM_A, DEV_A, 8 * PG, DMACOH_MEMORY_MAP, NULL, DMACOH_EBUSY);
    DECLARE_FAILS(&b, MEM_A + 8 * PG, DEV_A + 8 * PG, 8 * PG, DMACOH_MEMORY_MAP, NULL,
                  DMACOH_EBUSY);
    DECLARE_FAILS(&b, MEM_A, DEV_B, 16 * PG, DMACOH_MEMORY_MAP, NULL, DMACOH_EBUSY);
    memset(&opts, 0, sizeof(opts));
    opts.granule = 2 * PG;
    DECLARE_FAILS(&b, MEM_A, DEV_A, 16 * PG, DMACOH_MEMORY_MAP, &opts, DMACOH_EBUSY);
    T_ASSERT(!dmacoh_device_has_region(&b));
    T_EQ_U64(t_region_stats(&a).sharers, 1);
    T_OK(dmacoh_device_fini(&b));
    teardown(sim, &a);
}

/* Declares with `flags` on a fresh memory of `modes`; returns the error, *mode the grant. */
static int try_mode(int modes, int flags, int *mode)
{
    struct dmacoh_sim *sim = new_sim(NULL);
    struct dmacoh_device dev;
    int err;

    t_add_memory(sim, MEM_A, MEM_SZ, modes, false);
    T_OK(dmacoh_device_init(&dev, "mode", NULL, dmacoh_sim_platform(sim)));
    *mode = 0;
    t_log_reset();
    err = dmacoh_declare_coherent_memory(&dev, MEM_A, DEV_A, MEM_SZ, flags, NULL, mode);
    if (err == 0) {
        T_EQ_INT(t_region_stats(&dev).mode, *mode);
        T_ASSERT(dmacoh_check(&dev));
    } else {
        T_ASSERT(!dmacoh_device_has_region(&dev));
        T_ASSERT(t_log_count() > 0);
    }
    teardown(sim, &dev);
    return err;
}

static void declare_granted_mode(void)
{
    int mode = 0;

    /* Memory that can be mapped. */
    T_OK(try_mode(MAPIO, DMACOH_MEMORY_MAP, &mode));
    T_EQ_INT(mode, DMACOH_MEMORY_MAP);
    T_OK(try_mode(MAPIO, DMACOH_MEMORY_IO, &mode));
    T_EQ_INT(mode, DMACOH_MEMORY_IO);
    T_OK(try_mode(MAPIO, MAPIO, &mode));
    T_EQ_INT(mode, DMACOH_MEMORY_MAP);
    T_OK(try_mode(DMACOH_MEMORY_MAP, MAPIO | DMACOH_MEMORY_EXCLUSIVE, &mode));
    T_EQ_INT(mode, DMACOH_MEMORY_MAP);
    /* IO-only memory: both asked gives IO; MAP alone is impossible. */
    T_OK(try_mode(DMACOH_MEMORY_IO, MAPIO, &mode));
    T_EQ_INT(mode, DMACOH_MEMORY_IO);
    T_OK(try_mode(DMACOH_MEMORY_IO, DMACOH_MEMORY_IO, &mode));
    T_EQ_INT(mode, DMACOH_MEMORY_IO);
    T_ERR(try_mode(DMACOH_MEMORY_IO, DMACOH_MEMORY_MAP, &mode), DMACOH_ENOTSUP);
    /* MAP-only memory: IO alone is impossible (never a mode that was not asked). */
    T_ERR(try_mode(DMACOH_MEMORY_MAP, DMACOH_MEMORY_IO, &mode), DMACOH_ENOTSUP);
}

static void declare_granted_may_be_null(void)
{
    struct dmacoh_device dev;
    struct dmacoh_sim *sim = setup(&dev, "nogrant");

    T_OK(dmacoh_declare_coherent_memory(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_IO, NULL, NULL));
    T_EQ_INT(t_region_stats(&dev).mode, DMACOH_MEMORY_IO);
    T_ASSERT(dmacoh_check(&dev));
    teardown(sim, &dev);
}

static void declare_platform_without_support(void)
{
    struct dmacoh_sim_opts o;
    struct dmacoh_sim *sim;
    struct dmacoh_device dev;

    memset(&o, 0, sizeof(o));
    o.no_declare = true;
    sim = new_sim(&o);
    t_add_memory(sim, MEM_A, MEM_SZ, MAPIO, false);
    T_OK(dmacoh_device_init(&dev, "nodecl", NULL, dmacoh_sim_platform(sim)));
    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, NULL, DMACOH_ENODEV);
    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ, MAPIO, NULL, DMACOH_ENODEV);
    T_ASSERT(!dmacoh_device_has_region(&dev));
    teardown(sim, &dev);
}

static void declare_no_memory_at_bus(void)
{
    struct dmacoh_device dev;
    struct dmacoh_sim *sim = setup(&dev, "nxio");

    /* Nothing at all there; and a range running past the end of MEM_A. */
    DECLARE_FAILS(&dev, UINT64_C(0x30000000), DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, NULL, DMACOH_ENXIO);
    DECLARE_FAILS(&dev, MEM_A + MEM_SZ - PG, DEV_A, 2 * PG, DMACOH_MEMORY_MAP, NULL, DMACOH_ENXIO);
    assert_nothing_declared(&dev);
    teardown(sim, &dev);
}

static void declare_uninitialised_device(void)
{
    struct dmacoh_device dev;
    struct dmacoh_sim *sim = new_sim(NULL);
    int g = 0;

    t_add_memory(sim, MEM_A, MEM_SZ, MAPIO, false);
    memset(&dev, 0, sizeof(dev));
    t_log_reset();
    T_ERR(dmacoh_declare_coherent_memory(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, NULL, &g),
          DMACOH_EINVAL);
    T_ERR(dmacoh_declare_coherent_memory(NULL, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, NULL, &g),
          DMACOH_EINVAL);
    T_ASSERT(t_log_count() > 0);
    T_ERR(dmacoh_release_coherent_memory(&dev, 0), DMACOH_EINVAL);
    T_ASSERT(!dmacoh_check(&dev));
    teardown(sim, NULL);
}

static void declare_bad_opts(void)
{
    struct dmacoh_device dev;
    struct dmacoh_declare_opts o;
    struct dmacoh_sim *sim = setup(&dev, "opts");
    static uint64_t meta[64];

    memset(&o, 0, sizeof(o));
    o.granule = 3 * PG; /* not a power of two */
    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, &o, DMACOH_EINVAL);
    o.granule = DMACOH_GRANULE_MIN / 2;
    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, &o, DMACOH_EINVAL);
    o.granule = (uint64_t)DMACOH_GRANULE_MAX * 2;
    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, &o, DMACOH_EINVAL);
    memset(&o, 0, sizeof(o));
    o.io_width = 3;
    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_IO, &o, DMACOH_EINVAL);
    o.io_width = 16;
    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_IO, &o, DMACOH_EINVAL);
    memset(&o, 0, sizeof(o));
    o.meta = meta;
    o.meta_size = dmacoh_region_meta_size(MEM_SZ, PG);
    T_ASSERT(o.meta_size > 0);
    o.meta_size -= 1;
    DECLARE_FAILS(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, &o, DMACOH_EINVAL);
    T_EQ_U64(dmacoh_region_meta_size(MEM_SZ, 3 * PG), 0);
    T_EQ_U64(dmacoh_region_meta_size(MEM_SZ, 0), 0);
    assert_nothing_declared(&dev);
    teardown(sim, &dev);
}

static void declare_caller_meta_and_granule(void)
{
    struct dmacoh_device dev;
    struct dmacoh_declare_opts o;
    struct dmacoh_sim *sim = setup(&dev, "meta");
    static uint64_t meta[1024];
    struct dmacoh_region_stats st;
    void *cpu = NULL;
    dmacoh_dma_addr_t h = 0;
    int g = 0;

    memset(&o, 0, sizeof(o));
    o.granule = 0x10000;
    o.meta = meta;
    o.meta_size = dmacoh_region_meta_size(MEM_SZ, o.granule);
    T_ASSERT(o.meta_size > 0 && o.meta_size <= sizeof(meta));
    T_OK(dmacoh_declare_coherent_memory(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, &o, &g));
    T_EQ_INT(g, DMACOH_MEMORY_MAP);
    st = t_region_stats(&dev);
    T_EQ_U64(st.granule, 0x10000);
    T_EQ_U64(st.largest_free, MEM_SZ);
    T_OK(dmacoh_alloc_coherent(&dev, 1, 0, 0, &cpu, &h));
    T_EQ_U64(t_region_stats(&dev).in_use, 0x10000);
    T_EQ_U64(h % 0x10000, 0);
    T_OK(dmacoh_free_coherent(&dev, 1, cpu, h));
    T_ASSERT(dmacoh_check(&dev));
    teardown(sim, &dev);
}

static void declare_initial_stats(void)
{
    struct dmacoh_device dev;
    struct dmacoh_sim *sim = setup(&dev, "stats");
    struct dmacoh_region_stats st;
    int fl = DMACOH_MEMORY_IO | DMACOH_MEMORY_EXCLUSIVE | DMACOH_MEMORY_INCLUDES_CHILDREN;

    T_ERR(dmacoh_region_get_stats(&dev, &st), DMACOH_ENODEV);
    DECLARE_OK(&dev, MEM_A, DEV_A, MEM_SZ, fl, DMACOH_MEMORY_IO);
    T_ERR(dmacoh_region_get_stats(&dev, NULL), DMACOH_EINVAL);
    st = t_region_stats(&dev);
    T_EQ_U64(st.bus_base, MEM_A);
    T_EQ_U64(st.device_base, DEV_A);
    T_EQ_U64(st.size, MEM_SZ);
    T_EQ_U64(st.granule, DMACOH_PAGE_SIZE);
    T_EQ_INT(st.mode, DMACOH_MEMORY_IO);
    T_EQ_INT(st.flags & DMACOH_MEMORY_EXCLUSIVE, DMACOH_MEMORY_EXCLUSIVE);
    T_EQ_INT(st.flags & DMACOH_MEMORY_INCLUDES_CHILDREN, DMACOH_MEMORY_INCLUDES_CHILDREN);
    T_EQ_INT(st.flags & DMACOH_MEMORY_IO, DMACOH_MEMORY_IO);
    T_EQ_U64(st.sharers, 1);
    T_EQ_U64(st.in_use, 0);
    T_EQ_U64(st.live, 0);
    T_EQ_U64(st.occupied, 0);
    T_EQ_U64(st.largest_free, MEM_SZ);
    T_EQ_U64(st.allocs + st.frees + st.failures + st.fallbacks, 0);
    teardown(sim, &dev);
}

static void release_refuses_while_busy(void)
{
    struct dmacoh_device dev;
    struct dmacoh_sim *sim = setup(&dev, "rel-busy");
    struct dmacoh_region_stats before, after;
    void *cpu = NULL;
    dmacoh_dma_addr_t h = 0;

    DECLARE_OK(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&dev, 3 * PG, 0, 0, &cpu, &h));
    before = t_region_stats(&dev);
    t_log_reset();
    T_ERR(dmacoh_release_coherent_memory(&dev, 0), DMACOH_EBUSY);
    T_ASSERT(t_log_count() > 0);
    T_ASSERT(dmacoh_device_has_region(&dev));
    T_ASSERT(dmacoh_check(&dev));
    after = t_region_stats(&dev);
    T_EQ_U64(after.live, before.live);
    T_EQ_U64(after.in_use, before.in_use);
    T_EQ_U64(after.bus_base, MEM_A);
    /* The allocation is still valid: translate, write, free. */
    T_EQ_U64(dmacoh_virt_to_dma(&dev, cpu), h);
    memset(cpu, 0x5a, 3 * PG);
    T_OK(dmacoh_free_coherent(&dev, 3 * PG, cpu, h));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_ASSERT(!dmacoh_device_has_region(&dev));
    teardown(sim, &dev);
}

static void release_force_with_outstanding(void)
{
    struct dmacoh_device dev;
    struct dmacoh_sim *sim = setup(&dev, "rel-force");
    void *cpu[3];
    dmacoh_dma_addr_t h[3];

    DECLARE_OK(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    for (int i = 0; i < 3; i++)
        T_OK(dmacoh_alloc_coherent(&dev, PG, 0, 0, &cpu[i], &h[i]));
    t_log_reset();
    T_OK(dmacoh_release_coherent_memory(&dev, DMACOH_RELEASE_FORCE));
    T_ASSERT(t_log_count() > 0); /* a warning names the count */
    T_ASSERT(!dmacoh_device_has_region(&dev));
    T_ASSERT(dmacoh_check(&dev));
    T_EQ_U64(dmacoh_virt_to_dma(&dev, cpu[0]), DMACOH_BAD_DMA_ADDR);
    /* The memory is free again for a new declaration, by this device or another. */
    DECLARE_OK(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    T_EQ_U64(t_region_stats(&dev).live, 0);
    T_EQ_U64(t_region_stats(&dev).in_use, 0);
    teardown(sim, &dev);
}

static void release_occupied_is_not_outstanding(void)
{
    struct dmacoh_device dev;
    struct dmacoh_sim *sim = setup(&dev, "rel-occ");
    void *cpu = NULL;

    DECLARE_OK(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_mark_declared_memory_occupied(&dev, DEV_A + 4 * PG, 2 * PG, &cpu));
    T_ASSERT(cpu != NULL);
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_ASSERT(!dmacoh_device_has_region(&dev));
    teardown(sim, &dev);
}

static void release_then_declare_again(void)
{
    struct dmacoh_device dev, other;
    struct dmacoh_sim *sim = setup(&dev, "again");
    void *cpu = NULL;
    dmacoh_dma_addr_t h = 0;

    T_OK(dmacoh_device_init(&other, "again-2", NULL, dmacoh_sim_platform(sim)));
    DECLARE_OK(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    /* Same device, other memory, other mode. */
    DECLARE_OK(&dev, MEM_B, DEV_B, MEM_SZ / 2, DMACOH_MEMORY_IO, DMACOH_MEMORY_IO);
    T_EQ_U64(t_region_stats(&dev).bus_base, MEM_B);
    T_EQ_U64(t_region_stats(&dev).size, MEM_SZ / 2);
    T_OK(dmacoh_alloc_coherent(&dev, PG, DMACOH_ALLOC_NOFALLBACK, 0, &cpu, &h));
    T_ASSERT(h >= DEV_B && h < DEV_B + MEM_SZ / 2);
    T_OK(dmacoh_free_coherent(&dev, PG, cpu, h));
    /* The first memory is free for another device now. */
    DECLARE_OK(&other, MEM_A, DEV_A, MEM_SZ, MAPIO, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_release_coherent_memory(&other, 0));
    T_OK(dmacoh_device_fini(&other));
    teardown(sim, &dev);
}

static void release_without_region(void)
{
    struct dmacoh_device dev;
    struct dmacoh_sim *sim = setup(&dev, "norel");

    t_log_reset();
    T_ERR(dmacoh_release_coherent_memory(&dev, 0), DMACOH_ENODEV);
    T_ERR(dmacoh_release_coherent_memory(&dev, DMACOH_RELEASE_FORCE), DMACOH_ENODEV);
    T_ASSERT(t_log_count() > 0);
    DECLARE_OK(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_ERR(dmacoh_release_coherent_memory(&dev, 0), DMACOH_ENODEV);
    T_ASSERT(dmacoh_check(&dev));
    teardown(sim, &dev);
}

static void release_unknown_flags(void)
{
    struct dmacoh_device dev;
    struct dmacoh_sim *sim = setup(&dev, "relflags");

    DECLARE_OK(&dev, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    t_log_reset();
    T_ERR(dmacoh_release_coherent_memory(&dev, 0x80), DMACOH_EINVAL);
    T_ERR(dmacoh_release_coherent_memory(&dev, DMACOH_RELEASE_FORCE | 0x2), DMACOH_EINVAL);
    T_ASSERT(t_log_count() > 0);
    T_ASSERT(dmacoh_device_has_region(&dev));
    T_ASSERT(dmacoh_check(&dev));
    teardown(sim, &dev);
}

static void device_fini_refuses(void)
{
    struct dmacoh_device parent, child;
    struct dmacoh_sim *sim = setup(&parent, "fini-p");

    T_OK(dmacoh_device_init(&child, "fini-c", &parent, NULL));
    T_EQ_PTR(dmacoh_device_parent(&child), &parent);
    /* Children refuse. */
    t_log_reset();
    T_ERR(dmacoh_device_fini(&parent), DMACOH_EBUSY);
    T_ASSERT(t_log_count() > 0);
    T_ASSERT(dmacoh_check(&parent));
    T_OK(dmacoh_device_fini(&child));
    T_ERR(dmacoh_device_fini(&child), DMACOH_EINVAL);
    /* A region refuses. */
    DECLARE_OK(&parent, MEM_A, DEV_A, MEM_SZ, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    t_log_reset();
    T_ERR(dmacoh_device_fini(&parent), DMACOH_EBUSY);
    T_ASSERT(t_log_count() > 0);
    T_ASSERT(dmacoh_device_has_region(&parent));
    T_EQ_U64(t_region_stats(&parent).bus_base, MEM_A);
    T_ASSERT(dmacoh_check(&parent));
    /* The simulator refuses to go while the region is declared. */
    T_ERR(dmacoh_sim_destroy(sim), DMACOH_EBUSY);
    T_OK(dmacoh_release_coherent_memory(&parent, 0));
    T_OK(dmacoh_device_fini(&parent));
    T_ERR(dmacoh_device_fini(&parent), DMACOH_EINVAL);
    T_OK(dmacoh_sim_destroy(sim));
}

static void device_init_validation(void)
{
    struct dmacoh_sim *sim = new_sim(NULL);
    struct dmacoh_sim *sim2 = new_sim(NULL);
    struct dmacoh_device root, child, stale;

    memset(&stale, 0, sizeof(stale));
    T_ERR(dmacoh_device_init(NULL, "x", NULL, dmacoh_sim_platform(sim)), DMACOH_EINVAL);
    T_ERR(dmacoh_device_init(&child, "x", NULL, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_device_init(&child, "x", &stale, NULL), DMACOH_EINVAL);
    T_OK(dmacoh_device_init(&root, NULL, NULL, dmacoh_sim_platform(sim)));
    T_ASSERT(strcmp(dmacoh_device_name(&root), "?") == 0);
    T_ASSERT(strcmp(dmacoh_device_name(NULL), "(null)") == 0);
    T_ERR(dmacoh_device_init(&child, "x", &root, dmacoh_sim_platform(sim2)), DMACOH_EINVAL);
    T_OK(dmacoh_device_init(&child, "kid", &root, dmacoh_sim_platform(sim)));
    T_ASSERT(strcmp(dmacoh_device_name(&child), "kid") == 0);
    T_EQ_PTR(dmacoh_device_parent(&root), NULL);
    T_OK(dmacoh_device_fini(&child));
    T_OK(dmacoh_device_fini(&root));
    T_OK(dmacoh_sim_destroy(sim2));
    T_OK(dmacoh_sim_destroy(sim));
}

static void device_set_dma_mask_validation(void)
{
    struct dmacoh_device dev, stale;
    struct dmacoh_sim *sim = setup(&dev, "mask");

    T_EQ_U64(dmacoh_device_dma_mask(&dev), ~UINT64_C(0));
    T_EQ_U64(dmacoh_device_dma_mask(NULL), 0);
    T_OK(dmacoh_device_set_dma_mask(&dev, DMACOH_BIT_MASK(32)));
    T_EQ_U64(dmacoh_device_dma_mask(&dev), UINT64_C(0xffffffff));
    T_OK(dmacoh_device_set_dma_mask(&dev, DMACOH_BIT_MASK(12)));
    T_EQ_U64(dmacoh_device_dma_mask(&dev), UINT64_C(0xfff));
    T_OK(dmacoh_device_set_dma_mask(&dev, DMACOH_BIT_MASK(64)));
    T_OK(dmacoh_device_set_dma_mask(&dev, DMACOH_BIT_MASK(28)));

    t_log_reset();
    T_ERR(dmacoh_device_set_dma_mask(&dev, 0), DMACOH_EINVAL);
    T_ERR(dmacoh_device_set_dma_mask(&dev, DMACOH_BIT_MASK(11)), DMACOH_EINVAL);
    T_ERR(dmacoh_device_set_dma_mask(&dev, DMACOH_BIT_MASK(1)), DMACOH_EINVAL);
    T_ERR(dmacoh_device_set_dma_mask(&dev, UINT64_C(0x12345fff)), DMACOH_EINVAL);
    T_ERR(dmacoh_device_set_dma_mask(&dev, UINT64_C(0xffff0000)), DMACOH_EINVAL);
    T_ERR(dmacoh_device_set_dma_mask(&dev, UINT64_C(0x100000000)), DMACOH_EINVAL);
    T_ASSERT(t_log_count() > 0);
    T_EQ_U64(dmacoh_device_dma_mask(&dev), DMACOH_BIT_MASK(28)); /* unchanged */
    memset(&stale, 0, sizeof(stale));
    T_ERR(dmacoh_device_set_dma_mask(&stale, DMACOH_BIT_MASK(32)), DMACOH_EINVAL);
    T_EQ_U64(dmacoh_device_dma_mask(&stale), 0);
    teardown(sim, &dev);
}

static void declare_beyond_dma_mask(void)
{
    struct dmacoh_device dev;
    struct dmacoh_sim *sim = setup(&dev, "mask32");

    T_OK(dmacoh_device_set_dma_mask(&dev, DMACOH_BIT_MASK(32)));
    DECLARE_FAILS(&dev, MEM_A, UINT64_C(0xfffff000), 2 * PG, DMACOH_MEMORY_MAP, NULL,
                  DMACOH_ERANGE);
    DECLARE_FAILS(&dev, MEM_A, UINT64_C(0x100000000), PG, DMACOH_MEMORY_MAP, NULL, DMACOH_ERANGE);
    T_ASSERT(!dmacoh_device_has_region(&dev));
    /* Ending exactly at the mask is fine. */
    DECLARE_OK(&dev, MEM_A, UINT64_C(0xffffe000), 2 * PG, DMACOH_MEMORY_MAP, DMACOH_MEMORY_MAP);
    T_EQ_U64(t_region_stats(&dev).device_base, UINT64_C(0xffffe000));
    teardown(sim, &dev);
}

static const struct t_case cases[] = {
    T_CASE(declare_bad_flags),
    T_CASE(declare_size_zero),
    T_CASE(declare_size_not_granule_multiple),
    T_CASE(declare_bus_misaligned),
    T_CASE(declare_device_misaligned),
    T_CASE(declare_bus_wraps),
    T_CASE(declare_device_wraps),
    T_CASE(declare_second_on_same_device),
    T_CASE(declare_overlap_two_devices),
    T_CASE(declare_adjacent_two_devices),
    T_CASE(declare_shared_memory),
    T_CASE(declare_shared_not_identical),
    T_CASE(declare_granted_mode),
    T_CASE(declare_granted_may_be_null),
    T_CASE(declare_platform_without_support),
    T_CASE(declare_no_memory_at_bus),
    T_CASE(declare_uninitialised_device),
    T_CASE(declare_bad_opts),
    T_CASE(declare_caller_meta_and_granule),
    T_CASE(declare_initial_stats),
    T_CASE(release_refuses_while_busy),
    T_CASE(release_force_with_outstanding),
    T_CASE(release_occupied_is_not_outstanding),
    T_CASE(release_then_declare_again),
    T_CASE(release_without_region),
    T_CASE(release_unknown_flags),
    T_CASE(device_fini_refuses),
    T_CASE(device_init_validation),
    T_CASE(device_set_dma_mask_validation),
    T_CASE(declare_beyond_dma_mask),
};

T_MAIN(cases)
