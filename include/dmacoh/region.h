/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/region.h - declaring and releasing a device's region of coherent memory, reserving
 * fixed ranges in it, translating addresses, statistics and the invariant checker.
 *
 * A region is one window of device memory: bus base (where the CPU finds it), device base
 * (what the device is programmed with), size, granule (the allocation unit, PAGE_SIZE unless
 * asked otherwise), flags, the platform's mapping and the allocator state. The allocator state
 * lives outside the device memory (that memory may be IO-only, uncached, or written by DMA
 * at any time): in caller storage or platform metadata memory.
 */
#ifndef DMACOH_REGION_H
#define DMACOH_REGION_H

#include <dmacoh/types.h>
#include <dmacoh/errno.h>
#include <dmacoh/config.h>
#include <dmacoh/device.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Options of dmacoh_declare_coherent_memory(); a NULL pointer means all defaults. */
struct dmacoh_declare_opts {
    uint64_t
        granule; /**< allocation unit: a power of two, DMACOH_GRANULE_MIN..MAX; 0 = PAGE_SIZE */
    void *meta;  /**< caller storage for the allocator state, or NULL to ask the platform */
    size_t meta_size;  /**< bytes at meta; at least dmacoh_region_meta_size() */
    unsigned io_width; /**< cap on the access width of block IO copies (1/2/4/8); 0 = platform's */
    /**
     * 0 keeps the full alignment promise (DMA handle aligned to the smallest power-of-two
     * number of granules >= size). Otherwise a power of two >= the granule: allocations are
     * aligned to at most this many bytes. DEVIATION(kernel): an opt-in cap like the one Linux
     * applies on its CMA path (CONFIG_CMA_ALIGNMENT); large buffers then fit in regions that long
     * churn has fragmented, where 8 MiB-aligned 8 MiB holes are rare.
     */
    uint64_t align_cap;
    /** DMACOH_PLACE_BEST_FIT (0, default) or DMACOH_PLACE_FIRST_FIT. */
    unsigned placement;
};

/**
 * Placement policies (dmacoh_declare_opts.placement). Both keep every allocation aligned; they
 * differ in which free run a request is carved from.
 *  - BEST_FIT: the shortest free run that holds the request (a bounded number looked at per
 *    size class), O(log n). Keeps more of a long-lived region usable (91 % against 82 % at the
 *    first failure of docs/performance.md's mixed trace). Allocations of one size come out at
 *    ascending addresses while nothing has been freed since the region was declared or last
 *    held no allocation (first fit applies then); after a free they need not. Regions used by
 *    several threads at once also cache freed small blocks per thread (docs/design.md).
 *  - FIRST_FIT: the lowest-addressed fit, as the kernel: allocations of one size ascend
 *    between any two frees. O(log n): at most 32 misaligned free runs per size class are
 *    looked at below the answer, so with more than that the fit found is the lowest among
 *    those looked at, and later requests of the same alignment stay above it until a free
 *    (docs/design.md, "Order"). Exception: when nothing fits above that point (the region
 *    is full there, or a device's DMA mask ends below it), the request takes a fit below
 *    rather than fail, and may then land below an earlier block of its size. Never caches
 *    per thread.
 */
enum { DMACOH_PLACE_BEST_FIT = 0, DMACOH_PLACE_FIRST_FIT = 1 };

/**
 * Bytes of allocator state a region of `size` bytes with the given granule needs (for
 * dmacoh_declare_opts.meta). 0 if the arguments are invalid or the result would overflow.
 * Context: any thread, pure. Complexity: O(1).
 */
size_t dmacoh_region_meta_size(uint64_t size, uint64_t granule);

