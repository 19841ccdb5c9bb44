/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dt.c - libFuzzer target: the bytes are a devicetree blob. It is copied to an 8-byte
 * aligned buffer (as a loader gives it) and handed to dmacoh_dt_init; when the blob passes
 * libfdt's checks, every query of the reader runs over it: the tree's regions, the default
 * pool, and for every node the device-region list, each entry by index and by name, and the
 * device lookup by path (a name may hold characters a path cannot) and by compatible.
 *
 * Beyond ASan and UBSan, each description must keep the reader's promises: a declarable
 * region has a size, does not wrap past 2^64 on either side and has no reason; a refused one
 * has a negative DMACOH_E* status and a reason; every string is NUL-terminated inside its
 * array; the index and name lookups agree with the list. A broken promise aborts.
 */
#include <dmacoh/devicetree.h>
#include <dmacoh/errno.h>

#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void promise(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_dt: broken promise: %s\n", what);
        abort();
    }
}

static void region_ok(const struct dmacoh_dt_region *r)
{
    promise(memchr(r->path, 0, sizeof(r->path)) != NULL, "path terminated");
    promise(memchr(r->name, 0, sizeof(r->name)) != NULL, "name terminated");
    promise(memchr(r->reason, 0, sizeof(r->reason)) != NULL, "reason terminated");
    if (r->status == 0) {
        promise(r->size != 0, "declarable region has a size");
        promise(r->size - 1 <= UINT64_MAX - r->bus, "bus range does not wrap");
        promise(r->size - 1 <= UINT64_MAX - r->device, "device range does not wrap");
        promise(r->reason[0] == '\0', "declarable region has no reason");
    } else {
        promise(r->status < 0 && r->reason[0] != '\0', "refusal has a code and a reason");
        promise(dmacoh_err_name(r->status)[7] != '?', "refusal code is a DMACOH_E* code");
    }
}

static struct dmacoh_dt_region list[64], one;

static void device(const struct dmacoh_dt *dt, int node)
{
    size_t n = 0;
    int rc = dmacoh_dt_device_regions(dt, node, list, 64, &n);

    promise(rc == 0 || rc == DMACOH_EINVAL || rc == DMACOH_EOVERFLOW, "device list code");
    if (rc == DMACOH_EINVAL)
        return;
    for (size_t i = 0; i < n && i < 64; i++) {
        region_ok(&list[i]);
        promise(dmacoh_dt_device_region(dt, node, NULL, (unsigned)i, &one) == 0, "by index");
        promise(one.status == list[i].status && one.bus == list[i].bus, "index agrees");
        if (list[i].name[0])
            promise(dmacoh_dt_device_region(dt, node, list[i].name, 0, &one) == 0, "by name");
    }
    promise(dmacoh_dt_device_region(dt, node, NULL, (unsigned)n, &one) == DMACOH_ENOENT,
            "past the end");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dmacoh_dt dt;
    char path[DMACOH_DT_PATH_MAX];
    void *blob = aligned_alloc(8, (size + 8) & ~(size_t)7);
    size_t n = 0;
    int node, rc;

    if (!blob)
        return 0;
    if (size)
        memcpy(blob, data, size);
    if (dmacoh_dt_init(&dt, blob, size) == 0) {
        rc = dmacoh_dt_regions(&dt, list, 64, &n);
        promise(rc == 0 || rc == DMACOH_EOVERFLOW, "regions code");
        for (size_t i = 0; i < n && i < 64; i++)
            region_ok(&list[i]);
        if (dmacoh_dt_default_pool(&dt, &one) == 0)
            region_ok(&one);
        for (node = 0; node >= 0; node = fdt_next_node(dt.blob, node, NULL)) {
            device(&dt, node);
            if (fdt_get_path(dt.blob, node, path, sizeof(path)) == 0)
                (void)dmacoh_dt_find_device(&dt, path);
        }
        (void)dmacoh_dt_find_device(&dt, "acme,dma-engine");
    }
    free(blob);
    return 0;
}
