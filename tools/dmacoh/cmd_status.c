/* SPDX-License-Identifier: MIT */
/*
 * cmd_status.c - `dmacoh status`: every region declared on the machine that can be seen from
 * outside its processes. Two sources, both machine-wide:
 *   - the shared regions' state objects (dmacoh_shared_list, dmacoh_shared_inspect): size,
 *     use, largest free span, quarantine, fallbacks, and every owner process;
 *   - the registry of held physical ranges (dmacoh_registry_walk): which process holds which
 *     bus range, exclusively or shared; a private region of physical memory shows there with
 *     its holder and range only (its use lives in its process).
 * A private region of memory with no bus address (simulator, memfd) is in neither: the
 * output says so. A region this user may not open is listed with the permission missing.
 */
#include "tool.h"

#include <dmacoh/errno.h>
#include <dmacoh/registry.h>
#include <dmacoh/shared.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: dmacoh status [--json]\n"
    "\n"
    "Every region declared on the machine that can be seen from outside its processes:\n"
    "the shared regions (their state objects in DMACOH_SHM_DIR, default /dev/shm), with\n"
    "size, use, largest free span, quarantined blocks of dead owners, fallbacks and owner\n"
    "processes; and the physical ranges held in the registry (DMACOH_REGISTRY, default\n"
    "/run/dmacoh/registry), with the process holding each. A private region shows only\n"
    "as its held range; one of memory with no bus address (simulator, memfd) not at all.\n"
    "\n"
    "  --json   the same as JSON (schema in dmacoh(1))\n";

struct region {
    struct tool_region r;
    struct tool_look l;
};

struct held {
    struct dmacoh_registry_entry e;
    const char *region; /* the shared region over it, if one is seen */
};

struct state {
    struct region *regions;
    size_t nregions, cap;
    struct held *held;
    size_t nheld, hcap;
};

static int grow(void **v, size_t *cap, size_t n, size_t each)
{
    void *nv;

    if (n < *cap)
        return 0;
    nv = realloc(*v, (*cap ? *cap * 2 : 8) * each);
    if (!nv)
        return -1;
    *v = nv;
    *cap = *cap ? *cap * 2 : 8;
    return 0;
}

static int on_entry(void *user, const struct dmacoh_shared_entry *e)
{
    struct state *s = user;
    struct region *r;

    if (grow((void **)&s->regions, &s->cap, s->nregions, sizeof(*s->regions)))
        return DMACOH_ENOMEM;
    r = &s->regions[s->nregions++];
    memset(r, 0, sizeof(*r));
    snprintf(r->r.name, sizeof(r->r.name), "%s", e->name);
    r->r.uid = e->uid;
    r->r.gid = e->gid;
    r->r.mode = e->mode;
    return 0;
}

static int on_held(void *user, const struct dmacoh_registry_entry *e)
{
    struct state *s = user;

    if (grow((void **)&s->held, &s->hcap, s->nheld, sizeof(*s->held)))
        return DMACOH_ENOMEM;
    s->held[s->nheld].e = *e;
    s->held[s->nheld].region = NULL;
    s->nheld++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct region *)a)->r.name, ((const struct region *)b)->r.name);
}

/* Whether the region's figures can be shown (read, even if its state is inconsistent). */
static bool readable(const struct region *g)
{
    return g->l.err == 0 || (g->l.err == DMACOH_EIO && g->l.info.size != 0);
}

static const char *state_name(int st)
{
    return st == DMACOH_OWNER_LIVE ? "live" : "dead";
}

static uint64_t used_of(const struct region *r)
{
    return r->l.info.stats.live_bytes + r->l.info.stats.quarantined_bytes;
}

