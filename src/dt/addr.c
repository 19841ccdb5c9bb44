/* SPDX-License-Identifier: MIT */
/*
 * addr.c - the devicetree reader's foundation: taking a blob in (validated by libfdt before
 * anything reads it), cell counts, `reg`, and address translation.
 *
 * A `reg` is an (address, size) list whose widths come from the parent's #address-cells and
 * #size-cells. Its addresses are on the parent's bus. Going up, each bus's `ranges` maps its
 * children's addresses to its own parent's (child address, parent address, size triples; an
 * empty `ranges` is the identity; no `ranges` at all means the children are not reachable
 * from the CPU), until the root, whose children's addresses are CPU addresses: the kernel's
 * of_translate_address. Going the other way, each bus's `dma-ranges` maps its children's
 * DMA addresses to its parent's; the device address of a CPU address is found by undoing
 * them from the root down to the device's parent (of_dma_get_range with the composition of
 * of_translate_dma_address). A bus without `dma-ranges` passes DMA addresses unchanged, as
 * it does in the kernel when no bus above declares any.
 *
 * Every value is input, not trusted: cells counts outside 1..2 (0..2 for sizes) are refused,
 * an entry that wraps past 2^64 is refused, and the walk up is bounded by
 * DMACOH_DT_MAX_DEPTH. Cells are read with fdt32_ld, libfdt's big-endian (and alignment-free)
 * load. The reader keeps to the core's freestanding rule: besides libfdt's own headers it
 * needs no C library.
 */
#include "internal.h"
#include "../core/internal.h" /* dmacoh__err, dmacoh__warn */

#include <limits.h>

/* ---- text ---- */

void dmacoh__text_init(struct dmacoh__text *t, char *buf, size_t cap)
{
    t->buf = buf;
    t->cap = cap;
    t->len = 0;
    if (cap)
        buf[0] = '\0';
}

static void put(struct dmacoh__text *t, char c)
{
    if (t->len + 1 >= t->cap)
        return;
    t->buf[t->len++] = c;
    t->buf[t->len] = '\0';
}

void dmacoh__text_str(struct dmacoh__text *t, const char *s)
{
    while (s && *s)
        put(t, *s++);
}

