/* SPDX-License-Identifier: MIT */
/*
 * guest.c - the program tests/hw-dt/run.sh runs inside an arm64 QEMU guest (`virt` machine,
 * Debian's kernel) whose devicetree has a /reserved-memory node added by the host.
 *
 * It reads the kernel's live tree (/sys/firmware/devicetree/base, and /proc/device-tree, the
 * same tree through a link), lists every region the tree describes and those of the device
 * node `dmacoh,hw-dt-test`, declares that device's region "pool" through /dev/mem with
 * dmacoh_dt_declare, allocates blocks, fills them with tags through the IO accessors, reads
 * them back, and asks the host to check the bytes in guest-physical memory. Lines:
 *   hwdt: ...                                 what it did, one line a step
 *   HWDT-REGION <path> <name> <bus> <device> <size> <status> <flags>   each region the
 *                                             reader lists (all of the tree, then the device's)
 *   HOSTDUMP <phys> <length> <tag>            run.sh saves <length> bytes at <phys> with the
 *                                             monitor's pmemsave and checks they are <tag>
 *                                             repeated
 *   hwdt: PASS | hwdt: FAIL                   the verdict on what the guest could check
 */
#include <dmacoh/devicetree.h>
#include <dmacoh/devmem.h>
#include <dmacoh/dmacoh.h>
#include <dmacoh/io.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEVICE    "dmacoh,hw-dt-test"
#define NBLOCKS   3
#define MAXREGION 16

static int failures;

#define check(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("hwdt: check failed: ");                                                        \
            printf(__VA_ARGS__);                                                                   \
            printf(" (%s:%d)\n", __FILE__, __LINE__);                                              \
            failures++;                                                                            \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

static void print_region(const char *who, const struct dmacoh_dt_region *r)
{
    printf("HWDT-REGION %s %s %s %#llx %#llx %#llx %d %#x\n", who, r->path[0] ? r->path : "-",
           r->name[0] ? r->name : "-", (unsigned long long)r->bus, (unsigned long long)r->device,
           (unsigned long long)r->size, r->status, r->flags);
    if (r->status != 0)
        printf("hwdt: %s: refused: %s\n", r->path, r->reason);
}

/* The live tree read twice, through its two names, must give the same blob. */
static int same_tree_twice(const struct dmacoh_dt *dt)
{
    struct dmacoh_dt proc;
    int r = dmacoh_dt_open_live(&proc, "/proc/device-tree");

    check(r == 0, "dmacoh_dt_open_live(/proc/device-tree) = %d", r);
    printf("hwdt: /proc/device-tree: %zu bytes, /sys/firmware/devicetree/base: %zu bytes\n",
           proc.size, dt->size);
    r = proc.size == dt->size && memcmp(proc.blob, dt->blob, dt->size) == 0;
    dmacoh_dt_close(&proc);
    check(r, "the two names of the live tree gave different blobs");
    return 0;
}

static int list_regions(const struct dmacoh_dt *dt, int node)
{
    struct dmacoh_dt_region regs[MAXREGION];
    size_t n = 0;
    int r = dmacoh_dt_regions(dt, regs, MAXREGION, &n);

    check(r == 0, "dmacoh_dt_regions = %d", r);
    printf("hwdt: the tree describes %zu regions\n", n);
    for (size_t i = 0; i < n; i++)
        print_region("tree", &regs[i]);
    r = dmacoh_dt_device_regions(dt, node, regs, MAXREGION, &n);
    check(r == 0, "dmacoh_dt_device_regions = %d", r);
    printf("hwdt: %s has %zu regions, in order of fallback\n", DEVICE, n);
    for (size_t i = 0; i < n; i++)
        print_region("device", &regs[i]);
    return 0;
}

static void tag_bytes(unsigned char *buf, size_t len, const char *tag)
{
    size_t n = strlen(tag);

    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)tag[i % n];
}

