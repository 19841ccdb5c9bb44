/* SPDX-License-Identifier: MIT */
/*
 * test_memfd.c - the memfd platform: a driver allocates in a window of memfd-backed device
 * memory, a second process (a device model, here a forked child) attaches to the descriptor
 * and sees and answers through the same bus addresses; a hostile peer cannot resize the
 * window (sealed) and so cannot crash the driver, and unsealed descriptors are refused; a
 * declare that fails because the process reached vm.max_map_count says so; refusals.
 */
#include "t.h"

#include <dmacoh/dmacoh.h>
#include <dmacoh/memfd.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ThreadSanitizer's runtime maps memory for itself as the test goes and dies when it cannot. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

#define BUS  0xc0000000ull
#define SIZE 0x40000u

/* The device model: attach to the window, declare it, read the command, answer. */
static int model(int fd, dmacoh_dma_addr_t cmd)
{
    struct dmacoh_memfd *m;
    struct dmacoh_device dev;
    char *p;

    if (dmacoh_memfd_attach(fd, BUS, SIZE, &m) ||
        dmacoh_device_init(&dev, "model", NULL, dmacoh_memfd_platform(m)) ||
        dmacoh_declare_coherent_memory(&dev, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, NULL))
        return 1;
    /* The mailbox is taken as an occupied range: under DMACOH_TRACK, ASan lets a process
     * touch only what it was handed. */
    if (dmacoh_mark_declared_memory_occupied(&dev, cmd, 128, (void **)&p) ||
        p != dmacoh_dma_to_virt(&dev, cmd) || strcmp(p, "READ") != 0)
        return 2;
    memcpy(p + 64, "DONE", 5);
    if (dmacoh_release_coherent_memory(&dev, 0) || dmacoh_device_fini(&dev) ||
        dmacoh_memfd_close(m))
        return 3;
    return 0;
}

static void second_process_sees_the_same_memory(void)
{
    struct dmacoh_memfd *m;
    struct dmacoh_device dev;
    void *cmd;
    dmacoh_dma_addr_t h;
    int status = -1;
    pid_t pid;

    T_OK(dmacoh_memfd_create(BUS, SIZE, &m));
    T_OK(dmacoh_device_init(&dev, "driver", NULL, dmacoh_memfd_platform(m)));
    T_OK(dmacoh_declare_coherent_memory(&dev, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &cmd, &h));
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &cmd, &h));
    T_EQ_U64(h, 0x1000);
    memcpy(cmd, "READ", 5);
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0)
        _exit(model(dmacoh_memfd_fd(m), h));
    T_EQ_INT(waitpid(pid, &status, 0), pid);
    T_ASSERT(WIFEXITED(status));
    T_EQ_INT(WEXITSTATUS(status), 0);
    T_ASSERT(strcmp((char *)cmd + 64, "DONE") == 0); /* the model's answer, seen here */
    T_ERR(dmacoh_memfd_close(m), DMACOH_EBUSY);
    T_OK(dmacoh_release_coherent_memory(&dev, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_memfd_close(m));
}

/* A hostile peer with the window's descriptor: tries to shrink it, grow it and add a write
 * seal. Exit status 0 when every attempt was refused with EPERM, else which one was not. */
static int hostile_peer(int fd)
{
    if (ftruncate(fd, 0) == 0 || errno != EPERM)
        return 1;
    if (ftruncate(fd, 2 * (off_t)SIZE) == 0 || errno != EPERM)
        return 2;
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0 || errno != EPERM)
        return 3;
    return 0;
}

/* The driver: declares the window, lets the peer loose on it, then allocates (and so zeroes)
 * the whole window. Returns 0 when it got through (before the window was sealed, a peer's
 * truncation killed it with SIGBUS while zeroing), 10 + the peer's status otherwise. */
