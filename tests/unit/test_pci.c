/* SPDX-License-Identifier: MIT */
/*
 * test_pci.c - the PCI sysfs platform against a fake sysfs tree in a temporary folder: BARs
 * parsed from `resource`, regions mapped from resourceN (regular files standing in for the
 * BARs, so what an allocation writes is read back from outside at the BAR offset),
 * resourceN_wc chosen when asked, and every refusal (outside a BAR, I/O BAR, no device,
 * malformed address, permission, close while in use). Hostile trees: `resource` lines too
 * long, negative, with trailing bytes, BARs flagged unset or disabled, `resource` as a FIFO
 * or a symlink, resourceN empty, a FIFO or a symlink to another file; each refused with a log
 * line naming the file (and line). A FIFO would block a plain open forever: those tests run
 * under alarm(), so a hang fails instead of stopping the suite.
 */
#include "fixture.h"
#include "t.h"
#include "platform/linux/internal.h"

#include <dmacoh/dmacoh.h>
#include <dmacoh/pci.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#define BDF     "0000:03:00.0"
#define BAR0    0xfe000000ull  /* 1 MiB memory */
#define BAR2    0x800000000ull /* 4 MiB prefetchable */
#define BAR0_SZ (1u << 20)
#define BAR2_SZ (4u << 20)

static char root[64];
static char dev_dir[PATH_MAX];

static void write_file(const char *name, const char *text)
{
    char path[PATH_MAX + 64];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dev_dir, name);
    f = fopen(path, "w");
    T_ASSERT(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void sized_file(const char *name, off_t size)
{
    char path[PATH_MAX + 64];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dev_dir, name);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    T_ASSERT(fd >= 0);
    T_EQ_INT(ftruncate(fd, size), 0);
    close(fd);
}

/* What the "BAR" holds at an offset, read from outside the library. */
static void read_bar(const char *name, off_t off, void *buf, size_t len)
{
    char path[PATH_MAX + 64];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dev_dir, name);
    fd = open(path, O_RDONLY);
    T_ASSERT(fd >= 0);
    T_EQ_INT(pread(fd, buf, len, off), (long long)len);
    close(fd);
}

/* A device with BAR0 memory, BAR1 I/O ports, BAR2 prefetchable memory (as the kernel
 * prints `resource`: start, end, flags; unused BARs are zeros; more lines follow). */
static void make_tree(void)
{
    char cmd[PATH_MAX + 32];

    snprintf(root, sizeof(root), "/tmp/dmacoh-pci-XXXXXX");
    T_ASSERT(mkdtemp(root) != NULL);
    snprintf(dev_dir, sizeof(dev_dir), "%s/bus/pci/devices/%s", root, BDF);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dev_dir);
    T_EQ_INT(system(cmd), 0);
    write_file("resource", "0x00000000fe000000 0x00000000fe0fffff 0x0000000000040200\n"
                           "0x000000000000e000 0x000000000000e01f 0x0000000000040101\n"
                           "0x0000000800000000 0x00000008003fffff 0x000000000014220c\n"
                           "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                           "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                           "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                           "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
    sized_file("resource0", BAR0_SZ);
    sized_file("resource2", BAR2_SZ);
    sized_file("resource2_wc", BAR2_SZ);
}

static void remove_tree(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    T_EQ_INT(system(cmd), 0);
}

static struct dmacoh_pci *open_fake(bool wc)
{
    struct dmacoh_pci_opts o = {root, wc};
    struct dmacoh_pci *pci = NULL;

    T_OK(dmacoh_pci_open(BDF, &o, &pci));
    return pci;
}

