/* SPDX-License-Identifier: MIT */
/*
 * test_dt.c - the devicetree reader (dmacoh/devicetree.h) over the .dts fixtures of tests/dt,
 * compiled by dtc at build time: board.dts (every kind of reserved memory, a default pool,
 * an SRAM with partitions, two levels of ranges and dma-ranges with 1- and 2-cell
 * addresses, named memory-region lists, phandle loops) and cells.dts (cells counts of 0, 3
 * and 5, an absent #size-cells, a bus without ranges, a range that misses, a node too deep,
 * a reg that wraps past 2^64). Hostile blobs are made by patching a compiled one (truncated,
 * bad magic, version, offsets and sizes, misaligned; properties too long, of broken length,
 * wrapping ranges). The live-tree loader reads a fake tree written from board.dtb into a
 * temporary folder and must agree with the file; a `reg` the kernel added to a dynamic node
 * makes it declarable there only. Declaring goes through the simulator, whose allocations
 * must come back with the translated device address.
 */
#include "fakesys.h"
#include "t.h"

#include <dmacoh/devicetree.h>
#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define T_HAS(s, needle)                                                                           \
    do {                                                                                           \
        const char *t_s_ = (s);                                                                    \
        if (!strstr(t_s_, (needle)))                                                               \
            t_fail(__FILE__, __LINE__, "'%s' does not contain '%s'", t_s_, (needle));              \
    } while (0)

static struct dmacoh_dt_region rs[32];

/* sysfs (kernfs), which shows the live tree, hands a file over at most a page per read(2).
 * Every read(2) of this program does the same, so a loader that expects a property in one
 * read fails here as it would on a real system with a property longer than a page. */
ssize_t read(int fd, void *buf, size_t n)
{
    return syscall(SYS_read, fd, buf, n < 4096 ? n : 4096);
}

static void open_fixture(const char *name, struct dmacoh_dt *dt)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s.dtb", DMACOH_DT_FIXTURES, name);
    T_OK(dmacoh_dt_open_file(dt, path));
}

/* A patchable copy of a fixture with room to grow, 8-byte aligned. */
static void *copy_fixture(const char *name, size_t room)
{
    struct dmacoh_dt dt;
    void *buf = aligned_alloc(8, room);

    T_ASSERT(buf != NULL);
    open_fixture(name, &dt);
    T_EQ_INT(fdt_open_into(dt.blob, buf, (int)room), 0);
    dmacoh_dt_close(&dt);
    return buf;
}

static const struct dmacoh_dt_region *by_path(size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rs[i].path, path) == 0)
            return &rs[i];
    t_fail(__FILE__, __LINE__, "no region %s", path);
}

static void board_regions(void)
{
    struct dmacoh_dt dt;
    const struct dmacoh_dt_region *r;
    size_t n;

    open_fixture("board", &dt);
    T_ASSERT(!dt.live);
    T_OK(dmacoh_dt_regions(&dt, rs, 32, &n));
    T_EQ_INT(n, 12); /* nine reserved-memory children, the SRAM and its two partitions */
    T_EQ_INT(strcmp(rs[0].path, "/reserved-memory/dma@90000000"), 0);
    T_EQ_INT(strcmp(rs[0].name, "dma"), 0);
    T_EQ_INT(rs[0].status, 0);
    T_EQ_INT(rs[0].reason[0], '\0');
    T_EQ_U64(rs[0].bus, 0x90000000);
    T_EQ_U64(rs[0].device, 0x90000000);
    T_EQ_U64(rs[0].size, 0x100000);
    T_EQ_INT(rs[0].flags, DMACOH_DT_RESERVED | DMACOH_DT_NO_MAP | DMACOH_DT_DMA_POOL);
    r = by_path(n, "/reserved-memory/default@98000000");
    T_EQ_INT(r->status, 0);
    T_ASSERT(r->flags & DMACOH_DT_DEFAULT);
    r = by_path(n, "/reserved-memory/linux,cma");
    T_ERR(r->status, DMACOH_ENOENT);
    T_EQ_INT(r->flags & (DMACOH_DT_DYNAMIC | DMACOH_DT_REUSABLE),
             DMACOH_DT_DYNAMIC | DMACOH_DT_REUSABLE);
    T_HAS(r->reason, "only the live tree");
    T_EQ_U64(r->size, 0x1000000); /* the size asked for */
    r = by_path(n, "/reserved-memory/mapped@99000000");
    T_ERR(r->status, DMACOH_EBUSY);
    T_HAS(r->reason, "has no no-map");
    r = by_path(n, "/reserved-memory/reuse@9a000000");
    T_ERR(r->status, DMACOH_EBUSY);
    T_HAS(r->reason, "reusable: CMA");
    T_EQ_U64(r->bus, 0x9a000000); /* a refused region still says where it is */
    r = by_path(n, "/reserved-memory/overlap@90080000");
    T_ERR(r->status, DMACOH_EBUSY);
    T_HAS(r->reason, "overlaps the earlier /reserved-memory/dma@90000000 at 0x90000000");
    T_ERR(by_path(n, "/reserved-memory/off@9b000000")->status, DMACOH_ENODEV);
    r = by_path(n, "/soc/sram@100000");
    T_EQ_INT(r->status, 0);
    T_EQ_U64(r->bus, 0xc0100000);
    T_EQ_INT(r->flags, DMACOH_DT_SRAM);
    r = by_path(n, "/soc/sram@100000/hcd@0");
    T_EQ_INT(r->status, 0);
    T_EQ_U64(r->bus, 0xc0100000);
    T_EQ_U64(r->size, 0x8000);
    T_EQ_INT(r->flags, DMACOH_DT_SRAM | DMACOH_DT_PARTITION | DMACOH_DT_POOL);
    r = by_path(n, "/soc/sram@100000/fw@8000");
    T_EQ_U64(r->bus, 0xc0108000);
    T_EQ_INT(r->flags,
             DMACOH_DT_SRAM | DMACOH_DT_PARTITION | DMACOH_DT_EXPORT | DMACOH_DT_PROTECT_EXEC);
    T_ERR(dmacoh_dt_regions(&dt, rs, 3, &n), DMACOH_EOVERFLOW);
    T_EQ_INT(n, 12);
    dmacoh_dt_close(&dt);
}

