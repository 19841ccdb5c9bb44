/* SPDX-License-Identifier: MIT */
/*
 * region.c - what a devicetree says about a device's memory: reserved-memory children,
 * mmio-sram nodes and partitions, a device's `memory-region` and `sram` lists, the default
 * pool, and the declare call that turns one of them into a declared region.
 *
 * describe() is the one place a region node is judged. It fills the description first with
 * what the node says (path, name, flags), then with where it lies (its `reg`, translated to
 * the CPU's bus, then to the device's addresses), and last with the policy: `reusable`
 * memory is CMA the kernel lends to movable pages, memory without `no-map` is in the kernel's
 * linear map as cached RAM; neither may be declared. A reserved-memory child that overlaps an
 * earlier (enabled, well-formed) sibling is refused, naming it: the kernel reports such an
 * overlap as an error, and which user the memory has is then unclear.
 *
 * A device's regions are its `memory-region` phandles (named by `memory-region-names`), then
 * its `sram` phandles: one ordered list, which is the order of fallback. A phandle is
 * followed one step only, to a region node; the region node's own phandle properties are
 * never followed, so no list of phandles can make the reader loop.
 */
#include "internal.h"
#include "../core/internal.h" /* dmacoh__err */

static void clear(struct dmacoh_dt_region *r)
{
    *r = (struct dmacoh_dt_region){0};
}

/* Copies at most n bytes of src; a node name (node set) stops at its unit address, a
 * memory-region-names entry is taken whole ('@' is an ordinary character there). */
static void copy(char *dst, size_t cap, const char *src, size_t n, bool node)
{
    size_t i;

    for (i = 0; i + 1 < cap && i < n && src[i] && !(node && src[i] == '@'); i++)
        dst[i] = src[i];
    dst[i] = '\0';
}

static bool has(const struct dmacoh_dt *dt, int node, const char *prop)
{
    return fdt_getprop(dt->blob, node, prop, NULL) != NULL;
}

static bool compatible(const struct dmacoh_dt *dt, int node, const char *c)
{
    return fdt_node_check_compatible(dt->blob, node, c) == 0;
}

/* The /reserved-memory node, or a negative libfdt code. */
static int reserved_memory(const struct dmacoh_dt *dt)
{
    return fdt_subnode_offset(dt->blob, 0, "reserved-memory");
}

/* Where node lies on the CPU's bus, from its first `reg` entry. */
static int place(const struct dmacoh_dt *dt, int node, uint64_t *bus, uint64_t *size,
                 struct dmacoh_dt_region *r)
{
    int rc = dmacoh__dt_reg(dt, node, bus, size, r);

    return rc ? rc : dmacoh__dt_to_cpu(dt, node, bus, *size, r);
}

/* A partition of an mmio-sram node. The binding asks for a `ranges` on the SRAM mapping its
 * partitions' addresses (usually <0 base size>: offsets); without one, the partition's `reg`
 * is taken as an offset into the SRAM, which is how such trees are meant. Either way the
 * partition must lie inside the SRAM. */
static int partition(const struct dmacoh_dt *dt, int node, int sram, struct dmacoh_dt_region *r)
{
    uint64_t base, len, off;
    int rc;

    r->flags |= DMACOH_DT_SRAM | DMACOH_DT_PARTITION;
    r->flags |= has(dt, node, "pool") ? DMACOH_DT_POOL : 0;
    r->flags |= has(dt, node, "export") ? DMACOH_DT_EXPORT : 0;
    r->flags |= has(dt, node, "protect-exec") ? DMACOH_DT_PROTECT_EXEC : 0;
    /* The kernel sets up no partition of an SRAM it does not probe. */
    if (!dmacoh__dt_enabled(dt, sram))
        return dmacoh__dt_refuse(r, DMACOH_ENODEV,
                                 "lies in a disabled SRAM (its status not \"okay\")", NULL, NULL);
    if ((rc = place(dt, sram, &base, &len, r)) != 0)
        return rc;
    if (has(dt, sram, "ranges")) {
        if ((rc = place(dt, node, &r->bus, &r->size, r)) != 0)
            return rc;
        off = r->bus - base;
        if (r->bus < base || off > len - 1 || r->size - 1 > len - 1 - off)
            return dmacoh__dt_refuse(r, DMACOH_ERANGE, "lies outside its SRAM", NULL, NULL);
        return 0;
    }
    if ((rc = dmacoh__dt_reg(dt, node, &off, &r->size, r)) != 0)
        return rc;
    if (off > len - 1 || r->size - 1 > len - 1 - off)
        return dmacoh__dt_refuse(r, DMACOH_ERANGE, "lies outside its SRAM", NULL, NULL);
    r->bus = base + off;
    return 0;
}

