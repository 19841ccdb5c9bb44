/* SPDX-License-Identifier: MIT */
/*
 * test_inspect.c - shared regions looked at from outside (dmacoh_shared_list, _inspect,
 * _reap_by_name) and the machine-wide registry's walk (dmacoh_registry_walk).
 *
 * The regions are made over the memfd platform, in a fresh DMACOH_SHM_DIR folder, by this
 * process and by forked children that attach through platforms of their own; the looking is
 * done through a simulator with no memory at all, as the `dmacoh` command would. What inspect
 * reports is compared with the region's own view (dmacoh_shared_get_stats, _walk_owners) and
 * with a model built from the handles the allocations returned. Damaged and hostile objects
 * are copies of a good one with one field changed: each must give its documented error and
 * never a read outside the object (ASan and valgrind run this file in `make check`).
 */
#include "t.h"
#include "shmtest.h"

#include "core/internal.h"           /* dmacoh__step_fn, struct dmacoh__pa */
#include "platform/linux/internal.h" /* dmacoh__linux_registry_enter */

#include <dmacoh/dmacoh.h>
#include <dmacoh/memfd.h>
#include <dmacoh/registry.h>
#include <dmacoh/shared.h>
#include <dmacoh/sim.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUS   0xd0000000ull
#define DEV   0x80000000ull
#define SIZE  0x100000u /* 256 pages */
#define PAGE  0x1000u
#define NPAGE (SIZE / PAGE)

/* A fresh name, in the tests' own state folder (harness/shmtest.c). */
static const char *fresh_name(void)
{
    return t_shm_name('i');
}

struct proc {
    struct dmacoh_memfd *m;
    struct dmacoh_device dev;
};

static int attach(struct proc *p, int fd, const char *name, unsigned flags)
{
    struct dmacoh_share_opts s = {name, flags, 0};
    int r = dmacoh_memfd_attach(fd, BUS, SIZE, &p->m);

    if (r)
        return r;
    r = dmacoh_device_init(&p->dev, "shared", NULL, dmacoh_memfd_platform(p->m));
    if (r)
        return r;
    r = dmacoh_declare_shared_memory(&p->dev, BUS, DEV, SIZE,
                                     DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL, &s, NULL);
    if (r) {
        (void)dmacoh_device_fini(&p->dev);
        (void)dmacoh_memfd_close(p->m);
    }
    return r;
}

