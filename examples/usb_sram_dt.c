/* SPDX-License-Identifier: MIT */
/*
 * usb_sram_dt.c - the OHCI host controller of usb_sram.c, with its on-chip SRAM declared from
 * the devicetree (examples/usb_sram.dts, compiled to a .dtb by dtc at build time) instead of
 * addresses written into the driver. The board's tree has an `mmio-sram` node split into two
 * partitions; the controller's node points at one with `sram = <&usb_sram>`. Its buses say
 * where things are: the SoC bus's `ranges` puts the partition at CPU 0xfedc0000, and the
 * AHB bus's `dma-ranges` says the controller's DMA engine reaches the same bytes at 0x20000.
 *
 * The driver reads the tree (dmacoh_dt_open_file), prints what the reader found for the
 * controller, and declares it with dmacoh_dt_declare(): one call, by compatible string and
 * index, which passes the translated bus address and device address to
 * dmacoh_declare_coherent_memory(). The simulated platform stands in for the SoC: it offers
 * the SRAM at the CPU address the tree gives, for 32-bit accessor (IO) access only. The
 * driver then builds transfer descriptors in the SRAM until it is full, and the "controller"
 * (the simulator's bus side) reads each back at the bus address that corresponds to the DMA
 * handle it was programmed with, proving both addresses agree with the tree.
 *
 *   usb_sram_dt [file.dtb]     (default: the usb_sram.dtb built next to this program)
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <dmacoh/devicetree.h>
#include <dmacoh/dmacoh.h>
#include <dmacoh/sim.h>

#ifndef USB_SRAM_DTB
#define USB_SRAM_DTB "usb_sram.dtb"
#endif

#define TD_SIZE 4096u /* one descriptor with its payload, a page */
#define MAX_TD  16

static void log_line(void *user, int level, const char *msg)
{
    (void)user;
    (void)level;
    if (strncmp(msg, "dmacoh: ", 8) == 0)
        msg += 8;
    printf("  [dmacoh] %s\n", msg);
}

static void show(const struct dmacoh_dt_region *r)
{
    printf("  %-28s name %-8s bus 0x%08" PRIx64 "  device 0x%08" PRIx64 "  size 0x%" PRIx64
           "%s%s%s\n",
           r->path, r->name, r->bus, r->device, r->size,
           (r->flags & DMACOH_DT_PARTITION) ? "  sram-partition" : "",
           (r->flags & DMACOH_DT_POOL) ? " pool" : "", r->status ? "  REFUSED: " : "");
    if (r->status)
        printf("    %s (%s)\n", r->reason, dmacoh_err_name(r->status));
}

/* Writes n descriptors into the SRAM; the controller checks each at its DMA handle. */
static int run(struct dmacoh_device *dev, struct dmacoh_sim *sim, const struct dmacoh_dt_region *r)
{
    void *td[MAX_TD];
    dmacoh_dma_addr_t h[MAX_TD];
    unsigned n = 0, bad = 0;

    while (n < MAX_TD && dmacoh_alloc_coherent(dev, TD_SIZE, 0, 0, &td[n], &h[n]) == 0) {
        unsigned char b[4] = {0};
        bool ok;

        dmacoh_iowrite32(0x54440000u | n, td[n]); /* "TD" and a sequence number */
        /* The controller is programmed with h[n]; the SoC routes it to bus h - device + bus. */
        /* Device memory is little-endian (iowrite32), on any host: the controller reads bytes. */
        ok = dmacoh_sim_bus_read(sim, h[n] - r->device + r->bus, b, 4) == 0 &&
             ((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24) ==
                 (0x54440000u | n);
        bad += ok ? 0 : 1;
        printf("  TD %2u: DMA handle 0x%05" PRIx64 " (CPU bus 0x%08" PRIx64 ")%s\n", n, h[n],
               h[n] - r->device + r->bus, ok ? "" : "  MISMATCH");
        n++;
    }
    printf("  the SRAM holds %u descriptors of %u bytes; the next allocation fails (EXCLUSIVE: "
           "no fallback to system memory)\n",
           n, TD_SIZE);
    while (n--)
        dmacoh_free_coherent(dev, TD_SIZE, td[n], h[n]);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *file = argc > 1 ? argv[1] : USB_SRAM_DTB;
    struct dmacoh_dt dt;
    struct dmacoh_dt_region regions[4];
    struct dmacoh_sim *sim;
    struct dmacoh_device dev;
    size_t n;
    int node, granted = 0, rc;

    dmacoh_set_log_fn(log_line, NULL, DMACOH_LOG_WARN);
    printf("devicetree %s\n", file);
    if (dmacoh_dt_open_file(&dt, file) != 0)
        return 1;
    node = dmacoh_dt_find_device(&dt, "generic-ohci");
    if (node < 0 || dmacoh_dt_device_regions(&dt, node, regions, 4, &n) != 0 || n != 1)
        return 1;
    printf("the regions of the node compatible with \"generic-ohci\", in order:\n");
    show(&regions[0]);

    struct dmacoh_sim_memory sram = {
        .bus = regions[0].bus, .size = regions[0].size, .modes = DMACOH_MEMORY_IO, .io_width = 4};
    if (dmacoh_sim_create(NULL, &sim) != 0 || dmacoh_sim_add_memory(sim, &sram) != 0 ||
        dmacoh_device_init(&dev, "ohci", NULL, dmacoh_sim_platform(sim)) != 0)
        return 1;
    printf("\ndmacoh_dt_declare(dev, dt, \"generic-ohci\", NULL, 0, IO | EXCLUSIVE, ...)\n");
    rc = dmacoh_dt_declare(&dev, &dt, "generic-ohci", NULL, 0,
                           DMACOH_MEMORY_IO | DMACOH_MEMORY_EXCLUSIVE, NULL, &granted);
    printf("  -> %s, granted %s\n", dmacoh_err_name(rc),
           granted == DMACOH_MEMORY_IO ? "DMACOH_MEMORY_IO" : "?");
    if (rc != 0 || granted != DMACOH_MEMORY_IO)
        return 1;
    rc = run(&dev, sim, &regions[0]);
    dmacoh_release_coherent_memory(&dev, 0);
    dmacoh_device_fini(&dev);
    dmacoh_sim_destroy(sim);
    dmacoh_dt_close(&dt);
    printf("%s\n", rc ? "FAILED" : "ok: the tree's bus and device addresses agree");
    return rc;
}
