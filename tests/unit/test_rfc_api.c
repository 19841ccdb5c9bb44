/* SPDX-License-Identifier: MIT */
/*
 * test_rfc_api.c - the RFC's API in include/dmacoh/dma-mapping.h, written as 2004 driver code
 * writes it (a struct device whose .dmacoh member is set up with dmacoh_device_init()):
 * dma_declare_coherent_memory() returns DMA_MEMORY_MAP, DMA_MEMORY_IO or 0 and never a flag
 * that was not passed, dma_alloc_coherent() returns NULL for size 0 and full exclusive regions,
 * dma_free_coherent() survives bad arguments without corrupting anything,
 * dma_release_declared_memory() is unconditional and dma_mark_declared_memory_occupied()
 * returns error pointers. Also checks that every DMACOH_E* equals -E* of this Linux host's
 * <errno.h> and that dmacoh_err_name() / dmacoh_strerror() name every code.
 */
#include <dmacoh/dma-mapping.h>
#include <dmacoh/sim.h>

#include "fixture.h"
#include "t.h"

#include <errno.h>
#include <string.h>

#define MEM_A UINT64_C(0x10000000)
#define MEM_B UINT64_C(0x20000000)
#define DEV_A UINT64_C(0x80000000)
#define MB2   UINT64_C(0x200000)
#define K64   UINT64_C(0x10000)
#define MAPIO (DMA_MEMORY_MAP | DMA_MEMORY_IO)

_Static_assert(DMACOH_EPERM == -EPERM, "EPERM");
_Static_assert(DMACOH_ENOENT == -ENOENT, "ENOENT");
_Static_assert(DMACOH_EIO == -EIO, "EIO");
_Static_assert(DMACOH_ENXIO == -ENXIO, "ENXIO");
_Static_assert(DMACOH_ENOMEM == -ENOMEM, "ENOMEM");
_Static_assert(DMACOH_EACCES == -EACCES, "EACCES");
_Static_assert(DMACOH_EFAULT == -EFAULT, "EFAULT");
_Static_assert(DMACOH_EBUSY == -EBUSY, "EBUSY");
_Static_assert(DMACOH_EEXIST == -EEXIST, "EEXIST");
_Static_assert(DMACOH_ENODEV == -ENODEV, "ENODEV");
_Static_assert(DMACOH_EINVAL == -EINVAL, "EINVAL");
_Static_assert(DMACOH_ERANGE == -ERANGE, "ERANGE");
_Static_assert(DMACOH_EOVERFLOW == -EOVERFLOW, "EOVERFLOW");
_Static_assert(DMACOH_ENOTSUP == -ENOTSUP, "ENOTSUP");
_Static_assert(DMACOH_ETIMEDOUT == -ETIMEDOUT, "ETIMEDOUT");

static struct dmacoh_sim *new_sim(bool no_declare)
{
    struct dmacoh_sim_opts o;
    struct dmacoh_sim *sim = NULL;

    memset(&o, 0, sizeof(o));
    o.no_declare = no_declare;
    T_OK(dmacoh_sim_create(&o, &sim));
    return sim;
}

static void dev_init(struct device *dev, const char *name, struct device *parent,
                     struct dmacoh_sim *sim)
{
    T_OK(dmacoh_device_init(&dev->dmacoh, name, parent ? &parent->dmacoh : NULL,
                            parent ? NULL : dmacoh_sim_platform(sim)));
}

static struct dmacoh_region_stats stats_of(struct device *dev)
{
    struct dmacoh_region_stats st;

    memset(&st, 0, sizeof(st));
    T_OK(dmacoh_region_get_stats(&dev->dmacoh, &st));
    return st;
}

static void dev_fini(struct device *dev)
{
    T_ASSERT(dmacoh_check(&dev->dmacoh));
    dma_release_declared_memory(dev);
    T_OK(dmacoh_device_fini(&dev->dmacoh));
}

/* A declaration that must return 0 and say why in the log. */
#define DECLARE_ZERO(dev, bus, da, size, flags)                                                    \
    do {                                                                                           \
        t_log_reset();                                                                             \
        T_EQ_INT(dma_declare_coherent_memory((dev), (bus), (da), (size), (flags)), 0);             \
        T_ASSERT(t_log_count() > 0);                                                               \
    } while (0)

