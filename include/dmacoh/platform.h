/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/platform.h - the plug-in contract: what a platform does for the core.
 *
 * The RFC's "platform magic" lives behind struct dmacoh_platform_ops: making a bus range
 * visible to the CPU (map/unmap), system memory with real DMA addresses for fallback, metadata
 * memory for the allocator, and (optionally) sleeping. The core never learns whether memory
 * came through sysfs, UIO, VFIO or a simulator.
 *
 * Rules that hold for every op (mimalloc's prim.h shape):
 *  - The core passes non-NULL pointers, sizes that are non-zero multiples of the region granule
 *    (map) or of the requested alignment's granule (sys_alloc), and ranges that do not wrap.
 *  - An op returns 0 or a negative DMACOH_E* code; it converts errno at once (-errno).
 *  - An op never calls back into the core's allocation functions, and may be called with a
 *    region lock held (map/unmap are not; sys_alloc/sys_free are called without core locks).
 *  - Ops must be thread-safe: sys_alloc/sys_free/wait/wake run on many threads at once.
 *  - Optional ops may be NULL; the core then behaves as documented next to each.
 */
#ifndef DMACOH_PLATFORM_H
#define DMACOH_PLATFORM_H

#include <dmacoh/types.h>
#include <dmacoh/errno.h>
#include <dmacoh/device.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmacoh_device;
struct dmacoh__pool;
struct dmacoh__dbg_state;

/** What map() made of a bus range. Filled by the platform. */
struct dmacoh_mapping {
    void *cpu;         /**< CPU address (MAP) or accessor cookie (IO) of the range's first byte */
    int mode;          /**< DMACOH_MEMORY_MAP or DMACOH_MEMORY_IO: what was granted */
    bool shared;       /**< several devices may declare this same range (one allocator) */
    unsigned io_width; /**< widest access the memory takes, 1/2/4/8 bytes; 0 means 8 */
    void *priv;        /**< the platform's own, for unmap */
    /** Plain process memory (a memfd or anonymous mapping): a sanitizer may be told where
     * blocks in it begin and end (build option DMACOH_TRACK). Leave false for device
     * memory and for addresses the process does not map itself. Preset to false. */
    bool ram;
    /** Every byte of the range reads zero now (a fresh memfd, hugetlbfs or anonymous
     * mapping): the first allocations need not zero it. Leave false when unsure, and for
     * memory a device or an earlier user may have written. Preset to false. */
    bool zeroed;
};

/**
 * Where a block's bytes lie in an open file, so that another process can map them
 * (dmacoh_block_file, platform op file_of): map `delta + size` bytes, rounded up to a
 * multiple of `align`, of file `fd` from file offset `offset`, at a virtual address that is a
 * multiple of `align`; the block's first byte is then `delta` bytes into that mapping.
 */
struct dmacoh_file_range {
    int fd; /**< an open descriptor of the file (read-write) */
    /** true: opened for this call, the caller closes it; false: the platform's own, open
     * while the region stays declared, never to be closed by the caller */
    bool close_fd;
    uint64_t offset; /**< file offset where the mapping begins: a multiple of align */
    uint64_t delta;  /**< bytes from there to the block's first byte */
    uint64_t align;  /**< unit of offset, length and address: a power of two >= the page size */
    int mode;        /**< the region's granted mode, DMACOH_MEMORY_MAP or _IO (set by the core) */
};

/**
 * A bit of map()'s `want`, beside DMACOH_MEMORY_MAP/_IO: the range is being declared as a
 * shared region (dmacoh/shared.h), which other processes map as well, each through its own
 * platform. A platform that claims physical ranges machine-wide claims this one shared: other
 * processes' shared claims of the same range coexist with it, exclusive claims do not.
 */
#define DMACOH_MAP_MULTIPROCESS 0x100

/** Who a process is, in a form that survives pid reuse (dmacoh/shared.h). */
struct dmacoh_proc_id {
    uint64_t pid;   /**< its process id, as the platform numbers it; never 0 */
    uint64_t start; /**< when it started, in the platform's units (Linux: clock ticks after boot) */
    uint64_t
        ns; /**< the namespace its pid is numbered in (Linux: pid namespace inode); 0 unknown */
};

/** A shared region's state object, as the platform's shm_list reports it (dmacoh_shared_list). */
struct dmacoh_shared_entry {
    const char *name; /**< the region's name, as dmacoh_declare_shared_memory takes it */
    uint64_t uid;     /**< the user owning the object (Linux: the file's uid) */
    uint64_t gid;     /**< its group (Linux: the file's gid) */
    uint64_t bytes;   /**< size of the object */
    unsigned mode;    /**< its permission bits (Linux: st_mode & 0777) */
};

/** Thread ids a platform's thread_id() hands out, at most. */
#define DMACOH_THREAD_IDS 64

struct dmacoh_platform_ops {
    const char *name; /**< short name for logs ("sim", "pci", ...) */

    /**
     * Makes [bus, bus + size) visible to the CPU. `want` holds MAP, IO or both; the platform
     * grants one of them (MAP preferred when both are asked and it can) and sets out->mode.
     * `congruence` is a power of two: the returned address must satisfy
     * (cpu - device_addr) % congruence == 0 so that aligned device addresses have equally
     * aligned CPU addresses; a platform that cannot honour it fails with -DMACOH_ENOTSUP.
     * Errors: -DMACOH_ENODEV (declared memory not supported at all), -DMACOH_ENXIO (no memory
     * at that bus range), -DMACOH_ENOTSUP (none of the wanted modes), -DMACOH_EBUSY (the
     * memory is in use elsewhere: the Linux platforms refuse a physical range that another
     * platform instance of the process has mapped, or that another process holds in the
     * machine-wide registry), OS errors.
     * Required.
     */
    int (*map)(void *ctx, dmacoh_phys_addr_t bus, uint64_t size, dmacoh_dma_addr_t device_addr,
               uint64_t congruence, int want, struct dmacoh_mapping *out);

    /** Undoes map(). Never fails. Required. */
    void (*unmap)(void *ctx, struct dmacoh_mapping *m, uint64_t size);

    /**
     * Allocates `size` bytes of system memory for DMA by `dev`: physically contiguous as the
     * device sees it, the DMA handle aligned to `align` (a power of two), below dev's DMA mask
     * (dmacoh_device_dma_mask). Does not need to zero. Errors: -DMACOH_ENOMEM, -DMACOH_ERANGE
     * (nothing below the mask), -DMACOH_ENOTSUP (no system memory for DMA). Optional: NULL
     * means no fallback exists (allocations that need it fail with -DMACOH_ENOMEM).
     */
    int (*sys_alloc)(void *ctx, const struct dmacoh_device *dev, uint64_t size, uint64_t align,
                     void **cpu, dmacoh_dma_addr_t *handle);

    /**
     * Frees what sys_alloc returned. Must detect, and refuse with -DMACOH_EFAULT (unknown
     * pointer, double free) or -DMACOH_EINVAL (size or handle do not match), any call that
     * does not match a live allocation; nothing is changed then. Required with sys_alloc.
     */
    int (*sys_free)(void *ctx, const struct dmacoh_device *dev, void *cpu, uint64_t size,
                    dmacoh_dma_addr_t handle);

    /**
     * Translates a CPU address inside live system memory to its DMA address, or returns
     * DMACOH_BAD_DMA_ADDR. Optional.
     */
    dmacoh_dma_addr_t (*sys_virt_to_dma)(void *ctx, const struct dmacoh_device *dev,
                                         const void *cpu);

    /** The inverse of sys_virt_to_dma; NULL when not live system memory. Optional. */
    void *(*sys_dma_to_virt)(void *ctx, const struct dmacoh_device *dev, dmacoh_dma_addr_t dma);

    /**
     * Memory for allocator state (never inside device memory). Returns NULL when out of
     * memory. Optional: NULL means only declares that pass caller storage succeed.
     */
    void *(*meta_alloc)(void *ctx, size_t size);
    void (*meta_free)(void *ctx, void *p, size_t size); /**< Required with meta_alloc. */

    /**
     * Sleeps while *word == expected, at most timeout_ns; returns 0 on a wake or a changed
     * word (spurious returns are allowed), -DMACOH_ETIMEDOUT when the time passed. Optional:
     * without it DMACOH_ALLOC_WAIT fails with -DMACOH_ENOTSUP.
     */
    int (*wait)(void *ctx, const uint32_t *word, uint32_t expected, uint64_t timeout_ns);
    void (*wake)(void *ctx, uint32_t *word); /**< Wakes all waiters on word. Required with wait. */
    uint64_t (*now_ns)(void *ctx);           /**< Monotonic time. Required with wait. */

    /** Called while spinning for a lock (e.g. sched_yield). Optional. */
    void (*relax)(void *ctx);

    /**
     * A small number identifying the calling thread, stable for its life and different for
     * threads that run at the same time as far as possible (e.g. handed out round-robin at a
     * thread's first call). The core spreads threads over independently locked shards with
     * it. Must be cheap (a thread-local read). Optional: NULL puts every thread on one shard.
     */
    unsigned (*thread_slot)(void *ctx);

    /**
     * An id in [0, DMACOH_THREAD_IDS) that no other live thread of the process holds, the same
     * on every call of one thread; -1 when every id is held (that thread then goes without).
     * Ids of threads that have exited are handed to new threads. With it, a dma_pool keeps a
     * few freed blocks per thread that the thread alone touches, without a lock (pool.h).
     * Must be cheap (a thread-local read after the first call) and must never be called
     * where two callers could share an id (a signal handler or an interrupt that may run
     * inside a pool call of the same thread). Optional: NULL turns the per-thread caches off.
     */
    int (*thread_id)(void *ctx);

    /**
     * Reserves `size` bytes of address space (a multiple of the region granule) on which
     * every load and store faults, at an address congruent to device_addr modulo
     * `congruence` as for map(): the IO cookies of a region declared in debug mode with
     * DMACOH_DEBUG_IO_COOKIES lie in it (dmacoh/debug.h), so a driver that dereferences one
     * instead of using the accessors is stopped at its first access. Never backed by memory.
     * Each range must be disjoint from every other live reservation and mapping of the
     * process (the core refuses one that overlaps a registered range, and then declares the
     * region without cookies). `size` need not be whole pages: reserve the pages around it
     * and return the address at the right offset in the first. Errors: -DMACOH_ENOMEM (no address space), -DMACOH_ENOTSUP (congruence not possible),
     * OS errors; the region is then declared without cookie enforcement (a warning is
     * logged). Called with the platform lock held. Optional: NULL means the platform cannot
     * make faulting addresses (no MMU, or none under its control), and IO cookies are the
     * mapping's addresses.
     */
    int (*reserve)(void *ctx, uint64_t size, dmacoh_dma_addr_t device_addr, uint64_t congruence,
                   void **out);
    /** Returns what reserve() gave. Never fails. Required with reserve. */
    void (*unreserve)(void *ctx, void *addr, uint64_t size);

    /**
     * Shared regions (dmacoh/shared.h). All of the ops below are optional as a set: without
     * them dmacoh_declare_shared_memory() fails with -DMACOH_ENOTSUP.
     *
     * The five come together, and need now_ns (an attach waits for a creator); for
     * DMACOH_ALLOC_WAIT across processes, wait and wake must work on words that other
     * processes map.
     *
     * shm_open maps the shared-state object `name` (the caller checked it: 1 to 64 of
     * [A-Za-z0-9._-], not starting with a dot) read-write. With `create` it makes a new one
     * of `size` bytes, zero-filled, and fails with -DMACOH_EEXIST if one exists; without, it
     * opens an existing one and fails with -DMACOH_ENOENT if none does; then `size` 0 waits
     * up to 1 s for a creator that has not sized its new object yet, and 1 does not wait
     * (-DMACOH_EIO at once: a look from outside). *out receives its
     * address (aligned to 64) and *actual its size in bytes (which may differ from `size` when
     * opening). Errors also: -DMACOH_EACCES (also when the object belongs to another user,
     * or others may write it), -DMACOH_EIO (an object its creator never sized),
     * -DMACOH_ENOMEM, OS errors; each logged.
     */
    int (*shm_open)(void *ctx, const char *name, uint64_t size, bool create, void **out,
                    uint64_t *actual);
    /** Unmaps what shm_open mapped. Never fails. */
    void (*shm_close)(void *ctx, void *addr, uint64_t size);
    /** Removes the name (mappings stay valid): 0, -DMACOH_ENOENT, OS errors. */
    int (*shm_unlink)(void *ctx, const char *name);
    /** The calling process's identity (cheap: it is asked at every lock, to notice a forked
     * child). 0 or a negative code. */
    int (*proc_self)(void *ctx, struct dmacoh_proc_id *id);
    /** 1 when the process is alive (the same pid and start; start 0: any process with that
     * pid), 0 when it is not. Never 0 for a live process: one the platform cannot see (another
     * pid namespace) is alive. The core's lock takes over from a holder found dead, so a wrong
     * 0 would let two processes update a region at once. */
    int (*proc_alive)(void *ctx, const struct dmacoh_proc_id *id);

    /**
     * Exporting a block (dmacoh/export.h): which open file holds bus range [bus, bus + size)
     * of mapping m (one this platform's map() made, and which holds the range), and how another
     * process maps it from that file. Fills out->fd, out->close_fd, out->offset, out->delta
     * and out->align as struct dmacoh_file_range documents; out->mode is the core's.
     * Errors: -DMACOH_ENOTSUP (the memory has no file that may be handed to another process),
     * -DMACOH_ENXIO (the range is not one the platform mapped), OS errors of opening the file;
     * each logged. Called with the region lock held: it must not block for long (opening a
     * sysfs file is fine). Optional: NULL means no block of the platform can be exported
     * (-DMACOH_ENOTSUP).
     */
    int (*file_of)(void *ctx, const struct dmacoh_mapping *m, dmacoh_phys_addr_t bus, uint64_t size,
                   struct dmacoh_file_range *out);

    /**
     * The shared-state objects the platform holds (dmacoh_shared_list): calls fn for each, in
     * no particular order, with only names shm_open would take (1 to 64 of [A-Za-z0-9._-], not
     * starting with a dot); stops when fn returns non-zero and returns that value. e and its
     * name live for the call only. Errors: OS errors of reading where the objects are (none
     * there yet is 0 with no call). Optional with the shm ops: NULL means the platform cannot
     * enumerate them (-DMACOH_ENOTSUP).
     */
    int (*shm_list)(void *ctx, int (*fn)(void *user, const struct dmacoh_shared_entry *e),
                    void *user);
};

/**
 * A platform instance: the ops, their context, and the core's list of declared ranges on it
 * (used to refuse overlapping declarations). Caller-owned storage;
 * the fields after `ctx` are the core's and must not be touched.
 */
struct dmacoh_platform {
    const struct dmacoh_platform_ops *ops; /**< the plug-in */
    void *ctx;                             /**< passed to every op */
    struct dmacoh__pool *pools;            /**< core: declared pools on this platform */
    uint32_t lock;                         /**< core: protects `pools` and `devices` */
    uint32_t ndevices;                     /**< core: initialised devices on this platform */
    uint32_t magic;                        /**< core: set by init, cleared by fini */
    struct dmacoh__dbg_state *dbg;         /**< core: debug-mode records (dmacoh/debug.h) */
    struct dmacoh_device *devices;         /**< core: its initialised devices (under `lock`) */
    /** core: holder of the default pool (dmacoh_declare_default_memory); initialised only
     * while the pool is declared, and then on the device list like any device. */
    struct dmacoh_device defdev;
};

/**
 * Prepares a platform instance. Errors: -DMACOH_EINVAL if p or ops is NULL, or ops lacks
 * map/unmap, has sys_alloc without sys_free, meta_alloc without meta_free, wait without
 * wake/now_ns, or reserve without unreserve. Context: not thread-safe with respect to other calls on the same p.
 */
int dmacoh_platform_init(struct dmacoh_platform *p, const struct dmacoh_platform_ops *ops,
                         void *ctx);

/**
 * Retires a platform instance. Errors: -DMACOH_EINVAL (not initialised), -DMACOH_EBUSY (a
 * region is still declared on it, the default pool included (release it first with
 * dmacoh_release_default_memory), or a device initialised on it has not been retired with
 * dmacoh_device_fini; nothing changes, a log line says which). Context: as
 * dmacoh_platform_init.
 */
int dmacoh_platform_fini(struct dmacoh_platform *p);

/**
 * A window of memory the CPU already addresses (system RAM for fallback, a metadata arena),
 * handed out by the core's own allocator: a platform builds sys_alloc/sys_free or
 * meta_alloc/meta_free on it and gets the alignment promise and checked frees of declared
 * memory. DMA handles are identity: device address == bus address. Caller-owned storage;
 * fields private.
 */
struct dmacoh_window {
    struct dmacoh_platform plat; /**< private platform that maps the window */
    struct dmacoh_device dev;    /**< private device that owns it */
    char *cpu;                   /**< CPU address of the first byte */
    dmacoh_phys_addr_t bus;      /**< bus (and device) address of the first byte */
};

/**
 * Sets up a window of `size` bytes at CPU address cpu and bus address bus, allocated in
 * granules of `granule` bytes (0: DMACOH_PAGE_SIZE). cpu must be congruent to bus modulo the
 * smallest power of two >= size (so CPU pointers keep the handles' alignment). The allocator
 * state goes in `meta` (dmacoh_region_meta_size(size, granule) bytes, 8-aligned); with
 * meta == NULL it is carved from the start of the window itself, which then serves less
 * (only for windows of plain memory no device writes, such as a metadata arena).
 * Errors: -DMACOH_EINVAL (NULL w or cpu, bad sizes or alignment, meta too small, window too
 * small to hold its own state), -DMACOH_ENOTSUP (cpu not congruent to bus).
 * Context: once, before use; never allocates.
 */
int dmacoh_window_init(struct dmacoh_window *w, const char *name, void *cpu, dmacoh_phys_addr_t bus,
                       uint64_t size, uint64_t granule, void *meta, size_t meta_size);

/**
 * Takes size bytes (not zeroed) whose device address is below `mask`: returns 0 with *cpu and
 * *handle set, -DMACOH_ENOMEM (no room), -DMACOH_ERANGE (no room below the mask) or
 * -DMACOH_EINVAL. Context: thread-safe.
 */
int dmacoh_window_alloc(struct dmacoh_window *w, uint64_t size, uint64_t mask, void **cpu,
                        dmacoh_dma_addr_t *handle);

/** Frees what dmacoh_window_alloc returned; errors as dmacoh_free_coherent. Thread-safe. */
int dmacoh_window_free(struct dmacoh_window *w, void *cpu, uint64_t size, dmacoh_dma_addr_t handle);

/** Device address of a byte of a live allocation of the window, else DMACOH_BAD_DMA_ADDR. */
dmacoh_dma_addr_t dmacoh_window_virt_to_dma(const struct dmacoh_window *w, const void *cpu);

/** CPU address of a device address inside a live allocation of the window, else NULL. */
void *dmacoh_window_dma_to_virt(const struct dmacoh_window *w, dmacoh_dma_addr_t dma);

/** Bytes the window serves (less than its size when its state was carved from it). */
uint64_t dmacoh_window_size(const struct dmacoh_window *w);

/** Allocations of the window outstanding now. */
uint64_t dmacoh_window_live(const struct dmacoh_window *w);

/**
 * Retires a window. Errors: -DMACOH_EBUSY while allocations are outstanding (nothing
 * changes), -DMACOH_EINVAL. Context: not concurrently with other calls on w.
 */
int dmacoh_window_fini(struct dmacoh_window *w);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_PLATFORM_H */
