/* SPDX-License-Identifier: MIT */
/*
 * common.c - pieces every Linux backend uses: metadata from the heap, futex sleeping for
 * DMACOH_ALLOC_WAIT, and mappings placed at a chosen congruence so that CPU pointers share
 * the alignment of device addresses (docs/design.md, rule 5).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create, MAP_NORESERVE */
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__track_fn */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifdef DMACOH_HAVE_MEMCHECK /* set by CMake when valgrind's header is installed */
#include <valgrind/memcheck.h>
#define HAVE_MEMCHECK 1
#endif

void *dmacoh__linux_meta_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return calloc(1, size);
}

void dmacoh__linux_meta_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    (void)size;
    free(p);
}

int dmacoh__linux_wait(void *ctx, const uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
    struct timespec ts;
    long r;

    (void)ctx;
    ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
    ts.tv_nsec = (long)(timeout_ns % 1000000000u);
    r = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, &ts, NULL, 0);
    if (r == -1 && errno == ETIMEDOUT)
        return DMACOH_ETIMEDOUT;
    return 0; /* woken, value changed (EAGAIN) or interrupted: the caller re-checks */
}

void dmacoh__linux_wake(void *ctx, uint32_t *word)
{
    (void)ctx;
    (void)syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

uint64_t dmacoh__linux_now_ns(void *ctx)
{
    struct timespec ts;

    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void dmacoh__linux_relax(void *ctx)
{
    (void)ctx;
    sched_yield();
}

int dmacoh__linux_read_u64(const char *path, uint64_t *v)
{
    char buf[64], *end;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return (errno == EACCES || errno == EPERM) ? DMACOH_EACCES : -errno;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return DMACOH_EIO;
    buf[n] = '\0';
    errno = 0;
    *v = strtoull(buf, &end, 0);
    if (errno || end == buf || (*end && *end != '\n'))
        return DMACOH_EIO;
    return 0;
}

/* Thread slots: 1, 2, 3, ... in the order threads first ask (0 means not yet assigned). */
static _Thread_local unsigned thread_slot;
static unsigned next_slot;

unsigned dmacoh__linux_thread_slot(void *ctx)
{
    (void)ctx;
    if (__builtin_expect(thread_slot == 0, 0))
        thread_slot = __atomic_add_fetch(&next_slot, 1u, __ATOMIC_RELAXED) | 0x80000000u;
    return thread_slot & 0x7fffffffu;
}

/* len bytes of PROT_NONE address space at an address congruent to `want` modulo cong. */
static void *reserve_congruent(uint64_t len, uint64_t want, uint64_t cong, int *err)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), slack;
    uintptr_t base, at;
    void *res;

    if (want & (page - 1) & (cong - 1)) {
        *err = DMACOH_ENOTSUP; /* a page-aligned mapping cannot have that congruence */
        return NULL;
    }
    slack = cong > page ? cong : 0;
    if (len > UINT64_MAX - page - slack) {
        *err = DMACOH_EOVERFLOW;
        return NULL;
    }
    len = (len + page - 1) & ~(page - 1); /* whole pages, so the trimming below is exact */
    if (len + slack > SIZE_MAX) {
        *err = DMACOH_EOVERFLOW;
        return NULL;
    }
    res = mmap(NULL, (size_t)(len + slack), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
               -1, 0);
    if (res == MAP_FAILED) {
        *err = -errno;
        return NULL;
    }
    base = (uintptr_t)res;
    /* Below base + slack, which lies inside the reservation: it fits a uintptr_t. */
    at = slack ? (uintptr_t)(base + ((want - base) & (cong - 1))) : base;
    if (at > base)
        munmap(res, at - base);
    if (base + len + slack > at + len)
        munmap((void *)(uintptr_t)(at + len), (size_t)(base + len + slack - (at + len)));
    return (void *)at;
}