static void rfc_constants(void)
{
    T_EQ_INT(DMA_MEMORY_MAP, 0x01);
    T_EQ_INT(DMA_MEMORY_IO, 0x02);
    T_EQ_INT(DMA_MEMORY_INCLUDES_CHILDREN, 0x04);
    T_EQ_INT(DMA_MEMORY_EXCLUSIVE, 0x08);
    T_EQ_U64(PAGE_SIZE, 4096);
    T_EQ_U64(DMA_BIT_MASK(32), UINT64_C(0xffffffff));
    T_EQ_U64(DMA_BIT_MASK(64), ~UINT64_C(0));
    T_ASSERT(IS_ERR(ERR_PTR(-EBUSY)));
    T_EQ_INT(PTR_ERR(ERR_PTR(-EINVAL)), -EINVAL);
    T_ASSERT(!IS_ERR(&(int){0}));
    T_ASSERT(IS_ERR_OR_NULL(NULL));
}

/* What the RFC says dma_declare_coherent_memory returns for `flags` on memory of `modes`. */
static int expected_grant(int modes, int flags)
{
    if (flags & ~DMACOH_MEMORY_ALL_FLAGS)
        return 0;
    if ((flags & DMA_MEMORY_MAP) && (modes & DMA_MEMORY_MAP))
        return DMA_MEMORY_MAP;
    if ((flags & DMA_MEMORY_IO) && (modes & DMA_MEMORY_IO))
        return DMA_MEMORY_IO;
    return 0;
}

static void rfc_declare_return_values(void)
{
    static const int mems[] = {MAPIO, DMA_MEMORY_MAP, DMA_MEMORY_IO};

    for (unsigned m = 0; m < 3; m++) {
        for (int flags = 0; flags <= 0x1f; flags++) {
            struct dmacoh_sim *sim = new_sim(false);
            struct device dev;
            int got, want = expected_grant(mems[m], flags);

            t_add_memory(sim, MEM_A, K64, mems[m], false);
            dev_init(&dev, "decl", NULL, sim);
            got = dma_declare_coherent_memory(&dev, MEM_A, DEV_A, K64, flags);
            if (got != want)
                t_fail(__FILE__, __LINE__, "memory modes %d, flags 0x%x: got %d, want %d", mems[m],
                       (unsigned)flags, got, want);
            T_EQ_INT(got & ~flags, 0); /* never a flag that was not passed in */
            T_EQ_INT(dmacoh_device_has_region(&dev.dmacoh), got != 0);
            dev_fini(&dev);
            T_OK(dmacoh_sim_destroy(sim));
        }
    }
}

static void rfc_declare_failures(void)
{
    struct dmacoh_sim *sim = new_sim(false);
    struct device a, b;

    t_add_memory(sim, MEM_A, MB2, MAPIO, false);
    dev_init(&a, "a", NULL, sim);
    dev_init(&b, "b", NULL, sim);
    DECLARE_ZERO(&a, MEM_A, DEV_A, 0, DMA_MEMORY_MAP);
    DECLARE_ZERO(&a, MEM_A, DEV_A, PAGE_SIZE + 512, DMA_MEMORY_MAP);
    DECLARE_ZERO(&a, MEM_A + 512, DEV_A, PAGE_SIZE, DMA_MEMORY_MAP);
    DECLARE_ZERO(&a, MEM_A, DEV_A + 512, PAGE_SIZE, DMA_MEMORY_MAP);
    DECLARE_ZERO(&a, MEM_A, ~UINT64_C(0) - PAGE_SIZE + 1, 2 * PAGE_SIZE, DMA_MEMORY_MAP);
    DECLARE_ZERO(&a, MEM_B, DEV_A, PAGE_SIZE, DMA_MEMORY_MAP); /* nothing there */
    DECLARE_ZERO(&a, MEM_A, DEV_A, PAGE_SIZE, DMA_MEMORY_EXCLUSIVE);
    T_ASSERT(!dmacoh_device_has_region(&a.dmacoh));
    T_EQ_INT(dma_declare_coherent_memory(NULL, MEM_A, DEV_A, PAGE_SIZE, DMA_MEMORY_MAP), 0);

    T_EQ_INT(dma_declare_coherent_memory(&a, MEM_A, DEV_A, MB2 / 2, MAPIO), DMA_MEMORY_MAP);
    DECLARE_ZERO(&a, MEM_A + MB2 / 2, DEV_A, MB2 / 2, DMA_MEMORY_MAP); /* second on a */
    DECLARE_ZERO(&b, MEM_A, DEV_A, MB2 / 2, DMA_MEMORY_MAP);           /* overlap */
    DECLARE_ZERO(&b, MEM_A + PAGE_SIZE, DEV_A, PAGE_SIZE, DMA_MEMORY_IO);
    T_EQ_U64(stats_of(&a).size, MB2 / 2);
    T_ASSERT(!dmacoh_device_has_region(&b.dmacoh));
    T_EQ_INT(dma_declare_coherent_memory(&b, MEM_A + MB2 / 2, DEV_A, MB2 / 2, DMA_MEMORY_IO),
             DMA_MEMORY_IO);
    dev_fini(&b);
    dev_fini(&a);
    T_OK(dmacoh_sim_destroy(sim));

    /* A platform without declared memory: the RFC's "hard coding a return 0". */
    sim = new_sim(true);
    t_add_memory(sim, MEM_A, MB2, MAPIO, false);
    dev_init(&a, "a", NULL, sim);
    DECLARE_ZERO(&a, MEM_A, DEV_A, MB2, MAPIO);
    dev_fini(&a);
    T_OK(dmacoh_sim_destroy(sim));
}

