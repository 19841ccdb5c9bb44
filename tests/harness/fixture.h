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

/** Declares with MAP, for cases built on MAP pointers to device memory. MAP of device memory
 * is granted on x86 only (dmacoh__linux_device_mode in src/platform/linux/internal.h; other
 * CPUs get IO): there the declare must be refused with -DMACOH_ENOTSUP, `cleanup` (may be
 * NULL) removes the case's fake tree, and the case ends as skipped. */
void t_declare_map(struct dmacoh_device *dev, dmacoh_phys_addr_t bus, dmacoh_dma_addr_t at,
                   uint64_t size, int flags, const struct dmacoh_declare_opts *o, int *granted,
                   void (*cleanup)(void));

#endif /* DMACOH_FIXTURE_H */
