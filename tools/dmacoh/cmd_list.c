/* SPDX-License-Identifier: MIT */
/*
 * cmd_list.c - `dmacoh list`: the device memory of this machine and how to reach it, from
 * dmacoh_discover(). Records of one device (same kind and name, consecutive in the walk) make
 * one block of the table, or one element of the JSON "devices" array; the schema is
 * documented in dmacoh(1) and changes only with "schema".
 */
#include "tool.h"

#include <dmacoh/discover.h>
#include <dmacoh/dmacoh.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "usage: dmacoh list [--json] [--device NAME] [--kind KINDS] [--sysfs-root DIR]\n"
    "                   [--dev-root DIR]\n"
    "The device memory this machine has, and how to reach it: PCI memory BARs, UIO maps,\n"
    "device DAX, NVMe controller memory buffers, devicetree reserved-memory and mmio-sram.\n"
    "  --json            JSON (schema 1, see dmacoh(1)) instead of the table\n"
    "  --device NAME     only this device (0000:03:00.0, uio0, dax0.0, nvme0, a node name)\n"
    "  --kind KINDS      comma-separated: pci,uio,dax,nvme,dt (default: all)\n"
    "  --sysfs-root DIR  read DIR instead of /sys\n"
    "  --dev-root DIR    name device nodes under DIR instead of /dev\n";

struct list_state {
    bool json;
    struct json j;
    bool open;        /* a device block or object is open */
    int kind;         /* of the open device */
    char device[256]; /* of the open device */
    unsigned records; /* records seen */
};

static int parse_kinds(const char *s, unsigned *kinds)
{
    *kinds = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        unsigned k;

        for (k = DMACOH_FOUND_PCI; k <= DMACOH_FOUND_DT; k <<= 1)
            if (strlen(dmacoh_found_kind_name((int)k)) == len &&
                !strncmp(s, dmacoh_found_kind_name((int)k), len))
                break;
        if (k > DMACOH_FOUND_DT)
            return -1;
        *kinds |= k;
        s += len + (s[len] == ',');
    }
    return *kinds ? 0 : -1;
}

/* The flags of a record as words. */
static const char *const flag_names[] = {"64bit",    "prefetchable", "wc",     "no-map",
                                         "reusable", "hidden",       "no-addr"};

static void hex(char *buf, size_t len, uint64_t v)
{
    snprintf(buf, len, "0x%" PRIx64, v);
}

/* ---- JSON ---- */

static void json_device(struct json *j, const struct dmacoh_found *f)
{
    char buf[32];
    bool pci = f->kind == DMACOH_FOUND_PCI || f->kind == DMACOH_FOUND_NVME;

    json_begin(j, NULL, '{');
    json_str(j, "kind", dmacoh_found_kind_name(f->kind));
    json_str(j, "device", f->device);
    json_str(j, "parent", *f->parent ? f->parent : NULL);
    json_str(j, "driver", *f->driver ? f->driver : NULL);
    snprintf(buf, sizeof(buf), "0x%04x", f->vendor);
    json_str(j, "vendor", pci ? buf : NULL);
    snprintf(buf, sizeof(buf), "0x%04x", f->device_id);
    json_str(j, "device_id", pci ? buf : NULL);
    snprintf(buf, sizeof(buf), "0x%06x", (unsigned)f->class_code);
    json_str(j, "class", pci ? buf : NULL);
    if (f->iommu_group >= 0)
        json_i64(j, "iommu_group", f->iommu_group);
    else
        json_null(j, "iommu_group");
    if (f->numa_node >= 0)
        json_i64(j, "numa_node", f->numa_node);
    else
        json_null(j, "numa_node");
    json_begin(j, "memory", '[');
}

static void json_path(struct json *j, const struct dmacoh_found_path *p)
{
    char buf[32];

    json_begin(j, NULL, '{');
    json_str(j, "via", dmacoh_path_via_name(p->via));
    json_str(j, "state", dmacoh_path_state_name(p->state));
    json_str(j, "file", *p->file ? p->file : NULL);
    hex(buf, sizeof(buf), p->offset);
    json_str(j, "offset", buf);
    json_str(j, "missing", *p->missing ? p->missing : NULL);
    json_str(j, "how", *p->how ? p->how : NULL);
    json_end(j, '}');
}

