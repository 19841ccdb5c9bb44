/* SPDX-License-Identifier: MIT */
/*
 * sysmem_fallback.c - where dma_alloc_coherent() memory comes from when declared memory is
 * absent or too small. Four devices share one simulated platform whose RAM window straddles
 * the 4 GiB line (bus 0xfff00000..0x1006fffff; on the simulator a system-memory DMA handle is
 * its bus address). An audio device has no region: everything it gets is system memory. A
 * NIC declares 16 KiB of on-chip memory without DMA_MEMORY_EXCLUSIVE: its small rings come
 * from the region, and requests the region cannot hold (no free aligned run, or bigger than
 * the region) quietly overflow into system memory, which the region's statistics count as
 * fallbacks. A legacy device with a 32-bit DMA mask only ever gets handles below 4 GiB, and is
 * refused rather than given memory above it, while a 64-bit device is given memory above the
 * line. Each allocation is printed with its origin (dmacoh_origin_of), CPU pointer and handle,
 * and checked: origin as expected, handle aligned and below the mask, and data written through
 * the CPU pointer read back unchanged from the bus at the address the device would use.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <dmacoh/dma-mapping.h>
#include <dmacoh/sim.h>

#define RAM_BASE  0xfff00000u          /* 1 MiB below 4 GiB ... */
#define RAM_SIZE  (8u * 1024u * 1024u) /* ... and 7 MiB above it */
#define FOUR_GIB  0x100000000ull
#define NIC_BUS   0xd0000000u /* the NIC's on-chip memory, CPU side */
#define NIC_DEV   0x00100000u /* ... and as the NIC addresses it */
#define NIC_SIZE  (16u * 1024u)
#define NIC_PAGES (NIC_SIZE / PAGE_SIZE)
#define MAX_BUFS  32

struct buf {
    struct device *dev;
    const char *what;
    char tag; /* its character in the NIC's page map */
    size_t size;
    void *cpu;
    dma_addr_t handle;
};

static struct buf bufs[MAX_BUFS];
static unsigned nbufs;
static struct dmacoh_sim *sim;
static unsigned nfail;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(bool ok, const char *fmt, ...)
{
    va_list ap;

    if (ok)
        return;
    fflush(stdout);
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    nfail++;
}

/* Library messages, one per line; the "dmacoh: " the library puts first is dropped. */
static void log_line(void *user, int level, const char *msg)
{
    (void)user;
    (void)level;
    if (strncmp(msg, "dmacoh: ", 8) == 0)
        msg += 8;
    printf("  [dmacoh] %s\n", msg);
}

static const char *origin_name(enum dmacoh_origin o)
{
    switch (o) {
    case DMACOH_ORIGIN_REGION:
        return "region";
    case DMACOH_ORIGIN_SYSTEM:
        return "system";
    case DMACOH_ORIGIN_NONE:
        break;
    }
    return "none";
}

static uint64_t align_of(size_t size)
{
    uint64_t a = PAGE_SIZE;

    while (a < size)
        a <<= 1;
    return a;
}

/* Writes a pattern through the CPU pointer and reads it back where the device would. */
static bool device_sees(struct buf *b, enum dmacoh_origin o)
{
    static unsigned char seen[2u * 1024u * 1024u];
    unsigned char *p = b->cpu;
    uint64_t bus = o == DMACOH_ORIGIN_REGION ? dmacoh_dma_to_bus(&b->dev->dmacoh, b->handle)
                                             : b->handle; /* identity on the simulator's RAM */

    for (size_t i = 0; i < b->size; i++)
        p[i] = (unsigned char)(i * 7u + (unsigned char)b->tag);
    if (b->size > sizeof(seen) || dmacoh_sim_bus_read(sim, bus, seen, b->size) != 0)
        return false;
    return memcmp(seen, p, b->size) == 0;
}

/* Allocates, prints where the memory came from, and checks it against what is expected. */
static struct buf *alloc_show(struct device *dev, const char *what, char tag, size_t size,
                              enum dmacoh_origin want)
{
    struct buf *b = &bufs[nbufs];
    const char *name = dmacoh_device_name(&dev->dmacoh);
    uint64_t mask = dmacoh_device_dma_mask(&dev->dmacoh);
    enum dmacoh_origin o;

    *b = (struct buf){dev, what, tag, size, NULL, 0};
    b->cpu = dma_alloc_coherent(dev, size, &b->handle, GFP_KERNEL);
    if (!b->cpu) {
        printf("  %-8s %-11s %4zu KiB  NULL\n", name, what, size / 1024);
        check(want == DMACOH_ORIGIN_NONE, "%s: %s failed", name, what);
        return NULL;
    }
    nbufs++;
    o = dmacoh_origin_of(&dev->dmacoh, b->cpu);
    printf("  %-8s %-11s %4zu KiB  %-6s  %-14p  0x%010" PRIx64 "%s\n", name, what, size / 1024,
           origin_name(o), b->cpu, b->handle, b->handle >= FOUR_GIB ? "  (above 4 GiB)" : "");
    check(o == want, "%s: %s came from %s, want %s", name, what, origin_name(o), origin_name(want));
    if (o == DMACOH_ORIGIN_REGION)
        check(b->handle - NIC_DEV < NIC_SIZE, "%s: handle outside the region", what);
    else
        check(b->handle >= RAM_BASE && b->handle + size <= (uint64_t)RAM_BASE + RAM_SIZE,
              "%s: handle outside the RAM window", what);
    check(b->handle % align_of(size) == 0, "%s: handle not aligned", what);
    check(b->handle + size - 1 <= mask, "%s: handle above the DMA mask 0x%" PRIx64, what, mask);
    check(dmacoh_virt_to_dma(&dev->dmacoh, b->cpu) == b->handle, "%s: virt_to_dma differs", what);
    check(device_sees(b, o), "%s: the device reads different data at its handle", what);
    return b;
}

