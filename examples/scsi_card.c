/* SPDX-License-Identifier: MIT */
/*
 * scsi_card.c - the RFC's own case: a SCSI card with four channels sharing 2 MiB of on-chip
 * memory. The card is the parent device (a PCI-bridge-like node); it declares the memory once,
 * at bus address 0xfe000000 and device address 0x0, with DMA_MEMORY_INCLUDES_CHILDREN so that
 * its four channel devices allocate their mailboxes, command blocks and data buffers from it,
 * and DMA_MEMORY_EXCLUSIVE so that nothing ever lands in system memory the card cannot reach.
 * The card's firmware mailbox sits at a fixed device address and is taken out of the allocator
 * with dma_mark_declared_memory_occupied(). The driver logic uses only the RFC API of
 * <dmacoh/dma-mapping.h>; the card itself is modelled with the simulator's bus side
 * (dmacoh_sim_bus_read/write by bus address), which is how the program checks that what the
 * CPU wrote is what the card sees and the other way round. The namespaced API is used only to
 * show state: the page map (dmacoh_region_walk), statistics and address translations. Device
 * data is little-endian; the command block is written as a plain struct, so this program
 * assumes a little-endian host (a real driver would use cpu_to_le32() and friends).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <dmacoh/dma-mapping.h>
#include <dmacoh/sim.h>

#define CARD_BUS  0xfe000000u          /* where the CPU finds the card's memory */
#define CARD_DEV  0x0u                 /* what the card's DMA engines are programmed with */
#define CARD_SIZE (2u * 1024u * 1024u) /* 2 MiB of on-chip memory */
#define FW_DEV    0x0u                 /* the firmware mailbox: fixed, first two pages */
#define FW_SIZE   (2u * PAGE_SIZE)
#define NCHAN     4
#define DATA_SIZE (256u * 1024u) /* each channel's data buffer */
#define NPAGES    (CARD_SIZE / PAGE_SIZE)
#define MAP_ROW   64 /* pages per row of the printed map */
#define MAX_BUFS  64

/* One allocation, as the driver keeps it: who owns it and what both sides call it. */
struct buf {
    struct device *dev; /* the channel that allocated it */
    const char *what;
    char tag; /* its character in the page map */
    size_t size;
    void *cpu;
    dma_addr_t handle;
};

/* The command block layout the card's firmware expects (40 bytes, little-endian). */
struct scsi_cmd {
    uint32_t tag;
    uint8_t lun;
    uint8_t cdb_len;
    uint16_t reserved;
    uint8_t cdb[16];
    uint64_t data_dma; /* device address of the data buffer */
    uint32_t data_len;
    uint32_t flags;
};

/* The mailbox a channel polls: the card writes the tag and status of a finished command. */
struct mailbox {
    uint32_t done_tag;
    uint32_t status; /* SCSI status byte; 0 = GOOD */
};

static struct buf bufs[MAX_BUFS];
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

static size_t pages_of(size_t size)
{
    return (size + PAGE_SIZE - 1) / PAGE_SIZE;
}

/* The alignment dma_alloc_coherent promises: the smallest power-of-two number of pages. */
static uint64_t align_of(size_t size)
{
    uint64_t a = PAGE_SIZE;

    while (a < (uint64_t)pages_of(size) * PAGE_SIZE)
        a <<= 1;
    return a;
}

/* Checks what the contract promises about a fresh allocation from the card's memory. */
static void check_fresh(const struct buf *b)
{
    const unsigned char *p = b->cpu;
    uint64_t align = align_of(b->size);
    size_t i;

    /* Unsigned wrap makes one comparison cover handles below the base as well. */
    check(b->handle - CARD_DEV < CARD_SIZE && b->size <= CARD_SIZE - (b->handle - CARD_DEV),
          "%s: handle 0x%" PRIx64 " is outside the card's memory", b->what, b->handle);
    check(b->handle % align == 0 && (uintptr_t)b->cpu % align == 0,
          "%s: handle 0x%" PRIx64 " / cpu %p not aligned to 0x%" PRIx64, b->what, b->handle, b->cpu,
          align);
    check(dmacoh_origin_of(&b->dev->dmacoh, b->cpu) == DMACOH_ORIGIN_REGION,
          "%s: not from the declared region", b->what);
    check(dmacoh_virt_to_dma(&b->dev->dmacoh, b->cpu) == b->handle,
          "%s: virt_to_dma disagrees with the handle", b->what);
    for (i = 0; i < b->size && p[i] == 0; i++)
        ;
    check(i == b->size, "%s: byte %zu is not zeroed", b->what, i);
}

