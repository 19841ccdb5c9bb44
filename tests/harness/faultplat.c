/* SPDX-License-Identifier: MIT */
/*
 * faultplat.c - the fault-injecting platform of faultplat.h.
 */
#include "faultplat.h"

#include "t.h"

#include <string.h>

/* Counts a fallible call; true when this one is to fail. */
static bool hit(struct t_faultplat *fp, enum t_fault_op op)
{
    fp->calls++;
    if (fp->fail_at == 0 || fp->calls != fp->fail_at)
        return false;
    fp->injected++;
    fp->failed = op;
    return true;
}

static int f_map(void *ctx, dmacoh_phys_addr_t bus, uint64_t size, dmacoh_dma_addr_t device_addr,
                 uint64_t congruence, int want, struct dmacoh_mapping *out)
{
    struct t_faultplat *fp = (struct t_faultplat *)ctx;
    int r;

    if (hit(fp, T_FAULT_MAP))
        return DMACOH_EIO;
    r = fp->in->ops->map(fp->in->ctx, bus, size, device_addr, congruence, want, out);
    if (r == 0) {
        fp->maps++;
        if (fp->lie_map) {
            fp->failed = T_FAULT_MAP;
            out->cpu = (char *)out->cpu + 16;
        }
    }
    return r;
}

static void f_unmap(void *ctx, struct dmacoh_mapping *m, uint64_t size)
{
    struct t_faultplat *fp = (struct t_faultplat *)ctx;

    if (fp->lie_map)
        m->cpu = (char *)m->cpu - 16;
    fp->maps--;
    fp->in->ops->unmap(fp->in->ctx, m, size);
}

static int f_sys_alloc(void *ctx, const struct dmacoh_device *dev, uint64_t size, uint64_t align,
                       void **cpu, dmacoh_dma_addr_t *handle)
{
    struct t_faultplat *fp = (struct t_faultplat *)ctx;
    int r;

    if (hit(fp, T_FAULT_SYS_ALLOC))
        return DMACOH_ENOMEM;
    r = fp->in->ops->sys_alloc(fp->in->ctx, dev, size, align, cpu, handle);
    if (r == 0) {
        fp->sys_blocks++;
        if (fp->lie_sys_alloc) {
            fp->failed = T_FAULT_SYS_ALLOC;
            *handle += dmacoh_device_dma_mask(dev) + 1; /* wraps to 0 for a 64-bit mask */
            if (*handle <= dmacoh_device_dma_mask(dev))
                *handle = ~(dmacoh_dma_addr_t)0 - 4095;
        }
    }
    return r;
}

static int f_sys_free(void *ctx, const struct dmacoh_device *dev, void *cpu, uint64_t size,
                      dmacoh_dma_addr_t handle)
{
    struct t_faultplat *fp = (struct t_faultplat *)ctx;
    int r;

    if (fp->lie_sys_alloc)
        handle = fp->in->ops->sys_virt_to_dma(fp->in->ctx, dev, cpu);
    if (hit(fp, T_FAULT_SYS_FREE))
        return DMACOH_EIO;
    r = fp->in->ops->sys_free(fp->in->ctx, dev, cpu, size, handle);
    if (r == 0)
        fp->sys_blocks--;
    return r;
}

static void *f_meta_alloc(void *ctx, size_t size)
{
    struct t_faultplat *fp = (struct t_faultplat *)ctx;
    void *p;

    if (hit(fp, T_FAULT_META_ALLOC))
        return NULL;
    p = fp->in->ops->meta_alloc(fp->in->ctx, size);
    if (p) {
        fp->meta_blocks++;
        fp->meta_bytes += (long)size;
    }
    return p;
}

static void f_meta_free(void *ctx, void *p, size_t size)
{
    struct t_faultplat *fp = (struct t_faultplat *)ctx;

    fp->meta_blocks--;
    fp->meta_bytes -= (long)size;
    fp->in->ops->meta_free(fp->in->ctx, p, size);
}

static int f_reserve(void *ctx, uint64_t size, dmacoh_dma_addr_t device_addr, uint64_t congruence,
                     void **out)
{
    struct t_faultplat *fp = (struct t_faultplat *)ctx;
    int r;

    if (hit(fp, T_FAULT_RESERVE))
        return DMACOH_ENOMEM;
    r = fp->in->ops->reserve(fp->in->ctx, size, device_addr, congruence, out);
    if (r == 0) {
        fp->reserves++;
        if (fp->lie_reserve) {
            fp->failed = T_FAULT_RESERVE;
            *out = (char *)*out + 16;
        }
    }
    return r;
}