static void json_record(struct json *j, const struct dmacoh_found *f)
{
    char buf[32];

    json_begin(j, NULL, '{');
    json_u64(j, "index", f->index);
    hex(buf, sizeof(buf), f->bus);
    json_str(j, "bus", (f->flags & DMACOH_FOUND_NO_ADDR) ? NULL : buf);
    json_u64(j, "size", f->size);
    hex(buf, sizeof(buf), f->offset);
    json_str(j, "offset", buf);
    json_u64(j, "align", f->align);
    json_str(j, "label", *f->label ? f->label : NULL);
    json_begin(j, "flags", '[');
    for (unsigned b = 0; b < sizeof(flag_names) / sizeof(flag_names[0]); b++)
        if (f->flags & (1u << b))
            json_str(j, NULL, flag_names[b]);
    json_end(j, ']');
    json_str(j, "problem", *f->problem ? f->problem : NULL);
    json_begin(j, "paths", '[');
    for (unsigned i = 0; i < f->npaths; i++)
        json_path(j, &f->path[i]);
    json_end(j, ']');
    json_end(j, '}');
}

/* ---- table ---- */

static void table_device(const struct dmacoh_found *f)
{
    printf("%s %s", dmacoh_found_kind_name(f->kind), tool_shown(f->device));
    if (f->kind == DMACOH_FOUND_PCI || f->kind == DMACOH_FOUND_NVME)
        printf("  [%04x:%04x] class %06x", f->vendor, f->device_id, (unsigned)f->class_code);
    if (f->kind == DMACOH_FOUND_DT && *f->label)
        printf("  compatible \"%s\"", tool_shown(f->label));
    if (f->kind == DMACOH_FOUND_NVME && *f->label)
        printf("  controller %s", tool_shown(f->label));
    putchar('\n');
    if (f->kind == DMACOH_FOUND_DT)
        return; /* a devicetree node has no driver, group or node of its own here */
    printf("  driver: %s", *f->driver ? tool_shown(f->driver) : "none");
    if (f->kind == DMACOH_FOUND_PCI || f->kind == DMACOH_FOUND_NVME) {
        if (f->iommu_group >= 0)
            printf("  iommu group: %d", f->iommu_group);
        else
            printf("  iommu group: none");
    }
    if (*f->parent)
        printf("  parent: %s", tool_shown(f->parent));
    if (f->numa_node >= 0)
        printf("  node: %d", f->numa_node);
    putchar('\n');
}

static void table_path(const struct dmacoh_found_path *p)
{
    printf("      %-6s %-6s %s", dmacoh_path_via_name(p->via), dmacoh_path_state_name(p->state),
           *p->file ? tool_shown(p->file) : "-");
    if (*p->file && p->offset)
        printf(" (offset 0x%" PRIx64 ")", p->offset);
    if (*p->missing)
        printf(": %s permission missing", tool_shown(p->missing));
    putchar('\n');
    if (*p->how && p->state != DMACOH_PATH_READY)
        printf("             -> %s\n", tool_shown(p->how));
}

static void table_record(const struct dmacoh_found *f)
{
    char size[32], what[64];

    switch (f->kind) {
    case DMACOH_FOUND_PCI:
        snprintf(what, sizeof(what), "BAR%u", f->index);
        break;
    case DMACOH_FOUND_NVME:
        snprintf(what, sizeof(what), "CMB in BAR%u +0x%" PRIx64, f->index, f->offset);
        break;
    case DMACOH_FOUND_UIO:
        snprintf(what, sizeof(what), "map%u", f->index);
        break;
    case DMACOH_FOUND_DT:
        snprintf(what, sizeof(what), "reg%u", f->index);
        break;
    default:
        snprintf(what, sizeof(what), "memory");
        break;
    }
    if (f->kind == DMACOH_FOUND_PCI && *f->problem)
        snprintf(what, sizeof(what), "-"); /* the BARs could not be read: no index to name */
    if (f->kind == DMACOH_FOUND_NVME && (f->flags & DMACOH_FOUND_NO_ADDR))
        snprintf(what, sizeof(what), "CMB");
    printf("  %-10s ", what);
    if (f->flags & DMACOH_FOUND_NO_ADDR)
        printf("%-18s", "address unknown");
    else
        printf("0x%016" PRIx64, f->bus);
    printf("  %s (0x%" PRIx64 ")", tool_size(f->size, size), f->size);
    for (unsigned b = 0; b < sizeof(flag_names) / sizeof(flag_names[0]); b++)
        if ((f->flags & (1u << b)) && (1u << b) != DMACOH_FOUND_NO_ADDR)
            printf(" %s", flag_names[b]);
    if (f->kind == DMACOH_FOUND_UIO && *f->label)
        printf(" \"%s\"", tool_shown(f->label));
    if (f->kind == DMACOH_FOUND_UIO && f->offset)
        printf(" offset 0x%" PRIx64, f->offset);
    if (f->align)
        printf(" align %s", tool_size(f->align, size));
    putchar('\n');
    if (*f->problem)
        printf("      problem: %s\n", tool_shown(f->problem));
    for (unsigned i = 0; i < f->npaths; i++)
        table_path(&f->path[i]);
}

