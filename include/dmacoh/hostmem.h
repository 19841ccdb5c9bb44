/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/hostmem.h - system memory with real DMA addresses (Linux, no IOMMU in the way).
 *
 * The fallback (docs/design.md rule 6) on a machine where devices reach RAM at its physical
 * address (no IOMMU, or one in pass-through mode): pinned memory whose DMA handle is the
 * physical address the kernel reports in /proc/self/pagemap.
 *
 * Where the memory comes from. Memory is taken in chunks, each handed out by the library's
 * own page allocator (a dmacoh_window), so every allocation keeps the alignment promise of
 * declared memory and every free is checked:
 *  - an allocation of at most one page gets a chunk of one ordinary page, locked in RAM with
 *    mlock;
 *  - anything larger comes from hugetlb pages (2 MiB on x86-64), each of which is physically
 *    contiguous; an allocation that fits the free room of an existing huge chunk shares it.
 *    An allocation larger than one huge page needs several, and the kernel does not promise
 *    that they are adjacent: the platform reads every page's frame number and refuses (with
 *    -DMACOH_ENOMEM and a log line) unless they are consecutive and aligned as the handle
 *    must be. Nothing is ever handed out that is not verified contiguous.
 *
 * Needs: root (CAP_SYS_ADMIN), because the kernel hides frame numbers from everyone else
 * (they read as 0): that case fails with -DMACOH_EPERM and a log line saying so. Huge pages
 * must be reserved for anything larger than one page (echo 16 > /proc/sys/vm/nr_hugepages);
 * without them such allocations fail with -DMACOH_ENOMEM and a log line saying how. An IOMMU
 * that translates (not pass-through) makes physical addresses useless to the device: use the
 * VFIO platform's IOVA fallback there. mlock keeps single pages resident but the kernel may
 * still migrate them (compaction, when vm.compact_unevictable_allowed is 1, the default); set
 * it to 0, or use huge pages, where a device may hold a handle for long.
 *
 * Composition. A hostmem platform can stand in front of another platform that knows the
 * declared memory: with opts.declared set, map/unmap of declared regions go to that platform
 * (PCI BARs, UIO maps, /dev/mem, ...) and only the fallback is hostmem's. Initialise devices
 * on the hostmem platform and declare through it; do not declare on the inner platform
 * directly as well (overlapping declarations are refused per platform). Close hostmem first,
 * then the inner platform.
 */
#ifndef DMACOH_HOSTMEM_H
#define DMACOH_HOSTMEM_H

#include <dmacoh/dmacoh.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque hostmem platform instance. */
struct dmacoh_hostmem;

/** Options of dmacoh_hostmem_open(); a NULL pointer means all defaults. */
struct dmacoh_hostmem_opts {
    const char *pagemap_path;         /**< "/proc/self/pagemap" when NULL */
    struct dmacoh_platform *declared; /**< maps declared memory; NULL: no declared memory */
    /**
     * Take multi-page chunks from ordinary pages instead of hugetlb pages. They are locked and
     * their frame numbers checked like any other, so on a real kernel such allocations mostly
     * fail as not contiguous; for tests, and for machines with no huge pages where only
     * single pages are needed.
     */
    bool no_hugetlb;
    /** Bytes of a multi-page chunk: 0 means 2 MiB (the hugetlb page). A power of two, at least
     * one page; with hugetlb it must be the kernel's default huge page size. */
    uint64_t chunk_size;
};

/**
 * Opens a hostmem platform. Nothing is allocated or checked yet (the page map is read at the
 * first allocation, so a missing privilege shows there). Errors: -DMACOH_EINVAL (NULL out,
 * chunk_size not a power of two of at least a page, a path too long), -DMACOH_ENOMEM.
 * Context: any thread.
 */
int dmacoh_hostmem_open(const struct dmacoh_hostmem_opts *opts, struct dmacoh_hostmem **out);

/**
 * Closes it. Errors: -DMACOH_EBUSY while system memory it handed out is not freed, or a
 * region or device is still on its platform (nothing changes). NULL is accepted.
 */
int dmacoh_hostmem_close(struct dmacoh_hostmem *hm);

/** The platform to pass to dmacoh_device_init(). */
struct dmacoh_platform *dmacoh_hostmem_platform(struct dmacoh_hostmem *hm);

/**
 * Reads the physical address of the byte at `cpu` (any mapped, present page of the process)
 * from the page map. Errors: -DMACOH_EINVAL (NULL arguments), -DMACOH_EACCES (the page map
 * cannot be opened), -DMACOH_EPERM (frame numbers hidden: not root), -DMACOH_EFAULT (the page
 * is not present), -DMACOH_EIO. A diagnostic for tests and tools; allocations do it already.
 */
int dmacoh_hostmem_phys(struct dmacoh_hostmem *hm, const void *cpu, dmacoh_phys_addr_t *phys);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_HOSTMEM_H */
