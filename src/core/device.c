/* SPDX-License-Identifier: MIT */
/*
 * device.c - devices and platform instances: init/fini, parents, DMA masks.
 *
 * Both live in caller-owned storage and are never allocated here. A magic word marks an
 * initialised object so that a stray or retired pointer is refused rather than followed.
 */
#include "internal.h"

bool dmacoh__platform_ok(const struct dmacoh_platform *p)
{
    return p && p->magic == DMACOH__PLATFORM_MAGIC;
}

int dmacoh_platform_init(struct dmacoh_platform *p, const struct dmacoh_platform_ops *ops,
                         void *ctx)
{
    if (!p || !ops || !ops->map || !ops->unmap || (ops->sys_alloc && !ops->sys_free) ||
        (ops->meta_alloc && !ops->meta_free) || (ops->wait && (!ops->wake || !ops->now_ns)) ||
        (ops->reserve && !ops->unreserve)) {
        dmacoh__err("platform init: missing platform or required op");
        return DMACOH_EINVAL;
    }
    p->ops = ops;
    p->ctx = ctx;
    p->pools = NULL;
    p->lock = 0;
    p->ndevices = 0;
    p->devices = NULL;
    p->dbg = NULL;
    p->defdev.magic = 0; /* no default pool */
    p->magic = DMACOH__PLATFORM_MAGIC;
    return 0;
}

int dmacoh__platform_fini(struct dmacoh_platform *p)
{
    if (!dmacoh__platform_ok(p)) {
        dmacoh__err("platform fini: not an initialised platform");
        return DMACOH_EINVAL;
    }
    if (p->pools || __atomic_load_n(&p->ndevices, __ATOMIC_RELAXED)) {
        dmacoh__err("platform fini '%s': %s", p->ops->name,
                    dmacoh__device_ok(&p->defdev) ? "the default pool is still declared"
                    : p->pools                    ? "regions are still declared"
                                                  : "devices are still initialised");
        return DMACOH_EBUSY;
    }
    p->magic = 0;
    return 0;
}

/* The next entry of p's device list after *d, or NULL at its end. The list runs through the
 * caller's storage: a device dropped without fini (a stack device on an error path) leaves an
 * entry that is no longer a device of p, and the walk stops there rather than follow it. */
static struct dmacoh_device *next_of(const struct dmacoh_platform *p, struct dmacoh_device *d)
{
    if (d && (d->magic != DMACOH__DEVICE_MAGIC || d->platform != p)) {
        dmacoh__warn("platform '%s': a device was dropped without dmacoh_device_fini; its "
                     "device list ends there",
                     p->ops->name);
        return NULL;
    }
    return d;
}

/* Where dev is on p's list of initialised devices (p->lock held): the link that points at
 * it, or NULL. Only list members are read: dev's own storage may be uninitialised. */
static struct dmacoh_device **find_link(struct dmacoh_platform *p, const struct dmacoh_device *dev)
{
    struct dmacoh_device **pp = &p->devices;

    for (struct dmacoh_device *d = next_of(p, *pp); d; pp = &d->next, d = next_of(p, *pp))
        if (d == dev)
            return pp;
    return NULL;
}

static bool listed(struct dmacoh_platform *p, const struct dmacoh_device *dev)
{
    return find_link(p, dev) != NULL;
}

/* Refuses the init of a live device (p->lock held): -DMACOH_EBUSY, with why. parent is an
 * initialised device of p, or NULL; its ancestors are live too (fini refuses a parent), so
 * the walk reads only initialised devices and ends. */
static int check_live(struct dmacoh_platform *p, const struct dmacoh_device *dev, const char *name,
                      const struct dmacoh_device *parent)
{
    for (const struct dmacoh_device *a = parent; a; a = a->parent) {
        if (a == dev) {
            dmacoh__err("device init '%s': '%s' descends from it: the parent chain would form a "
                        "cycle (and the device is live: fini it first)",
                        name, parent->name);
            return DMACOH_EBUSY;
        }
    }
    if (listed(p, dev)) {
        dmacoh__err("device init '%s': the device is live as '%s' (initialised, not finalised): "
                    "re-initialising it would orphan its region and children; fini it first",
                    name, dev->name);
        return DMACOH_EBUSY;
    }
    return 0;
}

int dmacoh_device_init(struct dmacoh_device *dev, const char *name, struct dmacoh_device *parent,
                       struct dmacoh_platform *platform)
{
    int r;