static void detach(struct proc *p)
{
    T_OK(dmacoh_release_coherent_memory(&p->dev, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_device_fini(&p->dev));
    T_OK(dmacoh_memfd_close(p->m));
}

/* The window (its descriptor returned) and the creator's attachment. */
static int window(struct proc *creator, const char *name)
{
    struct dmacoh_memfd *w;
    int fd;

    T_OK(dmacoh_memfd_create(BUS, SIZE, &w));
    T_OK(attach(creator, dmacoh_memfd_fd(w), name, DMACOH_SHARE_CREATE));
    fd = dup(dmacoh_memfd_fd(w));
    T_ASSERT(fd >= 0);
    T_OK(dmacoh_memfd_close(w));
    return fd;
}

static int wait_child(pid_t pid)
{
    int st;

    T_EQ_INT(waitpid(pid, &st, 0), pid);
    return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

static uint64_t now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The looker: a simulator without memory, as the `dmacoh` command uses. */
static struct dmacoh_sim *looker(void)
{
    struct dmacoh_sim_opts o = {0};
    struct dmacoh_sim *sim;

    o.no_ram = true;
    T_OK(dmacoh_sim_create(&o, &sim));
    return sim;
}

/* ---- what inspect reports, collected ---- */

#define MAX_SPANS 300
#define MAX_OWN   8

struct seen {
    struct dmacoh_shared_span span[MAX_SPANS];
    struct dmacoh_shared_owner own[MAX_OWN];
    unsigned nspan, nown;
};

static int on_owner(void *user, const struct dmacoh_shared_owner *o)
{
    struct seen *s = (struct seen *)user;

    if (s->nown == MAX_OWN)
        return 99;
    s->own[s->nown++] = *o;
    return 0;
}

static int on_span(void *user, const struct dmacoh_shared_span *sp)
{
    struct seen *s = (struct seen *)user;

    if (s->nspan == MAX_SPANS)
        return 98;
    s->span[s->nspan++] = *sp;
    return 0;
}

static int look(struct dmacoh_platform *p, const char *name, struct dmacoh_shared_info *info,
                struct seen *s)
{
    memset(s, 0, sizeof(*s));
    memset(info, 0xee, sizeof(*info)); /* every field must be written */
    return dmacoh_shared_inspect(p, name, info, on_owner, on_span, s);
}

/* Spans in address order, contiguous, covering the region exactly. */
static void spans_tile(const struct seen *s)
{
    uint64_t at = 0;

    for (unsigned i = 0; i < s->nspan; i++) {
        T_EQ_U64(s->span[i].offset, at);
        T_ASSERT(s->span[i].size != 0 && s->span[i].size % PAGE == 0);
        if (i && s->span[i].kind == DMACOH_SPAN_FREE)
            T_ASSERT(s->span[i - 1].kind != DMACOH_SPAN_FREE); /* free runs are maximal */
        at += s->span[i].size;
    }
    T_EQ_U64(at, SIZE);
}

/* ---- 1. inspect agrees with the region's own view ---- */

/* The model: per page, 0 free, OCC occupied, or the owner index of the block it is in;
 * len[] the length in pages of the block headed there. */
#define OCC 0xffu

struct model {
    unsigned owner[NPAGE];
    unsigned len[NPAGE];
};

static void model_block(struct model *m, dmacoh_dma_addr_t h, unsigned pages, unsigned owner)
{
    unsigned at = (unsigned)((h - DEV) / PAGE);

    T_ASSERT(at + pages <= NPAGE);
    for (unsigned k = 0; k < pages; k++) {
        T_EQ_INT(m->owner[at + k], 0); /* never handed out twice */
        m->owner[at + k] = owner;
    }
    m->len[at] = pages;
}

/* The spans the model implies, compared one by one with what inspect reported. */
static void compare_with_model(const struct model *m, const struct seen *s, uint64_t *nfree,
                               uint64_t *largest)
{
    unsigned i = 0, k = 0;

    *nfree = *largest = 0;
    while (i < NPAGE) {
        unsigned n = 1;
        int kind = DMACOH_SPAN_ALLOCATED;

        if (m->owner[i] == 0 || m->owner[i] == OCC) {
            kind = m->owner[i] == 0 ? DMACOH_SPAN_FREE : DMACOH_SPAN_OCCUPIED;
            while (i + n < NPAGE && m->owner[i + n] == m->owner[i])
                n++;
        } else {
            n = m->len[i];
        }
        if (kind == DMACOH_SPAN_FREE) {
            ++*nfree;
            if ((uint64_t)n * PAGE > *largest)
                *largest = (uint64_t)n * PAGE;
        }
        T_ASSERT(k < s->nspan);
        T_EQ_U64(s->span[k].offset, (uint64_t)i * PAGE);
        T_EQ_U64(s->span[k].size, (uint64_t)n * PAGE);
        T_EQ_INT(s->span[k].kind, kind);
        T_EQ_INT(s->span[k].owner, kind == DMACOH_SPAN_ALLOCATED ? m->owner[i] : 0);
        T_ASSERT(!s->span[k].quarantined);
        i += n;
        k++;
    }
    T_EQ_INT(k, s->nspan);
}

static unsigned stop_at;

static int stop_span(void *user, const struct dmacoh_shared_span *sp)
{
    (void)user;
    (void)sp;
    T_ASSERT(stop_at > 0);
    return --stop_at == 0 ? 42 : 0;
}

static int stop_owner(void *user, const struct dmacoh_shared_owner *o)
{
    (void)user;
    (void)o;
    T_ASSERT(stop_at > 0);
    return --stop_at == 0 ? 42 : 0;
}

static unsigned own_index(struct proc *p)
{
    static struct seen w;

    memset(&w, 0, sizeof(w));
    T_OK(dmacoh_shared_walk_owners(&p->dev, on_owner, &w));
    for (unsigned i = 0; i < w.nown; i++)
        if (w.own[i].self)
            return w.own[i].index;
    t_fail(__FILE__, __LINE__, "no owner entry of this process");
    return 0;
}

/* A child attached to the region through a simulator over the window, not exclusive: it
 * allocates more than the region has free, which comes from the simulator's RAM. */
static int fallback_child(int fd, const char *name)
{
    struct dmacoh_sim *sim;
    struct dmacoh_sim_memory mem = {BUS, SIZE, DMACOH_MEMORY_MAP, false, 0};
    struct dmacoh_share_opts s = {name, DMACOH_SHARE_ATTACH, 0};
    struct dmacoh_device dev;
    void *c;
    dmacoh_dma_addr_t h;

    if (dmacoh_sim_create(NULL, &sim) || dmacoh_sim_add_memory_fd(sim, &mem, fd) ||
        dmacoh_device_init(&dev, "fb", NULL, dmacoh_sim_platform(sim)) ||
        dmacoh_declare_shared_memory(&dev, BUS, DEV, SIZE, DMACOH_MEMORY_MAP, NULL, &s, NULL))
        return 1;
    if (dmacoh_alloc_coherent(&dev, SIZE, 0, 0, &c, &h))
        return 2;
    if (h >= DEV && h < DEV + SIZE)
        return 3; /* must be system memory: the region has not that much free */
    if (dmacoh_free_coherent(&dev, SIZE, c, h) || dmacoh_release_coherent_memory(&dev, 0) ||
        dmacoh_device_fini(&dev) || dmacoh_sim_destroy(sim))
        return 4;
    return 0;
}

static void inspect_agrees_with_the_region(void)
{
    const char *name = fresh_name();
    struct proc a;
    struct model m;
    struct dmacoh_sim *sim = looker();
    struct dmacoh_platform *lp = dmacoh_sim_platform(sim);
    struct dmacoh_shared_info info;
    struct dmacoh_shared_stats st;
    static struct seen w;
    static struct seen s;
    static dmacoh_dma_addr_t h[NPAGE];
    static void *c[NPAGE];
    int fd = window(&a, name), go[2], ready[2];
    unsigned ia, ib = 0, n = 0;
    uint64_t nfree, largest;
    void *occ;
    pid_t pid;
    char byte;

    memset(&m, 0, sizeof(m));
    T_EQ_INT(pipe(go), 0);
    T_EQ_INT(pipe(ready), 0);
    /* A second owner, alive, with two blocks of 3 pages. */
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        struct proc b;
        dmacoh_dma_addr_t hb[2];
        void *cb;

        close(go[1]); /* its end of the pipe: the parent's close is the signal */
        if (attach(&b, fd, name, DMACOH_SHARE_ATTACH))
            _exit(1);
        for (int i = 0; i < 2; i++)
            if (dmacoh_alloc_coherent(&b.dev, 3 * PAGE, 0, 0, &cb, &hb[i]))
                _exit(2);
        if (write(ready[1], hb, sizeof(hb)) != (ssize_t)sizeof(hb))
            _exit(3);
        (void)!read(go[0], &byte, 1);
        _exit(0);
    }
    {
        dmacoh_dma_addr_t hb[2];

        T_EQ_INT(read(ready[0], hb, sizeof(hb)), (int)sizeof(hb));
        memset(&w, 0, sizeof(w));
        T_OK(dmacoh_shared_walk_owners(&a.dev, on_owner, &w));
        for (unsigned i = 0; i < w.nown; i++)
            if (w.own[i].pid == (uint64_t)pid)
                ib = w.own[i].index;
        T_ASSERT(ib != 0);
        model_block(&m, hb[0], 3, ib);
        model_block(&m, hb[1], 3, ib);
    }
    ia = own_index(&a);
    /* 2 occupied pages at page 100, then the rest filled with 2-page blocks. */
    T_OK(dmacoh_mark_declared_memory_occupied(&a.dev, DEV + 100 * PAGE, 2 * PAGE, &occ));
    m.owner[100] = m.owner[101] = OCC;
    while (dmacoh_alloc_coherent(&a.dev, 2 * PAGE, DMACOH_ALLOC_NOFALLBACK, 0, &c[n], &h[n]) == 0)
        n++;
    T_ASSERT(n > 100);
    /* Fragmentation: every fifth block freed, and a run of three neighbours. */
    for (unsigned i = 0; i < n; i++) {
        if (i % 5 == 1 || i == 7 || i == 8) {
            T_OK(dmacoh_free_coherent(&a.dev, 2 * PAGE, c[i], h[i]));
            continue;
        }
        model_block(&m, h[i], 2, ia);
    }
    /* A fallback allocation of another process counts. */
    pid_t fb = fork();

    T_ASSERT(fb >= 0);
    if (fb == 0)
        _exit(fallback_child(fd, name));
    T_EQ_INT(wait_child(fb), 0);

    T_OK(look(lp, name, &info, &s));
    T_OK(dmacoh_shared_get_stats(&a.dev, &st));
    memset(&w, 0, sizeof(w));
    T_OK(dmacoh_shared_walk_owners(&a.dev, on_owner, &w));
    /* The whole picture. */
    T_EQ_U64(info.bus, BUS);
    T_EQ_U64(info.device_addr, DEV);
    T_EQ_U64(info.size, SIZE);
    T_EQ_U64(info.granule, PAGE);
    T_EQ_U64(info.align_cap, 0);
    T_EQ_U64(info.fallbacks, 1);
    T_ASSERT(info.consistent);
    /* Stats: the region's own, but for own_*. */
    T_EQ_U64(info.stats.own_bytes, 0);
    T_EQ_U64(info.stats.own_blocks, 0);
    info.stats.own_bytes = st.own_bytes;
    info.stats.own_blocks = st.own_blocks;
    T_EQ_INT(info.stats.max_procs, st.max_procs);
    T_EQ_INT(info.stats.dead, st.dead);
    T_EQ_INT(info.stats.reset_on_death, st.reset_on_death);
    T_EQ_U64(info.stats.quarantined_bytes, st.quarantined_bytes);
    T_EQ_U64(info.stats.reaped_blocks, st.reaped_blocks);
    T_EQ_U64(info.stats.reaped_bytes, st.reaped_bytes);
    T_EQ_U64(info.stats.live_bytes, st.live_bytes);
    T_EQ_U64(info.stats.live_blocks, st.live_blocks);
    T_EQ_U64(info.stats.free_bytes, st.free_bytes);
    T_EQ_U64(info.stats.occupied_bytes, 2 * PAGE);
    T_EQ_U64(info.stats.quarantined_blocks, 0);
    T_EQ_U64(info.stats.recoveries, st.recoveries);
    T_EQ_U64(info.stats.deaths, st.deaths);
    T_EQ_INT(info.stats.procs, 2);
    /* Owners: the region's own walk's, self false. */
    T_EQ_INT(s.nown, w.nown);
    for (unsigned i = 0; i < w.nown; i++) {
        T_EQ_INT(s.own[i].index, w.own[i].index);
        T_EQ_U64(s.own[i].pid, w.own[i].pid);
        T_EQ_U64(s.own[i].start, w.own[i].start);
        T_EQ_INT(s.own[i].state, DMACOH_OWNER_LIVE);
        T_EQ_INT(s.own[i].state, w.own[i].state);
        T_EQ_U64(s.own[i].blocks, w.own[i].blocks);
        T_EQ_U64(s.own[i].bytes, w.own[i].bytes);
        T_ASSERT(!s.own[i].self);
    }
    /* Spans: the model's, exactly. */
    spans_tile(&s);
    compare_with_model(&m, &s, &nfree, &largest);
    T_EQ_U64(info.free_spans, nfree);
    T_EQ_U64(info.largest_free, largest);
    T_ASSERT(nfree >= 20);
    T_EQ_U64(largest, 6 * PAGE); /* blocks 6, 7 and 8 */
    /* A callback's non-zero return stops the calls and is returned. */
    stop_at = 3;
    T_EQ_INT(dmacoh_shared_inspect(lp, name, NULL, NULL, stop_span, NULL), 42);
    T_EQ_INT(stop_at, 0);
    stop_at = 2;
    T_EQ_INT(dmacoh_shared_inspect(lp, name, NULL, stop_owner, stop_span, NULL), 42);
    T_EQ_INT(stop_at, 0); /* the second owner stopped it: no span was reported */
    T_EQ_INT(close(go[1]), 0);
    T_EQ_INT(wait_child(pid), 0);
    close(go[0]);
    close(ready[0]);
    close(ready[1]);
    detach(&a);
    close(fd);
    T_OK(dmacoh_shared_unlink(dmacoh_sim_platform(sim), name));
    T_OK(dmacoh_sim_destroy(sim));
}

/* ---- 2. death, seen and reaped from outside ---- */

static unsigned die_step;

static void die_hook(unsigned step)
{
    if (step == die_step)
        raise(SIGKILL);
}

/* A child attaches, allocates blocks of 1, 2 and 3 pages, sends their handles, and exits
 * (owning them); with a step, it is then killed inside the lock at that step of a free. */
static pid_t dying_child(int fd, const char *name, unsigned step, dmacoh_dma_addr_t h[3])
{
    int p[2];
    pid_t pid;

    T_EQ_INT(pipe(p), 0);
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        struct proc b;
        void *c[3];

        if (attach(&b, fd, name, DMACOH_SHARE_ATTACH))
            _exit(1);
        for (int i = 0; i < 3; i++)
            if (dmacoh_alloc_coherent(&b.dev, (size_t)(i + 1) * PAGE, 0, 0, &c[i], &h[i]))
                _exit(2);
        if (write(p[1], h, 3 * sizeof(*h)) != (ssize_t)(3 * sizeof(*h)))
            _exit(3);
        if (step) {
            die_step = step;
            dmacoh__step_fn = die_hook;
            (void)dmacoh_free_coherent(&b.dev, 2 * PAGE, c[1], h[1]);
        }
        _exit(0);
    }
    T_EQ_INT(read(p[0], h, 3 * sizeof(*h)), (int)(3 * sizeof(*h)));
    close(p[0]);
    close(p[1]);
    return pid;
}

