/* SPDX-License-Identifier: MIT */
/*
 * test_dax.c - the device DAX platform with a fake sysfs tree and a sparse regular file
 * standing in for /dev/daxX.Y: geometry read from sysfs, regions mapped at multiples of the
 * device's alignment with bytes landing at the right device offset as read from outside, a
 * 256 GiB device declared whole without touching it, and refusals. Hostile trees: a negative
 * size (read as 16 EiB before), an align that is not a number, attributes and the node as
 * FIFOs (a FIFO blocked open forever: those run under alarm()) or symlinks, a node shorter
 * than the device or not a character device. The fake node is a regular file, accepted only
 * because the tests set dmacoh__linux_fake_nodes.
 */
/* 64-bit file offsets in this file, as the library has them: the node of a 256 GiB device is a
 * sparse file that long even in a 32-bit build (the library checks its size). */
#define _FILE_OFFSET_BITS 64
#include "fixture.h"
#include "t.h"
#include "platform/linux/internal.h" /* dmacoh__linux_fake_nodes */

#include <dmacoh/dax.h>
#include <dmacoh/dmacoh.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME  "dax0.0"
#define BASE  0x2080000000ull /* the device's physical start, as `resource` says */
#define ALIGN (2ull << 20)

static char root[64], sys_dir[PATH_MAX], dev_root[PATH_MAX], node[PATH_MAX + 16];

static void put(const char *attr, const char *text)
{
    char path[PATH_MAX + 32];

    snprintf(path, sizeof(path), "%s/%s", sys_dir, attr);
    t_put_file(path, text);
}

/* A device of `size` bytes aligned to `align`; the node is a sparse file. */
static void make_tree(uint64_t size, uint64_t align)
{
    char cmd[PATH_MAX * 2 + 32], text[64];
    int fd;

    dmacoh__linux_fake_nodes = true; /* the node below is a regular file */
    snprintf(root, sizeof(root), "/tmp/dmacoh-dax-XXXXXX");
    T_ASSERT(mkdtemp(root) != NULL);
    snprintf(sys_dir, sizeof(sys_dir), "%s/sys/bus/dax/devices/" NAME, root);
    snprintf(dev_root, sizeof(dev_root), "%s/dev", root);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s' '%s'", sys_dir, dev_root);
    T_EQ_INT(system(cmd), 0);
    snprintf(text, sizeof(text), "%llu\n", (unsigned long long)size);
    put("size", text);
    snprintf(text, sizeof(text), "%llu\n", (unsigned long long)align);
    put("align", text);
    snprintf(text, sizeof(text), "0x%llx\n", BASE);
    put("resource", text);
    snprintf(node, sizeof(node), "%s/" NAME, dev_root);
    fd = open(node, O_RDWR | O_CREAT | O_TRUNC, 0600);
    T_ASSERT(fd >= 0);
    T_EQ_INT(ftruncate(fd, (off_t)size), 0);
    close(fd);
}

static void remove_tree(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    T_EQ_INT(system(cmd), 0);
}

static struct dmacoh_dax *open_fake(const struct dmacoh_dax_opts *extra)
{
    static char sysfs[PATH_MAX];
    struct dmacoh_dax_opts o = {0};
    struct dmacoh_dax *dax = NULL;

    if (extra)
        o = *extra;
    snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
    o.sysfs_root = sysfs;
    o.dev_root = dev_root;
    T_OK(dmacoh_dax_open(NAME, &o, &dax));
    return dax;
}

static void read_node(uint64_t off, void *buf, size_t len)
{
    int fd = open(node, O_RDONLY);

    T_ASSERT(fd >= 0);
    T_EQ_INT(pread(fd, buf, len, (off_t)off), (long long)len);
    close(fd);
}

/* A region that starts one page into an alignment unit: the mapping starts on the unit, the
 * CPU pointers keep the handles' alignment, the bytes land at the device offset. */