/* Refuses r unless /reserved-memory (rm) has the form the kernel takes: #address-cells and
 * #size-cells present and equal to the root's, and a `ranges`, which the binding asks to be
 * empty. The kernel reads the children's `reg` with the root's cells and never translates
 * them; when the node breaks that form it ignores all its children ("unsupported node
 * format"), so nothing in it is reserved. A non-empty `ranges` is refused too: the kernel
 * reserves the untranslated addresses, not the ones that ranges would give. */
static int rm_form(const struct dmacoh_dt *dt, int rm, struct dmacoh_dt_region *r)
{
    static const char *const cellnames[2] = {"#address-cells", "#size-cells"};
    const fdt32_t *mine, *root;
    int len, rlen;

    for (int i = 0; i < 2; i++) {
        mine = fdt_getprop(dt->blob, rm, cellnames[i], &len);
        root = fdt_getprop(dt->blob, 0, cellnames[i], &rlen);
        if (!mine || !root || len != 4 || rlen != 4 || fdt32_ld(mine) != fdt32_ld(root))
            return dmacoh__dt_refuse(r, DMACOH_EINVAL, "lies in a /reserved-memory whose",
                                     cellnames[i],
                                     "is absent or differs from the root's: the kernel ignores "
                                     "every child of such a node");
    }
    if (!fdt_getprop(dt->blob, rm, "ranges", &len) || len != 0)
        return dmacoh__dt_refuse(r, DMACOH_EINVAL,
                                 "lies in a /reserved-memory whose ranges is not empty: the kernel",
                                 "reserves its children's reg untranslated", NULL);
    return 0;
}

static int reserved(const struct dmacoh_dt *dt, int node, struct dmacoh_dt_region *r)
{
    const fdt32_t *sz;
    int len, rc;

    r->flags |= DMACOH_DT_RESERVED;
    r->flags |= has(dt, node, "no-map") ? DMACOH_DT_NO_MAP : 0;
    r->flags |= has(dt, node, "reusable") ? DMACOH_DT_REUSABLE : 0;
    r->flags |= has(dt, node, "linux,dma-default") ? DMACOH_DT_DEFAULT : 0;
    r->flags |= compatible(dt, node, "shared-dma-pool") ? DMACOH_DT_DMA_POOL : 0;
    if (!has(dt, node, "reg") && (sz = fdt_getprop(dt->blob, node, "size", &len)) != NULL) {
        r->flags |= DMACOH_DT_DYNAMIC;
        /* The size asked for, when it is one or two cells: the description says it. */
        r->size = len == 4   ? fdt32_ld(sz)
                  : len == 8 ? (uint64_t)fdt32_ld(sz) << 32 | fdt32_ld(sz + 1)
                             : 0;
        if (dt->live)
            return dmacoh__dt_refuse(
                r, DMACOH_ENOENT, "is placed at boot (size, no reg), and the live tree shows",
                "no reg for it: the kernel did not place it or does not", "say where");
        return dmacoh__dt_refuse(r, DMACOH_ENOENT,
                                 "is placed by the kernel at boot (size, no reg): only the live",
                                 "tree (dmacoh_dt_open_live) says where", NULL);
    }
    /* A reg the reader cannot take is refused for that first; one it can take must still
     * lie in a /reserved-memory the kernel honours. */
    if ((rc = place(dt, node, &r->bus, &r->size, r)) != 0)
        return rc;
    return rm_form(dt, fdt_parent_offset(dt->blob, node), r);
}

