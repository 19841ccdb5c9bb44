/* SPDX-License-Identifier: MIT */
/*
 * usb_sram.c - a USB host controller whose DMA engine reaches only its own 32 KiB of on-chip
 * SRAM, the other case the RFC was written for. The SRAM sits behind a bus that takes 32-bit
 * accesses at most and cannot be mapped as plain memory, so the simulator offers it as
 * DMACOH_MEMORY_IO with io_width 4. The driver first asks for DMA_MEMORY_MAP alone and is
 * refused (the RFC: never grant a mode that was not asked for), then declares
 * DMA_MEMORY_IO | DMA_MEMORY_EXCLUSIVE and gets DMA_MEMORY_IO: every pointer
 * dma_alloc_coherent() returns is a cookie for ioread32/iowrite32/memcpy_toio/memcpy_fromio
 * and is never dereferenced. It queues transfers (a descriptor followed by its payload) until
 * the SRAM is full; when dma_alloc_coherent() returns NULL it completes the oldest transfer
 * and retries, as a real HCD waits for the controller to retire work. The controller itself
 * is modelled with the simulator's bus side: it reads each descriptor and payload by bus
 * address and writes back a status word (and, for IN transfers, the data). Every step prints
 * one row of the SRAM's page map; the statistics at the end count the NULLs as failures and
 * show that nothing fell back to system memory.
 *
 * Last, the transfer descriptors themselves: 16 bytes each, they waste a page apiece when
 * allocated one by one from a page-granular region ("quickly exhaust local memory", as the
 * kernel's USB host controllers with on-chip SRAM found). The example counts how many fit in
 * the same SRAM three ways: one dma_alloc_coherent per descriptor, a dma_pool of descriptors,
 * and one dma_alloc_coherent per descriptor from the SRAM declared with a 16-byte granule.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <dmacoh/dma-mapping.h>
#include <dmacoh/sim.h>

#define SRAM_BUS  0xfedc0000u /* where the CPU finds the SRAM */
#define SRAM_DEV  0x00020000u /* where the controller's DMA engine finds it */
#define SRAM_SIZE (32u * 1024u)
#define NPAGES    (SRAM_SIZE / PAGE_SIZE)
#define MAX_XFERS 16

/* Descriptor at the start of each transfer buffer: four little-endian 32-bit words. */
#define TD_MAGIC       0x54440000u /* "TD" | sequence number */
#define TD_CTRL        0x0
#define TD_LEN         0x4
#define TD_BUFP        0x8 /* device address of the payload */
#define TD_STATUS      0xc /* written by the controller */
#define TD_PAYLOAD     0x10
#define TD_NOTACCESSED 0xffffffffu
#define HCCA_FRAME     0x80 /* HccaFrameNumber, as in OHCI */

struct xfer {
    char tag; /* its character in the page map */
    const char *kind;
    size_t size;
    uint32_t seq;
    void *cookie; /* IO cookie: accessors only */
    dma_addr_t handle;
};

static struct xfer live[MAX_XFERS]; /* outstanding transfers, oldest first */
static unsigned nlive;
static struct xfer hcca;
static uint64_t peak; /* the most bytes the driver ever had allocated, by its own count */
static unsigned nfail;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The controller is a little-endian device, as OHCI is: its model takes the bytes of a word
 * it reads from the bus as little-endian, and lays out the words it writes so, whatever the
 * host's byte order (this swaps on a big-endian host, and is its own inverse). */
