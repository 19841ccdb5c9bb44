/* SPDX-License-Identifier: MIT */
/*
 * test_cookies.c - IO-cookie enforcement of the debug mode (DMACOH_DEBUG_IO_COOKIES): the
 * pointer an IO region hands out faults at its first direct load or store, at that address,
 * while every accessor of dmacoh/io.h reaches the memory behind it; the library's own zeroing
 * and poisoning go through them; translations and frees take cookies; MAP regions are not
 * affected; a platform that cannot reserve address space, or fails or lies when asked, gets a
 * working region without cookies; accessors stay right while other regions come and go.
 * The fault tests fail with the mode off (the child's access then succeeds).
 */
#include "faultplat.h"
#include "fixture.h"
#include "t.h"

#include <dmacoh/debug.h>
#include <dmacoh/dmacoh.h>
#include <dmacoh/io.h>
#include <dmacoh/pool.h>
#include <dmacoh/sim.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUS  0xd0000000u
#define BUS2 0xd1000000u
#define SIZE (256u * 1024u)

/* Exit codes of the child that touches a cookie directly. */
#define FAULTED_THERE 42 /* SIGSEGV at exactly the cookie (its page on s390x) */
#define FAULTED_ELSE  43 /* SIGSEGV somewhere else */
#define NO_FAULT      44 /* the access went through */

/* The precision of si_addr: s390x reports only the page of a fault (the architecture gives
 * the kernel no more), other CPUs the byte. */
#if defined(__s390x__)
#define FAULT_GRAIN 4096u
#else
#define FAULT_GRAIN 1u
#endif

struct rig {
    struct dmacoh_sim *sim;
    struct dmacoh_device dev;
};

static void up(struct rig *g, unsigned debug, int mode, unsigned io_width)
{
    struct dmacoh_sim_memory m = {BUS, SIZE, mode, false, io_width};

    T_OK(dmacoh_debug_set(debug));
    T_OK(dmacoh_sim_create(NULL, &g->sim));
    T_OK(dmacoh_sim_add_memory(g->sim, &m));
    T_OK(dmacoh_device_init(&g->dev, "dev", NULL, dmacoh_sim_platform(g->sim)));
    T_OK(dmacoh_declare_coherent_memory(&g->dev, BUS, 0, SIZE, mode, NULL, NULL));
}

static void down(struct rig *g)
{
    T_OK(dmacoh_release_coherent_memory(&g->dev, 0));
    T_OK(dmacoh_device_fini(&g->dev));
    T_OK(dmacoh_sim_destroy(g->sim));
    T_OK(dmacoh_debug_set(0));
    T_EQ_INT(__atomic_load_n(&dmacoh__io_cookies, __ATOMIC_RELAXED), 0);
}

static volatile void *fault_expected_at;
static int result_fd = -1;

/* The child's verdict goes through a pipe, and the child ends with SIGKILL: no exit handler,
 * sanitizer or valgrind leak check runs on the state it inherited mid-test. */
static void verdict(unsigned char code)
{
    ssize_t n = write(result_fd, &code, 1);

    (void)n;
#ifdef HAVE_MEMCHECK
    VALGRIND_ENABLE_ERROR_REPORTING;
#endif
    kill(getpid(), SIGKILL);
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    verdict(((uintptr_t)si->si_addr ^ (uintptr_t)fault_expected_at) < FAULT_GRAIN ? FAULTED_THERE
                                                                                  : FAULTED_ELSE);
}

/* Forks a child that loads (or stores) 4 bytes at p directly; returns its verdict. */
static int touch(volatile void *p, bool write)
{
    unsigned char code = 0;
    int fds[2], status = 0;
    pid_t pid;

    T_EQ_INT(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        struct sigaction sa;

        close(fds[0]);
        result_fd = fds[1];
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        fault_expected_at = p;
#ifdef HAVE_MEMCHECK
        VALGRIND_DISABLE_ERROR_REPORTING; /* the access is meant to fail */
#endif
        if (write)
            *(volatile uint32_t *)p = 0x11223344u;
        else
            (void)*(volatile const uint32_t *)p;
        verdict(NO_FAULT);
    }
    close(fds[1]);
    T_EQ_INT(waitpid(pid, &status, 0), pid);
    T_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    T_EQ_INT(read(fds[0], &code, 1), 1);
    close(fds[0]);
    return code;
}

