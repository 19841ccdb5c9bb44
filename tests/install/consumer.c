/* SPDX-License-Identifier: MIT */
/*
 * consumer.c - a program built against an installed dmacoh, once through pkg-config and once
 * through CMake's find_package(dmacoh): proves the installed headers, libraries, dmacoh.pc
 * and package config are usable on their own. It declares, allocates, frees and releases.
 */
#include <dmacoh/dma-mapping.h>
#include <dmacoh/sim.h>

#include <stdio.h>

int main(void)
{
    struct dmacoh_sim_memory m = {0xfe000000u, 1u << 20, DMACOH_MEMORY_MAP, false, 0};
    struct dmacoh_sim *sim;
    struct device dev;
    dma_addr_t h;
    void *p;

    if (dmacoh_version() != DMACOH_VERSION || dmacoh_sim_create(NULL, &sim) ||
        dmacoh_sim_add_memory(sim, &m) ||
        dmacoh_device_init(&dev.dmacoh, "consumer", NULL, dmacoh_sim_platform(sim)))
        return 1;
    if (dma_declare_coherent_memory(&dev, m.bus, 0, m.size, DMA_MEMORY_MAP) != DMA_MEMORY_MAP)
        return 2;
    p = dma_alloc_coherent(&dev, 4096, &h, GFP_KERNEL);
    if (!p || h != 0)
        return 3;
    dma_free_coherent(&dev, 4096, p, h);
    dma_release_declared_memory(&dev);
    if (dmacoh_device_fini(&dev.dmacoh) || dmacoh_sim_destroy(sim))
        return 4;
    printf("consumer: dmacoh %u works from its installed files\n", dmacoh_version());
    return 0;
}