static void region_lands_at_the_device_offset(void)
{
    struct dmacoh_dax *dax;
    struct dmacoh_device dev;
    dmacoh_phys_addr_t bus;
    uint64_t size, align;
    char buf[8] = {0};
    void *a;
    dmacoh_dma_addr_t h;
    int granted = 0;

    make_tree(8 * ALIGN, ALIGN);
    dax = open_fake(NULL);
    T_OK(dmacoh_dax_info(dax, &bus, &size, &align));
    T_EQ_U64(bus, BASE);
    T_EQ_U64(size, 8 * ALIGN);
    T_EQ_U64(align, ALIGN);
    T_OK(dmacoh_device_init(&dev, "cxl", NULL, dmacoh_dax_platform(dax)));
    /* 4 MiB starting 2 MiB + 4 KiB into the device; the device reaches it at 0x1000. */
    T_OK(dmacoh_declare_coherent_memory(&dev, BASE + ALIGN + 0x1000, 0x1000, 4u << 20,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL, &granted));
    T_EQ_INT(granted, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &a, &h));
    T_EQ_U64(h, 0x1000);
    T_OK(dmacoh_alloc_coherent(&dev, 65536, 0, 0, &a, &h));
    T_EQ_U64(h, 0x10000);
    T_EQ_U64((uintptr_t)a % 65536, 0);
    memcpy(a, "dax", 4);
    read_node(ALIGN + 0x10000, buf, 4); /* device address 0x10000 is bus BASE + ALIGN + 0x10000 */
    T_ASSERT(strcmp(buf, "dax") == 0);
    T_EQ_U64(dmacoh_dma_to_bus(&dev, h), BASE + ALIGN + 0x10000);
    T_ERR(dmacoh_dax_close(dax), DMACOH_EBUSY);
    T_OK(dmacoh_release_coherent_memory(&dev, DMACOH_RELEASE_FORCE));
    /* No system memory on this platform. */
    T_ERR(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &a, &h), DMACOH_ENOMEM);
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_dax_close(dax));
    remove_tree();
}

/* 256 GiB, 1 GiB aligned, at a bus address of the caller's choosing, declared whole; an
 * allocation of 128 GiB (not zeroed: nothing touches the memory) comes out at its top half. */
static void hundreds_of_gib(void)
{
    const uint64_t size = 256ull << 30, align = 1ull << 30;
    struct dmacoh_dax_opts o = {.bus_given = true, .bus = 0x10000000000ull};
    struct dmacoh_dax *dax;
    struct dmacoh_device dev;
    char c = 0;
    void *a, *b;
    dmacoh_dma_addr_t ha, hb;

    if (sizeof(void *) >= 8) {
        /* valgrind keeps programs in a smaller address space: nothing to test there. */
        void *probe = mmap(NULL, (size_t)(size + align), PROT_NONE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

        if (probe == MAP_FAILED)
            T_SKIP("this process cannot reserve 257 GiB of address space (valgrind?)");
        munmap(probe, (size_t)(size + align));
    }
    make_tree(size, align);
    dax = open_fake(&o);
    T_OK(dmacoh_device_init(&dev, "pmem", NULL, dmacoh_dax_platform(dax)));
    if (sizeof(void *) < 8) {
        T_ERR(dmacoh_declare_coherent_memory(&dev, o.bus, 0, size, DMACOH_MEMORY_MAP, NULL, NULL),
              DMACOH_EOVERFLOW);
        T_OK(dmacoh_device_fini(&dev));
        T_OK(dmacoh_dax_close(dax));
        remove_tree();
        T_SKIP("a 32-bit process cannot map 256 GiB (refused with EOVERFLOW, as documented)");
    }
    T_OK(dmacoh_declare_coherent_memory(&dev, o.bus, 0, size, DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &a, &ha));
    T_OK(dmacoh_alloc_coherent(&dev, (size_t)(128ull << 30), DMACOH_ALLOC_NOZERO, 0, &b, &hb));
    T_EQ_U64(hb, 128ull << 30);
    T_EQ_U64((uintptr_t)b % align, 0);
    ((volatile char *)b)[(128ull << 30) - 1] = 'z';
    read_node(size - 1, &c, 1);
    T_EQ_INT(c, 'z');
    T_OK(dmacoh_free_coherent(&dev, (size_t)(128ull << 30), b, hb));
    T_OK(dmacoh_free_coherent(&dev, 4096, a, ha));
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_dax_close(dax));
    remove_tree();
}