static void dead_owner_seen_and_reaped_from_outside(void)
{
    const char *name = fresh_name();
    struct proc a;
    struct dmacoh_sim *sim = looker();
    struct dmacoh_platform *lp = dmacoh_sim_platform(sim);
    struct dmacoh_shared_info info;
    static struct seen s;
    dmacoh_dma_addr_t h[3], mine;
    void *c;
    int fd = window(&a, name);
    pid_t pid;
    uint64_t blocks = 0, bytes = 0;
    unsigned dead_index = 0, q = 0;

    T_OK(dmacoh_alloc_coherent(&a.dev, 4 * PAGE, 0, 0, &c, &mine));
    pid = dying_child(fd, name, 0, h);
    T_EQ_INT(wait_child(pid), 0);
    /* Nobody of the region has looked yet: the inspect finds the death. */
    t_log_reset();
    T_OK(look(lp, name, &info, &s));
    T_ASSERT(info.consistent);
    T_EQ_INT(info.stats.dead, 1);
    T_EQ_INT(info.stats.procs, 1);
    T_EQ_U64(info.stats.deaths, 1);
    T_EQ_U64(info.stats.quarantined_blocks, 3);
    T_EQ_U64(info.stats.quarantined_bytes, 6 * PAGE);
    T_EQ_U64(info.stats.live_bytes, 4 * PAGE);
    T_EQ_INT(s.nown, 2);
    for (unsigned i = 0; i < s.nown; i++)
        if (s.own[i].pid == (uint64_t)pid) {
            T_EQ_INT(s.own[i].state, DMACOH_OWNER_DEAD);
            T_EQ_U64(s.own[i].blocks, 3);
            T_EQ_U64(s.own[i].bytes, 6 * PAGE);
            dead_index = s.own[i].index;
        } else {
            T_EQ_INT(s.own[i].state, DMACOH_OWNER_LIVE);
        }
    T_ASSERT(dead_index != 0);
    spans_tile(&s);
    for (unsigned i = 0; i < s.nspan; i++) {
        const struct dmacoh_shared_span *sp = &s.span[i];

        if (sp->kind != DMACOH_SPAN_ALLOCATED)
            continue;
        if (sp->offset == mine - DEV) {
            T_ASSERT(!sp->quarantined);
            continue;
        }
        T_ASSERT(sp->quarantined);
        T_EQ_INT(sp->owner, dead_index);
        T_EQ_U64(sp->offset, h[q] - DEV); /* the child's blocks, in the order it got them */
        T_EQ_U64(sp->size, (uint64_t)(q + 1) * PAGE);
        q++;
    }
    T_EQ_INT(q, 3);
    /* The reap frees exactly them; the region's own process can use the memory again. */
    T_OK(dmacoh_shared_reap_by_name(lp, name, &blocks, &bytes));
    T_EQ_U64(blocks, 3);
    T_EQ_U64(bytes, 6 * PAGE);
    T_ASSERT(dmacoh_check(&a.dev));
    {
        struct dmacoh_shared_stats st;
        T_OK(dmacoh_shared_get_stats(&a.dev, &st));
        T_EQ_U64(st.quarantined_blocks, 0);
        T_EQ_U64(st.reaped_blocks, 3);
        T_EQ_U64(st.reaped_bytes, 6 * PAGE);
        T_EQ_U64(st.free_bytes, SIZE - 4 * PAGE);
        T_EQ_INT(st.dead, 0);
        static void *cs[NPAGE];
        static dmacoh_dma_addr_t hs[NPAGE];
        unsigned n = 0;

        /* Every page but this process's four, one by one. */
        while (n < NPAGE &&
               dmacoh_alloc_coherent(&a.dev, PAGE, DMACOH_ALLOC_NOFALLBACK, 0, &cs[n], &hs[n]) == 0)
            n++;
        T_EQ_INT(n, NPAGE - 4);
        while (n--)
            T_OK(dmacoh_free_coherent(&a.dev, PAGE, cs[n], hs[n]));
    }
    /* A second reap finds nothing. */
    T_OK(dmacoh_shared_reap_by_name(lp, name, &blocks, &bytes));
    T_EQ_U64(blocks, 0);
    T_EQ_U64(bytes, 0);
    T_OK(dmacoh_free_coherent(&a.dev, 4 * PAGE, c, mine));
    detach(&a);
    close(fd);
    T_OK(dmacoh_shared_unlink(dmacoh_sim_platform(sim), name));
    T_OK(dmacoh_sim_destroy(sim));
}

