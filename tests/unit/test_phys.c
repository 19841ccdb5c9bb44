/* SPDX-License-Identifier: MIT */
/*
 * test_phys.c - one owner per physical range across platform instances, and what the log
 * says when the kernel refuses to map a BAR.
 *
 * Two platform instances keep two allocators, so the same device memory declared through
 * both would be handed out twice. Over fake trees in a temporary folder (a `resource` file
 * and regular files standing in for resourceN, a UIO tree whose map lies in the same BAR, a
 * sparse file standing in for /dev/mem, a device DAX tree): the second declaration of an
 * overlapping physical range is refused with -EBUSY and a log line naming the holder, in
 * every build and in the debug mode; disjoint ranges (down to neighbouring 256-byte regions
 * in one page) are fine; release, close and a failed map give the claim back; racing
 * declarations through two instances let exactly one win. Then mmap of a BAR failing with
 * EINVAL (through the mapping seam): the bound driver is named, or the causes that remain.
 */
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64 /* the /dev/mem stand-in reaches past 4 GiB, also with -m32 */
#endif
#include "fixture.h"
#include "t.h"

#include <dmacoh/dax.h>
#include <dmacoh/debug.h>
#include <dmacoh/devmem.h>
#include <dmacoh/dmacoh.h>
#include <dmacoh/hostmem.h>
#include <dmacoh/memfd.h>
#include <dmacoh/pci.h>
#include <dmacoh/sim.h>
#include <dmacoh/uio.h>

#include "platform/linux/internal.h" /* dmacoh__linux_mmap_fn, dmacoh__linux_fake_nodes */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BDF     "0000:03:00.0"
#define BAR2    0x800000000ull /* 4 MiB prefetchable memory BAR */
#define BAR2_SZ 0x400000ull
#define MIB     0x100000ull

/* MAP where the CPU may map device memory (x86), IO elsewhere: the claims are the same. */
#define MODES (DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO)
static char root[64], sysfs[128], devroot[128], pcidir[256], memfile[128];

static void mkdirs(const char *path)
{
    char cmd[PATH_MAX + 32];

    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
    T_EQ_INT(system(cmd), 0);
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX * 2];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    t_put_file(path, text);
}

/* A sparse file of `size` bytes with a 64-bit off_t here (t_sparse_file's may be 32-bit). */
static void big_sparse_file(const char *path, uint64_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    struct stat st;

    T_ASSERT(fd >= 0);
    T_EQ_INT(ftruncate(fd, (off_t)size), 0);
    T_EQ_INT(fstat(fd, &st), 0);
    T_EQ_U64((uint64_t)st.st_size, size);
    close(fd);
}

/*
 * One tree for every platform, all over BAR2 of one PCI function at physical 0x800000000:
 *  - PCI sysfs: <root>/sys/bus/pci/devices/0000:03:00.0/{resource, resource2};
 *  - UIO: uio0 whose map0 is the same BAR (as uio_pci_generic would offer it), node
 *    <root>/dev/uio0;
 *  - /dev/mem: <root>/mem, a sparse file as large as the end of the BAR;
 *  - device DAX: dax0.0 of 4 MiB whose `resource` says it starts at the BAR too (a
 *    contrivance: only the physical range matters to the claims), node <root>/dev/dax0.0.
 */
