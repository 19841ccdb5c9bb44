/* SPDX-License-Identifier: MIT */
/*
 * test_shared_exec.c - two unrelated processes share a region, on the simulator and on memfd.
 *
 * The other process is a program of its own (tests/unit/shared_peer.c), started with fork and
 * exec: a fresh process image that inherits nothing but one end of a Unix socket (and the
 * environment, where DMACOH_SHM_DIR names the state directory). Over the socket it receives the
 * device memory's descriptor (SCM_RIGHTS: dmacoh_sim_memory_fd, or dmacoh_memfd_fd), builds its
 * own platform over it (dmacoh_sim_add_memory_fd, or dmacoh_memfd_attach), attaches to the
 * shared region by name, checks a block of this process's through its own mapping, allocates
 * blocks, fills them with a pattern that depends on each word's DMA handle, and reports the
 * handles. This process checks the bytes through its own mapping (and, on the simulator,
 * through the simulated bus), that no handle meets one of its own blocks, then kills the peer
 * with SIGKILL: the peer's blocks are quarantined (never handed out, bytes untouched) until a
 * reap, and every page is accounted for throughout.
 *
 * Also: the simulator's memories are sealed, and dmacoh_sim_add_memory_fd and
 * dmacoh_sim_memory_fd refuse what they must.
 */
#include "t.h"

#include "shared_peer.h"

#include <dmacoh/dmacoh.h>
#include <dmacoh/memfd.h>
#include <dmacoh/sim.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUS     0xd0000000ull
#define DEV     0x80000000ull
#define SIZE    0x80000u /* 128 pages */
#define PAGE    PEER_PAGE
#define NPEER   6
#define PEER_FD 3 /* the socket's descriptor in the peer */

static char shm_dir[64];
static unsigned name_seq;

/* The state directory goes at exit when it is empty (every region unlinked). */
static void remove_shm_dir(void)
{
    (void)rmdir(shm_dir);
}

static const char *fresh_name(void)
{
    static char name[32];

    if (!shm_dir[0]) {
        strcpy(shm_dir, "/tmp/dmacoh-shx-XXXXXX");
        T_ASSERT(mkdtemp(shm_dir) != NULL);
        setenv("DMACOH_SHM_DIR", shm_dir, 1);
        T_EQ_INT(atexit(remove_shm_dir), 0);
    }
    (void)snprintf(name, sizeof(name), "x%d-%u", (int)getpid(), ++name_seq);
    return name;
}

/* This process's side: the platform (one of the two), its device and the memory's fd. */
struct side {
    struct dmacoh_sim *sim;
    struct dmacoh_memfd *memfd;
    struct dmacoh_platform *plat;
    struct dmacoh_device dev;
    int fd; /* owned by the platform */
    const char *name;
};

static void no_page_lost(struct side *s, struct dmacoh_shared_stats *st)
{
    T_ASSERT(dmacoh_check(&s->dev));
    T_OK(dmacoh_shared_get_stats(&s->dev, st));
    T_EQ_U64(st->free_bytes + st->live_bytes + st->quarantined_bytes + st->occupied_bytes, SIZE);
}

static void open_side(struct side *s, enum peer_platform kind)
{
    struct dmacoh_share_opts share = {NULL, DMACOH_SHARE_CREATE, 0};
    int r;

    memset(s, 0, sizeof(*s));
    s->name = share.name = fresh_name();
    if (kind == PEER_SIM) {
        struct dmacoh_sim_memory mem = {BUS, SIZE, DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, false, 0};

        T_OK(dmacoh_sim_create(NULL, &s->sim));
        T_OK(dmacoh_sim_add_memory(s->sim, &mem));
        s->fd = dmacoh_sim_memory_fd(s->sim, BUS);
        s->plat = dmacoh_sim_platform(s->sim);
    } else {
        T_OK(dmacoh_memfd_create(BUS, SIZE, &s->memfd));
        s->fd = dmacoh_memfd_fd(s->memfd);
        s->plat = dmacoh_memfd_platform(s->memfd);
    }
    T_ASSERT(s->fd >= 0);
    T_OK(dmacoh_device_init(&s->dev, "creator", NULL, s->plat));
    r = dmacoh_declare_shared_memory(
        &s->dev, BUS, DEV, SIZE, DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL, &share, NULL);
    T_OK(r);
}