/**
 * Declares [bus_addr, bus_addr + size) as dev's coherent memory, reached by the device at
 * device_addr. Mirrors the RFC's dma_declare_coherent_memory(), with errors and options.
 *
 * @param[in]  flags    DMACOH_MEMORY_MAP and/or _IO (at least one), optionally
 *                      _INCLUDES_CHILDREN and _EXCLUSIVE. No other bits.
 * @param[in]  opts     granule, caller metadata storage, IO width cap; NULL for defaults
 * @param[out] granted  DMACOH_MEMORY_MAP or DMACOH_MEMORY_IO: what the platform gave (always
 *                      one that was asked; MAP when both were asked and it can). May be NULL.
 * Errors (nothing changes on any of them, and a log line says which):
 *  - -DMACOH_EINVAL: dev not initialised; flags without MAP/IO or with unknown bits; size 0 or
 *    not a multiple of the granule; bus_addr or device_addr not granule-aligned; granule not a
 *    power of two in range; io_width not 0/1/2/4/8; meta_size too small.
 *  - -DMACOH_ERANGE: bus or device range wraps past 2^64, or the device range exceeds the
 *    device's DMA mask.
 *  - -DMACOH_EBUSY: dev already has a region (the first stays intact), or the bus range overlaps
 *    a region of another device on the same platform (unless the platform says the memory is
 *    shared and the declaration is identical: same bus base, size, device base and granule;
 *    the devices then share one allocator). In the debug mode (dmacoh/debug.h), also when
 *    the mapping's CPU range overlaps another region's (on any platform) or live system
 *    memory. In every build, on the Linux platforms that map physical memory (PCI sysfs,
 *    UIO, /dev/mem, device DAX, VFIO BARs), also when another platform instance of the
 *    process has declared any byte of the same physical range (a second dmacoh_pci_open of
 *    the function, UIO or /dev/mem over the same BAR), or another process on the machine
 *    holds any byte of it in the machine-wide registry (DMACOH_REGISTRY, default
 *    /run/dmacoh/registry; docs/design.md): the log names the holder (for a process, its pid,
 *    command and range). A dead process holds nothing.
 *  - -DMACOH_ENOMEM: no metadata memory, or 64 regions with an access-width cap (io_width
 *    below 8) are already declared in the process (the cap table of io.h is fixed-size);
 *    -DMACOH_EOVERFLOW: size/granule too large to track.
 *  - From the platform: -DMACOH_ENODEV (declared memory unsupported), -DMACOH_ENXIO (nothing at
 *    that bus range), -DMACOH_ENOTSUP (no requested mode possible), OS errors.
 * Guarantees: the mapping's CPU address is congruent to device_addr modulo the smallest power
 * of two >= size (capped at 1 TiB), so the alignment promise of allocations holds for CPU
 * pointers as well (for allocations up to 1 TiB).
 * Context: not thread-safe with allocation or release on the same device (docs/design.md, rule 10);
 * may block (the platform maps memory) and may allocate metadata.
 */
int dmacoh_declare_coherent_memory(struct dmacoh_device *dev, dmacoh_phys_addr_t bus_addr,
                                   dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                                   const struct dmacoh_declare_opts *opts, int *granted);

/**
 * Appends a named region to dev's list of regions: [bus_addr, bus_addr + size) reached by the
 * device at device_addr, with the flags, options and granted mode of
 * dmacoh_declare_coherent_memory(). The region that function declares is the first of the
 * list and unnamed (""); a device without regions may start its list here too. Allocations
 * through dmacoh_alloc_coherent() try the list in order (alloc.h); dmacoh_alloc_coherent_from()
 * picks one by name; dmacoh_region_get_stats_at() enumerates them.
 * DEVIATION(kernel): the kernel keeps one dev->dma_mem per device. Drivers that need several
 * make a child device per region, or choose among CMA regions by index (Xilinx XRT), or fall
 * back region -> other regions -> default CMA (AMD XDNA); u-dma-buf users make one buffer per
 * DMA controller. Here one device holds up to DMACOH_REGIONS_MAX regions in the order of use.
 * The RFC API (dma-mapping.h) keeps one region per device.
 *
 * @param[in] name  1 to DMACOH_REGION_NAME_MAX - 1 printable characters without spaces,
 *                  unique among dev's regions; copied (the caller's string need not outlive
 *                  the call)
 * Errors: those of dmacoh_declare_coherent_memory(), except that a device with regions is not
 * refused, and:
 *  - -DMACOH_EINVAL: name NULL, empty, too long, or with spaces or control characters.
 *  - -DMACOH_EEXIST: dev already has a region of that name.
 *  - -DMACOH_ERANGE: dev has DMACOH_REGIONS_MAX regions already.
 *  - -DMACOH_EBUSY: the device range meets one of dev's other regions' (device addresses
 *    would no longer tell the regions apart), or the bus range overlaps any declared region,
 *    dev's own included, even a shared one (a range is in a device's list at most once).
 * Nothing changes on any error, and a log line says which.
 * Context: as dmacoh_declare_coherent_memory(); O(regions of dev).
 */
