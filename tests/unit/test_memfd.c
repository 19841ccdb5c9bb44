/* SPDX-License-Identifier: MIT */
/*
 * test_memfd.c - the memfd platform: a driver allocates in a window of memfd-backed device
 * memory, a second process (a device model, here a forked child) attaches to the descriptor
 * and sees and answers through the same bus addresses; refusals.
 */
#include "t.h"

#include <dmacoh/dmacoh.h>
#include <dmacoh/memfd.h>

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
    T_CASE(refusals),
};

T_MAIN(cases)