static void two_level_translation(void)
{
    struct dmacoh_dt dt;
    size_t n;
    int node;

    open_fixture("board", &dt);
    node = dmacoh_dt_find_device(&dt, "acme,dma-engine");
    T_EQ_INT(node, fdt_path_offset(dt.blob, "/soc/bridge@1000000/engine@0"));
    T_OK(dmacoh_dt_device_regions(&dt, node, rs, 32, &n));
    T_EQ_INT(n, 4);
    /* CPU 0x90000000 = SoC-bus DMA 0x10000000 = bridge DMA 0x1_1000_0000. */
    T_EQ_INT(strcmp(rs[0].name, "rx"), 0);
    T_EQ_U64(rs[0].bus, 0x90000000);
    T_EQ_U64(rs[0].device, 0x110000000);
    T_EQ_INT(strcmp(rs[1].name, "tx"), 0);
    T_EQ_U64(rs[1].device, 0x110200000);
    T_EQ_INT(strcmp(rs[2].name, "fallback"), 0);
    T_EQ_U64(rs[2].device, 0x118000000);
    T_ASSERT(rs[2].flags & DMACOH_DT_DEFAULT);
    /* The SRAM partition: CPU 0xc0108000 is SoC-bus DMA 0x40108000, beyond the bridge's 1 GiB. */
    T_EQ_INT(strcmp(rs[3].name, "fw"), 0);
    T_EQ_U64(rs[3].bus, 0xc0108000);
    T_ERR(rs[3].status, DMACOH_ERANGE);
    T_HAS(rs[3].reason, "cannot reach it: outside the dma-ranges of /soc/bridge@1000000");

    /* One level, 1-cell: the OHCI controller on the SoC bus reaches its SRAM partition. */
    node = dmacoh_dt_find_device(&dt, "/soc/usb@200000");
    T_ASSERT(node >= 0);
    T_OK(dmacoh_dt_device_regions(&dt, node, rs, 32, &n));
    T_EQ_INT(n, 2);
    T_EQ_U64(rs[0].device, 0x10000000);
    T_EQ_INT(rs[1].status, 0);
    T_EQ_INT(strcmp(rs[1].name, "hcd"), 0);
    T_EQ_U64(rs[1].bus, 0xc0100000);
    T_EQ_U64(rs[1].device, 0x40100000);

    /* A window bus that passes 1 MiB: rx is at its device address 0, tx is out of reach. */
    node = dmacoh_dt_find_device(&dt, "acme,narrow");
    T_OK(dmacoh_dt_device_regions(&dt, node, rs, 32, &n));
    T_EQ_INT(rs[0].status, 0);
    T_EQ_U64(rs[0].device, 0);
    T_ERR(rs[1].status, DMACOH_ERANGE);
    T_HAS(rs[1].reason, "/soc/window@2000000");

    /* No dma-ranges above: device address = bus address. */
    node = dmacoh_dt_find_device(&dt, "/plain");
    T_OK(dmacoh_dt_device_regions(&dt, node, rs, 32, &n));
    T_EQ_U64(rs[0].device, 0x90200000);
    dmacoh_dt_close(&dt);
}

static void lookups_by_name_and_index(void)
{
    struct dmacoh_dt dt;
    struct dmacoh_dt_region r;
    int node;

    open_fixture("board", &dt);
    node = dmacoh_dt_find_device(&dt, "/soc/bridge@1000000/engine@0");
    T_OK(dmacoh_dt_device_region(&dt, node, "tx", 0, &r));
    T_EQ_U64(r.bus, 0x90200000);
    T_OK(dmacoh_dt_device_region(&dt, node, "fw", 0, &r)); /* an sram entry, by node name */
    T_EQ_U64(r.bus, 0xc0108000);
    T_OK(dmacoh_dt_device_region(&dt, node, NULL, 2, &r));
    T_EQ_INT(strcmp(r.path, "/reserved-memory/default@98000000"), 0);
    t_log_reset();
    T_ERR(dmacoh_dt_device_region(&dt, node, "nope", 0, &r), DMACOH_ENOENT);
    T_ASSERT(t_log_find("has no region named \"nope\""));
    T_ERR(dmacoh_dt_device_region(&dt, node, NULL, 4, &r), DMACOH_ENOENT);
    T_ASSERT(t_log_find("has no region 4 (it has 4)"));
    T_ERR(dmacoh_dt_find_device(&dt, "/soc/none"), DMACOH_ENOENT);
    T_ERR(dmacoh_dt_find_device(&dt, "acme,none"), DMACOH_ENOENT);
    T_ERR(dmacoh_dt_find_device(&dt, ""), DMACOH_EINVAL);
    /* The first enabled match: disabled-dev comes later in the blob and is disabled anyway. */
    T_EQ_INT(dmacoh_dt_find_device(&dt, "acme,plain"), fdt_path_offset(dt.blob, "/plain"));
    T_ERR(dmacoh_dt_device_region(&dt, -5, NULL, 0, &r), DMACOH_EINVAL);
    T_ERR(dmacoh_dt_device_region(&dt, 5, NULL, 0, &r), DMACOH_EINVAL); /* not a node's start */
    dmacoh_dt_close(&dt);
}

static void refusals_and_default_pool(void)
{
    struct dmacoh_dt dt;
    struct dmacoh_dt_region r;
    size_t n;

    open_fixture("board", &dt);
    T_OK(dmacoh_dt_device_regions(&dt, dmacoh_dt_find_device(&dt, "/consumer"), rs, 32, &n));
    T_EQ_INT(n, 6);
    T_ERR(rs[0].status, DMACOH_ENOENT); /* CMA of a given size, placed at boot */
    T_ERR(rs[1].status, DMACOH_ENOENT);
    T_HAS(rs[1].reason, "placed by the kernel at boot (size, no reg)");
    T_ERR(rs[2].status, DMACOH_EBUSY);
    T_HAS(rs[2].reason, "has no no-map: the kernel keeps it in its linear map as cached RAM (and "
                        "still uses a shared-dma-pool as its own pool)");
    T_ERR(rs[3].status, DMACOH_EBUSY);
    T_ERR(rs[4].status, DMACOH_EBUSY);
    T_HAS(rs[4].reason, "overlaps the earlier /reserved-memory/dma@90000000");
    T_ERR(rs[5].status, DMACOH_ENODEV);
    T_OK(dmacoh_dt_default_pool(&dt, &r));
    T_EQ_INT(strcmp(r.path, "/reserved-memory/default@98000000"), 0);
    T_EQ_INT(r.status, 0);
    T_EQ_U64(r.bus, 0x98000000);
    T_EQ_U64(r.device, 0x98000000);
    T_EQ_U64(r.size, 0x400000);
    dmacoh_dt_close(&dt);
    open_fixture("cells", &dt);
    T_ERR(dmacoh_dt_default_pool(&dt, &r), DMACOH_ENOENT);
    dmacoh_dt_close(&dt);
}

