/* SPDX-License-Identifier: MIT */
/*
 * rlist.c - a device's ordered list of regions, and which regions serve a device.
 *
 * The first region of a device lives in dev->pool and dev->region_flags, as when a device had
 * one region only: the allocation path of a device with one region reads nothing else. Regions
 * 2.. live in dev->more[], in declaration order; releasing one moves the later ones up, so the
 * order of use stays the order of declaration. Names (copied, bounded) do not move: each has a
 * slot of dev->region_name[] for its region's life (dev->name_slot[i] is region i's), so the
 * name dmacoh_region_get_stats_at() hands out stays that region's while other regions come
 * and go.
 *
 * Which list serves a device (dmacoh__serving): its own; else the nearest ancestor's
 * INCLUDES_CHILDREN regions; else the platform's default pool; one list, never a cascade from
 * one to the next (docs/design.md, "Several regions per device", says why). Lookups that
 * take a pointer or an address (free, translations) search all three, so that memory handed
 * out before a region was declared or released elsewhere in the tree is still found.
 */
#include "internal.h"

/* Whether name is 1..DMACOH_REGION_NAME_MAX-1 printable characters without spaces. */
static bool name_ok(const char *name)
{
    size_t n = 0;

    for (; name[n]; n++)
        if (n + 1 >= DMACOH_REGION_NAME_MAX || name[n] <= ' ' || name[n] > '~')
            return false;
    return n > 0;
}

int dmacoh__region_index(const struct dmacoh_device *dev, const char *name)
{
    for (unsigned i = 0; i < dev->nregions && i < DMACOH_REGIONS_MAX; i++) {
        const char *a = dmacoh__region_name(dev, i);
        size_t k = 0;

        while (k < DMACOH_REGION_NAME_MAX && a[k] && a[k] == name[k])
            k++;
        if (k < DMACOH_REGION_NAME_MAX && a[k] == name[k])
            return (int)i;
    }
    dmacoh__err("'%s' has no region named '%s'", dev->name, name);
    return DMACOH_ENOENT;
}

/* Whether the device ranges [a, a + an) and [b, b + bn) meet (sizes non-zero, no wrap). */
static bool meet(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
    return !(a + (an - 1) < b || b + (bn - 1) < a);
}

int dmacoh__list_room(const struct dmacoh_device *dev, const char *name, dmacoh_dma_addr_t daddr,
                      uint64_t size)
{
    int f;

    if (!name) {
        if (!dev->pool)
            return 0;
        dmacoh__err("declare on '%s': the device already has a region", dev->name);
        return DMACOH_EBUSY;
    }
    if (!name_ok(name)) {
        dmacoh__err("declare on '%s': a region name has 1 to %d printable characters without "
                    "spaces",
                    dev->name, DMACOH_REGION_NAME_MAX - 1);
        return DMACOH_EINVAL;
    }
    for (unsigned i = 0; i < dev->nregions; i++) {
        const struct dmacoh__pool *q = dmacoh__dev_region(dev, i, &f);
        const char *a = dmacoh__region_name(dev, i);
        size_t k = 0;

        while (name[k] && name[k] == a[k])
            k++;
        if (name[k] == a[k]) {
            dmacoh__err("declare on '%s': it already has a region named '%s'", dev->name, name);
            return DMACOH_EEXIST;
        }
        if (meet(daddr, size, q->dev_base, q->size)) {
            dmacoh__err("declare on '%s': device range %#llx+%#llx of '%s' overlaps its region "
                        "%u%s%s",
                        dev->name, (unsigned long long)daddr, (unsigned long long)size, name, i,
                        a[0] ? " " : "", a);
            return DMACOH_EBUSY;
        }
    }
    if (dev->nregions >= DMACOH_REGIONS_MAX) {
        dmacoh__err("declare on '%s': it has %d regions, the most a device may have", dev->name,
                    DMACOH_REGIONS_MAX);
        return DMACOH_ERANGE;
    }
    return 0;
}

void dmacoh__list_add(struct dmacoh_device *dev, const char *name, struct dmacoh__pool *pool,
                      int flags)
{
    unsigned i = dev->nregions, slot = 0, taken = 0;
    size_t k = 0;
    char *to;

    /* The lowest name slot no region of the list holds (one is free: i < DMACOH_REGIONS_MAX). */
    for (unsigned j = 0; j < i; j++)
        taken |= 1u << (dev->name_slot[j] % DMACOH_REGIONS_MAX);
    while (slot + 1 < DMACOH_REGIONS_MAX && (taken & (1u << slot)))
        slot++;
    if (i == 0) {
        dev->pool = pool;
        dev->region_flags = flags;
    } else {
        dev->more[i - 1].pool = pool;
        dev->more[i - 1].flags = flags;
    }
    dev->name_slot[i] = (uint8_t)slot;
    to = dev->region_name[slot % DMACOH_REGIONS_MAX];
    for (; name && name[k]; k++)
        to[k] = name[k];
    to[k] = '\0';
    dev->nregions = i + 1;
}

