/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/vfio.h - the VFIO platform (Linux): a PCI device bound to vfio-pci, opened through
 * its IOMMU group. Declared memory lives in the device's memory BARs; system-memory fallback
 * is anonymous memory mapped into the device's IOMMU domain, so its DMA handle is an IOVA.
 *
 * dmacoh_vfio_open() follows the kernel's Documentation/driver-api/vfio.rst: it finds the
 * device's group from <sysfs>/bus/pci/devices/<bdf>/iommu_group, opens a container
 * (<dev>/vfio/vfio) and the group (<dev>/vfio/<N>), checks that the group is viable, attaches
 * the group to the container, selects the type1 IOMMU (v2 preferred) and asks the group for
 * the device's descriptor. A region declared on a device of this platform must lie inside one
 * memory BAR (bus addresses are the CPU physical addresses in sysfs `resource`, as for the PCI
 * platform); it is mapped by mmap of the device descriptor at the BAR region's offset, placed
 * so that CPU pointers are congruent to device addresses. The BAR must be mappable
 * (VFIO_REGION_INFO_FLAG_MMAP). Such a declare fails with -DMACOH_ENXIO (not inside one
 * mappable memory BAR) or -DMACOH_EBUSY (live fallback memory has IOVAs inside the region's
 * device range; the log names that allocation's IOVA, size and CPU address).
 *
 * Fallback allocations (dmacoh_alloc_coherent on a device with no region, or a full
 * non-exclusive one) are page-aligned anonymous memory (huge pages on request) mapped with
 * VFIO_IOMMU_MAP_DMA at an IOVA the platform chooses: aligned as the core asks, below the
 * device's DMA mask, inside the IOVA ranges the kernel reports (which leave out the MSI
 * window and other reserved ranges), first fit from the lowest address, and never inside the
 * device range of a region declared on the platform: all devices of the platform share the
 * container's IOVAs, and a DMA handle names one memory only, so dmacoh_dma_to_virt() of any
 * handle finds the memory it was handed out for. Freeing unmaps the
 * IOVA before the memory goes back to the OS, so a device DMA to it afterwards is refused by
 * the IOMMU; closing the platform unmaps whatever is left.
 *
 * No-IOMMU mode (a kernel built with CONFIG_VFIO_NOIOMMU and vfio.enable_unsafe_noiommu_mode=1;
 * Debian's kernels have no such mode) is used only when opts->allow_noiommu is set: BARs work
 * as above, but there is no IOMMU to map system memory, so no fallback is offered.
 *
 * Devices bound to vfio-pci have PCI Bus Master off until someone turns it on: a device that
 * should DMA (to fallback memory, or anywhere) needs dmacoh_vfio_set_bus_master(v, true).
 *
 * Another process can use the same device from descriptors this one passes over a Unix socket
 * (dmacoh_vfio_send_fds, dmacoh_vfio_attach_fds); it has declared memory but no fallback.
 * Trust: the descriptors give it everything the first process has. The library in the second
 * process never maps or unmaps IOMMU entries, resets the device or touches its interrupts,
 * but its code could: with the container it can map IOVAs the first process would pick next
 * (whose own mappings then fail), and on kernels whose VFIO container is iommufd's
 * compatibility layer, unmap the first one's; with the device it can reset it, take its
 * interrupts, enable bus mastering and have the device read or write all memory the first
 * process has mapped for DMA. A reset by either turns memory decoding off, and vfio-pci then
 * removes the other's BAR mappings (an access is SIGBUS). Send them only to a process trusted
 * with the device.
 *
 * The library never loads modules, binds drivers or writes sysfs; each missing piece is a
 * distinct error with a log line saying what to do (see dmacoh_vfio_open). Paths are
 * parameters so tests can point the platform at a fake tree.
 */
#ifndef DMACOH_VFIO_H
#define DMACOH_VFIO_H

#include <dmacoh/dmacoh.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque VFIO platform instance: one container, one group, one device. */
struct dmacoh_vfio;

/** Options of dmacoh_vfio_open(); a NULL pointer means all defaults. */
struct dmacoh_vfio_opts {
    const char *sysfs_root; /**< "/sys" when NULL */
    const char *dev_root;   /**< "/dev" when NULL (the nodes are <dev_root>/vfio/...) */
    bool allow_noiommu;     /**< accept a no-IOMMU group (unsafe: the device reaches all RAM) */
    bool hugetlb;           /**< back fallback allocations that are whole 2 MiB pages with
                                 hugetlb pages (MAP_HUGETLB; fails if none are reserved) */
    uint64_t iova_base;     /**< lowest IOVA handed out; 0 means 0x100000 (1 MiB) */
    uint64_t iova_limit;    /**< highest IOVA handed out; 0 means no limit but the kernel's
                                 ranges and each device's DMA mask */
};

/**
 * Opens the PCI device `bdf` ("0000:03:00.0") through VFIO.
 *
 * Errors, each with a log line naming the path and what to do:
 * - -DMACOH_EINVAL: NULL out, bdf not a PCI address, iova_base above iova_limit.
 * - -DMACOH_ENOENT: no such PCI device under the sysfs root.
 * - -DMACOH_ENOTSUP: the device has no IOMMU group (no IOMMU enabled: boot with
 *   intel_iommu=on or amd_iommu=on; the log says whether this kernel offers no-IOMMU mode,
 *   or that this cannot be told while vfio is not loaded),
 *   the group is a no-IOMMU group and allow_noiommu is false, the kernel speaks another VFIO
 *   API version, or the container offers neither type1 IOMMU (nor no-IOMMU when that is used).
 * - -DMACOH_ENODEV: no <dev>/vfio/vfio: the vfio modules are not loaded (modprobe vfio-pci);
 *   or that node is not a VFIO container (VFIO_GET_API_VERSION fails on it).
 * - -DMACOH_ENXIO: the device is not bound to vfio-pci - exactly that driver, the basename of
 *   its sysfs `driver` link (the log names its driver, if any, and how to bind vfio-pci) - so
 *   its group node is absent or the group does not hand it out.
 * - -DMACOH_EACCES: the container or group node cannot be opened (needs root or ownership of
 *   <dev>/vfio/<N>; no-IOMMU groups need CAP_SYS_RAWIO).
 * - -DMACOH_EBUSY: the group is not viable (another device of the group is bound to a host
 *   driver; the log names each), or another process has the group open.
 * - -DMACOH_EPERM: the kernel refused the IOMMU type (on x86, usually no interrupt remapping:
 *   vfio_iommu_type1.allow_unsafe_interrupts=1 lifts that, knowingly).
 * - -DMACOH_EIO: sysfs `resource` unreadable, or another VFIO call failed unexpectedly;
 *   -DMACOH_ENOMEM.
 * An IOMMU-info reply whose capability chain leaves the buffer allocated for it (whatever
 * argsz it states) is not an error: the chain is read inside the buffer only, a warning is
 * logged, and without the IOVA-range capability every IOVA counts as usable.
 * Context: any thread; blocks on file I/O and ioctls.
 */
int dmacoh_vfio_open(const char *bdf, const struct dmacoh_vfio_opts *opts,
                     struct dmacoh_vfio **out);

/**
 * Closes it: unmaps from the IOMMU and frees every fallback allocation still outstanding
 * (the device must not DMA to them any more), then closes the device, group and container.
 * An instance from dmacoh_vfio_attach_fds has no fallback and no group: its close closes its
 * copies of the container and device descriptors only (see there).
 * Errors: -DMACOH_EBUSY while a region is declared or a device initialised on its platform
 * (nothing changes). NULL is accepted.
 */
int dmacoh_vfio_close(struct dmacoh_vfio *v);

/** The platform to pass to dmacoh_device_init(). */
struct dmacoh_platform *dmacoh_vfio_platform(struct dmacoh_vfio *v);

/**
 * BAR n's bus address (CPU physical, from sysfs `resource`), size and kind (enum
 * dmacoh_pci_bar_kind of pci.h); any out-pointer may be NULL. Errors: -DMACOH_EINVAL (NULL v,
 * n >= DMACOH_PCI_NBARS), -DMACOH_ENOENT (BAR n is unused).
 */
int dmacoh_vfio_bar(const struct dmacoh_vfio *v, unsigned n, dmacoh_phys_addr_t *bus,
                    uint64_t *size, int *kind);

/**
 * Turns the device's PCI Bus Master bit (bit 2 of the command register) on or off through
 * the VFIO config-space region. A device bound to vfio-pci starts with it off, and its DMA
 * is then silently dropped. Errors: -DMACOH_EINVAL (NULL v), -DMACOH_EIO (config space
 * cannot be read or written).
 */
int dmacoh_vfio_set_bus_master(struct dmacoh_vfio *v, bool enable);

/**
 * Where VFIO region `index` (0-5 the BARs, 7 config space) lies in the device descriptor, for
 * a driver that maps its registers itself: offset, size and VFIO_REGION_INFO_FLAG_* flags
 * (any out-pointer may be NULL). Errors: -DMACOH_EINVAL (NULL v), -DMACOH_ENOENT (no such
 * region), -DMACOH_EIO.
 */
int dmacoh_vfio_region(const struct dmacoh_vfio *v, unsigned index, uint64_t *offset,
                       uint64_t *size, uint32_t *flags);

/**
 * The device descriptor (for pread/pwrite/mmap of regions, interrupts); owned by v, valid
 * until dmacoh_vfio_close. -1 for NULL v.
 */
int dmacoh_vfio_device_fd(const struct dmacoh_vfio *v);

/** True when the device was opened in no-IOMMU mode (no fallback memory then). */
bool dmacoh_vfio_is_noiommu(const struct dmacoh_vfio *v);

/**
 * Hands the device to another process, as DPDK hands VFIO devices to its secondary processes:
 * sends one message on the Unix socket `sock` (stream, datagram or seqpacket) carrying the
 * container and device descriptors (SCM_RIGHTS) and a small header: a magic number and
 * version, the PCI address, whether the device is in no-IOMMU mode, the IOVA ranges this
 * instance picks fallback IOVAs from, and the device-address ranges of the regions declared on
 * it now. The other process builds its own instance over them with dmacoh_vfio_attach_fds().
 * The group descriptor stays here: the device descriptor keeps the group in use, and setup
 * (group, IOMMU type) is this instance's alone. May be called again, for more processes; an
 * attached instance passes the same ranges on (the primary's, as it received them).
 *
 * Declare first: a region declared after the hand-over is not in the message, and the other
 * process cannot then declare the same device range (see dmacoh_vfio_attach_fds). The device
 * ranges sent stay out of this instance's fallback IOVAs until dmacoh_vfio_close, even after
 * their regions are released here: the other process may declare the same memory at the same
 * device addresses once it is free (the machine-wide registry lets one process at a time
 * declare a physical range).
 *
 * Errors (each logged): -DMACOH_EINVAL (NULL v, negative sock, or sock is not a socket),
 * -DMACOH_ERANGE (more than 16 distinct device ranges declared on the platform; nothing
 * changes), -DMACOH_ENOMEM, -DMACOH_EIO (sendmsg failed: the other end closed, the socket is
 * not a Unix socket, ...; the ranges stay held as above). Both descriptors stay open and
 * owned by v.
 * Context: any thread; blocks while the socket is full. Does not raise SIGPIPE.
 */
int dmacoh_vfio_send_fds(struct dmacoh_vfio *v, int sock);

/**
 * Builds a VFIO platform instance in this process from a message dmacoh_vfio_send_fds() sent
 * on `sock` (the "secondary"; the sender is the "primary"). Receives exactly one message and
 * checks it before anything is built: its length, the descriptors it carries (exactly two),
 * the header (magic, version, flags, a well-formed PCI address, ranges), that the first
 * descriptor is a VFIO container speaking this API version with an IOMMU set, that the second
 * is a VFIO PCI device (VFIO_DEVICE_GET_INFO), that <sysfs>/bus/pci/devices/<bdf> exists and is
 * bound to vfio-pci, and that the device behind the descriptor is that one as far as can be
 * told: its vendor and device IDs in config space are those in sysfs and each memory BAR's
 * VFIO region is as large as sysfs says the BAR is.
 *
 * The instance opens no group, sets no IOMMU type and resets nothing: that setup is the
 * primary's. Declared memory works as after dmacoh_vfio_open: the BAR is mapped through this
 * process's own mmap of the device descriptor, and a region declared with the same bus and
 * device addresses as in the primary has the same DMA handles. A declare whose device range
 * lies neither inside a range declared in the primary at hand-over time nor wholly outside the
 * primary's fallback IOVA ranges fails with -DMACOH_EBUSY (the log names the range): the
 * primary may have fallback memory at those IOVAs, which this process cannot see.
 *
 * No fallback: the container's IOVA space is the primary's, so dmacoh_alloc_coherent never
 * falls back to system memory here; where it would, it fails with -DMACOH_ENOTSUP (logged once
 * per instance). Memory the device must reach in RAM is allocated in the primary and its IOVA
 * passed on; or use a declared region. The instance adds no IOMMU mapping.
 *
 * opts: sysfs_root and allow_noiommu are used (a no-IOMMU device is refused without it); the
 * other fields are ignored (NULL: defaults).
 *
 * Errors (each logged; every descriptor received is closed again on any failure):
 * - -DMACOH_EINVAL: NULL out, negative sock or not a socket; a message of the wrong length,
 *   with other than two descriptors, a wrong magic or version, unknown flags, a malformed PCI
 *   address or range.
 * - -DMACOH_EIO: recvmsg failed or the other end closed without a message (a receive timeout
 *   set on the socket with SO_RCVTIMEO ends here too); sysfs or config space unreadable.
 * - -DMACOH_ENODEV: the first descriptor is not a VFIO container, or one with no IOMMU set;
 *   the second is not a VFIO PCI device.
 * - -DMACOH_ENOTSUP: another VFIO API version; a no-IOMMU device without allow_noiommu.
 * - -DMACOH_ENOENT: no such PCI device (or its `resource` file) under the sysfs root.
 * - -DMACOH_ENXIO: the device is not bound to vfio-pci, or the descriptor's IDs or BAR sizes
 *   are not those of the device the message names.
 * - -DMACOH_ENOMEM.
 * Context: any thread; blocks until a message arrives (or the socket's timeout).
 * Lifetime: dmacoh_vfio_close() of this instance closes its copies of the descriptors only:
 * it never unmaps an IOMMU mapping of the primary, unsets the container or resets the
 * device. The device stays open while any process holds its descriptor, even after the
 * primary's close or death (the primary's IOMMU mappings then go with its container, once
 * no process holds that either).
 */
int dmacoh_vfio_attach_fds(int sock, const struct dmacoh_vfio_opts *opts, struct dmacoh_vfio **out);

/** True when v was built by dmacoh_vfio_attach_fds (no fallback memory then). */
bool dmacoh_vfio_is_attached(const struct dmacoh_vfio *v);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_VFIO_H */