int dmacoh_declare_region(struct dmacoh_device *dev, const char *name, dmacoh_phys_addr_t bus_addr,
                          dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                          const struct dmacoh_declare_opts *opts, int *granted);

/** Flags of dmacoh_release_coherent_memory(). */
enum dmacoh_release_flags {
    /** Release even with allocations outstanding (the RFC's unconditional release). */
    DMACOH_RELEASE_FORCE = 0x01,
};

/**
 * Releases dev's region: unmaps it (unless another device shares it) and frees the allocator
 * state. Without DMACOH_RELEASE_FORCE it refuses with -DMACOH_EBUSY while allocations from
 * it are outstanding (occupied ranges do not count; for a shared region, any sharer's
 * allocations count, as they are not told apart); with it, dev's outstanding allocations
 * become invalid and a warning names the count (a shared region stays with its other sharers,
 * and so do the granules of those allocations until the last sharer releases). Afterwards the
 * device may declare again.
 * Errors: -DMACOH_EINVAL (dev not initialised, unknown flags), -DMACOH_ENODEV (no region),
 * -DMACOH_EBUSY (see above; nothing changes). In the debug mode (dmacoh/debug.h) the
 * outstanding allocations are listed with their sites (as errors, or as warnings when
 * forced), and a later free of one fails with -DMACOH_EFAULT naming the release.
 * Context: not thread-safe with allocation on the same device or its children; may block.
 */
int dmacoh_release_coherent_memory(struct dmacoh_device *dev, unsigned flags);

/**
 * Releases one region of dev's list, the one named `name` ("" for the unnamed first region),
 * as dmacoh_release_coherent_memory() releases a region (same FORCE semantics). The regions
 * after it move up one place; the others stay declared and in use.
 * dmacoh_release_coherent_memory() itself releases every region of the list: all or none,
 * since it refuses (-DMACOH_EBUSY, nothing released) when any of them has allocations
 * outstanding and FORCE is not given; with one region, as the RFC says.
 * Errors: -DMACOH_EINVAL (dev not initialised, name NULL, unknown flags), -DMACOH_ENODEV (no
 * region at all), -DMACOH_ENOENT (no region of that name; logged), -DMACOH_EBUSY (allocations
 * outstanding, without FORCE; nothing changes). In the debug mode the outstanding allocations
 * are listed with the region's name and their sites.
 * Context: as dmacoh_release_coherent_memory(); O(regions of dev).
 */
int dmacoh_release_region(struct dmacoh_device *dev, const char *name, unsigned flags);

/**
 * Declares the platform's default pool: one region serving every device of p that has no
 * region of its own and no ancestor with an INCLUDES_CHILDREN region, like a devicetree's
 * `linux,dma-default` shared-dma-pool in the kernel. Arguments, options, errors and
 * guarantees as dmacoh_declare_coherent_memory() (the DMA mask checked is the full 64 bits:
 * each device uses only the part of the pool below its own mask, and a device whose mask
 * lies wholly below the pool skips it and goes on to system memory). Flags: EXCLUSIVE keeps
 * the devices the pool serves from system memory when it is full; INCLUDES_CHILDREN is
 * implied. A device with a region of its own, full or not, is never served by the pool (the
 * kernel's rule too: a device's dma_mem takes the place of the default).
 * The pool is held by a device of p named "default pool", initialised here and retired by
 * dmacoh_release_default_memory(); its allocations are the requesting devices'.
 * Errors: also -DMACOH_EINVAL when p is not initialised, -DMACOH_EBUSY when p has a default
 * pool already.
 * Context: not thread-safe with allocation on any device of p; may block.
 */
int dmacoh_declare_default_memory(struct dmacoh_platform *p, dmacoh_phys_addr_t bus_addr,
                                  dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                                  const struct dmacoh_declare_opts *opts, int *granted);

/**
 * Releases p's default pool. Without DMACOH_RELEASE_FORCE, refused with -DMACOH_EBUSY while
 * allocations from it (by any device) are outstanding; with it, they become invalid.
 * Errors: -DMACOH_EINVAL (p not initialised, unknown flags), -DMACOH_ENODEV (no default
 * pool), -DMACOH_EBUSY (see above; nothing changes).
 * Context: not thread-safe with allocation on any device of p; may block.
 */
int dmacoh_release_default_memory(struct dmacoh_platform *p, unsigned flags);