static void bars_are_parsed(void)
{
    struct dmacoh_pci *pci;
    dmacoh_phys_addr_t bus;
    uint64_t size;
    int kind;

    make_tree();
    pci = open_fake(false);
    T_OK(dmacoh_pci_bar(pci, 0, &bus, &size, &kind));
    T_EQ_U64(bus, BAR0);
    T_EQ_U64(size, BAR0_SZ);
    T_EQ_INT(kind, DMACOH_PCI_BAR_MEM);
    T_OK(dmacoh_pci_bar(pci, 1, NULL, &size, &kind));
    T_EQ_INT(kind, DMACOH_PCI_BAR_IO);
    T_EQ_U64(size, 32);
    T_OK(dmacoh_pci_bar(pci, 2, &bus, &size, &kind));
    T_EQ_INT(kind, DMACOH_PCI_BAR_MEM_PREF);
    T_EQ_U64(bus, BAR2);
    T_ERR(dmacoh_pci_bar(pci, 3, &bus, &size, &kind), DMACOH_ENOENT);
    T_ERR(dmacoh_pci_bar(pci, 6, &bus, &size, &kind), DMACOH_EINVAL);
    T_OK(dmacoh_pci_close(pci));
    remove_tree();
}

/* An allocation's bytes land at the right offset of the BAR, as seen from outside. */
static void region_in_a_bar_lands_at_the_right_offset(void)
{
    struct dmacoh_pci *pci;
    struct dmacoh_device dev;
    char buf[16] = {0};
    void *a, *b;
    dmacoh_dma_addr_t ha, hb;

    make_tree();
    pci = open_fake(false);
    T_OK(dmacoh_device_init(&dev, "card", NULL, dmacoh_pci_platform(pci)));
    /* The second half of BAR0, which the card reaches at device address 0x80000. */
    t_declare_device_memory(&dev, BAR0 + 0x80000, 0x80000, 0x80000, DMACOH_MEMORY_EXCLUSIVE, NULL);
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &a, &ha));
    T_OK(dmacoh_alloc_coherent(&dev, 8192, 0, 0, &b, &hb));
    T_EQ_U64(ha, 0x80000);
    T_EQ_U64(hb, 0x82000);
    T_EQ_U64((uintptr_t)b % 8192, 0); /* CPU pointer as aligned as the handle */
    dmacoh_memcpy_toio(a, "mailbox", 8);
    dmacoh_memcpy_toio(b, "command", 8);
    read_bar("resource0", 0x80000, buf, 8);
    T_ASSERT(strcmp(buf, "mailbox") == 0);
    read_bar("resource0", 0x82000, buf, 8);
    T_ASSERT(strcmp(buf, "command") == 0);
    T_EQ_U64(dmacoh_dma_to_bus(&dev, hb), BAR0 + 0x82000);
    T_OK(dmacoh_free_coherent(&dev, 4096, a, ha));
    T_OK(dmacoh_free_coherent(&dev, 8192, b, hb));
    T_ERR(dmacoh_pci_close(pci), DMACOH_EBUSY); /* region declared */
    T_OK(dmacoh_release_coherent_memory(&dev, 0));
    /* This platform offers no system memory: with no region, allocation fails and says so. */
    T_ERR(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &a, &ha), DMACOH_ENOMEM);
    T_ASSERT(t_log_find("no system memory"));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_pci_close(pci));
    remove_tree();
}

static void write_combining_maps_resource_wc(void)
{
    struct dmacoh_pci *pci;
    struct dmacoh_device dev;
    char buf[8] = {0}, plain[8] = {0};
    void *a;
    dmacoh_dma_addr_t h;

    make_tree();
    pci = open_fake(true);
    T_OK(dmacoh_device_init(&dev, "card", NULL, dmacoh_pci_platform(pci)));
    t_declare_device_memory(&dev, BAR2, 0, BAR2_SZ, 0, NULL);
    T_OK(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &a, &h));
    dmacoh_memcpy_toio(a, "wc", 3);
    read_bar("resource2_wc", 0, buf, 3);
    read_bar("resource2", 0, plain, 3);
    T_ASSERT(strcmp(buf, "wc") == 0);
    T_EQ_INT(plain[0], 0);
    T_OK(dmacoh_release_coherent_memory(&dev, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_pci_close(pci));
    remove_tree();
}