/* A process of the region waiting for room (DMACOH_ALLOC_WAIT) while a dead owner's blocks
 * fill it is woken by a reap from outside. */
static void reap_by_name_wakes_a_waiter(void)
{
    const char *name = fresh_name();
    struct proc a;
    struct dmacoh_sim *sim = looker();
    int fd = window(&a, name), ready[2];
    pid_t filler, waiter;
    uint64_t blocks = 0;
    char byte;

    T_EQ_INT(pipe(ready), 0);
    filler = fork();
    T_ASSERT(filler >= 0);
    if (filler == 0) {
        struct proc b;
        void *c;
        dmacoh_dma_addr_t h;

        _exit(attach(&b, fd, name, DMACOH_SHARE_ATTACH) ||
              dmacoh_alloc_coherent(&b.dev, SIZE, 0, 0, &c, &h));
    }
    T_EQ_INT(wait_child(filler), 0);
    waiter = fork();
    T_ASSERT(waiter >= 0);
    if (waiter == 0) {
        struct proc w;
        void *c;
        dmacoh_dma_addr_t h;
        uint64_t t0;

        if (attach(&w, fd, name, DMACOH_SHARE_ATTACH))
            _exit(1);
        (void)!write(ready[1], "w", 1);
        t0 = now_ns();
        if (dmacoh_alloc_coherent(&w.dev, PAGE, DMACOH_ALLOC_WAIT, 10000000000ull, &c, &h))
            _exit(2);
        _exit(now_ns() - t0 >= 5000000000ull ? 3 : 0); /* woken, long before the timeout */
    }
    T_EQ_INT(read(ready[0], &byte, 1), 1);
    {
        struct timespec ts = {0, 200000000};

        nanosleep(&ts, NULL); /* the waiter is asleep */
    }
    T_OK(dmacoh_shared_reap_by_name(dmacoh_sim_platform(sim), name, &blocks, NULL));
    T_EQ_U64(blocks, 1);
    T_EQ_INT(wait_child(waiter), 0);
    close(ready[0]);
    close(ready[1]);
    detach(&a);
    close(fd);
    T_OK(dmacoh_shared_unlink(dmacoh_sim_platform(sim), name));
    T_OK(dmacoh_sim_destroy(sim));
}

/* A child killed holding the lock, in the middle of a free (a journalled step), and in the
 * lock with nothing changed: the inspect takes the lock over and repairs the state. */
static void death_in_the_lock_recovered_by_inspect(void)
{
    static const unsigned steps[] = {70, 93};
    const char *name = fresh_name();
    struct proc a;
    struct dmacoh_sim *sim = looker();
    struct dmacoh_platform *lp = dmacoh_sim_platform(sim);
    struct dmacoh_shared_info info;
    static struct seen s;
    int fd = window(&a, name);

    for (unsigned i = 0; i < 2; i++) {
        dmacoh_dma_addr_t h[3];
        pid_t pid = dying_child(fd, name, steps[i], h);
        uint64_t blocks = 0;

        T_EQ_INT(wait_child(pid), 128 + SIGKILL);
        t_log_reset();
        T_OK(look(lp, name, &info, &s));
        T_ASSERT(t_log_find("died holding the lock"));
        T_ASSERT(info.consistent);
        T_EQ_U64(info.stats.recoveries, i + 1);
        T_EQ_INT(info.stats.dead, 1);
        spans_tile(&s);
        T_OK(dmacoh_shared_reap_by_name(lp, name, &blocks, NULL));
        /* The free, once journalled, is finished by the repair. */
        T_EQ_U64(blocks, steps[i] == 70 ? 3 : 2);
        T_ASSERT(dmacoh_check(&a.dev));
    }
    {
        struct dmacoh_shared_stats st;

        T_OK(dmacoh_shared_get_stats(&a.dev, &st));
        T_EQ_U64(st.free_bytes, SIZE);
        T_EQ_U64(st.recoveries, 2);
    }
    detach(&a);
    close(fd);
    T_OK(dmacoh_shared_unlink(dmacoh_sim_platform(sim), name));
    T_OK(dmacoh_sim_destroy(sim));
}