static void number(struct dmacoh__text *t, uint64_t v, unsigned base)
{
    char d[24];
    unsigned n = 0;

    do {
        d[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n)
        put(t, d[--n]);
}

void dmacoh__text_hex(struct dmacoh__text *t, uint64_t v)
{
    dmacoh__text_str(t, "0x");
    number(t, v, 16);
}

void dmacoh__text_dec(struct dmacoh__text *t, uint64_t v)
{
    number(t, v, 10);
}

bool dmacoh__dt_streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

size_t dmacoh__dt_strlen(const char *s)
{
    size_t n = 0;

    while (s[n])
        n++;
    return n;
}

int dmacoh__dt_refuse(struct dmacoh_dt_region *r, int code, const char *a, const char *b,
                      const char *c)
{
    struct dmacoh__text t;

    dmacoh__text_init(&t, r->reason, sizeof(r->reason));
    dmacoh__text_str(&t, a);
    if (b) {
        put(&t, ' ');
        dmacoh__text_str(&t, b);
    }
    if (c) {
        put(&t, ' ');
        dmacoh__text_str(&t, c);
    }
    r->status = code;
    return code;
}

/* ---- nodes and properties ---- */

void dmacoh__dt_path(const struct dmacoh_dt *dt, int node, char *buf, size_t cap)
{
    if (fdt_get_path(dt->blob, node, buf, (int)cap) != 0 && cap >= 2) {
        buf[0] = '?';
        buf[1] = '\0';
    }
}

const void *dmacoh__dt_prop(const struct dmacoh_dt *dt, int node, const char *name, int *len)
{
    const void *p = fdt_getprop(dt->blob, node, name, len);

    if (p && *len > DMACOH_DT_MAX_PROP) {
        *len = -1;
        return NULL;
    }
    if (!p)
        *len = 0;
    return p;
}

bool dmacoh__dt_enabled(const struct dmacoh_dt *dt, int node)
{
    int len;
    const char *s = fdt_getprop(dt->blob, node, "status", &len);

    if (!s)
        return true;
    /* The value must be a NUL-terminated string; fdt_check_full does not promise that. */
    if (len < 1 || s[len - 1] != '\0')
        return false;
    return dmacoh__dt_streq(s, "okay") || dmacoh__dt_streq(s, "ok");
}

int dmacoh__dt_ancestors(const struct dmacoh_dt *dt, int node, int *anc, struct dmacoh_dt_region *r)
{
    int depth = fdt_node_depth(dt->blob, node);

    if (depth < 0)
        return dmacoh__dt_refuse(r, DMACOH_EINVAL, "not a node of the blob:", fdt_strerror(depth),
                                 NULL);
    if (depth > DMACOH_DT_MAX_DEPTH)
        return dmacoh__dt_refuse(r, DMACOH_ERANGE, "lies deeper than the 16 levels the reader",
                                 "follows", NULL);
    for (int d = depth - 1, n = 0; d >= 0; d--, n++) {
        anc[n] = fdt_supernode_atdepth_offset(dt->blob, node, d, NULL);
        if (anc[n] < 0)
            return dmacoh__dt_refuse(r, DMACOH_EINVAL,
                                     "an ancestor cannot be read:", fdt_strerror(anc[n]), NULL);
    }
    return depth;
}

/* Reads node's #address-cells (lo 1) or #size-cells (lo 0); absent gives the specification's
 * default with a log line. DEVIATION(kernel): Linux inherits a missing count from the nearest
 * ancestor that has one (of_n_addr_cells), which the specification says not to rely on. 1..2 are taken; 3 and 4 (PCI, 128-bit) are legal but do not fit 64
 * bits; anything else is invalid. */
static int cells(const struct dmacoh_dt *dt, int node, bool size, int *out,
                 struct dmacoh_dt_region *r)
{
    const char *name = size ? "#size-cells" : "#address-cells";
    char path[DMACOH_DT_PATH_MAX], num[64];
    struct dmacoh__text t;
    int len;
    const fdt32_t *p = fdt_getprop(dt->blob, node, name, &len);
    uint32_t v;

    if (!p) {
        *out = size ? 1 : 2;
        dmacoh__dt_path(dt, node, path, sizeof(path));
        dmacoh__warn("devicetree: %s has no %s: taking %d, the devicetree specification's "
                     "default",
                     path, name, *out);
        return 0;
    }
    v = len == 4 ? fdt32_ld(p) : UINT32_MAX;
    if (v >= (size ? 0u : 1u) && v <= 2) {
        *out = (int)v;
        return 0;
    }
    dmacoh__dt_path(dt, node, path, sizeof(path));
    dmacoh__text_init(&t, num, sizeof(num));
    if (len != 4)
        dmacoh__text_str(&t, "is not one cell");
    else if (v != 0) {
        dmacoh__text_dec(&t, v);
        dmacoh__text_str(&t, size ? " (the reader takes 0, 1 or 2)" : " (the reader takes 1 or 2)");
    }
    if (len == 4 && v == 0)
        dmacoh__text_str(&t, "0: not addressable (the reader takes 1 or 2)");
    return dmacoh__dt_refuse(r, v == 3 || v == 4 ? DMACOH_ENOTSUP : DMACOH_EINVAL, path, name, num);
}

/* Big-endian number of n (0..2) cells. */
static uint64_t rd(const fdt32_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v << 32 | fdt32_ld(p + i);
    return v;
}

int dmacoh__dt_reg(const struct dmacoh_dt *dt, int node, uint64_t *addr, uint64_t *size,
                   struct dmacoh_dt_region *r)
{
    char path[DMACOH_DT_PATH_MAX];
    int parent = fdt_parent_offset(dt->blob, node), ac, sc, len, rc;
    const fdt32_t *p;

    if (parent < 0)
        return dmacoh__dt_refuse(r, DMACOH_EINVAL, "is the root: it has no reg", NULL, NULL);
    if ((rc = cells(dt, parent, false, &ac, r)) != 0 || (rc = cells(dt, parent, true, &sc, r)) != 0)
        return rc;
    p = dmacoh__dt_prop(dt, node, "reg", &len);
    if (!p)
        return dmacoh__dt_refuse(r, len < 0 ? DMACOH_EOVERFLOW : DMACOH_ENOENT,
                                 len < 0 ? "reg is longer than the reader takes" : "has no reg",
                                 NULL, NULL);
    if (len < (ac + sc) * 4 || len % ((ac + sc) * 4) != 0) {
        dmacoh__dt_path(dt, parent, path, sizeof(path));
        return dmacoh__dt_refuse(
            r, DMACOH_EINVAL, "reg is not whole (address, size) pairs of the cells of", path, NULL);
    }
    *addr = rd(p, ac);
    *size = rd(p + ac, sc);
    if (sc == 0 || *size == 0)
        return dmacoh__dt_refuse(r, DMACOH_EINVAL, "reg gives no size",
                                 sc == 0 ? "(#size-cells 0)" : "(size 0)", NULL);
    if (*size - 1 > UINT64_MAX - *addr)
        return dmacoh__dt_refuse(r, DMACOH_ERANGE, "reg wraps past 2^64", NULL, NULL);
    return 0;
}

/* Moves [*x, *x + size) across one bus: through its `ranges` (child to parent side) or, when
 * down is set, back through its `dma-ranges` (parent to child side). */
static int through(const struct dmacoh_dt *dt, int bus, int parent, bool down, uint64_t *x,
                   uint64_t size, struct dmacoh_dt_region *r)
{
    const char *prop = down ? "dma-ranges" : "ranges";
    char path[DMACOH_DT_PATH_MAX];
    int len, ca, pa, sc, rc, w;
    const fdt32_t *p = dmacoh__dt_prop(dt, bus, prop, &len);

    dmacoh__dt_path(dt, bus, path, sizeof(path));
    if (!p && len < 0)
        return dmacoh__dt_refuse(r, DMACOH_EOVERFLOW, path, prop,
                                 "is longer than the reader takes");
    if (!p && !down)
        return dmacoh__dt_refuse(r, DMACOH_ENXIO, path,
                                 "has no ranges: what lies below it is not CPU-addressable", NULL);
    /* Empty: the identity. Absent dma-ranges: the identity too. DEVIATION(kernel):
     * of_dma_get_range fails once a dma-ranges was seen below a bus without one; here such a
     * bus passes addresses through and the device's DMA mask is checked at declare time. */
    if (!p || len == 0)
        return 0;
    if ((rc = cells(dt, bus, false, &ca, r)) != 0 || (rc = cells(dt, parent, false, &pa, r)) != 0 ||
        (rc = cells(dt, bus, true, &sc, r)) != 0)
        return rc;
    w = ca + pa + sc;
    if (sc == 0 || len % (w * 4) != 0)
        return dmacoh__dt_refuse(r, DMACOH_EINVAL, path, prop,
                                 "is not whole (child, parent, size) entries of its cells");
    for (const fdt32_t *e = p; e < p + len / 4; e += w) {
        uint64_t c = rd(e, ca), q = rd(e + ca, pa), s = rd(e + ca + pa, sc);
        uint64_t from = down ? q : c, to = down ? c : q, off = *x - from;

        if (s == 0 || s - 1 > UINT64_MAX - c || s - 1 > UINT64_MAX - q)
            return dmacoh__dt_refuse(r, DMACOH_ERANGE, path, prop,
                                     "has an entry of size 0 or one that wraps past 2^64");
        if (*x >= from && off <= s - 1 && (size == 0 || size - 1 <= s - 1 - off)) {
            *x = to + off;
            return 0;
        }
    }
    if (down)
        return dmacoh__dt_refuse(
            r, DMACOH_ERANGE, "the device cannot reach it: outside the dma-ranges of", path, NULL);
    return dmacoh__dt_refuse(r, DMACOH_ENXIO, "outside every ranges entry of", path, NULL);
}

int dmacoh__dt_to_cpu(const struct dmacoh_dt *dt, int node, uint64_t *addr, uint64_t size,
                      struct dmacoh_dt_region *r)
{
    int anc[DMACOH_DT_MAX_DEPTH], n = dmacoh__dt_ancestors(dt, node, anc, r), rc;

    if (n < 0)
        return n;
    /* anc[n - 1] is the root: its children's addresses are the CPU's. */
    for (int i = 0; i + 1 < n; i++)
        if ((rc = through(dt, anc[i], anc[i + 1], false, addr, size, r)) != 0)
            return rc;
    return 0;
}

int dmacoh__dt_to_device(const struct dmacoh_dt *dt, int dev, uint64_t cpu, uint64_t size,
                         uint64_t *out, struct dmacoh_dt_region *r)
{
    int anc[DMACOH_DT_MAX_DEPTH], n = dmacoh__dt_ancestors(dt, dev, anc, r), rc;

    if (n < 0)
        return n;
    /* From the root down to the device's parent, undoing each dma-ranges. The root's own
     * dma-ranges counts too (of_dma_get_range walks up to it): its children's DMA addresses
     * on one side, CPU addresses in the root's cells on the other. */
    for (int i = n - 1; i >= 0; i--)
        if ((rc = through(dt, anc[i], anc[i + 1 < n ? i + 1 : i], true, &cpu, size, r)) != 0)
            return rc;
    *out = cpu;
    return 0;
}

/* ---- taking a blob ---- */

/* True when every tag of the structure block lies after the one before it. libfdt 1.6.1's
 * fdt_next_tag moves past a property by its length with no check that it moves at all: a
 * length of 0xfffffff4 (minus the 12 bytes of the property's header) gives back the
 * property's own offset, and fdt_check_full, which walks on until FDT_END, then loops
 * forever (a fuzz finding, tests/fuzz/corpus_dt/proplen-fffffff4-check-full-loop.dtb).
 * fdt_next_tag's own bounds checks end this walk at the block's end: at most one step per
 * 4 bytes. */
static bool tags_advance(const void *blob)
{
    int offset, next = 0;
    uint32_t tag;

    do {
        offset = next;
        tag = fdt_next_tag(blob, offset, &next);
        if (tag != FDT_END && next <= offset)
            return false;
    } while (tag != FDT_END);
    return true;
}

static int bad_blob(const char *what, const char *why)
{
    dmacoh__err("devicetree: blob refused: %s%s", what, why ? why : "");
    return DMACOH_EINVAL;
}

int dmacoh_dt_init(struct dmacoh_dt *dt, const void *blob, size_t size)
{
    int rc;

    if (!dt || !blob)
        return bad_blob("NULL argument", NULL);
    if ((uintptr_t)blob % 8 != 0)
        return bad_blob("not 8-byte aligned (libfdt needs it)", NULL);
    if (size < sizeof(struct fdt_header) || size > INT_MAX)
        return bad_blob(size > INT_MAX ? "larger than 2 GiB" : "truncated: shorter than a header",
                        NULL);
    if ((rc = fdt_check_header(blob)) != 0)
        return bad_blob("header: ", fdt_strerror(rc));
    /* Version 17 (dtc's since 2007, and what the sequential-write calls make) is the first
     * whose header gives the structure block's size. libfdt reads older layouts only in part
     * (its read-only calls need 16), and 1.6.1's fdt_check_full dereferences NULL on a
     * version-9 blob whose header fdt_check_header accepts (a fuzz finding,
     * tests/fuzz/corpus_dt/version9-check-full-crash.dtb): older versions are refused here. */
    if (fdt_version(blob) < 17)
        return bad_blob("version older than 17 (recompile it with dtc)", NULL);
    if (fdt_totalsize(blob) > size)
        return bad_blob("truncated: its header claims more bytes than were given", NULL);
    if (!tags_advance(blob))
        return bad_blob("structure: a property's length leads back to itself", NULL);
    if ((rc = fdt_check_full(blob, fdt_totalsize(blob))) != 0)
        return bad_blob("structure: ", fdt_strerror(rc));
    dt->blob = blob;
    dt->size = fdt_totalsize(blob);
    dt->live = false;
    dt->owned = NULL;
    return 0;
}
