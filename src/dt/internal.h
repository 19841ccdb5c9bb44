/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the devicetree reader's files share: a bounded text builder for refusal
 * reasons, string helpers (the reader needs no C library beyond what libfdt itself needs),
 * and the address helpers of addr.c.
 */
#ifndef DMACOH_DT_INTERNAL_H
#define DMACOH_DT_INTERNAL_H

#include <dmacoh/devicetree.h>

#include <libfdt.h>

/* Text written into a fixed buffer, cut (never overrun) when full. */
struct dmacoh__text {
    char *buf;
    size_t cap, len;
};

void dmacoh__text_init(struct dmacoh__text *t, char *buf, size_t cap);
void dmacoh__text_str(struct dmacoh__text *t, const char *s);
void dmacoh__text_hex(struct dmacoh__text *t, uint64_t v);
void dmacoh__text_dec(struct dmacoh__text *t, uint64_t v);

bool dmacoh__dt_streq(const char *a, const char *b);
size_t dmacoh__dt_strlen(const char *s);

/* Marks r refused with code and the reason "a b c" (NULL pieces left out); returns code. */
int dmacoh__dt_refuse(struct dmacoh_dt_region *r, int code, const char *a, const char *b,
                      const char *c);

/* The node's path into buf ("?" when it does not fit). */
void dmacoh__dt_path(const struct dmacoh_dt *dt, int node, char *buf, size_t cap);

/* A property of at most DMACOH_DT_MAX_PROP bytes, or NULL (absent; *len < 0 then when too
 * long: -1). */
const void *dmacoh__dt_prop(const struct dmacoh_dt *dt, int node, const char *name, int *len);

/* True when the node's `status` is absent, "okay" or "ok". */
bool dmacoh__dt_enabled(const struct dmacoh_dt *dt, int node);

/* The ancestors of node, parent first, root last, into anc[DMACOH_DT_MAX_DEPTH]; returns
 * their number (0 for the root) or refuses r (too deep, bad offset). */
int dmacoh__dt_ancestors(const struct dmacoh_dt *dt, int node, int *anc,
                         struct dmacoh_dt_region *r);

/* The first (address, size) of node's `reg`, with its parent's cells; 0 or refuses r. */
int dmacoh__dt_reg(const struct dmacoh_dt *dt, int node, uint64_t *addr, uint64_t *size,
                   struct dmacoh_dt_region *r);

/* [addr, addr + size) in the address space of node's parent, translated through the ranges
 * of every bus above up to the CPU; 0 or refuses r. */
int dmacoh__dt_to_cpu(const struct dmacoh_dt *dt, int node, uint64_t *addr, uint64_t size,
                      struct dmacoh_dt_region *r);

/* The CPU range [cpu, cpu + size) as device `dev` addresses it, through the dma-ranges of its
 * buses; 0 or refuses r. */
int dmacoh__dt_to_device(const struct dmacoh_dt *dt, int dev, uint64_t cpu, uint64_t size,
                         uint64_t *out, struct dmacoh_dt_region *r);

#endif /* DMACOH_DT_INTERNAL_H */