static void refusals(void)
{
    struct dmacoh_dax_opts o = {0};
    struct dmacoh_dax *dax = NULL;
    struct dmacoh_device dev;
    char sysfs[PATH_MAX];

    make_tree(8 * ALIGN, ALIGN);
    snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
    o.sysfs_root = sysfs;
    o.dev_root = dev_root;
    dax = open_fake(NULL);
    T_OK(dmacoh_device_init(&dev, "cxl", NULL, dmacoh_dax_platform(dax)));
    T_ERR(dmacoh_declare_coherent_memory(&dev, BASE - 0x1000, 0, 0x2000, DMACOH_MEMORY_MAP, NULL,
                                         NULL),
          DMACOH_ENXIO);
    T_ERR(dmacoh_declare_coherent_memory(&dev, BASE + 7 * ALIGN, 0, 2 * ALIGN, DMACOH_MEMORY_MAP,
                                         NULL, NULL),
          DMACOH_ENXIO);
    T_ASSERT(t_log_find("not inside the device"));
    /* A device address whose offset in a 2 MiB unit differs from the bus address's cannot
     * keep the alignment promise for a 2 MiB allocation. */
    T_ERR(dmacoh_declare_coherent_memory(&dev, BASE + 0x1000, 0x0, 4u << 20, DMACOH_MEMORY_MAP,
                                         NULL, NULL),
          DMACOH_ENOTSUP);
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_dax_close(dax));
    T_ERR(dmacoh_dax_open("dax0", &o, &dax), DMACOH_EINVAL);
    T_ERR(dmacoh_dax_open("dax0.0/../x", &o, &dax), DMACOH_EINVAL);
    T_ERR(dmacoh_dax_open(NAME, &o, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_dax_open("dax1.0", &o, &dax), DMACOH_ENOENT);
    T_ASSERT(t_log_find("devdax mode"));
    put("align", "3000\n");
    T_ERR(dmacoh_dax_open(NAME, &o, &dax), DMACOH_EIO);
    put("align", "2097152\n");
    put("size", "3145728\n"); /* 3 MiB: not a multiple of 2 MiB */
    T_ERR(dmacoh_dax_open(NAME, &o, &dax), DMACOH_EIO);
    put("size", "16777216\n");
    T_EQ_INT(unlink(node), 0);
    T_ERR(dmacoh_dax_open(NAME, &o, &dax), DMACOH_ENOENT);
    {
        char path[PATH_MAX + 32];

        snprintf(path, sizeof(path), "%s/resource", sys_dir);
        T_EQ_INT(unlink(path), 0);
    }
    T_ERR(dmacoh_dax_open(NAME, &o, &dax), DMACOH_ENOENT);
    T_ASSERT(t_log_find("opts->bus"));
    T_OK(dmacoh_dax_close(NULL));
    remove_tree();
}

/* dmacoh_dax_open() of the fake tree (bus given: 0) fails with -EIO, the log naming `what`. */
static void open_refused(const char *what)
{
    struct dmacoh_dax_opts o = {.bus_given = true, .bus = 0};
    struct dmacoh_dax *dax = NULL;
    char sysfs[PATH_MAX];

    snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
    o.sysfs_root = sysfs;
    o.dev_root = dev_root;
    alarm(10); /* a FIFO must not block */
    T_ERR(dmacoh_dax_open(NAME, &o, &dax), DMACOH_EIO);
    alarm(0);
    T_ASSERT(t_log_find(what));
    T_EQ_PTR(dax, NULL);
}

/* -2097152 was read as 2^64 - 2 MiB: a whole multiple of the alignment, a 16 EiB device. */
static void negative_size(void)
{
    make_tree(8 * ALIGN, ALIGN);
    put("size", "-2097152\n");
    open_refused("/size: '-2097152' is not a number");
    remove_tree();
}

/* An align that is there but not a number used to be skipped for the 2 MiB default. */
static void align_not_a_number(void)
{
    make_tree(8 * ALIGN, ALIGN);
    put("align", "1073741824 bytes\n");
    open_refused("/align: '1073741824 bytes' is not a number");
    remove_tree();
}

