/* SPDX-License-Identifier: MIT */
/*
 * test_track.c - with the build option DMACOH_TRACK (under ASan), ASan knows where blocks
 * inside a region begin and end: a write to freed region memory, or one past the end of a
 * block into free granules, stops the program. Each case runs in a child process that must
 * die; a control child that stays inside its block must live. Skipped in other builds.
 * Under valgrind (make check's memcheck step), memcheck is told the same bounds: its view of
 * a block's addressability is asked with VALGRIND_GET_VBITS, which reports without erring.
 */
#include "t.h"

#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUS  0xd0000000u
#define SIZE (64u * 1024u)

enum what { INSIDE, AFTER_FREE, PAST_END, NEVER_ALLOCATED };

/* In a child: declares, allocates one page, then writes where `w` says. */
static void child(enum what w)
{
    struct dmacoh_sim *sim = NULL;
    struct dmacoh_sim_memory m = {BUS, SIZE, DMACOH_MEMORY_MAP, false, 0};
    struct dmacoh_device dev;
    volatile char *c;
    void *p;
    dmacoh_dma_addr_t h;

    if (dmacoh_sim_create(NULL, &sim) || dmacoh_sim_add_memory(sim, &m) ||
        dmacoh_device_init(&dev, "dev", NULL, dmacoh_sim_platform(sim)) ||
        dmacoh_declare_coherent_memory(&dev, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, NULL) ||
        dmacoh_alloc_coherent(&dev, 4096, 0, 0, &p, &h))
        _exit(3);
    c = (volatile char *)p;
    c[4095] = 1;
    if (w == AFTER_FREE) {
        if (dmacoh_free_coherent(&dev, 4096, p, h))
            _exit(3);
        c[100] = 1;
    } else if (w == PAST_END) {
        c[4096] = 1;
    } else if (w == NEVER_ALLOCATED) {
        c[SIZE - 1] = 1;
    }
    _exit(0);
}

static int run(enum what w)
{
    int status = 0;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0)
        child(w);
    T_EQ_INT(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* In every build: a write inside a block is fine. */
static void writes_inside_a_block_are_fine(void)
{
    T_EQ_INT(run(INSIDE), 0);
}

static void asan_sees_blocks_inside_a_region(void)
{
#if defined(DMACOH_TRACK_ASAN) && DMACOH_TRACK_ASAN
    T_ASSERT(run(AFTER_FREE) != 0 && run(AFTER_FREE) != 3);
    T_ASSERT(run(PAST_END) != 0 && run(PAST_END) != 3);
    T_ASSERT(run(NEVER_ALLOCATED) != 0 && run(NEVER_ALLOCATED) != 3);
#else
    T_SKIP("built without DMACOH_TRACK (an ASan build option)");
#endif
}

/* Under valgrind: a block handed out is addressable, a freed block and never-allocated
 * granules are not (GET_VBITS returns 3 for an unaddressable range, 1 when it read them). */
static void valgrind_sees_blocks_inside_a_region(void)
{
#if defined(HAVE_MEMCHECK) && !(defined(DMACOH_TRACK_ASAN) && DMACOH_TRACK_ASAN)
    struct dmacoh_sim *sim = NULL;
    struct dmacoh_sim_memory m = {BUS, SIZE, DMACOH_MEMORY_MAP, false, 0};
    struct dmacoh_device dev;
    unsigned char vbits[64];
    char *c;
    void *p;
    dmacoh_dma_addr_t h;

    if (!RUNNING_ON_VALGRIND)
        T_SKIP("not running under valgrind (make check's memcheck step runs it)");
    T_OK(dmacoh_sim_create(NULL, &sim));
    T_OK(dmacoh_sim_add_memory(sim, &m));
    T_OK(dmacoh_device_init(&dev, "dev", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_declare_coherent_memory(&dev, BUS, 0, SIZE, DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &p, &h));
    c = p;
    T_EQ_INT(VALGRIND_GET_VBITS(c + 4032, vbits, 64), 1);      /* inside the block */
    T_EQ_INT(VALGRIND_GET_VBITS(c + 4096, vbits, 64), 3);      /* the free granule after it */
    T_EQ_INT(VALGRIND_GET_VBITS(c + SIZE - 64, vbits, 64), 3); /* never allocated */
    T_OK(dmacoh_free_coherent(&dev, 4096, p, h));
    T_EQ_INT(VALGRIND_GET_VBITS(c + 100, vbits, 64), 3); /* freed */
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
#else
    T_SKIP("valgrind's memcheck.h is not installed, or this is the ASan tracking build");
#endif
}

static const struct t_case cases[] = {
    T_CASE(writes_inside_a_block_are_fine),
    T_CASE(asan_sees_blocks_inside_a_region),
    T_CASE(valgrind_sees_blocks_inside_a_region),
};

T_MAIN(cases)
