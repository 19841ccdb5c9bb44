/* SPDX-License-Identifier: MIT */
/*
 * test_shared.c - shared regions (dmacoh/shared.h) over the memfd platform: processes attach
 * by name and allocate from one allocator; an attach with another declaration is refused;
 * a dead owner's blocks are quarantined and reaped, or freed at once in a reset-on-death
 * region; a process killed inside the lock at every step of an allocation or a free leaves a
 * state the next locker repairs; and the stresses: 1000 kills (random steps inside the lock
 * and random moments outside it) with 0 pages lost and 0 owned twice, and four processes
 * allocating at random, each checking its own pattern in its blocks.
 *
 * Every process (the test and its forked children) attaches through its own memfd platform
 * instance over the same window descriptor, as an unrelated process that received it over a
 * socket would: a child uses nothing of its parent's attachment.
 */
#include "t.h"
#include "shmtest.h"

#include "core/internal.h" /* dmacoh__step_fn: the kill tests' hook */

#include <dmacoh/dmacoh.h>
#include <dmacoh/memfd.h>

#include <dmacoh/baremetal.h>
#include <dmacoh/hostmem.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUS  0xd0000000ull
#define DEV  0x80000000ull
#define SIZE 0x100000u /* 256 pages */
#define PAGE 0x1000u

/* A fresh name, in the tests' own state folder (harness/shmtest.c). */
static const char *fresh_name(void)
{
    return t_shm_name('r');
}

struct proc {
    struct dmacoh_memfd *m;
    struct dmacoh_device dev;
};

