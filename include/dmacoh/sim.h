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
 * Places a memory in the simulated address space, zero-filled.
 * Errors: -DMACOH_EINVAL (misaligned, size 0, modes without MAP/IO, bad io_width),
 * -DMACOH_ERANGE (wraps), -DMACOH_EBUSY (overlaps another memory or the RAM window),
 * -DMACOH_ENOMEM / OS errors. Context: not thread-safe with other calls on the same sim.
 */
int dmacoh_sim_add_memory(struct dmacoh_sim *sim, const struct dmacoh_sim_memory *mem);

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
