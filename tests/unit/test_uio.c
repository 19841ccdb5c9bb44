/* SPDX-License-Identifier: MIT */
/*
 * test_uio.c - the UIO platform against a fake sysfs and /dev tree in a temporary folder:
 * maps read from sysfs, a region mapped from the device node at map M's page offset (a
 * regular file stands in for /dev/uio0, so what an allocation writes is read back from
 * outside), and every refusal (no device, no maps, no node, outside the maps, bad attribute).
 * A map whose memory starts `offset` bytes into its page is reported and declared from there,
 * and the bytes in front of it stay untouched. Hostile trees: numbers with a sign, trailing
 * bytes, a leading zero or blank; an offset past the map's end; attributes and nodes that are
 * FIFOs or symlinks; a node that is not a character device. The fake node is a regular file,
 * accepted only because the tests set dmacoh__linux_fake_nodes (one case clears it to see the
 * real check refuse it). FIFO cases run under alarm(), so a hang fails instead of stopping the
 * suite.
 */
#include "fixture.h"
#include "t.h"
#include "platform/linux/internal.h" /* dmacoh__linux_fake_nodes */

#include <dmacoh/dmacoh.h>
#include <dmacoh/io.h>
#include <dmacoh/uio.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define REGS    0x40000000ull /* map0: one page of registers */
#define SRAM    0x50000000ull /* map1: 64 KiB of SRAM */
#define SRAM_SZ 0x10000u

static char root[64];

