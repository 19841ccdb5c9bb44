/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/pool.h - small coherent blocks: the kernel's dma_pool on top of dmacoh memory.
 *
 * A pool carves fixed-size blocks out of chunks it gets with dmacoh_alloc_coherent(), so the
 * blocks come from the device's declared region, its ancestor's (INCLUDES_CHILDREN), or system
 * memory, exactly as for any allocation (docs/design.md, rules 4 to 7). Every block has a CPU
 * pointer (a cookie on IO regions) and a DMA handle.
 *
 * Design. All bookkeeping is out of band (device memory may be IO-only or written by DMA):
 * each chunk has a header in metadata memory holding a two-level bitmap of its free blocks,
 * so alloc takes the lowest free block of a chunk with room (two count-trailing-zeros, O(1)),
 * and a fresh chunk hands out its blocks in ascending address order. Chunks are aligned to a
 * power of two at least their size (the allocation promise of dmacoh_alloc_coherent), so free
 * finds a block's chunk from the DMA handle alone, through a hash table of chunk handles (O(1)
 * expected, no search of the chunk list as the kernel does).
 *
 * Packing. Blocks never cross a chunk's end, so the default chunk is the smallest power of two
 * from max(PAGE_SIZE, stride) up to 256 KiB whose blocks fill at least 96 % of it (1536-byte
 * blocks: 32 KiB, 21 blocks), and when the region has no room for one, the largest smaller
 * power of two it has room for (down to max(PAGE_SIZE, stride)). A pool over a 256 KiB region
 * so holds at least 95 % of the blocks that fit by bytes, for every block size from 16 B to
 * 64 KiB, unless align or boundary forbids it. The free bitmap doubles as the
 * check: a double free, a pointer that is not a block start or a handle that does not match is
 * refused in every build.
 *
 * Threads: a pool is split into up to four shards, each with its own lock and chunks; a thread
 * allocates from the chunks of its home shard (the platform's thread_slot); when they are
 * full it takes a block from another shard's chunks before asking for a new chunk, so memory
 * is not spread thin over threads (device memory is scarce). Frees go to the shard that owns
 * the chunk. Empty chunks are kept to avoid thrashing: by default one per shard (so at most
 * four), so that threads emptying and refilling chunks in their own shards never pass chunks
 * to each other through the region; with `keep_empty` set, that many for the whole pool.
 * Further empty chunks go back to the region.
 *
 * Magazines (on platforms with thread_id; by default not for a pool over an exclusive region,
 * see thread_cache): each thread keeps up to 8
 * freed blocks of its own in a magazine that only it touches, and its next allocations take
 * them back last in, first out, with no lock. A free into the magazine takes no lock either
 * when the block is in the chunk the thread last freed into: its checks are the checked
 * path's (a handle that is no block start, a pointer that does not match its handle), and the
 * block's state byte goes from "handed out" to "free" by one compare-and-swap, which is where
 * a second free of the block fails, whether it comes later or at the same instant from
 * another thread. That swap is the one locked instruction of an alloc+free pair. A block
 * whose chunk would be left empty but for this thread's magazine is not kept: it goes back to
 * the chunk with the thread's other blocks of that chunk, so a pool used by one thread
 * returns empty chunks to the region exactly as without magazines.
 * Before an allocation fails: the failing thread's magazine is empty (allocations take from
 * it first), and the failure asks every other thread's magazine back; each thread gives its
 * blocks back at its next call on the pool, before anything else. So a block can be held
 * back from other threads only by a thread that makes no further call: at most 8 per thread,
 * until it calls again or the pool is destroyed; a thread that exits hands its id, and with
 * it its magazines, to the next thread that starts. That is why a pool over an exclusive
 * region (nothing else serves it when the region is full) has no magazines unless asked.
 *
 * Release under a pool. The RFC's dma_release_declared_memory() is unconditional, and the
 * range may be declared again at once (by another device, or this one). Each chunk remembers
 * the id of the region it came from (ids are never reused, unlike the address of a region's
 * state) and the device that declared it; every release moves a process-wide epoch, and the
 * next call on the pool (alloc, free, stats, destroy; one load when nothing was released)
 * retires every chunk whose region is gone, with a warning: none of its blocks is handed out
 * again, its memory is never freed, zeroed or poisoned by the pool (it is the new declarer's
 * now), and new chunks come from wherever dmacoh_alloc_coherent() serves the device now (its
 * new region, an ancestor's, system memory), or the allocation fails with a log line. Blocks
 * outstanding in a retired chunk became invalid at the release: their frees are refused with
 * -DMACOH_EFAULT and a log line naming the release, and destroy does not count them as
 * outstanding. Caveat: a handle from before the release that is also the handle of a block
 * of a chunk taken since cannot be told from it.
 */
#ifndef DMACOH_POOL_H
#define DMACOH_POOL_H

#include <dmacoh/types.h>
#include <dmacoh/errno.h>
#include <dmacoh/device.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque pool. */
struct dmacoh_pool;

/** Options of dmacoh_pool_create(); a NULL pointer means all defaults. */
struct dmacoh_pool_opts {
    /** Bytes per chunk asked of dmacoh_alloc_coherent: 0 = the size that packs (above: the
     * smallest power of two from max(PAGE_SIZE, block stride) up to 256 KiB that the blocks
     * fill to 96 %, smaller ones where the region has no room). A size given here is used
     * for every chunk, as the kernel's page-sized chunks; smaller chunks suit fine-grained
     * regions of a few KiB. Rounded up to a power of two; at most 4096 blocks per chunk. */
    size_t chunk_size;
    /** Fill freed blocks with DMACOH_POOL_POISON and check the pattern when a block is handed
     * out again; a mismatch is logged with the block and its last owner's handle. */
    bool poison;
    /** Empty chunks kept for reuse instead of being freed, for the whole pool; 0 means the
     * default, one per shard (one for a pool used by one thread); DMACOH_POOL_KEEP_NONE frees
     * every chunk as soon as it is empty. */
    unsigned keep_empty;
    /** Per-thread magazines (above, "Magazines"): DMACOH_POOL_CACHE_AUTO (0) turns them on
     * unless the region serving the device when the pool is created was declared
     * DMACOH_MEMORY_EXCLUSIVE (there every block may count, and nothing else can serve the
     * pool when a region is full); DMACOH_POOL_CACHE_ON and DMACOH_POOL_CACHE_OFF decide. Off,
     * every freed block goes straight back to its chunk and no block is ever held back from
     * another thread. */
    unsigned thread_cache;
};

/** dmacoh_pool_opts.thread_cache. */
enum dmacoh_pool_cache {
    DMACOH_POOL_CACHE_AUTO = 0, /**< on, unless the pool's region is exclusive */
    DMACOH_POOL_CACHE_ON = 1,
    DMACOH_POOL_CACHE_OFF = 2,
};

/** dmacoh_pool_opts.keep_empty: keep no empty chunk. */
#define DMACOH_POOL_KEEP_NONE (~0u)

/** The byte freed blocks are filled with when poisoning (the kernel's POOL_POISON_FREED). */
#define DMACOH_POOL_POISON 0xa7

/** Flags of dmacoh_pool_alloc(). */
enum dmacoh_pool_alloc_flags {
    DMACOH_POOL_ZERO = 0x01, /**< zero the block (dma_pool_zalloc) */
};

/**
 * Creates a pool of blocks of `size` bytes for dev. Mirrors the kernel's dma_pool_create().
 *
 * @param[in] name      for logs; must outlive the pool
 * @param[in] size      block size in bytes, >= 1 (rounded up to a multiple of align, and of
 *                      8 bytes)
 * @param[in] align     block alignment: a power of two, or 0 for 8; blocks are aligned to it
 *                      as DMA handles and (MAP memory) as CPU pointers
 * @param[in] boundary  0, or a power of two >= size: no block crosses a multiple of it
 *                      (device address)
 * Errors: -DMACOH_EINVAL (out, dev or name invalid; align or boundary not a power of two;
 * boundary < size; chunk_size too small for one block or above 2 GiB; thread_cache not one
 * of DMACOH_POOL_CACHE_*), -DMACOH_ENOMEM (no
 * metadata memory),
 * -DMACOH_EOVERFLOW (size too large).
 * Context: thread-safe with respect to other pools; may allocate metadata. No chunk is
 * allocated until the first block is.
 */
int dmacoh_pool_create(struct dmacoh_pool **out, const char *name, struct dmacoh_device *dev,
                       size_t size, size_t align, size_t boundary,
                       const struct dmacoh_pool_opts *opts);

/**
 * Takes a block. On success *cpu is its CPU pointer (or IO cookie) and *handle its DMA handle.
 * Errors: -DMACOH_EINVAL (pool, cpu or handle NULL; unknown flags), -DMACOH_ENOMEM or any error
 * of dmacoh_alloc_coherent() when a new chunk is needed and cannot be had (logged).
 * Never a block of a chunk whose region was released under the pool (see above).
 * Guarantees: aligned as created; never crosses `boundary`; zeroed with DMACOH_POOL_ZERO
 * (memset_io on IO memory); blocks of a fresh chunk come in ascending address order.
 * A failure asks the other threads' magazines back (above, "Magazines").
 * Context: thread-safe; O(1) unless a new chunk must be allocated (then as
 * dmacoh_alloc_coherent, once per chunk size tried: at most the log2 of chunk_size / PAGE_SIZE
 * more when the region has no room for a chunk of chunk_size). Never sleeps.
 */
int dmacoh_pool_alloc(struct dmacoh_pool *pool, unsigned flags, void **cpu,
                      dmacoh_dma_addr_t *handle);

/**
 * Returns a block. Errors (nothing changes, a log line says why, in every build):
 * -DMACOH_EINVAL (pool or cpu NULL, or cpu does not match handle), -DMACOH_EFAULT (handle is
 * not the start of a block of this pool, or the block is already free, or it is a block of a
 * chunk whose region was released under the pool: the log line says so).
 * Context: thread-safe; O(1): no lookup when the block is in the chunk the thread last freed
 * into, else one hash probe per chunk size the pool holds (one with a chunk_size option, else
 * at most 1 + log2(256 KiB / PAGE_SIZE), 7 with 4 KiB pages); may free a chunk back to its
 * region.
 */
int dmacoh_pool_free(struct dmacoh_pool *pool, void *cpu, dmacoh_dma_addr_t handle);

/** Flags of dmacoh_pool_destroy(). */
enum dmacoh_pool_destroy_flags {
    /** Destroy even with blocks outstanding (the kernel's behaviour: they are reported, and
     * their chunks are freed; the blocks become invalid). */
    DMACOH_POOL_DESTROY_FORCE = 0x01,
};

/**
 * Destroys a pool and frees its chunks. Without DMACOH_POOL_DESTROY_FORCE it refuses with
 * -DMACOH_EBUSY while blocks are outstanding, logging each chunk that still has some (blocks in
 * magazines are not outstanding: they are taken back first). Chunks
 * of a region released under the pool are not freed (their memory is no longer the pool's)
 * and their blocks do not count as outstanding; their headers are freed.
 * NULL is accepted and does nothing (returns 0). Errors: -DMACOH_EINVAL (not a pool, unknown
 * flags), -DMACOH_EBUSY. Context: not concurrently with other calls on the same pool.
 */
int dmacoh_pool_destroy(struct dmacoh_pool *pool, unsigned flags);

/** A snapshot of a pool. */
struct dmacoh_pool_stats {
    size_t block_size; /**< bytes per block as asked */
    size_t stride;     /**< bytes between block starts */
    size_t chunk_size; /**< bytes per chunk (chunks at a region's end may be smaller) */
    size_t per_chunk;  /**< blocks per chunk of chunk_size bytes */
    uint64_t chunks;   /**< chunks held now */
    uint64_t in_use;   /**< blocks outstanding */
    /** Most blocks ever outstanding, summed over the per-thread shards: exact when one thread
     * uses the pool and has no magazine, an upper bound otherwise (blocks waiting in
     * magazines count as outstanding here). */
    uint64_t peak;
    uint64_t allocs;        /**< blocks handed out, ever */
    uint64_t frees;         /**< blocks returned, ever */
    uint64_t failures;      /**< allocations that failed */
    uint64_t poison_errors; /**< freed blocks found modified when handed out again */
    uint64_t cached;        /**< freed blocks held in per-thread magazines (not in in_use) */
};

/** Fills *st. Errors: -DMACOH_EINVAL. Context: thread-safe. */
int dmacoh_pool_get_stats(const struct dmacoh_pool *pool, struct dmacoh_pool_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_POOL_H */
