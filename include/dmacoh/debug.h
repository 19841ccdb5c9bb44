/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/debug.h - the DMA-API debug mode: every allocation recorded with its site, misuse
 * reported with the allocation's and the caller's sites, freed memory poisoned.
 *
 * Like Linux's CONFIG_DMA_API_DEBUG (kernel/dma/debug.c), but a run-time switch, and it sees
 * declared memory, which the kernel's does not. Off by default; when off, each public call
 * pays one relaxed load of a global word. On Linux the environment variable DMACOH_DEBUG sets
 * it when the library is loaded: "1" or "all" (every flag), or a comma-separated list of
 * "record", "poison" and "cookies", or a number (the flag bits).
 *
 * With DMACOH_DEBUG_RECORD, dmacoh_alloc_coherent() records (device, size, handle, CPU
 * address, region or system memory, the caller's address) in out-of-line metadata from the
 * platform's meta_alloc, never in the memory itself. Then, besides what every build detects:
 *  - dmacoh_free_coherent() with a size other than the allocation's (even one that rounds to
 *    the same granules), a handle other than its, or a device other than the one it was
 *    allocated for: -DMACOH_EINVAL, nothing freed;
 *  - a double free, a free of memory never allocated, a free after the region was released:
 *    -DMACOH_EFAULT, reported with where it was allocated and where it was freed;
 *  - dmacoh_device_fini() while memory allocated for the device is outstanding: -DMACOH_EBUSY,
 *    each allocation listed with its site; a release refused for outstanding allocations lists
 *    each too (a forced release lists them as warnings, and their frees then fail as above);
 *  - any call on a device retired by dmacoh_device_fini(): -DMACOH_EINVAL, reported as such;
 *  - a declaration whose CPU range overlaps another region's (on any platform in debug mode)
 *    or live system memory: -DMACOH_EBUSY, nothing declared;
 *  - the core handing out an address that is already live: reported as internal corruption.
 * With DMACOH_DEBUG_POISON, region memory freed is filled with DMACOH_DEBUG_POISON_BYTE
 * (through the accessors on IO regions and regions with an access-width cap), system memory
 * too (a block over 1 MiB in its first and last 512 KiB only, where stale writes land, so a
 * huge free stays quick), and region granules are checked when handed out again: a byte that changed is reported
 * with the corrupted range and the allocation that last owned it, and counted. Poisoning
 * covers regions declared while it is on. Memory of the allocations of a dma_pool is the
 * pool's own business (see dmacoh_pool_opts.poison).
 *
 * With DMACOH_DEBUG_IO_COOKIES, a region granted DMACOH_MEMORY_IO hands out cookies that
 * fault when dereferenced: its pointers (dmacoh_alloc_coherent, dmacoh_dma_to_virt, ...) lie
 * in address space the platform reserved with no access at all (platform op reserve; on
 * Linux an mmap with PROT_NONE), congruent to the device addresses as the mapping is, and
 * every accessor of dmacoh/io.h translates them to the mapping. A driver that reads or writes
 * IO memory through a plain pointer gets SIGSEGV (a fault) at its first access, with the
 * cookie as the faulting address, instead of working by accident on this platform and
 * failing on one where IO memory is not plainly addressable. The library's own accesses
 * (zeroing, poisoning) go through the accessors; translations and frees take cookies as
 * they take pointers. Covers regions declared while it is on; a platform without reserve
 * (bare metal) declares without it, with a warning. Regions granted DMACOH_MEMORY_MAP are
 * plain memory and are not affected. Costs one more relaxed load per accessor while no
 * region has cookies, a search of the IO registry (up to 64 slots) per access while one has.
 *
 * Reports go to the log callback (dmacoh_set_log_fn) at DMACOH_LOG_ERROR, sites as addresses,
 * symbolized when a symbolizer is installed (the Linux build installs one based on dladdr()).
 * Memory that was allocated before debug mode came on has no record: its frees are checked
 * only as in every build. When metadata memory runs out, recording stops for the
 * allocations that do not fit (counted in `lost`) and no report is made about them.
 */
#ifndef DMACOH_DEBUG_H
#define DMACOH_DEBUG_H

