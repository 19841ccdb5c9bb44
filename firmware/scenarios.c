/* SPDX-License-Identifier: MIT */
/*
 * scenarios.c - the demo's cases on the board's own memories, with the bare-metal platform
 * (CPU address == bus address, cpu_offset 0), as harness test cases:
 *
 * - the RFC's SCSI card: a card declares 2 MiB of SSRAM (bus 0x20200000, device address 0)
 *   with MAP | INCLUDES_CHILDREN | EXCLUSIVE through the RFC API; the firmware mailbox is
 *   marked occupied; four channels (children) allocate mailboxes, command blocks and data
 *   buffers from it; the card reads what the CPU wrote by bus address; an oversize request
 *   fails instead of falling back; a device without a region gets fallback memory from a
 *   PSRAM window with identity handles; a child of a region declared without
 *   INCLUDES_CHILDREN falls back too; release, then a declare again.
 * - a USB host controller's 16 KiB block RAM (bus 0x01000000, device address 0), accessors
 *   only (IO, 32-bit at most), declared with a 16-byte granule: a dma_pool of 16-byte transfer
 *   descriptors fills it exactly, each written with iowrite32 and read back by the controller
 *   at its bus address.
 */
#include "firmware.h"

#include "t.h"

#include <dmacoh/baremetal.h>
#include <dmacoh/dma-mapping.h>
#include <dmacoh/pool.h>

#include <string.h>

/* From the linker script. */
extern unsigned char __cardsram_start[], __cardsram_end[];
extern unsigned char __blockram_start[], __blockram_end[];
extern unsigned char __fallback_start[], __fallback_end[];

#define KIB      1024u
#define NCHAN    4
#define MBOX_DEV 0x1000u /* the card firmware's mailbox: device addresses 0x1000..0x2fff */
#define MBOX_LEN 0x2000u

static _Alignas(16) unsigned char card_arena[32 * KIB];   /* declares' and pools' metadata */
static _Alignas(16) unsigned char usb_arena[12 * KIB];    /* the same for the USB platform */
static _Alignas(16) unsigned char fallback_meta[4 * KIB]; /* allocator of the PSRAM window */

static uintptr_t addr(const void *p)
{
    return (uintptr_t)p;
}

static void platform_up(struct dmacoh_baremetal *bm)
{
    struct dmacoh_baremetal_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.modes = DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO;
    cfg.ram_bus = addr(__fallback_start);
    cfg.ram_size = (uint64_t)(__fallback_end - __fallback_start);
    cfg.ram_meta = fallback_meta;
    cfg.ram_meta_size = sizeof(fallback_meta);
    cfg.meta_arena = card_arena;
    cfg.meta_arena_size = sizeof(card_arena);
    T_ASSERT(dmacoh_region_meta_size(cfg.ram_size, DMACOH_PAGE_SIZE) <= sizeof(fallback_meta));
    T_OK(dmacoh_baremetal_init(bm, &cfg));
}

/* One buffer the driver holds: CPU pointer, handle, bytes asked. */
struct buf {
    unsigned char *cpu;
    dma_addr_t dma;
    size_t size;
};

static uint64_t pages_pow2(size_t size)
{
    uint64_t a = PAGE_SIZE;

    while (a < size)
        a <<= 1;
    return a;
}

/* A buffer from the card's SRAM: CPU pointer at the same offset as the handle, handle
 * aligned to the power-of-two page count, zeroed, clear of the firmware mailbox. */
static struct buf take(struct device *dev, size_t size)
{
    struct buf b = {NULL, 0, size};
    uint64_t span = (size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;

    b.cpu = dma_alloc_coherent(dev, size, &b.dma, GFP_KERNEL);
    T_ASSERT(b.cpu != NULL);
    T_EQ_PTR(b.cpu, __cardsram_start + b.dma);
    T_EQ_U64(b.dma % pages_pow2(size), 0);
    T_ASSERT(b.dma + span <= (uint64_t)(__cardsram_end - __cardsram_start));
    T_ASSERT(b.dma + span <= MBOX_DEV || b.dma >= MBOX_DEV + MBOX_LEN);
    for (size_t i = 0; i < span; i++)
        T_EQ_INT(b.cpu[i], 0);
    return b;
}

static void no_overlap(const struct buf *b, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = i + 1; j < n; j++)
            T_ASSERT(b[i].dma + b[i].size <= b[j].dma || b[j].dma + b[j].size <= b[i].dma);
}

/* The card fetches a command block by bus address and answers in the channel's mailbox. */
static void card_runs_command(struct device *card, const struct buf *cmd, const struct buf *mbox)
{
    static const unsigned char read10[10] = {0x28, 0, 0, 0, 0x10, 0, 0, 0, 1, 0};
    uint64_t bus = dmacoh_dma_to_bus(&card->dmacoh, cmd->dma);
    const volatile unsigned char *seen = (const volatile unsigned char *)(uintptr_t)bus;
    volatile uint32_t *status;

    memcpy(cmd->cpu, read10, sizeof(read10));
    T_EQ_U64(bus, addr(__cardsram_start) + cmd->dma);
    for (unsigned i = 0; i < sizeof(read10); i++)
        T_EQ_INT(seen[i], read10[i]);
    status = (volatile uint32_t *)(uintptr_t)dmacoh_dma_to_bus(&card->dmacoh, mbox->dma);
    *status = 0x600dc0deu;
    T_EQ_U64(*(volatile uint32_t *)(void *)mbox->cpu, 0x600dc0deu); /* page-aligned */
    T_EQ_U64(dmacoh_virt_to_dma(&card->dmacoh, mbox->cpu), mbox->dma);
}