static void phandle_loops(void)
{
    struct dmacoh_dt dt;
    size_t n;

    open_fixture("board", &dt);
    /* loop-a -> loop-b -> loop-a: one step is followed, to a node that is no region. */
    T_OK(dmacoh_dt_device_regions(&dt, dmacoh_dt_find_device(&dt, "/loop-a"), rs, 32, &n));
    T_EQ_INT(n, 1);
    T_ERR(rs[0].status, DMACOH_EINVAL);
    T_EQ_INT(strcmp(rs[0].path, "/loop-b"), 0);
    T_HAS(rs[0].reason, "neither a child of /reserved-memory nor an mmio-sram");
    T_OK(dmacoh_dt_device_regions(&dt, dmacoh_dt_find_device(&dt, "acme,self"), rs, 32, &n));
    T_EQ_INT(n, 2);
    T_ERR(rs[0].status, DMACOH_EINVAL);
    T_HAS(rs[0].reason, "memory-region[0] (phandle 0x");
    T_HAS(rs[0].reason, "of /self points back at the device itself");
    T_ERR(rs[1].status, DMACOH_ENOENT);
    T_HAS(rs[1].reason, "memory-region[1] (phandle 0xdead) of /self points at no node");
    dmacoh_dt_close(&dt);
}

static void cells_counts(void)
{
    struct dmacoh_dt dt;
    size_t n;

    open_fixture("cells", &dt);
    t_log_reset();
    T_OK(dmacoh_dt_regions(&dt, rs, 32, &n));
    T_EQ_INT(n, 12);
    T_EQ_INT(strcmp(rs[0].path, "/reserved-memory/wrap@fffffffffffff000"), 0);
    T_ERR(rs[0].status, DMACOH_ERANGE);
    T_HAS(rs[0].reason, "reg wraps past 2^64");
    /* /reserved-memory's cells are not the root's: the kernel ignores all of it */
    T_ERR(rs[1].status, DMACOH_EINVAL);
    T_HAS(rs[1].reason, "#address-cells is absent or differs from the root's");
    T_ERR(by_path(n, "/bus0/sram")->status, DMACOH_EINVAL);
    T_HAS(by_path(n, "/bus0/sram")->reason, "/bus0 #address-cells 0: not addressable");
    T_ERR(by_path(n, "/bus3/sram@0")->status, DMACOH_ENOTSUP);
    T_HAS(by_path(n, "/bus3/sram@0")->reason, "/bus3 #address-cells 3 (the reader takes 1 or 2)");
    T_ERR(by_path(n, "/bus5/sram@0")->status, DMACOH_EINVAL);
    T_HAS(by_path(n, "/bus5/sram@0")->reason, "#address-cells 5");
    T_EQ_INT(by_path(n, "/nosize/sram@5000")->status, 0);
    T_EQ_U64(by_path(n, "/nosize/sram@5000")->size, 0x1000);
    T_ASSERT(t_log_find("/nosize has no #size-cells: taking 1, the devicetree specification's"));
    T_ERR(by_path(n, "/isolated/sram@6000")->status, DMACOH_ENXIO);
    T_HAS(by_path(n, "/isolated/sram@6000")->reason, "/isolated has no ranges");
    T_ERR(by_path(n, "/short/sram@7000")->status, DMACOH_ENXIO);
    T_HAS(by_path(n, "/short/sram@7000")->reason, "outside every ranges entry of /short");
    /* An SRAM without ranges: its partitions' reg are offsets into it. */
    T_EQ_U64(by_path(n, "/offsets/sram@9000/a@0")->bus, 0x9000);
    T_EQ_INT(by_path(n, "/offsets/sram@9000/a@0")->status, 0);
    T_ERR(by_path(n, "/offsets/sram@9000/b@1000")->status, DMACOH_ERANGE);
    T_HAS(by_path(n, "/offsets/sram@9000/b@1000")->reason, "lies outside its SRAM");
    T_ERR(rs[11].status, DMACOH_ERANGE);
    T_HAS(rs[11].path, "/l16/sram@8000");
    T_HAS(rs[11].reason, "deeper than the 16 levels");
    dmacoh_dt_close(&dt);
}

/* dmacoh_dt_init over buf, which must fail with a log line containing why. */
static void refused_blob(const void *buf, size_t size, const char *why)
{
    struct dmacoh_dt dt = {0};

    t_log_reset();
    T_ERR(dmacoh_dt_init(&dt, buf, size), DMACOH_EINVAL);
    T_ASSERT(dt.blob == NULL);
    if (!t_log_find(why))
        t_fail(__FILE__, __LINE__, "no log line with '%s' (last: %s)", why, t_log_last());
}