static void close_device(struct list_state *s)
{
    if (s->open && s->json) {
        json_end(&s->j, ']');
        json_end(&s->j, '}');
    }
    s->open = false;
}

static int on_found(void *user, const struct dmacoh_found *f)
{
    struct list_state *s = user;

    if (!s->open || s->kind != f->kind || strcmp(s->device, f->device) != 0) {
        close_device(s);
        if (s->json) {
            json_device(&s->j, f);
        } else {
            if (s->records)
                putchar('\n');
            table_device(f);
        }
        s->open = true;
        s->kind = f->kind;
        snprintf(s->device, sizeof(s->device), "%s", f->device);
    }
    s->records++;
    if (s->json)
        json_record(&s->j, f);
    else
        table_record(f);
    return 0;
}

int cmd_list(int argc, char **argv)
{
    const char *json = NULL, *device = NULL, *kind = NULL, *sys = NULL, *dev = NULL;
    struct tool_opt opts[] = {{"json", false, &json},   {"device", true, &device},
                              {"kind", true, &kind},    {"sysfs-root", true, &sys},
                              {"dev-root", true, &dev}, {NULL, false, NULL}};
    struct dmacoh_discover_opts o = {NULL, NULL, NULL, 0};
    struct list_state s;
    int i = tool_opts(argc, argv, opts, help), rc;

    if (i < 0)
        return i == -2 ? TOOL_OK : TOOL_USAGE;
    if (i < argc)
        return tool_err(TOOL_USAGE, argv[0], "unexpected argument '%s'", argv[i]);
    if (kind && parse_kinds(kind, &o.kinds) != 0)
        return tool_err(TOOL_USAGE, argv[0], "--kind: '%s' is not a list of pci,uio,dax,nvme,dt",
                        kind);
    for (int k = 0; k < 2; k++) { /* a root that is no folder would list nothing, silently */
        const char *root = k ? dev : sys;
        struct stat st;

        if (root && (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)))
            return tool_err(TOOL_NOTFOUND, argv[0], "--%s: %s is not a folder",
                            k ? "dev-root" : "sysfs-root", root);
    }
    o.sysfs_root = sys;
    o.dev_root = dev;
    o.device = device;
    memset(&s, 0, sizeof(s));
    s.json = json != NULL;
    if (s.json) {
        json_init(&s.j, stdout);
        json_begin(&s.j, NULL, '{');
        json_u64(&s.j, "schema", 1);
        json_str(&s.j, "sysfs_root", sys ? sys : "/sys");
        json_str(&s.j, "dev_root", dev ? dev : "/dev");
        json_begin(&s.j, "devices", '[');
    }
    rc = dmacoh_discover(&o, on_found, &s);
    close_device(&s);
    if (s.json) {
        json_end(&s.j, ']');
        json_end(&s.j, '}');
    } else if (!s.records && rc == 0) {
        puts("no device memory found");
    }
    if (fflush(stdout) != 0)
        return tool_err(TOOL_FAIL, argv[0], "writing the output failed");
    if (rc == DMACOH_EINVAL)
        return tool_err(TOOL_USAGE, argv[0], "--device: '%s' is not a device name",
                        device ? device : "");
    if (rc == DMACOH_ENOENT)
        return tool_err(TOOL_NOTFOUND, argv[0], "no device memory of '%s' found", device);
    if (rc == DMACOH_EACCES)
        return tool_err(TOOL_NOPERM, argv[0],
                        "a sysfs directory could not be read (read permission missing; the "
                        "line above names it): the list is incomplete");
    if (rc < 0)
        return tool_err(tool_code(rc), argv[0], "%s", dmacoh_strerror(rc));
    return TOOL_OK;
}
