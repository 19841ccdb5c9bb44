/* SPDX-License-Identifier: MIT */
/*
 * test_export.c - exporting a block to another process (dmacoh/export.h, linux_export.h).
 *
 * Round trips over memfd and the simulator: a child forked before the platform exists (so it
 * inherits no mapping of the memory) receives the block over a socketpair, maps it only
 * through the received descriptor, checks the parent's pattern and the handle, writes its own
 * pattern, and the parent reads it in its own mapping. Over fake PCI sysfs, UIO and device
 * DAX trees (regular files stand in for resourceN, /dev/uio0 and /dev/dax0.0, accepted while
 * dmacoh__linux_fake_nodes is set) the file offsets are checked by reading the file, and a
 * block sent and received in the same process lands on the same bytes. Refusals of the core:
 * not an allocation, wrong size or handle, no region, a platform without a file (/dev/mem
 * among them), a platform breaking the contract. Hostile messages from a raw sender: short,
 * long, no descriptor, two or nine, wrong magic, version, mode or align, sizes beyond the
 * file, offsets that wrap, an unsealed file, /dev/null, a pipe, a closed peer: each refused
 * with its code, with nothing mapped (no mapping of the memfd appears in /proc/self/maps),
 * *out untouched and no descriptor left open (/proc/self/fd counted before and after).
 */
#include "fixture.h"
#include "t.h"
#include "platform/linux/internal.h" /* dmacoh__linux_fake_nodes */

#include <dmacoh/dax.h>
#include <dmacoh/devmem.h>
#include <dmacoh/dmacoh.h>
#include <dmacoh/export.h>
#include <dmacoh/linux_export.h>
#include <dmacoh/memfd.h>
#include <dmacoh/pci.h>
#include <dmacoh/sim.h>
#include <dmacoh/uio.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUS   0x80000000ull
#define WIN   (1u << 20)
#define DADDR 0x10000000ull /* device address of the region's first byte */
#define BLOCK (3 * 4096 + 100)

/* ---- helpers ---- */

static unsigned count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned n = 0;

    T_ASSERT(d != NULL);
    while (readdir(d))
        n++;
    closedir(d);
    return n; /* includes ".", ".." and the directory's own descriptor: constant */
}

/* Whether some mapping of this process comes from a memfd named `name`. */
static bool mapped(const char *name)
{
    char line[512], want[128];
    FILE *f = fopen("/proc/self/maps", "r");
    bool found = false;

    T_ASSERT(f != NULL);
    snprintf(want, sizeof(want), "/memfd:%s ", name);
    while (fgets(line, sizeof(line), f))
        if (strstr(line, want))
            found = true;
    fclose(f);
    return found;
}

static unsigned char pattern(uint64_t handle, size_t i, bool child)
{
    unsigned char b = (unsigned char)((handle >> 12) * 31 + i * 7 + 1);

    return child ? (unsigned char)~b : b;
}

/* The child: receive, check, write its own pattern, answer one byte (0 = all fine, else the
 * step that failed), exit. Uses no test assertion (they longjmp into the parent's runner). */
static void child(int sock, uint64_t want_handle, size_t want_size)
{
    struct dmacoh_imported_block b;
    unsigned char code = 0;
    unsigned before = count_fds();

    if (dmacoh_block_receive(sock, &b) != 0)
        code = 1;
    else if (b.handle != want_handle || b.size != want_size || b.mode != DMACOH_MEMORY_MAP)
        code = 2;
    for (size_t i = 0; code == 0 && i < want_size; i++)
        if (((unsigned char *)b.cpu)[i] != pattern(b.handle, i, false))
            code = 3;
    for (size_t i = 0; code == 0 && i < want_size; i++)
        ((unsigned char *)b.cpu)[i] = pattern(b.handle, i, true);
    if (code == 0 && count_fds() != before)
        code = 4; /* the received descriptor was not closed */
    if (code == 0 && dmacoh_block_unmap(&b) != 0)
        code = 5;
    if (write(sock, &code, 1) != 1)
        _exit(6);
    _exit(code);
}

static pid_t fork_child(int sv[2], int type, uint64_t handle, size_t size)
{
    pid_t pid;

    T_EQ_INT(socketpair(AF_UNIX, type, 0, sv), 0);
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        child(sv[1], handle, size);
    }
    close(sv[1]);
    return pid;
}

/* Parent side of a round trip of the block (a, h) of d: the child was forked already. */
static void parent(int sock, pid_t pid, struct dmacoh_device *d, void *a, dmacoh_dma_addr_t h)
{
    unsigned char code = 0xff, *p = (unsigned char *)a;
    unsigned before = count_fds();
    int status;

    for (size_t i = 0; i < BLOCK; i++)
        p[i] = pattern(h, i, false);
    T_OK(dmacoh_block_send(sock, d, a, BLOCK, h));
    T_EQ_INT(count_fds(), before);
    T_EQ_INT(read(sock, &code, 1), 1);
    T_EQ_INT(code, 0);
    T_EQ_INT(waitpid(pid, &status, 0), pid);
    T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (size_t i = 0; i < BLOCK; i++)
        T_EQ_INT(p[i], pattern(h, i, true));
    close(sock);
}