static int attach(struct proc *p, int fd, const char *name, unsigned flags, unsigned max)
{
    struct dmacoh_share_opts s = {name, flags, max};
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

static void detach(struct proc *p, unsigned flags)
{
    T_OK(dmacoh_release_coherent_memory(&p->dev, flags));
    T_OK(dmacoh_device_fini(&p->dev));
    T_OK(dmacoh_memfd_close(p->m));
}

/* The window and the creator's attachment. */
static int window(struct proc *creator, const char *name, unsigned flags)
{
    struct dmacoh_memfd *w;

    T_OK(dmacoh_memfd_create(BUS, SIZE, &w));
    T_OK(attach(creator, dmacoh_memfd_fd(w), name, DMACOH_SHARE_CREATE | flags, 0));
    {
        int fd = dup(dmacoh_memfd_fd(w));

        T_ASSERT(fd >= 0);
        T_OK(dmacoh_memfd_close(w));
        return fd;
    }
}

static int wait_child(pid_t pid)
{
    int st;

    T_EQ_INT(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

/* Every granule is exactly one of free, live, quarantined, occupied. */
static void no_page_lost(struct proc *p, struct dmacoh_shared_stats *st)
{
    T_ASSERT(dmacoh_check(&p->dev));
    T_OK(dmacoh_shared_get_stats(&p->dev, st));
    T_EQ_U64(st->free_bytes + st->live_bytes + st->quarantined_bytes + st->occupied_bytes, SIZE);
}

static void two_processes_share_one_region(void)
{
    const char *name = fresh_name();
    struct proc a, b;
    struct dmacoh_shared_stats st;
    void *ca;
    dmacoh_dma_addr_t ha;
    int fd = window(&a, name, 0), pipefd[2];
    pid_t pid;

    T_OK(dmacoh_alloc_coherent(&a.dev, 3 * PAGE, 0, 0, &ca, &ha));
    memset(ca, 0xa1, 3 * PAGE);
    T_EQ_INT(pipe(pipefd), 0);
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        void *c;
        dmacoh_dma_addr_t h;
        int r;

        if (attach(&b, fd, name, DMACOH_SHARE_ATTACH, 0))
            _exit(1);
        /* The creator's block is live for the child too: never handed out again. */
        for (int i = 0; i < 8; i++) {
            r = dmacoh_alloc_coherent(&b.dev, PAGE, 0, 0, &c, &h);
            if (r || (h >= ha && h < ha + 3 * PAGE))
                _exit(2);
            memset(c, 0xb0 + i, PAGE);
        }
        /* The creator's bytes, through the child's own mapping of the same handle. */
        if (*(unsigned char *)dmacoh_dma_to_virt(&b.dev, ha + PAGE) != 0xa1)
            _exit(3);
        if (write(pipefd[1], &h, sizeof(h)) != (ssize_t)sizeof(h))
            _exit(4);
        _exit(0); /* dies owning 8 blocks */
    }
    {
        dmacoh_dma_addr_t last;

        T_EQ_INT(read(pipefd[0], &last, sizeof(last)), (int)sizeof(last));
        T_EQ_INT(wait_child(pid), 0);
        T_EQ_INT(*(unsigned char *)dmacoh_dma_to_virt(&a.dev, last), 0xb7);
    }
    close(pipefd[0]);
    close(pipefd[1]);
    no_page_lost(&a, &st);
    T_EQ_U64(st.live_blocks, 1);
    T_EQ_U64(st.own_bytes, 3 * PAGE);
    T_EQ_U64(st.quarantined_blocks, 8);
    T_EQ_U64(st.quarantined_bytes, 8 * PAGE);
    T_EQ_INT(st.dead, 1);
    T_EQ_INT(st.procs, 1);
    T_ASSERT(t_log_find("quarantined"));
    {
        uint64_t blocks = 0, bytes = 0;

        T_OK(dmacoh_shared_reap(&a.dev, &blocks, &bytes));
        T_EQ_U64(blocks, 8);
        T_EQ_U64(bytes, 8 * PAGE);
    }
    no_page_lost(&a, &st);
    T_EQ_U64(st.quarantined_bytes, 0);
    T_EQ_INT(st.dead, 0);
    T_EQ_U64(st.reaped_blocks, 8);
    T_OK(dmacoh_free_coherent(&a.dev, 3 * PAGE, ca, ha));
    /* Not removed while a process is attached; then the name is free, and the next
     * declaration creates a region afresh. */
    T_ERR(dmacoh_shared_unlink(dmacoh_memfd_platform(a.m), name), DMACOH_EBUSY);
    T_ASSERT(t_log_find("processes are attached"));
    detach(&a, 0);
    {
        struct dmacoh_memfd *m;

        T_OK(dmacoh_memfd_attach(fd, BUS, SIZE, &m));
        T_OK(dmacoh_shared_unlink(dmacoh_memfd_platform(m), name));
        T_ERR(dmacoh_shared_unlink(dmacoh_memfd_platform(m), name), DMACOH_ENOENT);
        T_OK(dmacoh_memfd_close(m));
    }
    T_ERR(attach(&b, fd, name, DMACOH_SHARE_ATTACH, 0), DMACOH_ENOENT);
    close(fd);
}

static void attach_with_another_declaration_is_refused(void)
{
    const char *name = fresh_name();
    struct proc a, b;
    struct dmacoh_memfd *m;
    struct dmacoh_share_opts s = {name, DMACOH_SHARE_ATTACH, 0};
    struct dmacoh_declare_opts o = {0};
    int fd = window(&a, name, 0), flags = DMACOH_MEMORY_MAP;
    void *c;
    dmacoh_dma_addr_t h;

    T_OK(dmacoh_memfd_attach(fd, BUS, SIZE, &m));
    T_OK(dmacoh_device_init(&b.dev, "other", NULL, dmacoh_memfd_platform(m)));
    T_ERR(dmacoh_declare_shared_memory(&b.dev, BUS, DEV, SIZE / 2, flags, NULL, &s, NULL),
          DMACOH_EINVAL);
    T_ASSERT(t_log_find("size"));
    T_ERR(dmacoh_declare_shared_memory(&b.dev, BUS, DEV + SIZE, SIZE, flags, NULL, &s, NULL),
          DMACOH_EINVAL);
    T_ASSERT(t_log_find("device base"));
    o.granule = 2 * PAGE;
    T_ERR(dmacoh_declare_shared_memory(&b.dev, BUS, DEV, SIZE, flags, &o, &s, NULL), DMACOH_EINVAL);
    T_ASSERT(t_log_find("granule"));
    o.granule = 0;
    o.placement = DMACOH_PLACE_FIRST_FIT;
    T_ERR(dmacoh_declare_shared_memory(&b.dev, BUS, DEV, SIZE, flags, &o, &s, NULL), DMACOH_EINVAL);
    T_ASSERT(t_log_find("placement"));
    s.flags |= DMACOH_SHARE_RESET_ON_DEATH;
    T_ERR(dmacoh_declare_shared_memory(&b.dev, BUS, DEV, SIZE, flags, NULL, &s, NULL),
          DMACOH_EINVAL);
    T_ASSERT(t_log_find("reset-on-death"));
    s.flags = DMACOH_SHARE_ATTACH;
    s.max_procs = 3;
    T_ERR(dmacoh_declare_shared_memory(&b.dev, BUS, DEV, SIZE, flags, NULL, &s, NULL),
          DMACOH_EINVAL);
    T_ASSERT(t_log_find("max_procs"));
    /* Another bus base is another range of the window: refused by the region's bus base. */
    T_ERR(dmacoh_declare_shared_memory(&b.dev, BUS + PAGE, DEV, SIZE - PAGE, flags, NULL, &s, NULL),
          DMACOH_EINVAL);
    /* Nothing changed: the device has no region, the creator's region works. */
    T_ERR(dmacoh_shared_reap(&b.dev, NULL, NULL), DMACOH_ENODEV);
    T_OK(dmacoh_alloc_coherent(&a.dev, PAGE, 0, 0, &c, &h));
    T_OK(dmacoh_free_coherent(&a.dev, PAGE, c, h));
    s.max_procs = 0;
    T_OK(dmacoh_declare_shared_memory(&b.dev, BUS, DEV, SIZE, flags, NULL, &s, NULL));
    T_OK(dmacoh_release_coherent_memory(&b.dev, 0));
    T_OK(dmacoh_device_fini(&b.dev));
    T_OK(dmacoh_memfd_close(m));
    detach(&a, 0);
    close(fd);
}

static int find_owner(void *user, const struct dmacoh_shared_owner *o)
{
    struct dmacoh_shared_owner *want = (struct dmacoh_shared_owner *)user;

    if (o->pid != want->pid)
        return 0;
    *want = *o;
    return 1;
}

static void bad_requests(void)
{
    const char *name = fresh_name();
    struct proc a, b;
    struct dmacoh_memfd *m;
    struct dmacoh_share_opts s = {name, DMACOH_SHARE_ATTACH, 0};
    struct dmacoh_shared_stats st;
    int fd;
    const char *bad[] = {"", ".hidden", "a/b", "sp ace",
                         "0123456789012345678901234567890123456789012345678901234567890123456"};

    T_OK(dmacoh_memfd_create(BUS, SIZE, &m));
    T_OK(dmacoh_device_init(&b.dev, "b", NULL, dmacoh_memfd_platform(m)));
    T_ERR(dmacoh_declare_shared_memory(&b.dev, BUS, DEV, SIZE, DMACOH_MEMORY_MAP, NULL, &s, NULL),
          DMACOH_ENOENT);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s.name = bad[i];
        T_ERR(
            dmacoh_declare_shared_memory(&b.dev, BUS, DEV, SIZE, DMACOH_MEMORY_MAP, NULL, &s, NULL),
            DMACOH_EINVAL);
    }
    s.name = NULL;
    T_ERR(dmacoh_declare_shared_memory(&b.dev, BUS, DEV, SIZE, DMACOH_MEMORY_MAP, NULL, &s, NULL),
          DMACOH_EINVAL);
    T_ERR(dmacoh_declare_shared_memory(&b.dev, BUS, DEV, SIZE, DMACOH_MEMORY_MAP, NULL, NULL, NULL),
          DMACOH_EINVAL);
    s.name = name;
    s.flags = 0x80;
    T_ERR(dmacoh_declare_shared_memory(&b.dev, BUS, DEV, SIZE, DMACOH_MEMORY_MAP, NULL, &s, NULL),
          DMACOH_EINVAL);
    s.flags = 0;
    s.max_procs = 255;
    T_ERR(dmacoh_declare_shared_memory(&b.dev, BUS, DEV, SIZE, DMACOH_MEMORY_MAP, NULL, &s, NULL),
          DMACOH_EINVAL);
    /* Queries on a private region or none. */
    T_ERR(dmacoh_shared_get_stats(&b.dev, &st), DMACOH_ENODEV);
    T_OK(dmacoh_declare_coherent_memory(&b.dev, BUS, DEV, SIZE, DMACOH_MEMORY_MAP, NULL, NULL));
    T_ERR(dmacoh_shared_get_stats(&b.dev, &st), DMACOH_ENOTSUP);
    T_ERR(dmacoh_shared_reap(&b.dev, NULL, NULL), DMACOH_ENOTSUP);
    T_ERR(dmacoh_shared_get_stats(&b.dev, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_shared_walk_owners(&b.dev, NULL, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_shared_walk_owners(&b.dev, find_owner, NULL), DMACOH_ENOTSUP);
    T_ERR(dmacoh_shared_walk_owners(NULL, find_owner, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_shared_reap(NULL, NULL, NULL), DMACOH_EINVAL);
    T_OK(dmacoh_release_coherent_memory(&b.dev, 0));
    T_OK(dmacoh_device_fini(&b.dev));
    fd = dup(dmacoh_memfd_fd(m));
    T_OK(dmacoh_memfd_close(m));
    /* CREATE of an existing region; an owner table of one. */
    T_OK(attach(&a, fd, name, DMACOH_SHARE_CREATE, 1));
    T_ERR(attach(&b, fd, name, DMACOH_SHARE_CREATE, 0), DMACOH_EEXIST);
    T_ERR(attach(&b, fd, name, 0, 0), DMACOH_ENOMEM);
    T_ASSERT(t_log_find("owner entries"));
    detach(&a, 0);
    T_OK(attach(&b, fd, name, 0, 0)); /* the entry was given back */
    detach(&b, 0);
    T_ERR(dmacoh_shared_unlink(NULL, name), DMACOH_EINVAL);
    close(fd);
}

static void release_counts_own_blocks_only(void)
{
    const char *name = fresh_name();
    struct proc a, b;
    struct dmacoh_shared_stats st;
    void *c;
    dmacoh_dma_addr_t h;
    int fd = window(&a, name, 0);

    T_OK(attach(&b, fd, name, DMACOH_SHARE_ATTACH, 0)); /* a second attachment, same process */
    T_OK(dmacoh_alloc_coherent(&b.dev, 2 * PAGE, 0, 0, &c, &h));
    T_ERR(dmacoh_release_coherent_memory(&b.dev, 0), DMACOH_EBUSY);
    T_ASSERT(t_log_find("of this process"));
    detach(&a, 0); /* a holds nothing: its release succeeds */
    T_OK(attach(&a, fd, name, DMACOH_SHARE_ATTACH, 0));
    T_OK(dmacoh_release_coherent_memory(&b.dev, DMACOH_RELEASE_FORCE));
    T_ASSERT(t_log_find("quarantined"));
    T_OK(dmacoh_device_fini(&b.dev));
    T_OK(dmacoh_memfd_close(b.m));
    no_page_lost(&a, &st);
    T_EQ_U64(st.quarantined_bytes, 2 * PAGE);
    T_EQ_INT(st.dead, 1);
    T_OK(dmacoh_shared_reap(&a.dev, NULL, NULL));
    no_page_lost(&a, &st);
    T_EQ_U64(st.free_bytes, SIZE);
    detach(&a, 0);
    close(fd);
}

static void reset_on_death_frees_at_once(void)
{
    const char *name = fresh_name();
    struct proc a, b;
    struct dmacoh_shared_stats st;
    int fd = window(&a, name, DMACOH_SHARE_RESET_ON_DEATH);
    pid_t pid = fork();

    T_ASSERT(pid >= 0);
    if (pid == 0) {
        void *c;
        dmacoh_dma_addr_t h;

        if (attach(&b, fd, name, DMACOH_SHARE_ATTACH | DMACOH_SHARE_RESET_ON_DEATH, 0))
            _exit(1);
        for (int i = 0; i < 5; i++)
            if (dmacoh_alloc_coherent(&b.dev, PAGE, 0, 0, &c, &h))
                _exit(2);
        raise(SIGKILL);
    }
    T_EQ_INT(wait_child(pid), 128 + SIGKILL);
    no_page_lost(&a, &st);
    T_EQ_U64(st.free_bytes, SIZE);
    T_EQ_U64(st.reaped_blocks, 5);
    T_ASSERT(st.reset_on_death);
    T_ASSERT(t_log_find("reset on death"));
    detach(&a, 0);
    close(fd);
}

/* ---- deaths inside the lock ---- */

static unsigned die_step, die_count;

static void die_hook(unsigned step)
{
    if ((die_step && step == die_step) || (die_count && --die_count == 0))
        raise(SIGKILL);
}

/* A child attaches, allocates three blocks (6 pages), then dies at `step` of an allocation
 * of 40 pages (alloc: its granules span two kind words of 32) or of the free of one of its
 * blocks. */
static pid_t dying_child(int fd, const char *name, unsigned step, bool in_free)
{
    pid_t pid = fork();

    if (pid == 0) {
        struct proc b;
        void *c[3];
        dmacoh_dma_addr_t h[3];

        if (attach(&b, fd, name, DMACOH_SHARE_ATTACH, 0))
            _exit(1);
        for (int i = 0; i < 3; i++)
            if (dmacoh_alloc_coherent(&b.dev, (size_t)(i + 1) * PAGE, 0, 0, &c[i], &h[i]))
                _exit(2);
        die_step = step;
        dmacoh__step_fn = die_hook;
        if (in_free)
            (void)dmacoh_free_coherent(&b.dev, 2 * PAGE, c[1], h[1]);
        else
            (void)dmacoh_alloc_coherent(&b.dev, 40 * PAGE, 0, 0, &c[0], &h[0]);
        _exit(0); /* the step was never reached */
    }
    return pid;
}

static void death_at_every_step_is_repaired(void)
{
    static const unsigned alloc_steps[] = {70, 81, 90, 91, 92, 84, 85};
    static const unsigned free_steps[] = {70, 82, 93, 90, 94, 84, 85};
    const char *name = fresh_name();
    struct proc a;
    struct dmacoh_shared_stats st;
    int fd = window(&a, name, 0);
    uint64_t recoveries = 0;

    for (int pass = 0; pass < 2; pass++) {
        const unsigned *steps = pass ? free_steps : alloc_steps;

        for (size_t i = 0; i < 7; i++) {
            pid_t pid = dying_child(fd, name, steps[i], pass == 1);
            uint64_t blocks;

            T_ASSERT(pid > 0);
            T_EQ_INT(wait_child(pid), 128 + SIGKILL);
            t_log_reset();
            no_page_lost(&a, &st); /* the lock is taken: the state is repaired */
            T_EQ_U64(st.recoveries, recoveries + 1);
            recoveries = st.recoveries;
            T_ASSERT(t_log_find("died holding the lock"));
            /* The child's three blocks; the 5-page allocation undone; the free finished once
             * it was journalled (every step but the first). */
            blocks = st.quarantined_blocks;
            T_EQ_U64(blocks, pass == 1 && steps[i] != 70 ? 2 : 3);
            if (pass == 0)
                T_EQ_U64(st.quarantined_bytes, 6 * PAGE); /* the 40 pages went back */
            T_OK(dmacoh_shared_reap(&a.dev, NULL, NULL));
            no_page_lost(&a, &st);
            T_EQ_U64(st.free_bytes, SIZE);
        }
    }
    detach(&a, 0);
    close(fd);
}

/* hostmem in front of the platform that maps the memory (its composition): the shared region
 * is declared through hostmem, and another attachment through the bare memfd platform sees
 * the same allocator. */
static void hostmem_in_front_of_memfd(void)
{
    const char *name = fresh_name();
    struct proc a, b;
    struct dmacoh_memfd *m;
    struct dmacoh_hostmem *hm;
    struct dmacoh_hostmem_opts ho = {0};
    struct dmacoh_share_opts s = {name, DMACOH_SHARE_ATTACH, 0};
    struct dmacoh_shared_stats st;
    void *c;
    dmacoh_dma_addr_t h;
    int fd = window(&a, name, 0);

    T_OK(dmacoh_memfd_attach(fd, BUS, SIZE, &m));
    ho.declared = dmacoh_memfd_platform(m);
    T_OK(dmacoh_hostmem_open(&ho, &hm));
    T_OK(dmacoh_device_init(&b.dev, "behind-hostmem", NULL, dmacoh_hostmem_platform(hm)));
    T_OK(dmacoh_declare_shared_memory(&b.dev, BUS, DEV, SIZE, DMACOH_MEMORY_MAP, NULL, &s, NULL));
    T_OK(dmacoh_alloc_coherent(&b.dev, 4 * PAGE, 0, 0, &c, &h));
    memset(c, 0x5a, 4 * PAGE);
    T_EQ_INT(*(unsigned char *)dmacoh_dma_to_virt(&a.dev, h + 3 * PAGE), 0x5a);
    T_OK(dmacoh_shared_get_stats(&a.dev, &st));
    T_EQ_U64(st.live_bytes, 4 * PAGE);
    T_EQ_INT(st.procs, 2);
    T_OK(dmacoh_free_coherent(&b.dev, 4 * PAGE, c, h));
    T_OK(dmacoh_release_coherent_memory(&b.dev, 0));
    T_OK(dmacoh_device_fini(&b.dev));
    T_OK(dmacoh_hostmem_close(hm));
    T_OK(dmacoh_memfd_close(m));
    detach(&a, 0);
    close(fd);
}

/* ---- who is alive, who owns ---- */

static void *sleeper(void *arg)
{
    struct timespec ts = {0, 600000000};

    nanosleep(&ts, NULL);
    (void)arg;
    _exit(0); /* the process ends here, without exit handlers (a leak check would run) */
}

/* A process whose main thread exited while another runs reads as a zombie in /proc: it is
 * alive, and its blocks are not freed (reset on death) until it really ends. */
static void main_thread_exit_is_not_death(void)
{
    const char *name = fresh_name();
    /* Static: the child's main thread exits, and a leak check (valgrind) would find what
     * only its stack pointed at lost. */
    static struct proc a, b;
    struct dmacoh_shared_stats st;
    struct timespec ts = {0, 200000000};
    int fd = window(&a, name, DMACOH_SHARE_RESET_ON_DEATH);
    pid_t pid = fork();

    T_ASSERT(pid >= 0);
    if (pid == 0) {
        pthread_t t;
        void *c;
        dmacoh_dma_addr_t h;

        if (attach(&b, fd, name, DMACOH_SHARE_ATTACH | DMACOH_SHARE_RESET_ON_DEATH, 0) ||
            dmacoh_alloc_coherent(&b.dev, 4 * PAGE, 0, 0, &c, &h) ||
            pthread_create(&t, NULL, sleeper, NULL))
            _exit(1);
        pthread_exit(NULL);
    }
    nanosleep(&ts, NULL);
    no_page_lost(&a, &st);
    T_EQ_INT(st.procs, 2);
    T_EQ_U64(st.live_bytes, 4 * PAGE);
    T_EQ_U64(st.reaped_blocks, 0);
    T_EQ_INT(wait_child(pid), 0);
    no_page_lost(&a, &st);
    T_EQ_U64(st.free_bytes, SIZE);
    T_EQ_U64(st.reaped_blocks, 1);
    detach(&a, 0);
    close(fd);
}

/* An owner entry names a pid and its start time: a live process with that pid but another
 * start time (the pid reused after the owner died) is not the owner. The entry's start time
 * is changed in the object to make the process in it look like a reuse. */
#define SLOTS_AT   256 /* shared.c: the header, rounded to 64 */
#define SLOT_BYTES 32  /* pid, start, ns, state */

/* Field 22 of /proc/<pid>/stat, read here independently of the library. */
static unsigned long long start_of(pid_t pid)
{
    char path[64], buf[1024] = {0}, *p;
    unsigned long long v = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    T_ASSERT(f != NULL);
    T_ASSERT(fgets(buf, sizeof(buf), f) != NULL);
    fclose(f);
    p = strrchr(buf, ')');
    T_ASSERT(p != NULL);
    T_EQ_INT(sscanf(p + 2,
                    "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                    "%*s %llu",
                    &v),
             1);
    return v;
}

static void reused_pid_is_not_the_owner(void)
{
    const char *name = fresh_name();
    struct proc a;
    struct dmacoh_shared_stats st;
    char path[128];
    int fd = window(&a, name, 0), ready[2], obj;
    pid_t pid;
    char byte;

    T_EQ_INT(pipe(ready), 0);
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        struct proc b;
        void *c;
        dmacoh_dma_addr_t h;

        if (attach(&b, fd, name, DMACOH_SHARE_ATTACH, 0) ||
            dmacoh_alloc_coherent(&b.dev, 3 * PAGE, 0, 0, &c, &h))
            _exit(1);
        (void)!write(ready[1], "r", 1);
        pause();
        _exit(0);
    }
    T_EQ_INT(read(ready[0], &byte, 1), 1);
    no_page_lost(&a, &st);
    T_EQ_INT(st.procs, 2); /* alive: its pid and start time match */
    {
        struct dmacoh_shared_owner o = {0};

        o.pid = (uint64_t)pid;
        T_EQ_INT(dmacoh_shared_walk_owners(&a.dev, find_owner, &o), 1);
        T_EQ_U64(o.start, start_of(pid)); /* the owner's real start time */
        T_ASSERT(o.start != 0 && o.state == DMACOH_OWNER_LIVE && !o.self);
        T_EQ_U64(o.blocks, 1);
        T_EQ_U64(o.bytes, 3 * PAGE);
    }
    T_EQ_U64(st.quarantined_bytes, 0);
    t_shm_path(path, sizeof(path), name);
    obj = open(path, O_RDWR);
    T_ASSERT(obj >= 0);
    for (off_t k = 0;; k++) {
        T_ASSERT(k < 64);
        if (t_read_u64(obj, SLOTS_AT + k * SLOT_BYTES) == (uint64_t)pid) {
            off_t at = SLOTS_AT + k * SLOT_BYTES + 8;

            t_write_u64(obj, at, t_read_u64(obj, at) + 1);
            break;
        }
    }
    close(obj);
    no_page_lost(&a, &st);
    T_EQ_INT(st.procs, 1);
    T_EQ_INT(st.dead, 1);
    T_EQ_U64(st.quarantined_bytes, 3 * PAGE);
    T_EQ_INT(kill(pid, SIGKILL), 0);
    T_EQ_INT(wait_child(pid), 128 + SIGKILL);
    T_OK(dmacoh_shared_reap(&a.dev, NULL, NULL));
    close(ready[0]);
    close(ready[1]);
    detach(&a, 0);
    close(fd);
}

/* A child forked after the attach allocates through the inherited attachment: it takes an
 * owner entry of its own, so its death quarantines its blocks, not its parent's. */
static void forked_child_owns_its_blocks(void)
{
    const char *name = fresh_name();
    struct proc a;
    struct dmacoh_shared_stats st;
    void *c;
    dmacoh_dma_addr_t h;
    int fd = window(&a, name, 0);
    pid_t pid;

    T_OK(dmacoh_alloc_coherent(&a.dev, PAGE, 0, 0, &c, &h));
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        void *cc;
        dmacoh_dma_addr_t hh;

        for (int i = 0; i < 2; i++)
            if (dmacoh_alloc_coherent(&a.dev, 2 * PAGE, 0, 0, &cc, &hh))
                _exit(1);
        _exit(0);
    }
    T_EQ_INT(wait_child(pid), 0);
    no_page_lost(&a, &st);
    T_EQ_U64(st.own_blocks, 1);
    T_EQ_U64(st.quarantined_blocks, 2);
    T_EQ_U64(st.quarantined_bytes, 4 * PAGE);
    T_EQ_INT(st.procs, 1);
    T_OK(dmacoh_shared_reap(&a.dev, NULL, NULL));
    T_OK(dmacoh_free_coherent(&a.dev, PAGE, c, h));
    detach(&a, 0);
    close(fd);
}

/* A waiter in one process (DMACOH_ALLOC_WAIT) is woken when memory comes back in another:
 * here a dead owner's blocks freed by a sweep (reset on death). */
static void waiter_woken_by_a_sweep(void)
{
    const char *name = fresh_name();
    struct proc a;
    struct dmacoh_shared_stats st;
    int fd = window(&a, name, DMACOH_SHARE_RESET_ON_DEATH), ready[2];
    pid_t filler, waiter;
    char byte;

    T_EQ_INT(pipe(ready), 0);
    filler = fork();
    T_ASSERT(filler >= 0);
    if (filler == 0) {
        struct proc b;
        void *c;
        dmacoh_dma_addr_t h;

        if (attach(&b, fd, name, DMACOH_SHARE_ATTACH | DMACOH_SHARE_RESET_ON_DEATH, 0) ||
            dmacoh_alloc_coherent(&b.dev, SIZE, 0, 0, &c, &h))
            _exit(1);
        (void)!write(ready[1], "f", 1);
        pause();
        _exit(0);
    }
    T_EQ_INT(read(ready[0], &byte, 1), 1);
    waiter = fork();
    T_ASSERT(waiter >= 0);
    if (waiter == 0) {
        struct proc w;
        struct timespec t0, t1;
        void *c;
        dmacoh_dma_addr_t h;
        int r;

        if (attach(&w, fd, name, DMACOH_SHARE_ATTACH | DMACOH_SHARE_RESET_ON_DEATH, 0))
            _exit(1);
        (void)!write(ready[1], "w", 1);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = dmacoh_alloc_coherent(&w.dev, PAGE, DMACOH_ALLOC_WAIT, 5000000000ull, &c, &h);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (r)
            _exit(2);
        _exit(t1.tv_sec - t0.tv_sec >= 3 ? 3 : 0); /* woken, not timed out */
    }
    T_EQ_INT(read(ready[0], &byte, 1), 1);
    {
        struct timespec ts = {0, 300000000};

        nanosleep(&ts, NULL); /* the waiter is asleep */
    }
    T_EQ_INT(kill(filler, SIGKILL), 0);
    T_EQ_INT(wait_child(filler), 128 + SIGKILL);
    T_OK(dmacoh_shared_get_stats(&a.dev, &st)); /* the sweep frees the filler's memory */
    T_EQ_INT(wait_child(waiter), 0);
    close(ready[0]);
    close(ready[1]);
    detach(&a, 0);
    close(fd);
}

/* The debug mode records no block of a shared region: a block this process freed and another
 * process allocated, wrote and freed again is not taken for a write after free, nor a block
 * freed by another process for one still allocated. */
static void debug_mode_with_other_processes(void)
{
    const char *name = fresh_name();
    struct proc a;
    void *c, *c2;
    dmacoh_dma_addr_t h, h2;
    int fd = window(&a, name, 0);
    pid_t pid;

    T_OK(dmacoh_debug_set(DMACOH_DEBUG_RECORD | DMACOH_DEBUG_POISON));
    T_OK(dmacoh_alloc_coherent(&a.dev, PAGE, 0, 0, &c, &h));
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        struct proc b;

        (void)dmacoh_debug_set(0);
        if (attach(&b, fd, name, DMACOH_SHARE_ATTACH, 0))
            _exit(1);
        memset(dmacoh_dma_to_virt(&b.dev, h), 0x11, PAGE);
        /* The parent's block, freed here: a block handed over is freed by its holder. */
        _exit(dmacoh_free_coherent(&b.dev, PAGE, dmacoh_dma_to_virt(&b.dev, h), h) ? 2 : 0);
    }
    T_EQ_INT(wait_child(pid), 0);
    t_log_reset();
    T_OK(dmacoh_alloc_coherent(&a.dev, PAGE, 0, 0, &c2, &h2));
    T_EQ_U64(h2, h); /* the same memory again */
    T_ASSERT(!t_log_find("corrupt") && !t_log_find("written after"));
    T_OK(dmacoh_free_coherent(&a.dev, PAGE, c2, h2));
    T_OK(dmacoh_debug_set(0));
    detach(&a, 0);
    close(fd);
}

/* A declaration that created the region and then failed (here: the platform cannot map the
 * range) leaves no object behind. */
static void failed_create_leaves_nothing(void)
{
    const char *name = fresh_name();
    struct dmacoh_memfd *m;
    struct dmacoh_device dev;
    struct dmacoh_share_opts s = {name, DMACOH_SHARE_CREATE, 0};
    char path[128];

    T_OK(dmacoh_memfd_create(BUS, SIZE / 2, &m));
    T_OK(dmacoh_device_init(&dev, "small", NULL, dmacoh_memfd_platform(m)));
    T_ERR(dmacoh_declare_shared_memory(&dev, BUS, DEV, SIZE, DMACOH_MEMORY_MAP, NULL, &s, NULL),
          DMACOH_ENXIO);
    t_shm_path(path, sizeof(path), name);
    T_ASSERT(access(path, F_OK) != 0 && errno == ENOENT);
    T_OK(dmacoh_declare_shared_memory(&dev, BUS, DEV, SIZE / 2, DMACOH_MEMORY_MAP, NULL, &s, NULL));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_shared_unlink(dmacoh_memfd_platform(m), name));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_memfd_close(m));
}