static void print_json(const struct state *s, const char *reg_path, int reg_err,
                       const char *reg_why)
{
    struct json j;
    char hex[24];

    json_init(&j, stdout);
    json_begin(&j, NULL, '{');
    json_u64(&j, "schema", 1);
    json_str(&j, "shared_dir", tool_shm_dir());
    json_begin(&j, "regions", '[');
    for (size_t i = 0; i < s->nregions; i++) {
        const struct region *r = &s->regions[i];
        const struct dmacoh_shared_info *in = &r->l.info;

        json_begin(&j, NULL, '{');
        json_str(&j, "name", r->r.name);
        json_u64(&j, "uid", r->r.uid);
        json_str(&j, "error", r->l.err ? r->l.why : NULL);
        if (!readable(r)) {
            json_end(&j, '}');
            continue;
        }
        json_str(&j, "bus", tool_hex(in->bus, hex));
        json_str(&j, "device_addr", tool_hex(in->device_addr, hex));
        json_u64(&j, "size", in->size);
        json_u64(&j, "granule", in->granule);
        json_bool(&j, "consistent", in->consistent);
        json_u64(&j, "used", used_of(r));
        json_u64(&j, "free", in->stats.free_bytes);
        json_u64(&j, "occupied", in->stats.occupied_bytes);
        json_u64(&j, "largest_free", in->largest_free);
        json_u64(&j, "free_spans", in->free_spans);
        json_u64(&j, "live_blocks", in->stats.live_blocks);
        json_u64(&j, "quarantined_blocks", in->stats.quarantined_blocks);
        json_u64(&j, "quarantined_bytes", in->stats.quarantined_bytes);
        json_u64(&j, "fallbacks", in->fallbacks);
        json_u64(&j, "recoveries", in->stats.recoveries);
        json_u64(&j, "deaths", in->stats.deaths);
        json_bool(&j, "reset_on_death", in->stats.reset_on_death);
        json_u64(&j, "max_procs", in->stats.max_procs);
        json_begin(&j, "owners", '[');
        for (unsigned k = 0; k < r->l.nowners; k++) {
            const struct dmacoh_shared_owner *o = &r->l.owners[k];

            json_begin(&j, NULL, '{');
            json_u64(&j, "index", o->index);
            json_u64(&j, "pid", o->pid);
            json_str(&j, "comm", r->l.comm[k]);
            json_str(&j, "state", state_name(o->state));
            json_u64(&j, "blocks", o->blocks);
            json_u64(&j, "bytes", o->bytes);
            json_end(&j, '}');
        }
        json_end(&j, ']');
        json_end(&j, '}');
    }
    json_end(&j, ']');
    json_str(&j, "registry", reg_path);
    json_str(&j, "registry_error", reg_err ? reg_why : NULL);
    json_begin(&j, "held", '[');
    for (size_t i = 0; i < s->nheld; i++) {
        const struct held *h = &s->held[i];

        json_begin(&j, NULL, '{');
        json_str(&j, "bus", tool_hex(h->e.bus, hex));
        json_u64(&j, "size", h->e.size);
        if (h->e.pid)
            json_u64(&j, "pid", h->e.pid);
        else
            json_null(&j, "pid");
        json_str(&j, "comm", h->e.comm);
        json_str(&j, "hold", h->e.shared ? "shared" : "exclusive");
        json_str(&j, "region", h->region);
        json_end(&j, '}');
    }
    json_end(&j, ']');
    json_end(&j, '}');
}