void dmacoh__list_remove(struct dmacoh_device *dev, unsigned i)
{
    unsigned n = dev->nregions;
    uint8_t slot = dev->name_slot[i];

    for (unsigned j = i; j + 1 < n; j++) {
        if (j == 0) {
            dev->pool = dev->more[0].pool;
            dev->region_flags = dev->more[0].flags;
        } else {
            dev->more[j - 1] = dev->more[j];
        }
        dev->name_slot[j] = dev->name_slot[j + 1];
    }
    if (n == 1) {
        dev->pool = NULL;
        dev->region_flags = 0;
    } else {
        dev->more[n - 2].pool = NULL;
        dev->more[n - 2].flags = 0;
    }
    dev->region_name[slot % DMACOH_REGIONS_MAX][0] = '\0'; /* a released region's name reads "" */
    dev->name_slot[n - 1] = 0;
    dev->nregions = n - 1;
}

/* Whether d has a region declared with INCLUDES_CHILDREN. */
static bool shares_down(const struct dmacoh_device *d)
{
    int f;

    for (unsigned i = 0; i < d->nregions; i++)
        if (dmacoh__dev_region(d, i, &f) && (f & DMACOH_MEMORY_INCLUDES_CHILDREN))
            return true;
    return false;
}

static const struct dmacoh_device *ancestor(const struct dmacoh_device *dev)
{
    for (const struct dmacoh_device *d = dev->parent; d; d = d->parent)
        if (d->pool && shares_down(d))
            return d;
    return NULL;
}

static const struct dmacoh_device *default_of(const struct dmacoh_device *dev)
{
    const struct dmacoh_device *d = &dev->platform->defdev;

    return dmacoh__device_ok(d) && d->pool ? d : NULL;
}

const struct dmacoh_device *dmacoh__serving(const struct dmacoh_device *dev)
{
    const struct dmacoh_device *a;

    if (dev->pool)
        return dev;
    a = ancestor(dev);
    return a ? a : default_of(dev);
}

/* The first region of owner's list that may serve dev. */
static struct dmacoh__pool *first_serving(const struct dmacoh_device *dev,
                                          const struct dmacoh_device *owner)
{
    int f;

    for (unsigned i = 0; i < owner->nregions; i++) {
        struct dmacoh__pool *pool = dmacoh__dev_region(owner, i, &f);

        if (pool && dmacoh__serves(dev, owner, f))
            return pool;
    }
    return NULL;
}

struct dmacoh__pool *dmacoh__pool_for(const struct dmacoh_device *dev,
                                      const struct dmacoh_device **owner)
{
    const struct dmacoh_device *o;
    struct dmacoh__pool *pool;

    if (dev->pool) { /* the common case, as fast as when a device had one region */
        *owner = dev;
        return dev->pool;
    }
    o = dmacoh__serving(dev);
    pool = o ? first_serving(dev, o) : NULL;
    if (pool && o == &dev->platform->defdev && pool->dev_base > dev->dma_mask) {
        /* Wholly above the mask: skipped as if not declared (alloc.h), so that neither an
         * allocation nor a dma_pool's refill counts a failure it could never avoid. */
        dmacoh__dbg("'%s': the default pool lies above the device's DMA mask %#llx", dev->name,
                    (unsigned long long)dev->dma_mask);
        o = NULL;
        pool = NULL;
    }
    *owner = o;
    return pool;
}

/* The region of owner's list serving dev that contains addr: a CPU pointer (kind 0), a device
 * address (1) or a bus address (2). */
static struct dmacoh__pool *in_list(const struct dmacoh_device *dev,
                                    const struct dmacoh_device *owner, uint64_t addr, int kind)
{
    int f;

    for (unsigned i = 0; owner && i < owner->nregions; i++) {
        struct dmacoh__pool *pool = dmacoh__dev_region(owner, i, &f);
        bool in;

        if (!pool || !dmacoh__serves(dev, owner, f))
            continue;
        if (kind == 0)
            in = dmacoh__pool_holds(pool, (const void *)(uintptr_t)addr);
        else if (kind == 1)
            in = addr >= pool->dev_base && addr - pool->dev_base < pool->size;
        else
            in = addr >= pool->bus && addr - pool->bus < pool->size;
        if (in)
            return pool;
    }
    return NULL;
}

/* The three lists that may hold dev's memory, searched in order of use. */
static struct dmacoh__pool *search(const struct dmacoh_device *dev, uint64_t addr, int kind,
                                   const struct dmacoh_device **owner)
{
    const struct dmacoh_device *lists[3] = {dev, ancestor(dev), default_of(dev)};

    for (unsigned k = 0; k < 3; k++) {
        struct dmacoh__pool *pool = in_list(dev, lists[k], addr, kind);

        if (pool) {
            *owner = lists[k];
            return pool;
        }
    }
    return NULL;
}

struct dmacoh__pool *dmacoh__pool_holding(const struct dmacoh_device *dev, const void *cpu,
                                          const struct dmacoh_device **owner)
{
    return search(dev, (uint64_t)(uintptr_t)cpu, 0, owner);
}

struct dmacoh__pool *dmacoh__pool_reaching(const struct dmacoh_device *dev, uint64_t addr,
                                           bool by_bus)
{
    const struct dmacoh_device *owner;

    return search(dev, addr, by_bus ? 2 : 1, &owner);
}