/* An object another user owns, or others may write, is not trusted. */
static void foreign_objects_are_refused(void)
{
    const char *name = fresh_name();
    struct proc a, b;
    char path[128];
    int fd = window(&a, name, 0);

    t_shm_path(path, sizeof(path), name);
    T_EQ_INT(chmod(path, 0666), 0);
    T_ERR(attach(&b, fd, name, DMACOH_SHARE_ATTACH, 0), DMACOH_EACCES);
    T_ASSERT(t_log_find("others may write"));
    T_EQ_INT(chmod(path, 0600), 0);
    T_OK(attach(&b, fd, name, DMACOH_SHARE_ATTACH, 0));
    detach(&b, 0);
    detach(&a, 0);
    close(fd);
}

/* Processes of one region share a pid namespace (a pid names a process only within its
 * own): an attach from another is refused. Needs CAP_SYS_ADMIN for the namespace. */
static void other_pid_namespace_is_refused(void)
{
    const char *name = fresh_name();
    struct proc a;
    int fd = window(&a, name, 0);
    pid_t pid = fork();

    T_ASSERT(pid >= 0);
    if (pid == 0) {
        pid_t inner;
        int st;

        if (unshare(CLONE_NEWPID) != 0)
            _exit(77);
        inner = fork(); /* the first process of the new namespace */
        if (inner == 0) {
            struct proc b;

            _exit(attach(&b, fd, name, DMACOH_SHARE_ATTACH, 0) == DMACOH_ENOTSUP &&
                          t_log_find("pid namespace")
                      ? 0
                      : 1);
        }
        if (inner < 0 || waitpid(inner, &st, 0) != inner || !WIFEXITED(st))
            _exit(2);
        _exit(WEXITSTATUS(st));
    }
    {
        int code = wait_child(pid);

        detach(&a, 0);
        close(fd);
        if (code == 77)
            T_SKIP("unshare(CLONE_NEWPID) is not permitted here (needs CAP_SYS_ADMIN)");
        T_EQ_INT(code, 0);
    }
}