static void put(const char *rel, const char *text)
{
    char path[PATH_MAX], cmd[PATH_MAX + 32];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
    T_EQ_INT(system(cmd), 0);
    f = fopen(path, "w");
    T_ASSERT(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* uio0 with two maps; its node is a file holding map0 at offset 0 and map1 at one page, as
 * the kernel's mmap offsets select them. */
static void make_tree(void)
{
    char path[PATH_MAX];
    int fd;

    dmacoh__linux_fake_nodes = true; /* the node below is a regular file */
    snprintf(root, sizeof(root), "/tmp/dmacoh-uio-XXXXXX");
    T_ASSERT(mkdtemp(root) != NULL);
    put("sys/class/uio/uio0/name", "sram\n");
    put("sys/class/uio/uio0/maps/map0/addr", "0x40000000\n");
    put("sys/class/uio/uio0/maps/map0/size", "0x1000\n");
    put("sys/class/uio/uio0/maps/map0/offset", "0x0\n");
    put("sys/class/uio/uio0/maps/map1/addr", "0x50000000\n");
    put("sys/class/uio/uio0/maps/map1/size", "0x10000\n");
    put("sys/class/uio/uio0/maps/map1/offset", "0x0\n");
    put("sys/class/uio/uio2/name", "nomaps\n");
    snprintf(path, sizeof(path), "%s/dev", root);
    T_EQ_INT(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/dev/uio0", root);
    fd = open(path, O_RDWR | O_CREAT, 0600);
    T_ASSERT(fd >= 0);
    T_EQ_INT(ftruncate(fd, (off_t)(sysconf(_SC_PAGESIZE) + (long)SRAM_SZ)), 0);
    close(fd);
}

static void remove_tree(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    T_EQ_INT(system(cmd), 0);
}

static struct dmacoh_uio_opts opts(char *sys, char *dev, size_t len)
{
    struct dmacoh_uio_opts o;

    snprintf(sys, len, "%s/sys", root);
    snprintf(dev, len, "%s/dev", root);
    o.sysfs_root = sys;
    o.dev_root = dev;
    return o;
}

static void region_in_a_map_lands_at_the_right_offset(void)
{
    char sys[PATH_MAX], dev[PATH_MAX], path[PATH_MAX + 8], buf[8] = {0};
    struct dmacoh_uio_opts o;
    struct dmacoh_uio *uio;
    struct dmacoh_device d;
    dmacoh_phys_addr_t addr;
    uint64_t size;
    void *a;
    dmacoh_dma_addr_t h;
    int fd;

    make_tree();
    o = opts(sys, dev, sizeof(sys));
    T_OK(dmacoh_uio_open(0, &o, &uio));
    T_OK(dmacoh_uio_map(uio, 1, &addr, &size));
    T_EQ_U64(addr, SRAM);
    T_EQ_U64(size, SRAM_SZ);
    T_ERR(dmacoh_uio_map(uio, 2, &addr, &size), DMACOH_ENOENT);
    T_OK(dmacoh_device_init(&d, "sram", NULL, dmacoh_uio_platform(uio)));
    T_OK(dmacoh_declare_coherent_memory(&d, SRAM, 0, SRAM_SZ,
                                        DMACOH_MEMORY_IO | DMACOH_MEMORY_EXCLUSIVE, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&d, 4096, 0, 0, &a, &h));
    T_OK(dmacoh_alloc_coherent(&d, 4096, 0, 0, &a, &h)); /* the second page of the SRAM */
    T_EQ_U64(h, 0x1000);
    dmacoh_memcpy_toio(a, "sram!", 6);
    snprintf(path, sizeof(path), "%s/uio0", dev);
    fd = open(path, O_RDONLY);
    T_ASSERT(fd >= 0);
    T_EQ_INT(pread(fd, buf, 6, (off_t)sysconf(_SC_PAGESIZE) + 0x1000), 6);
    close(fd);
    T_ASSERT(strcmp(buf, "sram!") == 0);
    T_ERR(dmacoh_uio_close(uio), DMACOH_EBUSY);
    T_OK(dmacoh_release_coherent_memory(&d, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_device_fini(&d));
    T_OK(dmacoh_uio_close(uio));
    remove_tree();
}

static void refusals(void)
{
    char sys[PATH_MAX], dev[PATH_MAX];
    struct dmacoh_uio_opts o;
    struct dmacoh_uio *uio = NULL;
    struct dmacoh_device d;

    make_tree();
    o = opts(sys, dev, sizeof(sys));
    T_ERR(dmacoh_uio_open(1, &o, &uio), DMACOH_ENOENT); /* no such device */
    T_ASSERT(t_log_find("uio driver"));
    T_ERR(dmacoh_uio_open(2, &o, &uio), DMACOH_ENXIO); /* a device with no maps */
    T_ERR(dmacoh_uio_open(0, &o, NULL), DMACOH_EINVAL);
    T_EQ_PTR(uio, NULL);
    T_OK(dmacoh_uio_open(0, &o, &uio));
    T_OK(dmacoh_device_init(&d, "sram", NULL, dmacoh_uio_platform(uio)));
    /* Straddling the end of map1, and between the maps. */
    T_ERR(
        dmacoh_declare_coherent_memory(&d, SRAM + 0xf000, 0, 0x2000, DMACOH_MEMORY_IO, NULL, NULL),
        DMACOH_ENXIO);
    T_ASSERT(t_log_find("not inside one of its maps"));
    T_ERR(dmacoh_declare_coherent_memory(&d, 0x48000000, 0, 0x1000, DMACOH_MEMORY_IO, NULL, NULL),
          DMACOH_ENXIO);
    T_OK(dmacoh_device_fini(&d));
    T_OK(dmacoh_uio_close(uio));
    remove_tree();
}

static void missing_node_and_bad_attribute(void)
{
    char sys[PATH_MAX], dev[PATH_MAX], path[PATH_MAX + 8];
    struct dmacoh_uio_opts o;
    struct dmacoh_uio *uio = NULL;

    make_tree();
    o = opts(sys, dev, sizeof(sys));
    put("sys/class/uio/uio0/maps/map1/size", "sixty-four K\n");
    T_ERR(dmacoh_uio_open(0, &o, &uio), DMACOH_EIO);
    put("sys/class/uio/uio0/maps/map1/size", "0x10000\n");
    snprintf(path, sizeof(path), "%s/uio0", dev);
    T_EQ_INT(unlink(path), 0);
    T_ERR(dmacoh_uio_open(0, &o, &uio), DMACOH_ENOENT);
    T_EQ_PTR(uio, NULL);
    remove_tree();
}

/* uio4: one map as uio_pdrv_genirq makes it for SRAM at 0x40000800 (0x1800 bytes): addr
 * 0x40000000, size 0x2000, offset 0x800. Its node holds the page, the first 0x800 bytes
 * standing for neighbouring registers (0xee). */
static int make_offset_map(const char *offset)
{
    char path[PATH_MAX], regs[0x800];
    int fd;

    make_tree();
    put("sys/class/uio/uio4/maps/map0/addr", "0x40000000\n");
    put("sys/class/uio/uio4/maps/map0/size", "0x2000\n");
    put("sys/class/uio/uio4/maps/map0/offset", offset);
    snprintf(path, sizeof(path), "%s/dev/uio4", root);
    fd = open(path, O_RDWR | O_CREAT, 0600);
    T_ASSERT(fd >= 0);
    T_EQ_INT(ftruncate(fd, 0x2000), 0);
    memset(regs, 0xee, sizeof(regs));
    T_EQ_INT(pwrite(fd, regs, sizeof(regs), 0), (long long)sizeof(regs));
    return fd;
}

/* The map is reported and declared from addr + offset; the first handle is that address (the
 * device reaches the SRAM at its bus address here), its bytes land at `offset` in the map,
 * and the registers in front are not zeroed. A declare reaching below addr + offset is
 * refused. */
static void map_offset_is_where_the_memory_starts(void)
{
    struct dmacoh_declare_opts g = {.granule = 0x800};
    char sys[PATH_MAX], dev[PATH_MAX], buf[0x800];
    struct dmacoh_uio_opts o;
    struct dmacoh_uio *uio;
    struct dmacoh_device d;
    dmacoh_phys_addr_t addr;
    uint64_t size;
    void *a;
    dmacoh_dma_addr_t h;
    int fd = make_offset_map("0x800\n");

    o = opts(sys, dev, sizeof(sys));
    T_OK(dmacoh_uio_open(4, &o, &uio));
    T_OK(dmacoh_uio_map(uio, 0, &addr, &size));
    T_EQ_U64(addr, 0x40000800);
    T_EQ_U64(size, 0x1800);
    T_OK(dmacoh_device_init(&d, "sram", NULL, dmacoh_uio_platform(uio)));
    T_ERR(dmacoh_declare_coherent_memory(&d, 0x40000000, 0x40000000, 0x2000, DMACOH_MEMORY_MAP, &g,
                                         NULL),
          DMACOH_ENXIO);
    T_ASSERT(t_log_find("not inside one of its maps"));
    T_OK(dmacoh_declare_coherent_memory(
        &d, addr, addr, size, DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO | DMACOH_MEMORY_EXCLUSIVE, &g,
        NULL)); /* MAP on x86, IO elsewhere: written through the accessors either way */
    T_OK(dmacoh_alloc_coherent(&d, 0x800, 0, 0, &a, &h));
    T_EQ_U64(h, 0x40000800);
    dmacoh_memcpy_toio(a, "sram", 5);
    T_EQ_INT(pread(fd, buf, 5, 0x800), 5);
    T_ASSERT(strcmp(buf, "sram") == 0);
    T_EQ_INT(pread(fd, buf, sizeof(buf), 0), (long long)sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++)
        T_EQ_INT((unsigned char)buf[i], 0xee);
    T_OK(dmacoh_free_coherent(&d, 0x800, a, h));
    T_OK(dmacoh_release_coherent_memory(&d, 0));
    T_OK(dmacoh_device_fini(&d));
    T_OK(dmacoh_uio_close(uio));
    close(fd);
    remove_tree();
}

/* An offset at or past the map's size leaves no memory (and size - offset would wrap). */
static void map_offset_past_its_size(void)
{
    char sys[PATH_MAX], dev[PATH_MAX];
    struct dmacoh_uio_opts o;
    struct dmacoh_uio *uio = NULL;
    int fd = make_offset_map("0x2000\n");

    o = opts(sys, dev, sizeof(sys));
    T_ERR(dmacoh_uio_open(4, &o, &uio), DMACOH_EIO);
    T_ASSERT(t_log_find("past its end"));
    T_EQ_PTR(uio, NULL);
    close(fd);
    remove_tree();
}

/* Numbers the kernel never writes: a sign (-1 was read as 2^64 - 1), bytes after the line, a
 * blank, a leading zero (octal to strtoull), a number too large. Each refused, naming the file. */
static void attribute_numbers_are_strict(void)
{
    static const char *const bad[] = {
        "-1\n",
        "0x10000\njunk\n",
        " 0x10000\n",
        "010\n",
        "+65536\n",
        "0x10000 \n",
        "0x10000000000000000\n",
        "18446744073709551616\n",
        "0x\n",
        "\n",
    };
    char sys[PATH_MAX], dev[PATH_MAX];
    struct dmacoh_uio_opts o;
    struct dmacoh_uio *uio = NULL;

    make_tree();
    o = opts(sys, dev, sizeof(sys));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t_log_reset();
        put("sys/class/uio/uio0/maps/map1/size", bad[i]);
        T_ERR(dmacoh_uio_open(0, &o, &uio), DMACOH_EIO);
        T_ASSERT(t_log_find("maps/map1/size: '"));
        T_ASSERT(t_log_find("not a number as the kernel writes one"));
    }
    {
        char path[PATH_MAX];
        FILE *f;

        snprintf(path, sizeof(path), "%s/sys/class/uio/uio0/maps/map1/size", root);
        f = fopen(path, "w");
        T_ASSERT(f != NULL);
        T_EQ_INT(fwrite("0x10000\0junk\n", 1, 13, f), 13); /* a NUL does not end it */
        fclose(f);
        T_ERR(dmacoh_uio_open(0, &o, &uio), DMACOH_EIO);
    }
    put("sys/class/uio/uio0/maps/map1/size", "65536\n"); /* decimal is fine */
    /* An offset that is there but not a number is an error, not the 0 of older kernels. */
    put("sys/class/uio/uio0/maps/map0/offset", "0x0 bytes\n");
    T_ERR(dmacoh_uio_open(0, &o, &uio), DMACOH_EIO);
    T_ASSERT(t_log_find("maps/map0/offset: '0x0 bytes'"));
    put("sys/class/uio/uio0/maps/map0/offset", "0x0\n");
    T_OK(dmacoh_uio_open(0, &o, &uio));
    T_OK(dmacoh_uio_close(uio));
    remove_tree();
}

/* Replaces <root>/<rel> by a FIFO. */
static void fifo_at(const char *rel)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    T_EQ_INT(unlink(path), 0);
    T_EQ_INT(mkfifo(path, 0600), 0);
}

/* Replaces <root>/<rel> by a symlink to a copy of it. */
static void symlink_at(const char *rel)
{
    char path[PATH_MAX], target[PATH_MAX + 8];

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    snprintf(target, sizeof(target), "%s.real", path);
    T_EQ_INT(rename(path, target), 0);
    T_EQ_INT(symlink(target, path), 0);
}

/* A FIFO in place of an attribute blocked open() forever; in place of the node it was opened
 * and failed only at mmap. */
static void fifos_are_refused(void)
{
    static const char *const where[] = {"sys/class/uio/uio0/maps/map1/size",
                                        "sys/class/uio/uio0/maps/map0/offset", "dev/uio0"};
    char sys[PATH_MAX], dev[PATH_MAX];
    struct dmacoh_uio_opts o;
    struct dmacoh_uio *uio = NULL;

    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        make_tree();
        o = opts(sys, dev, sizeof(sys));
        fifo_at(where[i]);
        alarm(10);
        T_ERR(dmacoh_uio_open(0, &o, &uio), DMACOH_EIO);
        alarm(0);
        T_ASSERT(t_log_find(i < 2 ? "is not a regular file" : "is not a character device"));
        T_ASSERT(t_log_find(where[i]));
        T_EQ_PTR(uio, NULL);
        remove_tree();
    }
}

/* sysfs makes no symlink for an attribute, devtmpfs none for the node. */
static void symlinks_are_refused(void)
{
    static const char *const where[] = {"sys/class/uio/uio0/maps/map1/addr", "dev/uio0"};
    char sys[PATH_MAX], dev[PATH_MAX];
    struct dmacoh_uio_opts o;
    struct dmacoh_uio *uio = NULL;

    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        make_tree();
        o = opts(sys, dev, sizeof(sys));
        symlink_at(where[i]);
        T_ERR(dmacoh_uio_open(0, &o, &uio), DMACOH_EIO);
        T_ASSERT(t_log_find("is a symbolic link"));
        T_ASSERT(t_log_find(where[i]));
        T_EQ_PTR(uio, NULL);
        remove_tree();
    }
}