#include <dmacoh/types.h>
#include <dmacoh/errno.h>
#include <dmacoh/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Flags of dmacoh_debug_set(). */
enum dmacoh_debug_flags {
    DMACOH_DEBUG_RECORD = 0x01,     /**< record allocations; check frees, releases and finis */
    DMACOH_DEBUG_POISON = 0x02,     /**< poison freed memory, check region memory on reuse */
    DMACOH_DEBUG_IO_COOKIES = 0x04, /**< IO-region pointers fault unless used by accessors */
    DMACOH_DEBUG_ALL = 0x07,        /**< all of the above */
};

/** The byte freed memory is filled with (the kernel's POISON_FREE). */
#define DMACOH_DEBUG_POISON_BYTE 0x6b

/**
 * Turns debug mode on (flags) or off (0) for the whole library. Turning it off forgets the
 * records; memory allocated while it was off is not known when it comes on again.
 * Errors: -DMACOH_EINVAL (unknown flags; nothing changes). Every flag implies
 * DMACOH_DEBUG_RECORD (a free must be known good before memory is overwritten, and the
 * record names the allocation a faulting cookie belongs to, see dmacoh_debug_dump()).
 * Context: like dmacoh_set_log_fn(), call it before other threads use the library, or while
 * none does; never allocates.
 */
int dmacoh_debug_set(unsigned flags);

/** The flags in force. Context: any thread. */
unsigned dmacoh_debug_get(void);

/**
 * Installs fn to turn a code address into text for reports (e.g. "driver_probe+0x2c
 * (libfoo.so)"); fn writes at most len bytes with the terminating NUL into buf and returns
 * buf, or NULL when it knows nothing (the address is then printed alone). NULL removes it.
 * Context: as dmacoh_debug_set(); fn is called with library locks held and must not call
 * into the library.
 */
void dmacoh_debug_set_symbolizer(const char *(*fn)(const void *addr, char *buf, size_t len));

/** One outstanding allocation, as dmacoh_debug_dump() reports it. */
struct dmacoh_debug_record {
    const struct dmacoh_device *dev; /**< the device it was allocated for */
    const void *cpu;                 /**< CPU pointer or IO cookie */
    dmacoh_dma_addr_t handle;        /**< DMA handle */
    uint64_t size;                   /**< bytes asked for */
    const void *site;                /**< the caller of dmacoh_alloc_coherent() */
    bool region;                     /**< from a declared region (else system memory) */
};

/**
 * Calls fn for every outstanding allocation recorded on platform p (in no particular order),
 * or, with fn NULL, logs each at DMACOH_LOG_INFO with its site. Stops when fn returns
 * non-zero. Returns the number of outstanding allocations visited, or -DMACOH_EINVAL (p not
 * an initialised platform). 0 when debug mode is off or nothing is recorded.
 * Context: holds p's debug lock: fn must not call into the library. O(records).
 */
int dmacoh_debug_dump(const struct dmacoh_platform *p,
                      int (*fn)(void *user, const struct dmacoh_debug_record *rec), void *user);

/**
 * Hosted builds only (src/platform/linux): installs the dladdr() symbolizer and applies the
 * environment variable DMACOH_DEBUG ("1" or "all", a comma-separated list of "record",
 * "poison" and "cookies", or the flag bits as a number); unset or empty changes nothing but
 * the symbolizer. The library calls it when it is loaded, shared or statically linked (an
 * unknown value is then logged as an error); a program need not. The variable is read with
 * secure_getenv(): a set-user-ID or set-group-ID program ignores it, so that its caller
 * cannot turn on poisoning or faulting IO cookies in it.
 * Errors: -DMACOH_EINVAL (a value it does not understand; nothing changes).
 * Context: as dmacoh_debug_set().
 */
int dmacoh_debug_from_env(void);

/** Counters of the debug mode, over all platforms, since the library was loaded. */
struct dmacoh_debug_stats {
    uint64_t reports;       /**< misuse reports made (each also a returned error) */
    uint64_t poison_errors; /**< freed granules found modified when handed out again */
    uint64_t lost;          /**< allocations not recorded for want of metadata memory */
};

/** Fills *st. Errors: -DMACOH_EINVAL (st NULL). Context: any thread. */
int dmacoh_debug_get_stats(struct dmacoh_debug_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_DEBUG_H */
