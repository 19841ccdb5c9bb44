/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/registry.h - the machine-wide registry of declared physical memory (Linux): which
 * process holds which bus range, exclusively or as one of a shared region's processes.
 *
 * Every process that declares physical memory (PCI, UIO, VFIO, /dev/mem, device DAX) holds a
 * record lock over its range in one file, /run/dmacoh/registry by default (DMACOH_REGISTRY:
 * a path, or "none" to turn it off); the kernel drops a dead process's locks, so the registry
 * never names a dead holder (docs/design.md, "Machine-wide registry"). Regions of memory no
 * bus address names (the simulator, memfd, hostmem's fallback) are not in it.
 */
#ifndef DMACOH_REGISTRY_H
#define DMACOH_REGISTRY_H

#include <dmacoh/types.h>
#include <dmacoh/errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One held range, as dmacoh_registry_walk reports it. */
struct dmacoh_registry_entry {
    dmacoh_phys_addr_t bus; /**< its first byte */
    uint64_t size;          /**< bytes (adjacent ranges of one holder come merged) */
    uint64_t pid;           /**< the holder, in the caller's pid namespace; 0 when unknown */
    char comm[17];          /**< its command (/proc/<pid>/comm), or "?" */
    bool shared;            /**< held as a shared region's range (other holders may share it) */
};

/**
 * Calls fn for every range held in the registry, sorted by bus address (then pid); a range
 * held by several processes of a shared region comes once per holder. Stops when fn returns
 * non-zero and returns that value. No registry file yet (no process has declared physical
 * memory since boot) is 0 with no call. Reading needs only read access to the file (it is
 * created 0644; a process that holds no range reads it through a read-only descriptor of
 * its own, so a walk creates no file or folder); the walk blocks nobody. The caller's own ranges are reported too. Errors: -DMACOH_EINVAL (fn NULL),
 * -DMACOH_ENOENT (the registry is turned off, or cannot be opened: the line says why), OS
 * errors of querying the locks; each logged. Context: any thread; the ranges are collected
 * first and fn is called with no lock held, so it may call the library. Complexity: O(held ranges * log).
 */
int dmacoh_registry_walk(int (*fn)(void *user, const struct dmacoh_registry_entry *e), void *user);

/**
 * The registry's path as this process uses it (DMACOH_REGISTRY, read with secure_getenv, else
 * /run/dmacoh/registry), or NULL when turned off. Context: any.
 */
const char *dmacoh_registry_path(void);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_REGISTRY_H */
