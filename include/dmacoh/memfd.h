/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/memfd.h - the memfd platform (Linux): device memory that lives in a memfd, so a
 * second process (a device model, a test harness) can map the same bytes.
 *
 * dmacoh_memfd_create() makes a window of `size` bytes of "device memory" at bus address
 * `bus`, backed by a memfd (zero-filled). Devices on its platform declare regions inside
 * that window; each region is mapped from the memfd at the matching offset, placed so that CPU
 * pointers are congruent to device addresses. dmacoh_memfd_fd() gives the descriptor to pass
 * to another process (fork, or SCM_RIGHTS over a Unix socket), where dmacoh_memfd_attach()
 * builds the same platform over it: both processes then see every byte the other writes, at
 * the same bus addresses. No system-memory fallback; needs no privilege.
 *
 * The other process cannot crash this one by resizing the window: the memfd is sealed
 * (F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_SEAL), so ftruncate fails with EPERM in every process,
 * and attach refuses a descriptor that is not sealed against shrinking (a file that shrinks
 * under a shared mapping makes every access beyond its new end a SIGBUS).
 */
#ifndef DMACOH_MEMFD_H
#define DMACOH_MEMFD_H

#include <dmacoh/dmacoh.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque memfd platform instance. */
struct dmacoh_memfd;

/**
 * Creates the window: a memfd of `size` bytes, sealed so that its size never changes
 * (F_SEAL_SHRINK | F_SEAL_GROW) and no further seal can be added (F_SEAL_SEAL).
 * Errors: -DMACOH_EINVAL (NULL out, size 0 or not a multiple of 4 KiB, bus not 4 KiB
 * aligned), -DMACOH_ERANGE (bus + size wraps), -DMACOH_ENOMEM, OS errors of
 * memfd_create/ftruncate/fcntl(F_ADD_SEALS) (each logged). Context: any thread.
 */
int dmacoh_memfd_create(dmacoh_phys_addr_t bus, uint64_t size, struct dmacoh_memfd **out);

/**
 * Builds the platform over a descriptor received from the creating process (it is dup'ed:
 * the caller keeps its own). bus and size must be those of the creator. Errors: as create,
 * and -DMACOH_EINVAL when fd is not a regular file of at least `size` bytes, or is not
 * sealed against shrinking (F_SEAL_SHRINK: a window from dmacoh_memfd_create is; a file or
 * memfd of another origin must be sealed by its creator first), each logged.
 * Guarantees: the window cannot shrink under this process's mappings.
 */
int dmacoh_memfd_attach(int fd, dmacoh_phys_addr_t bus, uint64_t size, struct dmacoh_memfd **out);

/** The descriptor to pass to another process (owned by the platform: dup it to keep it). */
int dmacoh_memfd_fd(const struct dmacoh_memfd *m);

/** Closes it. Errors: -DMACOH_EBUSY while regions or devices are on its platform. */
int dmacoh_memfd_close(struct dmacoh_memfd *m);

/** The platform to pass to dmacoh_device_init(). */
struct dmacoh_platform *dmacoh_memfd_platform(struct dmacoh_memfd *m);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_MEMFD_H */