static void replace(const char *path, bool fifo)
{
    char target[PATH_MAX + 40];

    snprintf(target, sizeof(target), "%s.real", path);
    T_EQ_INT(rename(path, target), 0);
    if (fifo)
        T_EQ_INT(mkfifo(path, 0600), 0);
    else
        T_EQ_INT(symlink(target, path), 0);
}

/* size and resource as FIFOs and symlinks; the node as a FIFO and a symlink. */
static void fifos_and_symlinks(void)
{
    static const char *const attrs[] = {"size", "align", "resource"};
    char path[PATH_MAX + 40];

    for (int fifo = 0; fifo < 2; fifo++) {
        for (int i = 0; i < 3; i++) {
            make_tree(8 * ALIGN, ALIGN);
            snprintf(path, sizeof(path), "%s/%s", sys_dir, attrs[i]);
            replace(path, fifo);
            if (i == 2) { /* resource is read only when no bus is given */
                struct dmacoh_dax_opts o = {0};
                struct dmacoh_dax *dax = NULL;
                char sysfs[PATH_MAX];

                snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
                o.sysfs_root = sysfs;
                o.dev_root = dev_root;
                alarm(10);
                T_ERR(dmacoh_dax_open(NAME, &o, &dax), DMACOH_EIO);
                alarm(0);
                T_ASSERT(t_log_find(path));
            } else {
                open_refused(path);
            }
            T_ASSERT(t_log_find(fifo ? "is not a regular file" : "is a symbolic link"));
            remove_tree();
            t_log_reset();
        }
        make_tree(8 * ALIGN, ALIGN);
        replace(node, fifo);
        open_refused(fifo ? "is not a character device" : "is a symbolic link");
        remove_tree();
        t_log_reset();
    }
}

/* A file standing in for the node must hold the whole device (mapped pages past its end would
 * fault); without the test seam, no regular file is a device node. */
static void node_checked(void)
{
    make_tree(8 * ALIGN, ALIGN);
    T_EQ_INT(truncate(node, (off_t)(4 * ALIGN)), 0);
    open_refused("is shorter than the memory it stands for");
    T_EQ_INT(truncate(node, (off_t)(8 * ALIGN)), 0);
    dmacoh__linux_fake_nodes = false;
    t_log_reset();
    open_refused("/dev/" NAME " is not a character device");
    dmacoh__linux_fake_nodes = true;
    remove_tree();
}

/* Claims follow where the base came from: read from `resource` it is physical, and a second
 * instance over the same bytes is refused; given by the caller it is the caller's numbering
 * (two DAX devices may both be given 0), and nothing is claimed. */
static void only_physical_bases_are_claimed(void)
{
    struct dmacoh_dax_opts given = {.bus_given = true, .bus = 0};
    struct dmacoh_dax *d[2];
    struct dmacoh_device dev[2];

    make_tree(8 * ALIGN, ALIGN);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 2; i++) {
            d[i] = open_fake(pass ? &given : NULL);
            T_OK(dmacoh_device_init(&dev[i], "dev", NULL, dmacoh_dax_platform(d[i])));
        }
        uint64_t bus = pass ? 0 : BASE;
        T_OK(dmacoh_declare_coherent_memory(&dev[0], bus, 0, ALIGN, DMACOH_MEMORY_MAP, NULL, NULL));
        T_ERR(dmacoh_declare_coherent_memory(&dev[1], bus, 0, ALIGN, DMACOH_MEMORY_MAP, NULL, NULL),
              pass ? 0 : DMACOH_EBUSY);
        for (int i = 0; i < 2; i++) {
            if (dmacoh_device_has_region(&dev[i]))
                T_OK(dmacoh_release_coherent_memory(&dev[i], 0));
            T_OK(dmacoh_device_fini(&dev[i]));
            T_OK(dmacoh_dax_close(d[i]));
        }
    }
    remove_tree();
}

static const struct t_case cases[] = {
    T_CASE(only_physical_bases_are_claimed),
    T_CASE(region_lands_at_the_device_offset),
    T_CASE(hundreds_of_gib),
    T_CASE(refusals),
    T_CASE(negative_size),
    T_CASE(align_not_a_number),
    T_CASE(fifos_and_symlinks),
    T_CASE(node_checked),
};

T_MAIN(cases)
