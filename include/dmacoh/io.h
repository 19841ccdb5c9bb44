/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/io.h - accessors for IO regions (the pointer dma_alloc_coherent returns for a region
 * granted DMACOH_MEMORY_IO is a cookie for these functions only).
 *
 * Layering follows include/asm-generic/io.h: a raw native-endian primitive
 * (dmacoh_raw_read32), a _relaxed little-endian accessor without barriers, and the ordered
 * default (dmacoh_ioread32). Device memory is little-endian, as with the kernel's ioread32.
 * The barriers, the _relaxed accessors and the ordered ones are each wrapped in #ifndef, so a
 * port header (DMACOH_CONFIG_HEADER) may replace the groups its CPU needs, as macros (a
 * replacement passes the address through dmacoh__io_addr() first, below). Accessors are width-specific, so an invalid width cannot be written.
 *
 * Ordering (the kernel's promise for readl/writel): an ordered write is not issued before
 * earlier memory writes of this thread (so a descriptor written to RAM is visible before the
 * doorbell), and an ordered read completes before later memory reads of this thread start.
 *
 * Block copies (memcpy_toio, memcpy_fromio, memset_io) are out of line. They respect the
 * access-width cap of the region the address belongs to (dmacoh_declare_opts.io_width): a
 * region capped at 4 bytes never sees an 8-byte access, whatever the alignment and length;
 * the _width variants take the cap explicitly.
 *
 * In debug mode with DMACOH_DEBUG_IO_COOKIES, every accessor here, single or block, accepts
 * the cookies of IO regions and reaches the memory behind them, while a direct dereference of
 * a cookie faults (see dmacoh/debug.h).
 */
#ifndef DMACOH_IO_H
#define DMACOH_IO_H

#include <stddef.h>
#include <stdint.h>
#include <dmacoh/config.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Barriers. x86 keeps loads and stores to uncached memory in program order, so a compiler
 * barrier suffices around IO (as the kernel's __iormb/__iowmb on x86); weaker CPUs fence.
 */
#ifndef dmacoh_io_barrier_before_write
#if defined(__x86_64__) || defined(__i386__)
#define dmacoh_io_barrier_before_write() __asm__ __volatile__("" ::: "memory")
#define dmacoh_io_barrier_after_read()   __asm__ __volatile__("" ::: "memory")
#elif defined(__aarch64__)
#define dmacoh_io_barrier_before_write() __asm__ __volatile__("dmb oshst" ::: "memory")
#define dmacoh_io_barrier_after_read()   __asm__ __volatile__("dmb oshld" ::: "memory")
#else
#define dmacoh_io_barrier_before_write() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define dmacoh_io_barrier_after_read()   __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#endif

/** Full barrier between CPU memory accesses and device accesses (the kernel's mb()). */
#ifndef dmacoh_mb
#define dmacoh_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

/* Little-endian conversion of device data. */
#if defined(__BYTE_ORDER__) && (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
#define DMACOH__LE16(x) __builtin_bswap16(x)
#define DMACOH__LE32(x) __builtin_bswap32(x)
#define DMACOH__LE64(x) __builtin_bswap64(x)
#else
#define DMACOH__LE16(x) (x)
#define DMACOH__LE32(x) (x)
#define DMACOH__LE64(x) (x)
#endif

/*
 * IO cookies in debug mode (dmacoh/debug.h, DMACOH_DEBUG_IO_COOKIES): the pointer handed out
 * for an IO region then points into address space that faults on any access, and the
 * accessors below translate it to the mapping first. dmacoh__io_cookies counts the regions
 * whose pointers are such cookies; while it is zero an accessor pays one relaxed load and a
 * predicted branch. dmacoh__io_resolve() returns the mapping behind a cookie, and any other
 * address unchanged.
 */
extern unsigned dmacoh__io_cookies;
volatile void *dmacoh__io_resolve(const volatile void *addr);

static inline volatile void *dmacoh__io_addr(const volatile void *addr)
{
    if (__builtin_expect(__atomic_load_n(&dmacoh__io_cookies, __ATOMIC_RELAXED) != 0, 0))
        return dmacoh__io_resolve(addr);
    return (volatile void *)(uintptr_t)addr;
}

/* Untranslated single accesses: one load or store of exactly that width at addr. */
#define DMACOH__RAW(bits)                                                                          \
    static inline uint##bits##_t dmacoh__raw_read##bits(const volatile void *addr)                 \
    {                                                                                              \
        return *(const volatile uint##bits##_t *)addr;                                             \
    }                                                                                              \
    static inline void dmacoh__raw_write##bits(uint##bits##_t v, volatile void *addr)              \
    {                                                                                              \
        *(volatile uint##bits##_t *)addr = v;                                                      \
    }                                                                                              \
    static inline uint##bits##_t dmacoh_raw_read##bits(const volatile void *addr)                  \
    {                                                                                              \
        return dmacoh__raw_read##bits(dmacoh__io_addr(addr));                                      \
    }                                                                                              \
    static inline void dmacoh_raw_write##bits(uint##bits##_t v, volatile void *addr)               \
    {                                                                                              \
        dmacoh__raw_write##bits(v, dmacoh__io_addr(addr));                                         \
    }
/* Raw native-endian single accesses (dmacoh_raw_read32...): the above after the cookie
 * translation. */
DMACOH__RAW(8)
DMACOH__RAW(16)
DMACOH__RAW(32)
DMACOH__RAW(64)
#undef DMACOH__RAW

/* Relaxed little-endian accessors: no ordering against normal memory. */
#ifndef dmacoh_ioread8_relaxed
#define DMACOH__RELAXED(bits, conv)                                                                \
    static inline uint##bits##_t dmacoh_ioread##bits##_relaxed(const volatile void *addr)          \
    {                                                                                              \
        return (uint##bits##_t)conv(dmacoh_raw_read##bits(addr));                                  \
    }                                                                                              \
    static inline void dmacoh_iowrite##bits##_relaxed(uint##bits##_t v, volatile void *addr)       \
    {                                                                                              \
        dmacoh_raw_write##bits((uint##bits##_t)conv(v), addr);                                     \
    }
#define DMACOH__ID(x) (x)
DMACOH__RELAXED(8, DMACOH__ID)
DMACOH__RELAXED(16, DMACOH__LE16)
DMACOH__RELAXED(32, DMACOH__LE32)
DMACOH__RELAXED(64, DMACOH__LE64)
#undef DMACOH__RELAXED
#undef DMACOH__ID
#endif

/* Ordered accessors (the kernel's ioread32/iowrite32 and readl/writel). */
#ifndef dmacoh_ioread8
#define DMACOH__ORDERED(bits)                                                                      \
    static inline uint##bits##_t dmacoh_ioread##bits(const volatile void *addr)                    \
    {                                                                                              \
        uint##bits##_t v = dmacoh_ioread##bits##_relaxed(addr);                                    \
        dmacoh_io_barrier_after_read();                                                            \
        return v;                                                                                  \
    }                                                                                              \
    static inline void dmacoh_iowrite##bits(uint##bits##_t v, volatile void *addr)                 \
    {                                                                                              \
        dmacoh_io_barrier_before_write();                                                          \
        dmacoh_iowrite##bits##_relaxed(v, addr);                                                   \
    }
DMACOH__ORDERED(8)
DMACOH__ORDERED(16)
DMACOH__ORDERED(32)
DMACOH__ORDERED(64)
#undef DMACOH__ORDERED
#endif

/**
 * Copies n bytes from normal memory to IO memory. Any alignment and length; accesses are
 * naturally aligned and no wider than the cap of the region dst lies in (8 bytes when dst is
 * in no capped region). Ordered as an iowrite: earlier memory writes are visible first.
 * Context: any thread; never blocks. n == 0 does nothing.
 */
void dmacoh_memcpy_toio(volatile void *dst, const void *src, size_t n);

/** Copies n bytes from IO memory to normal memory; widths and ordering as memcpy_toio. */
void dmacoh_memcpy_fromio(void *dst, const volatile void *src, size_t n);

/** Fills n bytes of IO memory with (unsigned char)c; widths and ordering as memcpy_toio. */
void dmacoh_memset_io(volatile void *dst, int c, size_t n);

/** As above with an explicit width cap (1, 2, 4 or 8; other values are taken as 1). */
void dmacoh_memcpy_toio_width(volatile void *dst, const void *src, size_t n, unsigned width);
void dmacoh_memcpy_fromio_width(void *dst, const volatile void *src, size_t n, unsigned width);
void dmacoh_memset_io_width(volatile void *dst, int c, size_t n, unsigned width);

/**
 * The access-width cap (1/2/4/8) that applies at addr: that of the declared region containing
 * it (through its mapping or its IO cookie), 8 otherwise. Context: any thread; lock-free,
 * O(number of regions with a cap or with cookies).
 */
unsigned dmacoh_io_width_at(const volatile void *addr);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_IO_H */