/* The RFC's example: a SCSI card with four channels and a shared 2 MB area on chip. */
static void rfc_scsi_card_four_channels(void)
{
    struct dmacoh_sim *sim = new_sim(false);
    struct device card, chan[4];
    void *buf[40];
    dma_addr_t h[40];
    unsigned n = 0;
    unsigned char b = 0;

    t_add_memory(sim, MEM_A, MB2, MAPIO, false);
    dev_init(&card, "card", NULL, sim);
    for (unsigned i = 0; i < 4; i++)
        dev_init(&chan[i], "chan", &card, sim);
    T_EQ_INT(dma_declare_coherent_memory(&card, MEM_A, DEV_A, MB2,
                                         DMA_MEMORY_MAP | DMA_MEMORY_INCLUDES_CHILDREN |
                                             DMA_MEMORY_EXCLUSIVE),
             DMA_MEMORY_MAP);
    for (;;) {
        struct device *d = &chan[n % 4];
        T_ASSERT(n < 40);
        buf[n] = dma_alloc_coherent(d, (size_t)K64, &h[n], GFP_KERNEL);
        if (!buf[n])
            break;
        T_ASSERT(h[n] >= DEV_A && h[n] + K64 <= DEV_A + MB2);
        T_EQ_U64(h[n] % K64, 0);
        T_EQ_U64(dmacoh_virt_to_dma(&d->dmacoh, buf[n]), h[n]);
        for (unsigned j = 0; j < n; j++)
            T_ASSERT(h[n] + K64 <= h[j] || h[j] + K64 <= h[n]);
        memset(buf[n], (int)(n + 1), (size_t)K64);
        n++;
    }
    T_EQ_INT(n, 32); /* 2 MB / 64 KiB, then NULL: exclusive */
    T_EQ_U64(stats_of(&card).in_use, MB2);
    for (unsigned i = 0; i < n; i++) {
        T_OK(dmacoh_sim_bus_read(sim, MEM_A + (h[i] - DEV_A) + 100, &b, 1));
        T_EQ_INT(b, i + 1);
    }
    for (unsigned i = 0; i < n; i++)
        dma_free_coherent(&chan[i % 4], (size_t)K64, buf[i], h[i]);
    T_EQ_U64(stats_of(&card).live, 0);
    T_ASSERT(dmacoh_check(&card.dmacoh));
    for (unsigned i = 0; i < 4; i++)
        dev_fini(&chan[i]);
    dev_fini(&card);
    T_OK(dmacoh_sim_destroy(sim));
}

