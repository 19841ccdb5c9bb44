/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/shared.h - shared regions: several processes allocate from one region of device
 * memory, and a crashed process's memory comes back.
 *
 * The allocator state of a shared region (offsets only, no pointers) lives in a named
 * shared-memory object that the platform provides (Linux: a POSIX shared-memory object,
 * /dev/shm/dmacoh.<name>). The first process creates it; others attach by name, each with the
 * same declaration, and allocate with the usual calls (dmacoh_alloc_coherent,
 * dma_alloc_coherent, dma_pool_*). Each process maps the device memory itself through its
 * own platform, so CPU pointers differ between processes; DMA handles are the same in every
 * process.
 *
 * Ownership. Every allocation (and every dma_pool chunk, which is one) records the process
 * that made it, as an entry of the region's owner table that holds the process's pid and
 * start time, so that a reused pid is never taken for the dead owner. A free may come from
 * any process of the region (a block handed to another process is freed by it).
 *
 * Death. The region's lock records its holder (pid and start time): a waiter that finds the
 * holder dead takes the lock over, and repairs the state before it goes on: every update
 * of the allocator is journalled (one operation at a time), so the interrupted one is
 * finished (a free) or undone (an allocation), and everything derived is rebuilt from the
 * granule kinds (docs/design.md, "Shared regions"). The invariant checker (dmacoh_check)
 * passes afterwards, whatever instruction the process died at.
 *
 * Quarantine. A dead owner's blocks are not free: the device it programmed may still be
 * writing into them. They are quarantined: counted apart in dmacoh_shared_get_stats and never
 * handed out, until a process that knows the device is quiet calls dmacoh_shared_reap, or, in
 * a region created with DMACOH_SHARE_RESET_ON_DEATH (the device is reset when a process
 * dies, or has no DMA in flight that outlives its owner), at once, by whichever process
 * notices the death first. Deaths are noticed when a process takes the lock its dead holder
 * held, and by every attach, reap and statistics call, and by an allocation that finds the
 * region full (then at most once per 10 ms).
 *
 * Trust. Processes attached to one region trust each other as much as the threads of one
 * process do: each can write the shared state and the device memory. The object is created
 * readable and writable by its owner only (mode 0600 on Linux).
 *
 * Fork. A child inherits its parent's attachment and may allocate through it: at its first
 * lock of the region it takes an owner entry of its own (or, when none is free, an error line
 * says that its allocations are recorded as its parent's), so its death quarantines its
 * blocks, not its parent's. It cannot declare the same range again through another platform
 * instance (the inherited mapping keeps the process-wide claim of the range: -DMACOH_EBUSY);
 * a process that should attach on its own is started before the declaration, or by exec.
 */
#ifndef DMACOH_SHARED_H
#define DMACOH_SHARED_H

#include <dmacoh/types.h>
#include <dmacoh/errno.h>
#include <dmacoh/device.h>
#include <dmacoh/region.h>
#include <dmacoh/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Flags of struct dmacoh_share_opts. */
enum dmacoh_share_flags {
    /** Create the region; -DMACOH_EEXIST if it exists (without _ATTACH). */
    DMACOH_SHARE_CREATE = 0x01,
    /** Attach to an existing region; -DMACOH_ENOENT if none exists (without _CREATE). Both
     * bits, or neither: create it if it does not exist, else attach. */
    DMACOH_SHARE_ATTACH = 0x02,
    /** A dead owner's blocks are freed as soon as its death is noticed, instead of being
     * quarantined until dmacoh_shared_reap. A property of the region: an attach must ask
     * for the same. */
    DMACOH_SHARE_RESET_ON_DEATH = 0x04,
};

/** How a region is shared. */
struct dmacoh_share_opts {
    /** The region's name: 1 to 64 of [A-Za-z0-9._-], not starting with a dot. */
    const char *name;
    unsigned flags; /**< enum dmacoh_share_flags */
    /** Processes that may be attached at once (entries of the owner table), 1..254; 0: 64
     * when creating, and whatever the region has when attaching. */
    unsigned max_procs;
};

/** Longest region name. */
#define DMACOH_SHARE_NAME_MAX 64

/**
 * Declares dev's region as a shared region: creates the named shared state, or attaches to it,
 * and maps [bus_addr, bus_addr + size) through dev's platform (which other processes map
 * through theirs). Arguments as dmacoh_declare_coherent_memory; opts->meta (caller storage)
 * holds only this process's part, at least dmacoh_shared_meta_size() bytes.
 *
 * An attach must give the same declaration as the creator: bus base, device base, size,
 * granule, placement, align_cap and DMACOH_SHARE_RESET_ON_DEATH; the platform may differ (a
 * device model may attach through memfd to a region a driver created through PCI sysfs),
 * as may the mode granted (MAP or IO) and io_width.
 *
 * Errors (nothing changes on any of them; a log line says which):
 *  - those of dmacoh_declare_coherent_memory;
 *  - -DMACOH_EINVAL: share NULL, a bad name, unknown flags, max_procs above 254; an attach
 *    whose declaration differs from the region's (the line names the field and both values),
 *    or to an object that is not a region of this build (another version, or a 32-bit and
 *    a 64-bit process);
 *  - -DMACOH_EEXIST (DMACOH_SHARE_CREATE alone; the region exists), -DMACOH_ENOENT
 *    (DMACOH_SHARE_ATTACH alone; it does not);
 *  - -DMACOH_EIO: the region's state is damaged beyond repair, or its creator died before it
 *    finished setting it up (remove it with dmacoh_shared_unlink and create it again);
 *  - -DMACOH_ENOMEM: every entry of the owner table is held by a live process, or by a dead
 *    one whose blocks are quarantined (dmacoh_shared_reap frees those);
 *  - -DMACOH_ENOTSUP: the platform has no shared-state objects (platform.h), or the region
 *    was made in another pid namespace (its processes must share one: a pid names a process
 *    only within its namespace);
 *  - -DMACOH_EACCES: the object belongs to another user, or others may write it.
 * Context: as dmacoh_declare_coherent_memory; takes the region's lock, and may wait up to 2 s
 * for a creator that is still setting the region up.
 */
int dmacoh_declare_shared_memory(struct dmacoh_device *dev, dmacoh_phys_addr_t bus_addr,
                                 dmacoh_dma_addr_t device_addr, uint64_t size, int flags,
                                 const struct dmacoh_declare_opts *opts,
                                 const struct dmacoh_share_opts *share, int *granted);

/**
 * Bytes of caller storage (dmacoh_declare_opts.meta) a shared declaration needs in each
 * process: the state itself is in the shared object. Context: any thread, pure.
 */
size_t dmacoh_shared_meta_size(void);

/*
 * Release. dmacoh_release_coherent_memory detaches this process: without
 * DMACOH_RELEASE_FORCE it refuses (-DMACOH_EBUSY) while this process's own allocations are
 * outstanding (other processes' do not count); with it, they are quarantined as a dead
 * process's would be. The shared object stays, with every other process's allocations, until
 * dmacoh_shared_unlink removes its name.
 */

/** What dmacoh_shared_get_stats reports. Sizes are in bytes. */
struct dmacoh_shared_stats {
    unsigned max_procs;          /**< entries of the owner table */
    unsigned procs;              /**< attached processes that are alive */
    unsigned dead;               /**< owners gone, whose blocks are quarantined */
    bool reset_on_death;         /**< DMACOH_SHARE_RESET_ON_DEATH */
    uint64_t live_bytes;         /**< allocated by processes that are alive */
    uint64_t live_blocks;        /**< their allocations */
    uint64_t quarantined_bytes;  /**< allocated by dead owners, not yet reaped */
    uint64_t quarantined_blocks; /**< their allocations */
    uint64_t free_bytes;         /**< neither allocated nor occupied */
    uint64_t occupied_bytes;     /**< reserved by dmacoh_mark_declared_memory_occupied */
    uint64_t own_bytes;          /**< allocated by this process (part of live_bytes) */
    uint64_t own_blocks;         /**< its allocations */
    uint64_t recoveries;         /**< times the state was repaired after its updater died */
    uint64_t deaths;             /**< owners found dead, ever */
    uint64_t reaped_blocks;      /**< blocks of dead owners freed, ever */
    uint64_t reaped_bytes;       /**< their bytes */
};

/**
 * Fills *st for dev's own shared region, after checking every owner for life (a death found
 * quarantines its blocks, or frees them in a DMACOH_SHARE_RESET_ON_DEATH region).
 * Errors: -DMACOH_EINVAL (dev not initialised, st NULL), -DMACOH_ENODEV (no region),
 * -DMACOH_ENOTSUP (the region is not shared). Context: thread-safe; takes the region lock.
 * Complexity: O(region granules + owners).
 */
int dmacoh_shared_get_stats(const struct dmacoh_device *dev, struct dmacoh_shared_stats *st);

/** State of an owner-table entry (struct dmacoh_shared_owner). */
enum dmacoh_owner_state {
    DMACOH_OWNER_LIVE = 1, /**< an attached process that is alive */
    DMACOH_OWNER_DEAD = 2, /**< gone (or released with DMACOH_RELEASE_FORCE); blocks quarantined */
};

/** One owner of a shared region, as dmacoh_shared_walk_owners reports it. */
struct dmacoh_shared_owner {
    unsigned index; /**< its entry in the owner table, from 1 (struct dmacoh_shared_span.owner) */
    uint64_t pid;   /**< its process id */
    uint64_t start; /**< its start time, in the platform's units */
    int state;      /**< enum dmacoh_owner_state */
    bool self;      /**< this process's entry */
    uint64_t blocks;
    uint64_t bytes;
};

/**
 * Calls fn for every owner of dev's shared region (live and dead), after checking each for
 * life; stops when fn returns non-zero and returns that value. fn must not call the library.
 * Errors: as dmacoh_shared_get_stats. Context: holds the region lock during the walk.
 */
int dmacoh_shared_walk_owners(const struct dmacoh_device *dev,
                              int (*fn)(void *user, const struct dmacoh_shared_owner *o),
                              void *user);

/**
 * Frees every quarantined block of dev's shared region: the caller says that the device is
 * quiet (no DMA in flight into memory of a dead owner). Checks every owner for life first.
 * *blocks and *bytes (each may be NULL) receive what was freed. Errors: as
 * dmacoh_shared_get_stats. Context: thread-safe; takes the region lock; O(region granules).
 */
int dmacoh_shared_reap(struct dmacoh_device *dev, uint64_t *blocks, uint64_t *bytes);

/* ---- Looking at a region from outside it (the `dmacoh` command) ---- */

/**
 * Calls fn for each shared region's state object the platform holds (for Linux, the
 * dmacoh.<name> files of DMACOH_SHM_DIR), in no particular order, whoever owns it; stops when
 * fn returns non-zero and returns that value. Errors: -DMACOH_EINVAL (p not initialised, fn
 * NULL), -DMACOH_ENOTSUP (the platform cannot enumerate them), OS errors of reading the
 * folder. Context: any thread; takes no region lock.
 */
int dmacoh_shared_list(struct dmacoh_platform *p,
                       int (*fn)(void *user, const struct dmacoh_shared_entry *e), void *user);

/** Kind of a struct dmacoh_shared_span. */
enum dmacoh_span_kind {
    DMACOH_SPAN_FREE = 0,      /**< free granules (one maximal run) */
    DMACOH_SPAN_ALLOCATED = 1, /**< one allocation (a dma_pool chunk is one) */
    DMACOH_SPAN_OCCUPIED = 2,  /**< reserved by dmacoh_mark_declared_memory_occupied */
};

/** A span of a shared region, as dmacoh_shared_inspect reports it. */
struct dmacoh_shared_span {
    uint64_t offset;  /**< bytes from the start of the region */
    uint64_t size;    /**< bytes */
    int kind;         /**< enum dmacoh_span_kind */
    unsigned owner;   /**< ALLOCATED: its owner's index (struct dmacoh_shared_owner), 0 unknown */
    bool quarantined; /**< ALLOCATED by an owner that is not alive (or unknown) */
};

/** What dmacoh_shared_inspect says of a region as a whole. */
struct dmacoh_shared_info {
    dmacoh_phys_addr_t bus;           /**< bus address declared */
    dmacoh_dma_addr_t device_addr;    /**< device address of its first byte */
    uint64_t size;                    /**< bytes declared */
    uint64_t granule;                 /**< bytes of one granule */
    unsigned placement;               /**< enum dmacoh_placement declared */
    uint64_t align_cap;               /**< alignment cap declared (0: none) */
    uint64_t largest_free;            /**< bytes of the longest free span */
    uint64_t free_spans;              /**< free spans (1 when unfragmented, 0 when full) */
    uint64_t fallbacks;               /**< allocations of every process served from system memory */
    bool consistent;                  /**< the allocator state passed the invariant checker */
    struct dmacoh_shared_stats stats; /**< own_bytes and own_blocks are 0: no process of it */
};

/**
 * Looks at the shared region `name` from a process that need not be attached to it (nor know
 * its device): fills *info (may be NULL), then calls owner_fn for every owner-table entry in
 * use (live and dead; `self` is false) and span_fn for every span of the region in address
 * order (each may be NULL; a non-zero return stops the calls and is returned). Every owner is
 * first checked for life, as dmacoh_shared_get_stats does (a death found quarantines its
 * blocks, or frees them in a DMACOH_SHARE_RESET_ON_DEATH region), and a holder that died in
 * an update is recovered from, as any process of the region would: so this call writes to the
 * object, and needs the rights of the region's processes (Linux: the object's owner). The
 * object's header is read once and checked against itself and the object's size; the lock is
 * taken for at most 2 s (a holder that keeps it longer is -DMACOH_EBUSY), and held while the
 * state is checked, the owners' lives checked and the object copied; the copy is checked
 * again, and the callbacks run on it, unlocked: they may take as long as they like (print to
 * a pipe) without stalling the region's processes. The reader trusts the object as the
 * region's processes trust each other: one of them writing it without the lock, or cutting
 * the file short, while it is read can still make the reader fault (the dmacoh command reads
 * another user's regions in a child process that has that user's rights only).
 * Errors: -DMACOH_EINVAL (p not initialised, bad name; an object made by another build of
 * the library, logged with both versions), -DMACOH_ENOENT (no such region), -DMACOH_EACCES
 * (the object is another user's, or others may write it), -DMACOH_ENOTSUP (no shared-state
 * objects on this platform; a region of another pid namespace), -DMACOH_EBUSY (the lock held
 * for over 2 s: the line names the holder), -DMACOH_EIO (an object never
 * finished by its creator, or damaged: its sizes disagree; or an allocator state that fails
 * the checker, in which case *info is filled with consistent false and no span is reported:
 * the next process to attach repairs it), -DMACOH_ENOMEM (also: an object over 1 GiB, more
 * than a look copies), OS errors; each logged. Context:
 * any thread; takes the region's lock briefly. Complexity: O(object size).
 */
int dmacoh_shared_inspect(struct dmacoh_platform *p, const char *name,
                          struct dmacoh_shared_info *info,
                          int (*owner_fn)(void *user, const struct dmacoh_shared_owner *o),
                          int (*span_fn)(void *user, const struct dmacoh_shared_span *s),
                          void *user);

/**
 * dmacoh_shared_reap for the region `name`, from a process that need not be attached to it:
 * frees every quarantined block after checking every owner for life; the caller says that the
 * device is quiet. *blocks and *bytes (each may be NULL) receive what was freed. Errors: those
 * of dmacoh_shared_inspect (an inconsistent state is -DMACOH_EIO and nothing is freed).
 * Context: any thread; takes the region's lock.
 */
int dmacoh_shared_reap_by_name(struct dmacoh_platform *p, const char *name, uint64_t *blocks,
                               uint64_t *bytes);

/**
 * Removes a shared region's name, so that the next declaration creates it afresh. Refused
 * while a live process is attached (a region created anew under the same name would be a
 * second allocator over the same device memory); allowed for an object that is not a whole
 * region (damaged, or never finished by its creator). Errors: -DMACOH_EINVAL (p not
 * initialised, bad name), -DMACOH_ENOENT, -DMACOH_EBUSY (processes attached; the line names
 * one), -DMACOH_ENOTSUP (the platform has no shared-state objects), OS errors. Context: any
 * thread; takes the region's lock.
 */
int dmacoh_shared_unlink(struct dmacoh_platform *p, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_SHARED_H */