static void hostile_headers(void)
{
    size_t room = 64 << 10;
    void *buf = copy_fixture("board", room);
    char *odd = aligned_alloc(8, room + 8);
    struct fdt_header *h = buf;
    uint32_t total = fdt_totalsize(buf), v;
    struct dmacoh_dt dt;

    T_ASSERT(odd != NULL);
    fdt_pack(buf);
    total = fdt_totalsize(buf);
    T_OK(dmacoh_dt_init(&dt, buf, total));
    refused_blob(buf, 20, "truncated: shorter than a header");
    refused_blob(buf, total - 1, "truncated: its header claims more");
    memcpy(odd + 1, buf, total);
    refused_blob(odd + 1, total, "not 8-byte aligned");
    v = h->magic;
    h->magic = cpu_to_fdt32(0xd00dfeec);
    refused_blob(buf, total, "header: FDT_ERR_BADMAGIC");
    h->magic = v;
    v = h->version;
    h->version = cpu_to_fdt32(1);
    h->last_comp_version = cpu_to_fdt32(1);
    refused_blob(buf, total, "header: FDT_ERR_BADVERSION");
    /* Version 9, which fdt_check_header accepts and libfdt 1.6.1's fdt_check_full crashed on. */
    h->version = cpu_to_fdt32(9);
    h->last_comp_version = cpu_to_fdt32(2);
    refused_blob(buf, total, "version older than 17");
    h->version = v;
    h->last_comp_version = cpu_to_fdt32(16);
    v = h->off_dt_struct;
    h->off_dt_struct = cpu_to_fdt32(total - 4);
    refused_blob(buf, total, "FDT_ERR_");
    h->off_dt_struct = v;
    v = h->size_dt_strings;
    h->size_dt_strings = cpu_to_fdt32(8); /* names now point past the strings block */
    refused_blob(buf, total, "structure: FDT_ERR_");
    h->size_dt_strings = v;
    /* A property whose length (0xfffffff4) leads fdt_next_tag back to the property itself:
     * libfdt 1.6.1's fdt_check_full looped forever on it. */
    {
        int soc = fdt_path_offset(buf, "/soc");
        int prop = fdt_first_property_offset(buf, soc);
        char *len = (char *)buf + fdt_off_dt_struct(buf) + prop + 4; /* after the tag */
        fdt32_t bad = cpu_to_fdt32(0xfffffff4);

        T_ASSERT(prop >= 0);
        memcpy(&v, len, 4);
        memcpy(len, &bad, 4);
        alarm(10); /* a loop ends the test here, not in ctest's timeout */
        refused_blob(buf, total, "a property's length leads back to itself");
        alarm(0);
        memcpy(len, &v, 4);
        T_OK(dmacoh_dt_init(&dt, buf, total));
    }
    /* Garbage inside the structure block: a tag that is no tag. */
    memset((char *)buf + fdt_off_dt_struct(buf) + 8, 0x5a, 16);
    refused_blob(buf, total, "structure: FDT_ERR_");
    refused_blob(NULL, 100, "NULL argument");
    T_ERR(dmacoh_dt_regions(NULL, NULL, 0, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_dt_default_pool(&dt, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_dt_device_regions(&dt, 0, NULL, 1, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_dt_find_device(NULL, "/"), DMACOH_EINVAL);
    T_ERR(dmacoh_dt_open_file(NULL, "x"), DMACOH_EINVAL);
    T_ERR(dmacoh_dt_open_live(NULL, NULL), DMACOH_EINVAL);
    dmacoh_dt_close(NULL);
    free(buf);
    free(odd);
}

static void patched_properties(void)
{
    size_t room = 64 << 10;
    void *buf = copy_fixture("board", room);
    static fdt32_t big[1100];
    struct dmacoh_dt dt;
    struct dmacoh_dt_region r;
    int rx = fdt_path_offset(buf, "/reserved-memory/dma@90000000"), rm, soc;
    size_t n;

    /* reg longer than DMACOH_DT_MAX_PROP */
    T_EQ_INT(fdt_setprop(buf, rx, "reg", big, sizeof(big)), 0);
    T_OK(dmacoh_dt_init(&dt, buf, room));
    T_OK(dmacoh_dt_default_pool(&dt, &r));
    T_OK(dmacoh_dt_regions(&dt, rs, 32, &n));
    T_ERR(rs[0].status, DMACOH_EOVERFLOW);
    T_HAS(rs[0].reason, "longer than the reader takes");
    /* reg not whole (address, size) pairs */
    rx = fdt_path_offset(buf, "/reserved-memory/dma@90000000");
    T_EQ_INT(fdt_setprop(buf, rx, "reg", big, 6 * 4), 0);
    T_OK(dmacoh_dt_regions(&dt, rs, 32, &n));
    T_ERR(rs[0].status, DMACOH_EINVAL);
    T_HAS(rs[0].reason, "reg is not whole (address, size) pairs of the cells of /reserved-memory");
    /* a memory-region list of broken length */
    T_EQ_INT(fdt_setprop(buf, fdt_path_offset(buf, "/plain"), "memory-region", big, 3), 0);
    t_log_reset();
    T_ERR(dmacoh_dt_device_regions(&dt, fdt_path_offset(buf, "/plain"), rs, 32, &n), DMACOH_EINVAL);
    T_ASSERT(t_log_find("/plain: memory-region or sram is not a list of phandles"));
    /* #size-cells 5 under /reserved-memory */
    rm = fdt_path_offset(buf, "/reserved-memory");
    T_EQ_INT(fdt_setprop_u32(buf, rm, "#size-cells", 5), 0);
    T_OK(dmacoh_dt_regions(&dt, rs, 32, &n));
    T_ERR(rs[1].status, DMACOH_EINVAL);
    T_HAS(rs[1].reason, "/reserved-memory #size-cells 5 (the reader takes 0, 1 or 2)");
    /* a ranges entry that wraps past 2^64 on its parent side */
    soc = fdt_path_offset(buf, "/soc");
    {
        fdt32_t wrap[4] = {cpu_to_fdt32(0), cpu_to_fdt32(0xffffffff), cpu_to_fdt32(0xffff0000),
                           cpu_to_fdt32(0x10000001)};

        T_EQ_INT(fdt_setprop(buf, soc, "ranges", wrap, sizeof(wrap)), 0);
    }
    T_OK(dmacoh_dt_regions(&dt, rs, 32, &n));
    T_ERR(by_path(n, "/soc/sram@100000")->status, DMACOH_ERANGE);
    T_HAS(by_path(n, "/soc/sram@100000")->reason, "/soc ranges has an entry of size 0 or one");
    free(buf);
}

/* The kernel makes a default coherent pool only of an enabled, non-reusable shared-dma-pool
 * with linux,dma-default (linux,cma-default is the CMA default, another thing); when several
 * claim it, which one it keeps depends on its version, so none is guessed. */
static void default_pool_claims(void)
{
    size_t room = 64 << 10;
    void *buf = copy_fixture("board", room);
    struct dmacoh_dt dt;
    struct dmacoh_dt_region r;

    open_fixture("pools", &dt);
    t_log_reset();
    T_OK(dmacoh_dt_default_pool(&dt, &r));
    T_EQ_INT(strcmp(r.path, "/reserved-memory/first@82000000"), 0);
    T_ERR(r.status, DMACOH_EBUSY);
    T_HAS(r.reason,
          "one of several linux,dma-default pools, with /reserved-memory/second@83000000");
    T_ASSERT(t_log_find("both claim linux,dma-default"));
    dmacoh_dt_close(&dt);

    /* The board's one default moved to its reusable node: no default pool at all. */
    T_EQ_INT(fdt_delprop(buf, fdt_path_offset(buf, "/reserved-memory/default@98000000"),
                         "linux,dma-default"),
             0);
    T_EQ_INT(fdt_setprop_empty(buf, fdt_path_offset(buf, "/reserved-memory/reuse@9a000000"),
                               "linux,dma-default"),
             0);
    T_OK(dmacoh_dt_init(&dt, buf, room));
    T_ERR(dmacoh_dt_default_pool(&dt, &r), DMACOH_ENOENT);
    free(buf);
}

/* A partition of a disabled SRAM is not set up by the kernel; a memory-region-names entry is
 * a name, '@' included (only node names lose their unit address). */
static void disabled_sram_and_names(void)
{
    struct dmacoh_dt dt;
    struct dmacoh_dt_region r;
    int dev;
    size_t n;

    open_fixture("pools", &dt);
    dev = dmacoh_dt_find_device(&dt, "acme,dev");
    T_OK(dmacoh_dt_device_regions(&dt, dev, rs, 32, &n));
    T_EQ_INT(n, 3);
    T_EQ_INT(strcmp(rs[0].name, "rx@ring"), 0);
    T_EQ_INT(rs[0].status, 0);
    T_ERR(rs[2].status, DMACOH_ENODEV);
    T_HAS(rs[2].reason, "lies in a disabled SRAM");
    T_OK(dmacoh_dt_device_region(&dt, dev, "rx@ring", 0, &r));
    T_EQ_INT(strcmp(r.path, "/reserved-memory/first@82000000"), 0);
    T_ERR(dmacoh_dt_device_region(&dt, dev, "rx", 0, &r), DMACOH_ENOENT);
    T_OK(dmacoh_dt_regions(&dt, rs, 32, &n));
    T_ERR(by_path(n, "/sram@90000000/part@0")->status, DMACOH_ENODEV);
    dmacoh_dt_close(&dt);
}

/* /reserved-memory in a form the kernel ignores (cells other than the root's) or reads
 * untranslated (a non-empty ranges): its children are refused, not translated. */
static void reserved_memory_form(void)
{
    size_t room = 64 << 10;
    void *buf = copy_fixture("board", room);
    /* child 0x80000000 + 2 GiB at 0x10000000: the reader would place dma@90000000 at
     * 0x20000000, while the kernel reserves 0x90000000 */
    const fdt32_t shift[6] = {0, cpu_to_fdt32(0x80000000), 0, cpu_to_fdt32(0x10000000),
                              0, cpu_to_fdt32(0x80000000)};
    struct dmacoh_dt dt;
    size_t n;
    int rm = fdt_path_offset(buf, "/reserved-memory");

    T_EQ_INT(fdt_setprop(buf, rm, "ranges", shift, sizeof(shift)), 0);
    T_OK(dmacoh_dt_init(&dt, buf, room));
    T_OK(dmacoh_dt_regions(&dt, rs, 32, &n));
    T_ERR(by_path(n, "/reserved-memory/dma@90000000")->status, DMACOH_EINVAL);
    T_HAS(by_path(n, "/reserved-memory/dma@90000000")->reason, "ranges is not empty");
    T_EQ_INT(fdt_setprop_empty(buf, rm, "ranges"), 0);
    T_OK(dmacoh_dt_regions(&dt, rs, 32, &n));
    T_EQ_INT(by_path(n, "/reserved-memory/dma@90000000")->status, 0);
    /* 1 and 1 under a 2, 2 root: each reg reads as two (address, size) pairs */
    T_EQ_INT(fdt_setprop_u32(buf, rm, "#address-cells", 1), 0);
    T_EQ_INT(fdt_setprop_u32(buf, rm, "#size-cells", 1), 0);
    T_OK(dmacoh_dt_regions(&dt, rs, 32, &n));
    T_ERR(by_path(n, "/reserved-memory/dma@90000000")->status, DMACOH_EINVAL);
    T_HAS(by_path(n, "/reserved-memory/dma@90000000")->reason,
          "#address-cells is absent or differs from the root's");
    free(buf);

    open_fixture("edge", &dt);
    T_OK(dmacoh_dt_regions(&dt, rs, 32, &n));
    T_EQ_INT(n, 2);
    T_EQ_INT(rs[0].status, 0); /* ends exactly at 2^64: no wrap */
    T_EQ_U64(rs[0].bus, 0xfffffffffffff000);
    T_ERR(rs[1].status, DMACOH_ERANGE);
    T_HAS(rs[1].reason, "reg wraps past 2^64");
    dmacoh_dt_close(&dt);
}

/* A root's dma-ranges is the last step of every device's DMA translation. */
static void root_dma_ranges(void)
{
    struct dmacoh_dt dt;
    struct dmacoh_dt_region r;

    open_fixture("rootdma", &dt);
    T_OK(dmacoh_dt_device_region(&dt, dmacoh_dt_find_device(&dt, "acme,engine"), NULL, 0, &r));
    T_EQ_INT(r.status, 0);
    T_EQ_U64(r.bus, 0x90000000);
    T_EQ_U64(r.device, 0x10000000);
    T_OK(dmacoh_dt_device_region(&dt, dmacoh_dt_find_device(&dt, "acme,deep"), NULL, 0, &r));
    T_EQ_U64(r.device, 0x10000000);
    dmacoh_dt_close(&dt);
}

/* Writes node `node` of blob into directory dir, as the kernel shows a live tree. */
static void write_tree(const void *blob, int node, const char *dir)
{
    char path[1024];
    const char *name;
    const void *val;
    int off, len, sub;
    FILE *f;

    T_EQ_INT(mkdir(dir, 0755), 0);
    fdt_for_each_property_offset(off, blob, node)
    {
        val = fdt_getprop_by_offset(blob, off, &name, &len);
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "wb");
        T_ASSERT(f != NULL);
        T_EQ_INT(fwrite(val, 1, (size_t)len, f), len);
        fclose(f);
    }
    name = fdt_get_name(blob, node, &len);
    snprintf(path, sizeof(path), "%s/name", dir);
    f = fopen(path, "wb");
    T_ASSERT(f != NULL);
    fwrite(name, 1, (size_t)len + 1, f);
    fclose(f);
    fdt_for_each_subnode(sub, blob, node)
    {
        snprintf(path, sizeof(path), "%s/%s", dir, fdt_get_name(blob, sub, NULL));
        write_tree(blob, sub, path);
    }
}

static void live_tree(void)
{
    char root[64] = "/tmp/dmacoh-dt-XXXXXX", base[128], path[512];
    static struct dmacoh_dt_region file[32];
    static unsigned char table[10000];
    struct dmacoh_dt dt, live;
    size_t n, m;
    FILE *f;
    const fdt32_t reg[4] = {cpu_to_fdt32(0), cpu_to_fdt32(0xb0000000), cpu_to_fdt32(0),
                            cpu_to_fdt32(0x200000)};

    T_ASSERT(mkdtemp(root) != NULL);
    snprintf(base, sizeof(base), "%s/base", root);
    open_fixture("board", &dt);
    write_tree(dt.blob, 0, base);
    /* What the kernel shows after placing the dynamic pool at boot, and a link to skip. */
    snprintf(path, sizeof(path), "%s/reserved-memory/dynamic/reg", base);
    f = fopen(path, "wb");
    T_ASSERT(f != NULL);
    fwrite(reg, 1, sizeof(reg), f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/soc/link", base);
    T_EQ_INT(symlink("/etc", path), 0);
    /* a property longer than a page (an interrupt-map of a large PCI bus, say) */
    for (size_t i = 0; i < sizeof(table); i++)
        table[i] = (unsigned char)(i * 7 + 1);
    snprintf(path, sizeof(path), "%s/soc/acme,table", base);
    f = fopen(path, "wb");
    T_ASSERT(f != NULL);
    T_EQ_INT(fwrite(table, 1, sizeof(table), f), sizeof(table));
    fclose(f);

    T_OK(dmacoh_dt_regions(&dt, file, 32, &n));
    T_OK(dmacoh_dt_open_live(&live, base));
    T_ASSERT(live.live);
    T_OK(dmacoh_dt_regions(&live, rs, 32, &m));
    T_EQ_INT(m, n);
    /* The live tree comes in name order, the file in blob order: compare by path. */
    for (size_t i = 0; i < n; i++) {
        const struct dmacoh_dt_region *l = by_path(m, file[i].path);

        T_EQ_U64(l->size, file[i].size);
        T_EQ_INT(l->flags & ~(unsigned)DMACOH_DT_DYNAMIC,
                 file[i].flags & ~(unsigned)DMACOH_DT_DYNAMIC);
        if (strcmp(l->path, "/reserved-memory/dynamic") == 0) {
            T_ERR(file[i].status, DMACOH_ENOENT);
            T_EQ_INT(l->status, 0); /* the kernel's reg makes it declarable */
            T_EQ_U64(l->bus, 0xb0000000);
            T_EQ_U64(l->size, 0x200000);
            continue;
        }
        T_EQ_U64(l->bus, file[i].bus);
        T_EQ_INT(l->status, file[i].status);
    }
    T_HAS(by_path(m, "/reserved-memory/linux,cma")->reason, "the live tree shows no reg for it");
    T_OK(dmacoh_dt_device_regions(&live, dmacoh_dt_find_device(&live, "acme,dma-engine"), rs, 32,
                                  &m));
    T_EQ_U64(rs[1].device, 0x110200000);
    {
        int len;
        const void *v =
            fdt_getprop(live.blob, fdt_path_offset(live.blob, "/soc"), "acme,table", &len);

        T_ASSERT(v != NULL);
        T_EQ_INT(len, sizeof(table));
        T_ASSERT(memcmp(v, table, sizeof(table)) == 0);
    }
    T_ASSERT(fdt_getprop(live.blob, fdt_path_offset(live.blob, "/soc"), "name", NULL) == NULL);
    T_ASSERT(fdt_subnode_offset(live.blob, fdt_path_offset(live.blob, "/soc"), "link") < 0);
    dmacoh_dt_close(&live);
    T_ASSERT(live.blob == NULL);
    dmacoh_dt_close(&dt);

    snprintf(path, sizeof(path), "%s/none", root);
    t_log_reset();
    T_ERR(dmacoh_dt_open_live(&live, path), DMACOH_ENOENT);
    T_ASSERT(t_log_find("cannot list"));
    T_ERR(dmacoh_dt_open_file(&live, path), DMACOH_ENOENT);
    T_ERR(dmacoh_dt_open_file(&live, base), DMACOH_EINVAL); /* a directory */
    snprintf(path, sizeof(path), "%s/fifo", root);
    T_EQ_INT(mkfifo(path, 0600), 0);
    alarm(10); /* a FIFO must be refused, not waited on */
    T_ERR(dmacoh_dt_open_file(&live, path), DMACOH_EINVAL);
    alarm(0);
    t_remove_tree(root);
}

/* A property this process may not read (the kernel shows `security-*` ones to root only) is
 * left out with a warning, not the whole tree lost. As root, the reading is done by another
 * user, in a child process. */
static void live_tree_unreadable(void)
{
    char root[64] = "/tmp/dmacoh-dt-XXXXXX", base[128], path[512];
    struct dmacoh_dt dt;
    int status = -1;
    pid_t pid;
    FILE *f;

    T_ASSERT(mkdtemp(root) != NULL);
    T_EQ_INT(chmod(root, 0755), 0);
    snprintf(base, sizeof(base), "%s/base", root);
    open_fixture("board", &dt);
    write_tree(dt.blob, 0, base);
    dmacoh_dt_close(&dt);
    snprintf(path, sizeof(path), "%s/soc/security-key", base);
    f = fopen(path, "wb");
    T_ASSERT(f != NULL);
    fputs("k", f);
    fclose(f);
    T_EQ_INT(chmod(path, 0), 0);
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        struct dmacoh_dt live;
        int soc;

        if (geteuid() == 0 && setuid(65534) != 0)
            _exit(2);
        t_log_reset();
        if (dmacoh_dt_open_live(&live, base) != 0)
            _exit(3);
        soc = fdt_path_offset(live.blob, "/soc");
        if (soc < 0 || fdt_getprop(live.blob, soc, "security-key", NULL) != NULL ||
            fdt_getprop(live.blob, soc, "ranges", NULL) == NULL)
            _exit(4);
        if (!t_log_find("security-key: not readable here"))
            _exit(5);
        dmacoh_dt_close(&live);
        _exit(0);
    }
    T_EQ_INT(waitpid(pid, &status, 0), pid);
    T_ASSERT(WIFEXITED(status));
    T_EQ_INT(WEXITSTATUS(status), 0);
    t_remove_tree(root);
}

static void live_tree_too_deep(void)
{
    char root[64] = "/tmp/dmacoh-dt-XXXXXX", path[1024];
    struct dmacoh_dt live;
    size_t len;

    T_ASSERT(mkdtemp(root) != NULL);
    len = (size_t)snprintf(path, sizeof(path), "%s", root);
    for (int i = 0; i < 20; i++) {
        len += (size_t)snprintf(path + len, sizeof(path) - len, "/n%d", i);
        T_EQ_INT(mkdir(path, 0755), 0);
    }
    t_log_reset();
    T_OK(dmacoh_dt_open_live(&live, root));
    T_ASSERT(t_log_find("deeper than 16 levels, left out"));
    T_ASSERT(fdt_path_offset(live.blob, "/n0/n1/n2/n3/n4/n5/n6/n7/n8/n9/n10/n11/n12/n13/n14/n15") >=
             0);
    T_ASSERT(fdt_path_offset(live.blob,
                             "/n0/n1/n2/n3/n4/n5/n6/n7/n8/n9/n10/n11/n12/n13/n14/n15/n16") < 0);
    dmacoh_dt_close(&live);
    t_remove_tree(root);
}

static void declare_on_the_simulator(void)
{
    struct dmacoh_sim *sim;
    struct dmacoh_device dev;
    struct dmacoh_dt dt;
    struct dmacoh_sim_memory rx = {.bus = 0x90000000, .size = 0x100000, .modes = DMACOH_MEMORY_MAP};
    struct dmacoh_sim_memory tx = {.bus = 0x90200000, .size = 0x40000, .modes = DMACOH_MEMORY_MAP};
    dmacoh_dma_addr_t h;
    void *cpu;
    int granted = 0;

    open_fixture("board", &dt);
    T_OK(dmacoh_sim_create(NULL, &sim));
    T_OK(dmacoh_sim_add_memory(sim, &rx));
    T_OK(dmacoh_sim_add_memory(sim, &tx));
    T_OK(dmacoh_device_init(&dev, "engine", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_set_dma_mask(&dev, UINT64_MAX));
    T_OK(dmacoh_dt_declare(&dev, &dt, "acme,dma-engine", "tx", 0, DMACOH_MEMORY_MAP, NULL,
                           &granted));
    T_EQ_INT(granted, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &cpu, &h));
    T_EQ_U64(h, 0x110200000); /* the bridge's device address of CPU 0x90200000 */
    T_OK(dmacoh_free_coherent(&dev, 4096, cpu, h));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_dt_declare(&dev, &dt, "/soc/bridge@1000000/engine@0", NULL, 0, DMACOH_MEMORY_MAP,
                           NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &cpu, &h));
    T_EQ_U64(h, 0x110000000);
    T_OK(dmacoh_free_coherent(&dev, 4096, cpu, h));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));

    t_log_reset();
    T_ERR(dmacoh_dt_declare(&dev, &dt, "/consumer", NULL, 3, DMACOH_MEMORY_MAP, NULL, NULL),
          DMACOH_EBUSY);
    T_ASSERT(t_log_find("/consumer: region /reserved-memory/reuse@9a000000 (reuse) refused: is "
                        "reusable"));
    T_ERR(dmacoh_dt_declare(&dev, &dt, "acme,dma-engine", "fw", 0, DMACOH_MEMORY_MAP, NULL, NULL),
          DMACOH_ERANGE);
    T_ERR(dmacoh_dt_declare(&dev, &dt, "/disabled-dev", NULL, 0, DMACOH_MEMORY_MAP, NULL, NULL),
          DMACOH_ENODEV);
    T_ERR(dmacoh_dt_declare(&dev, &dt, "acme,none", NULL, 0, DMACOH_MEMORY_MAP, NULL, NULL),
          DMACOH_ENOENT);
    T_ERR(dmacoh_dt_declare(&dev, &dt, "/plain", NULL, 1, DMACOH_MEMORY_MAP, NULL, NULL),
          DMACOH_ENOENT);
    T_ASSERT(!dmacoh_device_has_region(&dev));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_sim_destroy(sim));
    dmacoh_dt_close(&dt);
}