static void close_side(struct side *s)
{
    T_OK(dmacoh_release_coherent_memory(&s->dev, 0));
    T_OK(dmacoh_shared_unlink(s->plat, s->name));
    T_OK(dmacoh_device_fini(&s->dev));
    if (s->sim)
        T_OK(dmacoh_sim_destroy(s->sim));
    else
        T_OK(dmacoh_memfd_close(s->memfd));
}

static const char *peer_path(void)
{
    const char *p = getenv("DMACOH_SHARED_PEER");

    return p && *p ? p : DMACOH_SHARED_PEER;
}

/* Starts the peer: fork, then exec of its program, with only the socket's end `sv` (as
 * descriptor PEER_FD) carried over; under user-mode emulation the program is run through the
 * same emulator. */
static pid_t start_peer(int sv)
{
    const char *emulator = getenv("DMACOH_TEST_EMULATOR");
    char fdarg[16];
    pid_t pid;

    (void)snprintf(fdarg, sizeof(fdarg), "%d", PEER_FD);
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        /* dup2 makes a copy that is not close-on-exec (when sv already is PEER_FD, the flag
         * is cleared by hand); every descriptor above it goes, including any this process
         * inherited from whatever started it. */
        if (sv == PEER_FD ? fcntl(sv, F_SETFD, 0) != 0 : dup2(sv, PEER_FD) != PEER_FD)
            _exit(127);
        if (syscall(SYS_close_range, PEER_FD + 1, ~0u, 0) != 0)
            for (int fd = PEER_FD + 1; fd < 4096; fd++)
                (void)close(fd);
        if (emulator)
            execlp(emulator, emulator, peer_path(), fdarg, (char *)NULL);
        else
            execl(peer_path(), peer_path(), fdarg, (char *)NULL);
        _exit(errno == ENOEXEC ? 126 : 127);
    }
    return pid;
}

static int wait_peer(pid_t pid)
{
    int st;

    T_EQ_INT(waitpid(pid, &st, 0), pid);
    return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

static void send_hello(int sock, const struct peer_hello *h, int fd)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } c;
    struct iovec iov = {(void *)(uintptr_t)h, sizeof(*h)};
    struct msghdr msg = {0};
    struct cmsghdr *cm;

    memset(&c, 0, sizeof(c));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = c.buf;
    msg.msg_controllen = sizeof(c.buf);
    cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
    T_EQ_INT(sendmsg(sock, &msg, MSG_NOSIGNAL), (int)sizeof(*h));
}

/* Runs the peer through its report; skips when its program cannot be executed here. */
static pid_t run_peer(struct side *s, enum peer_platform kind, dmacoh_dma_addr_t probe,
                      struct peer_report *rep, int *sock)
{
    struct peer_hello h = {PEER_MAGIC, kind, BUS, DEV, SIZE, NPEER, 0xa1, probe, 3 * PAGE, {0}};
    struct timeval tmo = {120, 0}; /* emulated, the peer takes seconds */
    int sv[2];
    pid_t pid;
    ssize_t n;

    (void)snprintf(h.name, sizeof(h.name), "%s", s->name);
    T_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    T_EQ_INT(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)), 0);
    pid = start_peer(sv[1]);
    close(sv[1]);
    send_hello(sv[0], &h, s->fd);
    n = recv(sv[0], rep, sizeof(*rep), 0);
    if (n != (ssize_t)sizeof(*rep)) {
        int e = errno, code;

        (void)kill(pid, SIGKILL);
        code = wait_peer(pid);
        close(sv[0]);
        if (code == 126)
            t_skip("the peer program cannot be executed (ENOEXEC: a program of another CPU "
                   "run by user-mode emulation without binfmt_misc)");
        t_fail(__FILE__, __LINE__, "the peer sent no report (recv: %zd, %s; it ended with %d)", n,
               strerror(e), code);
    }
    /* Kept open until the peer is killed: the peer exits when it closes (this process died). */
    *sock = sv[0];
    return pid;
}