/* ---- 3. hostile and damaged objects ---- */

/* Header words of shared.c's struct dmacoh__shm (all 64-bit, so one layout everywhere). */
#define H_MAGIC     0
#define H_LAYOUT    8
#define H_VERSION   16
#define H_TOTAL     24
#define H_SIZE      48
#define H_GSHIFT    56
#define H_NSLOTS    88
#define H_SLOTS_OFF 96
#define H_PA_OFF    104
#define H_NS        112

static void unlink_object(const char *name)
{
    char path[128];

    t_shm_path(path, sizeof(path), name);
    T_EQ_INT(unlink(path), 0);
}

static int never_span(void *user, const struct dmacoh_shared_span *sp)
{
    (void)user;
    (void)sp;
    t_fail(__FILE__, __LINE__, "a span of a state that fails the checker");
    return 0;
}

static int never_owner(void *user, const struct dmacoh_shared_owner *o)
{
    (void)user;
    (void)o;
    t_fail(__FILE__, __LINE__, "an owner of an object refused");
    return 0;
}

/* The copy of `good` under a new name, with the 64-bit word at `at` set to v (at < 0: the
 * object truncated to -at bytes), must be refused with `err`, logging `why`; so must its
 * reap. */
static void refused(struct dmacoh_platform *lp, const char *good, off_t at, uint64_t v, int err,
                    const char *why)
{
    static unsigned seq;
    struct dmacoh_shared_info info;
    char bad[32];
    int obj;

    (void)snprintf(bad, sizeof(bad), "%s-d%u", good, ++seq);
    obj = t_shm_copy(good, bad);
    if (at >= 0)
        t_write_u64(obj, at, v);
    else
        T_EQ_INT(ftruncate(obj, -at), 0);
    t_log_reset();
    memset(&info, 0x5a, sizeof(info));
    T_ERR(dmacoh_shared_inspect(lp, bad, &info, never_owner, never_span, NULL), err);
    if (!t_log_find(why))
        t_fail(__FILE__, __LINE__, "word %lld = %#llx: no log line with '%s' (last: %s)",
               (long long)at, (unsigned long long)v, why, t_log_last());
    T_ERR(dmacoh_shared_reap_by_name(lp, bad, NULL, NULL), err);
    close(obj);
    unlink_object(bad);
}

