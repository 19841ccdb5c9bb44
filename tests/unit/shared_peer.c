/* SPDX-License-Identifier: MIT */
/*
 * shared_peer.c - the unrelated process of tests/unit/test_shared_exec.c: a program of its own,
 * started with fork and exec, that inherits nothing from the test but one Unix socket (its
 * descriptor number is argv[1]) and the environment (DMACOH_SHM_DIR says where shared regions'
 * state lives).
 *
 * It receives the device memory's descriptor (SCM_RIGHTS) with a struct peer_hello, builds its
 * own platform over it (a simulator that places the received memory, or a memfd platform that
 * attaches to it), attaches to the shared region by name, checks a block of the test's through
 * its own mapping, allocates blocks and fills them with peer_word, and sends a struct
 * peer_report. Then it waits: the test kills it, or it exits when the socket closes (the test
 * died). Not a test by itself: it does nothing useful without the test at the other end.
 */
#include "shared_peer.h"

#include <dmacoh/dmacoh.h>
#include <dmacoh/memfd.h>
#include <dmacoh/sim.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct peer {
    struct peer_hello hello;
    struct peer_report rep;
    struct dmacoh_sim *sim;
    struct dmacoh_memfd *memfd;
    struct dmacoh_device dev;
};

/* Descriptors above 2, other than the socket, that came through exec: a fresh image inherits
 * none. What came through exec is not close-on-exec (exec closed those that were); what this
 * program's libraries opened since is (the library keeps a duplicate of stderr). */
static unsigned stray_fds(int sock)
{
    unsigned n = 0;

    for (int fd = 3; fd < 256; fd++) {
        int f = fcntl(fd, F_GETFD);

        if (fd != sock && f != -1 && !(f & FD_CLOEXEC))
            n++;
    }
    return n;
}

/* The hello and the descriptor that comes with it: the descriptor, or -1. */
static int receive(int sock, struct peer_hello *h)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } c;
    struct iovec iov = {h, sizeof(*h)};
    struct msghdr msg = {0};
    struct cmsghdr *cm;
    int fd = -1;

    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = c.buf;
    msg.msg_controllen = sizeof(c.buf);
    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(*h) || h->magic != PEER_MAGIC)
        return -1;
    cm = CMSG_FIRSTHDR(&msg);
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
        memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
    return fd;
}

/* This process's own platform over the received descriptor (dup'ed by the library). */
static int platform(struct peer *p, int fd, struct dmacoh_platform **plat)
{
    const struct peer_hello *h = &p->hello;
    int r;

    if (h->platform == PEER_MEMFD) {
        r = dmacoh_memfd_attach(fd, h->bus, h->size, &p->memfd);
        *plat = dmacoh_memfd_platform(p->memfd);
        return r;
    }
    if (h->platform != PEER_SIM)
        return DMACOH_EINVAL;
    r = dmacoh_sim_create(NULL, &p->sim);
    if (!r) {
        struct dmacoh_sim_memory mem = {h->bus, h->size, DMACOH_MEMORY_MAP, false, 0};

        r = dmacoh_sim_add_memory_fd(p->sim, &mem, fd);
    }
    *plat = dmacoh_sim_platform(p->sim);
    return r;
}

/* The test's block, through this process's mapping: every byte its probe byte. */
static bool probe(struct peer *p)
{
    const unsigned char *c = dmacoh_dma_to_virt(&p->dev, p->hello.probe_handle);
    uint64_t pid = (uint64_t)getpid();

    if (!c || p->hello.probe_len < sizeof(pid))
        return false;
    for (uint64_t i = 0; i < p->hello.probe_len; i++)
        if (c[i] != (unsigned char)p->hello.probe_byte)
            return false;
    memcpy((void *)(uintptr_t)c, &pid, sizeof(pid)); /* the test sees this store */
    return true;
}

static int allocate(struct peer *p)
{
    struct peer_report *rep = &p->rep;

    for (uint32_t i = 0; i < p->hello.nblocks && i < PEER_MAX_BLOCKS; i++) {
        void *c;
        dmacoh_dma_addr_t h;
        uint64_t len = peer_len(i);
        int r = dmacoh_alloc_coherent(&p->dev, (size_t)len, DMACOH_ALLOC_NOZERO, 0, &c, &h);

        if (r)
            return r;
        for (size_t k = 0; k < len / 4; k++)
            ((uint32_t *)c)[k] = peer_word(h, k);
        rep->handle[i] = h;
        rep->len[i] = len;
        rep->n = i + 1;
    }
    return 0;
}

/* Runs the steps; the first that fails is reported with its number (1: no DMACOH_SHM_DIR,
 * 2: the platform, 3: the device, 4: the shared declaration, 5: an allocation). */
static void run(struct peer *p, int fd)
{
    struct dmacoh_share_opts share = {p->hello.name, DMACOH_SHARE_ATTACH, 0};
    struct dmacoh_platform *plat = NULL;
    const struct peer_hello *h = &p->hello;
    int r = getenv("DMACOH_SHM_DIR") ? 0 : DMACOH_EINVAL;

    p->rep.step = 1;
    if (!r && ++p->rep.step)
        r = platform(p, fd, &plat);
    if (!r && ++p->rep.step)
        r = dmacoh_device_init(&p->dev, "peer", NULL, plat);
    if (!r && ++p->rep.step)
        r = dmacoh_declare_shared_memory(&p->dev, h->bus, h->dev, h->size,
                                         DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL, &share,
                                         NULL);
    if (!r && ++p->rep.step) {
        p->rep.probe_ok = probe(p);
        r = allocate(p);
    }
    p->rep.status = r;
}

int main(int argc, char **argv)
{
    static struct peer p;
    char *end = NULL;
    long sock = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    int fd;
    char c;

    if (sock < 3 || sock > 1000 || !end || *end)
        return 2;
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    p.rep.magic = PEER_MAGIC;
    p.rep.pid = (uint64_t)getpid();
    p.rep.stray_fds = stray_fds((int)sock);
    fd = receive((int)sock, &p.hello);
    if (fd < 0)
        return 3;
    run(&p, fd);
    close(fd); /* the platform keeps its own duplicate */
    if (send((int)sock, &p.rep, sizeof(p.rep), MSG_NOSIGNAL) != (ssize_t)sizeof(p.rep))
        return 4;
    /* Hold everything until killed; a closed socket means the test is gone. */
    while (read((int)sock, &c, 1) < 0 && errno == EINTR)
        ;
    return 0;
}