static bool meets(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

/* The peer's block i: its pattern, through this process's own mapping (and bus view). */
static void check_block(struct side *s, const struct peer_report *rep, uint32_t i)
{
    const uint32_t *w = dmacoh_dma_to_virt(&s->dev, rep->handle[i]);

    T_ASSERT(w != NULL);
    for (size_t k = 0; k < (size_t)rep->len[i] / 4; k++)
        if (w[k] != peer_word(rep->handle[i], k))
            t_fail(__FILE__, __LINE__, "peer block %u (handle %#llx), word %zu: %#x", i,
                   (unsigned long long)rep->handle[i], k, w[k]);
    if (s->sim) {
        uint32_t last;
        size_t k = (size_t)rep->len[i] / 4 - 1;

        T_OK(dmacoh_sim_bus_read(s->sim, BUS + (rep->handle[i] - DEV) + k * 4, &last, 4));
        T_EQ_INT(last, peer_word(rep->handle[i], k));
    }
}

/* Allocates single pages until the region is full: none is a quarantined block of the peer's.
 * Frees them again; returns how many there were. */
static unsigned fill_avoids(struct side *s, const struct peer_report *rep)
{
    static struct {
        void *c;
        dmacoh_dma_addr_t h;
    } got[SIZE / PAGE];
    unsigned n = 0;

    while (n < SIZE / PAGE && dmacoh_alloc_coherent(&s->dev, PAGE, DMACOH_ALLOC_NOZERO, 0,
                                                    &got[n].c, &got[n].h) == 0) {
        for (uint32_t i = 0; i < rep->n; i++)
            T_ASSERT(!meets(got[n].h, PAGE, rep->handle[i], rep->len[i]));
        n++;
    }
    for (unsigned k = 0; k < n; k++)
        T_OK(dmacoh_free_coherent(&s->dev, PAGE, got[k].c, got[k].h));
    return n;
}

static void unrelated_process_shares_a_region(enum peer_platform kind)
{
    struct side s;
    struct dmacoh_shared_stats st;
    struct peer_report rep;
    void *ca, *cb, *cc;
    dmacoh_dma_addr_t ha, hb, hc;
    uint64_t peer_bytes = 0, blocks = 0, bytes = 0, pid;
    pid_t peer;
    int sock;

    open_side(&s, kind);
    T_OK(dmacoh_alloc_coherent(&s.dev, 3 * PAGE, 0, 0, &ca, &ha));
    memset(ca, 0xa1, 3 * PAGE); /* the probe the peer reads */
    T_OK(dmacoh_alloc_coherent(&s.dev, PAGE, 0, 0, &cb, &hb));
    memset(cb, 0xb2, PAGE);
    peer = run_peer(&s, kind, ha, &rep, &sock);
    T_EQ_U64(rep.magic, PEER_MAGIC);
    if (rep.status)
        t_fail(__FILE__, __LINE__, "the peer failed at step %u: %s", rep.step,
               dmacoh_err_name(rep.status));
    T_EQ_U64(rep.pid, (uint64_t)peer);
    if (!getenv("DMACOH_TEST_EMULATOR")) /* the emulator's own descriptors would count */
        T_EQ_INT(rep.stray_fds, 0);
    T_EQ_INT(rep.probe_ok, 1);
    memcpy(&pid, ca, sizeof(pid)); /* the peer's store into this process's block */
    T_EQ_U64(pid, (uint64_t)peer);
    T_EQ_INT(rep.n, NPEER);
    for (uint32_t i = 0; i < rep.n; i++) {
        T_ASSERT(rep.handle[i] >= DEV && rep.handle[i] + rep.len[i] <= DEV + SIZE);
        T_ASSERT(!meets(rep.handle[i], rep.len[i], ha, 3 * PAGE));
        T_ASSERT(!meets(rep.handle[i], rep.len[i], hb, PAGE));
        for (uint32_t j = 0; j < i; j++)
            T_ASSERT(!meets(rep.handle[i], rep.len[i], rep.handle[j], rep.len[j]));
        check_block(&s, &rep, i);
        peer_bytes += rep.len[i];
    }
    /* Allocations after the peer's avoid them too. */
    T_OK(dmacoh_alloc_coherent(&s.dev, 2 * PAGE, 0, 0, &cc, &hc));
    for (uint32_t i = 0; i < rep.n; i++)
        T_ASSERT(!meets(rep.handle[i], rep.len[i], hc, 2 * PAGE));
    no_page_lost(&s, &st);
    T_EQ_INT(st.procs, 2);
    T_EQ_U64(st.live_blocks, 3 + NPEER);
    T_EQ_U64(st.own_blocks, 3);
    T_EQ_U64(st.live_bytes, 6 * PAGE + peer_bytes);

    T_EQ_INT(kill(peer, SIGKILL), 0);
    T_EQ_INT(wait_peer(peer), 128 + SIGKILL);
    close(sock);
    no_page_lost(&s, &st);
    T_EQ_INT(st.procs, 1);
    T_EQ_INT(st.dead, 1);
    T_EQ_U64(st.quarantined_blocks, NPEER);
    T_EQ_U64(st.quarantined_bytes, peer_bytes);
    T_ASSERT(t_log_find("quarantined"));
    /* Quarantined: never handed out, and the bytes the dead peer left are untouched. */
    T_EQ_U64(fill_avoids(&s, &rep), (SIZE - 6 * PAGE - peer_bytes) / PAGE);
    for (uint32_t i = 0; i < rep.n; i++)
        check_block(&s, &rep, i);
    T_EQ_INT(*(unsigned char *)cb, 0xb2);
    no_page_lost(&s, &st);
    T_EQ_U64(st.quarantined_blocks, NPEER);

    T_OK(dmacoh_shared_reap(&s.dev, &blocks, &bytes));
    T_EQ_U64(blocks, NPEER);
    T_EQ_U64(bytes, peer_bytes);
    no_page_lost(&s, &st);
    T_EQ_U64(st.quarantined_bytes, 0);
    T_EQ_INT(st.dead, 0);
    T_EQ_U64(st.free_bytes, SIZE - 6 * PAGE);
    T_OK(dmacoh_free_coherent(&s.dev, 3 * PAGE, ca, ha));
    T_OK(dmacoh_free_coherent(&s.dev, PAGE, cb, hb));
    T_OK(dmacoh_free_coherent(&s.dev, 2 * PAGE, cc, hc));
    no_page_lost(&s, &st);
    T_EQ_U64(st.free_bytes, SIZE);
    close_side(&s);
}

static void sim_unrelated_process_shares_a_region(void)
{
    unrelated_process_shares_a_region(PEER_SIM);
}

static void memfd_unrelated_process_shares_a_region(void)
{
    unrelated_process_shares_a_region(PEER_MEMFD);
}

/* The simulator's memories cannot be resized by anyone; a second simulator over the same
 * descriptor sees every byte. */
static void sim_memories_are_sealed_and_shown(void)
{
    struct dmacoh_sim *a, *b;
    struct dmacoh_sim_memory mem = {BUS, SIZE, DMACOH_MEMORY_MAP, false, 0};
    unsigned char x = 0x5c, y = 0;
    int fd;

    T_OK(dmacoh_sim_create(NULL, &a));
    T_OK(dmacoh_sim_add_memory(a, &mem));
    fd = dmacoh_sim_memory_fd(a, BUS + SIZE - 1); /* any byte of it names it */
    T_ASSERT(fd >= 0);
    T_EQ_INT(dmacoh_sim_memory_fd(a, BUS), fd);
    T_EQ_INT(fcntl(fd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
             F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    T_EQ_INT(ftruncate(fd, SIZE / 2), -1);
    T_EQ_INT(errno, EPERM);
    T_EQ_INT(ftruncate(fd, 2 * SIZE), -1);
    T_EQ_INT(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
    T_ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    /* Another simulator, at another bus address: the same bytes. */
    T_OK(dmacoh_sim_create(NULL, &b));
    mem.bus = BUS + 0x10000000u;
    T_OK(dmacoh_sim_add_memory_fd(b, &mem, fd));
    T_OK(dmacoh_sim_bus_write(a, BUS + 0x1234, &x, 1));
    T_OK(dmacoh_sim_bus_read(b, mem.bus + 0x1234, &y, 1));
    T_EQ_INT(y, 0x5c);
    /* b holds its own duplicate: a can go first. */
    T_OK(dmacoh_sim_destroy(a));
    x = 0x3d;
    T_OK(dmacoh_sim_bus_write(b, mem.bus + 0x1234, &x, 1));
    T_OK(dmacoh_sim_bus_read(b, mem.bus + 0x1234, &y, 1));
    T_EQ_INT(y, 0x3d);
    T_OK(dmacoh_sim_destroy(b));
}

static void sim_memory_fd_refusals(void)
{
    struct dmacoh_sim *a, *b;
    struct dmacoh_sim_memory mem = {BUS, SIZE, DMACOH_MEMORY_MAP, false, 0};
    int pipefd[2], plain, fd, small;
    unsigned char probe = 0;

    T_OK(dmacoh_sim_create(NULL, &a));
    T_OK(dmacoh_sim_create(NULL, &b));
    T_ERR(dmacoh_sim_memory_fd(NULL, BUS), DMACOH_EINVAL);
    T_ERR(dmacoh_sim_memory_fd(a, BUS), DMACOH_ENXIO);
    T_ASSERT(t_log_find("no placed memory"));
    T_ERR(dmacoh_sim_memory_fd(a, 0x40000000u), DMACOH_ENXIO); /* the simulated RAM */
    T_ASSERT(t_log_find("simulated RAM"));
    T_OK(dmacoh_sim_add_memory(a, &mem));
    fd = dmacoh_sim_memory_fd(a, BUS);
    T_ASSERT(fd >= 0);
    T_ERR(dmacoh_sim_memory_fd(a, BUS + SIZE), DMACOH_ENXIO);

    /* Descriptors that are not sealed memory. */
    T_ERR(dmacoh_sim_add_memory_fd(b, &mem, -1), DMACOH_EINVAL);
    T_ASSERT(t_log_find("not a file"));
    T_EQ_INT(pipe(pipefd), 0);
    T_ERR(dmacoh_sim_add_memory_fd(b, &mem, pipefd[0]), DMACOH_EINVAL);
    close(pipefd[0]);
    close(pipefd[1]);
    plain = memfd_create("unsealed", MFD_CLOEXEC);
    T_ASSERT(plain >= 0);
    T_EQ_INT(ftruncate(plain, SIZE), 0);
    t_log_reset();
    T_ERR(dmacoh_sim_add_memory_fd(b, &mem, plain), DMACOH_EINVAL);
    T_ASSERT(t_log_find("F_SEAL_SHRINK"));
    close(plain);
    small = memfd_create("small", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    T_ASSERT(small >= 0);
    T_EQ_INT(ftruncate(small, SIZE / 2), 0);
    T_EQ_INT(fcntl(small, F_ADD_SEALS, F_SEAL_SHRINK), 0);
    t_log_reset();
    T_ERR(dmacoh_sim_add_memory_fd(b, &mem, small), DMACOH_EINVAL);
    T_ASSERT(t_log_find("fewer than"));
    close(small);

    /* Descriptions refused as dmacoh_sim_add_memory refuses them. */
    T_ERR(dmacoh_sim_add_memory_fd(NULL, &mem, fd), DMACOH_EINVAL);
    T_ERR(dmacoh_sim_add_memory_fd(b, NULL, fd), DMACOH_EINVAL);
    mem.size = SIZE + 1;
    T_ERR(dmacoh_sim_add_memory_fd(b, &mem, fd), DMACOH_EINVAL);
    mem.size = SIZE;
    mem.modes = 0;
    T_ERR(dmacoh_sim_add_memory_fd(b, &mem, fd), DMACOH_EINVAL);
    mem.modes = DMACOH_MEMORY_MAP;
    mem.bus = 0x40000000u; /* over b's RAM */
    T_ERR(dmacoh_sim_add_memory_fd(b, &mem, fd), DMACOH_EBUSY);
    mem.bus = ~0ull & ~(uint64_t)(PAGE - 1);
    T_ERR(dmacoh_sim_add_memory_fd(b, &mem, fd), DMACOH_ERANGE);
    /* A memory larger than the file: the file is too small for it. */
    mem.bus = BUS;
    mem.size = 2 * SIZE;
    T_ERR(dmacoh_sim_add_memory_fd(b, &mem, fd), DMACOH_EINVAL);
    /* Nothing was placed by any refusal: BUS is still free in b, and then taken. */
    T_ERR(dmacoh_sim_bus_read(b, BUS, &probe, 1), DMACOH_ENXIO);
    mem.size = SIZE / 2; /* a smaller view of a larger file is fine */
    T_OK(dmacoh_sim_add_memory_fd(b, &mem, fd));
    T_ERR(dmacoh_sim_add_memory_fd(b, &mem, fd), DMACOH_EBUSY);
    T_OK(dmacoh_sim_bus_read(b, BUS, &probe, 1));
    /* A simulator holds 64 memories (its RAM and BUS's among them). */
    for (uint64_t i = 0; i < 62; i++) {
        struct dmacoh_sim_memory one = {0x100000000ull + i * PAGE, PAGE, DMACOH_MEMORY_MAP, false,
                                        0};

        T_OK(dmacoh_sim_add_memory(b, &one));
    }
    mem.bus = 0x200000000ull;
    t_log_reset();
    T_ERR(dmacoh_sim_add_memory_fd(b, &mem, fd), DMACOH_ENOMEM);
    T_ASSERT(t_log_find("64 memories"));
    T_OK(dmacoh_sim_destroy(b));
    T_OK(dmacoh_sim_destroy(a));
}

static const struct t_case cases[] = {
    T_CASE(sim_unrelated_process_shares_a_region),
    T_CASE(memfd_unrelated_process_shares_a_region),
    T_CASE(sim_memories_are_sealed_and_shown),
    T_CASE(sim_memory_fd_refusals),
};

T_MAIN(cases)
