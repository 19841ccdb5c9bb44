/* SPDX-License-Identifier: MIT */
/*
 * common.c - pieces every Linux backend uses: metadata from the heap, futex sleeping for
 * DMACOH_ALLOC_WAIT, mappings placed at a chosen congruence so that CPU pointers share the
 * alignment of device addresses (docs/design.md, rule 5), and the process-wide register of
 * physical ranges that platforms have mapped, so that no byte of device memory gets two
 * allocators; across processes, registry.c decides.
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
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
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

/* Shared futexes (not FUTEX_*_PRIVATE): a shared region's seq word lies in memory that other
 * processes map, and they wait on it and wake it too. */
int dmacoh__linux_wait(void *ctx, const uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
    struct timespec ts;
    long r;

    (void)ctx;
    ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
    ts.tv_nsec = (long)(timeout_ns % 1000000000u);
    r = syscall(SYS_futex, word, FUTEX_WAIT, expected, &ts, NULL, 0);
    if (r == -1 && errno == ETIMEDOUT)
        return DMACOH_ETIMEDOUT;
    return 0; /* woken, value changed (EAGAIN) or interrupted: the caller re-checks */
}

void dmacoh__linux_wake(void *ctx, uint32_t *word)
{
    (void)ctx;
    (void)syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
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

/* ---- ENOMEM from mmap: memory, or the limit on mappings? ----
 *
 * The kernel refuses a new mapping with ENOMEM both when memory or address space is short and
 * when the process already has vm.max_map_count mappings (65530 by default). Each declared
 * region is at least one mapping, so a program that declares many small regions meets the
 * second long before the first; the log says which of the two it is. */

/* Mappings a placement may add or split on top of the count it finds (reservation, trims,
 * the mapping itself), and some headroom for the lines of /proc/self/maps that are no
 * mapping of the process ([vsyscall]). */
#define MAP_COUNT_SLACK 8u

/* Lines of /proc/self/maps: the process's mappings. 0 when it cannot be read. */
static unsigned long count_mappings(void)
{
    unsigned long lines = 0;
    char buf[4096];
    ssize_t n;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
    close(fd);
    return lines;
}

/* vm.max_map_count, or 0 when it cannot be read. */
static unsigned long max_map_count(void)
{
    char buf[32], *end;
    unsigned long v;
    ssize_t n;
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    errno = 0;
    v = strtoul(buf, &end, 10);
    return (errno || end == buf) ? 0 : v;
}

static void explain_enomem(uint64_t len)
{
    unsigned long maps = count_mappings(), limit = max_map_count();

    if (limit && maps + MAP_COUNT_SLACK >= limit)
        dmacoh__err("mmap of %#llx bytes failed with ENOMEM because the process has %lu "
                    "mappings and the limit vm.max_map_count is %lu, not for lack of memory: "
                    "each declared region is at least one mapping; declare fewer, larger "
                    "regions, or raise the limit (sysctl vm.max_map_count)",
                    (unsigned long long)len, maps, limit);
    else
        dmacoh__warn("mmap of %#llx bytes failed with ENOMEM: address space or memory is short "
                     "(the process has %lu mappings, below the limit vm.max_map_count %lu)",
                     (unsigned long long)len, maps, limit);
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
        if (*err == DMACOH_ENOMEM)
            explain_enomem(len + slack);
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

static void *real_mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)
{
    return mmap(addr, len, prot, flags, fd, (off_t)off);
}

void *(*dmacoh__linux_mmap_fn)(void *addr, size_t len, int prot, int flags, int fd,
                               int64_t off) = real_mmap;

void *dmacoh__linux_map_congruent(int fd, uint64_t off, uint64_t len, uint64_t delta,
                                  uint64_t target, uint64_t cong, int *err)
{
    void *at = reserve_congruent(len, (target - delta) & (cong - 1), cong, err), *m;

    if (!at)
        return NULL;
    m = dmacoh__linux_mmap_fn(at, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
                              (int64_t)off);
    if (m == MAP_FAILED) {
        *err = -errno;
        if (*err == DMACOH_ENOMEM)
            explain_enomem(len);
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

/* What dmacoh__linux_map_fd mapped, for unmap, and the physical range it holds claimed. */
struct linux_mapping {
    void *base;
    size_t len;
    bool claimed;
    dmacoh_phys_addr_t bus;
    uint64_t size;
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
    lm->claimed = false;
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
    if (lm->claimed) /* after the munmap: the bytes are free for another claimant only now */
        dmacoh__linux_phys_release(lm->bus, lm->size);
    free(lm);
}

int dmacoh__linux_map_claimed(int fd, uint64_t off, uint64_t len, uint64_t delta,
                              dmacoh_dma_addr_t device_addr, uint64_t congruence,
                              dmacoh_phys_addr_t bus, uint64_t size, struct dmacoh_mapping *out)
{
    struct linux_mapping *lm;
    int r = dmacoh__linux_map_fd(fd, off, len, delta, device_addr, congruence, out);

    if (r) {
        dmacoh__linux_phys_release(bus, size);
        return r;
    }
    lm = (struct linux_mapping *)out->priv;
    lm->claimed = true;
    lm->bus = bus;
    lm->size = size;
    return 0;
}

/* ---- physical ranges claimed process-wide ----
 *
 * A sorted array of disjoint claims under one mutex. Claims are disjoint, so sorting by the
 * first byte sorts the last bytes too and one binary search finds the only claim that can
 * overlap a new range. The holder's description is copied, so a claim outlives nothing. */

#define WHO_MAX 65 /* what the log line shows of it */

struct claim {
    uint64_t lo, hi; /* inclusive */
    const void *owner;
    const char *kind;
    struct dmacoh__registry_mark machine; /* its entry in the machine-wide registry */
    char who[WHO_MAX];
};

static pthread_mutex_t claims_lock = PTHREAD_MUTEX_INITIALIZER;
static struct claim *claims;
static size_t nclaims, capclaims;

/* The first claim whose last byte is at or above lo (nclaims if none). Lock held. */
static size_t claim_at_or_above(uint64_t lo)
{
    size_t a = 0, b = nclaims;

    while (a < b) {
        size_t m = a + (b - a) / 2;

        if (claims[m].hi < lo)
            a = m + 1;
        else
            b = m;
    }
    return a;
}

/* Room for one more claim. Lock held. */
static int claims_grow(void)
{
    size_t cap = capclaims ? 2 * capclaims : 16;
    struct claim *c;

    if (nclaims < capclaims)
        return 0;
    if (cap > SIZE_MAX / sizeof(*c))
        return DMACOH_ENOMEM;
    c = (struct claim *)realloc(claims, cap * sizeof(*c));
    if (!c)
        return DMACOH_ENOMEM;
    claims = c;
    capclaims = cap;
    return 0;
}

/* Drops the process-wide entry of exactly [lo, hi], if there is one. */
static void claims_remove(uint64_t lo, uint64_t hi)
{
    size_t i;

    pthread_mutex_lock(&claims_lock);
    i = claim_at_or_above(lo);
    if (i < nclaims && claims[i].lo == lo && claims[i].hi == hi) {
        memmove(&claims[i], &claims[i + 1], (nclaims - i - 1) * sizeof(*claims));
        if (--nclaims == 0) {
            free(claims);
            claims = NULL;
            capclaims = 0;
        }
    }
    pthread_mutex_unlock(&claims_lock);
}

/* Enters c's range in the process-wide register: 0, -DMACOH_EBUSY (*held set) or
 * -DMACOH_ENOMEM. */
static int claims_insert(const struct dmacoh__phys_claim *c, uint64_t lo, uint64_t hi,
                         struct claim *held)
{
    size_t i;
    int r = 0;

    pthread_mutex_lock(&claims_lock);
    i = claim_at_or_above(lo);
    if (i < nclaims && claims[i].lo <= hi) {
        *held = claims[i]; /* logged after unlocking: the log callback is the caller's code */
        r = DMACOH_EBUSY;
    } else if ((r = claims_grow()) == 0) {
        memmove(&claims[i + 1], &claims[i], (nclaims - i) * sizeof(*claims));
        claims[i].lo = lo;
        claims[i].hi = hi;
        claims[i].owner = c->owner;
        claims[i].kind = c->kind;
        claims[i].machine.gen = 0;
        claims[i].machine.slot = -1;
        snprintf(claims[i].who, sizeof(claims[i].who), "%s", c->who ? c->who : "?");
        nclaims++;
    }
    pthread_mutex_unlock(&claims_lock);
    return r;
}

/* Marks the entry of [lo, hi] as entered in the machine-wide registry too. */
static void claims_mark_machine(uint64_t lo, const struct dmacoh__registry_mark *mark)
{
    size_t i;

    pthread_mutex_lock(&claims_lock);
    i = claim_at_or_above(lo);
    if (i < nclaims && claims[i].lo == lo)
        claims[i].machine = *mark;
    pthread_mutex_unlock(&claims_lock);
}

/* fork while another thread claims or releases: both locks are taken before the fork and
 * given back after it in parent and child, so the child never inherits one held by a thread
 * it does not have. The child keeps its claims (it inherited the mappings); registry.c
 * forgets its entries there (they are the parent's locks). */
static void prefork(void)
{
    pthread_mutex_lock(&claims_lock);
    dmacoh__linux_registry_prefork();
}

static void postfork_parent(void)
{
    dmacoh__linux_registry_postfork(false);
    pthread_mutex_unlock(&claims_lock);
}

static void postfork_child(void)
{
    dmacoh__linux_registry_postfork(true);
    pthread_mutex_unlock(&claims_lock);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void install_atfork(void)
{
    (void)pthread_atfork(prefork, postfork_parent, postfork_child);
}

int dmacoh__linux_phys_claim(const struct dmacoh__phys_claim *c)
{
    uint64_t lo = c->bus, hi = c->bus + (c->size - 1);
    struct dmacoh__registry_entry other;
    struct dmacoh__registry_mark mark;
    bool shared = (c->want & DMACOH_MAP_MULTIPROCESS) != 0;
    struct claim held = {0};
    char mine[WHO_MAX], by[112];
    int r;

    (void)pthread_once(&atfork_once, install_atfork);
    r = claims_insert(c, lo, hi, &held);

    snprintf(mine, sizeof(mine), "%s", c->who ? c->who : "?"); /* bounded, as a holder's is */
    if (r == DMACOH_EBUSY)
        dmacoh__err(
            "%s %s: physical %#llx+%#llx is already declared through %s %s "
            "(%#llx+%#llx) by %s: two allocators would share bytes",
            c->kind, mine, (unsigned long long)lo, (unsigned long long)c->size, held.kind, held.who,
            (unsigned long long)held.lo, (unsigned long long)(held.hi - held.lo + 1),
            held.owner == c->owner ? "this platform instance, through a platform stacked on it"
                                   : "another platform instance");
    else if (r)
        dmacoh__err("%s %s: no memory to record the claim of %#llx+%#llx", c->kind, mine,
                    (unsigned long long)lo, (unsigned long long)c->size);
    if (r)
        return r;
    /* In the process-wide register now, so no other thread of the process reaches here with
     * an overlapping range: the machine-wide registry decides between processes only. */
    r = dmacoh__linux_registry_enter(lo, hi, shared, &mark, &other);
    if (r) {
        claims_remove(lo, hi);
        if (other.pid > 0)
            snprintf(by, sizeof(by), "process %ld (%s)", other.pid, other.comm);
        else /* another pid namespace, or the holder could not be asked */
            snprintf(by, sizeof(by), "a process this one cannot name");
        if (other.shared && other.holders > 1)
            snprintf(by + strlen(by), sizeof(by) - strlen(by), " and %u other process%s",
                     other.holders - 1, other.holders > 2 ? "es" : "");
        if (!other.shared)
            dmacoh__err("%s %s: physical %#llx+%#llx%s is already declared by %s, which "
                        "holds %#llx+%#llx in the machine-wide registry: two allocators "
                        "would share bytes",
                        c->kind, mine, (unsigned long long)lo, (unsigned long long)c->size,
                        shared ? " (shared)" : "", by, (unsigned long long)other.bus,
                        (unsigned long long)other.size);
        else if (!shared)
            dmacoh__err("%s %s: physical %#llx+%#llx is already declared as a shared region "
                        "by %s, sharing %#llx+%#llx in the machine-wide registry: an "
                        "exclusive declaration would run a second allocator over its bytes",
                        c->kind, mine, (unsigned long long)lo, (unsigned long long)c->size, by,
                        (unsigned long long)other.bus, (unsigned long long)other.size);
        else
            dmacoh__err("%s %s: physical %#llx+%#llx (shared) is already shared by %s, as "
                        "many processes as the machine-wide registry records over one byte "
                        "(64)",
                        c->kind, mine, (unsigned long long)lo, (unsigned long long)c->size, by);
        return r;
    }
    if (mark.gen)
        claims_mark_machine(lo, &mark);
    return 0;
}

void dmacoh__linux_phys_release(dmacoh_phys_addr_t bus, uint64_t size)
{
    uint64_t hi = bus + (size - 1);
    struct dmacoh__registry_mark machine = {0, -1};
    size_t i;

    pthread_mutex_lock(&claims_lock);
    i = claim_at_or_above(bus);
    if (i < nclaims && claims[i].lo == bus && claims[i].hi == hi)
        machine = claims[i].machine;
    pthread_mutex_unlock(&claims_lock);
    /* The registry first: while the process-wide entry stands, no other thread of the
     * process can enter an overlapping range that this unlock would take with it. */
    if (machine.gen)
        dmacoh__linux_registry_leave(bus, hi, &machine);
    claims_remove(bus, hi);
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

/* The descriptors of every SCM_RIGHTS message in m, in order: how many came (up to max are
 * stored; the others are closed here). */
unsigned dmacoh__linux_take_fds(struct msghdr *m, int *fds, unsigned max)
{
    unsigned n = 0;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        size_t k;

        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == DMACOH__SCM_PIDFD &&
            c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int pidfd;

            memcpy(&pidfd, CMSG_DATA(c), sizeof(pidfd));
            (void)close(pidfd); /* the kernel's, not the peer's: never the registry */
            continue;
        }
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++, n++) {
            int fd;

            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
            if (n < max)
                fds[n] = fd;
            else
                dmacoh__linux_close_received(fd);
        }
    }
    return n;
}

int dmacoh__linux_send_fds(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(DMACOH__SEND_FDS_MAX * sizeof(int))];
    } ctl;
    struct iovec iov = {(void *)(uintptr_t)buf, len};
    struct msghdr m;
    struct cmsghdr *c;
    ssize_t n;

    if (nfds == 0 || nfds > DMACOH__SEND_FDS_MAX)
        return DMACOH_EINVAL;
    memset(&m, 0, sizeof(m));
    memset(&ctl, 0, sizeof(ctl));
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl.buf;
    m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    c = CMSG_FIRSTHDR(&m);
    if (!c) /* never: the control buffer has room for the header */
        return DMACOH_EINVAL;
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    while (iov.iov_len) { /* a stream socket may take the message in parts */
        n = sendmsg(sock, &m, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : DMACOH_EIO;
        iov.iov_base = (char *)iov.iov_base + n;
        iov.iov_len -= (size_t)n;
        m.msg_control = NULL; /* the descriptors went with the first part */
        m.msg_controllen = 0;
    }
    return 0;
}
