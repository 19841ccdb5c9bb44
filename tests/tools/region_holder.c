/* SPDX-License-Identifier: MIT */
/*
 * region_holder.c - a process holding what `dmacoh status` and `dmacoh show` look at, for
 * tests/tools/regions.sh: a shared region on the simulator, made the same way every run (so its
 * picture is a golden file), with a dead owner's quarantined blocks, a freed hole and an
 * occupied range, and one allocation served from system memory (a fallback); and, when asked, two ranges in the machine-wide registry (one exclusive,
 * one shared), entered through the library's own registry code.
 *
 * usage: region_holder NAME [registry|badname]   (DMACOH_SHM_DIR and DMACOH_REGISTRY say where)
 * badname: the process's command (comm) is made of bytes that are not UTF-8, control
 * characters and markup, for the tests that JSON and SVG stay valid whatever it holds.
 * Prints "ready" when all is in place, then holds it until its standard input ends.
 */
#include <dmacoh/dmacoh.h>
#include <dmacoh/shared.h>
#include <dmacoh/sim.h>

#include "platform/linux/internal.h" /* dmacoh__linux_registry_enter */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUS  0xc0000000ull
#define SIZE (256u * 1024u)

static void die(const char *what, int r)
{
    fprintf(stderr, "region_holder: %s: %s\n", what, dmacoh_strerror(r));
    exit(1);
}

int main(int argc, char **argv)
{
    struct dmacoh_sim_memory mem = {BUS, SIZE, DMACOH_MEMORY_MAP, false, 0};
    struct dmacoh_share_opts share;
    struct dmacoh_sim *sim;
    struct dmacoh_device dev;
    dmacoh_dma_addr_t h[4];
    void *cpu[4];
    pid_t child;
    int r, granted, st;
    char buf[64];

    if (argc < 2)
        return 2;
    if (argc > 2 && !strcmp(argv[2], "badname"))
        (void)prctl(PR_SET_NAME, "rh\xff\x01<&\"\xc3x", 0, 0, 0);
    r = dmacoh_sim_create(NULL, &sim);
    if (r)
        die("sim", r);
    r = dmacoh_sim_add_memory(sim, &mem);
    if (r)
        die("sim memory", r);
    r = dmacoh_device_init(&dev, "holder", NULL, dmacoh_sim_platform(sim));
    if (r)
        die("device", r);
    memset(&share, 0, sizeof(share));
    share.name = argv[1];
    share.flags = DMACOH_SHARE_CREATE;
    share.max_procs = 8;
    r = dmacoh_declare_shared_memory(&dev, BUS, BUS, SIZE, DMACOH_MEMORY_MAP, NULL, &share,
                                     &granted);
    if (r)
        die("declare", r);
    /* This process: 16 KiB, 4 KiB (freed below: a hole), 32 KiB. */
    for (int i = 0; i < 3; i++) {
        static const size_t sz[] = {16384, 4096, 32768};

        r = dmacoh_alloc_coherent(&dev, sz[i], 0, 0, &cpu[i], &h[i]);
        if (r)
            die("alloc", r);
    }
    r = dmacoh_free_coherent(&dev, 4096, cpu[1], h[1]);
    if (r)
        die("free", r);
    /* A child takes an owner entry of its own, allocates 8 KiB and 12 KiB, and dies holding
     * them: they are quarantined. */
    child = fork();
    if (child == 0) {
        if (dmacoh_alloc_coherent(&dev, 8192, 0, 0, &cpu[3], &h[3]) ||
            dmacoh_alloc_coherent(&dev, 12288, 0, 0, &cpu[3], &h[3]))
            _exit(1);
        _exit(0);
    }
    if (child < 0 || waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
        die("child", DMACOH_EIO);
    /* More than the region holds: served from system memory, a fallback. */
    r = dmacoh_alloc_coherent(&dev, 512u * 1024u, 0, 0, &cpu[1], &h[1]);
    if (r)
        die("fallback", r);
    /* The last 8 KiB occupied. */
    r = dmacoh_mark_declared_memory_occupied(&dev, BUS + SIZE - 8192, 8192, &cpu[3]);
    if (r)
        die("occupied", r);
    if (argc > 2 && !strcmp(argv[2], "registry")) {
        struct dmacoh__registry_mark m1, m2;
        struct dmacoh__registry_entry who;

        if (dmacoh__linux_registry_enter(0xfe000000ull, 0xfe0fffffull, false, &m1, &who) ||
            !m1.gen || dmacoh__linux_registry_enter(BUS, BUS + SIZE - 1, true, &m2, &who) ||
            !m2.gen)
            die("registry", DMACOH_EIO);
    }
    printf("ready\n");
    fflush(stdout);
    while (fgets(buf, sizeof(buf), stdin))
        ;
    return 0;
}
