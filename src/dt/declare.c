/* SPDX-License-Identifier: MIT */
/*
 * declare.c - a device's whole devicetree list of regions, and the default pool, declared in
 * one call each.
 *
 * dmacoh_dt_declare_all() walks the list dmacoh_dt_device_regions() gives (memory-region
 * entries, then sram entries: the order of fallback) and appends each declarable entry to the
 * device's list of regions with dmacoh_declare_region(), under the entry's devicetree name
 * when that name is a valid region name and not taken yet, else as "dt<index>". Entries the
 * devicetree refuses (reusable, mapped, dynamic in a DTB, unreachable...) are passed over
 * with a warning naming the reason, as a kernel driver passes over an index whose
 * of_reserved_mem_device_init_by_idx() fails; any other failure undoes the call's
 * declarations, so the device ends with all of its declarable regions or none of them.
 *
 * The default pool is the platform's (dmacoh_declare_default_memory): an entry of a device's
 * list that is the `linux,dma-default` node becomes that device's own region when the
 * platform has no default pool; once the platform has declared it, the range is the
 * platform's, and the entry is refused like any range another owner holds.
 */
#include "internal.h"
#include "../core/internal.h" /* dmacoh__err, dmacoh__warn */

/* Whether s can name a region: 1 to DMACOH_REGION_NAME_MAX - 1 printable characters without
 * spaces (dmacoh_declare_region's rule). */
static bool region_name_ok(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++)
        if (n + 1 >= DMACOH_REGION_NAME_MAX || s[n] <= ' ' || s[n] > '~')
            return false;
    return n > 0;
}

static bool same(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* Whether dev's list already has a region named s. */
static bool region_name_taken(const struct dmacoh_device *dev, const char *s)
{
    struct dmacoh_region_stats st;
    const char *name;
    unsigned i;

    for (i = 0; dmacoh_region_get_stats_at(dev, i, &st, &name) == 0; i++)
        if (name != NULL && same(name, s))
            return true;
    return false;
}

/* "dt<index>" into buf (DMACOH_REGION_NAME_MAX bytes). */
static void index_name(char *buf, size_t index)
{
    char digits[24];
    size_t n = 0, i = 0;

    do
        digits[n++] = (char)('0' + index % 10);
    while ((index /= 10) != 0 && n < sizeof(digits));
    buf[i++] = 'd';
    buf[i++] = 't';
    while (n > 0)
        buf[i++] = digits[--n];
    buf[i] = '\0';
}

/* Releases the last n regions of dev's list (those this call appended), newest first. */
static void undo(struct dmacoh_device *dev, unsigned before)
{
    struct dmacoh_region_stats st;
    const char *name;
    unsigned n = 0;

    while (dmacoh_region_get_stats_at(dev, n, &st, &name) == 0)
        n++;
    while (n > before) {
        n--;
        if (dmacoh_region_get_stats_at(dev, n, &st, &name) != 0 ||
            dmacoh_release_region(dev, name, 0) != 0)
            return;
    }
}

int dmacoh_dt_declare_all(struct dmacoh_device *dev, const struct dmacoh_dt *dt, const char *device,
                          int flags, const struct dmacoh_declare_opts *opts, unsigned *declared)
{
    struct dmacoh_dt_region r;
    struct dmacoh_region_stats st;
    const char *name;
    char alt[DMACOH_REGION_NAME_MAX];
    size_t count = 0, i;
    unsigned before = 0, done = 0;
    int node, rc, first_refusal = 0;

    if (declared != NULL)
        *declared = 0;
    if (dev == NULL) {
        dmacoh__err("devicetree: declare_all: dev is NULL");
        return DMACOH_EINVAL;
    }
    if ((node = dmacoh_dt_find_device(dt, device)) < 0)
        return node;
    if (!dmacoh__dt_enabled(dt, node)) {
        dmacoh__err("devicetree: %s is disabled (status not \"okay\")", device);
        return DMACOH_ENODEV;
    }
    rc = dmacoh_dt_device_regions(dt, node, NULL, 0, &count);
    if (rc != 0 && rc != DMACOH_EOVERFLOW)
        return rc;
    if (count == 0) {
        dmacoh__err("devicetree: %s has no memory-region or sram entry", device);
        return DMACOH_ENOENT;
    }
    while (dmacoh_region_get_stats_at(dev, before, &st, &name) == 0)
        before++;
    for (i = 0; i < count; i++) {
        if ((rc = dmacoh_dt_device_region(dt, node, NULL, (unsigned)i, &r)) != 0)
            goto fail;
        if (r.status != 0) {
            dmacoh__warn("devicetree: %s: entry %zu, region %s (%s), passed over: %s", device, i,
                         r.path[0] ? r.path : "?", r.name, r.reason);
            if (first_refusal == 0)
                first_refusal = r.status;
            continue;
        }
        name = r.name;
        if (!region_name_ok(name) || region_name_taken(dev, name)) {
            index_name(alt, i);
            name = alt;
        }
        rc = dmacoh_declare_region(dev, name, r.bus, r.device, r.size, flags, opts, NULL);
        if (rc != 0) {
            dmacoh__err("devicetree: %s: entry %zu, region %s (%s): declaring it failed (%d)",
                        device, i, r.path[0] ? r.path : "?", r.name, rc);
            goto fail;
        }
        done++;
    }
    if (done == 0) {
        dmacoh__err("devicetree: %s: none of its %zu entries can be declared", device, count);
        return first_refusal;
    }
    if (declared != NULL)
        *declared = done;
    return 0;
fail:
    undo(dev, before);
    return rc;
}

int dmacoh_dt_declare_default(struct dmacoh_platform *p, const struct dmacoh_dt *dt, int flags,
                              const struct dmacoh_declare_opts *opts, int *granted)
{
    struct dmacoh_dt_region r;
    int rc;

    if ((rc = dmacoh_dt_default_pool(dt, &r)) != 0) {
        if (rc == DMACOH_ENOENT)
            dmacoh__err(
                "devicetree: no enabled, non-reusable shared-dma-pool node has linux,dma-default");
        return rc;
    }
    if (r.status != 0) {
        dmacoh__err("devicetree: default pool %s (%s) refused: %s", r.path[0] ? r.path : "?",
                    r.name, r.reason);
        return r.status;
    }
    return dmacoh_declare_default_memory(p, r.bus, r.device, r.size, flags, opts, granted);
}
