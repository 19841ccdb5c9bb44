/* SPDX-License-Identifier: MIT */
/*
 * internal.h - helpers shared by the Linux platform backends (common.c).
 */
#ifndef DMACOH_LINUX_INTERNAL_H
#define DMACOH_LINUX_INTERNAL_H

#include <dmacoh/dmacoh.h>

/* Metadata memory from the C heap, zeroed. */
void *dmacoh__linux_meta_alloc(void *ctx, size_t size);
void dmacoh__linux_meta_free(void *ctx, void *p, size_t size);

/* Sleeping on a word with a futex, monotonic time, and a yield while spinning. */
int dmacoh__linux_wait(void *ctx, const uint32_t *word, uint32_t expected, uint64_t timeout_ns);
void dmacoh__linux_wake(void *ctx, uint32_t *word);
uint64_t dmacoh__linux_now_ns(void *ctx);
void dmacoh__linux_relax(void *ctx);
unsigned dmacoh__linux_thread_slot(void *ctx);

/* Reads one number (decimal, or hex with 0x) from a sysfs attribute file: 0, -DMACOH_ENOENT
 * (no file), -DMACOH_EACCES, -DMACOH_EIO (not a number) or another -errno. */
int dmacoh__linux_read_u64(const char *path, uint64_t *v);

/*
 * The mode a mapping of device memory (a BAR, a UIO map, /dev/mem) may be granted. On x86 an
 * uncached mapping takes any access, so MAP (plain loads, stores, memset) is safe. On other
 * CPUs (arm64 maps such memory as Device memory) unaligned accesses and cache-zeroing
 * instructions fault, and memset/memcpy use both: only IO (the width-aware accessors) is
 * granted there. Returns 0 when none of `want` can be granted.
 */
static inline int dmacoh__linux_device_mode(int want)
{
#if defined(__x86_64__) || defined(__i386__)
    if (want & DMACOH_MEMORY_MAP)
        return DMACOH_MEMORY_MAP;
#endif
    return want & DMACOH_MEMORY_IO;
}

/* Maps len bytes of fd at file offset off (page aligned) so that the address plus `delta` is
 * congruent to `target` modulo `cong` (a power of two). Returns the mapping or NULL with
 * *err set. */
void *dmacoh__linux_map_congruent(int fd, uint64_t off, uint64_t len, uint64_t delta,
                                  uint64_t target, uint64_t cong, int *err);

/*
 * Maps len bytes of fd from file offset off (page aligned) for a region whose first byte is
 * delta bytes in, congruent as map_congruent places it, and fills out->cpu and out->priv;
 * out->mode, shared and io_width are the caller's. Undone by dmacoh__linux_unmap. Returns 0 or
 * a negative code (-DMACOH_ENOMEM, mapping errors).
 */
int dmacoh__linux_map_fd(int fd, uint64_t off, uint64_t len, uint64_t delta,
                         dmacoh_dma_addr_t device_addr, uint64_t congruence,
                         struct dmacoh_mapping *out);
void dmacoh__linux_unmap(void *ctx, struct dmacoh_mapping *m, uint64_t size);

/* The services every Linux platform shares: heap metadata, futex sleeping, thread slots. */
#define DMACOH__LINUX_SERVICE_OPS                                                                  \
    .meta_alloc = dmacoh__linux_meta_alloc, .meta_free = dmacoh__linux_meta_free,                  \
    .wait = dmacoh__linux_wait, .wake = dmacoh__linux_wake, .now_ns = dmacoh__linux_now_ns,        \
    .relax = dmacoh__linux_relax, .thread_slot = dmacoh__linux_thread_slot

/* Those plus unmap of what dmacoh__linux_map_fd mapped. */
#define DMACOH__LINUX_COMMON_OPS .unmap = dmacoh__linux_unmap, DMACOH__LINUX_SERVICE_OPS

/* Test seam of hostmem.c: when set, called with each chunk just mapped, populated and locked,
 * before its page-map entries are read, so a unit test can write fake entries for exactly
 * those pages into the file it named as the page map. NULL (never set) in real use. */
extern void (*dmacoh__hostmem_mapped_hook)(const void *cpu, size_t len);

#endif /* DMACOH_LINUX_INTERNAL_H */