static void refusals(void)
{
    struct dmacoh_pci_opts o;
    struct dmacoh_pci *pci, *none = NULL;
    struct dmacoh_device dev;

    make_tree();
    o.sysfs_root = root;
    o.write_combine = false;
    pci = open_fake(false);
    T_OK(dmacoh_device_init(&dev, "card", NULL, dmacoh_pci_platform(pci)));
    /* Straddling the end of BAR0, inside the I/O BAR, or in no BAR at all. */
    T_ERR(dmacoh_declare_coherent_memory(&dev, BAR0 + 0xff000, 0, 0x2000, DMACOH_MEMORY_MAP, NULL,
                                         NULL),
          DMACOH_ENXIO);
    T_ASSERT(t_log_find("not inside one memory BAR"));
    T_ERR(dmacoh_declare_coherent_memory(&dev, 0xe000, 0, 0x1000, DMACOH_MEMORY_MAP, NULL, NULL),
          DMACOH_ENXIO);
    T_ERR(dmacoh_declare_coherent_memory(&dev, 0xd0000000, 0, 0x1000, DMACOH_MEMORY_IO, NULL, NULL),
          DMACOH_ENXIO);
    T_ASSERT(!dmacoh_device_has_region(&dev));
    /* No such device; addresses that are not a PCI address (paths among them). */
    T_ERR(dmacoh_pci_open("0000:04:00.0", &o, &none), DMACOH_ENOENT);
    T_ERR(dmacoh_pci_open("../../../etc", &o, &none), DMACOH_EINVAL);
    T_ERR(dmacoh_pci_open("0000:03:00.0/..", &o, &none), DMACOH_EINVAL);
    T_ERR(dmacoh_pci_open("0000:03:0g.0", &o, &none), DMACOH_EINVAL);
    T_ERR(dmacoh_pci_open(NULL, &o, &none), DMACOH_EINVAL);
    T_EQ_PTR(none, NULL);
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_pci_close(pci));
    remove_tree();
}

/* The declaration itself, in the process that lacks the permission: 0 when it fails with
 * EACCES and says why. */
static int declare_without_permission(void)
{
    struct dmacoh_pci *pci = NULL;
    struct dmacoh_device dev;
    struct dmacoh_pci_opts o = {root, false};
    int r;

    if (dmacoh_pci_open(BDF, &o, &pci) ||
        dmacoh_device_init(&dev, "card", NULL, dmacoh_pci_platform(pci)))
        return 1;
    /* MAP or IO: device memory is granted IO only on some CPUs (arm). */
    r = dmacoh_declare_coherent_memory(&dev, BAR0, 0, 0x1000, DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO,
                                       NULL, NULL);
    if (r != DMACOH_EACCES || !t_log_find("permission denied"))
        return 2;
    if (dmacoh_device_fini(&dev) || dmacoh_pci_close(pci))
        return 3;
    return 0;
}

/* Without permission on resourceN the declare fails with EACCES and says why. Root bypasses
 * file permissions, so as root the declaration runs in a child that has become the
 * unprivileged user nobody. */
static void permission_denied(void)
{
    char path[PATH_MAX + 64];
    pid_t pid;
    int st;

    make_tree();
    snprintf(path, sizeof(path), "%s/resource0", dev_dir);
    T_EQ_INT(chmod(path, 0), 0);
    if (geteuid() != 0) {
        T_EQ_INT(declare_without_permission(), 0);
        remove_tree();
        return;
    }
    T_EQ_INT(chmod(root, 0755), 0); /* mkdtemp's 0700: nobody could not even look */
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
            setresuid(65534, 65534, 65534) != 0)
            _exit(10);
        _exit(declare_without_permission());
    }
    T_EQ_INT(waitpid(pid, &st, 0), pid);
    remove_tree();
    T_ASSERT(WIFEXITED(st));
    T_EQ_INT(WEXITSTATUS(st), 0);
}