/* ---- attach failures and damaged objects ---- */

/* Header words (shared.c's struct dmacoh__shm): version at 16, pa_off at 104. The allocator
 * state begins with ngranules, base_g, used. */
#define H_VERSION 16
#define H_PA_OFF  104

static void damaged_objects_are_refused_or_repaired(void)
{
    const char *name = fresh_name();
    char good[16], bad[32], path[128];
    struct proc a, b;
    int fd = window(&a, name, 0), obj;
    uint64_t pa_off;
    void *c;
    dmacoh_dma_addr_t h;

    snprintf(good, sizeof(good), "%s", name);
    T_OK(dmacoh_alloc_coherent(&a.dev, 2 * PAGE, 0, 0, &c, &h));
    /* Another build's object (version): refused. */
    snprintf(bad, sizeof(bad), "%s-v", good);
    obj = t_shm_copy(good, bad);
    t_write_u64(obj, H_VERSION, 99);
    T_ERR(attach(&b, fd, bad, DMACOH_SHARE_ATTACH, 0), DMACOH_EINVAL);
    T_ASSERT(t_log_find("another build"));
    close(obj);
    /* An object longer than its header says: damaged. */
    snprintf(bad, sizeof(bad), "%s-l", good);
    obj = t_shm_copy(good, bad);
    T_EQ_INT(ftruncate(obj, (off_t)lseek(obj, 0, SEEK_END) + PAGE), 0);
    T_ERR(attach(&b, fd, bad, DMACOH_SHARE_ATTACH, 0), DMACOH_EIO);
    T_ASSERT(t_log_find("damaged"));
    close(obj);
    /* A counter of the allocator state wrong: the attach repairs it from the kinds. */
    snprintf(bad, sizeof(bad), "%s-c", good);
    obj = t_shm_copy(good, bad);
    pa_off = t_read_u64(obj, H_PA_OFF);
    t_write_u64(obj, (off_t)(pa_off + 16), 77); /* used */
    t_log_reset();
    T_OK(attach(&b, fd, bad, DMACOH_SHARE_ATTACH, 0));
    T_ASSERT(t_log_find("repaired"));
    T_ASSERT(dmacoh_check(&b.dev));
    {
        struct dmacoh_shared_stats st;

        T_OK(dmacoh_shared_get_stats(&b.dev, &st));
        T_EQ_U64(st.live_bytes, 2 * PAGE); /* the copy's owner (a) is alive: its block */
    }
    detach(&b, 0);
    close(obj);
    /* The granule count itself wrong, small or huge: the repair takes the declaration's,
     * and never writes beyond the object. */
    for (int i = 0; i < 2; i++) {
        snprintf(bad, sizeof(bad), "%s-n%d", good, i);
        obj = t_shm_copy(good, bad);
        t_write_u64(obj, (off_t)pa_off, i ? (uint64_t)1 << 40 : 7);
        t_log_reset();
        T_OK(attach(&b, fd, bad, DMACOH_SHARE_ATTACH, 0));
        T_ASSERT(t_log_find("repaired"));
        T_ASSERT(dmacoh_check(&b.dev));
        detach(&b, 0);
        close(obj);
    }
    /* Too short to be a region; never finished by its creator (all zero). */
    snprintf(bad, sizeof(bad), "%s-s", good);
    t_shm_path(path, sizeof(path), bad);
    obj = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    T_ASSERT(obj >= 0);
    T_EQ_INT(write(obj, "dmacoh", 6), 6);
    T_ERR(attach(&b, fd, bad, DMACOH_SHARE_ATTACH, 0), DMACOH_EINVAL);
    T_ASSERT(t_log_find("is not a shared region"));
    T_EQ_INT(ftruncate(obj, 1 << 20), 0);
    T_ERR(attach(&b, fd, bad, DMACOH_SHARE_ATTACH, 0), DMACOH_EIO);
    T_ASSERT(t_log_find("creator died"));
    close(obj);
    /* The region itself was never touched. */
    T_ASSERT(dmacoh_check(&a.dev));
    T_OK(dmacoh_free_coherent(&a.dev, 2 * PAGE, c, h));
    detach(&a, 0);
    close(fd);
}