static void damaged_objects_give_their_errors(void)
{
    const char *name = fresh_name();
    struct proc a;
    struct dmacoh_sim *sim = looker();
    struct dmacoh_platform *lp = dmacoh_sim_platform(sim);
    struct dmacoh_platform zero;
    struct dmacoh_shared_info info;
    char good[16], long_name[DMACOH_SHARE_NAME_MAX + 2];
    void *c;
    dmacoh_dma_addr_t h;
    int fd = window(&a, name), obj;
    uint64_t total, pa_off, read_ns, owners_at;

    (void)snprintf(good, sizeof(good), "%s", name);
    T_OK(dmacoh_alloc_coherent(&a.dev, 2 * PAGE, 0, 0, &c, &h));
    /* Names and platforms. */
    T_ERR(dmacoh_shared_inspect(lp, "nope", &info, NULL, NULL, NULL), DMACOH_ENOENT);
    T_ASSERT(t_log_find("no such shared region"));
    T_ERR(dmacoh_shared_reap_by_name(lp, "nope", NULL, NULL), DMACOH_ENOENT);
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    {
        const char *bad[] = {NULL, "", ".x", "a/b", "a b", "..", long_name};

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            T_ERR(dmacoh_shared_inspect(lp, bad[i], &info, NULL, NULL, NULL), DMACOH_EINVAL);
            T_ERR(dmacoh_shared_reap_by_name(lp, bad[i], NULL, NULL), DMACOH_EINVAL);
        }
    }
    memset(&zero, 0, sizeof(zero));
    T_ERR(dmacoh_shared_inspect(&zero, good, &info, NULL, NULL, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_shared_inspect(NULL, good, &info, NULL, NULL, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_shared_reap_by_name(NULL, good, NULL, NULL), DMACOH_EINVAL);

    obj = t_shm_copy(good, "probe");
    total = t_read_u64(obj, H_TOTAL);
    pa_off = t_read_u64(obj, H_PA_OFF);
    read_ns = t_read_u64(obj, H_NS);
    owners_at = pa_off + sizeof(struct dmacoh__pa) +
                8 * t_read_u64(obj, (off_t)(pa_off + offsetof(struct dmacoh__pa, owners_off)));
    close(obj);
    unlink_object("probe");
    /* Truncated: shorter than a header, and one word short. */
    refused(lp, good, -100, 0, DMACOH_EIO, "not a whole region");
    refused(lp, good, -(off_t)(total - 8), 0, DMACOH_EIO, "damaged");
    refused(lp, good, H_MAGIC, 0, DMACOH_EIO, "not a whole region");
    refused(lp, good, H_NSLOTS, 0, DMACOH_EIO, "damaged");
    refused(lp, good, H_NSLOTS, 255, DMACOH_EIO, "damaged");
    refused(lp, good, H_NSLOTS, UINT64_MAX, DMACOH_EIO, "damaged");
    refused(lp, good, H_GSHIFT, 3, DMACOH_EIO, "damaged");
    refused(lp, good, H_GSHIFT, 63, DMACOH_EIO, "damaged");
    refused(lp, good, H_GSHIFT, 64, DMACOH_EIO, "damaged");
    refused(lp, good, H_SIZE, SIZE + 16, DMACOH_EIO, "damaged");
    refused(lp, good, H_SIZE, 0, DMACOH_EIO, "damaged");
    refused(lp, good, H_SIZE, (uint64_t)1 << 62, DMACOH_EIO, "damaged");
    refused(lp, good, H_SIZE, 2 * SIZE, DMACOH_EIO, "damaged"); /* a bigger object's size */
    refused(lp, good, H_TOTAL, total + 64, DMACOH_EIO, "damaged");
    refused(lp, good, H_PA_OFF, pa_off + 64, DMACOH_EIO, "damaged");
    refused(lp, good, H_SLOTS_OFF, 0, DMACOH_EIO, "damaged");
    refused(lp, good, H_VERSION, 77, DMACOH_EINVAL, "another build");
    refused(lp, good, H_LAYOUT, 0x12345678, DMACOH_EINVAL, "another build");
    refused(lp, good, H_NS, read_ns ^ 1, DMACOH_ENOTSUP, "pid namespace");
    /* Allocator states that fail the checker: counters, the granule count, the layout, an
     * operation left half done with a journal pointing far outside. */
    {
        static const struct {
            size_t off;
            uint64_t v;
        } pa[] = {
            {offsetof(struct dmacoh__pa, used), 77},
            {offsetof(struct dmacoh__pa, ngranules), 7},
            {offsetof(struct dmacoh__pa, ngranules), (uint64_t)1 << 40},
            {offsetof(struct dmacoh__pa, base_g), 1},
            {offsetof(struct dmacoh__pa, kind_off), UINT64_MAX / 8},
            {offsetof(struct dmacoh__pa, owners_off), 0},
            {offsetof(struct dmacoh__pa, owners_off), (uint64_t)1 << 50},
            {offsetof(struct dmacoh__pa, nwords), 3},
        };

        for (size_t i = 0; i < sizeof(pa) / sizeof(pa[0]); i++) {
            char bad[32];
            int r;

            (void)snprintf(bad, sizeof(bad), "%s-pa%zu", good, i);
            obj = t_shm_copy(good, bad);
            t_write_u64(obj, (off_t)(pa_off + pa[i].off), pa[i].v);
            memset(&info, 0x5a, sizeof(info));
            t_log_reset();
            r = dmacoh_shared_inspect(lp, bad, &info, NULL, never_span, NULL);
            if (r != DMACOH_EIO)
                t_fail(__FILE__, __LINE__, "state word %zu = %#llx: got %d", pa[i].off,
                       (unsigned long long)pa[i].v, r);
            T_ASSERT(!info.consistent);
            T_ASSERT(t_log_find("invariant checker"));
            T_EQ_U64(info.size, SIZE);
            T_EQ_INT(info.stats.max_procs, 64);
            T_ERR(dmacoh_shared_reap_by_name(lp, bad, NULL, NULL), DMACOH_EIO);
            close(obj);
            unlink_object(bad);
        }
    }
    /* Half an allocation journalled, its extent out of range: a journal that does not fit the
     * region is not replayed (nor the state rebuilt from what may be garbage): reported, never
     * read there. */
    {
        char bad[32];
        static struct seen s;

        (void)snprintf(bad, sizeof(bad), "%s-j", good);
        obj = t_shm_copy(good, bad);
        t_write_u64(obj, (off_t)(pa_off + offsetof(struct dmacoh__pa, j_op)), DMACOH__J_ALLOC);
        t_write_u64(obj, (off_t)(pa_off + offsetof(struct dmacoh__pa, j_off)), (uint64_t)1 << 60);
        t_write_u64(obj, (off_t)(pa_off + offsetof(struct dmacoh__pa, j_n)), UINT64_MAX);
        T_ERR(look(lp, bad, &info, &s), DMACOH_EIO);
        T_ASSERT(!info.consistent);
        T_EQ_U64(info.stats.recoveries, 0);
        T_ERR(dmacoh_shared_reap_by_name(lp, bad, NULL, NULL), DMACOH_EIO);
        close(obj);
        unlink_object(bad);
    }
    /* An allocation whose owner byte names no entry of the table (200 of 64): reported as
     * quarantined with owner 0, counted so, and reaped. */
    {
        char bad[32];
        static struct seen s;
        unsigned char o = 200;
        unsigned q = 0;
        uint64_t blocks = 0, bytes = 0;

        (void)snprintf(bad, sizeof(bad), "%s-o", good);
        obj = t_shm_copy(good, bad);
        T_EQ_INT(pwrite(obj, &o, 1, (off_t)(owners_at + (h - DEV) / PAGE)), 1);
        T_OK(look(lp, bad, &info, &s));
        T_ASSERT(info.consistent);
        T_EQ_U64(info.stats.quarantined_blocks, 1);
        T_EQ_U64(info.stats.quarantined_bytes, 2 * PAGE);
        T_EQ_U64(info.stats.live_blocks, 0);
        T_EQ_U64(s.own[0].blocks, 0); /* the copy's owner (a, alive) holds nothing */
        for (unsigned i = 0; i < s.nspan; i++)
            if (s.span[i].kind == DMACOH_SPAN_ALLOCATED) {
                T_EQ_U64(s.span[i].offset, h - DEV);
                T_EQ_INT(s.span[i].owner, 0);
                T_ASSERT(s.span[i].quarantined);
                q++;
            }
        T_EQ_INT(q, 1);
        T_OK(dmacoh_shared_reap_by_name(lp, bad, &blocks, &bytes));
        T_EQ_U64(blocks, 1);
        T_EQ_U64(bytes, 2 * PAGE);
        close(obj);
        unlink_object(bad);
    }
    /* Writable by others, or by its group: refused. */
    {
        char bad[32], path[128];

        (void)snprintf(bad, sizeof(bad), "%s-w", good);
        obj = t_shm_copy(good, bad);
        t_shm_path(path, sizeof(path), bad);
        T_EQ_INT(fchmod(obj, 0602), 0);
        T_ERR(dmacoh_shared_inspect(lp, bad, &info, never_owner, never_span, NULL), DMACOH_EACCES);
        T_ERR(dmacoh_shared_reap_by_name(lp, bad, NULL, NULL), DMACOH_EACCES);
        T_EQ_INT(fchmod(obj, 0620), 0);
        T_ERR(dmacoh_shared_inspect(lp, bad, &info, never_owner, never_span, NULL), DMACOH_EACCES);
        /* Another user's (only root can give it away). */
        T_EQ_INT(fchmod(obj, 0600), 0);
        if (geteuid() == 0) {
            T_EQ_INT(fchown(obj, 65534, 65534), 0);
            t_log_reset();
            T_ERR(dmacoh_shared_inspect(lp, bad, &info, never_owner, never_span, NULL),
                  DMACOH_EACCES);
            T_ASSERT(t_log_find("belongs to uid 65534"));
            T_ERR(dmacoh_shared_reap_by_name(lp, bad, NULL, NULL), DMACOH_EACCES);
        }
        close(obj);
        T_EQ_INT(unlink(path), 0);
    }
    /* The region itself was never touched. */
    T_ASSERT(dmacoh_check(&a.dev));
    T_OK(dmacoh_free_coherent(&a.dev, 2 * PAGE, c, h));
    detach(&a);
    close(fd);
    T_OK(dmacoh_shared_unlink(dmacoh_sim_platform(sim), name));
    T_OK(dmacoh_sim_destroy(sim));
}

/* ---- 4. dmacoh_shared_list ---- */

struct listed {
    char name[8][80];
    struct dmacoh_shared_entry e[8];
    unsigned n, stop_after;
};

static int on_entry(void *user, const struct dmacoh_shared_entry *e)
{
    struct listed *l = (struct listed *)user;

    T_ASSERT(l->n < 8);
    (void)snprintf(l->name[l->n], sizeof(l->name[0]), "%s", e->name);
    l->e[l->n] = *e;
    l->n++;
    return l->n == l->stop_after ? 17 : 0;
}

static const struct dmacoh_shared_entry *listed_as(const struct listed *l, const char *name)
{
    for (unsigned i = 0; i < l->n; i++)
        if (!strcmp(l->name[i], name))
            return &l->e[i];
    return NULL;
}

static void make_file(const char *dir, const char *name, off_t size, mode_t mode)
{
    char path[256];
    int f;

    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    T_ASSERT(f >= 0);
    T_EQ_INT(ftruncate(f, size), 0);
    T_EQ_INT(fchmod(f, mode), 0);
    close(f);
}

/* Removes the folder dir and what is in it (files, links, empty folders). */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    T_ASSERT(d != NULL);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            T_EQ_INT(unlinkat(dirfd(d), e->d_name, e->d_type == DT_DIR ? AT_REMOVEDIR : 0), 0);
    closedir(d);
    T_EQ_INT(rmdir(dir), 0);
}