static uint32_t le32(uint32_t v)
{
    const unsigned char *b = (const unsigned char *)&v;

    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

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

static void *at(void *cookie, size_t off)
{
    return (char *)cookie + off;
}

static unsigned char pattern(uint32_t seq, size_t i, bool in)
{
    unsigned char b = (unsigned char)(seq * 37u + i);

    return in ? (unsigned char)~b : b;
}

static bool is_in(const struct xfer *x)
{
    return strcmp(x->kind, "bulk-in") == 0;
}

static size_t pages_of(size_t size)
{
    return (size + PAGE_SIZE - 1) / PAGE_SIZE;
}

/* Builds a page map of the SRAM from the region walk, labelled from the driver's tables. */
struct map_ctx {
    char map[NPAGES + 1];
    uint64_t next;
    unsigned bad;
};

static char tag_of(dma_addr_t handle, uint64_t size)
{
    if (hcca.cookie && hcca.handle == handle && size == PAGE_SIZE)
        return 'H';
    for (unsigned i = 0; i < nlive; i++)
        if (live[i].handle == handle && size == pages_of(live[i].size) * PAGE_SIZE)
            return live[i].tag;
    return '?';
}

static int map_extent(void *user, const struct dmacoh_extent *e)
{
    struct map_ctx *m = user;
    char c = '?';

    if (e->offset != m->next || e->size == 0 || e->size % PAGE_SIZE != 0 ||
        e->offset + e->size > SRAM_SIZE) {
        m->bad++;
        return 1;
    }
    m->next = e->offset + e->size;
    if (e->kind == DMACOH_EXTENT_FREE)
        c = '.';
    else if (e->kind == DMACOH_EXTENT_OCCUPIED)
        c = '#';
    else if (e->kind == DMACOH_EXTENT_ALLOC)
        c = tag_of(e->dma, e->size);
    if (c == '?')
        m->bad++;
    memset(m->map + (size_t)(e->offset / PAGE_SIZE), c, (size_t)(e->size / PAGE_SIZE));
    return 0;
}

/* Returns the map as a string of NPAGES characters (static storage). */
static const char *sram_map(struct device *hcd)
{
    static struct map_ctx m;
    int err;

    memset(&m, 0, sizeof(m));
    err = dmacoh_region_walk(&hcd->dmacoh, map_extent, &m);
    check(err == 0 && m.bad == 0 && m.next == SRAM_SIZE,
          "region walk: rc %d, %u extents unexplained, covered 0x%" PRIx64, err, m.bad, m.next);
    return m.map;
}

/* The driver fills the descriptor and payload through the accessors only. */
static void fill_td(struct xfer *x)
{
    unsigned char payload[16 * 1024];
    size_t len = x->size - TD_PAYLOAD;

    for (size_t i = 0; i < len; i++)
        payload[i] = pattern(x->seq, i, false);
    iowrite32(TD_MAGIC | x->seq, at(x->cookie, TD_CTRL));
    iowrite32((uint32_t)len, at(x->cookie, TD_LEN));
    iowrite32((uint32_t)(x->handle + TD_PAYLOAD), at(x->cookie, TD_BUFP));
    iowrite32(TD_NOTACCESSED, at(x->cookie, TD_STATUS));
    memcpy_toio(at(x->cookie, TD_PAYLOAD), payload, len);
}

/* The controller's side: fetch the descriptor and payload by bus address, post status. */
static void controller_run(struct dmacoh_sim *sim, struct device *hcd, const struct xfer *x)
{
    static unsigned char payload[16 * 1024];
    uint64_t bus = dmacoh_dma_to_bus(&hcd->dmacoh, x->handle);
    uint32_t td[4], status;
    size_t len = x->size - TD_PAYLOAD, i;

    if (dmacoh_sim_bus_read(sim, bus, td, sizeof(td)) != 0 ||
        dmacoh_sim_bus_read(sim, bus + TD_PAYLOAD, payload, len) != 0) {
        check(false, "controller: cannot read transfer %c at bus 0x%" PRIx64, x->tag, bus);
        return;
    }
    for (i = 0; i < 4; i++)
        td[i] = le32(td[i]);
    check(td[0] == (TD_MAGIC | x->seq) && td[1] == len && td[2] == x->handle + TD_PAYLOAD &&
              td[3] == TD_NOTACCESSED,
          "controller: descriptor of %c reads %08x %08x %08x %08x", x->tag, td[0], td[1], td[2],
          td[3]);
    for (i = 0; i < len && payload[i] == pattern(x->seq, i, false); i++)
        ;
    check(i == len, "controller: payload of %c differs at byte %zu", x->tag, i);
    if (is_in(x)) {
        for (i = 0; i < len; i++)
            payload[i] = pattern(x->seq, i, true);
        check(dmacoh_sim_bus_write(sim, bus + TD_PAYLOAD, payload, len) == 0,
              "controller: cannot write the IN data of %c", x->tag);
    }
    status = le32((uint32_t)len); /* completion code 0 (no error) in the top bits, length below */
    check(dmacoh_sim_bus_write(sim, bus + TD_STATUS, &status, sizeof(status)) == 0,
          "controller: cannot post the status of %c", x->tag);
}

/* The driver retires the oldest transfer: reads status (and IN data), frees the buffer. */
static void complete_oldest(struct dmacoh_sim *sim, struct device *hcd)
{
    static unsigned char data[16 * 1024];
    struct xfer x = live[0];
    size_t len = x.size - TD_PAYLOAD, i;
    uint32_t status;

    controller_run(sim, hcd, &x);
    status = ioread32(at(x.cookie, TD_STATUS));
    check(status == len, "transfer %c: status 0x%08x, want 0x%08zx", x.tag, status, len);
    memcpy_fromio(data, at(x.cookie, TD_PAYLOAD), len);
    for (i = 0; i < len && data[i] == pattern(x.seq, i, is_in(&x)); i++)
        ;
    check(i == len, "transfer %c: payload differs at byte %zu after completion", x.tag, i);
    dma_free_coherent(hcd, x.size, x.cookie, x.handle);
    nlive--;
    memmove(&live[0], &live[1], nlive * sizeof(live[0]));
    printf("    complete %c: %-3s %5zu B, status 0x%08x  [%s]\n", x.tag, is_in(&x) ? "in" : "out",
           len, status, sram_map(hcd));
}

/* The alignment dma_alloc_coherent promises: the smallest power-of-two number of pages. */
static uint64_t align_of(size_t size)
{
    uint64_t a = PAGE_SIZE;

    while (a < size)
        a <<= 1;
    return a;
}

static void note_peak(void)
{
    uint64_t bytes = pages_of(PAGE_SIZE) * PAGE_SIZE; /* the HCCA */

    for (unsigned i = 0; i < nlive; i++)
        bytes += pages_of(live[i].size) * PAGE_SIZE;
    if (bytes > peak)
        peak = bytes;
}

/* Queues one transfer, completing older ones while the SRAM has no room. */
static void submit(struct dmacoh_sim *sim, struct device *hcd, const char *kind, size_t size,
                   unsigned *nnull)
{
    static uint32_t seq;
    struct xfer *x = &live[nlive];
    dma_addr_t handle = DMACOH_BAD_DMA_ADDR;
    void *cookie;

    while (!(cookie = dma_alloc_coherent(hcd, size, &handle, GFP_ATOMIC))) {
        check(handle == DMACOH_BAD_DMA_ADDR, "a failed allocation changed the handle");
        (*nnull)++;
        printf("  submit %c %-8s %2zu KiB: NULL, no room in SRAM\n", (char)('a' + seq), kind,
               size / 1024);
        if (nlive == 0) {
            check(false, "no room for %zu bytes even with every transfer completed", size);
            return;
        }
        complete_oldest(sim, hcd);
        x = &live[nlive];
    }
    *x = (struct xfer){(char)('a' + seq), kind, size, seq, cookie, handle};
    seq++;
    nlive++;
    note_peak();
    check(dmacoh_origin_of(&hcd->dmacoh, cookie) == DMACOH_ORIGIN_REGION &&
              handle - SRAM_DEV < SRAM_SIZE && size <= SRAM_SIZE - (handle - SRAM_DEV),
          "transfer %c is not in the SRAM", x->tag);
    check(handle % align_of(size) == 0, "transfer %c: handle 0x%" PRIx64 " is misaligned", x->tag,
          handle);
    check(dmacoh_io_width_at(cookie) == 4, "transfer %c: io width %u, want 4", x->tag,
          dmacoh_io_width_at(cookie));
    check(ioread32(at(cookie, 0)) == 0 && ioread32(at(cookie, size - 4)) == 0,
          "transfer %c is not zeroed", x->tag);
    fill_td(x);
    printf("  submit %c %-8s %2zu KiB: dev 0x%08" PRIx64 "  bus 0x%08" PRIx64 "  cookie %p  [%s]\n",
           x->tag, kind, size / 1024, handle, dmacoh_dma_to_bus(&hcd->dmacoh, handle), cookie,
           sram_map(hcd));
}

/* Takes 16-byte descriptors until `get` fails; frees them all; returns how many fit. */
#define TD_SIZE 16u
#define MAX_TDS 4096u

struct td_ref {
    void *cookie;
    dma_addr_t handle;
};

static struct td_ref tds[MAX_TDS];

static unsigned count_direct(struct device *dev)
{
    unsigned n = 0;

    while (n < MAX_TDS && (tds[n].cookie = dma_alloc_coherent(dev, TD_SIZE, &tds[n].handle, 0)))
        n++;
    for (unsigned i = 0; i < n; i++)
        dma_free_coherent(dev, TD_SIZE, tds[i].cookie, tds[i].handle);
    return n;
}

static unsigned count_pool(struct dmacoh_sim *sim, struct device *dev)
{
    struct dma_pool *pool = dma_pool_create("ohci-td", dev, TD_SIZE, 16, 0);
    unsigned n = 0;
    uint32_t seen = 0;

    check(pool != NULL, "dma_pool_create failed");
    if (!pool)
        return 0;
    while (n < MAX_TDS && (tds[n].cookie = dma_pool_zalloc(pool, 0, &tds[n].handle))) {
        iowrite32(TD_MAGIC | n, tds[n].cookie); /* the accessors only: these are cookies */
        n++;
    }
    /* The controller finds the last descriptor by its device address. */
    check(n > 0 &&
              dmacoh_sim_bus_read(sim, dmacoh_dma_to_bus(&dev->dmacoh, tds[n - 1].handle), &seen,
                                  sizeof(seen)) == 0 &&
              le32(seen) == (TD_MAGIC | (n - 1)),
          "the controller read 0x%08x from the last pooled descriptor", le32(seen));
    for (unsigned i = 0; i < n; i++)
        check(tds[i].handle % 16 == 0 && ioread32(tds[i].cookie) == (TD_MAGIC | i),
              "pooled descriptor %u is misaligned or was overwritten", i);
    for (unsigned i = 0; i < n; i++)
        dma_pool_free(pool, tds[i].cookie, tds[i].handle);
    dma_pool_destroy(pool);
    return n;
}

/* The SRAM again, declared with a 16-byte granule through the namespaced API. */
static unsigned count_fine(struct device *dev)
{
    struct dmacoh_declare_opts opts = {.granule = TD_SIZE};
    int granted = 0, r;
    unsigned n;

    r = dmacoh_declare_coherent_memory(&dev->dmacoh, SRAM_BUS, SRAM_DEV, SRAM_SIZE,
                                       DMACOH_MEMORY_IO | DMACOH_MEMORY_EXCLUSIVE, &opts, &granted);
    check(r == 0 && granted == DMACOH_MEMORY_IO, "fine-grained declare: %s", dmacoh_strerror(r));
    if (r)
        return 0;
    n = count_direct(dev);
    check(dmacoh_release_coherent_memory(&dev->dmacoh, 0) == 0, "fine-grained release failed");
    return n;
}

static void descriptor_capacity(struct dmacoh_sim *sim, struct device *hcd)
{
    unsigned direct, pooled, fine;

    printf("16-byte transfer descriptors that fit in the SRAM (the HCCA keeps its page):\n");
    direct = count_direct(hcd);
    pooled = count_pool(sim, hcd);
    printf("  dma_alloc_coherent, 4 KiB granule: %4u (a page each)\n", direct);
    printf("  dma_pool of 16-byte blocks:         %4u (%ux)\n", pooled,
           direct ? pooled / direct : 0);
    dma_free_coherent(hcd, 256, hcca.cookie, hcca.handle);
    dma_release_declared_memory(hcd);
    fine = count_fine(hcd);
    printf("  dma_alloc_coherent, 16 B granule:   %4u (whole SRAM, no HCCA)\n", fine);
    check(direct == NPAGES - 1, "direct allocation fitted %u descriptors, want %u", direct,
          NPAGES - 1);
    check(pooled == (NPAGES - 1) * (PAGE_SIZE / TD_SIZE), "the pool fitted %u descriptors, want %u",
          pooled, (NPAGES - 1) * (PAGE_SIZE / TD_SIZE));
    check(fine == SRAM_SIZE / TD_SIZE, "the 16-byte granule fitted %u descriptors, want %u", fine,
          SRAM_SIZE / TD_SIZE);
}

static void print_stats(struct device *hcd, unsigned nnull, unsigned nalloc)
{
    struct dmacoh_region_stats st;

    if (dmacoh_region_get_stats(&hcd->dmacoh, &st) != 0) {
        check(false, "dmacoh_region_get_stats failed");
        return;
    }
    printf("usage: %" PRIu64 " of %" PRIu64 " KiB in use, peak %" PRIu64
           " KiB, largest free %" PRIu64 " KiB, io width %u\n",
           st.in_use / 1024, st.size / 1024, st.peak / 1024, st.largest_free / 1024, st.io_width);
    printf("       allocations %" PRIu64 ", frees %" PRIu64 ", failures %" PRIu64
           ", fallbacks %" PRIu64 "\n",
           st.allocs, st.frees, st.failures, st.fallbacks);
    check(st.mode == DMACOH_MEMORY_IO && st.io_width == 4, "mode %d io width %u", st.mode,
          st.io_width);
    check(st.failures == nnull && st.fallbacks == 0 && st.allocs == nalloc,
          "failures %" PRIu64 " (want %u), fallbacks %" PRIu64 " (want 0), allocs %" PRIu64
          " (want %u)",
          st.failures, nnull, st.fallbacks, st.allocs, nalloc);
    check(st.peak == peak, "peak %" PRIu64 ", the driver counted %" PRIu64, st.peak, peak);
    check(dmacoh_check(&hcd->dmacoh), "dmacoh_check found a broken invariant");
}

int main(void)
{
    static const struct {
        const char *kind;
        size_t size;
    } plan[] = {{"bulk-out", 8192}, {"ctrl", 4096},     {"bulk-in", 8192}, {"intr", 4096},
                {"bulk-out", 8192}, {"bulk-in", 12288}, {"ctrl", 4096},    {"intr", 4096}};
    struct dmacoh_sim_memory sram = {SRAM_BUS, SRAM_SIZE, DMACOH_MEMORY_IO, false, 4};
    struct dmacoh_sim *sim = NULL;
    struct device hcd;
    unsigned nnull = 0, nplan = sizeof(plan) / sizeof(plan[0]);
    uint16_t frame;
    unsigned char frame_le[2];
    int granted;

    dmacoh_set_log_fn(log_line, NULL, DMACOH_LOG_INFO);
    printf("usb_sram: a USB host controller that can only DMA to its 32 KiB of SRAM\n");
    if (dmacoh_sim_create(NULL, &sim) != 0 || dmacoh_sim_add_memory(sim, &sram) != 0 ||
        dmacoh_device_init(&hcd.dmacoh, "ohci0", NULL, dmacoh_sim_platform(sim)) != 0) {
        fprintf(stderr, "FAIL: cannot set up the simulated controller\n");
        return 1;
    }

    /* The SRAM cannot be mapped: asking for MAP alone must fail, not quietly give IO. */
    granted = dma_declare_coherent_memory(&hcd, SRAM_BUS, SRAM_DEV, SRAM_SIZE,
                                          DMA_MEMORY_MAP | DMA_MEMORY_EXCLUSIVE);
    check(granted == 0, "declaring MAP on IO-only SRAM returned %d, want 0", granted);
    printf("declare MAP | EXCLUSIVE: returned %d (the SRAM cannot be mapped)\n", granted);
    granted = dma_declare_coherent_memory(&hcd, SRAM_BUS, SRAM_DEV, SRAM_SIZE,
                                          DMA_MEMORY_IO | DMA_MEMORY_EXCLUSIVE);
    if (granted != DMA_MEMORY_IO) {
        fprintf(stderr, "FAIL: declare IO returned %d, want DMA_MEMORY_IO\n", granted);
        return 1;
    }
    printf("declare IO | EXCLUSIVE: DMA_MEMORY_IO; bus 0x%08x = device 0x%08x, %u KiB\n", SRAM_BUS,
           SRAM_DEV, SRAM_SIZE / 1024);

    /* The HCCA stays for the controller's lifetime; the controller updates its frame number. */
    hcca.cookie = dma_alloc_coherent(&hcd, 256, &hcca.handle, GFP_KERNEL);
    if (!hcca.cookie) {
        fprintf(stderr, "FAIL: no HCCA\n");
        return 1;
    }
    frame = 0x1234;
    frame_le[0] = (unsigned char)frame;
    frame_le[1] = (unsigned char)(frame >> 8);
    check(dmacoh_sim_bus_write(sim, dmacoh_dma_to_bus(&hcd.dmacoh, hcca.handle) + HCCA_FRAME,
                               frame_le, sizeof(frame_le)) == 0,
          "controller: cannot write the frame number");
    check(ioread16(at(hcca.cookie, HCCA_FRAME)) == frame, "HCCA frame number reads wrong");
    printf("HCCA: dev 0x%08" PRIx64 ", cookie %p, frame number read with ioread16: 0x%04x\n",
           hcca.handle, hcca.cookie, ioread16(at(hcca.cookie, HCCA_FRAME)));

    printf("queueing %u transfers (page map: H HCCA, a-h transfers, . free):\n", nplan);
    for (unsigned i = 0; i < nplan && !nfail; i++)
        submit(sim, &hcd, plan[i].kind, plan[i].size, &nnull);
    while (nlive && !nfail)
        complete_oldest(sim, &hcd);
    print_stats(&hcd, nnull, nplan + 1);
    if (!nfail)
        descriptor_capacity(sim, &hcd); /* frees the HCCA and releases the region */
    else
        dma_release_declared_memory(&hcd);
    check(!dmacoh_device_has_region(&hcd.dmacoh), "the controller still has a region");
    check(dmacoh_device_fini(&hcd.dmacoh) == 0, "fini of the controller failed");
    check(dmacoh_sim_destroy(sim) == 0, "dmacoh_sim_destroy failed");
    printf("%s\n", nfail ? "usb_sram: FAILED" : "usb_sram: all checks passed");
    return nfail ? 1 : 0;
}