/* The child faulted at the cookie. */
static void assert_faults(volatile void *p, bool write)
{
    T_EQ_INT(touch(p, write), FAULTED_THERE);
}

/* The device's view of a 32-bit word: device memory is little-endian, whatever the host. */
static uint32_t bus_read32(struct dmacoh_sim *sim, uint64_t bus)
{
    unsigned char b[4] = {0};

    T_OK(dmacoh_sim_bus_read(sim, bus, b, sizeof(b)));
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* The core of the feature: direct loads and stores fault at the cookie; every accessor works
 * and the device sees what it wrote. */
static void direct_access_faults_accessors_work(void)
{
    struct rig g;
    unsigned char buf[300], back[300];
    volatile char *c;
    void *p;
    dmacoh_dma_addr_t h;
    unsigned char le64[8];

    up(&g, DMACOH_DEBUG_IO_COOKIES, DMACOH_MEMORY_IO, 0);
    T_EQ_INT(__atomic_load_n(&dmacoh__io_cookies, __ATOMIC_RELAXED), 1);
    T_OK(dmacoh_alloc_coherent(&g.dev, 8192, 0, 0, &p, &h));
    c = (volatile char *)p;
    assert_faults(c, false);
    assert_faults(c + 4100, true);

    dmacoh_iowrite32(0xa1b2c3d4u, c + 8);
    T_EQ_U64(bus_read32(g.sim, BUS + h + 8), 0xa1b2c3d4u);
    T_EQ_U64(dmacoh_ioread32(c + 8), 0xa1b2c3d4u);
    dmacoh_iowrite8(0x5a, c + 1);
    dmacoh_iowrite16(0x1234, c + 2);
    dmacoh_iowrite64_relaxed(0x0102030405060708ull, c + 16);
    T_EQ_U64(dmacoh_ioread8(c + 1), 0x5a);
    T_EQ_U64(dmacoh_ioread16_relaxed(c + 2), 0x1234);
    T_EQ_U64(dmacoh_ioread64(c + 16), 0x0102030405060708ull);
    dmacoh_raw_write32(7, c + 24);
    T_EQ_U64(dmacoh_raw_read32(c + 24), 7);
    for (unsigned i = 0; i < 8; i++) /* the device writes 0x1122334455667788, little-endian */
        le64[i] = (unsigned char)(0x1122334455667788ull >> (8 * i));
    T_OK(dmacoh_sim_bus_write(g.sim, BUS + h + 32, le64, sizeof(le64)));
    T_EQ_U64(dmacoh_ioread64(c + 32), 0x1122334455667788ull);

    for (unsigned i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 7 + 1);
    dmacoh_memcpy_toio(c + 1001, buf, sizeof(buf));
    memset(back, 0, sizeof(back));
    T_OK(dmacoh_sim_bus_read(g.sim, BUS + h + 1001, back, sizeof(back)));
    T_ASSERT(memcmp(back, buf, sizeof(buf)) == 0);
    memset(back, 0, sizeof(back));
    dmacoh_memcpy_fromio(back, c + 1001, sizeof(back));
    T_ASSERT(memcmp(back, buf, sizeof(buf)) == 0);
    dmacoh_memset_io(c + 2000, 0xee, 64);
    dmacoh_memcpy_fromio_width(back, c + 2000, 64, 2);
    for (unsigned i = 0; i < 64; i++)
        T_EQ_U64(back[i], 0xee);
    dmacoh_memset_io_width(c + 2000, 0x11, 8, 1);
    dmacoh_memcpy_toio_width(c + 2008, buf, 8, 4);
    T_OK(dmacoh_sim_bus_read(g.sim, BUS + h + 2000, back, 16));
    T_EQ_U64(back[7], 0x11);
    T_ASSERT(memcmp(back + 8, buf, 8) == 0);

    /* Translations and the free take the cookie as they take any pointer. */
    T_EQ_U64(dmacoh_virt_to_dma(&g.dev, (char *)p + 100), h + 100);
    T_EQ_PTR(dmacoh_dma_to_virt(&g.dev, h + 100), (void *)((char *)p + 100));
    T_EQ_U64(dmacoh_io_width_at(c), 8);
    T_OK(dmacoh_free_coherent(&g.dev, 8192, p, h));
    down(&g);
}

/* Cookies keep the alignment promise: a 64 KiB block is 64 KiB aligned, like its handle. */
static void cookies_keep_alignment(void)
{
    struct rig g;
    void *p, *q;
    dmacoh_dma_addr_t h, k;

    up(&g, DMACOH_DEBUG_IO_COOKIES, DMACOH_MEMORY_IO, 0);
    T_OK(dmacoh_alloc_coherent(&g.dev, 4096, 0, 0, &p, &h));
    T_OK(dmacoh_alloc_coherent(&g.dev, 65536, 0, 0, &q, &k));
    T_EQ_U64(k % 65536, 0);
    T_EQ_U64((uintptr_t)q % 65536, 0);
    T_EQ_U64((uint64_t)((char *)q - (char *)p), k - h);
    assert_faults(q, true);
    T_OK(dmacoh_free_coherent(&g.dev, 65536, q, k));
    T_OK(dmacoh_free_coherent(&g.dev, 4096, p, h));
    down(&g);
}

/* The core zeroes new memory and poisons freed memory through the cookies (it would fault
 * otherwise), and the poison check reads through them. */
static void zeroing_and_poisoning_use_the_accessors(void)
{
    struct rig g;
    struct dmacoh_debug_stats st0, st1;
    volatile char *c;
    void *p;
    dmacoh_dma_addr_t h;
    unsigned char b = 0;

    T_OK(dmacoh_debug_get_stats(&st0));
    up(&g, DMACOH_DEBUG_ALL, DMACOH_MEMORY_IO, 0);
    T_OK(dmacoh_alloc_coherent(&g.dev, 4096, 0, 0, &p, &h));
    c = (volatile char *)p;
    dmacoh_memset_io(c, 0x77, 4096);
    T_OK(dmacoh_free_coherent(&g.dev, 4096, p, h));
    T_OK(dmacoh_sim_bus_read(g.sim, BUS + h + 10, &b, 1));
    T_EQ_U64(b, DMACOH_DEBUG_POISON_BYTE);
    T_OK(dmacoh_sim_bus_write(g.sim, BUS + h + 10, "X", 1)); /* a stray DMA write */
    T_OK(dmacoh_alloc_coherent(&g.dev, 4096, 0, 0, &p, &h));
    T_EQ_U64(dmacoh_ioread8((volatile char *)p + 10), 0); /* zeroed */
    T_OK(dmacoh_debug_get_stats(&st1));
    T_EQ_U64(st1.poison_errors, st0.poison_errors + 1);
    T_ASSERT(t_log_find("poison"));
    T_OK(dmacoh_free_coherent(&g.dev, 4096, p, h));
    down(&g);
}

/* A width-capped region with cookies: one registry slot answers both questions. */
static void capped_region_with_cookies(void)
{
    struct rig g;
    volatile char *c;
    void *p;
    dmacoh_dma_addr_t h;
    unsigned char buf[24] = "0123456789abcdefghijklm", back[24] = {0};

    up(&g, DMACOH_DEBUG_IO_COOKIES, DMACOH_MEMORY_IO, 4);
    T_OK(dmacoh_alloc_coherent(&g.dev, 4096, 0, 0, &p, &h));
    c = (volatile char *)p;
    T_EQ_U64(dmacoh_io_width_at(c + 5), 4);
    dmacoh_memcpy_toio(c + 3, buf, sizeof(buf));
    dmacoh_memcpy_fromio(back, c + 3, sizeof(back));
    T_ASSERT(memcmp(back, buf, sizeof(buf)) == 0);
    assert_faults(c + 3, false);
    T_OK(dmacoh_free_coherent(&g.dev, 4096, p, h));
    down(&g);
    T_EQ_U64(dmacoh_io_width_at(c + 5), 8); /* unregistered with the region */
}

/* MAP regions are plain memory: their pointers are not cookies. So is an IO region declared
 * before the mode came on, and one declared after it went off. */
static void map_regions_and_other_times_unaffected(void)
{
    struct rig g;
    struct dmacoh_device io;
    struct dmacoh_sim_memory m = {BUS2, SIZE, DMACOH_MEMORY_IO, false, 0};
    void *p, *q;
    dmacoh_dma_addr_t h, k;
    uint32_t seen = 0;

    up(&g, DMACOH_DEBUG_IO_COOKIES, DMACOH_MEMORY_MAP, 0);
    T_OK(dmacoh_alloc_coherent(&g.dev, 4096, 0, 0, &p, &h));
    T_EQ_INT(touch(p, true), NO_FAULT);
    *(volatile uint32_t *)p = 0xfeedu; /* a plain store: the CPU's byte order */
    T_OK(dmacoh_sim_bus_read(g.sim, BUS + h, &seen, sizeof(seen)));
    T_EQ_U64(seen, 0xfeedu);
    T_EQ_INT(__atomic_load_n(&dmacoh__io_cookies, __ATOMIC_RELAXED), 0);

    T_OK(dmacoh_debug_set(0));
    T_OK(dmacoh_sim_add_memory(g.sim, &m));
    T_OK(dmacoh_device_init(&io, "io", NULL, dmacoh_sim_platform(g.sim)));
    T_OK(dmacoh_declare_coherent_memory(&io, BUS2, 0, SIZE, DMACOH_MEMORY_IO, NULL, NULL));
    T_OK(dmacoh_debug_set(DMACOH_DEBUG_IO_COOKIES));
    T_OK(dmacoh_alloc_coherent(&io, 4096, 0, 0, &q, &k));
    T_EQ_INT(touch(q, false), NO_FAULT); /* declared while the mode was off */
    T_OK(dmacoh_free_coherent(&io, 4096, q, k));
    T_OK(dmacoh_release_coherent_memory(&io, 0));
    T_OK(dmacoh_device_fini(&io));
    T_OK(dmacoh_free_coherent(&g.dev, 4096, p, h));
    down(&g);
}

struct frig {
    struct dmacoh_sim *sim;
    struct t_faultplat fp;
    struct dmacoh_device dev;
};

static void fup(struct frig *f)
{
    struct dmacoh_sim_memory m = {BUS, SIZE, DMACOH_MEMORY_IO, false, 0};

    T_OK(dmacoh_debug_set(DMACOH_DEBUG_IO_COOKIES));
    T_OK(dmacoh_sim_create(NULL, &f->sim));
    T_OK(dmacoh_sim_add_memory(f->sim, &m));
    t_faultplat_init(&f->fp, dmacoh_sim_platform(f->sim));
    T_OK(dmacoh_device_init(&f->dev, "dev", NULL, &f->fp.plat));
}

static void fdown(struct frig *f)
{
    T_OK(dmacoh_device_fini(&f->dev));
    T_OK(dmacoh_platform_fini(&f->fp.plat));
    T_EQ_INT(f->fp.reserves, 0);
    T_EQ_INT(f->fp.maps, 0);
    T_OK(dmacoh_sim_destroy(f->sim));
    T_OK(dmacoh_debug_set(0));
    T_EQ_INT(__atomic_load_n(&dmacoh__io_cookies, __ATOMIC_RELAXED), 0);
}

/* The region works without cookies: the pointer is the mapping, accessors work. */
static void works_without_cookies(struct frig *f)
{
    void *p;
    dmacoh_dma_addr_t h;

    T_EQ_INT(__atomic_load_n(&dmacoh__io_cookies, __ATOMIC_RELAXED), 0);
    T_OK(dmacoh_alloc_coherent(&f->dev, 4096, 0, 0, &p, &h));
    T_EQ_INT(touch(p, true), NO_FAULT);
    dmacoh_iowrite32(0xc0ffeeu, p);
    T_EQ_U64(bus_read32(f->sim, BUS + h), 0xc0ffeeu);
    T_OK(dmacoh_free_coherent(&f->dev, 4096, p, h));
    T_OK(dmacoh_release_coherent_memory(&f->dev, 0));
}

/* Every fallible step of a declare in cookie mode fails once: each failure but the
 * reservation's fails the declare and leaks nothing; the reservation's leaves a region
 * without cookies (warned); then the declare succeeds with them. */
static void fault_at_every_step(void)
{
    struct frig f;
    bool saw_reserve = false;
    void *p;
    dmacoh_dma_addr_t h;
    int r;

    fup(&f);
    for (unsigned long n = 1;; n++) {
        T_ASSERT(n < 20);
        t_faultplat_arm(&f.fp, n);
        r = dmacoh_declare_coherent_memory(&f.dev, BUS, 0, SIZE, DMACOH_MEMORY_IO, NULL, NULL);
        t_faultplat_arm(&f.fp, 0);
        T_ERR(r, t_faultplat_expected(f.fp.failed));
        if (f.fp.failed == T_FAULT_NONE)
            break;
        if (r == 0) {
            T_EQ_INT(f.fp.failed, T_FAULT_RESERVE);
            T_ASSERT(t_log_find("not enforced"));
            saw_reserve = true;
            works_without_cookies(&f);
        }
        T_EQ_INT(f.fp.reserves, 0);
        T_EQ_INT(f.fp.maps, 0);
    }
    T_ASSERT(saw_reserve);
    T_EQ_INT(f.fp.reserves, 1);
    T_OK(dmacoh_alloc_coherent(&f.dev, 4096, 0, 0, &p, &h));
    assert_faults(p, false);
    T_OK(dmacoh_free_coherent(&f.dev, 4096, p, h));
    T_OK(dmacoh_release_coherent_memory(&f.dev, 0));
    fdown(&f);
}

/* A reservation off the congruence is refused (it would break the alignment promise), so is
 * a "success" with no address, and a platform without reserve declares without cookies; each
 * says so. */
/* A reserve op that claims success and hands out nothing. */
static int reserve_nothing(void *ctx, uint64_t size, dmacoh_dma_addr_t device_addr,
                           uint64_t congruence, void **out)
{
    (void)ctx;
    (void)size;
    (void)device_addr;
    (void)congruence;
    *out = NULL;
    return 0;
}

static void lying_or_missing_reserve(void)
{
    struct frig f;

    fup(&f);
    f.fp.lie_reserve = true;
    T_OK(dmacoh_declare_coherent_memory(&f.dev, BUS, 0, SIZE, DMACOH_MEMORY_IO, NULL, NULL));
    T_ASSERT(t_log_find("breaks its contract"));
    T_EQ_INT(f.fp.reserves, 0);
    works_without_cookies(&f);
    f.fp.lie_reserve = false;
    f.fp.ops.reserve = reserve_nothing;
    t_log_reset();
    T_OK(dmacoh_declare_coherent_memory(&f.dev, BUS, 0, SIZE, DMACOH_MEMORY_IO, NULL, NULL));
    T_ASSERT(t_log_find("breaks its contract"));
    works_without_cookies(&f);
    f.fp.ops.reserve = NULL;
    f.fp.ops.unreserve = NULL;
    T_OK(dmacoh_declare_coherent_memory(&f.dev, BUS, 0, SIZE, DMACOH_MEMORY_IO, NULL, NULL));
    T_ASSERT(t_log_find("cannot make faulting addresses"));
    works_without_cookies(&f);
    fdown(&f);
}

static void reserve_without_unreserve_refused(void)
{
    struct dmacoh_sim *sim;
    struct dmacoh_platform_ops ops;
    struct dmacoh_platform p;

    T_OK(dmacoh_sim_create(NULL, &sim));
    ops = *dmacoh_sim_platform(sim)->ops;

    T_ASSERT(ops.reserve && ops.unreserve); /* every Linux platform offers them */
    ops.unreserve = NULL;
    T_ERR(dmacoh_platform_init(&p, &ops, NULL), DMACOH_EINVAL);
    T_OK(dmacoh_sim_destroy(sim));
}

struct churn {
    struct dmacoh_sim *sim;
    volatile char *c;
    dmacoh_dma_addr_t h;
    unsigned rounds;
    int bad;
};

/* Declares and releases a second cookie region over and over, moving the registry. */
static void *churn_regions(void *arg)
{
    struct churn *ch = (struct churn *)arg;
    struct dmacoh_device d;

    if (dmacoh_device_init(&d, "churn", NULL, dmacoh_sim_platform(ch->sim)))
        ch->bad = 1;
    for (unsigned i = 0; i < ch->rounds && !ch->bad; i++) {
        if (dmacoh_declare_coherent_memory(&d, BUS2, 0, SIZE, DMACOH_MEMORY_IO, NULL, NULL) ||
            dmacoh_release_coherent_memory(&d, 0))
            ch->bad = 1;
    }
    if (dmacoh_device_fini(&d))
        ch->bad = 1;
    return NULL;
}

/* Accessors on one region's cookies stay right while another region's slot, which every
 * lookup reads first, comes and goes (the registry's sequence counts; TSan runs this). */
static void accessors_race_with_declares(void)
{
    struct rig g;
    struct dmacoh_sim_memory m2 = {BUS2, SIZE, DMACOH_MEMORY_IO, false, 0};
    struct churn ch = {0};
    struct dmacoh_device first;
    pthread_t t;
    void *p;

    /* The churning region must take the registry slot before the stable one's, or the
     * lookups would stop at the stable slot and never read the one that changes. */
    T_OK(dmacoh_debug_set(DMACOH_DEBUG_IO_COOKIES));
    T_OK(dmacoh_sim_create(NULL, &g.sim));
    T_OK(dmacoh_sim_add_memory(g.sim, &m2));
    T_OK(dmacoh_device_init(&first, "first", NULL, dmacoh_sim_platform(g.sim)));
    T_OK(dmacoh_declare_coherent_memory(&first, BUS2, 0, SIZE, DMACOH_MEMORY_IO, NULL, NULL));
    {
        struct dmacoh_sim_memory m = {BUS, SIZE, DMACOH_MEMORY_IO, false, 0};

        T_OK(dmacoh_sim_add_memory(g.sim, &m));
    }
    T_OK(dmacoh_device_init(&g.dev, "dev", NULL, dmacoh_sim_platform(g.sim)));
    T_OK(dmacoh_declare_coherent_memory(&g.dev, BUS, 0, SIZE, DMACOH_MEMORY_IO, NULL, NULL));
    T_OK(dmacoh_release_coherent_memory(&first, 0));
    T_OK(dmacoh_device_fini(&first));
    T_OK(dmacoh_alloc_coherent(&g.dev, 4096, 0, 0, &p, &ch.h));
    ch.sim = g.sim;
    ch.c = (volatile char *)p;
    ch.rounds = getenv("DMACOH_TEST_QUICK") ? 50 : 500;
    T_EQ_INT(pthread_create(&t, NULL, churn_regions, &ch), 0);
    for (uint32_t i = 0; i < 20000; i++) {
        dmacoh_iowrite32(i, ch.c + 4 * (i % 1024));
        T_EQ_U64(dmacoh_ioread32(ch.c + 4 * (i % 1024)), i);
    }
    T_EQ_INT(pthread_join(t, NULL), 0);
    T_EQ_INT(ch.bad, 0);
    T_OK(dmacoh_free_coherent(&g.dev, 4096, p, ch.h));
    down(&g);
}

/* Shared ranges, occupied ranges, dma_pool blocks and a forced release all take cookies. */
static void every_kind_of_pointer_is_a_cookie(void)
{
    struct rig g;
    struct dmacoh_sim_memory m = {BUS2, SIZE, DMACOH_MEMORY_IO, true, 0};
    struct dmacoh_device a, b;
    struct dmacoh_pool_opts po = {0};
    struct dmacoh_pool *pool;
    void *pa, *pb, *occ, *blk;
    dmacoh_dma_addr_t ha, hb, hblk;

    up(&g, DMACOH_DEBUG_ALL, DMACOH_MEMORY_IO, 0);
    /* Occupied: a fixed mailbox. */
    T_OK(dmacoh_mark_declared_memory_occupied(&g.dev, 0x10000, 4096, &occ));
    assert_faults(occ, true);
    dmacoh_iowrite32(0xabcdu, occ);
    T_EQ_U64(bus_read32(g.sim, BUS + 0x10000), 0xabcdu);
    /* A pool, poisoning its blocks through the cookies. */
    po.poison = true;
    T_OK(dmacoh_pool_create(&pool, "descs", &g.dev, 64, 64, 0, &po));
    T_OK(dmacoh_pool_alloc(pool, DMACOH_POOL_ZERO, &blk, &hblk));
    assert_faults(blk, false);
    dmacoh_iowrite64(0x1122334455667788ull, blk);
    T_EQ_U64(dmacoh_ioread64(blk), 0x1122334455667788ull);
    T_OK(dmacoh_pool_free(pool, blk, hblk));
    T_OK(dmacoh_pool_alloc(pool, DMACOH_POOL_ZERO, &blk, &hblk));
    T_EQ_U64(dmacoh_ioread64(blk), 0);
    T_OK(dmacoh_pool_free(pool, blk, hblk));
    T_OK(dmacoh_pool_destroy(pool, 0));
    /* A shared range: both devices get cookies of one reservation. */
    T_OK(dmacoh_sim_add_memory(g.sim, &m));
    T_OK(dmacoh_device_init(&a, "a", NULL, dmacoh_sim_platform(g.sim)));
    T_OK(dmacoh_device_init(&b, "b", NULL, dmacoh_sim_platform(g.sim)));
    T_OK(dmacoh_declare_coherent_memory(&a, BUS2, 0, SIZE, DMACOH_MEMORY_IO, NULL, NULL));
    T_OK(dmacoh_declare_coherent_memory(&b, BUS2, 0, SIZE, DMACOH_MEMORY_IO, NULL, NULL));
    T_EQ_INT(__atomic_load_n(&dmacoh__io_cookies, __ATOMIC_RELAXED), 2);
    T_OK(dmacoh_alloc_coherent(&a, 4096, 0, 0, &pa, &ha));
    T_OK(dmacoh_alloc_coherent(&b, 4096, 0, 0, &pb, &hb));
    T_EQ_U64((uint64_t)((char *)pb - (char *)pa), hb - ha);
    assert_faults(pb, true);
    dmacoh_iowrite32(7, pb);
    T_EQ_U64(bus_read32(g.sim, BUS2 + hb), 7);
    T_OK(dmacoh_free_coherent(&a, 4096, pa, ha));
    T_ERR(dmacoh_release_coherent_memory(&a, 0), DMACOH_EBUSY); /* b's block is live */
    /* Forced releases with a block outstanding: the range stays while a holds it, and its
     * cookies keep working; the last one gives the reservation back. */
    T_OK(dmacoh_release_coherent_memory(&b, DMACOH_RELEASE_FORCE));
    T_EQ_INT(__atomic_load_n(&dmacoh__io_cookies, __ATOMIC_RELAXED), 2);
    dmacoh_iowrite32(8, pb);
    T_EQ_U64(bus_read32(g.sim, BUS2 + hb), 8);
    T_OK(dmacoh_release_coherent_memory(&a, DMACOH_RELEASE_FORCE));
    T_EQ_INT(__atomic_load_n(&dmacoh__io_cookies, __ATOMIC_RELAXED), 1);
    T_ERR(dmacoh_free_coherent(&b, 4096, pb, hb), DMACOH_EFAULT); /* after its release */
    T_OK(dmacoh_device_fini(&a));
    T_OK(dmacoh_device_fini(&b));
    down(&g);
}

/* Address space used by the process, in KiB: the sum of its mappings in /proc/self/maps.
 * (Not VmSize of /proc/self/status: under user-mode emulation that is the emulator's, which
 * grows with its own tables; QEMU shows the program's own mappings in /proc/self/maps.) */
static long vm_kib(void)
{
    char line[512];
    unsigned long long lo, hi, total = 0;
    FILE *f = fopen("/proc/self/maps", "r");

    T_ASSERT(f != NULL);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "%llx-%llx", &lo, &hi) == 2)
            total += hi - lo;
    fclose(f);
    return (long)(total / 1024);
}