/* A small BAR that does not start on a page: resourceN's offset 0 is the page holding it. */
static void bar_not_on_a_page_boundary(void)
{
    struct dmacoh_declare_opts dopts = {.granule = 0x40};
    struct dmacoh_pci *pci;
    struct dmacoh_device dev;
    char buf[8] = {0};
    void *a;
    dmacoh_dma_addr_t h;

    make_tree();
    write_file("resource", "0x00000000fe001100 0x00000000fe0011ff 0x0000000000040200\n"
                           "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                           "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                           "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                           "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                           "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
    sized_file("resource0", 4096);
    pci = open_fake(false);
    T_OK(dmacoh_device_init(&dev, "small", NULL, dmacoh_pci_platform(pci)));
    t_declare_device_memory(&dev, 0xfe001140, 0x40, 0x40, 0, &dopts);
    T_OK(dmacoh_alloc_coherent(&dev, 0x40, 0, 0, &a, &h));
    T_EQ_U64(h, 0x40);
    dmacoh_memcpy_toio(a, "small", 6);
    read_bar("resource0", 0x140, buf, 6); /* 0xfe001140 is 0x140 into the BAR's page */
    T_ASSERT(strcmp(buf, "small") == 0);
    T_OK(dmacoh_release_coherent_memory(&dev, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_pci_close(pci));
    remove_tree();
}

/* Addresses as sysfs spells them: lower case, 4 to 8 domain digits, function 0-7. */
static void address_shapes(void)
{
    struct dmacoh_pci_opts o = {"/nonexistent-sysfs", false};
    struct dmacoh_pci *pci = NULL;

    T_ERR(dmacoh_pci_open("0000:0A:00.0", &o, &pci), DMACOH_EINVAL);  /* upper case */
    T_ERR(dmacoh_pci_open("0000:03:00.8", &o, &pci), DMACOH_EINVAL);  /* function 8 */
    T_ERR(dmacoh_pci_open("000:03:00.0", &o, &pci), DMACOH_EINVAL);   /* 3-digit domain */
    T_ERR(dmacoh_pci_open("10000:03:00.0", &o, &pci), DMACOH_ENOENT); /* VMD domain: valid */
    T_ERR(dmacoh_pci_open("0000:03:00.0", &o, &pci), DMACOH_ENOENT);
    T_EQ_PTR(pci, NULL);
}

/* A truncated resource file is an I/O error, not a silently short device. */
static void malformed_resource_file(void)
{
    struct dmacoh_pci_opts o;
    struct dmacoh_pci *pci = NULL;

    make_tree();
    write_file("resource", "0x00000000fe000000 0x00000000fe0fffff 0x0000000000040200\n");
    o.sysfs_root = root;
    o.write_combine = false;
    T_ERR(dmacoh_pci_open(BDF, &o, &pci), DMACOH_EIO);
    T_EQ_PTR(pci, NULL);
    remove_tree();
}

/* The resource file of make_tree() with line `n` (1-based) replaced by `line`. */
static void resource_with_line(int n, const char *line)
{
    static const char *const good[] = {
        "0x00000000fe000000 0x00000000fe0fffff 0x0000000000040200\n",
        "0x000000000000e000 0x000000000000e01f 0x0000000000040101\n",
        "0x0000000800000000 0x00000008003fffff 0x000000000014220c\n",
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n",
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n",
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n",
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n",
    };
    char text[2048] = "";

    for (int i = 0; i < 7; i++)
        strcat(text, i + 1 == n ? line : good[i]);
    write_file("resource", text);
}

/* Opening the fake device fails with -EIO, and the log names the resource file and line. */
static void open_refused_at_line(const char *line_tag)
{
    struct dmacoh_pci_opts o = {root, false};
    struct dmacoh_pci *pci = NULL;

    T_ERR(dmacoh_pci_open(BDF, &o, &pci), DMACOH_EIO);
    T_EQ_PTR(pci, NULL);
    T_ASSERT(t_log_find("/resource line"));
    T_ASSERT(t_log_find(line_tag));
}

/* A line longer than the kernel prints was read in 127-byte pieces, its tail as the next BAR
 * (here BAR0 and 71 blanks fill the first piece, and the tail made BAR1 a memory BAR at
 * 0xc0000000). */
static void resource_line_too_long(void)
{
    char line[256];

    make_tree();
    snprintf(line, sizeof(line), "%s%*s%s",
             "0x00000000fe000000 0x00000000fe0fffff 0x0000000000040200", 71, "",
             "0x00000000c0000000 0x00000000c00fffff 0x0000000000040200\n");
    resource_with_line(1, line);
    open_refused_at_line("line 1 ");
    T_ASSERT(t_log_find("longer than the kernel writes"));
    remove_tree();
}

static void resource_negative_number(void)
{
    make_tree();
    resource_with_line(3, "-0x0000000000000001 0x00000008003fffff 0x000000000014220c\n");
    open_refused_at_line("line 3 ");
    remove_tree();
}

/* Numbers shorter than the kernel's 16 digits are read; anything else on the line is not. */
static void resource_trailing_garbage(void)
{
    make_tree();
    resource_with_line(3, "0x800000000 0x8003fffff 0x14220c junk\n");
    open_refused_at_line("line 3 ");
    T_ASSERT(t_log_find("follows the third number"));
    remove_tree();
    make_tree();
    resource_with_line(2, "0xe000  0xe01f 0x40101\n");
    open_refused_at_line("line 2 ");
    remove_tree();
}

/* A BAR the kernel could not assign keeps its size but starts at 0: it is not memory at bus
 * 0. Checked for IORESOURCE_UNSET (0x20000000) and IORESOURCE_DISABLED (0x10000000). */
static void resource_bar_unset_or_disabled(void)
{
    static const char *const lines[] = {
        "0x0000000000000000 0x00000000000fffff 0x0000000020040200\n",
        "0x0000000000000000 0x00000000000fffff 0x0000000010040200\n",
    };

    for (int i = 0; i < 2; i++) {
        struct dmacoh_pci *pci;
        struct dmacoh_device dev;

        make_tree();
        resource_with_line(1, lines[i]);
        pci = open_fake(false);
        T_ERR(dmacoh_pci_bar(pci, 0, NULL, NULL, NULL), DMACOH_ENOENT);
        T_ASSERT(t_log_find("/resource line 1"));
        T_ASSERT(t_log_find(i ? "flagged disabled" : "flagged unset"));
        T_OK(dmacoh_pci_bar(pci, 2, NULL, NULL, NULL)); /* the other BARs stay usable */
        T_OK(dmacoh_device_init(&dev, "card", NULL, dmacoh_pci_platform(pci)));
        T_ERR(dmacoh_declare_coherent_memory(&dev, 0, 0, 0x1000, DMACOH_MEMORY_MAP, NULL, NULL),
              DMACOH_ENXIO);
        T_OK(dmacoh_device_fini(&dev));
        T_OK(dmacoh_pci_close(pci));
        remove_tree();
        t_log_reset();
    }
}

/* `resource` as a FIFO: a plain open waits forever for a writer. */
static void resource_is_a_fifo(void)
{
    char path[PATH_MAX + 64];
    struct dmacoh_pci_opts o = {root, false};
    struct dmacoh_pci *pci = NULL;

    make_tree();
    snprintf(path, sizeof(path), "%s/resource", dev_dir);
    T_EQ_INT(unlink(path), 0);
    T_EQ_INT(mkfifo(path, 0600), 0);
    alarm(10);
    T_ERR(dmacoh_pci_open(BDF, &o, &pci), DMACOH_EIO);
    alarm(0);
    T_ASSERT(t_log_find("is not a regular file"));
    T_EQ_PTR(pci, NULL);
    remove_tree();
}

/* `resource` as a symlink to a file of the same text: sysfs never makes one. */
static void resource_is_a_symlink(void)
{
    char path[PATH_MAX + 64], target[PATH_MAX + 64];
    struct dmacoh_pci_opts o = {root, false};
    struct dmacoh_pci *pci = NULL;

    make_tree();
    snprintf(path, sizeof(path), "%s/resource", dev_dir);
    snprintf(target, sizeof(target), "%s/resource.real", dev_dir);
    T_EQ_INT(rename(path, target), 0);
    T_EQ_INT(symlink(target, path), 0);
    T_ERR(dmacoh_pci_open(BDF, &o, &pci), DMACOH_EIO);
    T_ASSERT(t_log_find("symbolic link"));
    T_EQ_PTR(pci, NULL);
    remove_tree();
}

/* A declare of BAR0 on a tree whose resource0 was replaced by prepare(): refused with -EIO
 * and the log saying `why`, nothing mapped. */
static void declare_refused(void (*prepare)(const char *path), const char *why)
{
    char path[PATH_MAX + 64];
    struct dmacoh_pci *pci;
    struct dmacoh_device dev;

    make_tree();
    snprintf(path, sizeof(path), "%s/resource0", dev_dir);
    T_EQ_INT(unlink(path), 0);
    prepare(path);
    pci = open_fake(false);
    T_OK(dmacoh_device_init(&dev, "card", NULL, dmacoh_pci_platform(pci)));
    alarm(10); /* MAP or IO: either opens resource0 and checks it first */
    T_ERR(dmacoh_declare_coherent_memory(&dev, BAR0, 0, BAR0_SZ,
                                         DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL, NULL),
          DMACOH_EIO);
    alarm(0);
    T_ASSERT(t_log_find(why));
    T_ASSERT(t_log_find("resource0"));
    T_ASSERT(!dmacoh_device_has_region(&dev));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_pci_close(pci));
    remove_tree();
}

static void make_empty(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);

    T_ASSERT(fd >= 0);
    close(fd);
}

