/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/sim.h - the simulated platform (hosted Linux; needs no hardware or privilege).
 *
 * A simulated physical address space. A program places on-chip memories in it at chosen bus
 * addresses (dmacoh_sim_add_memory); devices then declare regions on those bus ranges with
 * whatever device address the simulated bus gives them. Each memory is backed by a memfd, so
 * its contents outlive declare/release like real on-card memory, and every view of it (MAP
 * pointers, IO cookies, the simulated bus side) is a separate mapping of the same pages.
 *
 * System memory (fallback) is a simulated RAM window at bus address opts.ram_base; its DMA
 * handles are identity: device address == bus address == ram_base + offset, allocated with the
 * same page allocator and alignment promise as declared memory, and always below the
 * requesting device's DMA mask (or refused with -DMACOH_ERANGE).
 *
 * The simulated bus side (dmacoh_sim_bus_read/write) is what a device model uses to perform
 * "DMA": it reads and writes by bus address, so a test can check from outside that data
 * written through an allocation landed at the right place.
 *
 * Another process can see a memory too: dmacoh_sim_memory_fd gives the memfd behind it, to pass
 * over a Unix socket (SCM_RIGHTS), and dmacoh_sim_add_memory_fd places the received
 * descriptor in that process's own simulator. Both then see every store the other makes, so two
 * unrelated processes can share a region of it (include/dmacoh/shared.h). Every memfd the
 * simulator makes is sealed against resizing (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), as
 * memfd.h's windows are, so no process can shrink it under another's mappings (which would
 * turn their accesses into SIGBUS).
 */
#ifndef DMACOH_SIM_H
#define DMACOH_SIM_H

#include <dmacoh/types.h>
#include <dmacoh/errno.h>
#include <dmacoh/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque simulator instance. */
struct dmacoh_sim;

/** Options of dmacoh_sim_create(); a NULL pointer means all defaults. */
struct dmacoh_sim_opts {
    bool no_declare; /**< a platform that cannot declare memory (the RFC's "return 0") */
    dmacoh_phys_addr_t ram_base; /**< bus address of simulated RAM; 0 = 0x40000000 */
    uint64_t ram_size;           /**< bytes of simulated RAM; 0 = 64 MiB */
    bool no_ram;                 /**< no system memory at all: every fallback fails */
};

/**
 * Creates a simulator. Errors: -DMACOH_EINVAL (out NULL, ram window misaligned to 4 KiB or
 * wraps), -DMACOH_ENOMEM, OS errors of memfd_create/mmap. Context: any thread.
 */
int dmacoh_sim_create(const struct dmacoh_sim_opts *opts, struct dmacoh_sim **out);

/**
 * Destroys a simulator. Errors: -DMACOH_EBUSY while a region is still declared on its
 * platform, a device on it is not retired (dmacoh_device_fini), or system memory it handed
 * out is not freed (nothing changes then). NULL is accepted and does nothing.
 */
int dmacoh_sim_destroy(struct dmacoh_sim *sim);

/** The platform to pass to dmacoh_device_init(). Never NULL for a live sim. */
struct dmacoh_platform *dmacoh_sim_platform(struct dmacoh_sim *sim);

/** Modes a simulated memory offers (values of DMACOH_MEMORY_MAP / _IO). */
struct dmacoh_sim_memory {
    dmacoh_phys_addr_t bus; /**< bus base, 4 KiB aligned */
    uint64_t size;          /**< bytes, a non-zero multiple of 4 KiB */
    int modes;              /**< DMACOH_MEMORY_MAP and/or DMACOH_MEMORY_IO that can be granted */
    bool shared;            /**< several devices may declare it (one allocator) */
    unsigned io_width;      /**< widest access the memory takes (1/2/4/8); 0 = 8 */
};

/**
 * Places a memory in the simulated address space, zero-filled, backed by a new memfd sealed
 * against resizing (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL).
 * Errors: -DMACOH_EINVAL (sim or mem NULL, misaligned, size 0, modes without MAP/IO, bad
 * io_width), -DMACOH_ERANGE (wraps), -DMACOH_EBUSY (overlaps another memory or the RAM
 * window), -DMACOH_ENOMEM (64 memories already placed), -DMACOH_EOVERFLOW (larger than the
 * address space), OS errors of memfd_create/ftruncate/fcntl/mmap (logged).
 * Context: not thread-safe with other calls on the same sim.
 */
int dmacoh_sim_add_memory(struct dmacoh_sim *sim, const struct dmacoh_sim_memory *mem);

/**
 * Places a memory whose bytes are those of a descriptor received from another process
 * (dmacoh_sim_memory_fd there): the same memory, seen by both. mem describes it in this
 * simulator: bus may differ from the other process's (a shared region must then be declared
 * at the same bus in both: dmacoh_declare_shared_memory compares bus bases), modes, shared and
 * io_width are this simulator's. fd is duplicated (close-on-exec): the caller keeps its own
 * and may close it at once.
 * @param[in] sim  the simulator
 * @param[in] mem  where and how to place it; mem->size bytes of fd, from offset 0
 * @param[in] fd   a regular file of at least mem->size bytes, sealed against shrinking
 * Errors: those of dmacoh_sim_add_memory, and -DMACOH_EINVAL when fd is not a regular file,
 * is not sealed against shrinking (F_SEAL_SHRINK: a memory of dmacoh_sim_memory_fd or a window
 * of dmacoh_memfd_create is; a file that is not a memfd cannot be), or holds fewer than
 * mem->size bytes, each logged; -EMFILE and the like when the descriptor cannot be duplicated.
 * Nothing is placed on any error.
 * Guarantees: the memory cannot shrink under this process's mappings; it starts with whatever
 * bytes the file holds (not zeroed).
 * Context: not thread-safe with other calls on the same sim.
 * Ownership: the duplicate is closed by dmacoh_sim_destroy.
 */
int dmacoh_sim_add_memory_fd(struct dmacoh_sim *sim, const struct dmacoh_sim_memory *mem, int fd);

/**
 * The memfd behind the placed memory that holds bus address bus, for passing to another
 * process (SCM_RIGHTS over a Unix socket), where dmacoh_sim_add_memory_fd places it. The
 * descriptor is sealed against resizing and close-on-exec.
 * Returns the descriptor (>= 0), or -DMACOH_EINVAL (sim NULL), -DMACOH_ENXIO (no memory holds
 * bus, or it is the simulated RAM, which stays private to this simulator), each logged.
 * Context: any thread, but not while another places a memory on the same sim.
 * Ownership: the simulator's; valid until dmacoh_sim_destroy (dup it to keep it longer).
 * Never close it.
 */
int dmacoh_sim_memory_fd(struct dmacoh_sim *sim, dmacoh_phys_addr_t bus);

/**
 * The device side of the bus: copies len bytes at bus address bus into buf (read) or from buf
 * (write), as a device's DMA engine would. Works on placed memories and on the RAM window.
 * Errors: -DMACOH_EINVAL (NULL arguments), -DMACOH_ENXIO (any byte of the range is not backed).
 * Context: any thread.
 */
int dmacoh_sim_bus_read(struct dmacoh_sim *sim, dmacoh_phys_addr_t bus, void *buf, size_t len);
int dmacoh_sim_bus_write(struct dmacoh_sim *sim, dmacoh_phys_addr_t bus, const void *buf,
                         size_t len);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_SIM_H */