static struct buf *alloc_buf(struct device *dev, const char *what, char tag, size_t size)
{
    struct buf *b = NULL;
    dma_addr_t handle = 0;
    void *cpu;
    unsigned i;

    for (i = 0; i < MAX_BUFS && !b; i++)
        if (!bufs[i].cpu)
            b = &bufs[i];
    if (!b) {
        check(false, "the example's buffer table is full");
        return NULL;
    }
    cpu = dma_alloc_coherent(dev, size, &handle, GFP_KERNEL);
    if (!cpu)
        return NULL;
    *b = (struct buf){dev, what, tag, size, cpu, handle};
    check_fresh(b);
    return b;
}

static void free_buf(struct buf *b)
{
    dma_free_coherent(b->dev, b->size, b->cpu, b->handle);
    b->cpu = NULL;
}

static const struct buf *find_buf(dma_addr_t handle)
{
    for (unsigned i = 0; i < MAX_BUFS; i++)
        if (bufs[i].cpu && bufs[i].handle == handle)
            return &bufs[i];
    return NULL;
}

/* Builds the page map from the region walk, labelling allocations from the driver's table. */
struct map_ctx {
    char map[NPAGES];
    uint64_t next; /* offset the next extent must start at */
    unsigned bad;
};

static int map_extent(void *user, const struct dmacoh_extent *e)
{
    struct map_ctx *m = user;
    const struct buf *b;
    char c = '?';

    if (e->offset != m->next || e->size == 0 || e->size % PAGE_SIZE != 0 ||
        e->offset + e->size > CARD_SIZE) {
        m->bad++;
        return 1;
    }
    m->next = e->offset + e->size;
    if (e->kind == DMACOH_EXTENT_FREE) {
        c = '.';
    } else if (e->kind == DMACOH_EXTENT_OCCUPIED) {
        c = '#';
    } else if (e->kind == DMACOH_EXTENT_ALLOC) {
        b = find_buf(e->dma);
        if (b && (uint64_t)pages_of(b->size) * PAGE_SIZE == e->size)
            c = b->tag;
    }
    if (c == '?')
        m->bad++;
    memset(m->map + (size_t)(e->offset / PAGE_SIZE), c, (size_t)(e->size / PAGE_SIZE));
    return 0;
}

static void print_map(struct device *card, const char *title)
{
    static struct map_ctx m;
    int err;

    memset(&m, 0, sizeof(m));
    err = dmacoh_region_walk(&card->dmacoh, map_extent, &m);
    check(err == 0 && m.bad == 0 && m.next == CARD_SIZE,
          "region walk: rc %d, %u extents unexplained, covered 0x%" PRIx64, err, m.bad, m.next);
    printf("%s (one char per 4 KiB page; . free  # firmware  M mailbox  A-D channel 0-3):\n",
           title);
    for (unsigned row = 0; row < NPAGES / MAP_ROW; row++)
        printf("  dev 0x%06x  %.*s\n", CARD_DEV + row * MAP_ROW * PAGE_SIZE, MAP_ROW,
               m.map + row * MAP_ROW);
}