static void rfc_alloc_null_cases(void)
{
    struct dmacoh_sim *sim = new_sim(false);
    struct device dev, plain;
    void *p[4], *x;
    dma_addr_t h[4], hx = 0x1234;

    t_add_memory(sim, MEM_A, 4 * PAGE_SIZE, MAPIO, false);
    t_add_memory(sim, MEM_B, 4 * PAGE_SIZE, MAPIO, false);
    dev_init(&dev, "excl", NULL, sim);
    dev_init(&plain, "plain", NULL, sim);
    T_EQ_INT(dma_declare_coherent_memory(&dev, MEM_A, DEV_A, 4 * PAGE_SIZE,
                                         DMA_MEMORY_MAP | DMA_MEMORY_EXCLUSIVE),
             DMA_MEMORY_MAP);
    T_EQ_PTR(dma_alloc_coherent(&dev, 0, &hx, GFP_KERNEL), NULL);
    T_EQ_U64(hx, 0x1234);
    T_EQ_PTR(dma_alloc_coherent(&dev, PAGE_SIZE, NULL, GFP_KERNEL), NULL);
    T_EQ_PTR(dma_alloc_coherent(NULL, PAGE_SIZE, &hx, GFP_KERNEL), NULL);
    /* gfp bits: defined ones and unknown ones are all accepted. */
    p[0] = dma_alloc_coherent(&dev, PAGE_SIZE, &h[0], GFP_KERNEL);
    p[1] = dma_alloc_coherent(&dev, PAGE_SIZE, &h[1], GFP_ATOMIC);
    p[2] = dma_alloc_coherent(&dev, PAGE_SIZE, &h[2], GFP_DMA | __GFP_ZERO);
    p[3] = dma_alloc_coherent(&dev, 1, &h[3], 0x400000);
    for (unsigned i = 0; i < 4; i++) {
        T_ASSERT(p[i] != NULL);
        T_ASSERT(h[i] >= DEV_A && h[i] < DEV_A + 4 * PAGE_SIZE);
    }
    /* Full and exclusive: NULL, handle untouched. */
    T_EQ_PTR(dma_alloc_coherent(&dev, PAGE_SIZE, &hx, GFP_KERNEL), NULL);
    T_EQ_U64(hx, 0x1234);
    T_EQ_U64(stats_of(&dev).live, 4);

    /* Full but not exclusive: system memory. */
    T_EQ_INT(dma_declare_coherent_memory(&plain, MEM_B, DEV_A + MB2, PAGE_SIZE, DMA_MEMORY_MAP),
             DMA_MEMORY_MAP);
    x = dma_alloc_coherent(&plain, PAGE_SIZE, &hx, GFP_KERNEL);
    T_ASSERT(x != NULL);
    x = dma_alloc_coherent(&plain, PAGE_SIZE, &hx, GFP_KERNEL);
    T_ASSERT(x != NULL);
    T_EQ_INT(dmacoh_origin_of(&plain.dmacoh, x), DMACOH_ORIGIN_SYSTEM);
    dma_free_coherent(&plain, PAGE_SIZE, x, hx);
    T_ERR(dmacoh_free_coherent(&plain.dmacoh, PAGE_SIZE, x, hx), DMACOH_EFAULT); /* it was freed */
    for (unsigned i = 0; i < 4; i++)
        dma_free_coherent(&dev, PAGE_SIZE, p[i], h[i]);
    T_EQ_U64(stats_of(&dev).live, 0);
    dev_fini(&plain);
    dev_fini(&dev);
    T_OK(dmacoh_sim_destroy(sim));
}

static void rfc_alloc_zeroed(void)
{
    struct dmacoh_sim *sim = new_sim(false);
    struct device dev;
    static unsigned char junk[8 * 4096];
    unsigned char *p;
    dma_addr_t h = 0;

    t_add_memory(sim, MEM_A, 8 * PAGE_SIZE, MAPIO, false);
    memset(junk, 0xdb, sizeof(junk));
    T_OK(dmacoh_sim_bus_write(sim, MEM_A, junk, sizeof(junk)));
    dev_init(&dev, "zero", NULL, sim);
    T_EQ_INT(dma_declare_coherent_memory(&dev, MEM_A, DEV_A, 8 * PAGE_SIZE,
                                         DMA_MEMORY_MAP | DMA_MEMORY_EXCLUSIVE),
             DMA_MEMORY_MAP);
    p = dma_alloc_coherent(&dev, 8 * PAGE_SIZE, &h, GFP_KERNEL);
    T_ASSERT(p != NULL);
    T_EQ_U64(h, DEV_A);
    for (size_t i = 0; i < 8 * PAGE_SIZE; i++)
        if (p[i] != 0)
            t_fail(__FILE__, __LINE__, "byte %zu is 0x%02x, want 0", i, p[i]);
    dma_free_coherent(&dev, 8 * PAGE_SIZE, p, h);
    dev_fini(&dev);
    T_OK(dmacoh_sim_destroy(sim));
}