static void free_all(void)
{
    for (unsigned i = 0; i < nbufs; i++)
        dma_free_coherent(bufs[i].dev, bufs[i].size, bufs[i].cpu, bufs[i].handle);
    nbufs = 0;
}

/* The NIC's region as one row of page characters, labelled from the driver's table. */
struct map_ctx {
    char map[NIC_PAGES + 1];
    uint64_t next;
    unsigned bad;
};

static int map_extent(void *user, const struct dmacoh_extent *e)
{
    struct map_ctx *m = user;
    char c = e->kind == DMACOH_EXTENT_FREE ? '.' : e->kind == DMACOH_EXTENT_OCCUPIED ? '#' : '?';

    if (e->offset != m->next || e->size == 0 || e->offset + e->size > NIC_SIZE) {
        m->bad++;
        return 1;
    }
    m->next = e->offset + e->size;
    for (unsigned i = 0; e->kind == DMACOH_EXTENT_ALLOC && i < nbufs; i++)
        if (bufs[i].handle == e->dma && bufs[i].handle - NIC_DEV < NIC_SIZE)
            c = bufs[i].tag;
    if (c == '?')
        m->bad++;
    memset(m->map + (size_t)(e->offset / PAGE_SIZE), c, (size_t)(e->size / PAGE_SIZE));
    return 0;
}

static void show_nic(struct device *nic)
{
    struct dmacoh_region_stats st;
    struct map_ctx m = {{0}, 0, 0};
    uint64_t fallbacks = 0, failures = 0;
    int err = dmacoh_region_walk(&nic->dmacoh, map_extent, &m);

    check(err == 0 && m.bad == 0 && m.next == NIC_SIZE, "region walk: rc %d, %u unexplained", err,
          m.bad);
    if (dmacoh_region_get_stats(&nic->dmacoh, &st) != 0) {
        check(false, "dmacoh_region_get_stats failed");
        return;
    }
    dmacoh_device_counters(&nic->dmacoh, &fallbacks, &failures);
    printf("nic0 region map [%s] (T tx ring, R rx ring, S stats, Q cmd queue): %" PRIu64
           " of %" PRIu64 " KiB in use\n",
           m.map, st.in_use / 1024, st.size / 1024);
    printf("  peak %" PRIu64 " KiB, largest free %" PRIu64 " KiB; %" PRIu64 " allocations, %" PRIu64
           " failures, %" PRIu64 " fallbacks to system memory\n",
           st.peak / 1024, st.largest_free / 1024, st.allocs, st.failures, st.fallbacks);
    check(st.in_use == NIC_SIZE && st.allocs == 4 && st.failures == 2 && st.fallbacks == 2,
          "nic0 region stats: in use %" PRIu64 ", allocs %" PRIu64 ", failures %" PRIu64
          ", fallbacks %" PRIu64 "; want 16384, 4, 2, 2",
          st.in_use, st.allocs, st.failures, st.fallbacks);
    check(fallbacks == 2 && failures == 0,
          "nic0 counters: %" PRIu64 " fallbacks, %" PRIu64 " failures; want 2, 0", fallbacks,
          failures);
    check(dmacoh_check(&nic->dmacoh), "dmacoh_check found a broken invariant");
}