/* Refuses r when it overlaps an earlier enabled sibling under /reserved-memory. */
static int overlap(const struct dmacoh_dt *dt, int node, struct dmacoh_dt_region *r)
{
    struct dmacoh_dt_region other;
    struct dmacoh__text t;
    uint64_t b, s;
    int c;

    for (c = fdt_first_subnode(dt->blob, fdt_parent_offset(dt->blob, node)); c >= 0;
         c = fdt_next_subnode(dt->blob, c)) {
        if (c == node)
            break;
        if (!dmacoh__dt_enabled(dt, c) || place(dt, c, &b, &s, &other) != 0)
            continue;
        if (b > r->bus + (r->size - 1) || r->bus > b + (s - 1))
            continue;
        dmacoh__dt_path(dt, c, other.path, sizeof(other.path));
        dmacoh__text_init(&t, other.reason, sizeof(other.reason));
        dmacoh__text_str(&t, other.path);
        dmacoh__text_str(&t, " at ");
        dmacoh__text_hex(&t, b);
        dmacoh__text_str(&t, " size ");
        dmacoh__text_hex(&t, s);
        return dmacoh__dt_refuse(r, DMACOH_EBUSY, "overlaps the earlier", other.reason, NULL);
    }
    return 0;
}

/* Judges region node `node` (for device dev, or none when dev < 0) into r; r->status. */
static int describe(const struct dmacoh_dt *dt, int node, int dev, const char *name, int namelen,
                    struct dmacoh_dt_region *r)
{
    int parent = fdt_parent_offset(dt->blob, node), rc, len;
    const char *nn = fdt_get_name(dt->blob, node, &len);

    dmacoh__dt_path(dt, node, r->path, sizeof(r->path));
    if (name)
        copy(r->name, sizeof(r->name), name, (size_t)namelen, false);
    else if (nn)
        copy(r->name, sizeof(r->name), nn, (size_t)len, true);
    if (parent < 0)
        return dmacoh__dt_refuse(r, DMACOH_EINVAL, "is the root, not a region", NULL, NULL);
    if (!dmacoh__dt_enabled(dt, node))
        return dmacoh__dt_refuse(r, DMACOH_ENODEV, "is disabled (status not \"okay\")", NULL, NULL);
    if (parent == reserved_memory(dt))
        rc = reserved(dt, node, r);
    else if (compatible(dt, parent, "mmio-sram"))
        rc = partition(dt, node, parent, r);
    else if (compatible(dt, node, "mmio-sram")) {
        r->flags |= DMACOH_DT_SRAM;
        rc = place(dt, node, &r->bus, &r->size, r);
    } else
        rc = dmacoh__dt_refuse(r, DMACOH_EINVAL, "is neither a child of /reserved-memory nor",
                               "an mmio-sram node or partition", NULL);
    if (rc)
        return rc;
    r->device = r->bus;
    if (dev >= 0 && (rc = dmacoh__dt_to_device(dt, dev, r->bus, r->size, &r->device, r)) != 0)
        return rc;
    if (r->flags & DMACOH_DT_REUSABLE)
        return dmacoh__dt_refuse(r, DMACOH_EBUSY, "is reusable: CMA that the kernel lends to",
                                 "movable pages, not memory a driver may declare", NULL);
    if ((r->flags & DMACOH_DT_RESERVED) && !(r->flags & DMACOH_DT_NO_MAP))
        return dmacoh__dt_refuse(r, DMACOH_EBUSY,
                                 "has no no-map: the kernel keeps it in its linear map as cached",
                                 "RAM (and still uses a shared-dma-pool as its own pool), so a",
                                 "mapping here would alias kernel memory with other attributes");
    return (r->flags & DMACOH_DT_RESERVED) ? overlap(dt, node, r) : 0;
}

/* ---- a device's list ---- */

struct list {
    const fdt32_t *mr, *sr; /* memory-region and sram phandles */
    unsigned nmr, nsr;
};

static int entries(const struct dmacoh_dt *dt, int dev, struct list *l)
{
    char path[DMACOH_DT_PATH_MAX];
    int lm, ls;

    if (!dt || fdt_node_depth(dt->blob, dev) < 0) {
        dmacoh__err("devicetree: %d is not a node offset of the blob", dev);
        return DMACOH_EINVAL;
    }
    l->mr = dmacoh__dt_prop(dt, dev, "memory-region", &lm);
    l->sr = dmacoh__dt_prop(dt, dev, "sram", &ls);
    if (lm < 0 || ls < 0 || lm % 4 != 0 || ls % 4 != 0) {
        dmacoh__dt_path(dt, dev, path, sizeof(path));
        dmacoh__err("devicetree: %s: memory-region or sram is not a list of phandles (or longer"
                    " than %d bytes)",
                    path, DMACOH_DT_MAX_PROP);
        return DMACOH_EINVAL;
    }
    l->nmr = (unsigned)lm / 4;
    l->nsr = (unsigned)ls / 4;
    return 0;
}