/* ---- round trips ---- */

static void memfd_block_reaches_a_forked_child(void)
{
    struct dmacoh_memfd *m;
    struct dmacoh_device d;
    void *a, *b;
    dmacoh_dma_addr_t ha, hb;
    int sv[2];
    pid_t pid;

    /* The second block: 16 KiB into the region, so a wrong offset shows. */
    pid = fork_child(sv, SOCK_SEQPACKET, DADDR + 0x4000 + 0x10000, BLOCK);
    T_OK(dmacoh_memfd_create(BUS, WIN, &m));
    T_OK(dmacoh_device_init(&d, "export-memfd", NULL, dmacoh_memfd_platform(m)));
    T_OK(dmacoh_declare_coherent_memory(&d, BUS + 0x10000, DADDR + 0x10000, WIN - 0x10000,
                                        DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&d, 4096, 0, 0, &a, &ha));
    T_OK(dmacoh_alloc_coherent(&d, BLOCK, 0, 0, &b, &hb));
    T_EQ_U64(hb, DADDR + 0x4000 + 0x10000);
    parent(sv[0], pid, &d, b, hb);
    T_OK(dmacoh_free_coherent(&d, BLOCK, b, hb));
    T_OK(dmacoh_free_coherent(&d, 4096, a, ha));
    T_OK(dmacoh_release_coherent_memory(&d, 0));
    T_OK(dmacoh_device_fini(&d));
    T_OK(dmacoh_memfd_close(m));
}

