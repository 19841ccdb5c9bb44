/* SPDX-License-Identifier: MIT */
/*
 * fixture.c - the shared test helpers of fixture.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ftruncate under -std=c11 */
#endif
#define _FILE_OFFSET_BITS 64 /* sparse files past 2 GiB on 32-bit hosts too */
#include "fixture.h"

#include "t.h"
#include "platform/linux/internal.h" /* dmacoh__linux_device_mode */

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void t_add_memory(struct dmacoh_sim *sim, uint64_t bus, uint64_t size, int modes, bool shared)
{
    struct dmacoh_sim_memory m;

    memset(&m, 0, sizeof(m));
    m.bus = bus;
    m.size = size;
    m.modes = modes;
    m.shared = shared;
    T_OK(dmacoh_sim_add_memory(sim, &m));
}

struct dmacoh_region_stats t_region_stats(const struct dmacoh_device *dev)
{
    struct dmacoh_region_stats st;

    memset(&st, 0, sizeof(st));
    T_OK(dmacoh_region_get_stats(dev, &st));
    return st;
}

uint64_t t_pow2_ceil(uint64_t x)
{
    uint64_t p = 1;

    while (p < x)
        p <<= 1;
    return p;
}

void t_put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    T_ASSERT(f != NULL);
    fputs(text, f);
    T_EQ_INT(fclose(f), 0);
}

void t_sparse_file(const char *path, uint64_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

    T_ASSERT(fd >= 0);
    T_EQ_INT(ftruncate(fd, (off_t)size), 0);
    close(fd);
}

int t_declare_device_memory(struct dmacoh_device *dev, dmacoh_phys_addr_t bus, dmacoh_dma_addr_t at,
                            uint64_t size, int flags, const struct dmacoh_declare_opts *o)
{
    int granted = 0;

    flags |= DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO;
    T_OK(dmacoh_declare_coherent_memory(dev, bus, at, size, flags, o, &granted));
    T_EQ_INT(granted, dmacoh__linux_device_mode(DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO));
    return granted;
}