static int declare_and_fill(const struct dmacoh_dt *dt, int node)
{
    static const size_t sizes[NBLOCKS] = {4096, 65536, 200};
    static unsigned char buf[65536], back[65536];
    struct dmacoh_dt_region pool;
    struct dmacoh_devmem *dm;
    struct dmacoh_device dev;
    void *cpu[NBLOCKS];
    dmacoh_dma_addr_t h[NBLOCKS];
    char tag[32];
    int granted = 0, r;

    check(dmacoh_dt_device_region(dt, node, "pool", 0, &pool) == 0 && pool.status == 0,
          "the device's region \"pool\" is not declarable");
    r = dmacoh_devmem_open(NULL, &dm);
    check(r == 0, "dmacoh_devmem_open(/dev/mem) = %d", r);
    check(dmacoh_device_init(&dev, "hwdt", NULL, dmacoh_devmem_platform(dm)) == 0, "device init");
    /* A refused entry of the same device: the kernel's CMA (reusable) is not declarable. */
    r = dmacoh_dt_declare(&dev, dt, DEVICE, "cma", 0, DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL,
                          &granted);
    printf("hwdt: dmacoh_dt_declare(%s, \"cma\") = %d (%s)\n", DEVICE, r, dmacoh_strerror(r));
    check(r == DMACOH_EBUSY, "declaring the reusable region gave %d, not DMACOH_EBUSY", r);
    r = dmacoh_dt_declare(&dev, dt, DEVICE, "pool", 0, DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL,
                          &granted);
    check(r == 0, "dmacoh_dt_declare(%s, \"pool\") = %d (%s)", DEVICE, r, dmacoh_strerror(r));
    printf("hwdt: declared %s bus %#llx device %#llx size %#llx through /dev/mem, granted %s\n",
           pool.path, (unsigned long long)pool.bus, (unsigned long long)pool.device,
           (unsigned long long)pool.size, granted == DMACOH_MEMORY_MAP ? "MAP" : "IO");
    for (int i = 0; i < NBLOCKS; i++) {
        r = dmacoh_alloc_coherent(&dev, sizes[i], 0, 0, &cpu[i], &h[i]);
        check(r == 0, "alloc %zu = %d", sizes[i], r);
        check(h[i] >= pool.device && h[i] - pool.device + sizes[i] <= pool.size,
              "block %d (dma %#llx) outside the region", i, (unsigned long long)h[i]);
        snprintf(tag, sizeof(tag), "hwdt-%d-%05zx.", i, sizes[i]);
        tag_bytes(buf, sizes[i], tag);
        /* Device memory on arm64 (no-map, mapped from /dev/mem): the accessors, not memset. */
        dmacoh_memcpy_toio(cpu[i], buf, sizes[i]);
        dmacoh_memcpy_fromio(back, cpu[i], sizes[i]);
        check(memcmp(buf, back, sizes[i]) == 0, "block %d reads back different", i);
        printf("hwdt: block %d: %zu bytes at dma %#llx, filled with '%s', read back\n", i, sizes[i],
               (unsigned long long)h[i], tag);
        printf("HOSTDUMP %#llx %zu %s\n", (unsigned long long)(pool.bus + (h[i] - pool.device)),
               sizes[i], tag);
    }
    for (int i = 0; i < NBLOCKS; i++)
        check(dmacoh_free_coherent(&dev, sizes[i], cpu[i], h[i]) == 0, "free %d", i);
    check(dmacoh_release_coherent_memory(&dev, 0) == 0, "release");
    check(dmacoh_device_fini(&dev) == 0 && dmacoh_devmem_close(dm) == 0, "close");
    return 0;
}

int main(void)
{
    struct dmacoh_dt dt;
    int node, r;

    setvbuf(stdout, NULL, _IOLBF, 0);
    r = dmacoh_dt_open_live(&dt, NULL);
    if (r != 0) {
        printf("hwdt: dmacoh_dt_open_live(%s) = %d\nhwdt: FAIL\n", DMACOH_DT_LIVE_ROOT, r);
        return 1;
    }
    printf("hwdt: live tree %s read: %zu bytes\n", DMACOH_DT_LIVE_ROOT, dt.size);
    node = dmacoh_dt_find_device(&dt, DEVICE);
    if (node < 0)
        printf("hwdt: no node compatible with %s (%d)\n", DEVICE, node), failures++;
    else if (same_tree_twice(&dt) == 0 && list_regions(&dt, node) == 0)
        declare_and_fill(&dt, node);
    dmacoh_dt_close(&dt);
    printf("hwdt: %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