static void rfc_free_bad_arguments(void)
{
    struct dmacoh_sim *sim = new_sim(false);
    struct device dev;
    struct dmacoh_region_stats before, after;
    char *p, *q;
    dma_addr_t hp = 0, hq = 0;
    int local = 0;

    t_add_memory(sim, MEM_A, 16 * PAGE_SIZE, MAPIO, false);
    dev_init(&dev, "free", NULL, sim);
    T_EQ_INT(dma_declare_coherent_memory(&dev, MEM_A, DEV_A, 16 * PAGE_SIZE, DMA_MEMORY_MAP),
             DMA_MEMORY_MAP);
    p = dma_alloc_coherent(&dev, 2 * PAGE_SIZE, &hp, GFP_KERNEL);
    q = dma_alloc_coherent(&dev, PAGE_SIZE, &hq, GFP_KERNEL);
    T_ASSERT(p != NULL && q != NULL);
    before = stats_of(&dev);
    t_log_reset();
    dma_free_coherent(&dev, PAGE_SIZE, p, hp);                         /* wrong size */
    dma_free_coherent(&dev, 4 * PAGE_SIZE, p, hp);                     /* wrong size */
    dma_free_coherent(&dev, 2 * PAGE_SIZE, p, hq);                     /* wrong handle */
    dma_free_coherent(&dev, PAGE_SIZE, p + PAGE_SIZE, hp + PAGE_SIZE); /* middle */
    dma_free_coherent(&dev, sizeof(local), &local, 0);                 /* never allocated */
    dma_free_coherent(&dev, PAGE_SIZE, NULL, hq);
    dma_free_coherent(&dev, 0, q, hq);
    dma_free_coherent(NULL, PAGE_SIZE, q, hq);
    T_ASSERT(t_log_count() >= 7);
    T_ASSERT(dmacoh_check(&dev.dmacoh));
    after = stats_of(&dev);
    T_EQ_U64(after.live, before.live);
    T_EQ_U64(after.in_use, before.in_use);
    T_EQ_U64(after.frees, before.frees);
    /* Double free. */
    dma_free_coherent(&dev, PAGE_SIZE, q, hq);
    T_EQ_U64(stats_of(&dev).live, 1);
    t_log_reset();
    dma_free_coherent(&dev, PAGE_SIZE, q, hq);
    T_ASSERT(t_log_count() > 0);
    T_EQ_U64(stats_of(&dev).live, 1);
    T_EQ_U64(stats_of(&dev).frees, before.frees + 1);
    T_ASSERT(dmacoh_check(&dev.dmacoh));
    dma_free_coherent(&dev, 2 * PAGE_SIZE, p, hp);
    T_EQ_U64(stats_of(&dev).live, 0);
    T_EQ_U64(stats_of(&dev).largest_free, 16 * PAGE_SIZE);
    dev_fini(&dev);
    T_OK(dmacoh_sim_destroy(sim));
}

static void rfc_release_unconditional(void)
{
    struct dmacoh_sim *sim = new_sim(false);
    struct device dev;
    void *p, *q;
    dma_addr_t hp = 0, hq = 0;

    t_add_memory(sim, MEM_A, 16 * PAGE_SIZE, MAPIO, false);
    dev_init(&dev, "rel", NULL, sim);
    dma_release_declared_memory(&dev); /* no region: nothing happens */
    dma_release_declared_memory(NULL);
    T_ASSERT(!dmacoh_device_has_region(&dev.dmacoh));
    T_EQ_INT(dma_declare_coherent_memory(&dev, MEM_A, DEV_A, 16 * PAGE_SIZE, DMA_MEMORY_MAP),
             DMA_MEMORY_MAP);
    p = dma_alloc_coherent(&dev, PAGE_SIZE, &hp, GFP_KERNEL);
    q = dma_alloc_coherent(&dev, 3 * PAGE_SIZE, &hq, GFP_KERNEL);
    T_ASSERT(p != NULL && q != NULL);
    dma_release_declared_memory(&dev); /* with two allocations outstanding */
    T_ASSERT(!dmacoh_device_has_region(&dev.dmacoh));
    T_ASSERT(dmacoh_check(&dev.dmacoh));
    /* The device declares again; stale frees are reported and corrupt nothing. */
    T_EQ_INT(dma_declare_coherent_memory(&dev, MEM_A, DEV_A, 16 * PAGE_SIZE, DMA_MEMORY_IO),
             DMA_MEMORY_IO);
    t_log_reset();
    dma_free_coherent(&dev, 3 * PAGE_SIZE, q, hq);
    T_ASSERT(t_log_count() > 0);
    T_EQ_U64(stats_of(&dev).live, 0);
    T_EQ_U64(stats_of(&dev).in_use, 0);
    T_EQ_U64(stats_of(&dev).largest_free, 16 * PAGE_SIZE);
    T_ASSERT(dmacoh_check(&dev.dmacoh));
    (void)p;
    dma_release_declared_memory(&dev);
    T_ASSERT(!dmacoh_device_has_region(&dev.dmacoh));
    T_OK(dmacoh_device_fini(&dev.dmacoh));
    T_OK(dmacoh_sim_destroy(sim)); /* nothing left declared on the platform */
}