static void make_tree(void)
{
    char dir[PATH_MAX + 64], text[64];

    dmacoh__linux_fake_nodes = true; /* the UIO and DAX nodes below are regular files */
    snprintf(root, sizeof(root), "/tmp/dmacoh-phys-XXXXXX");
    T_ASSERT(mkdtemp(root) != NULL);
    snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
    snprintf(devroot, sizeof(devroot), "%s/dev", root);
    snprintf(pcidir, sizeof(pcidir), "%s/bus/pci/devices/" BDF, sysfs);
    mkdirs(pcidir);
    mkdirs(devroot);
    put(pcidir, "resource",
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
        "0x0000000800000000 0x00000008003fffff 0x000000000014220c\n"
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
    snprintf(dir, sizeof(dir), "%s/resource2", pcidir);
    t_sparse_file(dir, BAR2_SZ);

    snprintf(dir, sizeof(dir), "%s/class/uio/uio0/maps/map0", sysfs);
    mkdirs(dir);
    put(dir, "addr", "0x800000000\n");
    put(dir, "size", "0x400000\n");
    put(dir, "offset", "0x0\n");
    snprintf(dir, sizeof(dir), "%s/uio0", devroot);
    t_sparse_file(dir, BAR2_SZ);

    snprintf(memfile, sizeof(memfile), "%s/mem", root);
    big_sparse_file(memfile, BAR2 + BAR2_SZ);

    snprintf(dir, sizeof(dir), "%s/bus/dax/devices/dax0.0", sysfs);
    mkdirs(dir);
    snprintf(text, sizeof(text), "%llu\n", BAR2_SZ);
    put(dir, "size", text);
    put(dir, "align", "2097152\n");
    put(dir, "resource", "0x800000000\n");
    snprintf(dir, sizeof(dir), "%s/dax0.0", devroot);
    t_sparse_file(dir, BAR2_SZ);
}

static void remove_tree(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    T_EQ_INT(system(cmd), 0);
}

/* A platform instance of any kind over the tree, behind one interface. */
enum kind { PCI, UIO, DEVMEM, DAX };

struct inst {
    enum kind kind;
    void *h;
    struct dmacoh_device dev;
};

static void inst_open(struct inst *in, enum kind kind, const char *devname)
{
    struct dmacoh_platform *p = NULL;

    in->kind = kind;
    if (kind == PCI) {
        struct dmacoh_pci_opts o = {sysfs, false};
        struct dmacoh_pci *pci;

        T_OK(dmacoh_pci_open(BDF, &o, &pci));
        in->h = pci;
        p = dmacoh_pci_platform(pci);
    } else if (kind == UIO) {
        struct dmacoh_uio_opts o = {0};
        struct dmacoh_uio *uio;

        o.sysfs_root = sysfs;
        o.dev_root = devroot;
        T_OK(dmacoh_uio_open(0, &o, &uio));
        in->h = uio;
        p = dmacoh_uio_platform(uio);
    } else if (kind == DEVMEM) {
        struct dmacoh_devmem_opts o = {memfile, false};
        struct dmacoh_devmem *dm;

        T_OK(dmacoh_devmem_open(&o, &dm));
        in->h = dm;
        p = dmacoh_devmem_platform(dm);
    } else {
        struct dmacoh_dax_opts o = {0};
        struct dmacoh_dax *dax;

        o.sysfs_root = sysfs;
        o.dev_root = devroot;
        T_OK(dmacoh_dax_open("dax0.0", &o, &dax));
        in->h = dax;
        p = dmacoh_dax_platform(dax);
    }
    T_OK(dmacoh_device_init(&in->dev, devname, NULL, p));
}

static void inst_close(struct inst *in)
{
    T_OK(dmacoh_device_fini(&in->dev));
    if (in->kind == PCI)
        T_OK(dmacoh_pci_close((struct dmacoh_pci *)in->h));
    else if (in->kind == UIO)
        T_OK(dmacoh_uio_close((struct dmacoh_uio *)in->h));
    else if (in->kind == DEVMEM)
        T_OK(dmacoh_devmem_close((struct dmacoh_devmem *)in->h));
    else
        T_OK(dmacoh_dax_close((struct dmacoh_dax *)in->h));
}

static int declare(struct inst *in, uint64_t bus, uint64_t size)
{
    return dmacoh_declare_coherent_memory(&in->dev, bus, bus - BAR2, size, MODES, NULL, NULL);
}

/* First declares [bus1, +size1) through a, then [bus2, +size2) through b, which overlaps it:
 * refused with -EBUSY and a log line naming a's kind and `holder`; after a releases, b's
 * declaration goes through, and a's is refused in turn (the claim changed hands). */
static void second_refused(enum kind ka, enum kind kb, uint64_t bus1, uint64_t size1, uint64_t bus2,
                           uint64_t size2, const char *holder)
{
    struct inst a, b;
    char range[64];
    void *p;
    dmacoh_dma_addr_t h;

    inst_open(&a, ka, "first");
    inst_open(&b, kb, "second");
    T_OK(declare(&a, bus1, size1));
    t_log_reset();
    T_ERR(declare(&b, bus2, size2), DMACOH_EBUSY);
    T_ASSERT(t_log_find("already declared through"));
    T_ASSERT(t_log_find(holder));
    snprintf(range, sizeof(range), "%#llx+%#llx", (unsigned long long)bus1,
             (unsigned long long)size1);
    T_ASSERT(t_log_find(range)); /* the holder's range */
    T_ASSERT(t_log_find("another platform instance"));
    T_ASSERT(!dmacoh_device_has_region(&b.dev));
    /* a is untouched and still allocates. */
    T_OK(dmacoh_alloc_coherent(&a.dev, 4096, 0, 0, &p, &h));
    T_OK(dmacoh_free_coherent(&a.dev, 4096, p, h));
    T_OK(dmacoh_release_coherent_memory(&a.dev, 0));
    T_OK(declare(&b, bus2, size2)); /* the release gave the claim back */
    T_ERR(declare(&a, bus1, size1), DMACOH_EBUSY);
    T_OK(dmacoh_release_coherent_memory(&b.dev, 0));
    inst_close(&b);
    inst_close(&a);
}

/* Two dmacoh_pci_open of one function, the same BAR range: in every build and in the debug
 * mode (whose own overlap check compares CPU ranges, which differ here). */
static void two_pci_instances_same_bar(void)
{
    make_tree();
    second_refused(PCI, PCI, BAR2, MIB, BAR2, MIB, "pci " BDF " BAR 2");
    T_OK(dmacoh_debug_set(DMACOH_DEBUG_ALL));
    second_refused(PCI, PCI, BAR2, MIB, BAR2, MIB, "pci " BDF " BAR 2");
    T_OK(dmacoh_debug_set(0));
    remove_tree();
}

/* PCI sysfs and UIO over the same BAR, in both orders, with partial overlaps. */
static void pci_and_uio_same_range(void)
{
    make_tree();
    second_refused(PCI, UIO, BAR2, MIB, BAR2 + 0x80000, MIB, "pci " BDF " BAR 2");
    second_refused(UIO, PCI, BAR2 + MIB, MIB, BAR2, 2 * MIB, "uio uio0 map0");
    remove_tree();
}

/* PCI sysfs and /dev/mem over the same physical range, in both orders. */
static void pci_and_devmem_same_range(void)
{
    make_tree();
    second_refused(DEVMEM, PCI, BAR2 + 0x1000, 0x1000, BAR2, BAR2_SZ, memfile);
    second_refused(PCI, DEVMEM, BAR2 + 3 * MIB, MIB, BAR2 + 3 * MIB + 0xf000, 0x1000, "pci " BDF);
    remove_tree();
}

/* Device DAX, the fourth platform that claims, against /dev/mem. */
static void dax_and_devmem_same_range(void)
{
    make_tree();
    second_refused(DAX, DEVMEM, BAR2 + 2 * MIB, 2 * MIB, BAR2 + 3 * MIB, 0x1000, "dax dax0.0");
    second_refused(DEVMEM, DAX, BAR2, 0x1000, BAR2, 2 * MIB, "devmem");
    remove_tree();
}

/* hostmem stacked in front of a PCI instance is a platform instance of its own: a device on
 * the inner PCI platform cannot take what a device on hostmem declared, nor the reverse. */
static void hostmem_in_front_and_behind(void)
{
    struct dmacoh_hostmem_opts ho = {0};
    struct dmacoh_hostmem *hm;
    struct inst inner;
    struct dmacoh_device front;

    make_tree();
    inst_open(&inner, PCI, "inner");
    ho.declared = dmacoh_pci_platform((struct dmacoh_pci *)inner.h);
    T_OK(dmacoh_hostmem_open(&ho, &hm));
    T_OK(dmacoh_device_init(&front, "front", NULL, dmacoh_hostmem_platform(hm)));
    T_OK(dmacoh_declare_coherent_memory(&front, BAR2, 0, MIB, MODES, NULL, NULL));
    t_log_reset();
    T_ERR(declare(&inner, BAR2, MIB), DMACOH_EBUSY);
    T_ASSERT(t_log_find("by this platform instance")); /* the same pci instance, underneath */
    T_OK(dmacoh_release_coherent_memory(&front, 0));
    T_OK(declare(&inner, BAR2, MIB));
    T_ERR(dmacoh_declare_coherent_memory(&front, BAR2, 0, MIB, MODES, NULL, NULL), DMACOH_EBUSY);
    T_OK(dmacoh_release_coherent_memory(&inner.dev, 0));
    T_OK(dmacoh_device_fini(&front));
    T_OK(dmacoh_hostmem_close(hm));
    inst_close(&inner);
    remove_tree();
}

/* Disjoint ranges through different instances are fine, down to neighbouring 256-byte
 * regions in one page: the claims are the declared bytes, not the pages mapped. */
static void disjoint_ranges_are_fine(void)
{
    struct dmacoh_declare_opts o = {0};
    struct inst a, b, c;

    make_tree();
    inst_open(&a, PCI, "a");
    inst_open(&b, UIO, "b");
    inst_open(&c, DEVMEM, "c");
    T_OK(declare(&a, BAR2, MIB));
    T_OK(declare(&b, BAR2 + MIB, MIB));
    T_OK(dmacoh_release_coherent_memory(&b.dev, 0));
    o.granule = 256;
    T_OK(dmacoh_declare_coherent_memory(&b.dev, BAR2 + 2 * MIB, 0, 256, MODES, &o, NULL));
    T_OK(dmacoh_declare_coherent_memory(&c.dev, BAR2 + 2 * MIB + 256, 256, 256, MODES, &o, NULL));
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    /* One byte of overlap (the last granule of b's range) is an overlap. */
    T_ERR(dmacoh_declare_coherent_memory(&c.dev, BAR2 + 2 * MIB, 0, 512, MODES, &o, NULL),
          DMACOH_EBUSY);
    T_OK(dmacoh_release_coherent_memory(&a.dev, 0));
    T_OK(dmacoh_release_coherent_memory(&b.dev, 0));
    inst_close(&c);
    inst_close(&b);
    inst_close(&a);
    remove_tree();
}

/* Stands in for the kernel's mmap through the mapping seam: fails with fail_errno. */
static int fail_errno = ENOMEM;

static void *fail_mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)
{
    (void)addr;
    (void)len;
    (void)prot;
    (void)flags;
    (void)fd;
    (void)off;
    errno = fail_errno;
    return MAP_FAILED;
}

