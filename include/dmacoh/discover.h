/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/discover.h - finding the device memory of a Linux machine, and how to reach it.
 *
 * dmacoh_discover() walks what the kernel exposes in sysfs and hands the caller one record per
 * piece of memory a region could be declared on:
 *  - each memory BAR of each PCI function (bus/pci/devices/<bdf>/resource), with the bound
 *    driver, the IOMMU group and three access paths: the sysfs resourceN file (the PCI
 *    platform), the /dev/uioN node when uio_pci_generic is bound and offers the BAR as a map
 *    (the UIO platform), /dev/vfio/<group> when vfio-pci is bound (the VFIO platform);
 *  - each map of each UIO device (class/uio/uioN/maps/mapM), with its node and parent device;
 *  - each device DAX instance (bus/dax/devices/daxX.Y), with its node;
 *  - the controller memory buffer (CMB) of each NVMe controller (PCI class 0x010802): from the
 *    nvme driver's `cmbloc`/`cmbsz` attributes when it is bound, else from the controller's
 *    registers CAP, CMBLOC and CMBSZ read through a read-only mapping of resource0;
 *  - devicetree reserved-memory children and `mmio-sram` nodes of the unflattened tree
 *    (firmware/devicetree/base), with their `reg` ranges decoded by the parent's cells; an
 *    address is presented as physical only when every bus above the node has an empty
 *    `ranges` (else, and with #address-cells 0, DMACOH_FOUND_NO_ADDR and the reason in
 *    `problem`); nodes whose `status` is not "okay" are skipped with their subtree.
 *
 * A listing never changes the machine: it does not bind drivers, enable devices or write
 * registers. NVMe 1.4 controllers show CMBLOC/CMBSZ only after the host sets CMBMSC.CRE; such
 * a controller (CAP.CMBS set, CMBSZ reading 0) is reported with its CMB marked hidden and a
 * note saying so, not enabled behind the caller's back. An unbound controller's registers
 * are read only when it decodes memory (COMMAND.MSE in `config`) and is in D0 (`power_state`);
 * all ones there is reported as a controller not responding.
 *
 * Every file is input the library checks rather than trusts (the readers of the platforms):
 * attributes are regular files opened without following symbolic links and without blocking,
 * numbers are read exactly as the kernel writes them, directories are walked without
 * following links the kernel does not make, and the devicetree walk goes at most 16 levels
 * deep, with little stack per level (a thread with a 128 KiB stack can walk). What
 * cannot be read is reported on the record (`problem`) or skipped with a log line; it never
 * ends the walk.
 */
#ifndef DMACOH_DISCOVER_H
#define DMACOH_DISCOVER_H

#include <dmacoh/types.h>
#include <dmacoh/errno.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What a record describes (also the bits of dmacoh_discover_opts.kinds). */
enum dmacoh_found_kind {
    DMACOH_FOUND_PCI = 0x01,  /**< a PCI memory BAR */
    DMACOH_FOUND_UIO = 0x02,  /**< a UIO map */
    DMACOH_FOUND_DAX = 0x04,  /**< a device DAX instance */
    DMACOH_FOUND_NVME = 0x08, /**< an NVMe controller memory buffer */
    DMACOH_FOUND_DT = 0x10,   /**< a devicetree reserved-memory or mmio-sram range */
    DMACOH_FOUND_ALL = 0x1f,
};

/** Flags of a record. */
enum dmacoh_found_flags {
    DMACOH_FOUND_64BIT = 0x01,    /**< PCI: a 64-bit BAR */
    DMACOH_FOUND_PREFETCH = 0x02, /**< PCI: prefetchable */
    DMACOH_FOUND_WC = 0x04,       /**< PCI: the kernel offers resourceN_wc (write-combining) */
    DMACOH_FOUND_NO_MAP = 0x08,   /**< devicetree: `no-map` (not in the kernel's linear map) */
    DMACOH_FOUND_REUSABLE = 0x10, /**< devicetree: `reusable` (the kernel lends it out) */
    DMACOH_FOUND_HIDDEN = 0x20,   /**< NVMe: CMB present (CAP.CMBS) but CMBSZ reads 0 */
    DMACOH_FOUND_NO_ADDR = 0x40,  /**< the bus address is unknown (`bus` is 0) */
};

/** How an access path reaches the memory. */
enum dmacoh_path_via {
    DMACOH_VIA_SYSFS = 1,  /**< mmap of sysfs resourceN (dmacoh_pci_open) */
    DMACOH_VIA_UIO = 2,    /**< mmap of /dev/uioN (dmacoh_uio_open) */
    DMACOH_VIA_VFIO = 3,   /**< the VFIO group /dev/vfio/<group> (dmacoh_vfio_open) */
    DMACOH_VIA_DAX = 4,    /**< mmap of /dev/daxX.Y (dmacoh_dax_open) */
    DMACOH_VIA_DEVMEM = 5, /**< mmap of /dev/mem at the bus address (dmacoh_devmem_open) */
};

/** Whether an access path can be used now by this process. */
enum dmacoh_path_state {
    DMACOH_PATH_READY = 0,  /**< the file exists and this user may open it as needed */
    DMACOH_PATH_DENIED = 1, /**< the file exists; `missing` names the permission lacking
                                 (for /dev/mem: CAP_SYS_RAWIO, "run as root") */
    DMACOH_PATH_BUSY = 2,   /**< a kernel driver holds the memory: a mapping would fail */
    DMACOH_PATH_ABSENT = 3, /**< not set up: `how` says what would make it so */
};