/* Entry i of dev's list into r. */
static void entry(const struct dmacoh_dt *dt, int dev, const struct list *l, unsigned i,
                  struct dmacoh_dt_region *r)
{
    bool mr = i < l->nmr;
    uint32_t ph = fdt32_ld(mr ? l->mr + i : l->sr + (i - l->nmr));
    int target = ph == 0 || ph == UINT32_MAX ? -1 : fdt_node_offset_by_phandle(dt->blob, ph);
    const char *name = NULL;
    char path[DMACOH_DT_PATH_MAX], what[96];
    struct dmacoh__text t;
    int len = 0;

    clear(r);
    if (mr)
        name = fdt_stringlist_get(dt->blob, dev, "memory-region-names", (int)i, &len);
    if (target >= 0 && target != dev) {
        describe(dt, target, dev, name, len, r);
        return;
    }
    if (name)
        copy(r->name, sizeof(r->name), name, (size_t)len, false);
    dmacoh__dt_path(dt, dev, path, sizeof(path));
    dmacoh__text_init(&t, what, sizeof(what));
    dmacoh__text_str(&t, mr ? "memory-region[" : "sram[");
    dmacoh__text_dec(&t, mr ? i : i - l->nmr);
    dmacoh__text_str(&t, "] (phandle ");
    dmacoh__text_hex(&t, ph);
    dmacoh__text_str(&t, ") of");
    if (target < 0)
        dmacoh__dt_refuse(r, DMACOH_ENOENT, what, path, "points at no node");
    else
        dmacoh__dt_refuse(r, DMACOH_EINVAL, what, path, "points back at the device itself");
}

int dmacoh_dt_device_regions(const struct dmacoh_dt *dt, int node, struct dmacoh_dt_region *out,
                             size_t cap, size_t *count)
{
    struct list l;
    int rc;

    if (!count || (cap && !out)) {
        dmacoh__err("devicetree: NULL argument");
        return DMACOH_EINVAL;
    }
    if ((rc = entries(dt, node, &l)) != 0)
        return rc;
    *count = l.nmr + l.nsr;
    for (unsigned i = 0; i < l.nmr + l.nsr && i < cap; i++)
        entry(dt, node, &l, i, &out[i]);
    return *count > cap ? DMACOH_EOVERFLOW : 0;
}

int dmacoh_dt_device_region(const struct dmacoh_dt *dt, int node, const char *name, unsigned index,
                            struct dmacoh_dt_region *out)
{
    char path[DMACOH_DT_PATH_MAX];
    struct list l;
    int rc;

    if (!out) {
        dmacoh__err("devicetree: NULL argument");
        return DMACOH_EINVAL;
    }
    if ((rc = entries(dt, node, &l)) != 0)
        return rc;
    for (unsigned i = 0; i < l.nmr + l.nsr; i++) {
        if (!name && i != index)
            continue;
        entry(dt, node, &l, i, out);
        if (!name || dmacoh__dt_streq(out->name, name))
            return 0;
    }
    dmacoh__dt_path(dt, node, path, sizeof(path));
    if (name)
        dmacoh__err("devicetree: %s has no region named \"%s\"", path, name);
    else
        dmacoh__err("devicetree: %s has no region %u (it has %u)", path, index, l.nmr + l.nsr);
    return DMACOH_ENOENT;
}

/* ---- the tree's regions ---- */

static void add(const struct dmacoh_dt *dt, int node, struct dmacoh_dt_region *out, size_t cap,
                size_t *n)
{
    if (*n < cap) {
        clear(&out[*n]);
        describe(dt, node, -1, NULL, 0, &out[*n]);
    }
    (*n)++;
}

int dmacoh_dt_regions(const struct dmacoh_dt *dt, struct dmacoh_dt_region *out, size_t cap,
                      size_t *count)
{
    int rm, node, part;

    if (!dt || !count || (cap && !out)) {
        dmacoh__err("devicetree: NULL argument");
        return DMACOH_EINVAL;
    }
    *count = 0;
    if ((rm = reserved_memory(dt)) >= 0)
        for (node = fdt_first_subnode(dt->blob, rm); node >= 0;
             node = fdt_next_subnode(dt->blob, node))
            add(dt, node, out, cap, count);
    for (node = fdt_node_offset_by_compatible(dt->blob, -1, "mmio-sram"); node >= 0;
         node = fdt_node_offset_by_compatible(dt->blob, node, "mmio-sram")) {
        add(dt, node, out, cap, count);
        for (part = fdt_first_subnode(dt->blob, node); part >= 0;
             part = fdt_next_subnode(dt->blob, part))
            add(dt, part, out, cap, count);
    }
    return *count > cap ? DMACOH_EOVERFLOW : 0;
}