/* Without the test seam, the regular file standing in for the node is what it is: not a
 * character device. */
static void node_must_be_a_character_device(void)
{
    char sys[PATH_MAX], dev[PATH_MAX];
    struct dmacoh_uio_opts o;
    struct dmacoh_uio *uio = NULL;

    make_tree();
    o = opts(sys, dev, sizeof(sys));
    dmacoh__linux_fake_nodes = false;
    T_ERR(dmacoh_uio_open(0, &o, &uio), DMACOH_EIO);
    dmacoh__linux_fake_nodes = true;
    T_ASSERT(t_log_find("dev/uio0 is not a character device"));
    T_EQ_PTR(uio, NULL);
    remove_tree();
}

/* A character device is not enough: the node must be the device sysfs names (its `dev`
 * number). /dev/null's number (1:3) stands for /dev/mem (1:1) renamed uio0 under a
 * caller-given /dev root. Needs root for mknod. */
static void node_must_be_the_uio_device(void)
{
    char sys[PATH_MAX], dev[PATH_MAX], node[PATH_MAX + 8], attr[PATH_MAX + 32];
    struct dmacoh_uio_opts o;
    struct dmacoh_uio *uio = NULL;

    if (geteuid() != 0)
        t_skip("mknod of a character device needs root");
    make_tree();
    o = opts(sys, dev, sizeof(sys));
    snprintf(node, sizeof(node), "%s/uio0", dev);
    snprintf(attr, sizeof(attr), "%s/class/uio/uio0/dev", sys);
    T_OK(unlink(node));
    T_OK(mknod(node, S_IFCHR | 0600, makedev(1, 3)));
    dmacoh__linux_fake_nodes = false;
    t_put_file(attr, "243:0\n");
    T_ERR(dmacoh_uio_open(0, &o, &uio), DMACOH_EIO);
    T_ASSERT(t_log_find("is character device 1:3, not 243:0"));
    T_EQ_PTR(uio, NULL);
    t_put_file(attr, "1:3\n"); /* the number sysfs gives: accepted */
    T_OK(dmacoh_uio_open(0, &o, &uio));
    T_OK(dmacoh_uio_close(uio));
    unlink(attr); /* no number to compare: refused */
    T_ERR(dmacoh_uio_open(0, &o, &uio), DMACOH_EIO);
    dmacoh__linux_fake_nodes = true;
    T_ASSERT(t_log_find("cannot read the device number"));
    remove_tree();
}