static void list_reports_region_objects_only(void)
{
    struct dmacoh_sim *sim = looker();
    struct dmacoh_platform *lp = dmacoh_sim_platform(sim);
    struct dmacoh_platform zero;
    char dir[64] = "/tmp/dmacoh-list-XXXXXX", path[256], longest[DMACOH_SHARE_NAME_MAX + 9];
    struct listed l;
    const struct dmacoh_shared_entry *e;

    T_ASSERT(mkdtemp(dir) != NULL);
    T_EQ_INT(setenv("DMACOH_SHM_DIR", dir, 1), 0);
    memset(longest, 'z', sizeof(longest));
    memcpy(longest, "dmacoh.", 7);
    longest[7 + DMACOH_SHARE_NAME_MAX] = '\0';
    make_file(dir, "dmacoh.one", 12345, 0600);
    make_file(dir, "dmacoh.Two_2-x.y", 0, 0640);
    make_file(dir, longest, 8, 0600); /* a name of 64: valid */
    longest[7 + DMACOH_SHARE_NAME_MAX] = 'z';
    longest[8 + DMACOH_SHARE_NAME_MAX] = '\0';
    make_file(dir, longest, 8, 0600); /* 65: no region's */
    make_file(dir, "dmacoh..x", 8, 0600);
    make_file(dir, "dmacoh.", 8, 0600);
    make_file(dir, "dmacoh.a b", 8, 0600);
    make_file(dir, "dmacoh.a:b", 8, 0600);
    make_file(dir, "dmacohx", 8, 0600);
    make_file(dir, "other", 8, 0600);
    (void)snprintf(path, sizeof(path), "%s/dmacoh.link", dir);
    T_EQ_INT(symlink("dmacoh.one", path), 0);
    (void)snprintf(path, sizeof(path), "%s/dmacoh.dir", dir);
    T_EQ_INT(mkdir(path, 0700), 0);

    memset(&l, 0, sizeof(l));
    T_OK(dmacoh_shared_list(lp, on_entry, &l));
    T_EQ_INT(l.n, 3);
    e = listed_as(&l, "one");
    T_ASSERT(e != NULL);
    T_EQ_U64(e->uid, geteuid());
    T_EQ_U64(e->bytes, 12345);
    T_EQ_INT(e->mode, 0600);
    e = listed_as(&l, "Two_2-x.y");
    T_ASSERT(e != NULL);
    T_EQ_U64(e->bytes, 0);
    T_EQ_INT(e->mode, 0640);
    longest[7 + DMACOH_SHARE_NAME_MAX] = '\0';
    T_ASSERT(listed_as(&l, longest + 7) != NULL);
    /* A non-zero return stops the walk and is returned. */
    memset(&l, 0, sizeof(l));
    l.stop_after = 1;
    T_EQ_INT(dmacoh_shared_list(lp, on_entry, &l), 17);
    T_EQ_INT(l.n, 1);
    /* Bad calls. */
    T_ERR(dmacoh_shared_list(lp, NULL, NULL), DMACOH_EINVAL);
    memset(&zero, 0, sizeof(zero));
    T_ERR(dmacoh_shared_list(&zero, on_entry, &l), DMACOH_EINVAL);
    T_ERR(dmacoh_shared_list(NULL, on_entry, &l), DMACOH_EINVAL);
    /* No folder: nothing to report. */
    (void)snprintf(path, sizeof(path), "%s/missing", dir);
    T_EQ_INT(setenv("DMACOH_SHM_DIR", path, 1), 0);
    memset(&l, 0, sizeof(l));
    T_OK(dmacoh_shared_list(lp, on_entry, &l));
    T_EQ_INT(l.n, 0);
    /* A folder that is a file: its error. */
    (void)snprintf(path, sizeof(path), "%s/other", dir);
    T_EQ_INT(setenv("DMACOH_SHM_DIR", path, 1), 0);
    T_ERR(dmacoh_shared_list(lp, on_entry, &l), -ENOTDIR);
    T_EQ_INT(l.n, 0);
    remove_tree(dir);
    T_OK(dmacoh_sim_destroy(sim));
}

/* ---- 5. the callbacks run unlocked ---- */

struct slow {
    int go, done; /* pipes to and from the child */
    bool answered;
    uint64_t child_ns;
    unsigned calls;
};

/* The first span: the child is told to allocate and free, and its answer awaited here, with
 * the callback still running. */
static int slow_span(void *user, const struct dmacoh_shared_span *sp)
{
    struct slow *w = (struct slow *)user;
    struct pollfd pf = {w->done, POLLIN, 0};

    (void)sp;
    if (w->calls++)
        return 0;
    T_EQ_INT(write(w->go, "g", 1), 1);
    if (poll(&pf, 1, 3000) == 1 &&
        read(w->done, &w->child_ns, sizeof(w->child_ns)) == (ssize_t)sizeof(w->child_ns))
        w->answered = true;
    {
        struct timespec ts = {0, 300000000};

        nanosleep(&ts, NULL);
    }
    return 0;
}

