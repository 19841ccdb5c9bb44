/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/linux_export.h - handing a block of declared memory to another process over a Unix
 * socket (Linux).
 *
 * dmacoh_block_send() sends one message: a fixed header (struct dmacoh_block_msg) and, as
 * SCM_RIGHTS ancillary data, the descriptor of the file behind the block (dmacoh/export.h:
 * a memfd, a device DAX node, a BAR's resourceN file, a /dev/uioN node). The receiver calls
 * dmacoh_block_receive(), which checks the message as coming from an untrusted process,
 * maps the block read-write and shared (so each side sees the other's stores), and closes
 * the descriptor; dmacoh_block_unmap() undoes the mapping. The DMA handle travels with the
 * block: it is the same device address in both processes.
 *
 * What the receiver accepts (anything else is refused with a log line, nothing mapped and
 * every received descriptor closed): a message of exactly the header's size with exactly
 * one descriptor; the magic and version below; mode MAP or IO; a size > 0; align a power of
 * two from the page size to 1 GiB, offset a multiple of it; offset + the mapped length not
 * wrapping and below 2^63; and a file of one of these kinds:
 *  - a regular file sealed against shrinking (a memfd with F_SEAL_SHRINK, as the memfd
 *    platform makes) or one on sysfs (a resourceN file, whose size the kernel fixes), not on
 *    hugetlbfs (its sender could punch holes), which must reach past the mapped length: a
 *    sender could otherwise shrink the file under the receiver's mapping, and every access
 *    past its new end would be a SIGBUS;
 *  - a device DAX node, the mapping inside its size (sysfs says both), or a UIO node, whose
 *    driver refuses a mapping larger than its map. The kernel's memory devices (major 1:
 *    /dev/mem, /dev/kmem, /dev/port, ...) and every other character device are refused.
 * A descriptor of the machine-wide registry file is never closed by the receiver (closing it
 * would drop the process's registry entries): it is left open, and a warning says so.
 */
#ifndef DMACOH_LINUX_EXPORT_H
#define DMACOH_LINUX_EXPORT_H

#include <dmacoh/dmacoh.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DMACOH_BLOCK_MSG_MAGIC   0x58424344u /**< "DCBX" in the first four bytes, little endian */
#define DMACOH_BLOCK_MSG_VERSION 1u

/**
 * The header of an export message, in the sender's byte order (both ends are on one machine).
 * Fixed size with no padding, the same on 32- and 64-bit processes.
 */
struct dmacoh_block_msg {
    uint32_t magic;   /**< DMACOH_BLOCK_MSG_MAGIC */
    uint32_t version; /**< DMACOH_BLOCK_MSG_VERSION */
    uint32_t mode;    /**< the region's granted mode: DMACOH_MEMORY_MAP or DMACOH_MEMORY_IO */
    uint32_t flags;   /**< 0 */
    uint64_t size;    /**< bytes of the block */
    uint64_t handle;  /**< its DMA handle */
    uint64_t offset;  /**< file offset to map from: a multiple of align */
    uint64_t delta;   /**< the block's first byte is this far into that mapping */
    uint64_t align;   /**< unit of the mapping's offset, length and address */
};

/** A block received from another process. Fill-in storage of the caller. */
struct dmacoh_imported_block {
    void *cpu;                /**< the block's first byte in this process */
    size_t size;              /**< its size in bytes */
    dmacoh_dma_addr_t handle; /**< its DMA handle (device address), as the sender has it */
    int mode;                 /**< DMACOH_MEMORY_MAP: plain loads and stores; _IO: accessors */
    void *base;               /**< private: the mapping, page (align) aligned around cpu */
    size_t len;               /**< private: its length */
};

/**
 * Sends the block (cpu, size, handle) of dev's region over the connected Unix socket sock as
 * one message (header plus the file's descriptor); see dmacoh_block_file() for what the block
 * must be. Works on stream, datagram and seqpacket sockets; never raises SIGPIPE.
 * Errors (each logged; nothing is sent unless it returns 0, except as noted):
 *  - those of dmacoh_block_file(): -DMACOH_EINVAL, -DMACOH_ENODEV, -DMACOH_EFAULT,
 *    -DMACOH_ENOTSUP (the platform has no file to hand out: /dev/mem, VFIO, hostmem, ...);
 *  - -DMACOH_EINVAL: sock < 0;
 *  - -DMACOH_EIO: a stream socket took only part of the header (the peer sees a short
 *    message and refuses it);
 *  - OS errors of sendmsg (-EPIPE when the peer has gone, -ENOTSOCK, -EAGAIN on a
 *    non-blocking socket that is full, ...).
 * Guarantees: a descriptor opened for the message (PCI sysfs) is closed again; the platform's
 * own descriptors stay open. The receiver gets the whole file (see dmacoh/export.h).
 * Context: thread-safe; blocks while a blocking socket is full.
 */
int dmacoh_block_send(int sock, struct dmacoh_device *dev, void *cpu, size_t size,
                      dmacoh_dma_addr_t handle);

/**
 * Receives one message dmacoh_block_send() sent on sock, checks it (the list in this file's
 * opening comment), maps the block and fills *out. The descriptor is received close-on-exec
 * and closed once mapped, or on any failure.
 * Errors (each logged; nothing is mapped, *out is untouched, no descriptor stays open):
 *  - -DMACOH_EINVAL: sock < 0 or out NULL; a malformed message: shorter or longer than the
 *    header, no descriptor or more than one, wrong magic, version or mode, flags set, size 0,
 *    align not a power of two in [page size, 1 GiB], offset not a multiple of align; a
 *    descriptor that is not a sealed memfd or sysfs file (or is on hugetlbfs), nor a device
 *    DAX or UIO node;
 *  - -DMACOH_EOVERFLOW: offset, delta and size that wrap or do not fit this process;
 *  - -DMACOH_ERANGE: the mapping would reach past the end of the file or DAX device;
 *  - -DMACOH_EPERM: the descriptor is one of the kernel's memory devices (/dev/mem, ...);
 *  - -DMACOH_EIO: the peer closed the socket (no message);
 *  - OS errors of recvmsg, fstat and mmap (-EAGAIN on a non-blocking socket with nothing
 *    to read, -EACCES for a descriptor not open for writing, ...).
 * Guarantees: the mapping is MAP_SHARED and read-write; out->cpu is `delta` bytes into a
 * mapping aligned to the message's align, so a block handle's alignment is kept modulo align.
 * Context: thread-safe; blocks until a message arrives on a blocking socket.
 */
int dmacoh_block_receive(int sock, struct dmacoh_imported_block *out);

/**
 * Unmaps a block dmacoh_block_receive() mapped and clears *b. Errors: -DMACOH_EINVAL (b NULL
 * or not a mapped block: never received, or unmapped already). Context: thread-safe with
 * respect to other blocks; the block must not be in use.
 */
int dmacoh_block_unmap(struct dmacoh_imported_block *b);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_LINUX_EXPORT_H */