static void attach_failures_change_nothing(void)
{
    const char *name = fresh_name();
    struct dmacoh_baremetal bm;
    struct dmacoh_baremetal_config cfg = {0};
    struct dmacoh_device dev;
    struct dmacoh_share_opts s = {name, 0, 0};
    struct proc a;
    static uint64_t arena[4096];
    int fd;

    /* A platform without shared-state objects. */
    cfg.modes = DMACOH_MEMORY_MAP;
    cfg.meta_arena = arena;
    cfg.meta_arena_size = sizeof(arena);
    T_OK(dmacoh_baremetal_init(&bm, &cfg));
    T_OK(dmacoh_device_init(&dev, "bare", NULL, &bm.plat));
    T_ERR(dmacoh_declare_shared_memory(&dev, BUS, DEV, SIZE, DMACOH_MEMORY_MAP, NULL, &s, NULL),
          DMACOH_ENOTSUP);
    T_ASSERT(t_log_find("no shared-state objects"));
    T_ERR(dmacoh_shared_unlink(&bm.plat, name), DMACOH_ENOTSUP);
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_baremetal_fini(&bm));
    /* A state folder that does not exist: the creation fails, nothing is left. */
    fd = window(&a, name, 0);
    detach(&a, 0);
    setenv("DMACOH_SHM_DIR", "/nonexistent-dmacoh-dir", 1);
    T_ERR(attach(&a, fd, "elsewhere", 0, 0), DMACOH_ENOENT);
    setenv("DMACOH_SHM_DIR", t_shm_dir(), 1);
    /* A mapping the platform cannot make (a bus range outside the window): the owner entry
     * taken for it is given back. */
    {
        struct dmacoh_memfd *m;
        struct dmacoh_share_opts o = {name, DMACOH_SHARE_ATTACH, 0};
        struct dmacoh_shared_stats st;

        T_OK(dmacoh_memfd_attach(fd, BUS, SIZE / 2, &m)); /* a window too small */
        T_OK(dmacoh_device_init(&dev, "x", NULL, dmacoh_memfd_platform(m)));
        T_OK(attach(&a, fd, name, DMACOH_SHARE_ATTACH, 0));
        T_OK(dmacoh_shared_get_stats(&a.dev, &st));
        T_EQ_INT(st.procs, 1);
        T_ERR(dmacoh_declare_shared_memory(&dev, BUS, DEV, SIZE, DMACOH_MEMORY_MAP, NULL, &o, NULL),
              DMACOH_ENXIO);
        T_OK(dmacoh_shared_get_stats(&a.dev, &st));
        T_EQ_INT(st.procs, 1);
        T_EQ_INT(st.dead, 0);
        detach(&a, 0);
        T_OK(dmacoh_device_fini(&dev));
        T_OK(dmacoh_memfd_close(m));
    }
    close(fd);
}