/* Prints the region's usage and cross-checks it against the driver's own table. */
static void print_stats(struct device *card, uint64_t want_failures)
{
    struct dmacoh_region_stats st;
    uint64_t live = 0, bytes = 0;

    for (unsigned i = 0; i < MAX_BUFS; i++) {
        if (bufs[i].cpu) {
            live++;
            bytes += pages_of(bufs[i].size) * PAGE_SIZE;
        }
    }
    if (dmacoh_region_get_stats(&card->dmacoh, &st) != 0) {
        check(false, "dmacoh_region_get_stats failed");
        return;
    }
    printf("usage: %" PRIu64 " of %" PRIu64 " KiB in use (%" PRIu64 " live), peak %" PRIu64
           " KiB, %" PRIu64 " KiB occupied, largest free %" PRIu64 " KiB\n",
           st.in_use / 1024, st.size / 1024, st.live, st.peak / 1024, st.occupied / 1024,
           st.largest_free / 1024);
    printf("       allocations %" PRIu64 ", frees %" PRIu64 ", failures %" PRIu64
           ", fallbacks %" PRIu64 "\n",
           st.allocs, st.frees, st.failures, st.fallbacks);
    check(st.in_use == bytes && st.live == live,
          "stats say %" PRIu64 " bytes in %" PRIu64 " allocations, the driver holds %" PRIu64
          " in %" PRIu64,
          st.in_use, st.live, bytes, live);
    check(st.occupied == FW_SIZE, "occupied is %" PRIu64 ", want %u", st.occupied, FW_SIZE);
    check(st.failures == want_failures && st.fallbacks == 0,
          "failures %" PRIu64 " (want %" PRIu64 "), fallbacks %" PRIu64 " (want 0)", st.failures,
          want_failures, st.fallbacks);
    check(dmacoh_check(&card->dmacoh), "dmacoh_check found a broken invariant");
}

/* The card's side: fetch the command at its device address, "read" a sector, post status.
 * Returns true when the card saw exactly the bytes the CPU wrote. */
static bool card_run_command(struct dmacoh_sim *sim, struct device *chan, const struct buf *cmd,
                             const struct buf *mbox)
{
    struct scsi_cmd seen;
    struct mailbox done;
    unsigned char sector[512];
    uint32_t lba;

    if (dmacoh_sim_bus_read(sim, dmacoh_dma_to_bus(&chan->dmacoh, cmd->handle), &seen,
                            sizeof(seen)) != 0) {
        check(false, "card: cannot read the command block");
        return false;
    }
    lba = (uint32_t)seen.cdb[2] << 24 | (uint32_t)seen.cdb[3] << 16 | (uint32_t)seen.cdb[4] << 8 |
          seen.cdb[5];
    for (size_t i = 0; i < sizeof(sector); i++)
        sector[i] = (unsigned char)(lba + i);
    check(seen.data_len == sizeof(sector), "card: data length %u", seen.data_len);
    check(dmacoh_sim_bus_write(sim, dmacoh_dma_to_bus(&chan->dmacoh, seen.data_dma), sector,
                               sizeof(sector)) == 0,
          "card: cannot write the data buffer");
    done = (struct mailbox){seen.tag, 0};
    check(dmacoh_sim_bus_write(sim, dmacoh_dma_to_bus(&chan->dmacoh, mbox->handle), &done,
                               sizeof(done)) == 0,
          "card: cannot post to the mailbox");
    return memcmp(&seen, cmd->cpu, sizeof(seen)) == 0;
}

/* The driver's side: build a READ(10) in the command block, let the card run it, check. */
static void run_read10(struct dmacoh_sim *sim, struct device *chan, unsigned ch,
                       const struct buf *cmd, const struct buf *mbox, const struct buf *data)
{
    struct scsi_cmd *c = cmd->cpu;
    const volatile struct mailbox *mb = mbox->cpu;
    const unsigned char *d = data->cpu;
    uint32_t lba = 0x1000u * (ch + 1);
    bool same;
    size_t i;

    *c = (struct scsi_cmd){
        .tag = 0x100u + ch, .cdb_len = 10, .data_dma = data->handle, .data_len = 512};
    c->cdb[0] = 0x28; /* READ(10) */
    c->cdb[2] = (uint8_t)(lba >> 24);
    c->cdb[3] = (uint8_t)(lba >> 16);
    c->cdb[4] = (uint8_t)(lba >> 8);
    c->cdb[5] = (uint8_t)lba;
    c->cdb[8] = 1; /* one block */
    same = card_run_command(sim, chan, cmd, mbox);
    check(same, "ch%u: the card sees a different command block than the CPU wrote", ch);
    check(mb->done_tag == c->tag && mb->status == 0, "ch%u: mailbox holds tag 0x%x status %u", ch,
          mb->done_tag, mb->status);
    for (i = 0; i < 512 && d[i] == (unsigned char)(lba + i); i++)
        ;
    check(i == 512, "ch%u: data buffer byte %zu differs from what the card wrote", ch, i);
    printf("  ch%u: READ(10) lba 0x%05x at bus 0x%08" PRIx64 ": card saw %s, 512 B in, "
           "mailbox tag 0x%x\n",
           ch, lba, dmacoh_dma_to_bus(&chan->dmacoh, cmd->handle),
           same ? "the same 40 bytes" : "OTHER BYTES", mb->done_tag);
}

