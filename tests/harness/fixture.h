/* SPDX-License-Identifier: MIT */
/*
 * fixture.h - helpers the unit tests share: simulated memories, region statistics, the
 * alignment arithmetic the tests check the library against. Each asserts through t.h, so a
 * failed set-up ends the test with file and line.
 */
#ifndef DMACOH_FIXTURE_H
#define DMACOH_FIXTURE_H

#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

/** Places a memory in the simulator (io_width 8). */
void t_add_memory(struct dmacoh_sim *sim, uint64_t bus, uint64_t size, int modes, bool shared);

/** The statistics of dev's own region (the test fails if it has none). */
struct dmacoh_region_stats t_region_stats(const struct dmacoh_device *dev);

/** Smallest power of two >= x (x >= 1), computed the plain way, independent of the library. */
uint64_t t_pow2_ceil(uint64_t x);

/** Writes `text` to the file at path (created or truncated): fake sysfs attributes. */
void t_put_file(const char *path, const char *text);

/** Creates (or truncates) the file at path as `size` bytes of hole: a stand-in for a device
 * node or BAR whose bytes a test reads back after the library wrote them. */
void t_sparse_file(const char *path, uint64_t size);

/** Declares device memory (a BAR, UIO map, /dev/mem range) with MAP and IO both allowed,
 * and checks that the mode granted is the one this CPU gets for device memory: MAP on x86,
 * IO elsewhere (dmacoh__linux_device_mode in src/platform/linux/internal.h). A case that
 * writes its blocks with dmacoh_memcpy_toio then runs on every CPU. Returns the mode. */
int t_declare_device_memory(struct dmacoh_device *dev, dmacoh_phys_addr_t bus, dmacoh_dma_addr_t at,
                            uint64_t size, int flags, const struct dmacoh_declare_opts *o);

#endif /* DMACOH_FIXTURE_H */