static void rfc_mark_declared_memory_occupied(void)
{
    struct dmacoh_sim *sim = new_sim(false);
    struct device dev, none;
    char *mbox, *p, *e;
    dma_addr_t hp = 0;
    char buf[4] = {0};

    t_add_memory(sim, MEM_A, 16 * PAGE_SIZE, MAPIO, false);
    dev_init(&dev, "fw", NULL, sim);
    dev_init(&none, "none", NULL, sim);
    T_EQ_INT(dma_declare_coherent_memory(&dev, MEM_A, DEV_A, 16 * PAGE_SIZE,
                                         DMA_MEMORY_MAP | DMA_MEMORY_EXCLUSIVE),
             DMA_MEMORY_MAP);
    /* A firmware mailbox at a fixed device address, not granule aligned. */
    mbox = dma_mark_declared_memory_occupied(&dev, DEV_A + 0x1100, 0x20);
    T_ASSERT(!IS_ERR_OR_NULL(mbox));
    T_EQ_PTR(mbox, dmacoh_dma_to_virt(&dev.dmacoh, DEV_A + 0x1100));
    memcpy(mbox, "mbx", 4);
    T_OK(dmacoh_sim_bus_read(sim, MEM_A + 0x1100, buf, 4));
    T_ASSERT(memcmp(buf, "mbx", 4) == 0);
    T_EQ_U64(stats_of(&dev).occupied, PAGE_SIZE);

    p = dma_alloc_coherent(&dev, PAGE_SIZE, &hp, GFP_KERNEL);
    T_ASSERT(p != NULL && hp != DEV_A + PAGE_SIZE);
    e = dma_mark_declared_memory_occupied(&dev, hp, PAGE_SIZE);
    T_ASSERT(IS_ERR(e));
    T_EQ_INT(PTR_ERR(e), -EBUSY);
    e = dma_mark_declared_memory_occupied(&dev, DEV_A + PAGE_SIZE, 1);
    T_ASSERT(IS_ERR(e));
    T_EQ_INT(PTR_ERR(e), -EBUSY);
    e = dma_mark_declared_memory_occupied(&dev, DEV_A + 15 * PAGE_SIZE, 2 * PAGE_SIZE);
    T_ASSERT(IS_ERR(e));
    T_EQ_INT(PTR_ERR(e), -EINVAL);
    e = dma_mark_declared_memory_occupied(&dev, DEV_A + 8 * PAGE_SIZE, 0);
    T_ASSERT(IS_ERR(e));
    T_EQ_INT(PTR_ERR(e), -EINVAL);
    e = dma_mark_declared_memory_occupied(&none, DEV_A, PAGE_SIZE);
    T_ASSERT(IS_ERR(e));
    T_EQ_INT(PTR_ERR(e), -EINVAL);
    e = dma_mark_declared_memory_occupied(NULL, DEV_A, PAGE_SIZE);
    T_ASSERT(IS_ERR(e));
    T_EQ_INT(PTR_ERR(e), -EINVAL);
    T_EQ_U64(stats_of(&dev).occupied, PAGE_SIZE);
    /* Freeing the mailbox is refused; the release takes it away. */
    t_log_reset();
    dma_free_coherent(&dev, PAGE_SIZE, mbox - 0x100, DEV_A + PAGE_SIZE);
    T_ASSERT(t_log_count() > 0);
    T_EQ_U64(stats_of(&dev).occupied, PAGE_SIZE);
    dma_free_coherent(&dev, PAGE_SIZE, p, hp);
    T_ASSERT(dmacoh_check(&dev.dmacoh));
    dev_fini(&none);
    dev_fini(&dev);
    T_OK(dmacoh_sim_destroy(sim));
}

