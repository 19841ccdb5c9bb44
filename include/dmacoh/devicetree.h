/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/devicetree.h - a device's declared memory, read from its devicetree.
 *
 * On embedded Linux and in firmware the memory a device may use for DMA is not probed: the
 * devicetree says it. This reader, built on libfdt, answers the questions a driver has:
 *  - the children of /reserved-memory: `no-map` ones (typically `compatible =
 *    "shared-dma-pool"`) are declarable; `reusable` ones are CMA that the kernel lends to
 *    movable pages and are listed but refused; `linux,dma-default` marks the default pool;
 *    a /reserved-memory the kernel would ignore (its #address-cells or #size-cells not the
 *    root's) or read untranslated (a non-empty `ranges`) has every child refused;
 *    a dynamically placed node (`size`, `alignment`, `alloc-ranges`, no `reg`) is declarable
 *    only from a live tree that shows where the kernel put it (a `reg`), and refused in a DTB
 *    file; Linux 6.1 shows no `reg` there (checked by `make hwtest-dt`), so on it such a node
 *    is refused from the live tree too (-DMACOH_ENOENT, with that reason);
 *  - `mmio-sram` nodes and their child partitions (`pool`, `export`, `protect-exec` noted;
 *    a partition of a disabled SRAM is refused);
 *  - a device node's `memory-region` phandle list (by index, or by `memory-region-names`) and
 *    its `sram` phandle list, in that order: "the device's regions, in order";
 *  - addresses: a `reg` is translated through the `ranges` of every bus above it to the CPU
 *    (bus) address, and through the `dma-ranges` of the device's buses, the root's included
 *    (never the device node's own), to the address the device must be programmed with (the
 *    kernel's of_translate_address and of_dma_get_range), which are exactly the RFC's bus
 *    address and device address.
 *
 * Every region comes back as a struct dmacoh_dt_region: path, name, both addresses, size,
 * flags, and a status, 0 when it can be declared or a negative DMACOH_E* code with the reason
 * in words. A refusal is information, not a failure of the call: listing a device's regions
 * shows the refused ones too. dmacoh_dt_declare() turns one region into a call of
 * dmacoh_declare_coherent_memory() on whatever platform the device has (/dev/mem, UIO, the
 * simulator).
 *
 * The blob reader (dmacoh_dt_init and everything taking a const struct dmacoh_dt *) needs no
 * OS and allocates nothing: the caller provides the blob and the output storage, so firmware
 * that has libfdt can use it (docs/porting.md). dmacoh_dt_open_file and dmacoh_dt_open_live
 * are the Linux loaders; they allocate the blob, which dmacoh_dt_close frees.
 *
 * Every blob is validated before anything reads it (libfdt's fdt_check_header and the full
 * structural check fdt_check_full). Values are then treated as untrusted input: cell counts
 * other than #address-cells 1 or 2 and #size-cells 0, 1 or 2 are refused (an absent one takes
 * the specification's default, 2 and 1, with a log line saying so); `reg` and `ranges`
 * entries that wrap past 2^64 are refused; a bus without `ranges` below the root makes its
 * children unreachable from the CPU; phandles that point nowhere or back at the device are
 * refused; a node more than DMACOH_DT_MAX_DEPTH levels deep, and an interpreted property longer
 * than DMACOH_DT_MAX_PROP bytes, are refused. Reserved-memory children that overlap an earlier
 * child are refused, naming the earlier one. Cells are big-endian in the blob and read with
 * libfdt's accessors on every host.
 *
 * Context: the reader functions are pure functions of the blob: any thread, any number at
 * once on the same struct dmacoh_dt, no blocking, no allocation. Cost: lookups walk the blob
 * (libfdt has no index), O(blob size x depth) per region, times the number of earlier
 * siblings for a reserved-memory child (the overlap check).
 */
#ifndef DMACOH_DEVICETREE_H
#define DMACOH_DEVICETREE_H

#include <dmacoh/types.h>
#include <dmacoh/region.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DMACOH_DT_PATH_MAX   256  /**< bytes of a node path, with its NUL */
#define DMACOH_DT_NAME_MAX   64   /**< bytes of a region name, with its NUL */
#define DMACOH_DT_REASON_MAX 256  /**< bytes of a refusal reason, with its NUL */
#define DMACOH_DT_MAX_DEPTH  16   /**< deepest node (the root is depth 0) the reader follows */
#define DMACOH_DT_MAX_PROP   4096 /**< longest reg/ranges/dma-ranges/phandle list interpreted */
/** Default directory of dmacoh_dt_open_live(): the kernel's unflattened tree. */
#define DMACOH_DT_LIVE_ROOT "/sys/firmware/devicetree/base"

/** A validated flattened devicetree. Fields are read-only for the caller. */
struct dmacoh_dt {
    const void *blob; /**< the FDT blob (8-byte aligned), fdt_check_full has accepted it */
    size_t size;      /**< its total size in bytes */
    bool live;   /**< made from the live tree (a dynamic node's reg, when the kernel shows one) */
    void *owned; /**< storage a Linux loader allocated (dmacoh_dt_close frees it) */
};

/** What a region is and what the devicetree says of it (struct dmacoh_dt_region.flags). */
enum dmacoh_dt_flags {
    DMACOH_DT_RESERVED = 0x001,     /**< a child of /reserved-memory */
    DMACOH_DT_NO_MAP = 0x002,       /**< `no-map`: the kernel keeps it out of its linear map */
    DMACOH_DT_REUSABLE = 0x004,     /**< `reusable`: CMA the kernel lends to movable pages */
    DMACOH_DT_DEFAULT = 0x008,      /**< `linux,dma-default`: the default pool */
    DMACOH_DT_DMA_POOL = 0x010,     /**< `compatible = "shared-dma-pool"` */
    DMACOH_DT_DYNAMIC = 0x020,      /**< `size` without `reg` in the DTB: placed at boot */
    DMACOH_DT_SRAM = 0x040,         /**< an `mmio-sram` node, or a partition of one */
    DMACOH_DT_PARTITION = 0x080,    /**< a child partition of an `mmio-sram` node */
    DMACOH_DT_POOL = 0x100,         /**< partition marked `pool` (the kernel's gen_pool) */
    DMACOH_DT_EXPORT = 0x200,       /**< partition marked `export` (sysfs file of the kernel) */
    DMACOH_DT_PROTECT_EXEC = 0x400, /**< partition marked `protect-exec` (executable SRAM) */
};

/**
 * One region as the devicetree describes it. Guarantees: every string is NUL-terminated
 * inside its array; a path that does not fit is "?", a name or reason that does not fit is
 * cut. When status is 0: size > 0, and neither [bus, bus + size) nor [device, device + size)
 * wraps past 2^64. When status is negative: reason says why; bus, device and size hold what
 * was learnt before the refusal (0 when nothing).
 */
struct dmacoh_dt_region {
    char path[DMACOH_DT_PATH_MAX];     /**< the region node's full path ("" if none found) */
    char name[DMACOH_DT_NAME_MAX];     /**< memory-region-names entry, else node name sans @unit */
    dmacoh_phys_addr_t bus;            /**< CPU (bus) address, through every parent's ranges */
    dmacoh_dma_addr_t device;          /**< device address, through the device's dma-ranges;
                                            equal to bus when read without a device */
    uint64_t size;                     /**< bytes (0 when unknown) */
    unsigned flags;                    /**< enum dmacoh_dt_flags */
    int status;                        /**< 0 = declarable, else a negative DMACOH_E* code */
    char reason[DMACOH_DT_REASON_MAX]; /**< why it is refused ("" when declarable) */
};

/**
 * Takes a flattened devicetree blob the caller holds (firmware: the one the boot loader
 * passed) and validates it: libfdt's fdt_check_header, its total size against size, then the
 * full structural check fdt_check_full (every tag, name, offset and string in bounds).
 * @param[out] dt    filled on success; untouched on failure
 * @param[in]  blob  the blob, 8-byte aligned, size bytes readable
 * Errors (each logged, naming libfdt's reason): -DMACOH_EINVAL when dt or blob is NULL, the
 * blob is misaligned, has a bad magic, a version older than 17 (dtc's since 2007; libfdt
 * reads older layouts only in part), bad offsets or structure, or claims more bytes
 * (totalsize) than size.
 * Context: any thread; no allocation. Lifetime: blob must outlive every use of dt; nothing to
 * free (dmacoh_dt_close is harmless on it).
 */
int dmacoh_dt_init(struct dmacoh_dt *dt, const void *blob, size_t size);

/**
 * Reads a DTB file (as `dtc -O dtb` writes it, or a boot partition's .dtb) and validates it
 * as dmacoh_dt_init does. Linux build only.
 * Errors: -DMACOH_EINVAL (NULL argument, file empty, larger than 64 MiB, or invalid as
 * dmacoh_dt_init says), -DMACOH_ENOMEM, -DMACOH_EIO (short read), OS errors of open/read
 * (-ENOENT, -EACCES, ...), each logged with the path.
 * Context: any thread; blocks on the file; allocates the blob. Ownership: dmacoh_dt_close.
 */
int dmacoh_dt_open_file(struct dmacoh_dt *dt, const char *path);

/**
 * Reads the kernel's unflattened live tree (a directory per node, a file per property) into
 * a flattened blob made with libfdt's sequential-write functions, so one reader serves both;
 * dt->live is set. Linux build only.
 * @param[in] dir  the tree's root; NULL = DMACOH_DT_LIVE_ROOT (a test passes a fake tree)
 * Semantics: entries are taken in name order; symbolic links and entries other than
 * directories and regular files are skipped; the `name` files of the unflattened tree are
 * not copied (a blob keeps names in its nodes). Directories more than DMACOH_DT_MAX_DEPTH
 * levels deep are left out with a log line, and so is a property file this process may not
 * open (EACCES, EPERM: the kernel's `security-*` properties are root's only); a property is
 * read to its end (sysfs gives a page per read); a property file larger than 1 MiB fails.
 * Errors: -DMACOH_EINVAL (dt NULL; a property too large; the result invalid), -DMACOH_ENOMEM,
 * -DMACOH_ENOENT (no such directory: not a devicetree machine), OS errors of opendir/open/
 * read, each logged with the path.
 * Context: any thread; blocks on the file system; allocates. Ownership: dmacoh_dt_close.
 */
int dmacoh_dt_open_live(struct dmacoh_dt *dt, const char *dir);

/**
 * Frees what a loader allocated and clears dt. NULL and a dmacoh_dt_init'ed dt are fine.
 * Context: any thread, but not while another uses dt.
 */
void dmacoh_dt_close(struct dmacoh_dt *dt);

/**
 * Finds a device node: a selector starting with '/' is a full path; anything else is a
 * `compatible` string, and the first node (in blob order) whose compatible list contains it
 * and whose `status` is "okay" (or absent) is taken.
 * Returns the node's offset in the blob (>= 0), or -DMACOH_EINVAL (NULL argument, empty
 * selector) or -DMACOH_ENOENT (no such node), each logged.
 * Context: any thread, no allocation.
 */
int dmacoh_dt_find_device(const struct dmacoh_dt *dt, const char *selector);

/**
 * Lists the regions of device node `node`, in order: each `memory-region` entry (named by
 * `memory-region-names` when present), then each `sram` entry. This order is the device's
 * order of fallback. Refused entries are listed too, with their status and reason.
 * @param[out] out    up to cap descriptions (may be NULL when cap is 0)
 * @param[out] count  the number of entries the device has (may exceed cap)
 * Errors: -DMACOH_EINVAL (NULL dt or count; node not a node; a phandle list whose length is
 * not a whole number of cells or longer than DMACOH_DT_MAX_PROP), -DMACOH_EOVERFLOW when the
 * device has more than cap entries (the first cap are filled, *count is the total).
 * Context: any thread, no allocation.
 */
int dmacoh_dt_device_regions(const struct dmacoh_dt *dt, int node, struct dmacoh_dt_region *out,
                             size_t cap, size_t *count);

/**
 * Describes one region of device node `node`: by name when name is not NULL (a
 * `memory-region-names` entry, or an sram node's name sans unit address), else entry `index`
 * of the order dmacoh_dt_device_regions lists.
 * Returns 0 when the entry exists and *out describes it (out->status says whether it is
 * declarable), -DMACOH_ENOENT when there is no such entry, -DMACOH_EINVAL as for
 * dmacoh_dt_device_regions; each error logged.
 * Context: any thread, no allocation.
 */
int dmacoh_dt_device_region(const struct dmacoh_dt *dt, int node, const char *name, unsigned index,
                            struct dmacoh_dt_region *out);

/**
 * Lists every region the tree describes, without a device: each child of /reserved-memory
 * (in blob order), then each `mmio-sram` node followed by its partitions. Device addresses
 * equal bus addresses here. Errors: -DMACOH_EINVAL (NULL dt or count), -DMACOH_EOVERFLOW as
 * for dmacoh_dt_device_regions. Context: any thread, no allocation.
 */
int dmacoh_dt_regions(const struct dmacoh_dt *dt, struct dmacoh_dt_region *out, size_t cap,
                      size_t *count);

/**
 * Describes the default pool: the child of /reserved-memory the kernel makes its default
 * coherent pool of, an enabled `shared-dma-pool` with `linux,dma-default` that is not
 * `reusable` (`linux,cma-default` marks the default CMA area, which is not this pool)
 * (device address = bus address, as the kernel's default pool uses it). When several claim
 * it, the first is described and refused -DMACOH_EBUSY naming the second (which one the
 * kernel keeps depends on its version), with a log line.
 * Returns 0 with *out filled (out->status says whether it is declarable), -DMACOH_ENOENT when
 * the tree has none, -DMACOH_EINVAL for NULL arguments. Context: any thread, no allocation.
 */
int dmacoh_dt_default_pool(const struct dmacoh_dt *dt, struct dmacoh_dt_region *out);

/**
 * Declares one devicetree region of a device as dev's coherent memory: finds the device node
 * (dmacoh_dt_find_device's selector), picks its region by name or index
 * (dmacoh_dt_device_region), and calls dmacoh_declare_coherent_memory(dev, region.bus,
 * region.device, region.size, flags, opts, granted) on dev's platform.
 * Errors: those of dmacoh_dt_find_device and dmacoh_dt_device_region; -DMACOH_ENODEV when the
 * device node's `status` is not "okay"; a refused region returns its status (for example
 * -DMACOH_EBUSY for `reusable` or mapped memory or an overlap, -DMACOH_ENOENT for a
 * dynamic node in a DTB file, -DMACOH_ENXIO for an address the CPU cannot reach,
 * -DMACOH_ERANGE for one the device cannot reach or that wraps) with a log line naming the
 * node and the reason; otherwise every error of dmacoh_declare_coherent_memory.
 * Context: that of dmacoh_declare_coherent_memory (may block, may allocate metadata).
 */
int dmacoh_dt_declare(struct dmacoh_device *dev, const struct dmacoh_dt *dt, const char *device,
                      const char *name, unsigned index, int flags,
                      const struct dmacoh_declare_opts *opts, int *granted);

/**
 * Declares every region of a device's devicetree list as dev's list of regions, in the
 * devicetree's order (its `memory-region` entries, then its `sram` entries: the order of
 * fallback), each appended with dmacoh_declare_region() (dmacoh/region.h) under its
 * devicetree name (a `memory-region-names` entry or the node's name sans unit address), or
 * "dt<index>" when that name is not a valid region name or is already in dev's list. An
 * allocation through dmacoh_alloc_coherent() then tries them in that order;
 * dmacoh_alloc_coherent_from() picks one by its name.
 * Entries the devicetree refuses (status not 0: reusable, in the kernel's map, dynamic in a
 * DTB, unreachable by the CPU or the device, overlapping, disabled) are passed over, each
 * with a warning naming the node and the reason. An entry that is the `linux,dma-default`
 * node becomes dev's own region when the platform has no default pool; once the platform
 * has declared it (dmacoh_dt_declare_default), the range is the platform's and declaring it
 * again fails with -DMACOH_EBUSY, as for any range another device holds.
 * DEVIATION(kernel): the kernel lets several devices point at one reserved-memory node and
 * share its pool; here one byte has one owner, so the second device's declaration fails with
 * -DMACOH_EBUSY (the log names the holder). Devices that share memory in the devicetree share
 * it here through a common parent declared with DMACOH_MEMORY_INCLUDES_CHILDREN.
 * @param[in]  flags     declare flags for every region (DMACOH_MEMORY_MAP and/or _IO...)
 * @param[out] declared  regions appended (may be NULL)
 * Errors: those of dmacoh_dt_find_device(); -DMACOH_EINVAL (dev NULL); -DMACOH_ENODEV (the
 * device node is disabled); -DMACOH_ENOENT (the device lists no region); the first refused
 * entry's status when no entry could be declared; any error of dmacoh_declare_region() for a
 * declarable entry, after the regions this call appended have been released again (all or
 * none of the declarable entries end up declared). Each error logged.
 * Context: that of dmacoh_declare_region(); O(entries * regions of dev).
 */
int dmacoh_dt_declare_all(struct dmacoh_device *dev, const struct dmacoh_dt *dt, const char *device,
                          int flags, const struct dmacoh_declare_opts *opts, unsigned *declared);

/**
 * Declares the devicetree's default pool (dmacoh_dt_default_pool: the enabled, non-reusable
 * shared-dma-pool with `linux,dma-default`; refused when several claim it) as platform p's
 * default pool with dmacoh_declare_default_memory() (dmacoh/region.h): it then serves every
 * device of p that has no region of its own and no ancestor region, as the kernel's default
 * pool does.
 * Errors: -DMACOH_ENOENT when the tree has no default pool (logged); the node's status when
 * it is refused (logged with the reason); otherwise those of dmacoh_declare_default_memory().
 * Context: that of dmacoh_declare_default_memory().
 */
int dmacoh_dt_declare_default(struct dmacoh_platform *p, const struct dmacoh_dt *dt, int flags,
                              const struct dmacoh_declare_opts *opts, int *granted);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_DEVICETREE_H */