/* A map that fails after the claim gives the claim back; so does a forced release with
 * allocations outstanding, and a platform closed after release. */
static void every_way_out_gives_the_claim_back(void)
{
    struct inst a, b;
    void *(*real)(void *, size_t, int, int, int, int64_t) = dmacoh__linux_mmap_fn;
    void *p;
    dmacoh_dma_addr_t h;

    make_tree();
    inst_open(&a, PCI, "a");
    inst_open(&b, DEVMEM, "b");
    dmacoh__linux_mmap_fn = fail_mmap;
    T_ERR(declare(&a, BAR2, MIB), DMACOH_ENOMEM);
    dmacoh__linux_mmap_fn = real;
    T_OK(declare(&b, BAR2, MIB)); /* the failed map left no claim */
    T_OK(dmacoh_alloc_coherent(&b.dev, 4096, 0, 0, &p, &h));
    T_OK(dmacoh_release_coherent_memory(&b.dev, DMACOH_RELEASE_FORCE));
    T_OK(declare(&a, BAR2, MIB)); /* nor did the forced release */
    T_OK(dmacoh_release_coherent_memory(&a.dev, 0));
    inst_close(&a);
    T_OK(declare(&b, BAR2, MIB));
    T_OK(dmacoh_release_coherent_memory(&b.dev, 0));
    inst_close(&b);
    remove_tree();
}