    if (!dev) {
        dmacoh__err("device init: dev is NULL");
        return DMACOH_EINVAL;
    }
    /* dev's own contents are not read: on a first init they are uninitialised storage (and
     * memcheck would rightly complain about a check that reads them). */
    if (parent == dev) {
        dmacoh__err("device init '%s': a device cannot be its own parent", name);
        return DMACOH_EINVAL;
    }
    if (parent && !dmacoh__device_ok(parent)) {
        dmacoh__err("device init '%s': parent is not an initialised device", name);
        return DMACOH_EINVAL;
    }
    if (!platform && parent)
        platform = parent->platform;
    if (!dmacoh__platform_ok(platform) || (parent && parent->platform != platform)) {
        dmacoh__err("device init '%s': no initialised platform, or not the parent's", name);
        return DMACOH_EINVAL;
    }
    name = name ? name : "?";
    dmacoh__lock(&platform->lock, platform);
    r = check_live(platform, dev, name, parent);
    if (r) {
        dmacoh__unlock(&platform->lock);
        return r;
    }
    dev->name = name;
    dev->parent = parent;
    dev->platform = platform;
    dev->nchildren = 0;
    dev->dma_mask = ~(uint64_t)0;
    dev->pool = NULL;
    dev->region_flags = 0;
    dev->nregions = 0;
    dev->fallbacks = 0;
    dev->failures = 0;
    dev->magic = DMACOH__DEVICE_MAGIC;
    dev->next = platform->devices;
    platform->devices = dev;
    if (parent)
        parent->nchildren++;
    __atomic_add_fetch(&platform->ndevices, 1u, __ATOMIC_RELAXED);
    dmacoh__unlock(&platform->lock);
    return 0;
}

int dmacoh__device_fini(struct dmacoh_device *dev)
{
    struct dmacoh_platform *p;
    struct dmacoh_device **pp;
    const char *busy;

    if (!dmacoh__device_ok(dev) || !dmacoh__platform_ok(dev->platform)) {
        dmacoh__err("device fini: not an initialised device");
        return DMACOH_EINVAL;
    }
    p = dev->platform;
    /* Everything is decided under the lock that init takes to add a child or the device: a
     * racing init of a child, or a second fini, sees the outcome of this one. */
    dmacoh__lock(&p->lock, p);
    pp = find_link(p, dev);
    busy = !pp              ? NULL
           : dev->pool      ? "a region is still declared"
           : dev->nchildren ? "it still has children"
                            : NULL;
    if (!pp || busy) {
        dmacoh__unlock(&p->lock);
        if (!pp)
            dmacoh__err("device fini: not an initialised device (finalised already?)");
        else
            dmacoh__err("device fini '%s': %s", dev->name, busy);
        return pp ? DMACOH_EBUSY : DMACOH_EINVAL;
    }
    *pp = dev->next;
    if (dev->parent)
        dev->parent->nchildren--;
    __atomic_sub_fetch(&p->ndevices, 1u, __ATOMIC_RELAXED);
    dev->magic = DMACOH__DEVICE_DEAD; /* so that the debug mode can name a use after fini */
    dmacoh__unlock(&p->lock);
    return 0;
}

int dmacoh_device_set_dma_mask(struct dmacoh_device *dev, uint64_t mask)
{
    if (!dmacoh__device_ok(dev)) {
        dmacoh__err("set dma mask: not an initialised device");
        return DMACOH_EINVAL;
    }
    /* 2^n - 1 with n >= 12: all ones below the top bit, and at least 4 KiB reachable. */
    if ((mask & (mask + 1)) != 0 || mask < 0xfffu) {
        dmacoh__err("set dma mask '%s': %#llx is not 2^n - 1 with n >= 12", dev->name,
                    (unsigned long long)mask);
        return DMACOH_EINVAL;
    }
    dev->dma_mask = mask;
    return 0;
}

uint64_t dmacoh_device_dma_mask(const struct dmacoh_device *dev)
{
    return dmacoh__device_ok(dev) ? dev->dma_mask : 0;
}

const char *dmacoh_device_name(const struct dmacoh_device *dev)
{
    if (!dev)
        return "(null)";
    return dmacoh__device_ok(dev) ? dev->name : "(not a device)";
}

struct dmacoh_device *dmacoh_device_parent(const struct dmacoh_device *dev)
{
    return dmacoh__device_ok(dev) ? dev->parent : NULL;
}

bool dmacoh_device_has_region(const struct dmacoh_device *dev)
{
    return dmacoh__device_ok(dev) && dev->pool != NULL;
}

void dmacoh_device_counters(const struct dmacoh_device *dev, uint64_t *fallbacks,
                            uint64_t *failures)
{
    bool ok = dmacoh__device_ok(dev);

    if (fallbacks)
        *fallbacks = ok ? __atomic_load_n(&dev->fallbacks, __ATOMIC_RELAXED) : 0;
    if (failures)
        *failures = ok ? __atomic_load_n(&dev->failures, __ATOMIC_RELAXED) : 0;
}
