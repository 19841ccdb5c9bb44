/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/dma-mapping.h - the RFC's API, exactly: dma_declare_coherent_memory(),
 * dma_release_declared_memory(), dma_alloc_coherent(), dma_free_coherent(),
 * dma_mark_declared_memory_occupied(), the DMA_MEMORY_* flags, plus the IO accessors with
 * their kernel names. Driver code written against the RFC compiles unchanged.
 *
 * struct device. By default this header defines
 *     struct device { struct dmacoh_device dmacoh; };
 * and a driver sets one up with dmacoh_device_init(&dev->dmacoh, name, parent, platform)
 * (parent being &parent_dev->dmacoh). A program with a struct device of its own (a driver
 * framework) defines DMACOH_DEVICE_TO_CORE(dev) before including this header, to an
 * expression yielding the struct dmacoh_device * inside its device, and the default is
 * not defined. Everything here is static inline over the namespaced API, so the library
 * exports no unprefixed symbols and cannot clash with another dma_* implementation.
 *
 * Every function below checks its arguments as the namespaced one does: a bad call fails
 * (0, NULL or an error pointer, as the RFC's shape allows), logs why, and changes nothing.
 */
#ifndef DMACOH_DMA_MAPPING_H
#define DMACOH_DMA_MAPPING_H

#include <dmacoh/dmacoh.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef DMACOH_NO_DMA_ADDR_T
typedef dmacoh_dma_addr_t dma_addr_t;
#endif

#ifndef DMACOH_DEVICE_TO_CORE
/** The RFC's struct device: a dmacoh device, to be set up with dmacoh_device_init(). */
struct device {
    struct dmacoh_device dmacoh;
};
#define DMACOH_DEVICE_TO_CORE(dev) (&(dev)->dmacoh)
#endif

#define DMA_MEMORY_MAP               DMACOH_MEMORY_MAP
#define DMA_MEMORY_IO                DMACOH_MEMORY_IO
#define DMA_MEMORY_INCLUDES_CHILDREN DMACOH_MEMORY_INCLUDES_CHILDREN
#define DMA_MEMORY_EXCLUSIVE         DMACOH_MEMORY_EXCLUSIVE

#ifndef PAGE_SIZE
#define PAGE_SIZE DMACOH_PAGE_SIZE
#endif

#ifndef DMA_BIT_MASK
#define DMA_BIT_MASK(n) DMACOH_BIT_MASK(n)
#endif

/*
 * Allocation flags. The RFC passes the kernel's gfp flags through `int flag`. No allocation
 * here sleeps for room (the RFC fails when an exclusive region is full), so GFP_KERNEL and
 * GFP_ATOMIC behave alike; memory is always zeroed, as the kernel has done since 5.0. Bits
 * this header does not define are ignored, as the kernel ignores zone modifiers here.
 */
#ifndef GFP_KERNEL
#define GFP_KERNEL 0x0cc0
#endif
#ifndef GFP_ATOMIC
#define GFP_ATOMIC 0x0a20
#endif
#ifndef GFP_DMA
#define GFP_DMA 0x01
#endif
#ifndef __GFP_ZERO
#define __GFP_ZERO 0x100
#endif

/* Error pointers, as the kernel's include/linux/err.h spells them. A program with its own
 * err.h defines DMACOH_NO_ERR_PTR first. */
#ifndef DMACOH_NO_ERR_PTR
#ifndef MAX_ERRNO
#define MAX_ERRNO 4095
#endif
static inline void *ERR_PTR(long error)
{
    return (void *)error;
}
static inline long PTR_ERR(const void *ptr)
{
    return (long)ptr;
}
static inline bool IS_ERR(const void *ptr)
{
    return (unsigned long)ptr >= (unsigned long)-MAX_ERRNO;
}
static inline bool IS_ERR_OR_NULL(const void *ptr)
{
    return !ptr || IS_ERR(ptr);
}
#endif

/**
 * Declares memory for dev (RFC). Returns DMA_MEMORY_MAP or DMA_MEMORY_IO (always one of the
 * flags passed; MAP when both were passed and the platform can map it), or 0 on any failure:
 * flags without MAP/IO, size 0 or not a multiple of PAGE_SIZE, misaligned or wrapping
 * addresses, a second declaration on dev, an overlap with another device's region, or a
 * platform that does not support declared memory. The log callback says which.
 * Context: not concurrently with allocations on dev; may block.
 */
static inline int dma_declare_coherent_memory(struct device *dev, dma_addr_t bus_addr,
                                              dma_addr_t device_addr, size_t size, int flags)
{
    int granted = 0;

    if (!dev)
        return 0;
    if (dmacoh_declare_coherent_memory(DMACOH_DEVICE_TO_CORE(dev), bus_addr, device_addr, size,
                                       flags, NULL, &granted) != 0)
        return 0;
    return granted;
}

/**
 * Releases dev's declared memory unconditionally (RFC): outstanding allocations become
 * invalid (freeing them afterwards is reported, never corrupts). No region: does nothing.
 */
static inline void dma_release_declared_memory(struct device *dev)
{
    if (dev)
        (void)dmacoh_release_coherent_memory(DMACOH_DEVICE_TO_CORE(dev), DMACOH_RELEASE_FORCE);
}

/**
 * Allocates coherent memory (RFC): from dev's region, or the nearest ancestor's declared with
 * DMA_MEMORY_INCLUDES_CHILDREN, else (unless EXCLUSIVE) from system memory. Returns the CPU
 * pointer (a cookie for the accessors when the region was granted DMA_MEMORY_IO) and sets
 * *dma_handle, or returns NULL (size 0, exclusive region full, no memory); zeroed; aligned as
 * dmacoh_alloc_coherent() promises. `flag` is the gfp word, see above.
 * Context: thread-safe; never sleeps for room.
 */
static inline void *dma_alloc_coherent(struct device *dev, size_t size, dma_addr_t *dma_handle,
                                       int flag)
{
    void *cpu = NULL;
    dmacoh_dma_addr_t handle = 0;

    (void)flag;
    if (!dev || !dma_handle)
        return NULL;
    if (dmacoh_alloc_coherent(DMACOH_DEVICE_TO_CORE(dev), size, 0, 0, &cpu, &handle) != 0)
        return NULL;
    *dma_handle = handle;
    return cpu;
}

/**
 * Frees coherent memory (RFC). A wrong size or handle, a double free or a pointer that was
 * never allocated is reported through the log callback and changes nothing.
 * Context: thread-safe.
 */
static inline void dma_free_coherent(struct device *dev, size_t size, void *cpu_addr,
                                     dma_addr_t dma_handle)
{
    if (dev)
        (void)dmacoh_free_coherent(DMACOH_DEVICE_TO_CORE(dev), size, cpu_addr, dma_handle);
}

/**
 * Reserves a fixed device-address range of dev's own region (the companion of the RFC's
 * implementation). Returns the CPU pointer or cookie of device_addr (not of the granule
 * start, when device_addr is not granule-aligned), or an error pointer as the kernel did:
 * ERR_PTR(-EINVAL) when dev has no region or the range is outside it or size is 0, and
 * ERR_PTR(-EBUSY) when any of it is already taken. Test with IS_ERR(); never NULL.
 */
static inline void *dma_mark_declared_memory_occupied(struct device *dev, dma_addr_t device_addr,
                                                      size_t size)
{
    void *cpu = NULL;
    int err;

    if (!dev)
        return ERR_PTR(DMACOH_EINVAL);
    err = dmacoh_mark_declared_memory_occupied(DMACOH_DEVICE_TO_CORE(dev), device_addr, size, &cpu);
    if (err == DMACOH_EBUSY)
        return ERR_PTR(DMACOH_EBUSY);
    if (err != 0)
        return ERR_PTR(DMACOH_EINVAL);
    return cpu;
}

/** The kernel's dma_set_mask()/dma_set_coherent_mask(): 0, or -EIO for an unusable mask. */
static inline int dma_set_coherent_mask(struct device *dev, uint64_t mask)
{
    if (!dev || dmacoh_device_set_dma_mask(DMACOH_DEVICE_TO_CORE(dev), mask) != 0)
        return DMACOH_EIO;
    return 0;
}
static inline int dma_set_mask(struct device *dev, uint64_t mask)
{
    return dma_set_coherent_mask(dev, mask);
}

/*
 * dma_pool, with the kernel's names. `struct dma_pool` is the library's struct dmacoh_pool
 * (the macro renames the tag). Blocks are not zeroed unless dma_pool_zalloc or __GFP_ZERO.
 */
#ifndef DMACOH_NO_DMA_POOL
#define dma_pool dmacoh_pool

/** Creates a pool (kernel dma_pool_create); NULL on any failure (the log says why). */
static inline struct dma_pool *dma_pool_create(const char *name, struct device *dev, size_t size,
                                               size_t align, size_t boundary)
{
    struct dmacoh_pool *p = NULL;

    if (!dev ||
        dmacoh_pool_create(&p, name, DMACOH_DEVICE_TO_CORE(dev), size, align, boundary, NULL) != 0)
        return NULL;
    return p;
}

/** Takes a block (kernel dma_pool_alloc); NULL when no chunk can be had. Never sleeps. */
static inline void *dma_pool_alloc(struct dma_pool *pool, int mem_flags, dma_addr_t *handle)
{
    void *cpu = NULL;
    dmacoh_dma_addr_t h = 0;

    if (!handle ||
        dmacoh_pool_alloc(pool, (mem_flags & __GFP_ZERO) ? DMACOH_POOL_ZERO : 0, &cpu, &h) != 0)
        return NULL;
    *handle = h;
    return cpu;
}

/** Takes a zeroed block (kernel dma_pool_zalloc). */
static inline void *dma_pool_zalloc(struct dma_pool *pool, int mem_flags, dma_addr_t *handle)
{
    return dma_pool_alloc(pool, mem_flags | __GFP_ZERO, handle);
}

/** Returns a block (kernel dma_pool_free); a bad call is logged and changes nothing. */
static inline void dma_pool_free(struct dma_pool *pool, void *vaddr, dma_addr_t addr)
{
    (void)dmacoh_pool_free(pool, vaddr, addr);
}

/** Destroys a pool (kernel dma_pool_destroy): outstanding blocks are reported, then freed. */
static inline void dma_pool_destroy(struct dma_pool *pool)
{
    (void)dmacoh_pool_destroy(pool, DMACOH_POOL_DESTROY_FORCE);
}
#endif

/* IO accessors under their kernel names (value first, then address, as the kernel). */
#ifndef DMACOH_NO_KERNEL_IO_NAMES
#define ioread8(a)             dmacoh_ioread8(a)
#define ioread16(a)            dmacoh_ioread16(a)
#define ioread32(a)            dmacoh_ioread32(a)
#define ioread64(a)            dmacoh_ioread64(a)
#define iowrite8(v, a)         dmacoh_iowrite8((v), (a))
#define iowrite16(v, a)        dmacoh_iowrite16((v), (a))
#define iowrite32(v, a)        dmacoh_iowrite32((v), (a))
#define iowrite64(v, a)        dmacoh_iowrite64((v), (a))
#define readb(a)               dmacoh_ioread8(a)
#define readw(a)               dmacoh_ioread16(a)
#define readl(a)               dmacoh_ioread32(a)
#define readq(a)               dmacoh_ioread64(a)
#define writeb(v, a)           dmacoh_iowrite8((v), (a))
#define writew(v, a)           dmacoh_iowrite16((v), (a))
#define writel(v, a)           dmacoh_iowrite32((v), (a))
#define writeq(v, a)           dmacoh_iowrite64((v), (a))
#define readb_relaxed(a)       dmacoh_ioread8_relaxed(a)
#define readw_relaxed(a)       dmacoh_ioread16_relaxed(a)
#define readl_relaxed(a)       dmacoh_ioread32_relaxed(a)
#define readq_relaxed(a)       dmacoh_ioread64_relaxed(a)
#define writeb_relaxed(v, a)   dmacoh_iowrite8_relaxed((v), (a))
#define writew_relaxed(v, a)   dmacoh_iowrite16_relaxed((v), (a))
#define writel_relaxed(v, a)   dmacoh_iowrite32_relaxed((v), (a))
#define writeq_relaxed(v, a)   dmacoh_iowrite64_relaxed((v), (a))
#define memcpy_toio(d, s, n)   dmacoh_memcpy_toio((d), (s), (n))
#define memcpy_fromio(d, s, n) dmacoh_memcpy_fromio((d), (s), (n))
#define memset_io(d, c, n)     dmacoh_memset_io((d), (c), (n))
#endif

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_DMA_MAPPING_H */