/* Two threads declare the same range through two instances at once, many times: exactly
 * one wins each round. */
struct racer {
    struct inst *in;
    pthread_barrier_t *go;
    int r;
};

static void *race(void *arg)
{
    struct racer *x = (struct racer *)arg;

    pthread_barrier_wait(x->go);
    x->r = declare(x->in, BAR2, MIB);
    return NULL;
}

static void racing_declarations_one_wins(void)
{
    struct inst a, b;
    pthread_barrier_t go;
    pthread_t ta, tb;

    make_tree();
    inst_open(&a, PCI, "a");
    inst_open(&b, UIO, "b");
    T_EQ_INT(pthread_barrier_init(&go, NULL, 2), 0);
    for (int round = 0; round < 200; round++) {
        struct racer ra = {&a, &go, 1}, rb = {&b, &go, 1};

        T_EQ_INT(pthread_create(&ta, NULL, race, &ra), 0);
        T_EQ_INT(pthread_create(&tb, NULL, race, &rb), 0);
        T_EQ_INT(pthread_join(ta, NULL), 0);
        T_EQ_INT(pthread_join(tb, NULL), 0);
        T_ASSERT((ra.r == 0 && rb.r == DMACOH_EBUSY) || (ra.r == DMACOH_EBUSY && rb.r == 0));
        T_OK(dmacoh_release_coherent_memory(ra.r == 0 ? &a.dev : &b.dev, 0));
    }
    T_EQ_INT(pthread_barrier_destroy(&go), 0);
    inst_close(&b);
    inst_close(&a);
    remove_tree();
}