/* Maps as uio_pdrv_genirq builds them: `addr` page aligned, the device's memory `offset` bytes
 * into the map and counted in `size`; a map whose size is not whole pages cannot be mapped
 * past its last whole page; a map at an unaligned address is not usable at all. */
static void map_offset_and_partial_pages(void)
{
    struct dmacoh_declare_opts g = {.granule = 0x100};
    char sys[PATH_MAX], dev[PATH_MAX], path[PATH_MAX + 8], buf[8] = {0};
    struct dmacoh_uio_opts o;
    struct dmacoh_uio *uio;
    struct dmacoh_device d;
    void *a;
    dmacoh_dma_addr_t h;
    int fd;

    make_tree();
    put("sys/class/uio/uio3/maps/map0/addr", "0x60000000\n");
    put("sys/class/uio/uio3/maps/map0/size", "0x2000\n");
    put("sys/class/uio/uio3/maps/map0/offset", "0x100\n");
    put("sys/class/uio/uio3/maps/map1/addr", "0x61000000\n");
    put("sys/class/uio/uio3/maps/map1/size", "0x1800\n");
    put("sys/class/uio/uio3/maps/map2/addr", "0x62000100\n");
    put("sys/class/uio/uio3/maps/map2/size", "0x1000\n");
    o = opts(sys, dev, sizeof(sys));
    snprintf(path, sizeof(path), "%s/uio3", dev);
    fd = open(path, O_RDWR | O_CREAT, 0600);
    T_ASSERT(fd >= 0);
    T_EQ_INT(ftruncate(fd, 0x4000), 0);
    T_OK(dmacoh_uio_open(3, &o, &uio));
    T_OK(dmacoh_device_init(&d, "soc", NULL, dmacoh_uio_platform(uio)));
    /* map0: the byte at bus 0x60001000 is 0x1000 into the mapping (offset is not added). */
    t_declare_device_memory(&d, 0x60001000, 0, 0x1000, 0, NULL);
    T_OK(dmacoh_alloc_coherent(&d, 64, 0, 0, &a, &h));
    dmacoh_memcpy_toio(a, "offs", 5);
    T_EQ_INT(pread(fd, buf, 5, 0x1000), 5);
    T_ASSERT(strcmp(buf, "offs") == 0);
    T_OK(dmacoh_release_coherent_memory(&d, DMACOH_RELEASE_FORCE));
    /* map1 is 0x1800 bytes: its first page maps, its half page does not. */
    T_OK(dmacoh_declare_coherent_memory(&d, 0x61000000, 0, 0x1000,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, &g, NULL));
    T_OK(dmacoh_release_coherent_memory(&d, 0));
    T_ERR(dmacoh_declare_coherent_memory(&d, 0x61001000, 0, 0x800,
                                         DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, &g, NULL),
          DMACOH_ENXIO);
    T_ASSERT(t_log_find("not a whole number of pages"));
    /* map2 sits at an unaligned address: the kernel cannot map it. */
    T_ASSERT(t_log_find("not page aligned"));
    T_ERR(dmacoh_declare_coherent_memory(&d, 0x62000100, 0, 0x100,
                                         DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, &g, NULL),
          DMACOH_ENXIO);
    T_OK(dmacoh_device_fini(&d));
    T_OK(dmacoh_uio_close(uio));
    close(fd);
    remove_tree();
}

static const struct t_case cases[] = {
    T_CASE(map_offset_and_partial_pages),
    T_CASE(region_in_a_map_lands_at_the_right_offset),
    T_CASE(refusals),
    T_CASE(missing_node_and_bad_attribute),
    T_CASE(map_offset_is_where_the_memory_starts),
    T_CASE(map_offset_past_its_size),
    T_CASE(attribute_numbers_are_strict),
    T_CASE(fifos_are_refused),
    T_CASE(symlinks_are_refused),
    T_CASE(node_must_be_a_character_device),
    T_CASE(node_must_be_the_uio_device),
};

T_MAIN(cases)