static void f_unreserve(void *ctx, void *addr, uint64_t size)
{
    struct t_faultplat *fp = (struct t_faultplat *)ctx;

    if (fp->lie_reserve)
        addr = (char *)addr - 16;
    fp->reserves--;
    fp->in->ops->unreserve(fp->in->ctx, addr, size);
}

/* The infallible ops are forwarded with the inner platform's context. */
static dmacoh_dma_addr_t f_virt_to_dma(void *ctx, const struct dmacoh_device *dev, const void *cpu)
{
    const struct t_faultplat *fp = (const struct t_faultplat *)ctx;

    return fp->in->ops->sys_virt_to_dma(fp->in->ctx, dev, cpu);
}

static void *f_dma_to_virt(void *ctx, const struct dmacoh_device *dev, dmacoh_dma_addr_t dma)
{
    const struct t_faultplat *fp = (const struct t_faultplat *)ctx;

    return fp->in->ops->sys_dma_to_virt(fp->in->ctx, dev, dma);
}

static int f_wait(void *ctx, const uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
    const struct t_faultplat *fp = (const struct t_faultplat *)ctx;

    return fp->in->ops->wait(fp->in->ctx, word, expected, timeout_ns);
}

static void f_wake(void *ctx, uint32_t *word)
{
    const struct t_faultplat *fp = (const struct t_faultplat *)ctx;

    fp->in->ops->wake(fp->in->ctx, word);
}

static uint64_t f_now_ns(void *ctx)
{
    const struct t_faultplat *fp = (const struct t_faultplat *)ctx;

    return fp->in->ops->now_ns(fp->in->ctx);
}

static void f_relax(void *ctx)
{
    const struct t_faultplat *fp = (const struct t_faultplat *)ctx;

    fp->in->ops->relax(fp->in->ctx);
}

static unsigned f_thread_slot(void *ctx)
{
    const struct t_faultplat *fp = (const struct t_faultplat *)ctx;

    return fp->in->ops->thread_slot(fp->in->ctx);
}

static int f_thread_id(void *ctx)
{
    const struct t_faultplat *fp = (const struct t_faultplat *)ctx;

    return fp->in->ops->thread_id(fp->in->ctx);
}

void t_faultplat_init(struct t_faultplat *fp, const struct dmacoh_platform *inner)
{
    memset(fp, 0, sizeof(*fp));
    fp->in = inner;
    fp->ops = *inner->ops;
    fp->ops.name = "fault";
    fp->ops.map = f_map;
    fp->ops.unmap = f_unmap;
    if (inner->ops->sys_alloc) {
        fp->ops.sys_alloc = f_sys_alloc;
        fp->ops.sys_free = f_sys_free;
    }
    if (inner->ops->meta_alloc) {
        fp->ops.meta_alloc = f_meta_alloc;
        fp->ops.meta_free = f_meta_free;
    }
    if (inner->ops->sys_virt_to_dma)
        fp->ops.sys_virt_to_dma = f_virt_to_dma;
    if (inner->ops->sys_dma_to_virt)
        fp->ops.sys_dma_to_virt = f_dma_to_virt;
    if (inner->ops->wait) {
        fp->ops.wait = f_wait;
        fp->ops.wake = f_wake;
        fp->ops.now_ns = f_now_ns;
    }
    if (inner->ops->relax)
        fp->ops.relax = f_relax;
    if (inner->ops->thread_slot)
        fp->ops.thread_slot = f_thread_slot;
    if (inner->ops->thread_id)
        fp->ops.thread_id = f_thread_id;
    if (inner->ops->reserve) {
        fp->ops.reserve = f_reserve;
        fp->ops.unreserve = f_unreserve;
    }
    /* Not wrapped, so not offered: the inner ops would get this platform's context. */
    fp->ops.shm_open = NULL;
    fp->ops.shm_close = NULL;
    fp->ops.shm_unlink = NULL;
    fp->ops.proc_self = NULL;
    fp->ops.proc_alive = NULL;
    fp->ops.file_of = NULL;
    T_OK(dmacoh_platform_init(&fp->plat, &fp->ops, fp));
}

void t_faultplat_arm(struct t_faultplat *fp, unsigned long nth)
{
    if (nth)
        fp->failed = T_FAULT_NONE;
    fp->fail_at = nth ? fp->calls + nth : 0;
}

int t_faultplat_expected(enum t_fault_op op)
{
    switch (op) {
    case T_FAULT_MAP:
        return DMACOH_EIO;
    case T_FAULT_SYS_ALLOC:
    case T_FAULT_META_ALLOC:
        return DMACOH_ENOMEM;
    case T_FAULT_SYS_FREE:
        return DMACOH_EIO;
    case T_FAULT_RESERVE: /* the region is declared without IO cookies */
    case T_FAULT_NONE:
        break;
    }
    return 0;
}