/* ---- the kernel refuses to map a BAR with EINVAL ---- */

static int declare_failing(int err)
{
    void *(*real)(void *, size_t, int, int, int, int64_t) = dmacoh__linux_mmap_fn;
    struct inst a;
    int r;

    inst_open(&a, PCI, "card");
    fail_errno = err;
    dmacoh__linux_mmap_fn = fail_mmap;
    t_log_reset();
    r = declare(&a, BAR2, MIB);
    dmacoh__linux_mmap_fn = real;
    fail_errno = ENOMEM;
    T_OK(declare(&a, BAR2, MIB)); /* nothing was left claimed */
    T_OK(dmacoh_release_coherent_memory(&a.dev, 0));
    inst_close(&a);
    return r;
}

/* With a driver bound, it is named and the error is -EBUSY; without one, the log says so,
 * that the range was checked against the BAR, and what remains (not "a driver owns it"). */
static void pci_einval_says_what_was_checked(void)
{
    char link[PATH_MAX + 16];

    make_tree();
    T_ERR(declare_failing(EINVAL), DMACOH_EINVAL);
    T_ASSERT(t_log_find("no driver is bound"));
    T_ASSERT(t_log_find("inside this memory BAR (0x800000000+0x400000)"));
    T_ASSERT(t_log_find("strict iomem"));
    T_ASSERT(!t_log_find("kernel driver"));

    snprintf(link, sizeof(link), "%s/driver", pcidir);
    T_EQ_INT(symlink("../../../../bus/pci/drivers/nvme", link), 0);
    T_ERR(declare_failing(EINVAL), DMACOH_EBUSY);
    T_ASSERT(t_log_find("kernel driver 'nvme' is bound to the device"));
    T_ASSERT(!t_log_find("no driver is bound"));

    /* Other errors are not explained as EINVAL. */
    T_ERR(declare_failing(ENODEV), DMACOH_ENODEV);
    T_ASSERT(!t_log_find("nvme"));
    remove_tree();
}

/* ---- DMACOH_MAP_MULTIPROCESS ---- */

struct entries {
    unsigned n;
    struct dmacoh__registry_entry first;
};

static int note_entry(void *ctx, const struct dmacoh__registry_entry *e)
{
    struct entries *s = (struct entries *)ctx;

    if (s->n++ == 0)
        s->first = *e;
    return 0;
}

static struct entries registry_entries(void)
{
    struct entries s;

    memset(&s, 0, sizeof(s));
    T_OK(dmacoh__linux_registry_walk(note_entry, &s));
    return s;
}

/* Maps BAR2+1MiB through p without and then with DMACOH_MAP_MULTIPROCESS: the same mode
 * both times; the claim is exclusive, then shared, in the machine-wide registry; another
 * instance of this process (`other`) is refused the range while it is mapped shared. */
static void map_with_the_bit(struct dmacoh_platform *p, struct dmacoh_platform *other)
{
    struct dmacoh_mapping m, m2;
    struct entries e;
    int mode;

    memset(&m, 0, sizeof(m));
    T_OK(p->ops->map(p->ctx, BAR2, MIB, 0, 0x1000, MODES, &m));
    mode = m.mode;
    e = registry_entries();
    T_EQ_INT((int)e.n, 1);
    T_ASSERT(!e.first.shared);
    p->ops->unmap(p->ctx, &m, MIB);
    memset(&m, 0, sizeof(m));
    T_OK(p->ops->map(p->ctx, BAR2, MIB, 0, 0x1000, MODES | DMACOH_MAP_MULTIPROCESS, &m));
    T_EQ_INT(m.mode, mode);
    e = registry_entries();
    T_EQ_INT((int)e.n, 1);
    T_ASSERT(e.first.shared);
    T_EQ_U64(e.first.bus, BAR2);
    T_EQ_U64(e.first.size, MIB);
    T_EQ_INT((int)e.first.pid, (int)getpid());
    memset(&m2, 0, sizeof(m2)); /* one attach per process: the process-wide rule stands */
    T_ERR(other->ops->map(other->ctx, BAR2, MIB, 0, 0x1000, MODES | DMACOH_MAP_MULTIPROCESS, &m2),
          DMACOH_EBUSY);
    p->ops->unmap(p->ctx, &m, MIB);
    e = registry_entries();
    T_EQ_INT((int)e.n, 0);
}