/* Processes racing to create one name: one creates, every one attaches and allocates. */
static void racing_creators_agree(void)
{
    const char *name = fresh_name();
    struct dmacoh_memfd *w;
    pid_t pids[6];
    int fd;

    T_OK(dmacoh_memfd_create(BUS, SIZE, &w));
    fd = dup(dmacoh_memfd_fd(w));
    T_OK(dmacoh_memfd_close(w));
    for (int k = 0; k < 6; k++) {
        pids[k] = fork();
        T_ASSERT(pids[k] >= 0);
        if (pids[k] == 0) {
            struct proc p;
            void *c;
            dmacoh_dma_addr_t h;

            if (attach(&p, fd, name, 0, 0))
                _exit(1);
            if (dmacoh_alloc_coherent(&p.dev, PAGE, 0, 0, &c, &h) ||
                dmacoh_free_coherent(&p.dev, PAGE, c, h) || !dmacoh_check(&p.dev))
                _exit(2);
            if (dmacoh_release_coherent_memory(&p.dev, 0))
                _exit(3);
            _exit(t_log_find("created region") ? 10 : 0);
        }
    }
    {
        int creators = 0;

        for (int k = 0; k < 6; k++) {
            int code = wait_child(pids[k]);

            T_ASSERT(code == 0 || code == 10);
            creators += code == 10;
        }
        T_EQ_INT(creators, 1);
    }
    close(fd);
}