/**
 * Takes [device_addr, device_addr + size) of dev's own region out of the allocator (e.g. a
 * firmware mailbox at a fixed address) and returns its CPU address (pointer or cookie) in
 * *cpu. With several regions (dmacoh_declare_region), the region of dev's list whose device
 * range holds device_addr (the device ranges of a list never meet); never an ancestor's or the
 * default pool. The range is widened to whole granules. It stays reserved until that region
 * is released; freeing it with dmacoh_free_coherent() fails with -DMACOH_EPERM.
 * Errors: -DMACOH_EINVAL (dev not initialised, size 0, cpu NULL), -DMACOH_ENODEV (dev has no
 * region of its own), -DMACOH_ERANGE (any part outside the one region holding device_addr, or
 * device_addr in none of dev's regions, or wraps), -DMACOH_EBUSY (any granule of it already
 * allocated or occupied; nothing changes). Each with a log line.
 * Context: thread-safe with allocation and free. Complexity: O(range) granules.
 */
int dmacoh_mark_declared_memory_occupied(struct dmacoh_device *dev, dmacoh_dma_addr_t device_addr,
                                         uint64_t size, void **cpu);

/** A snapshot of a region's use. Sizes are in bytes. */
struct dmacoh_region_stats {
    dmacoh_phys_addr_t bus_base;   /**< first bus address */
    dmacoh_dma_addr_t device_base; /**< first device address */
    uint64_t size;                 /**< bytes declared */
    uint64_t granule;              /**< allocation unit */
    int flags;                     /**< declare flags with the granted mode */
    int mode;                      /**< DMACOH_MEMORY_MAP or DMACOH_MEMORY_IO */
    unsigned io_width;             /**< widest access block copies issue */
    unsigned sharers;              /**< devices sharing this region's allocator (>= 1) */
    uint64_t in_use;               /**< bytes allocated now (whole granules) */
    uint64_t peak; /**< the most in_use ever was (blocks in per-thread caches count as in use) */
    uint64_t occupied;     /**< bytes reserved by mark_declared_memory_occupied */
    uint64_t largest_free; /**< largest run of free bytes */
    uint64_t live;         /**< allocations outstanding */
    uint64_t allocs;       /**< allocations served from the region, ever */
    uint64_t frees;        /**< frees back to the region, ever */
    /** Requests the region could not satisfy (full, or above the requester's DMA mask).
     * Unlike the failures of dmacoh_device_counters(), this counts requests then served
     * from system memory too. */
    uint64_t failures;
    uint64_t fallbacks; /**< of those failures, served from system memory instead */
};

/**
 * Fills *st for dev's own region: the first of its list only (dmacoh_region_get_stats_at()
 * reads the others). Errors: -DMACOH_EINVAL (dev not initialised, st NULL), -DMACOH_ENODEV
 * (no region). Context: thread-safe with allocation and free; takes the region lock; not with
 * a release on dev. Complexity: O(1), except the first read of largest_free after the longest
 * free run was consumed, which recounts the runs of the top size class (docs/design.md).
 */
int dmacoh_region_get_stats(const struct dmacoh_device *dev, struct dmacoh_region_stats *st);

/**
 * Fills *st for region `index` of dev's list (0 is the first) and sets *name (if name is not
 * NULL) to its name ("" when unnamed), stored in dev: it stays that region's name, whatever
 * other regions of dev are declared or released, until the region itself is released (then it
 * reads ""). Enumerate with index = 0, 1, ... until -DMACOH_ENOENT.
 * Errors: -DMACOH_EINVAL (dev not initialised, st NULL; logged), -DMACOH_ENOENT (no region at
 * that index; not logged). Context: as dmacoh_region_get_stats(): thread-safe with allocation
 * and free, not with declare or release on dev (a release moves the later regions up one
 * index, so an enumeration racing it could pass one over or read a region being torn down).
 */
int dmacoh_region_get_stats_at(const struct dmacoh_device *dev, unsigned index,
                               struct dmacoh_region_stats *st, const char **name);

/**
 * Fills *st for p's default pool (its allocs, frees and failures are all devices' together).
 * Errors: -DMACOH_EINVAL (p not initialised, st NULL), -DMACOH_ENODEV (no default pool).
 * Context: as dmacoh_region_get_stats().
 */
int dmacoh_default_memory_get_stats(const struct dmacoh_platform *p,
                                    struct dmacoh_region_stats *st);