/* Every platform that claims physical ranges passes DMACOH_MAP_MULTIPROCESS to its claim
 * (hostmem to the platform behind it) and grants the mode it grants without it; memfd and
 * the simulator, which claim nothing, grant the modes asked. */
static void multiprocess_bit_passes_through(void)
{
    static const enum kind kinds[] = {PCI, UIO, DEVMEM, DAX};
    struct dmacoh_hostmem_opts ho = {0};
    struct dmacoh_sim_memory sm = {0x10000000, MIB, DMACOH_MEMORY_IO, false, 0};
    struct dmacoh_platform *p;
    struct dmacoh_hostmem *hm;
    struct dmacoh_memfd *mf;
    struct dmacoh_sim *sim;
    struct dmacoh_mapping m;
    struct inst a, b;
    char reg[PATH_MAX];

    make_tree();
    snprintf(reg, sizeof(reg), "%s/registry", root);
    T_EQ_INT(setenv("DMACOH_REGISTRY", reg, 1), 0);
    for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        inst_open(&a, kinds[i], "a");
        inst_open(&b, kinds[i] == DEVMEM ? PCI : DEVMEM, "b");
        map_with_the_bit(a.dev.platform, b.dev.platform);
        inst_close(&b);
        inst_close(&a);
    }
    inst_open(&a, PCI, "inner");
    inst_open(&b, DEVMEM, "b");
    ho.declared = dmacoh_pci_platform((struct dmacoh_pci *)a.h);
    T_OK(dmacoh_hostmem_open(&ho, &hm));
    map_with_the_bit(dmacoh_hostmem_platform(hm), b.dev.platform);
    T_OK(dmacoh_hostmem_close(hm));
    inst_close(&b);
    inst_close(&a);

    T_OK(dmacoh_memfd_create(0x10000000, MIB, &mf));
    p = dmacoh_memfd_platform(mf);
    for (int want = DMACOH_MEMORY_MAP; want <= DMACOH_MEMORY_IO; want <<= 1) {
        memset(&m, 0, sizeof(m));
        T_OK(p->ops->map(p->ctx, 0x10000000, MIB, 0, 0x1000, want | DMACOH_MAP_MULTIPROCESS, &m));
        T_EQ_INT(m.mode, want);
        p->ops->unmap(p->ctx, &m, MIB);
    }
    T_OK(dmacoh_memfd_close(mf));
    T_OK(dmacoh_sim_create(NULL, &sim));
    T_OK(dmacoh_sim_add_memory(sim, &sm));
    p = dmacoh_sim_platform(sim);
    memset(&m, 0, sizeof(m));
    T_OK(p->ops->map(p->ctx, sm.bus, MIB, 0, 0x1000, MODES | DMACOH_MAP_MULTIPROCESS, &m));
    T_EQ_INT(m.mode, DMACOH_MEMORY_IO);
    p->ops->unmap(p->ctx, &m, MIB);
    T_ERR(p->ops->map(p->ctx, sm.bus, MIB, 0, 0x1000, DMACOH_MEMORY_MAP | DMACOH_MAP_MULTIPROCESS,
                      &m),
          DMACOH_ENOTSUP);
    T_OK(dmacoh_sim_destroy(sim));
    T_EQ_INT((int)registry_entries().n, 0); /* neither claimed anything */
    T_EQ_INT(unsetenv("DMACOH_REGISTRY"), 0);
    remove_tree();
}

static const struct t_case cases[] = {
    T_CASE(two_pci_instances_same_bar),         T_CASE(pci_and_uio_same_range),
    T_CASE(pci_and_devmem_same_range),          T_CASE(dax_and_devmem_same_range),
    T_CASE(hostmem_in_front_and_behind),        T_CASE(disjoint_ranges_are_fine),
    T_CASE(every_way_out_gives_the_claim_back), T_CASE(racing_declarations_one_wins),
    T_CASE(pci_einval_says_what_was_checked),   T_CASE(multiprocess_bit_passes_through),
};

T_MAIN(cases)