static void rfc_io_region_kernel_accessors(void)
{
    struct dmacoh_sim *sim = new_sim(false);
    struct device dev;
    char *io;
    dma_addr_t h = 0;
    unsigned char buf[32];
    uint64_t bus;

    t_add_memory(sim, MEM_A, 16 * PAGE_SIZE, DMA_MEMORY_IO, false);
    dev_init(&dev, "usb", NULL, sim);
    T_EQ_INT(dma_declare_coherent_memory(&dev, MEM_A, DEV_A, 16 * PAGE_SIZE, MAPIO), DMA_MEMORY_IO);
    io = dma_alloc_coherent(&dev, 2 * PAGE_SIZE, &h, GFP_KERNEL);
    T_ASSERT(io != NULL);
    bus = MEM_A + (h - DEV_A);
    iowrite32(0xcafef00du, io);
    writel(0x01020304u, io + 4);
    iowrite16(0xbeef, io + 8);
    writeb(0x5a, io + 10);
    memcpy_toio(io + 16, "on-chip SRAM", 12);
    T_OK(dmacoh_sim_bus_read(sim, bus, buf, sizeof(buf)));
    T_EQ_INT(buf[0], 0x0d);
    T_EQ_INT(buf[3], 0xca);
    T_EQ_INT(buf[4], 0x04);
    T_EQ_INT(buf[8], 0xef);
    T_EQ_INT(buf[9], 0xbe);
    T_EQ_INT(buf[10], 0x5a);
    T_ASSERT(memcmp(buf + 16, "on-chip SRAM", 12) == 0);
    T_EQ_U64(ioread32(io), 0xcafef00du);
    T_EQ_U64(readl(io + 4), 0x01020304u);
    memset_io(io + PAGE_SIZE, 0xab, 64);
    T_OK(dmacoh_sim_bus_read(sim, bus + PAGE_SIZE, buf, sizeof(buf)));
    for (unsigned i = 0; i < sizeof(buf); i++)
        T_EQ_INT(buf[i], 0xab);
    memset(buf, 0, sizeof(buf));
    memcpy_fromio(buf, io + 16, 12);
    T_ASSERT(memcmp(buf, "on-chip SRAM", 12) == 0);
    dma_free_coherent(&dev, 2 * PAGE_SIZE, io, h);
    T_EQ_U64(stats_of(&dev).live, 0);
    dev_fini(&dev);
    T_OK(dmacoh_sim_destroy(sim));
}

static void rfc_dma_set_mask(void)
{
    struct dmacoh_sim *sim = new_sim(false);
    struct device dev;
    void *p;
    dma_addr_t h = 0;

    dev_init(&dev, "mask", NULL, sim);
    T_EQ_INT(dma_set_mask(&dev, DMA_BIT_MASK(32)), 0);
    T_EQ_INT(dma_set_coherent_mask(&dev, DMA_BIT_MASK(32)), 0);
    T_EQ_U64(dmacoh_device_dma_mask(&dev.dmacoh), DMA_BIT_MASK(32));
    T_EQ_INT(dma_set_mask(&dev, 0x12345), -EIO);
    T_EQ_INT(dma_set_coherent_mask(&dev, DMA_BIT_MASK(8)), -EIO);
    T_EQ_INT(dma_set_mask(NULL, DMA_BIT_MASK(32)), -EIO);
    T_EQ_U64(dmacoh_device_dma_mask(&dev.dmacoh), DMA_BIT_MASK(32));
    p = dma_alloc_coherent(&dev, PAGE_SIZE, &h, GFP_KERNEL);
    T_ASSERT(p != NULL);
    T_ASSERT(h + PAGE_SIZE - 1 <= DMA_BIT_MASK(32));
    dma_free_coherent(&dev, PAGE_SIZE, p, h);
    dev_fini(&dev);
    T_OK(dmacoh_sim_destroy(sim));
}

struct code {
    int code;
    int host;
    const char *name;
};