static void sim_block_reaches_a_forked_child_over_a_stream(void)
{
    struct dmacoh_sim *sim;
    struct dmacoh_device d;
    void *a, *b;
    dmacoh_dma_addr_t ha, hb;
    int sv[2];
    pid_t pid;

    pid = fork_child(sv, SOCK_STREAM, DADDR + 0x8000, BLOCK);
    T_OK(dmacoh_sim_create(NULL, &sim));
    t_add_memory(sim, BUS, WIN, DMACOH_MEMORY_MAP, false);
    T_OK(dmacoh_device_init(&d, "export-sim", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_declare_coherent_memory(&d, BUS + 0x3000, DADDR, 0x80000, DMACOH_MEMORY_MAP, NULL,
                                        NULL));
    T_OK(dmacoh_alloc_coherent(&d, 0x5000, 0, 0, &a, &ha));
    T_OK(dmacoh_alloc_coherent(&d, BLOCK, 0, 0, &b, &hb));
    T_EQ_U64(hb, DADDR + 0x8000);
    parent(sv[0], pid, &d, b, hb);
    T_OK(dmacoh_free_coherent(&d, BLOCK, b, hb));
    T_OK(dmacoh_free_coherent(&d, 0x5000, a, ha));
    T_OK(dmacoh_release_coherent_memory(&d, 0));
    T_OK(dmacoh_device_fini(&d));
    T_OK(dmacoh_sim_destroy(sim));
}

/* A block of a child device served by its parent's region (INCLUDES_CHILDREN). */
static void block_of_an_including_parent_is_found(void)
{
    struct dmacoh_sim *sim;
    struct dmacoh_device parent_dev, kid;
    struct dmacoh_file_range fr;
    long page = sysconf(_SC_PAGESIZE);
    void *a;
    dmacoh_dma_addr_t h;

    T_OK(dmacoh_sim_create(NULL, &sim));
    t_add_memory(sim, BUS, WIN, DMACOH_MEMORY_MAP, false);
    T_OK(dmacoh_device_init(&parent_dev, "export-parent", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_init(&kid, "export-kid", &parent_dev, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_declare_coherent_memory(&parent_dev, BUS + 0x20000, 0, 0x20000,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_INCLUDES_CHILDREN, NULL,
                                        NULL));
    T_OK(dmacoh_alloc_coherent(&kid, 100, 0, 0, &a, &h));
    T_OK(dmacoh_block_file(&kid, a, 100, h, &fr));
    T_EQ_U64(fr.offset + fr.delta, 0x20000 + h);
    T_EQ_U64(fr.align, (uint64_t)page);
    T_EQ_INT(fr.close_fd, true); /* a copy of the platform's: the caller's to close */
    close(fr.fd);
    T_EQ_INT(fr.mode, DMACOH_MEMORY_MAP);
    T_OK(dmacoh_free_coherent(&kid, 100, a, h));
    T_OK(dmacoh_device_fini(&kid));
    T_OK(dmacoh_release_coherent_memory(&parent_dev, 0));
    T_OK(dmacoh_device_fini(&parent_dev));
    T_OK(dmacoh_sim_destroy(sim));
}

/* ---- PCI sysfs and UIO: the offsets ---- */

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

static void sized(const char *rel, off_t size)
{
    char path[PATH_MAX];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    T_ASSERT(fd >= 0);
    T_EQ_INT(ftruncate(fd, size), 0);
    close(fd);
}

static void remove_root(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    T_EQ_INT(system(cmd), 0);
    dmacoh__linux_fake_nodes = false;
}

/* Writes a pattern through the block, finds it in the file at offset + delta, then sends the
 * block to this same process and finds it through the received mapping too. */
static void check_file_and_trip(struct dmacoh_device *d, void *a, size_t size, dmacoh_dma_addr_t h,
                                const struct dmacoh_file_range *fr)
{
    char buf[64], got[64];
    struct dmacoh_imported_block b;
    unsigned before;
    int sv[2];

    memset(buf, 0, sizeof(buf));
    snprintf(buf, sizeof(buf), "exported block at %#llx", (unsigned long long)h);
    dmacoh_memcpy_toio(a, buf, sizeof(buf));
    memset(got, 0, sizeof(got));
    T_EQ_INT(pread(fr->fd, got, sizeof(got), (off_t)(fr->offset + fr->delta)),
             (long long)sizeof(got));
    T_ASSERT(memcmp(buf, got, sizeof(buf)) == 0);
    T_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    before = count_fds();
    T_OK(dmacoh_block_send(sv[0], d, a, size, h));
    T_OK(dmacoh_block_receive(sv[1], &b));
    T_EQ_INT(count_fds(), before); /* the sender's and the receiver's copies are closed */
    T_EQ_U64(b.handle, h);
    T_EQ_U64(b.size, size);
    T_ASSERT(b.cpu != a);
    T_EQ_U64(((uintptr_t)b.cpu - fr->delta) % fr->align, 0); /* DAX maps whole aligned units */
    dmacoh_memcpy_fromio(got, b.cpu, sizeof(got));
    T_ASSERT(memcmp(buf, got, sizeof(buf)) == 0);
    T_OK(dmacoh_block_unmap(&b));
    T_ERR(dmacoh_block_unmap(&b), DMACOH_EINVAL);
    close(sv[0]);
    close(sv[1]);
}

static void pci_block_is_at_its_bar_offset(void)
{
    char dir[PATH_MAX];
    struct dmacoh_pci_opts o = {NULL, false};
    struct dmacoh_pci *pci;
    struct dmacoh_device d;
    struct dmacoh_file_range fr;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    void *a, *b;
    dmacoh_dma_addr_t ha, hb;
    unsigned before;

    snprintf(root, sizeof(root), "/tmp/dmacoh-export-XXXXXX");
    T_ASSERT(mkdtemp(root) != NULL);
    dmacoh__linux_fake_nodes = true; /* resource2 is a regular file in /tmp */
    put("bus/pci/devices/0000:03:00.0/resource",
        "0x00000000fe000000 0x00000000fe0fffff 0x0000000000040200\n"
        "0x000000000000e000 0x000000000000e01f 0x0000000000040101\n"
        "0x0000000800000000 0x00000008003fffff 0x000000000014220c\n"
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
    sized("bus/pci/devices/0000:03:00.0/resource2", 4 << 20);
    snprintf(dir, sizeof(dir), "%s", root);
    o.sysfs_root = dir;
    T_OK(dmacoh_pci_open("0000:03:00.0", &o, &pci));
    T_OK(dmacoh_device_init(&d, "export-pci", NULL, dmacoh_pci_platform(pci)));
    t_declare_device_memory(&d, 0x800000000ull + 0x100000, 0x40000000, 0x100000, 0, NULL);
    T_OK(dmacoh_alloc_coherent(&d, 0x3000, 0, 0, &a, &ha));
    T_OK(dmacoh_alloc_coherent(&d, 0x800, 0, 0, &b, &hb));
    T_EQ_U64(hb, 0x40003000); /* one granule, right after the first block */
    before = count_fds();
    T_OK(dmacoh_block_file(&d, b, 0x800, hb, &fr));
    T_EQ_INT(fr.close_fd, true); /* the platform keeps no descriptor of resourceN */
    T_EQ_INT(count_fds(), before + 1);
    T_EQ_U64(fr.offset + fr.delta, 0x100000 + 0x3000);
    T_EQ_U64(fr.offset & (page - 1), 0);
    T_EQ_U64(fr.align, page);
    check_file_and_trip(&d, b, 0x800, hb, &fr);
    close(fr.fd);
    T_OK(dmacoh_free_coherent(&d, 0x800, b, hb));
    T_OK(dmacoh_free_coherent(&d, 0x3000, a, ha));
    T_OK(dmacoh_release_coherent_memory(&d, 0));
    T_OK(dmacoh_device_fini(&d));
    T_OK(dmacoh_pci_close(pci));
    remove_root();
}

static void uio_block_is_at_its_map_offset(void)
{
    char sys[PATH_MAX], dev[PATH_MAX];
    struct dmacoh_uio_opts o;
    struct dmacoh_uio *uio;
    struct dmacoh_device d;
    struct dmacoh_file_range fr;
    long page = sysconf(_SC_PAGESIZE);
    void *a, *b;
    dmacoh_dma_addr_t ha, hb;

    snprintf(root, sizeof(root), "/tmp/dmacoh-export-XXXXXX");
    T_ASSERT(mkdtemp(root) != NULL);
    dmacoh__linux_fake_nodes = true; /* dev/uio0 is a regular file */
    put("sys/class/uio/uio0/name", "sram\n");
    put("sys/class/uio/uio0/maps/map0/addr", "0x40000000\n");
    put("sys/class/uio/uio0/maps/map0/size", "0x1000\n");
    put("sys/class/uio/uio0/maps/map0/offset", "0x0\n");
    put("sys/class/uio/uio0/maps/map1/addr", "0x50000000\n");
    put("sys/class/uio/uio0/maps/map1/size", "0x10000\n");
    put("sys/class/uio/uio0/maps/map1/offset", "0x0\n");
    put("dev/.keep", "");
    sized("dev/uio0", page + 0x10000);
    snprintf(sys, sizeof(sys), "%s/sys", root);
    snprintf(dev, sizeof(dev), "%s/dev", root);
    o.sysfs_root = sys;
    o.dev_root = dev;
    T_OK(dmacoh_uio_open(0, &o, &uio));
    T_OK(dmacoh_device_init(&d, "export-uio", NULL, dmacoh_uio_platform(uio)));
    t_declare_device_memory(&d, 0x50000000 + 0x2000, 0x2000, 0xe000, 0, NULL);
    T_OK(dmacoh_alloc_coherent(&d, 0x1000, 0, 0, &a, &ha));
    T_OK(dmacoh_alloc_coherent(&d, 0x1000, 0, 0, &b, &hb));
    T_EQ_U64(hb, 0x3000);
    T_OK(dmacoh_block_file(&d, b, 0x1000, hb, &fr));
    T_EQ_INT(fr.close_fd, true);         /* a copy of the platform's: the caller's to close */
    T_EQ_U64(fr.offset, (uint64_t)page); /* map1: one page in the node selects it */
    T_EQ_U64(fr.delta, 0x3000);          /* the block's distance from the map's start */
    check_file_and_trip(&d, b, 0x1000, hb, &fr);
    close(fr.fd);
    T_OK(dmacoh_free_coherent(&d, 0x1000, b, hb));
    T_OK(dmacoh_free_coherent(&d, 0x1000, a, ha));
    T_OK(dmacoh_release_coherent_memory(&d, 0));
    T_OK(dmacoh_device_fini(&d));
    T_OK(dmacoh_uio_close(uio));
    remove_root();
}

/* Device DAX: the mapping unit is the device's alignment (2 MiB here), in offset and length. */
static void dax_block_is_in_whole_alignment_units(void)
{
    char sys[PATH_MAX], dev[PATH_MAX];
    struct dmacoh_dax_opts o;
    struct dmacoh_dax *dax;
    struct dmacoh_device d;
    struct dmacoh_file_range fr;
    uint64_t unit = 2ull << 20, base = 0x2080000000ull;
    void *a, *b;
    dmacoh_dma_addr_t ha, hb;

    snprintf(root, sizeof(root), "/tmp/dmacoh-export-XXXXXX");
    T_ASSERT(mkdtemp(root) != NULL);
    dmacoh__linux_fake_nodes = true; /* dev/dax0.0 is a regular file */
    put("sys/bus/dax/devices/dax0.0/size", "16777216\n");
    put("sys/bus/dax/devices/dax0.0/align", "2097152\n");
    put("sys/bus/dax/devices/dax0.0/resource", "0x2080000000\n");
    put("dev/.keep", "");
    sized("dev/dax0.0", (off_t)(8 * unit));
    snprintf(sys, sizeof(sys), "%s/sys", root);
    snprintf(dev, sizeof(dev), "%s/dev", root);
    memset(&o, 0, sizeof(o));
    o.sysfs_root = sys;
    o.dev_root = dev;
    T_OK(dmacoh_dax_open("dax0.0", &o, &dax));
    T_OK(dmacoh_device_init(&d, "export-dax", NULL, dmacoh_dax_platform(dax)));
    T_OK(dmacoh_declare_coherent_memory(&d, base + unit + 0x1000, 0x1000, 4u << 20,
                                        DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&d, 4096, 0, 0, &a, &ha));
    T_OK(dmacoh_alloc_coherent(&d, 65536, 0, 0, &b, &hb));
    T_EQ_U64(hb, 0x10000);
    T_OK(dmacoh_block_file(&d, b, 65536, hb, &fr));
    T_EQ_INT(fr.close_fd, true); /* a copy of the platform's: the caller's to close */
    T_EQ_U64(fr.align, unit);
    T_EQ_U64(fr.offset, unit); /* the unit holding device offset 2 MiB + 64 KiB */
    T_EQ_U64(fr.delta, 0x10000);
    check_file_and_trip(&d, b, 65536, hb, &fr);
    close(fr.fd);
    T_OK(dmacoh_free_coherent(&d, 65536, b, hb));
    T_OK(dmacoh_free_coherent(&d, 4096, a, ha));
    T_OK(dmacoh_release_coherent_memory(&d, 0));
    T_OK(dmacoh_device_fini(&d));
    T_OK(dmacoh_dax_close(dax));
    remove_root();
}

/* ---- refusals of the core ---- */

static int liar_file_of(void *ctx, const struct dmacoh_mapping *m, dmacoh_phys_addr_t bus,
                        uint64_t size, struct dmacoh_file_range *out)
{
    (void)ctx, (void)m, (void)bus, (void)size;
    out->fd = 0;
    out->close_fd = false;
    out->offset = 0x1000;
    out->delta = 0;
    out->align = 0x3000; /* not a power of two */
    return 0;
}

static void blocks_that_are_not_allocations_are_refused(void)
{
    struct dmacoh_sim *sim;
    struct dmacoh_device d, bare;
    struct dmacoh_file_range fr, untouched;
    struct dmacoh_platform_ops no_file, liar;
    struct dmacoh_platform p_no_file, p_liar;
    void *a, *b, *sys;
    dmacoh_dma_addr_t ha, hb, hs;

    T_OK(dmacoh_sim_create(NULL, &sim));
    t_add_memory(sim, BUS, WIN, DMACOH_MEMORY_MAP, false);
    T_OK(dmacoh_device_init(&d, "export-refusals", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_device_init(&bare, "export-bare", NULL, dmacoh_sim_platform(sim)));
    T_OK(dmacoh_declare_coherent_memory(&d, BUS, 0, 0x10000, DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&d, 0x2000, 0, 0, &a, &ha));
    T_OK(dmacoh_alloc_coherent(&d, 0x1000, 0, 0, &b, &hb));
    memset(&fr, 0x5a, sizeof(fr));
    untouched = fr;
    t_log_reset();
    T_ERR(dmacoh_block_file(&d, (char *)a + 0x1000, 0x1000, ha + 0x1000, &fr), DMACOH_EFAULT);
    T_ERR(dmacoh_block_file(&d, (char *)a + 8, 0x1000, ha + 8, &fr), DMACOH_EFAULT);
    T_ERR(dmacoh_block_file(&d, (char *)b + 0x1000, 0x1000, hb + 0x1000, &fr), DMACOH_EFAULT);
    T_ERR(dmacoh_block_file(&d, a, 0x1000, ha, &fr), DMACOH_EINVAL);     /* size */
    T_ERR(dmacoh_block_file(&d, a, 0x2000, ha + 1, &fr), DMACOH_EINVAL); /* handle */
    T_ERR(dmacoh_block_file(&d, a, 0, ha, &fr), DMACOH_EINVAL);
    T_ERR(dmacoh_block_file(&d, NULL, 0x2000, ha, &fr), DMACOH_EINVAL);
    T_ERR(dmacoh_block_file(&d, a, 0x2000, ha, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_block_file(&bare, a, 0x2000, ha, &fr), DMACOH_ENODEV);
    T_ASSERT(t_log_find("not the start of a live allocation"));
    T_ASSERT(t_log_find("does not match"));
    T_ASSERT(memcmp(&fr, &untouched, sizeof(fr)) == 0);
    /* An occupied range is not an allocation. */
    {
        void *occ;

        T_OK(dmacoh_mark_declared_memory_occupied(&d, 0x8000, 0x1000, &occ));
        T_ERR(dmacoh_block_file(&d, occ, 0x1000, 0x8000, &fr), DMACOH_EFAULT);
        T_ASSERT(t_log_find("an occupied range"));
    }
    /* Freed: no longer live. System memory of the fallback: not in the region. */
    T_OK(dmacoh_free_coherent(&d, 0x1000, b, hb));
    T_ERR(dmacoh_block_file(&d, b, 0x1000, hb, &fr), DMACOH_EFAULT);
    T_OK(dmacoh_alloc_coherent(&bare, 0x1000, 0, 0, &sys, &hs));
    T_ERR(dmacoh_block_file(&bare, sys, 0x1000, hs, &fr), DMACOH_ENODEV);
    T_ERR(dmacoh_block_send(-1, &d, a, 0x2000, ha), DMACOH_EINVAL);
    T_OK(dmacoh_free_coherent(&bare, 0x1000, sys, hs));
    T_OK(dmacoh_free_coherent(&d, 0x2000, a, ha));
    T_OK(dmacoh_release_coherent_memory(&d, 0));
    T_OK(dmacoh_device_fini(&bare));
    T_OK(dmacoh_device_fini(&d));

    /* The same memory on a platform without file_of, and on one that breaks its contract. */
    no_file = *dmacoh_sim_platform(sim)->ops;
    no_file.file_of = NULL;
    liar = no_file;
    liar.file_of = liar_file_of;
    T_OK(dmacoh_platform_init(&p_no_file, &no_file, dmacoh_sim_platform(sim)->ctx));
    T_OK(dmacoh_platform_init(&p_liar, &liar, dmacoh_sim_platform(sim)->ctx));
    T_OK(dmacoh_device_init(&d, "export-nofile", NULL, &p_no_file));
    T_OK(dmacoh_declare_coherent_memory(&d, BUS, 0, 0x10000, DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&d, 0x1000, 0, 0, &a, &ha));
    T_ERR(dmacoh_block_file(&d, a, 0x1000, ha, &fr), DMACOH_ENOTSUP);
    T_ASSERT(t_log_find("no file behind its memory"));
    T_OK(dmacoh_free_coherent(&d, 0x1000, a, ha));
    T_OK(dmacoh_release_coherent_memory(&d, 0));
    T_OK(dmacoh_device_fini(&d));
    T_OK(dmacoh_device_init(&d, "export-liar", NULL, &p_liar));
    T_OK(dmacoh_declare_coherent_memory(&d, BUS, 0, 0x10000, DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&d, 0x1000, 0, 0, &a, &ha));
    T_ERR(dmacoh_block_file(&d, a, 0x1000, ha, &fr), DMACOH_EIO);
    T_ASSERT(t_log_find("breaks its contract"));
    T_OK(dmacoh_free_coherent(&d, 0x1000, a, ha));
    T_OK(dmacoh_release_coherent_memory(&d, 0));
    T_OK(dmacoh_device_fini(&d));
    T_OK(dmacoh_platform_fini(&p_liar));
    T_OK(dmacoh_platform_fini(&p_no_file));
    T_OK(dmacoh_sim_destroy(sim));
}

/* /dev/mem has a file, but handing it out gives away all physical memory: refused. */
static void devmem_blocks_are_not_exported(void)
{
    char path[] = "/tmp/dmacoh-export-mem-XXXXXX";
    struct dmacoh_devmem_opts o = {path, false};
    struct dmacoh_devmem *dm;
    struct dmacoh_device d;
    struct dmacoh_file_range fr;
    void *a;
    dmacoh_dma_addr_t h;
    int fd = mkstemp(path), sv[2];

    T_ASSERT(fd >= 0);
    T_EQ_INT(ftruncate(fd, (off_t)(0xfe000000ull + 0x10000)), 0);
    T_OK(dmacoh_devmem_open(&o, &dm));
    T_OK(dmacoh_device_init(&d, "export-devmem", NULL, dmacoh_devmem_platform(dm)));
    t_declare_device_memory(&d, 0xfe000000ull, 0, 0x10000, 0, NULL);
    T_OK(dmacoh_alloc_coherent(&d, 0x1000, 0, 0, &a, &h));
    T_ERR(dmacoh_block_file(&d, a, 0x1000, h, &fr), DMACOH_ENOTSUP);
    T_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    T_ERR(dmacoh_block_send(sv[0], &d, a, 0x1000, h), DMACOH_ENOTSUP);
    T_ASSERT(t_log_find("devmem platform has no file"));
    close(sv[0]);
    close(sv[1]);
    T_OK(dmacoh_free_coherent(&d, 0x1000, a, h));
    T_OK(dmacoh_release_coherent_memory(&d, 0));
    T_OK(dmacoh_device_fini(&d));
    T_OK(dmacoh_devmem_close(dm));
    close(fd);
    unlink(path);
}

/* ---- hostile messages ---- */

#define HOSTILE_NAME "dmacoh-export-hostile"

/* A sealed memfd of `size` bytes, as the memfd platform makes them. */
static int sealed_memfd(uint64_t size, bool seal)
{
    int fd = memfd_create(HOSTILE_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);

    T_ASSERT(fd >= 0);
    T_EQ_INT(ftruncate(fd, (off_t)size), 0);
    if (seal)
        T_EQ_INT(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
    return fd;
}

/* Sends len bytes of h with nfds copies of fd (nfds may be 0); the caller keeps fd. */
static void raw_send(int sock, const void *h, size_t len, int fd, unsigned nfds)
{
    union {
        char buf[CMSG_SPACE(16 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {(void *)(uintptr_t)h, len};
    struct msghdr msg;
    struct cmsghdr *c;

    memset(&msg, 0, sizeof(msg));
    memset(&ctl, 0, sizeof(ctl));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds) {
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        for (unsigned i = 0; i < nfds; i++)
            memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof(int));
    }
    T_EQ_INT(sendmsg(sock, &msg, 0), (long long)len);
}

static struct dmacoh_block_msg good_msg(void)
{
    struct dmacoh_block_msg h;

    memset(&h, 0, sizeof(h));
    h.magic = DMACOH_BLOCK_MSG_MAGIC;
    h.version = DMACOH_BLOCK_MSG_VERSION;
    h.mode = DMACOH_MEMORY_MAP;
    h.size = 100;
    h.handle = 0x1000;
    h.offset = 0;
    h.delta = 0x10;
    h.align = (uint64_t)sysconf(_SC_PAGESIZE);
    return h;
}

/* Sends (h, len, nfds copies of fd) and expects the receiver to refuse it with `code`,
 * mapping nothing, leaving *out alone and every descriptor it received closed. */
static void refused(const struct dmacoh_block_msg *h, size_t len, int fd, unsigned nfds, int code)
{
    struct dmacoh_imported_block b, untouched;
    unsigned before;
    int sv[2];

    T_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    memset(&b, 0xa5, sizeof(b));
    untouched = b;
    before = count_fds();
    raw_send(sv[0], h, len, fd, nfds);
    t_log_reset();
    T_ERR(dmacoh_block_receive(sv[1], &b), code);
    T_ASSERT(t_log_count() > 0);
    T_EQ_INT(count_fds(), before);
    T_ASSERT(memcmp(&b, &untouched, sizeof(b)) == 0);
    T_ASSERT(!mapped(HOSTILE_NAME));
    close(sv[0]);
    close(sv[1]);
}

static void hostile_messages_are_refused(void)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    struct dmacoh_block_msg h = good_msg(), big[2];
    struct dmacoh_imported_block b;
    int fd = sealed_memfd(2 * page, true), unsealed = sealed_memfd(2 * page, false);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC), pipefd[2], sv[2];

    char plain_path[] = "/tmp/dmacoh-export-plain-XXXXXX";
    int plain = mkstemp(plain_path);

    T_ASSERT(devnull >= 0 && plain >= 0);
    T_EQ_INT(ftruncate(plain, (off_t)(2 * page)), 0);
    unlink(plain_path);
    T_EQ_INT(pipe(pipefd), 0);
    /* The control: the well-formed message is accepted, and its mapping shows up. */
    T_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    raw_send(sv[0], &h, sizeof(h), fd, 1);
    T_OK(dmacoh_block_receive(sv[1], &b));
    T_ASSERT(mapped(HOSTILE_NAME));
    T_EQ_U64(b.handle, 0x1000);
    T_OK(dmacoh_block_unmap(&b));
    T_ASSERT(!mapped(HOSTILE_NAME));
    close(sv[0]);
    close(sv[1]);

    refused(&h, sizeof(h) - 1, fd, 1, DMACOH_EINVAL); /* short */
    memset(big, 0, sizeof(big));
    big[0] = h;
    refused(big, sizeof(big), fd, 1, DMACOH_EINVAL); /* longer than the header */
    refused(&h, sizeof(h), fd, 0, DMACOH_EINVAL);    /* no descriptor */
    refused(&h, sizeof(h), fd, 2, DMACOH_EINVAL);    /* two */
    refused(&h, sizeof(h), fd, 9, DMACOH_EINVAL);    /* more than the receiver has room for */
    h.magic ^= 1;
    refused(&h, sizeof(h), fd, 1, DMACOH_EINVAL);
    h = good_msg();
    h.version = 2;
    refused(&h, sizeof(h), fd, 1, DMACOH_EINVAL);
    h = good_msg();
    h.mode = 3;
    refused(&h, sizeof(h), fd, 1, DMACOH_EINVAL);
    h = good_msg();
    h.size = 0;
    refused(&h, sizeof(h), fd, 1, DMACOH_EINVAL);
    h = good_msg();
    h.align = page + 1;
    refused(&h, sizeof(h), fd, 1, DMACOH_EINVAL);
    h = good_msg();
    h.align = 1ull << 40;
    refused(&h, sizeof(h), fd, 1, DMACOH_EINVAL);
    h = good_msg();
    h.offset = 1;
    refused(&h, sizeof(h), fd, 1, DMACOH_EINVAL);
    /* Beyond the file: by size, by offset, by delta. */
    h = good_msg();
    h.size = 2 * page;
    refused(&h, sizeof(h), fd, 1, DMACOH_ERANGE);
    h = good_msg();
    h.offset = 2 * page;
    refused(&h, sizeof(h), fd, 1, DMACOH_ERANGE);
    h = good_msg();
    h.delta = 5 * page;
    refused(&h, sizeof(h), fd, 1, DMACOH_ERANGE);
    /* Numbers that wrap. */
    h = good_msg();
    h.offset = UINT64_MAX & ~(page - 1);
    refused(&h, sizeof(h), fd, 1, DMACOH_EOVERFLOW);
    h = good_msg();
    h.delta = UINT64_MAX - 50;
    refused(&h, sizeof(h), fd, 1, DMACOH_EOVERFLOW);
    h = good_msg();
    h.size = UINT64_MAX;
    refused(&h, sizeof(h), fd, 1, DMACOH_EOVERFLOW);
    h = good_msg();
    h.handle = UINT64_MAX - 10;
    refused(&h, sizeof(h), fd, 1, DMACOH_EOVERFLOW);
    /* Files the receiver must not map. */
    h = good_msg();
    refused(&h, sizeof(h), unsealed, 1, DMACOH_EINVAL);
    T_ASSERT(t_log_find("not sealed against shrinking"));
    refused(&h, sizeof(h), plain, 1, DMACOH_EINVAL); /* a file on disk (or tmpfs): not sealed */
    refused(&h, sizeof(h), devnull, 1, DMACOH_EPERM);
    refused(&h, sizeof(h), pipefd[0], 1, DMACOH_EINVAL);
    /* A peer that went away. */
    T_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    close(sv[0]);
    T_ERR(dmacoh_block_receive(sv[1], &b), DMACOH_EIO);
    close(sv[1]);
    T_ERR(dmacoh_block_receive(-1, &b), DMACOH_EINVAL);
    T_ERR(dmacoh_block_receive(0, NULL), DMACOH_EINVAL);
    T_ERR(dmacoh_block_unmap(NULL), DMACOH_EINVAL);
    close(pipefd[0]);
    close(pipefd[1]);
    close(devnull);
    close(plain);
    close(unsealed);
    close(fd);
}

/* A peer that sends a descriptor of the registry file itself cannot make this process drop
 * its registry entries (closing any descriptor of a file drops every POSIX lock the process
 * holds on it): the receiver refuses the message and keeps that descriptor open. */
static void registry_descriptor_from_a_peer_keeps_entries(void)
{
    char reg[] = "/tmp/dmacoh-export-reg-XXXXXX";
    struct dmacoh__registry_mark mark;
    struct dmacoh__registry_entry holder;
    struct dmacoh_block_msg h = good_msg();
    struct dmacoh_imported_block b;
    int rfd = mkstemp(reg), sv[2], st;
    pid_t pid;

    T_ASSERT(rfd >= 0);
    close(rfd);
    setenv("DMACOH_REGISTRY", reg, 1);
    T_OK(dmacoh__linux_registry_enter(0x10000, 0x1ffff, false, &mark, &holder));
    T_ASSERT(mark.gen != 0);
    T_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) { /* the hostile peer: another process's descriptor of the file */
        int fd = open(reg, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
            _exit(1);
        raw_send(sv[0], &h, sizeof(h), fd, 1);
        _exit(0);
    }
    T_EQ_INT(waitpid(pid, &st, 0), pid);
    T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    T_ERR(dmacoh_block_receive(sv[1], &b), DMACOH_EINVAL);
    T_ASSERT(t_log_find("kept open"));
    /* Another process still finds the range held. */
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        struct flock fl;
        int fd = open(reg, O_RDWR | O_CLOEXEC);

        memset(&fl, 0, sizeof(fl));
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = 0x10000;
        fl.l_len = 0x10000;
        _exit(fd >= 0 && fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_WRLCK ? 0 : 2);
    }
    T_EQ_INT(waitpid(pid, &st, 0), pid);
    T_ASSERT(WIFEXITED(st));
    T_EQ_INT(WEXITSTATUS(st), 0);
    dmacoh__linux_registry_leave(0x10000, 0x1ffff, &mark);
    setenv("DMACOH_REGISTRY", "none", 1);
    unlink(reg);
    close(sv[0]);
    close(sv[1]);
}

/* A receiving socket with SO_PASSCRED gets a credential message before the descriptor: the
 * control buffer has room for both. */
static void credentials_on_the_socket_do_not_cut_the_descriptor(void)
{
    struct dmacoh_memfd *m;
    struct dmacoh_device d;
    struct dmacoh_imported_block b;
    void *a;
    dmacoh_dma_addr_t h;
    int sv[2], on = 1;

    T_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    T_EQ_INT(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
    T_OK(dmacoh_memfd_create(0xc0000000ull, 0x40000, &m));
    T_OK(dmacoh_device_init(&d, "cred", NULL, dmacoh_memfd_platform(m)));
    T_OK(dmacoh_declare_coherent_memory(&d, 0xc0000000ull, 0, 0x40000, DMACOH_MEMORY_MAP, NULL,
                                        NULL));
    T_OK(dmacoh_alloc_coherent(&d, 0x2000, 0, 0, &a, &h));
    memset(a, 0x3c, 0x2000);
    T_OK(dmacoh_block_send(sv[0], &d, a, 0x2000, h));
    T_OK(dmacoh_block_receive(sv[1], &b));
    T_EQ_U64(b.handle, h);
    T_EQ_INT(((unsigned char *)b.cpu)[0x1fff], 0x3c);
    T_OK(dmacoh_block_unmap(&b));
    T_OK(dmacoh_free_coherent(&d, 0x2000, a, h));
    T_OK(dmacoh_release_coherent_memory(&d, 0));
    T_OK(dmacoh_device_fini(&d));
    T_OK(dmacoh_memfd_close(m));
    close(sv[0]);
    close(sv[1]);
}

/* A character device other than a DAX or UIO node (here the pty master, a tty) is refused:
 * its driver may map anything, or fault past its end. */
static void other_character_devices_are_refused(void)
{
    struct dmacoh_block_msg h = good_msg();
    int fd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (fd < 0)
        T_SKIP("no /dev/ptmx to stand for another character device");
    refused(&h, sizeof(h), fd, 1, DMACOH_EINVAL);
    T_ASSERT(t_log_find("node is expected"));
    close(fd);
}

static const struct t_case cases[] = {
    T_CASE(memfd_block_reaches_a_forked_child),
    T_CASE(sim_block_reaches_a_forked_child_over_a_stream),
    T_CASE(block_of_an_including_parent_is_found),
    T_CASE(pci_block_is_at_its_bar_offset),
    T_CASE(uio_block_is_at_its_map_offset),
    T_CASE(dax_block_is_in_whole_alignment_units),
    T_CASE(blocks_that_are_not_allocations_are_refused),
    T_CASE(devmem_blocks_are_not_exported),
    T_CASE(hostile_messages_are_refused),
    T_CASE(registry_descriptor_from_a_peer_keeps_entries),
    T_CASE(other_character_devices_are_refused),
    T_CASE(credentials_on_the_socket_do_not_cut_the_descriptor),
};

T_MAIN(cases)