static void callbacks_run_unlocked(void)
{
    const char *name = fresh_name();
    struct proc a;
    struct dmacoh_sim *sim = looker();
    struct slow w;
    int fd = window(&a, name), go[2], done[2];
    pid_t pid;

    T_EQ_INT(pipe(go), 0);
    T_EQ_INT(pipe(done), 0);
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        struct proc b;
        void *c;
        dmacoh_dma_addr_t h;
        uint64_t t0;
        char byte;

        if (attach(&b, fd, name, DMACOH_SHARE_ATTACH))
            _exit(1);
        if (read(go[0], &byte, 1) != 1)
            _exit(2);
        t0 = now_ns();
        for (int i = 0; i < 4; i++) {
            if (dmacoh_alloc_coherent(&b.dev, PAGE, 0, 0, &c, &h) ||
                dmacoh_free_coherent(&b.dev, PAGE, c, h))
                _exit(3);
        }
        t0 = now_ns() - t0;
        if (write(done[1], &t0, sizeof(t0)) != (ssize_t)sizeof(t0))
            _exit(4);
        detach(&b);
        _exit(0);
    }
    memset(&w, 0, sizeof(w));
    w.go = go[1];
    w.done = done[0];
    T_OK(dmacoh_shared_inspect(dmacoh_sim_platform(sim), name, NULL, NULL, slow_span, &w));
    T_ASSERT(w.answered); /* the child was done while the callback still ran */
    T_ASSERT(w.child_ns < 1000000000u);
    T_EQ_INT(wait_child(pid), 0);
    close(go[0]);
    close(go[1]);
    close(done[0]);
    close(done[1]);
    detach(&a);
    close(fd);
    T_OK(dmacoh_shared_unlink(dmacoh_sim_platform(sim), name));
    T_OK(dmacoh_sim_destroy(sim));
}

/* ---- 6. dmacoh_registry_walk ---- */

struct regs {
    struct dmacoh_registry_entry e[8];
    unsigned n;
};

static int on_reg(void *user, const struct dmacoh_registry_entry *e)
{
    struct regs *r = (struct regs *)user;

    T_ASSERT(r->n < 8);
    r->e[r->n++] = *e;
    return 0;
}

static int stop_reg(void *user, const struct dmacoh_registry_entry *e)
{
    (void)user;
    (void)e;
    return 23;
}

#define REG_X 0x3f0000000ull /* the exclusive range, above */
#define REG_S 0x3e0000000ull /* the shared range, below */

static void registry_walk_names_holders(void)
{
    char dir[64] = "/tmp/dmacoh-reg-XXXXXX", path[128], byte;
    struct regs r;
    int ready[2], go[2];
    pid_t pid;

    T_ASSERT(mkdtemp(dir) != NULL);
    (void)snprintf(path, sizeof(path), "%s/registry", dir);
    T_EQ_INT(setenv("DMACOH_REGISTRY", path, 1), 0);
    T_ASSERT(dmacoh_registry_path() && !strcmp(dmacoh_registry_path(), path));
    /* No file yet: no call. */
    memset(&r, 0, sizeof(r));
    {
        char nodir[160];

        (void)snprintf(nodir, sizeof(nodir), "%s/none-such/registry", dir);
        T_EQ_INT(setenv("DMACOH_REGISTRY", nodir, 1), 0);
        T_OK(dmacoh_registry_walk(on_reg, &r));
        T_EQ_INT(r.n, 0);
        T_EQ_INT(setenv("DMACOH_REGISTRY", path, 1), 0);
    }
    T_OK(dmacoh_registry_walk(on_reg, &r));
    T_EQ_INT(r.n, 0);
    T_ERR(dmacoh_registry_walk(NULL, NULL), DMACOH_EINVAL);

    T_EQ_INT(pipe(ready), 0);
    T_EQ_INT(pipe(go), 0);
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        struct dmacoh__registry_mark mx, ms;
        struct dmacoh__registry_entry other;

        close(go[1]);
        (void)prctl(PR_SET_NAME, "insp-holder", 0, 0, 0);
        if (dmacoh__linux_registry_enter(REG_X, REG_X + 0x2fff, false, &mx, &other) ||
            mx.gen == 0 || dmacoh__linux_registry_enter(REG_S, REG_S + 0xffff, true, &ms, &other) ||
            ms.gen == 0)
            _exit(1);
        (void)!write(ready[1], "r", 1);
        (void)!read(go[0], &byte, 1);
        _exit(0);
    }
    T_EQ_INT(read(ready[0], &byte, 1), 1);
    memset(&r, 0, sizeof(r));
    T_OK(dmacoh_registry_walk(on_reg, &r));
    T_EQ_INT(r.n, 2);
    T_EQ_U64(r.e[0].bus, REG_S); /* sorted by bus */
    T_EQ_U64(r.e[0].size, 0x10000);
    T_ASSERT(r.e[0].shared);
    T_EQ_U64(r.e[1].bus, REG_X);
    T_EQ_U64(r.e[1].size, 0x3000);
    T_ASSERT(!r.e[1].shared);
    for (unsigned i = 0; i < 2; i++) {
        T_EQ_U64(r.e[i].pid, (uint64_t)pid);
        T_ASSERT(!strcmp(r.e[i].comm, "insp-holder"));
    }
    T_EQ_INT(dmacoh_registry_walk(stop_reg, NULL), 23);
    T_EQ_INT(close(go[1]), 0);
    T_EQ_INT(wait_child(pid), 0);
    /* Its holder gone, the ranges are gone. */
    memset(&r, 0, sizeof(r));
    T_OK(dmacoh_registry_walk(on_reg, &r));
    T_EQ_INT(r.n, 0);
    /* Turned off. */
    T_EQ_INT(setenv("DMACOH_REGISTRY", "none", 1), 0);
    T_ASSERT(dmacoh_registry_path() == NULL);
    T_ERR(dmacoh_registry_walk(on_reg, &r), DMACOH_ENOENT);
    T_ASSERT(t_log_find("off"));
    T_EQ_INT(unsetenv("DMACOH_REGISTRY"), 0);
    T_ASSERT(!strcmp(dmacoh_registry_path(), "/run/dmacoh/registry"));
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    T_EQ_INT(unlink(path), 0);
    T_EQ_INT(rmdir(dir), 0);
}

static const struct t_case cases[] = {
    T_CASE(inspect_agrees_with_the_region),
    T_CASE(dead_owner_seen_and_reaped_from_outside),
    T_CASE(reap_by_name_wakes_a_waiter),
    T_CASE(death_in_the_lock_recovered_by_inspect),
    T_CASE(damaged_objects_give_their_errors),
    T_CASE(list_reports_region_objects_only),
    T_CASE(callbacks_run_unlocked),
    T_CASE(registry_walk_names_holders),
};

T_MAIN(cases)