/** What a run of granules reported by dmacoh_region_walk() is. */
enum dmacoh_extent_kind {
    DMACOH_EXTENT_FREE = 0,     /**< free granules */
    DMACOH_EXTENT_ALLOC = 1,    /**< one allocation */
    DMACOH_EXTENT_OCCUPIED = 2, /**< one range reserved by mark_declared_memory_occupied */
};

/** A run of granules of one kind, as dmacoh_region_walk() reports it. */
struct dmacoh_extent {
    uint64_t offset;       /**< byte offset in the region */
    uint64_t size;         /**< bytes */
    dmacoh_dma_addr_t dma; /**< device address of the first byte */
    int kind;              /**< an enum dmacoh_extent_kind */
};

/**
 * Calls fn for every free run, allocation and occupied range of dev's own regions, region by
 * region in the list's order and in address order within each (adjacent allocations are
 * reported one by one; e->offset is in the region that e->dma falls in). Stops early when fn returns non-zero
 * and returns that value. Errors: -DMACOH_EINVAL, -DMACOH_ENODEV.
 * Context: holds the region lock during the walk: fn must not call into the library. O(n).
 */
int dmacoh_region_walk(const struct dmacoh_device *dev,
                       int (*fn)(void *user, const struct dmacoh_extent *e), void *user);

/**
 * Finds the extent of dev's own regions (any of its list) that contains the byte at cpu: the allocation or
 * occupied range it belongs to (from its first granule), or the free run around it.
 * Errors: -DMACOH_EINVAL (dev not initialised, cpu or e NULL), -DMACOH_ENODEV (no region),
 * -DMACOH_ERANGE (cpu is not inside any of them).
 * Context: thread-safe (takes the region lock); O(size of that extent).
 */
int dmacoh_region_find(const struct dmacoh_device *dev, const void *cpu, struct dmacoh_extent *e);

/**
 * Zeroes free memory of dev's own regions (every region of its list) that is not known to be
 * zero, at most max_bytes of it, so that later allocations need not zero it (they skip
 * granules known zero: memory the platform declared zero, or scrubbed here, and not handed
 * out since). Known-zero state is kept per group of four granules: a free makes dirty the
 * groups it touches, the free granules beside the block in them included. Works in steps of
 * at most 256 KiB under each region's lock, from where the previous scrub stopped (inside a
 * group too, unless a free touched that group since; budgets below a granule do nothing), and returns
 * when max_bytes are zeroed or every free granule is clean. *scrubbed (may be NULL) receives
 * the bytes zeroed. Shared regions do not track clean memory and are skipped. Metadata: one
 * bit per four granules.
 * Errors: -DMACOH_EINVAL (dev not initialised), -DMACOH_ENODEV (no region of its own).
 * Context: thread-safe, may run beside allocations (an idle thread's work); never sleeps.
 */
int dmacoh_region_scrub(struct dmacoh_device *dev, uint64_t max_bytes, uint64_t *scrubbed);

/**
 * Checks every invariant of dev's region allocator (counters agree with the state, no
 * continuation granule without an owner, the largest-free figure is right, granules known
 * zero are free and counted) and of the device
 * tree link. True when all hold or dev has no region; false (with a log line) otherwise or if
 * dev is not an initialised device. Context: thread-safe; O(region granules).
 */
bool dmacoh_check(const struct dmacoh_device *dev);

/**
 * Translations. Each accepts any byte of the region that serves dev (its own, or the nearest
 * ancestor's declared with INCLUDES_CHILDREN), then live system memory of the platform (when
 * the platform can translate). They return DMACOH_BAD_DMA_ADDR / NULL when there is no answer.
 * Context: any thread; O(depth of the device tree).
 */
dmacoh_dma_addr_t dmacoh_virt_to_dma(const struct dmacoh_device *dev, const void *cpu);
void *dmacoh_dma_to_virt(const struct dmacoh_device *dev, dmacoh_dma_addr_t dma);
/** Device address to bus address (region memory only). */
dmacoh_phys_addr_t dmacoh_dma_to_bus(const struct dmacoh_device *dev, dmacoh_dma_addr_t dma);
/** Bus address to device address (region memory only). */
dmacoh_dma_addr_t dmacoh_bus_to_dma(const struct dmacoh_device *dev, dmacoh_phys_addr_t bus);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_REGION_H */