/* Sizes each channel asks for: mailbox, three command blocks, a data buffer. */
static const size_t chan_sizes[] = {4 * KIB, 64, 1 * KIB, 8 * KIB, 64 * KIB};
#define PER_CHAN (sizeof(chan_sizes) / sizeof(chan_sizes[0]))

static void channels_allocate(struct device *card, struct device *chan, struct buf *b)
{
    struct dmacoh_region_stats st;
    uint64_t in_use = 0;

    for (unsigned c = 0; c < NCHAN; c++)
        for (unsigned k = 0; k < PER_CHAN; k++) {
            b[c * PER_CHAN + k] = take(&chan[c], chan_sizes[k]);
            in_use += (chan_sizes[k] + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
        }
    no_overlap(b, NCHAN * PER_CHAN);
    for (unsigned c = 1; c < NCHAN; c++) /* one size, no frees: ascending addresses */
        T_ASSERT(b[c * PER_CHAN].dma > b[(c - 1) * PER_CHAN].dma);
    for (unsigned c = 0; c < NCHAN; c++)
        card_runs_command(card, &b[c * PER_CHAN + 1], &b[c * PER_CHAN]);
    T_OK(dmacoh_region_get_stats(&card->dmacoh, &st));
    T_EQ_U64(st.in_use, in_use);
    T_EQ_U64(st.occupied, MBOX_LEN);
    T_EQ_U64(st.live, NCHAN * PER_CHAN);
}

/* Without a region of its own or an including ancestor, memory comes from the PSRAM window:
 * identity handles, the same alignment promise. */
static void falls_back(struct device *dev, size_t size)
{
    dma_addr_t h;
    void *p = dma_alloc_coherent(dev, size, &h, GFP_KERNEL);

    T_ASSERT(p != NULL);
    T_EQ_U64(h, addr(p));
    T_ASSERT(p >= (void *)__fallback_start && p < (void *)__fallback_end);
    T_EQ_U64(h % pages_pow2(size), 0);
    dma_free_coherent(dev, size, p, h);
}

static void rfc_scsi_card_on_sram(void)
{
    static struct dmacoh_baremetal bm;
    struct device card, chan[NCHAN], audio;
    struct buf b[NCHAN * PER_CHAN];
    const uint64_t bus = addr(__cardsram_start), size = 2048 * KIB;
    const int flags = DMA_MEMORY_MAP | DMA_MEMORY_INCLUDES_CHILDREN | DMA_MEMORY_EXCLUSIVE;
    void *mbox;
    dma_addr_t h;
    struct dmacoh_region_stats st;

    T_EQ_U64((uint64_t)(__cardsram_end - __cardsram_start), size);
    platform_up(&bm);
    T_OK(dmacoh_device_init(&card.dmacoh, "scsi", NULL, &bm.plat));
    for (unsigned c = 0; c < NCHAN; c++)
        T_OK(dmacoh_device_init(&chan[c].dmacoh, "chan", &card.dmacoh, NULL));
    T_OK(dmacoh_device_init(&audio.dmacoh, "audio", NULL, &bm.plat));

    T_EQ_INT(dma_declare_coherent_memory(&card, bus, 0, size, flags), DMA_MEMORY_MAP);
    T_EQ_INT(dma_declare_coherent_memory(&card, bus, 0, size, flags), 0); /* one per device */
    mbox = dma_mark_declared_memory_occupied(&card, MBOX_DEV, MBOX_LEN);
    T_EQ_PTR(mbox, __cardsram_start + MBOX_DEV);
    T_ASSERT(IS_ERR(dma_mark_declared_memory_occupied(&card, MBOX_DEV + 0x1000u, 0x1000u)));
    T_ASSERT(IS_ERR(dma_mark_declared_memory_occupied(&card, size, 0x1000u)));

    channels_allocate(&card, chan, b);
    /* Exclusive: a request the region cannot hold fails rather than falling back. */
    T_ASSERT(dma_alloc_coherent(&chan[0], size, &h, GFP_KERNEL) == NULL);
    T_OK(dmacoh_region_get_stats(&card.dmacoh, &st));
    T_EQ_U64(st.failures, 1);
    T_EQ_U64(st.fallbacks, 0);
    falls_back(&audio, 8 * KIB);
    /* A mismatched free is refused and leaves the allocator intact. */
    T_ERR(dmacoh_free_coherent(&chan[1].dmacoh, 2 * PAGE_SIZE, b[PER_CHAN].cpu, b[PER_CHAN].dma),
          DMACOH_EINVAL);
    T_ASSERT(dmacoh_check(&card.dmacoh));
    for (unsigned i = 0; i < NCHAN * PER_CHAN; i++)
        dma_free_coherent(&chan[i / PER_CHAN], b[i].size, b[i].cpu, b[i].dma);
    T_OK(dmacoh_release_coherent_memory(&card.dmacoh, 0)); /* nothing outstanding */

    /* Declared without INCLUDES_CHILDREN, the card's memory is its own: children fall back. */
    T_EQ_INT(dma_declare_coherent_memory(&card, bus, 0, size, DMA_MEMORY_IO), DMA_MEMORY_IO);
    falls_back(&chan[2], 3 * PAGE_SIZE);
    dma_release_declared_memory(&card);
    for (unsigned c = 0; c < NCHAN; c++)
        T_OK(dmacoh_device_fini(&chan[c].dmacoh));
    T_OK(dmacoh_device_fini(&card.dmacoh));
    T_OK(dmacoh_device_fini(&audio.dmacoh));
    T_OK(dmacoh_baremetal_fini(&bm));
}

#define TD_SIZE 16u
#define MAX_TDS 1024u

struct td {
    uint32_t *cookie;
    dma_addr_t dma;
};

/* Fills the pool until it refuses; each descriptor gets its index and handle. */
static unsigned fill(struct dma_pool *pool, struct td *td)
{
    unsigned n = 0;

    while (n < MAX_TDS + 1 && (td[n].cookie = dma_pool_zalloc(pool, 0, &td[n].dma)) != NULL) {
        T_ASSERT(n < MAX_TDS);
        T_EQ_U64(td[n].dma % TD_SIZE, 0);
        T_EQ_PTR(td[n].cookie, __blockram_start + td[n].dma);
        for (unsigned w = 0; w < 4; w++)
            T_EQ_U64(ioread32(td[n].cookie + w), 0);
        iowrite32(n, td[n].cookie);
        iowrite32((uint32_t)td[n].dma, td[n].cookie + 1);
        iowrite32(0xfeedu, td[n].cookie + 3);
        n++;
    }
    return n;
}

static void dma_pool_descriptors_in_block_ram(void)
{
    static struct dmacoh_baremetal bm;
    static struct td td[MAX_TDS + 1];
    static bool seen[MAX_TDS];
    struct dmacoh_baremetal_config cfg;
    struct dmacoh_declare_opts opts;
    struct dmacoh_pool_opts popts;
    struct dmacoh_pool *pool;
    struct device hcd;
    int granted = 0;
    unsigned n;

    memset(&cfg, 0, sizeof(cfg));
    cfg.modes = DMACOH_MEMORY_IO; /* the block RAM takes accessors only, 32 bits at most */
    cfg.io_width = 4;
    cfg.meta_arena = usb_arena;
    cfg.meta_arena_size = sizeof(usb_arena);
    T_OK(dmacoh_baremetal_init(&bm, &cfg));
    T_OK(dmacoh_device_init(&hcd.dmacoh, "ohci", NULL, &bm.plat));
    memset(&opts, 0, sizeof(opts));
    opts.granule = TD_SIZE;
    T_OK(dmacoh_declare_coherent_memory(
        &hcd.dmacoh, addr(__blockram_start), 0, (uint64_t)(__blockram_end - __blockram_start),
        DMACOH_MEMORY_IO | DMACOH_MEMORY_EXCLUSIVE, &opts, &granted));
    T_EQ_INT(granted, DMACOH_MEMORY_IO);
    memset(&popts, 0, sizeof(popts));
    popts.chunk_size = 1 * KIB; /* 64 descriptors a chunk: 16 chunks fill the block RAM */
    T_OK(dmacoh_pool_create(&pool, "ohci-td", &hcd.dmacoh, TD_SIZE, TD_SIZE, 0, &popts));

    n = fill(pool, td);
    T_EQ_INT(n, (size_t)(__blockram_end - __blockram_start) / TD_SIZE);
    /* The controller reads each descriptor at its bus address: its own index and handle. */
    for (unsigned i = 0; i < n; i++) {
        const volatile uint32_t *d =
            (const volatile uint32_t *)(uintptr_t)dmacoh_dma_to_bus(&hcd.dmacoh, td[i].dma);
        T_EQ_U64(d[1], td[i].dma);
        T_ASSERT(d[0] < n && !seen[d[0]]);
        seen[d[0]] = true;
        T_EQ_U64(d[3], 0xfeedu);
    }
    for (unsigned i = 0; i < n; i++)
        dma_pool_free(pool, td[i].cookie, td[i].dma);
    T_OK(dmacoh_pool_destroy(pool, 0));
    T_OK(dmacoh_release_coherent_memory(&hcd.dmacoh, 0));
    T_OK(dmacoh_device_fini(&hcd.dmacoh));
    T_OK(dmacoh_baremetal_fini(&bm));
}

static const struct t_case cases[] = {
    T_CASE(rfc_scsi_card_on_sram),
    T_CASE(dma_pool_descriptors_in_block_ram),
};

int fw_scenarios_main(void)
{
    return t_run(cases, sizeof(cases) / sizeof(cases[0]));
}