void *dmacoh__linux_map_congruent(int fd, uint64_t off, uint64_t len, uint64_t delta,
                                  uint64_t target, uint64_t cong, int *err)
{
    void *at = reserve_congruent(len, (target - delta) & (cong - 1), cong, err), *m;

    if (!at)
        return NULL;
    m = mmap(at, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, (off_t)off);
    if (m == MAP_FAILED) {
        *err = -errno;
        munmap(at, (size_t)len);
        return NULL;
    }
    return m;
}

/* Reserves whole pages: the region may start inside a page (a device address that is not
 * page-aligned, small granules) and end inside one; the cookie keeps its offset in the page. */
int dmacoh__linux_reserve(void *ctx, uint64_t size, dmacoh_dma_addr_t device_addr,
                          uint64_t congruence, void **out)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t want = device_addr & (congruence - 1), in_page = want & (page - 1);
    char *at;
    int r = 0;

    (void)ctx;
    if (size > UINT64_MAX - in_page)
        return DMACOH_EOVERFLOW;
    at = (char *)reserve_congruent(in_page + size, want - in_page, congruence, &r);
    *out = at ? at + in_page : NULL;
    return at ? 0 : r;
}

void dmacoh__linux_unreserve(void *ctx, void *addr, uint64_t size)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t in_page = (uint64_t)(uintptr_t)addr & (page - 1);

    (void)ctx;
    munmap((char *)addr - in_page, (size_t)((in_page + size + page - 1) & ~(page - 1)));
}

/* What dmacoh__linux_map_fd mapped, for unmap. */
struct linux_mapping {
    void *base;
    size_t len;
};

int dmacoh__linux_map_fd(int fd, uint64_t off, uint64_t len, uint64_t delta,
                         dmacoh_dma_addr_t device_addr, uint64_t congruence,
                         struct dmacoh_mapping *out)
{
    struct linux_mapping *lm = malloc(sizeof(*lm));
    int r = 0;
    char *p;

    if (!lm)
        return DMACOH_ENOMEM;
    p = dmacoh__linux_map_congruent(fd, off, len, delta, device_addr, congruence, &r);
    if (!p) {
        free(lm);
        return r;
    }
    lm->base = p;
    lm->len = (size_t)len;
    out->cpu = p + delta;
    out->priv = lm;
    return 0;
}

void dmacoh__linux_unmap(void *ctx, struct dmacoh_mapping *m, uint64_t size)
{
    struct linux_mapping *lm = (struct linux_mapping *)m->priv;

    (void)ctx;
    (void)size;
    munmap(lm->base, lm->len);
    free(lm);
}

/* ---- valgrind: block bounds inside regions of plain process memory ----
 *
 * The core reports where blocks begin and end (DMACOH__TRACK_*) for mappings marked `ram`
 * (sim, memfd). Under valgrind, memcheck is told: a block handed out is addressable (and
 * defined: the hook also covers metadata carved from a region, which keeps its contents), a
 * freed block and never-allocated granules are not, so a use after free or an overflow into a
 * free granule is reported where it happens.
 * Built only where valgrind's header is installed; costs nothing when not under valgrind. */
#if defined(HAVE_MEMCHECK) && !(defined(DMACOH_TRACK_ASAN) && DMACOH_TRACK_ASAN)
static void memcheck_track(bool handed_out, const void *p, uint64_t n)
{
    if (handed_out)
        (void)VALGRIND_MAKE_MEM_DEFINED(p, (size_t)n);
    else
        (void)VALGRIND_MAKE_MEM_NOACCESS(p, (size_t)n);
}
#endif

void dmacoh__linux_track_init(void)
{
#if defined(HAVE_MEMCHECK) && !(defined(DMACOH_TRACK_ASAN) && DMACOH_TRACK_ASAN)
    if (RUNNING_ON_VALGRIND)
        dmacoh__track_fn = memcheck_track;
#endif
}

/* The environment and the default stderr log (env.c), applied when the library is loaded.
 * Here rather than in env.c because every Linux platform links this file, so a statically
 * linked program runs it too. Priority 101, the first a program may use: before a program's
 * own constructors, which may already call into the library. */
__attribute__((constructor(101))) static void at_load(void)
{
    dmacoh__linux_env_init();
}