/* ---- stresses ---- */

/* A worker: allocates and frees at random, writing its own pattern into every block and
 * checking it before the free. Exits 3 when a block's bytes are not its own. */
static void worker(int fd, const char *name, uint64_t seed, unsigned die_after, double seconds)
{
    struct proc b;
    struct {
        unsigned char *c;
        dmacoh_dma_addr_t h;
        size_t n;
    } held[32];
    unsigned nheld = 0;
    uint32_t mark = (uint32_t)getpid();
    struct timespec t0, t;
    uint64_t ops = 0;

    (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a test that failed */
    if (getppid() == 1)
        _exit(5);
    if (attach(&b, fd, name, DMACOH_SHARE_ATTACH, 0))
        _exit(1);
    if (die_after) {
        die_count = die_after;
        dmacoh__step_fn = die_hook;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if ((ops++ & 63) == 0 && seconds > 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9 > seconds)
                break;
        }
        if (nheld < 32 && (nheld == 0 || t_rand(&seed) % 2)) {
            size_t n = (size_t)(1 + t_rand(&seed) % 4) * PAGE;
            void *c;
            dmacoh_dma_addr_t h;

            if (dmacoh_alloc_coherent(&b.dev, n, DMACOH_ALLOC_NOZERO, 0, &c, &h) == 0) {
                for (size_t i = 0; i < n / 4; i++)
                    ((uint32_t *)c)[i] = mark;
                held[nheld].c = (unsigned char *)c;
                held[nheld].h = h;
                held[nheld++].n = n;
            }
        } else {
            unsigned k = (unsigned)(t_rand(&seed) % nheld);

            for (size_t i = 0; i < held[k].n / 4; i++)
                if (((uint32_t *)(void *)held[k].c)[i] != mark)
                    _exit(3);
            if (dmacoh_free_coherent(&b.dev, held[k].n, held[k].c, held[k].h))
                _exit(4);
            held[k] = held[--nheld];
        }
    }
    while (nheld) {
        nheld--;
        for (size_t i = 0; i < held[nheld].n / 4; i++)
            if (((uint32_t *)(void *)held[nheld].c)[i] != mark)
                _exit(3);
        if (dmacoh_free_coherent(&b.dev, held[nheld].n, held[nheld].c, held[nheld].h))
            _exit(4);
    }
    _exit(0);
}