/* Regions that start or end inside a page (small granules, a device address not page
 * aligned) still get cookies, at the same offset in the page, and declaring and releasing
 * them leaks no address space. */
static void cookies_for_regions_inside_pages(void)
{
    struct frig f;
    struct dmacoh_declare_opts o = {0};
    void *p;
    dmacoh_dma_addr_t h;
    long before;

    fup(&f);
    o.granule = 256;
    T_OK(dmacoh_declare_coherent_memory(&f.dev, BUS + 0x100, 0x100, 0x200, DMACOH_MEMORY_IO, &o,
                                        NULL));
    T_EQ_INT(f.fp.reserves, 1);
    T_OK(dmacoh_alloc_coherent(&f.dev, 256, 0, 0, &p, &h));
    T_EQ_U64(((uintptr_t)p - h) % 4096, 0); /* congruent to the device address */
    T_ASSERT((uintptr_t)dmacoh__io_resolve(p) != (uintptr_t)p);
    assert_faults(p, true);
    dmacoh_iowrite32(0x5151u, p);
    T_EQ_U64(bus_read32(f.sim, BUS + h), 0x5151u);
    T_OK(dmacoh_free_coherent(&f.dev, 256, p, h));
    T_OK(dmacoh_release_coherent_memory(&f.dev, 0));
    before = vm_kib();
    for (int i = 0; i < 200; i++) {
        T_OK(dmacoh_declare_coherent_memory(&f.dev, BUS, 0, 0x1100, DMACOH_MEMORY_IO, &o, NULL));
        T_OK(dmacoh_release_coherent_memory(&f.dev, 0));
    }
#ifdef HAVE_MEMCHECK
    if (RUNNING_ON_VALGRIND) /* VmSize is then valgrind's, and grows with its own tables */
        before = vm_kib();
#endif
    T_ASSERT(vm_kib() - before < 64);
    fdown(&f);
}