static int driver_with_hostile_peer(void)
{
    struct dmacoh_memfd *m;
    struct dmacoh_device dev;
    int status = -1;
    void *p;
    dmacoh_dma_addr_t h;
    pid_t pid;

    if (dmacoh_memfd_create(BUS, SIZE, &m) ||
        dmacoh_device_init(&dev, "driver", NULL, dmacoh_memfd_platform(m)) ||
        dmacoh_declare_coherent_memory(&dev, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, NULL))
        return 4;
    pid = fork();
    if (pid == 0)
        _exit(hostile_peer(dmacoh_memfd_fd(m)));
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return 5;
    if (dmacoh_alloc_coherent(&dev, SIZE, 0, 0, &p, &h) || ((char *)p)[SIZE - 1] != 0 ||
        dmacoh_free_coherent(&dev, SIZE, p, h) || dmacoh_release_coherent_memory(&dev, 0) ||
        dmacoh_device_fini(&dev) || dmacoh_memfd_close(m))
        return 6;
    return WEXITSTATUS(status) ? 10 + WEXITSTATUS(status) : 0;
}

static void peer_cannot_resize_the_window(void)
{
    struct dmacoh_memfd *m;
    int status = -1, seals;
    pid_t pid;

    T_OK(dmacoh_memfd_create(BUS, SIZE, &m));
    seals = fcntl(dmacoh_memfd_fd(m), F_GET_SEALS);
    T_EQ_INT(seals, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    T_OK(dmacoh_memfd_close(m));
    fflush(NULL);
    pid = fork(); /* the driver in a child of its own: SIGBUS must not end the test run */
    T_ASSERT(pid >= 0);
    if (pid == 0)
        _exit(driver_with_hostile_peer());
    T_EQ_INT(waitpid(pid, &status, 0), pid);
    T_EQ_INT(WIFSIGNALED(status) ? WTERMSIG(status) : 0, 0); /* SIGBUS (7) without seals */
    T_ASSERT(WIFEXITED(status));
    T_EQ_INT(WEXITSTATUS(status), 0);
}

/* A memfd of size bytes, sealed with `seals` (0: none; -1: not even sealable). */
static int make_memfd(int seals)
{
    int fd = memfd_create("t", MFD_CLOEXEC | (seals >= 0 ? MFD_ALLOW_SEALING : 0u));

    T_ASSERT(fd >= 0);
    T_EQ_INT(ftruncate(fd, SIZE), 0);
    if (seals > 0)
        T_EQ_INT(fcntl(fd, F_ADD_SEALS, seals), 0);
    return fd;
}

static void attach_refuses_unsealed_windows(void)
{
    char path[] = "/tmp/dmacoh-memfd-XXXXXX";
    struct dmacoh_memfd *m = NULL;
    int fd;

    fd = make_memfd(-1); /* created without MFD_ALLOW_SEALING */
    T_ERR(dmacoh_memfd_attach(fd, BUS, SIZE, &m), DMACOH_EINVAL);
    T_ASSERT(t_log_find("not sealed against shrinking"));
    close(fd);
    fd = make_memfd(F_SEAL_GROW); /* sealable, but not against shrinking */
    t_log_reset();
    T_ERR(dmacoh_memfd_attach(fd, BUS, SIZE, &m), DMACOH_EINVAL);
    T_ASSERT(t_log_find("F_SEAL_SHRINK missing"));
    T_EQ_INT(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0); /* now it is */
    T_OK(dmacoh_memfd_attach(fd, BUS, SIZE, &m));
    T_OK(dmacoh_memfd_close(m));
    close(fd);
    fd = mkstemp(path); /* a plain file cannot be sealed at all */
    T_ASSERT(fd >= 0);
    unlink(path);
    T_EQ_INT(ftruncate(fd, SIZE), 0);
    m = NULL;
    t_log_reset();
    T_ERR(dmacoh_memfd_attach(fd, BUS, SIZE, &m), DMACOH_EINVAL);
    T_ASSERT(t_log_find("not a memfd"));
    T_EQ_PTR(m, NULL);
    close(fd);
}

/* vm.max_map_count, or 0. */
static unsigned long map_limit(void)
{
    unsigned long v = 0;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");

    if (f) {
        if (fscanf(f, "%lu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

/* A process that holds vm.max_map_count mappings gets ENOMEM for the next one; a declare then
 * fails, and the log says it is the limit on mappings, not memory. Mappings are made by
 * giving every other page of one reservation another protection, which splits it. */
static void declare_at_the_map_count_limit_says_so(void)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned long limit = map_limit(), i;
    struct dmacoh_memfd *m;
    struct dmacoh_device dev;
    char *res;
    int r, err = 0;

    if (getenv("DMACOH_TEST_EMULATOR"))
        t_skip("under user-mode emulation the emulator's own mappings count against the limit "
               "but are not in /proc/self/maps");
#ifdef HAVE_MEMCHECK
    if (RUNNING_ON_VALGRIND)
        t_skip("valgrind keeps a smaller table of mappings of its own");
#endif
#ifdef UNDER_TSAN
    t_skip("ThreadSanitizer needs new mappings of its own at the limit");
#endif
    if (limit == 0 || limit > (1ul << 18))
        t_skip("vm.max_map_count unreadable, or too large to reach quickly");
    T_OK(dmacoh_memfd_create(BUS, SIZE, &m));
    T_OK(dmacoh_device_init(&dev, "many", NULL, dmacoh_memfd_platform(m)));
    res = mmap(NULL, 2 * (limit + 16) * (size_t)page, PROT_NONE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    T_ASSERT(res != MAP_FAILED);
    for (i = 0; i < limit + 16; i++) {
        if (mprotect(res + 2 * i * (size_t)page, (size_t)page, PROT_READ) != 0) {
            err = errno;
            break;
        }
    }
    t_log_reset();
    r = dmacoh_declare_coherent_memory(&dev, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, NULL);
    munmap(res, 2 * (limit + 16) * (size_t)page); /* before any assertion can end the test */
    T_EQ_INT(err, ENOMEM);
    T_ERR(r, DMACOH_ENOMEM);
    T_ASSERT(t_log_find("vm.max_map_count"));
    T_ASSERT(t_log_find("not for lack of memory"));
    T_OK(dmacoh_declare_coherent_memory(&dev, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_memfd_close(m));
}

static void refusals(void)
{
    struct dmacoh_memfd *m = NULL, *w;
    struct dmacoh_device dev;
    int pipefd[2];

    T_ERR(dmacoh_memfd_create(BUS, 0, &m), DMACOH_EINVAL);
    T_ERR(dmacoh_memfd_create(BUS + 1, SIZE, &m), DMACOH_EINVAL);
    T_ERR(dmacoh_memfd_create(~0ull & ~0xfffull, SIZE, &m), DMACOH_ERANGE);
    T_ERR(dmacoh_memfd_attach(-1, BUS, SIZE, &m), DMACOH_EINVAL);
    T_EQ_INT(pipe(pipefd), 0);
    T_ERR(dmacoh_memfd_attach(pipefd[0], BUS, SIZE, &m), DMACOH_EINVAL); /* not a file */
    close(pipefd[0]);
    close(pipefd[1]);
    T_EQ_PTR(m, NULL);
    T_OK(dmacoh_memfd_create(BUS, SIZE, &w));
    T_ERR(dmacoh_memfd_attach(dmacoh_memfd_fd(w), BUS, 2 * SIZE, &m), DMACOH_EINVAL); /* short */
    T_OK(dmacoh_device_init(&dev, "d", NULL, dmacoh_memfd_platform(w)));
    T_ERR(
        dmacoh_declare_coherent_memory(&dev, BUS + SIZE, 0, 0x1000, DMACOH_MEMORY_MAP, NULL, NULL),
        DMACOH_ENXIO);
    T_ASSERT(t_log_find("outside the window"));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_memfd_close(w));
}

static const struct t_case cases[] = {
    T_CASE(second_process_sees_the_same_memory),
    T_CASE(peer_cannot_resize_the_window),
    T_CASE(attach_refuses_unsealed_windows),
    T_CASE(declare_at_the_map_count_limit_says_so),
    T_CASE(refusals),
};

T_MAIN(cases)
