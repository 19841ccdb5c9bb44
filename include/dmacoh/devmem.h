/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/devmem.h - the /dev/mem platform (Linux): declared memory at a physical address, for
 * SoC on-chip SRAM that no driver exposes.
 *
 * A region's bus address is the physical address; it is mapped from /dev/mem at that offset,
 * uncached on x86 (the file is opened O_SYNC) unless cached mapping was asked, placed so that
 * CPU pointers are congruent to device addresses. On other CPUs the kernel maps such memory as
 * device memory whatever the flags, and only DMACOH_MEMORY_IO is granted (plain memset/memcpy
 * fault there). Needs root (CAP_SYS_RAWIO) and a kernel that lets /dev/mem reach the range:
 * CONFIG_STRICT_DEVMEM refuses RAM, CONFIG_IO_STRICT_DEVMEM refuses ranges a driver claimed
 * (`iomem=relaxed` lifts that). The path is a parameter so tests can use a plain file. No
 * system-memory fallback.
 */
#ifndef DMACOH_DEVMEM_H
#define DMACOH_DEVMEM_H

#include <dmacoh/dmacoh.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque /dev/mem platform instance. */
struct dmacoh_devmem;

/** Options of dmacoh_devmem_open(); a NULL pointer means all defaults. */
struct dmacoh_devmem_opts {
    const char *path; /**< "/dev/mem" when NULL */
    bool cached; /**< x86: map cacheable (no O_SYNC); default uncached, as device memory wants */
};

/**
 * Opens the memory device. Errors: -DMACOH_EACCES (not root / no CAP_SYS_RAWIO),
 * -DMACOH_ENOENT (no such file), -DMACOH_EINVAL (NULL out), -DMACOH_ENOMEM.
 * Context: any thread.
 */
int dmacoh_devmem_open(const struct dmacoh_devmem_opts *opts, struct dmacoh_devmem **out);

/** Closes it. Errors: -DMACOH_EBUSY while regions or devices are on its platform. */
int dmacoh_devmem_close(struct dmacoh_devmem *dm);

/** The platform to pass to dmacoh_device_init(). */
struct dmacoh_platform *dmacoh_devmem_platform(struct dmacoh_devmem *dm);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_DEVMEM_H */