/* With the IO registry full, a cookie region is declared without cookies (warned); a capped
 * one cannot be declared at all, and its reservation is given back. */
static void full_registry_means_no_cookies(void)
{
    struct frig f;
    struct dmacoh_declare_opts o = {0};
    struct dmacoh_device dev[65];
    struct dmacoh_device last;
    unsigned n = 0;
    void *p;
    dmacoh_dma_addr_t h;

    fup(&f);
    T_OK(dmacoh_debug_set(0));
    o.io_width = 4;
    o.granule = 16;
    for (n = 0; n < 65; n++) {
        T_OK(dmacoh_device_init(&dev[n], "w", NULL, &f.fp.plat));
        if (dmacoh_declare_coherent_memory(&dev[n], BUS + 0x20000 + n * 16u, 0x20000 + n * 16u, 16,
                                           DMACOH_MEMORY_IO, &o, NULL) != 0)
            break;
    }
    T_ASSERT(n < 65); /* the table (64 slots) is full */
    T_OK(dmacoh_debug_set(DMACOH_DEBUG_IO_COOKIES));
    T_OK(dmacoh_device_init(&last, "last", NULL, &f.fp.plat));
    T_OK(dmacoh_declare_coherent_memory(&last, BUS, 0, 0x10000, DMACOH_MEMORY_IO, NULL, NULL));
    T_ASSERT(t_log_find("the IO registry is full"));
    T_EQ_INT(f.fp.reserves, 0);
    T_OK(dmacoh_alloc_coherent(&last, 4096, 0, 0, &p, &h));
    T_EQ_INT(touch(p, true), NO_FAULT);
    T_OK(dmacoh_free_coherent(&last, 4096, p, h));
    T_OK(dmacoh_release_coherent_memory(&last, 0));
    T_ERR(dmacoh_declare_coherent_memory(&last, BUS, 0, 0x10000, DMACOH_MEMORY_IO, &o, NULL),
          DMACOH_ENOMEM);
    T_EQ_INT(f.fp.reserves, 0);
    T_EQ_INT(f.fp.maps, (long)n);
    T_OK(dmacoh_device_fini(&last));
    T_OK(dmacoh_device_fini(&dev[n]));
    while (n--) {
        T_OK(dmacoh_release_coherent_memory(&dev[n], 0));
        T_OK(dmacoh_device_fini(&dev[n]));
    }
    fdown(&f);
}

static const struct t_case cases[] = {
    T_CASE(direct_access_faults_accessors_work),
    T_CASE(cookies_keep_alignment),
    T_CASE(zeroing_and_poisoning_use_the_accessors),
    T_CASE(capped_region_with_cookies),
    T_CASE(map_regions_and_other_times_unaffected),
    T_CASE(fault_at_every_step),
    T_CASE(lying_or_missing_reserve),
    T_CASE(reserve_without_unreserve_refused),
    T_CASE(accessors_race_with_declares),
    T_CASE(every_kind_of_pointer_is_a_cookie),
    T_CASE(cookies_for_regions_inside_pages),
    T_CASE(full_registry_means_no_cookies),
};

T_MAIN(cases)