static const struct code codes[] = {
    {DMACOH_EPERM, -EPERM, "DMACOH_EPERM"},
    {DMACOH_ENOENT, -ENOENT, "DMACOH_ENOENT"},
    {DMACOH_EIO, -EIO, "DMACOH_EIO"},
    {DMACOH_ENXIO, -ENXIO, "DMACOH_ENXIO"},
    {DMACOH_ENOMEM, -ENOMEM, "DMACOH_ENOMEM"},
    {DMACOH_EACCES, -EACCES, "DMACOH_EACCES"},
    {DMACOH_EFAULT, -EFAULT, "DMACOH_EFAULT"},
    {DMACOH_EBUSY, -EBUSY, "DMACOH_EBUSY"},
    {DMACOH_EEXIST, -EEXIST, "DMACOH_EEXIST"},
    {DMACOH_ENODEV, -ENODEV, "DMACOH_ENODEV"},
    {DMACOH_EINVAL, -EINVAL, "DMACOH_EINVAL"},
    {DMACOH_ERANGE, -ERANGE, "DMACOH_ERANGE"},
    {DMACOH_EOVERFLOW, -EOVERFLOW, "DMACOH_EOVERFLOW"},
    {DMACOH_ENOTSUP, -ENOTSUP, "DMACOH_ENOTSUP"},
    {DMACOH_ETIMEDOUT, -ETIMEDOUT, "DMACOH_ETIMEDOUT"},
};

#define NCODES (sizeof(codes) / sizeof(codes[0]))

static void errno_values_match_host(void)
{
    for (size_t i = 0; i < NCODES; i++) {
        T_EQ_INT(codes[i].code, codes[i].host);
        T_ASSERT(codes[i].code < 0);
        for (size_t j = 0; j < i; j++)
            T_ASSERT(codes[i].code != codes[j].code);
    }
    T_EQ_INT(DMACOH_EOVERFLOW, -75);
    T_EQ_INT(DMACOH_ENOTSUP, -EOPNOTSUPP);
}

static void err_names_and_strings(void)
{
    static const int unknown[] = {-3, -9999, 1, 22, -4096, -2147483647 - 1};

    for (size_t i = 0; i < NCODES; i++) {
        const char *n = dmacoh_err_name(codes[i].code);
        const char *s = dmacoh_strerror(codes[i].code);
        T_ASSERT(n != NULL && s != NULL);
        if (strcmp(n, codes[i].name) != 0)
            t_fail(__FILE__, __LINE__, "dmacoh_err_name(%d) = \"%s\", want \"%s\"", codes[i].code,
                   n, codes[i].name);
        T_ASSERT(strlen(s) > 3);
        T_ASSERT(strchr(s, '\n') == NULL);
        T_ASSERT(strcmp(s, "unknown error") != 0);
        T_ASSERT(strcmp(s, "success") != 0);
        for (size_t j = 0; j < i; j++)
            T_ASSERT(strcmp(s, dmacoh_strerror(codes[j].code)) != 0);
    }
    T_ASSERT(strcmp(dmacoh_err_name(0), "0") == 0);
    T_ASSERT(strcmp(dmacoh_strerror(0), "success") == 0);
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        const char *n = dmacoh_err_name(unknown[i]);
        const char *s = dmacoh_strerror(unknown[i]);
        T_ASSERT(n != NULL && s != NULL);
        if (strcmp(n, "DMACOH_E?") != 0 || strcmp(s, "unknown error") != 0)
            t_fail(__FILE__, __LINE__, "code %d: name \"%s\", string \"%s\"", unknown[i], n, s);
    }
}

static const struct t_case cases[] = {
    T_CASE(rfc_constants),
    T_CASE(rfc_declare_return_values),
    T_CASE(rfc_declare_failures),
    T_CASE(rfc_scsi_card_four_channels),
    T_CASE(rfc_alloc_null_cases),
    T_CASE(rfc_alloc_zeroed),
    T_CASE(rfc_free_bad_arguments),
    T_CASE(rfc_release_unconditional),
    T_CASE(rfc_mark_declared_memory_occupied),
    T_CASE(rfc_io_region_kernel_accessors),
    T_CASE(rfc_dma_set_mask),
    T_CASE(errno_values_match_host),
    T_CASE(err_names_and_strings),
};

T_MAIN(cases)