int main(void)
{
    struct dmacoh_sim_opts opts = {.ram_base = RAM_BASE, .ram_size = RAM_SIZE};
    struct dmacoh_sim_memory onchip = {NIC_BUS, NIC_SIZE, DMACOH_MEMORY_MAP, false, 0};
    struct device audio, nic, legacy, wide;
    struct device *all[] = {&audio, &nic, &legacy, &wide};
    uint64_t fallbacks = 0, failures = 0;
    int granted;

    dmacoh_set_log_fn(log_line, NULL, DMACOH_LOG_INFO);
    printf("sysmem_fallback: system memory when there is no region, or it is full\n");
    if (dmacoh_sim_create(&opts, &sim) != 0 || dmacoh_sim_add_memory(sim, &onchip) != 0 ||
        dmacoh_device_init(&audio.dmacoh, "audio0", NULL, dmacoh_sim_platform(sim)) != 0 ||
        dmacoh_device_init(&nic.dmacoh, "nic0", NULL, dmacoh_sim_platform(sim)) != 0 ||
        dmacoh_device_init(&legacy.dmacoh, "legacy0", NULL, dmacoh_sim_platform(sim)) != 0 ||
        dmacoh_device_init(&wide.dmacoh, "wide0", NULL, dmacoh_sim_platform(sim)) != 0) {
        fprintf(stderr, "FAIL: cannot set up the simulated platform\n");
        return 1;
    }
    printf("RAM window: bus 0x%010x-0x%010" PRIx64 "; nic0 on-chip: bus 0x%08x = device 0x%08x,"
           " %u KiB\n",
           RAM_BASE, (uint64_t)RAM_BASE + RAM_SIZE - 1, NIC_BUS, NIC_DEV, NIC_SIZE / 1024);
    granted = dma_declare_coherent_memory(&nic, NIC_BUS, NIC_DEV, NIC_SIZE, DMA_MEMORY_MAP);
    if (granted != DMA_MEMORY_MAP) {
        fprintf(stderr, "FAIL: declare returned %d, want DMA_MEMORY_MAP\n", granted);
        return 1;
    }
    printf("  %-8s %-11s %8s  %-6s  %-14s  %s\n", "device", "what", "size", "origin", "cpu pointer",
           "dma handle");

    /* No region at all: plain system memory, handles are RAM bus addresses. */
    alloc_show(&audio, "period buf", 'P', 16 * 1024, DMACOH_ORIGIN_SYSTEM);
    alloc_show(&audio, "desc list", 'D', 4096, DMACOH_ORIGIN_SYSTEM);
    dmacoh_device_counters(&audio.dmacoh, &fallbacks, &failures);
    check(fallbacks == 2 && failures == 0,
          "audio0 counters: %" PRIu64 " fallbacks, %" PRIu64 " failures; want 2, 0", fallbacks,
          failures);

    /* Four pages of region: three rings fit; an 8 KiB buffer needs an aligned free pair and
     * one page is left, so it overflows; the next page fits; 32 KiB exceeds the region. */
    alloc_show(&nic, "tx ring", 'T', 4096, DMACOH_ORIGIN_REGION);
    alloc_show(&nic, "rx ring", 'R', 4096, DMACOH_ORIGIN_REGION);
    alloc_show(&nic, "stats", 'S', 4096, DMACOH_ORIGIN_REGION);
    alloc_show(&nic, "rx buffers", 'B', 8192, DMACOH_ORIGIN_SYSTEM);
    alloc_show(&nic, "cmd queue", 'Q', 4096, DMACOH_ORIGIN_REGION);
    alloc_show(&nic, "jumbo buf", 'J', 32 * 1024, DMACOH_ORIGIN_SYSTEM);
    show_nic(&nic);

    /* 32-bit device: only the 1 MiB of RAM below 4 GiB is usable for it. */
    check(dma_set_coherent_mask(&legacy, DMA_BIT_MASK(32)) == 0, "cannot set a 32-bit mask");
    printf("legacy0 has a 32-bit DMA mask (0x%" PRIx64 "), wide0 a 64-bit one:\n",
           dmacoh_device_dma_mask(&legacy.dmacoh));
    alloc_show(&wide, "framebuffer", 'F', 2 * 1024 * 1024, DMACOH_ORIGIN_SYSTEM);
    check(nbufs > 0 && bufs[nbufs - 1].handle >= FOUR_GIB, "wide0: 2 MiB not above 4 GiB");
    alloc_show(&legacy, "ring", 'L', 64 * 1024, DMACOH_ORIGIN_SYSTEM);
    alloc_show(&legacy, "bounce buf", 'L', 64 * 1024, DMACOH_ORIGIN_SYSTEM);
    /* The one 1 MiB-aligned slot below 4 GiB holds the two buffers above: refused. */
    alloc_show(&legacy, "big buf", 'L', 1024 * 1024, DMACOH_ORIGIN_NONE);
    dmacoh_device_counters(&legacy.dmacoh, &fallbacks, &failures);
    check(fallbacks == 2 && failures == 1,
          "legacy0 counters: %" PRIu64 " fallbacks, %" PRIu64 " failures; want 2, 1", fallbacks,
          failures);
    alloc_show(&wide, "big buf", 'W', 1024 * 1024, DMACOH_ORIGIN_SYSTEM);
    check(nbufs > 0 && bufs[nbufs - 1].handle >= FOUR_GIB, "wide0: 1 MiB not above 4 GiB");

    free_all();
    {
        struct dmacoh_region_stats st = {0};

        check(dmacoh_region_get_stats(&nic.dmacoh, &st) == 0 && st.in_use == 0 && st.frees == 4,
              "nic0 after freeing: in use %" PRIu64 ", frees %" PRIu64, st.in_use, st.frees);
    }
    dma_release_declared_memory(&nic);
    for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        check(dmacoh_device_fini(&all[i]->dmacoh) == 0, "fini of device %u failed", i);
    check(dmacoh_sim_destroy(sim) == 0, "dmacoh_sim_destroy failed");
    printf("%s\n", nfail ? "sysmem_fallback: FAILED" : "sysmem_fallback: all checks passed");
    return nfail ? 1 : 0;
}