/* A device's whole list in the devicetree's order, then the default pool, on the simulator. */
static void declare_all_and_default_pool(void)
{
    struct dmacoh_sim *sim;
    struct dmacoh_device engine, plain, other;
    struct dmacoh_dt dt;
    struct dmacoh_sim_memory rx = {.bus = 0x90000000, .size = 0x100000, .modes = DMACOH_MEMORY_MAP};
    struct dmacoh_sim_memory tx = {.bus = 0x90200000, .size = 0x40000, .modes = DMACOH_MEMORY_MAP};
    struct dmacoh_sim_memory pool = {
        .bus = 0x98000000, .size = 0x400000, .modes = DMACOH_MEMORY_MAP};
    struct dmacoh_region_stats st;
    const char *name;
    dmacoh_dma_addr_t h, h2, h3;
    void *cpu, *cpu2, *cpu3;
    unsigned n = 99;
    int granted = 0;

    open_fixture("board", &dt);
    T_OK(dmacoh_sim_create(NULL, &sim));
    T_OK(dmacoh_sim_add_memory(sim, &rx));
    T_OK(dmacoh_sim_add_memory(sim, &tx));
    T_OK(dmacoh_sim_add_memory(sim, &pool));
    T_OK(dmacoh_device_init(&engine, "engine", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_set_dma_mask(&engine, UINT64_MAX));

    /* rx, tx and fallback (the linux,dma-default node: no default pool declared yet) in that
     * order; the sram entry fw is out of the engine's reach and passed over with a warning. */
    t_log_reset();
    T_OK(dmacoh_dt_declare_all(&engine, &dt, "acme,dma-engine", DMACOH_MEMORY_MAP, NULL, &n));
    T_EQ_U64(n, 3);
    T_ASSERT(t_log_find("entry 3, region /soc/sram@100000/fw@8000 (fw), passed over"));
    T_OK(dmacoh_region_get_stats_at(&engine, 0, &st, &name));
    T_ASSERT(strcmp(name, "rx") == 0);
    T_OK(dmacoh_region_get_stats_at(&engine, 1, &st, &name));
    T_ASSERT(strcmp(name, "tx") == 0);
    T_OK(dmacoh_region_get_stats_at(&engine, 2, &st, &name));
    T_ASSERT(strcmp(name, "fallback") == 0);
    T_ERR(dmacoh_region_get_stats_at(&engine, 3, &st, &name), DMACOH_ENOENT);
    /* The order of fallback: all of rx, then tx, at the bridge's device addresses. */
    T_OK(dmacoh_alloc_coherent(&engine, 0x100000, 0, 0, &cpu, &h));
    T_EQ_U64(h, 0x110000000);
    T_OK(dmacoh_alloc_coherent(&engine, 4096, 0, 0, &cpu2, &h2));
    T_EQ_U64(h2, 0x110200000);
    T_OK(dmacoh_alloc_coherent_from(&engine, "fallback", 4096, 0, 0, &cpu3, &h3));
    T_EQ_U64(h3, 0x118000000);
    T_OK(dmacoh_free_coherent(&engine, 4096, cpu3, h3));
    T_OK(dmacoh_free_coherent(&engine, 4096, cpu2, h2));
    T_OK(dmacoh_free_coherent(&engine, 0x100000, cpu, h));
    T_OK(dmacoh_release_coherent_memory(&engine, 0));

    /* The default pool serves a device with no region of its own (device address = bus). */
    T_OK(dmacoh_dt_declare_default(dmacoh_sim_platform(sim), &dt, DMACOH_MEMORY_MAP, NULL,
                                   &granted));
    T_EQ_INT(granted, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_device_init(&other, "other", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_alloc_coherent(&other, 4096, DMACOH_ALLOC_NOFALLBACK, 0, &cpu, &h));
    T_EQ_U64(h, 0x98000000);
    T_OK(dmacoh_free_coherent(&other, 4096, cpu, h));
    T_OK(dmacoh_device_fini(&other));
    /* Now the engine's third entry is the platform's: the whole list is refused and undone. */
    T_ERR(dmacoh_dt_declare_all(&engine, &dt, "acme,dma-engine", DMACOH_MEMORY_MAP, NULL, &n),
          DMACOH_EBUSY);
    T_EQ_U64(n, 0);
    T_ASSERT(!dmacoh_device_has_region(&engine));
    /* A one-entry device. */
    T_OK(dmacoh_device_init(&plain, "plain", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_dt_declare_all(&plain, &dt, "/plain", DMACOH_MEMORY_MAP, NULL, &n));
    T_EQ_U64(n, 1);
    T_OK(dmacoh_alloc_coherent(&plain, 4096, 0, 0, &cpu, &h));
    T_EQ_U64(h, 0x90200000);
    T_OK(dmacoh_free_coherent(&plain, 4096, cpu, h));
    T_OK(dmacoh_release_coherent_memory(&plain, 0));
    /* Every entry refused: the first refusal's status, nothing declared. */
    T_ASSERT(dmacoh_dt_declare_all(&plain, &dt, "/consumer", DMACOH_MEMORY_MAP, NULL, &n) < 0);
    T_ASSERT(!dmacoh_device_has_region(&plain));
    T_ERR(dmacoh_dt_declare_all(NULL, &dt, "/plain", DMACOH_MEMORY_MAP, NULL, &n), DMACOH_EINVAL);
    T_ERR(dmacoh_dt_declare_all(&plain, NULL, "/plain", DMACOH_MEMORY_MAP, NULL, &n),
          DMACOH_EINVAL);
    T_ERR(dmacoh_dt_declare_all(&plain, &dt, NULL, DMACOH_MEMORY_MAP, NULL, &n), DMACOH_EINVAL);
    T_ERR(dmacoh_dt_declare_all(&plain, &dt, "/plain", 0x4000, NULL, &n), DMACOH_EINVAL);
    T_ASSERT(!dmacoh_device_has_region(&plain));
    T_ERR(dmacoh_dt_declare_default(NULL, &dt, DMACOH_MEMORY_MAP, NULL, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_dt_declare_default(dmacoh_sim_platform(sim), NULL, DMACOH_MEMORY_MAP, NULL, NULL),
          DMACOH_EINVAL);
    T_ERR(dmacoh_dt_declare_all(&plain, &dt, "/disabled-dev", DMACOH_MEMORY_MAP, NULL, &n),
          DMACOH_ENODEV);
    T_OK(dmacoh_device_fini(&plain));
    T_OK(dmacoh_device_fini(&engine));
    T_OK(dmacoh_release_default_memory(dmacoh_sim_platform(sim), 0));
    T_OK(dmacoh_sim_destroy(sim));
    dmacoh_dt_close(&dt);
}

static const struct t_case cases[] = {
    T_CASE(board_regions),
    T_CASE(two_level_translation),
    T_CASE(lookups_by_name_and_index),
    T_CASE(refusals_and_default_pool),
    T_CASE(phandle_loops),
    T_CASE(cells_counts),
    T_CASE(hostile_headers),
    T_CASE(patched_properties),
    T_CASE(default_pool_claims),
    T_CASE(disabled_sram_and_names),
    T_CASE(reserved_memory_form),
    T_CASE(root_dma_ranges),
    T_CASE(live_tree),
    T_CASE(live_tree_unreadable),
    T_CASE(live_tree_too_deep),
    T_CASE(declare_on_the_simulator),
    T_CASE(declare_all_and_default_pool),
};

T_MAIN(cases)
