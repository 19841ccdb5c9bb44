/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/alloc.h - allocating and freeing coherent memory.
 */
#ifndef DMACOH_ALLOC_H
#define DMACOH_ALLOC_H

#include <dmacoh/types.h>
#include <dmacoh/errno.h>
#include <dmacoh/device.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Allocates coherent memory for dev. Mirrors the kernel's dma_alloc_coherent() with declared
 * memory (kernel/dma/coherent.c), and returns the reason when it fails.
 *
 * The regions used are one list (dmacoh/region.h): dev's own, in the order declared; else,
 * when dev has none, those of the nearest ancestor with a region declared with
 * DMACOH_MEMORY_INCLUDES_CHILDREN (at any depth; ancestors with no such region are passed
 * over), its regions declared with that flag in their order; else, when no ancestor has one,
 * the platform's default pool (dmacoh_declare_default_memory), unless it lies wholly above
 * dev's DMA mask (then it is skipped as if not declared). Each region of the list is tried in
 * turn (only its part below dev's DMA mask). When none can satisfy the request and no region
 * of the list is EXCLUSIVE and DMACOH_ALLOC_NOFALLBACK is not given, system memory of the
 * platform is used. With DMACOH_ALLOC_WAIT (and no fallback) every region is tried first,
 * then the call waits for room in the first region of the list.
 * DEVIATION(kernel): the kernel has one region per device (dev->dma_mem) and never reaches an
 * ancestor's; a list serves the drivers that today make a child device per region.
 *
 * @param[in]  size       bytes, rounded up to whole granules; must not be 0
 * @param[in]  flags      DMACOH_ALLOC_* bits
 * @param[in]  timeout_ns with DMACOH_ALLOC_WAIT: how long to wait for room; else ignored
 * @param[out] cpu        CPU pointer (MAP region or system memory) or accessor cookie (IO)
 * @param[out] handle     the device address (DMA handle)
 * Errors (*cpu and *handle are untouched on failure; dev's failure counter counts it):
 *  - -DMACOH_EINVAL: dev not initialised, size 0, unknown flags, cpu or handle NULL.
 *  - -DMACOH_ENOMEM: no room in an exclusive region (or NOFALLBACK), or no system memory.
 *  - -DMACOH_ETIMEDOUT: DMACOH_ALLOC_WAIT and no room appeared in time.
 *  - -DMACOH_ENOTSUP: DMACOH_ALLOC_WAIT on a platform that cannot sleep.
 *  - -DMACOH_EOVERFLOW: size above 2^62 bytes.
 *  - platform errors of system memory (-DMACOH_ERANGE when nothing lies below the DMA mask).
 * Guarantees:
 *  - The handle is aligned to the smallest power-of-two number of granules >= size, as an
 *    absolute device address (a buffer of <= 64 KiB never crosses a 64 KiB boundary), or to
 *    the region's align_cap if it declared a smaller one, and the
 *    CPU pointer of a MAP region has the same alignment. System memory: the same promise for
 *    the handle and the CPU pointer as far as the platform keeps it (the simulator and the
 *    bare-metal platform keep both).
 *  - The memory is zeroed (memset_io on IO regions) unless DMACOH_ALLOC_NOZERO.
 *  - Allocations of one size from one region come at ascending addresses while nothing has
 *    been freed since the region was declared or last held no allocation; in a region
 *    declared with DMACOH_PLACE_FIRST_FIT, between any two frees (region.h), as long as a fit
 *    exists above the earlier block among the runs first fit looks at. Exception: a
 *    best-fit region that several threads used at once keeps freed small blocks in
 *    per-thread caches and hands them back last in, first out (docs/design.md).
 *  - A best-fit region fails a request only when no free run of pow2ceil(n + align - 1)
 *    granules exists (n granules asked, align the alignment) and the probed runs of the two
 *    smaller size classes hold no fit (docs/design.md); where dev's DMA mask ends inside the
 *    region, only the lowest runs of each class are looked at. First fit fails only when no
 *    fit exists among the lowest 32 misaligned runs of each size class that may not fit and
 *    the lowest run of each class that surely does (docs/design.md, "Order").
 * Complexity: O(log n) in the region's granules, plus zeroing, in every placement mode.
 *  - handle + size - 1 <= dev's DMA mask.
 * Debug mode (dmacoh/debug.h): the allocation is recorded with the caller's address; a device
 * retired by dmacoh_device_fini() is reported as such (still -DMACOH_EINVAL).
 * Context: thread-safe; many threads may allocate and free at once. Does not block unless
 * DMACOH_ALLOC_WAIT is given or the platform's system memory allocation blocks.
 */
int dmacoh_alloc_coherent(struct dmacoh_device *dev, size_t size, unsigned flags,
                          uint64_t timeout_ns, void **cpu, dmacoh_dma_addr_t *handle);

/**
 * Allocates from one region of dev's own list only, the one named `region` ("" names the
 * unnamed region that dmacoh_declare_coherent_memory() declares), as dmacoh_alloc_coherent()
 * does from a region: the same flags, guarantees and debug-mode records, but never another
 * region and never system memory (DMACOH_ALLOC_NOFALLBACK is implied; DMACOH_ALLOC_WAIT waits
 * for room in that region). Free with dmacoh_free_coherent().
 * Errors: those of dmacoh_alloc_coherent(), and -DMACOH_EINVAL when region is NULL,
 * -DMACOH_ENOENT when dev has no region of that name (ancestors' and the default pool are not
 * looked at), -DMACOH_ENOMEM when the region has no room (below dev's DMA mask). Each with a
 * log line naming the region; dev's failure counter counts them.
 * Context: as dmacoh_alloc_coherent(); O(regions of dev) to find the name.
 */
int dmacoh_alloc_coherent_from(struct dmacoh_device *dev, const char *region, size_t size,
                               unsigned flags, uint64_t timeout_ns, void **cpu,
                               dmacoh_dma_addr_t *handle);

/**
 * Frees what dmacoh_alloc_coherent() returned, to wherever it came from. size and handle must
 * be those of the allocation (size compared in whole granules for region memory). The region
 * is the one of dev's list, its serving ancestor's or the default pool that holds cpu (at most
 * 2 * DMACOH_REGIONS_MAX + 1 looked at); a handle of another region never matches.
 * Errors (nothing changes on any of them, in every build, and a log line says what was wrong):
 *  - -DMACOH_EINVAL: dev not initialised, cpu NULL, size 0, or size or handle does not match
 *    the allocation at cpu.
 *  - -DMACOH_EFAULT: cpu is not the start of a live allocation (double free, a pointer never
 *    allocated, a pointer into the middle of an allocation, memory of a released region).
 *  - -DMACOH_EPERM: cpu is the start of an occupied range (those stay until release).
 * In the debug mode (dmacoh/debug.h), also -DMACOH_EINVAL when size differs from the size
 * allocated at all (not only in granules) or dev is not the device it was allocated for;
 * each error is then logged with the allocation's and the caller's sites, and freed memory
 * is poisoned.
 * Context: thread-safe; does not block (other than briefly on the region lock).
 */
int dmacoh_free_coherent(struct dmacoh_device *dev, size_t size, void *cpu,
                         dmacoh_dma_addr_t handle);

/**
 * Where memory at cpu came from, as seen by dev: DMACOH_ORIGIN_REGION for any byte of the
 * regions that may serve dev (its list, its serving ancestor's, the default pool), DMACOH_ORIGIN_SYSTEM for live system memory the platform can
 * translate, DMACOH_ORIGIN_NONE otherwise. Context: any thread.
 */
enum dmacoh_origin dmacoh_origin_of(const struct dmacoh_device *dev, const void *cpu);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_ALLOC_H */
