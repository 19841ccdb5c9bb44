/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/pci.h - the PCI platform (Linux sysfs): declared memory in a device's memory BARs.
 *
 * dmacoh_pci_open() reads the device's BARs from <sysfs>/bus/pci/devices/<bdf>/resource. A
 * region declared on a device of this platform must lie inside one memory BAR; it is mapped
 * by mmap of resourceN (resourceN_wc when write-combining was asked and the kernel offers
 * it) at the matching offset, placed so that CPU pointers are congruent to device addresses.
 * The BAR's bus address is the CPU physical address the kernel assigned; the device address
 * is whatever the device uses to reach its own memory (often the BAR offset, or 0).
 *
 * The files are input the library checks rather than trusts: `resource` and resourceN must be
 * regular files, not symbolic links (sysfs makes neither a link), a FIFO is refused without
 * blocking, resourceN must be at least as long as its BAR (sysfs makes it exactly that long;
 * a shorter file would map pages that fault on first touch), and each `resource` line must be
 * three hexadecimal numbers as the kernel prints them. A BAR the kernel flags
 * IORESOURCE_UNSET or IORESOURCE_DISABLED has no address: it is reported as unused.
 *
 * Needs: root (or write access to resourceN), and no kernel driver owning the BAR unless the
 * kernel was booted with iomem=relaxed. Each problem is a distinct error with a log line
 * saying what to do. A region's physical range is claimed for the whole process while it is
 * declared, and in the machine-wide registry for every process: a second instance of the same
 * function, UIO, /dev/mem, device DAX or VFIO over the same BAR, or another process, cannot
 * declare any of its bytes (-DMACOH_EBUSY naming the holder: platform and device, or pid and
 * command). System-memory fallback is not offered by this platform (allocations that
 * would need it fail with -DMACOH_ENOMEM); the sysfs root is a parameter so tests can point
 * it at a fake tree.
 */
#ifndef DMACOH_PCI_H
#define DMACOH_PCI_H

#include <dmacoh/dmacoh.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque PCI platform instance. */
struct dmacoh_pci;

/** Options of dmacoh_pci_open(); a NULL pointer means all defaults. */
struct dmacoh_pci_opts {
    const char *sysfs_root; /**< "/sys" when NULL */
    bool write_combine;     /**< map resourceN_wc where the kernel offers it */
};

/** What a BAR is (from the flags column of sysfs `resource`). */
enum dmacoh_pci_bar_kind {
    DMACOH_PCI_BAR_UNUSED = 0,
    DMACOH_PCI_BAR_MEM = 1,      /**< memory space */
    DMACOH_PCI_BAR_MEM_PREF = 2, /**< prefetchable memory space */
    DMACOH_PCI_BAR_IO = 3,       /**< I/O port space: cannot hold declared memory */
};

/** Number of BARs read (the six standard BARs). */
#define DMACOH_PCI_NBARS 6

/**
 * Opens the PCI device `bdf` ("0000:03:00.0"). Errors: -DMACOH_EINVAL (NULL or malformed bdf,
 * NULL out), -DMACOH_ENOENT (no such device under the sysfs root), -DMACOH_EACCES (cannot
 * read its resource file), -DMACOH_EIO (the resource file is not a regular file, or one of
 * its first six lines is not three hexadecimal numbers as the kernel prints them: too long, a
 * sign, a blank too many, anything after the third; the log names the file and the line),
 * -DMACOH_ENOMEM. A BAR flagged unset or disabled is not an error: it reads as unused, with a
 * warning naming the line. Declaring then fails with -DMACOH_EIO when resourceN (or
 * resourceN_wc) is a symbolic link, not a regular file, or shorter than the BAR.
 * Context: any thread; blocks on file I/O, never on a FIFO.
 */
int dmacoh_pci_open(const char *bdf, const struct dmacoh_pci_opts *opts, struct dmacoh_pci **out);

/**
 * Closes it. Errors: -DMACOH_EBUSY while a region is declared or a device initialised on its
 * platform (nothing changes). NULL is accepted.
 */
int dmacoh_pci_close(struct dmacoh_pci *pci);

/** The platform to pass to dmacoh_device_init(). */
struct dmacoh_platform *dmacoh_pci_platform(struct dmacoh_pci *pci);

/**
 * BAR n's bus address, size and kind (any out-pointer may be NULL). Errors: -DMACOH_EINVAL
 * (NULL pci, n >= DMACOH_PCI_NBARS), -DMACOH_ENOENT (BAR n is unused, or flagged unset or
 * disabled by the kernel).
 */
int dmacoh_pci_bar(const struct dmacoh_pci *pci, unsigned n, dmacoh_phys_addr_t *bus,
                   uint64_t *size, int *kind);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_PCI_H */