/* True when node is what the kernel makes a default pool of: an enabled shared-dma-pool
 * with `linux,dma-default` that is not `reusable` (the kernel turns a reusable one down as a
 * coherent pool before it looks at linux,dma-default; `linux,cma-default` names the default
 * CMA area, which is not this pool). */
static bool claims_default(const struct dmacoh_dt *dt, int node)
{
    return has(dt, node, "linux,dma-default") && !has(dt, node, "reusable") &&
           compatible(dt, node, "shared-dma-pool") && dmacoh__dt_enabled(dt, node);
}

int dmacoh_dt_default_pool(const struct dmacoh_dt *dt, struct dmacoh_dt_region *out)
{
    char other[DMACOH_DT_PATH_MAX];
    int rm, node, first = -1, second = -1;

    if (!dt || !out) {
        dmacoh__err("devicetree: NULL argument");
        return DMACOH_EINVAL;
    }
    if ((rm = reserved_memory(dt)) >= 0)
        for (node = fdt_first_subnode(dt->blob, rm); node >= 0 && second < 0;
             node = fdt_next_subnode(dt->blob, node))
            if (claims_default(dt, node))
                *(first < 0 ? &first : &second) = node;
    if (first < 0)
        return DMACOH_ENOENT;
    clear(out);
    if (describe(dt, first, -1, NULL, 0, out) != 0 || second < 0)
        return 0;
    /* The kernel warns that the default is redefined and keeps the one it sets up last, an
     * order that depends on its version; which pool every device falls back to is not
     * guessed here. */
    dmacoh__dt_path(dt, second, other, sizeof(other));
    dmacoh__warn("devicetree: %s and %s both claim linux,dma-default", out->path, other);
    dmacoh__dt_refuse(out, DMACOH_EBUSY, "is one of several linux,dma-default pools, with", other,
                      "(the kernel keeps one of them): declare the one meant by its path");
    return 0;
}

/* ---- finding a device, declaring ---- */

int dmacoh_dt_find_device(const struct dmacoh_dt *dt, const char *selector)
{
    int node;

    if (!dt || !selector || !selector[0]) {
        dmacoh__err("devicetree: no device selector");
        return DMACOH_EINVAL;
    }
    if (selector[0] == '/') {
        node = fdt_path_offset(dt->blob, selector);
        if (node < 0)
            dmacoh__err("devicetree: no node %s (%s)", selector, fdt_strerror(node));
        return node < 0 ? DMACOH_ENOENT : node;
    }
    for (node = fdt_node_offset_by_compatible(dt->blob, -1, selector); node >= 0;
         node = fdt_node_offset_by_compatible(dt->blob, node, selector))
        if (dmacoh__dt_enabled(dt, node))
            return node;
    dmacoh__err("devicetree: no enabled node is compatible with \"%s\"", selector);
    return DMACOH_ENOENT;
}

int dmacoh_dt_declare(struct dmacoh_device *dev, const struct dmacoh_dt *dt, const char *device,
                      const char *name, unsigned index, int flags,
                      const struct dmacoh_declare_opts *opts, int *granted)
{
    struct dmacoh_dt_region r;
    int node = dmacoh_dt_find_device(dt, device), rc;

    if (node < 0)
        return node;
    if (!dmacoh__dt_enabled(dt, node)) {
        dmacoh__err("devicetree: %s is disabled (status not \"okay\")", device);
        return DMACOH_ENODEV;
    }
    if ((rc = dmacoh_dt_device_region(dt, node, name, index, &r)) != 0)
        return rc;
    if (r.status != 0) {
        dmacoh__err("devicetree: %s: region %s (%s) refused: %s", device, r.path[0] ? r.path : "?",
                    r.name, r.reason);
        return r.status;
    }
    return dmacoh_declare_coherent_memory(dev, r.bus, r.device, r.size, flags, opts, granted);
}