/** One way to reach a record's memory. */
struct dmacoh_found_path {
    int via;          /**< enum dmacoh_path_via */
    int state;        /**< enum dmacoh_path_state */
    uint64_t offset;  /**< where the memory starts in `file` (mmap offset; VFIO: in the BAR) */
    char file[512];   /**< the file to open ("" when there is none to name) */
    char missing[16]; /**< DENIED: "read", "write" or "read and write"; else "" */
    char how[768];    /**< what would make the path usable (commands, "; "-separated) or "" */
};

/** The most access paths of one record. */
#define DMACOH_FOUND_MAX_PATHS 3

/**
 * One piece of device memory. Strings are NUL-terminated and never NULL ("" when unknown);
 * the record and its strings are valid only during the callback.
 */
struct dmacoh_found {
    int kind;               /**< enum dmacoh_found_kind */
    char device[256];       /**< "0000:00:03.0", "uio0", "dax0.0", "/reserved-memory/buf@0" */
    char parent[256];       /**< UIO: the parent device's name; DAX: the region; else "" */
    char driver[64];        /**< the bound driver ("" when none or not applicable) */
    char label[128];        /**< UIO: the map's name; DT: the first `compatible`; NVMe: nvmeX */
    uint16_t vendor;        /**< PCI and NVMe: vendor ID */
    uint16_t device_id;     /**< PCI and NVMe: device ID */
    uint32_t class_code;    /**< PCI and NVMe: the 24-bit class code */
    int iommu_group;        /**< PCI and NVMe: the IOMMU group, -1 when none */
    int numa_node;          /**< the NUMA node, -1 when unknown */
    unsigned index;         /**< BAR index, UIO map index, NVMe: BIR, DT: the `reg` entry */
    dmacoh_phys_addr_t bus; /**< bus (CPU physical) address of the first byte */
    uint64_t size;          /**< bytes (0 only with `problem` set) */
    uint64_t offset;        /**< UIO: the map's `offset` (bus and size count from there, as
                                 dmacoh_uio_map() reports them); NVMe: the CMB's offset in its
                                 BAR */
    uint64_t align;         /**< DAX: the mapping alignment; else 0 */
    unsigned flags;         /**< enum dmacoh_found_flags */
    char problem[256];      /**< why the record is incomplete ("" when it is complete) */
    unsigned npaths;        /**< entries of path */
    struct dmacoh_found_path path[DMACOH_FOUND_MAX_PATHS];
};

/** Options of dmacoh_discover(); a NULL pointer means all defaults. */
struct dmacoh_discover_opts {
    const char *sysfs_root; /**< "/sys" when NULL */
    const char *dev_root;   /**< "/dev" when NULL */
    const char *device;     /**< only records of this device (its `device` name, or an NVMe
                                 controller's nvmeX, or a devicetree node's last component);
                                 NULL: all */
    unsigned kinds;         /**< enum dmacoh_found_kind bits; 0: all */
};

/**
 * Walks the machine's device memory, calling fn once per record: the PCI functions in address
 * order (each one's memory BARs by index, then its CMB if it is an NVMe controller), then UIO
 * maps, device DAX instances and devicetree nodes, each sorted by name (digit runs by value:
 * uio2 before uio10), so two walks of an unchanged tree give the same sequence. A kind whose sysfs directory is absent (no UIO
 * device, no devicetree) contributes nothing; a device whose files cannot be read gives one
 * record with `problem` set (and size 0), with a log line naming the file.
 *
 * Returns 0 after the last record; the first non-zero value fn returns (the walk stops);
 * -DMACOH_EINVAL (NULL fn, kinds outside DMACOH_FOUND_ALL, an empty device name, one with a
 * '/' other than a devicetree path, or longer than 255 bytes; nothing is walked);
 * -DMACOH_EACCES (the whole walk was made, but a kind's directory, e.g. bus/pci/devices,
 * could not be listed for want of read permission: logged, naming it); -DMACOH_ENOENT
 * (opts->device given and no record matched it); -DMACOH_ENOMEM.
 *
 * Guarantees: nothing is written anywhere: no sysfs attribute, no device register (NVMe
 * registers are read through a read-only shared mapping of resource0 and unmapped at once, and
 * only of a controller the `device` filter keeps); a path's state reflects access(2) for the
 * real user at the time of the walk, and for /dev/mem also whether the process holds
 * CAP_SYS_RAWIO (its open asks for it; without it the path is DENIED).
 *
 * Context: any thread; allocates (directory listings) and blocks on file I/O, never on a FIFO.
 * Calls fn from the calling thread, with no library lock held; fn may call into the library.
 */
int dmacoh_discover(const struct dmacoh_discover_opts *opts,
                    int (*fn)(void *user, const struct dmacoh_found *f), void *user);

/** The name of a kind ("pci", "uio", "dax", "nvme", "dt"), or "?" for anything else. */
const char *dmacoh_found_kind_name(int kind);

/** The name of an access path ("sysfs", "uio", "vfio", "dax", "devmem"), or "?". */
const char *dmacoh_path_via_name(int via);

/** The name of a path state ("ready", "denied", "busy", "absent"), or "?". */
const char *dmacoh_path_state_name(int state);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_DISCOVER_H */