static void print_table(const struct state *s, const char *reg_path, int reg_err,
                        const char *reg_why)
{
    char a[32], b[32], c[32], d[32], hex[24];

    printf("Shared regions (%s):\n", tool_shm_dir());
    if (!s->nregions)
        printf("  none\n");
    else
        printf("  %-16s %-14s %10s %10s %12s %11s %9s  %s\n", "NAME", "BUS", "SIZE", "USED",
               "LARGEST FREE", "QUARANTINED", "FALLBACKS", "PROCESSES");
    for (size_t i = 0; i < s->nregions; i++) {
        const struct region *r = &s->regions[i];
        const struct dmacoh_shared_info *in = &r->l.info;

        if (!readable(r)) {
            printf("  %-16s %s\n", r->r.name, r->l.why);
            continue;
        }
        printf("  %-16s %-14s %10s %10s %12s %6" PRIu64 " blk%s %9" PRIu64 "  %u live, %u dead\n",
               r->r.name, tool_hex(in->bus, hex), tool_size(in->size, a), tool_size(used_of(r), b),
               tool_size(in->largest_free, c), in->stats.quarantined_blocks,
               in->stats.quarantined_blocks == 1 ? " " : "s", in->fallbacks, in->stats.procs,
               in->stats.dead);
        if (r->l.err)
            printf("  %-16s INCONSISTENT: %s\n", "", r->l.why);
        for (unsigned k = 0; k < r->l.nowners; k++) {
            const struct dmacoh_shared_owner *o = &r->l.owners[k];

            printf("  %-16s   owner %u: pid %" PRIu64 " (%s) %s, %" PRIu64 " block%s, %s\n", "",
                   o->index, o->pid, r->l.comm[k], state_name(o->state), o->blocks,
                   o->blocks == 1 ? "" : "s", tool_size(o->bytes, d));
        }
    }
    printf("\nHeld physical ranges (registry %s):\n", reg_path ? reg_path : "turned off");
    if (reg_err)
        printf("  cannot be read: %s\n", reg_why);
    else if (!s->nheld)
        printf("  none\n");
    else
        printf("  %-37s %8s  %-16s %-9s  %s\n", "BUS RANGE", "PID", "COMMAND", "HOLD", "REGION");
    for (size_t i = 0; !reg_err && i < s->nheld; i++) {
        const struct held *h = &s->held[i];
        char range[64];

        snprintf(range, sizeof(range), "0x%" PRIx64 "-0x%" PRIx64 " (%s)", h->e.bus,
                 h->e.bus + h->e.size - 1, tool_size(h->e.size, a));
        printf("  %-37s %8" PRIu64 "  %-16s %-9s  %s\n", range, h->e.pid, h->e.comm,
               h->e.shared ? "shared" : "exclusive", h->region ? h->region : "-");
    }
    printf("\nNot seen from outside: private regions' use (their holder and range are above),\n"
           "and private regions of memory with no bus address (simulator, memfd).\n");
}

int cmd_status(int argc, char **argv)
{
    const char *json = NULL;
    struct tool_opt opts[] = {{"json", false, &json}, {NULL, false, NULL}};
    struct state s;
    struct dmacoh_platform *p;
    const char *reg_path;
    char reg_why[512];
    int i = tool_opts(argc, argv, opts, help), r, reg_err;

    if (i < 0)
        return i == -2 ? TOOL_OK : TOOL_USAGE;
    if (i < argc)
        return tool_err(TOOL_USAGE, argv[0], "takes no operand ('%s')", argv[i]);
    tool_log_capture();
    p = tool_platform(argv[0]);
    if (!p)
        return TOOL_FAIL;
    memset(&s, 0, sizeof(s));
    tool_log_reset();
    r = dmacoh_shared_list(p, on_entry, &s);
    if (r) {
        free(s.regions);
        return tool_err(tool_code(r), argv[0], "cannot read %s: %s", tool_shm_dir(),
                        *tool_first_log() ? tool_first_log() : dmacoh_strerror(r));
    }
    if (s.nregions > 1)
        qsort(s.regions, s.nregions, sizeof(*s.regions), by_name);
    for (size_t k = 0; k < s.nregions; k++)
        (void)tool_look(p, &s.regions[k].r, TOOL_LOOK_INFO, &s.regions[k].l);
    reg_path = dmacoh_registry_path();
    tool_log_reset();
    reg_err = reg_path ? dmacoh_registry_walk(on_held, &s) : 0;
    snprintf(reg_why, sizeof(reg_why), "%s",
             *tool_first_log() ? tool_first_log() : dmacoh_strerror(reg_err));
    for (size_t k = 0; k < s.nheld; k++)
        for (size_t m = 0; m < s.nregions && s.held[k].e.shared; m++) {
            const struct region *g = &s.regions[m];

            if (readable(g) && s.held[k].e.bus < g->l.info.bus + g->l.info.size &&
                g->l.info.bus < s.held[k].e.bus + s.held[k].e.size)
                s.held[k].region = g->r.name;
        }
    if (json)
        print_json(&s, reg_path, reg_err, reg_why);
    else
        print_table(&s, reg_path, reg_err, reg_why);
    free(s.regions);
    free(s.held);
    /* A region that cannot be read is named in the output and the command goes on; a
     * registry that cannot be read fails it, after everything else is shown. */
    return tool_flush(argv[0], reg_err ? TOOL_FAIL : TOOL_OK);
}