static void print_buf(const char *who, const struct buf *b)
{
    printf("  %-4s %-7s %4zu KiB  %-14p  0x%08" PRIx64 "  0x%08" PRIx64 "\n", who, b->what,
           b->size / 1024, b->cpu, b->handle, dmacoh_dma_to_bus(&b->dev->dmacoh, b->handle));
}

int main(void)
{
    static const size_t cmd_sizes[NCHAN][3] = {
        {8192, 12288, 4096}, {4096, 16384, 8192}, {12288, 4096, 4096}, {8192, 8192, 20480}};
    static const char *const names[NCHAN] = {"scsi0:0", "scsi0:1", "scsi0:2", "scsi0:3"};
    static const char *const short_names[NCHAN] = {"ch0", "ch1", "ch2", "ch3"};
    struct dmacoh_sim_memory onchip = {CARD_BUS, CARD_SIZE, DMACOH_MEMORY_MAP, false, 0};
    struct buf *mbox[NCHAN], *cmd[NCHAN][3], *data[NCHAN];
    struct dmacoh_sim *sim = NULL;
    struct device card, chan[NCHAN];
    char fw_text[32];
    void *fw, *big;
    dma_addr_t handle = 0;
    int granted;

    dmacoh_set_log_fn(log_line, NULL, DMACOH_LOG_INFO);
    printf("scsi_card: 4 channels sharing 2 MiB of on-chip memory (the RFC's own example)\n");
    if (dmacoh_sim_create(NULL, &sim) != 0 || dmacoh_sim_add_memory(sim, &onchip) != 0 ||
        dmacoh_device_init(&card.dmacoh, "scsi0", NULL, dmacoh_sim_platform(sim)) != 0) {
        fprintf(stderr, "FAIL: cannot set up the simulated card\n");
        return 1;
    }
    for (unsigned i = 0; i < NCHAN; i++)
        if (dmacoh_device_init(&chan[i].dmacoh, names[i], &card.dmacoh, NULL) != 0) {
            fprintf(stderr, "FAIL: cannot set up channel %u\n", i);
            return 1;
        }

    granted = dma_declare_coherent_memory(&card, CARD_BUS, CARD_DEV, CARD_SIZE,
                                          DMA_MEMORY_MAP | DMA_MEMORY_INCLUDES_CHILDREN |
                                              DMA_MEMORY_EXCLUSIVE);
    if (granted != DMA_MEMORY_MAP) {
        fprintf(stderr, "FAIL: declare returned %d, want DMA_MEMORY_MAP\n", granted);
        return 1;
    }
    printf("declared: bus 0x%08x = device 0x%x, %u KiB, MAP | INCLUDES_CHILDREN | EXCLUSIVE\n",
           CARD_BUS, CARD_DEV, CARD_SIZE / 1024);

    /* The firmware has put its banner in its mailbox; the driver reserves that range. */
    check(dmacoh_sim_bus_write(sim, CARD_BUS + FW_DEV, "FW 4.20 ready", 14) == 0,
          "cannot write the firmware banner");
    fw = dma_mark_declared_memory_occupied(&card, FW_DEV, FW_SIZE);
    check(!IS_ERR(fw), "dma_mark_declared_memory_occupied: %ld", IS_ERR(fw) ? PTR_ERR(fw) : 0L);
    if (IS_ERR(fw))
        return 1;
    memcpy(fw_text, fw, 14);
    check(strcmp(fw_text, "FW 4.20 ready") == 0, "firmware mailbox reads \"%.14s\"", fw_text);
    printf("firmware mailbox occupied: device 0x%x-0x%x, cpu %p, reads \"%s\"\n", FW_DEV,
           FW_DEV + FW_SIZE - 1, fw, fw_text);

    /* Each channel's probe: a mailbox, three command blocks, a data buffer. */
    for (unsigned i = 0; i < NCHAN; i++) {
        mbox[i] = alloc_buf(&chan[i], "mailbox", 'M', PAGE_SIZE);
        for (unsigned j = 0; j < 3; j++)
            cmd[i][j] = alloc_buf(&chan[i], "cmd", (char)('A' + i), cmd_sizes[i][j]);
        data[i] = alloc_buf(&chan[i], "data", (char)('A' + i), DATA_SIZE);
        check(mbox[i] && cmd[i][0] && cmd[i][1] && cmd[i][2] && data[i],
              "channel %u: an allocation failed", i);
        if (nfail)
            return 1;
    }
    printf("channels probed (mailbox, cmd blocks of 4-20 KiB, 256 KiB data); what each sees:\n");
    printf("  %-4s %-7s %8s  %-14s  %-10s  %s\n", "chan", "what", "size", "cpu pointer",
           "dma handle", "bus address");
    for (unsigned i = 0; i < NCHAN; i++) {
        print_buf(short_names[i], mbox[i]);
        print_buf(short_names[i], cmd[i][0]);
    }
    print_map(&card, "pool map after probe");
    print_stats(&card, 0);

    printf("each channel sends a READ(10); the card fetches it by bus address:\n");
    for (unsigned i = 0; i < NCHAN; i++)
        run_read10(sim, &chan[i], i, cmd[i][0], mbox[i], data[i]);

    /* No 1 MiB-aligned run is free, and EXCLUSIVE forbids system memory: NULL. */
    big = dma_alloc_coherent(&chan[3], 1024 * 1024, &handle, GFP_KERNEL);
    check(big == NULL, "a 1 MiB allocation succeeded at 0x%" PRIx64, handle);
    printf("ch3 asks for 1 MiB: %s (EXCLUSIVE: no fallback to system memory)\n",
           big ? "got it?!" : "NULL");

    printf(
        "ch1 is reset: frees its command blocks and data buffer, re-probes with a 64 KiB\n"
        "command area and a 64 KiB data buffer; ch2 swaps its 256 KiB data buffer for 512 KiB:\n");
    for (unsigned j = 0; j < 3; j++)
        free_buf(cmd[1][j]);
    free_buf(data[1]);
    cmd[1][0] = alloc_buf(&chan[1], "cmd", 'B', 64 * 1024);
    data[1] = alloc_buf(&chan[1], "data", 'B', 64 * 1024);
    free_buf(data[2]);
    data[2] = alloc_buf(&chan[2], "data", 'C', 2 * DATA_SIZE);
    check(cmd[1][0] && data[1] && data[2], "a re-allocation failed");
    if (nfail)
        return 1;
    print_buf("ch1", data[1]);
    print_buf("ch2", data[2]);
    /* Commands of the untouched channels are still where the card reads them. */
    for (unsigned i = 0; i < NCHAN; i++) {
        struct scsi_cmd seen = {0};

        if (i == 1)
            continue;
        dmacoh_sim_bus_read(sim, dmacoh_dma_to_bus(&chan[i].dmacoh, cmd[i][0]->handle), &seen,
                            sizeof(seen));
        check(seen.tag == 0x100u + i && memcmp(&seen, cmd[i][0]->cpu, sizeof(seen)) == 0,
              "ch%u: command block changed under the card", i);
    }
    print_map(&card, "pool map after the changes");
    print_stats(&card, 1);

    for (unsigned i = 0; i < MAX_BUFS; i++)
        if (bufs[i].cpu)
            free_buf(&bufs[i]);
    dma_release_declared_memory(&card);
    check(!dmacoh_device_has_region(&card.dmacoh), "the card still has a region");
    for (unsigned i = 0; i < NCHAN; i++)
        check(dmacoh_device_fini(&chan[i].dmacoh) == 0, "fini of channel %u failed", i);
    check(dmacoh_device_fini(&card.dmacoh) == 0, "fini of the card failed");
    check(dmacoh_sim_destroy(sim) == 0, "dmacoh_sim_destroy failed");
    printf("%s\n", nfail ? "scsi_card: FAILED" : "scsi_card: all checks passed");
    return nfail ? 1 : 0;
}
