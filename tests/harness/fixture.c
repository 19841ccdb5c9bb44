/* SPDX-License-Identifier: MIT */
/*
 * fixture.c - the shared test helpers of fixture.h.
 */
#include "fixture.h"

#include "t.h"

#include <string.h>

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