/* A count from the environment; DMACOH_TEST_QUICK (valgrind, emulators) divides the
 * default by ten. */
static unsigned env_unsigned(const char *name, unsigned dflt)
{
    const char *v = getenv(name);

    if (v && *v)
        return (unsigned)strtoul(v, NULL, 10);
    if (getenv("DMACOH_TEST_QUICK"))
        return dflt / 10 ? dflt / 10 : 1;
    return dflt;
}

/* 1000 kills (DMACOH_KILLS; 100 with DMACOH_TEST_QUICK): four workers at a time; each dies at a random step of the lock's
 * critical sections (its n-th step, n random) or is killed from outside at a random moment.
 * After every death the survivor checks the invariants and that every page is accounted for,
 * and reaps. A worker that finds another's pattern in its block exits 3. */
static void kill_stress(void)
{
    const char *name = fresh_name();
    unsigned kills = env_unsigned("DMACOH_KILLS", 1000), done = 0, inside = 0;
    struct proc a;
    struct dmacoh_shared_stats st;
    int fd = window(&a, name, 0);
    uint64_t seed = 0x5eed;
    pid_t pids[4] = {0};

    while (done < kills) {
        for (int k = 0; k < 4; k++) {
            if (pids[k] == 0) {
                unsigned die_after = t_rand(&seed) % 2 ? 1 + (unsigned)(t_rand(&seed) % 3000) : 0;
                uint64_t s = t_rand(&seed);

                pids[k] = fork();
                T_ASSERT(pids[k] >= 0);
                if (pids[k] == 0)
                    worker(fd, name, s, die_after, 0);
                if (die_after)
                    inside++;
            }
        }
        {
            int k = (int)(t_rand(&seed) % 4), code;
            struct timespec ts = {0, (long)(t_rand(&seed) % 2000000)};

            nanosleep(&ts, NULL);
            (void)kill(pids[k], SIGKILL);
            code = wait_child(pids[k]);
            pids[k] = 0;
            T_EQ_INT(code, 128 + SIGKILL); /* never 3: no page had two owners */
            done++;
        }
        no_page_lost(&a, &st);
        T_OK(dmacoh_shared_reap(&a.dev, NULL, NULL));
    }
    for (int k = 0; k < 4; k++) {
        if (pids[k]) {
            (void)kill(pids[k], SIGKILL);
            T_EQ_INT(wait_child(pids[k]), 128 + SIGKILL);
        }
    }
    no_page_lost(&a, &st);
    T_OK(dmacoh_shared_reap(&a.dev, NULL, NULL));
    no_page_lost(&a, &st);
    T_EQ_U64(st.free_bytes, SIZE);
    T_EQ_INT(st.procs, 1);
    printf("# kill stress: %u kills (%u armed inside the lock), %llu repairs, %llu deaths, "
           "%llu blocks reaped; every page accounted for after each, no worker found another's "
           "pattern in its blocks\n",
           done, inside, (unsigned long long)st.recoveries, (unsigned long long)st.deaths,
           (unsigned long long)st.reaped_blocks);
    T_ASSERT(st.recoveries > 0);
    detach(&a, 0);
    close(fd);
}

/* Four processes allocate and free at random for DMACOH_STRESS_SECONDS (default 3; 1 with
 * DMACOH_TEST_QUICK); `make stress` runs it for minutes. */
static void four_processes_allocate_at_random(void)
{
    const char *name = fresh_name();
    unsigned seconds = getenv("DMACOH_STRESS_SECONDS") ? env_unsigned("DMACOH_STRESS_SECONDS", 3)
                       : getenv("DMACOH_TEST_QUICK")   ? 1
                                                       : 3;
    struct proc a;
    struct dmacoh_shared_stats st;
    int fd = window(&a, name, 0);
    pid_t pids[4];

    for (int k = 0; k < 4; k++) {
        pids[k] = fork();
        T_ASSERT(pids[k] >= 0);
        if (pids[k] == 0)
            worker(fd, name, 0x1234u + (uint64_t)k, 0, (double)seconds);
    }
    for (int k = 0; k < 4; k++)
        T_EQ_INT(wait_child(pids[k]), 0);
    no_page_lost(&a, &st);
    T_EQ_U64(st.free_bytes, SIZE);
    T_EQ_U64(st.recoveries, 0);
    detach(&a, 0);
    close(fd);
}

static const struct t_case cases[] = {
    T_CASE(two_processes_share_one_region),
    T_CASE(attach_with_another_declaration_is_refused),
    T_CASE(bad_requests),
    T_CASE(release_counts_own_blocks_only),
    T_CASE(reset_on_death_frees_at_once),
    T_CASE(hostmem_in_front_of_memfd),
    T_CASE(main_thread_exit_is_not_death),
    T_CASE(forked_child_owns_its_blocks),
    T_CASE(reused_pid_is_not_the_owner),
    T_CASE(waiter_woken_by_a_sweep),
    T_CASE(debug_mode_with_other_processes),
    T_CASE(failed_create_leaves_nothing),
    T_CASE(foreign_objects_are_refused),
    T_CASE(other_pid_namespace_is_refused),
    T_CASE(death_at_every_step_is_repaired),
    T_CASE(damaged_objects_are_refused_or_repaired),
    T_CASE(attach_failures_change_nothing),
    T_CASE(racing_creators_agree),
    T_CASE(kill_stress),
    T_CASE(four_processes_allocate_at_random),
};

T_MAIN(cases)
