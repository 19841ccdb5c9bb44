/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/baremetal.h - the bare-metal platform (src/platform/none): for firmware and RTOS
 * targets where declared memory is already addressable and there is no OS to ask.
 *
 * The CPU reaches bus address b at b + cpu_offset (0 on most SoCs, where the CPU's physical
 * address is the bus address). There is no heap. Metadata comes from a caller-supplied arena
 * (a static array), handed out by the library's own allocator in 16-byte granules; without
 * an arena, each declare must bring its metadata (dmacoh_declare_opts.meta, sized with
 * dmacoh_region_meta_size()) and dma_pool is unavailable. Optionally a window of system RAM
 * (e.g. a linker section) serves fallback allocations, with identity DMA handles. No
 * sleeping: DMACOH_ALLOC_WAIT fails with -DMACOH_ENOTSUP. Locks spin (single-core firmware
 * calling from one context never spins).
 */
#ifndef DMACOH_BAREMETAL_H
#define DMACOH_BAREMETAL_H

#include <dmacoh/dmacoh.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Configuration of the bare-metal platform. */
struct dmacoh_baremetal_config {
    uint64_t cpu_offset;        /**< CPU address = bus address + cpu_offset (mod 2^64) */
    int modes;                  /**< DMACOH_MEMORY_MAP and/or _IO that may be granted */
    unsigned io_width;          /**< widest access device memory takes (1/2/4/8), 0 = 8 */
    dmacoh_phys_addr_t ram_bus; /**< bus address of the fallback RAM window (0 size = none) */
    uint64_t ram_size;          /**< bytes, a multiple of DMACOH_PAGE_SIZE; 0 = no fallback */
    void *ram_meta;             /**< metadata for the RAM window: dmacoh_region_meta_size() bytes */
    size_t ram_meta_size;       /**< bytes at ram_meta */
    void *meta_arena;           /**< 8-aligned memory for metadata (declares, pools), or NULL */
    size_t meta_arena_size;     /**< bytes at meta_arena; its own bookkeeping takes ~1/64 */
};

/** The platform's state: caller-owned storage, fields private. */
struct dmacoh_baremetal {
    struct dmacoh_platform plat; /**< what devices are initialised with */
    struct dmacoh_window ram;    /**< private: fallback RAM */
    struct dmacoh_window meta;   /**< private: metadata arena */
    struct dmacoh_baremetal_config cfg;
};

/**
 * Sets up the platform. Errors: -DMACOH_EINVAL (NULL arguments, modes without MAP/IO, bad
 * io_width, RAM window misaligned, or its metadata missing or too small, arena too small),
 * -DMACOH_ENOTSUP (RAM's CPU address not congruent to its bus address modulo its size).
 * Context: once, before use; never allocates.
 */
int dmacoh_baremetal_init(struct dmacoh_baremetal *bm, const struct dmacoh_baremetal_config *cfg);

/** Tears it down. Errors: -DMACOH_EBUSY while regions are declared on it, devices on it are
 * not retired, or fallback memory is outstanding. */
int dmacoh_baremetal_fini(struct dmacoh_baremetal *bm);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_BAREMETAL_H */