static void make_short(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);

    T_ASSERT(fd >= 0);
    T_EQ_INT(ftruncate(fd, BAR0_SZ / 2), 0);
    close(fd);
}

static void make_fifo(const char *path)
{
    T_EQ_INT(mkfifo(path, 0600), 0);
}

/* A symlink to a file the caller may write: mapped read-write, it would be overwritten. */
static void make_link(const char *path)
{
    char target[PATH_MAX + 64];

    snprintf(target, sizeof(target), "%s/precious", root);
    t_put_file(target, "precious\n");
    T_EQ_INT(truncate(target, BAR0_SZ), 0);
    T_EQ_INT(symlink(target, path), 0);
}

/* An empty resource0 mapped fine, and the first allocation died with SIGBUS while zeroing. */
static void resource0_empty(void)
{
    declare_refused(make_empty, "shorter than the memory");
}

static void resource0_shorter_than_the_bar(void)
{
    declare_refused(make_short, "shorter than the memory");
}

static void resource0_is_a_fifo(void)
{
    declare_refused(make_fifo, "is not a regular file");
}

static void resource0_is_a_symlink(void)
{
    declare_refused(make_link, "symbolic link");
}

/* resourceN_wc is checked as resourceN is: a symlinked one is refused, not skipped. */
static void resource_wc_is_a_symlink(void)
{
    char path[PATH_MAX + 64], target[PATH_MAX + 64];
    struct dmacoh_pci *pci;
    struct dmacoh_device dev;

    make_tree();
    snprintf(path, sizeof(path), "%s/resource2_wc", dev_dir);
    snprintf(target, sizeof(target), "%s/resource2", dev_dir);
    T_EQ_INT(unlink(path), 0);
    T_EQ_INT(symlink(target, path), 0);
    pci = open_fake(true);
    T_OK(dmacoh_device_init(&dev, "card", NULL, dmacoh_pci_platform(pci)));
    T_ERR(dmacoh_declare_coherent_memory(&dev, BAR2, 0, BAR2_SZ,
                                         DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL, NULL),
          DMACOH_EIO);
    T_ASSERT(t_log_find("resource2_wc is a symbolic link"));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_pci_close(pci));
    remove_tree();
}

static const struct t_case cases[] = {
    T_CASE(bars_are_parsed),
    T_CASE(region_in_a_bar_lands_at_the_right_offset),
    T_CASE(write_combining_maps_resource_wc),
    T_CASE(refusals),
    T_CASE(permission_denied),
    T_CASE(malformed_resource_file),
    T_CASE(bar_not_on_a_page_boundary),
    T_CASE(address_shapes),
    T_CASE(resource_line_too_long),
    T_CASE(resource_negative_number),
    T_CASE(resource_trailing_garbage),
    T_CASE(resource_bar_unset_or_disabled),
    T_CASE(resource_is_a_fifo),
    T_CASE(resource_is_a_symlink),
    T_CASE(resource0_empty),
    T_CASE(resource0_shorter_than_the_bar),
    T_CASE(resource0_is_a_fifo),
    T_CASE(resource0_is_a_symlink),
    T_CASE(resource_wc_is_a_symlink),
};

T_MAIN(cases)
