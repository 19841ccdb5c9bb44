/* SPDX-License-Identifier: MIT */
/*
 * guest.c - the program tests/hw/run.sh runs inside a QEMU guest on a real Linux kernel.
 *
 * Each proof uses the library's public API against an emulated PCI device and prints what it
 * did, one `hw: <proof>: ...` line a step, ending in `hw: <proof>: PASS` or `FAIL`. Proofs
 * whose evidence lies outside the guest also print requests that run.sh checks after the
 * guest is done:
 *   HOSTCHECK <file> <offset> <length> <tag>  the bytes at offset of the host's backing file
 *                                             (ivshmem) are <tag> repeated
 *                                             (ivshmem, NVMe namespaces: <file>.bin, or
 *                                             <file> itself when it has a dot)
 *   HOSTWRONG <file> <offset> <length> <tag>  a control: those bytes are NOT <tag> repeated
 *   HOSTDUMP <phys> <length> <tag>            the same for guest-physical memory, read by
 *                                             the host through QEMU's monitor (pmemsave)
 *
 * Usage: dmacoh-hw PROOF...   (or `all`). Adding a proof: write `static int proof_x(void)`
 * returning 0 on success, add a line to `proofs[]`, and, if it needs a device, add the
 * `-device` to run.sh's QEMU command line (and any module to its initramfs). The VFIO proofs
 * use a second ivshmem and a second edu that /init binds to vfio-pci (find_vfio_device());
 * find_device() finds the others.
 */
#include <dmacoh/debug.h>
#include <dmacoh/devmem.h>
#include <dmacoh/discover.h>
#include <dmacoh/dmacoh.h>
#include <dmacoh/hostmem.h>
#include <dmacoh/io.h>
#include <dmacoh/pci.h>
#include <dmacoh/shared.h>
#include <dmacoh/sim.h>
#include <dmacoh/uio.h>
#include <dmacoh/vfio.h>

/* dmacoh__step_fn, the test hook with which shared-bar kills a process inside the lock */
#include "../../src/core/internal.h"
/* dmacoh__linux_registry_walk, with which vfio-shared lists the registry's holders */
#include "../../src/platform/linux/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SYS_PCI "/sys/bus/pci/devices"

static const char *cur = "?"; /* the proof running, for messages */

#define say(...)                                                                                   \
    do {                                                                                           \
        printf("hw: %s: ", cur);                                                                   \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        fflush(stdout);                                                                            \
    } while (0)

#define check(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            say("check failed: %s", #cond);                                                        \
            say(__VA_ARGS__);                                                                      \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static void log_fn(void *user, int level, const char *msg)
{
    (void)user;
    (void)level;
    printf("hw: %s: [lib] %s\n", cur, msg);
}

/* A hex number from a sysfs attribute of PCI device `name`, or 0. */
static unsigned long long attr_hex(const char *name, const char *attr)
{
    char path[PATH_MAX];
    unsigned long long v = 0;
    FILE *f;

    snprintf(path, sizeof(path), SYS_PCI "/%s/%s", name, attr);
    f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%llx", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

/* True when PCI device `name` is bound to vfio-pci (/init binds the second ivshmem and the
 * second edu to it for the VFIO proofs; the other proofs use the first ones). */
static bool on_vfio(const char *name)
{
    char path[PATH_MAX], target[PATH_MAX];
    ssize_t n;

    snprintf(path, sizeof(path), SYS_PCI "/%s/driver", name);
    n = readlink(path, target, sizeof(target) - 1);
    if (n <= 0)
        return false;
    target[n] = '\0';
    return strstr(target, "/vfio-pci") != NULL;
}

/* The PCI device with this vendor and device id, as "0000:00:03.0", bound to vfio-pci or not
 * as `vfio` says. */
static int find_device_on(unsigned vendor, unsigned device, bool vfio, char *bdf, size_t len)
{
    DIR *d = opendir(SYS_PCI);
    struct dirent *e;
    int found = -1;

    if (!d)
        return -1;
    while (found && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= len)
            continue;
        if (attr_hex(e->d_name, "vendor") == vendor && attr_hex(e->d_name, "device") == device &&
            on_vfio(e->d_name) == vfio) {
            memcpy(bdf, e->d_name, strlen(e->d_name) + 1);
            found = 0;
        }
    }
    closedir(d);
    return found;
}

static int find_device(unsigned vendor, unsigned device, char *bdf, size_t len)
{
    return find_device_on(vendor, device, false, bdf, len);
}

static int find_vfio_device(unsigned vendor, unsigned device, char *bdf, size_t len)
{
    return find_device_on(vendor, device, true, bdf, len);
}

/* Sets bits of the PCI command register (config offset 4): 0x2 memory decode, 0x4 bus master.
 * Devices with no driver have them off, and neither sysfs nor uio_pci_generic sets bus
 * master. */
static int config_enable(const char *bdf, unsigned bits)
{
    char path[PATH_MAX];
    unsigned char cmd[2];
    int fd, r = -1;

    snprintf(path, sizeof(path), SYS_PCI "/%s/config", bdf);
    fd = open(path, O_RDWR);
    if (fd < 0)
        return -1;
    if (pread(fd, cmd, 2, 4) == 2) {
        cmd[0] = (unsigned char)(cmd[0] | bits);
        r = pwrite(fd, cmd, 2, 4) == 2 ? 0 : -1;
    }
    close(fd);
    return r;
}

/* Fills len bytes with tag repeated (what run.sh compares against). */
static void fill_tag(void *p, size_t len, const char *tag)
{
    size_t n = strlen(tag);

    for (size_t i = 0; i < len; i++)
        ((char *)p)[i] = tag[i % n];
}

/* ---- proof: ivshmem-plain BAR2 through the PCI sysfs platform ---------------------------- */

/* Declares an ivshmem BAR2 (already opened on dev's platform) at device address 0, which is
 * the offset in the host's backing file `file`, fills five allocations with tags that start
 * with `prefix`, asks the host to check each (HOSTCHECK), and frees and releases all. */
static int ivshmem_fill(struct dmacoh_device *dev, dmacoh_phys_addr_t bar, uint64_t size,
                        const char *prefix, const char *file)
{
    static const size_t sizes[] = {4096, 8192, 100, 65536, 12288};
    void *cpu[5];
    dmacoh_dma_addr_t h[5];
    char tag[32];
    int granted = 0;

    check(dmacoh_declare_coherent_memory(
              dev, bar, 0, size, DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL, &granted) == 0,
          "declare");
    say("declared bus %#llx as device 0x0, granted %s", (unsigned long long)bar,
        granted == DMACOH_MEMORY_MAP ? "MAP" : "IO");
    for (int i = 0; i < 5; i++) {
        check(dmacoh_alloc_coherent(dev, sizes[i], 0, 0, &cpu[i], &h[i]) == 0, "alloc %zu",
              sizes[i]);
        snprintf(tag, sizeof(tag), "%s-%d-%05zx.", prefix, i, sizes[i]);
        if (granted == DMACOH_MEMORY_MAP)
            fill_tag(cpu[i], sizes[i], tag);
        else
            for (size_t k = 0; k < sizes[i]; k++)
                dmacoh_iowrite8((uint8_t)tag[k % strlen(tag)], (char *)cpu[i] + k);
        say("alloc %zu bytes: dma %#llx cpu %p, filled with '%s'", sizes[i],
            (unsigned long long)h[i], cpu[i], tag);
        printf("HOSTCHECK %s %#llx %zu %s\n", file, (unsigned long long)h[i], sizes[i], tag);
    }
    for (int i = 0; i < 5; i++)
        check(dmacoh_free_coherent(dev, sizes[i], cpu[i], h[i]) == 0, "free");
    check(dmacoh_release_coherent_memory(dev, 0) == 0, "release");
    return 0;
}

static int proof_pci(void)
{
    struct dmacoh_pci *pci;
    struct dmacoh_device dev;
    dmacoh_phys_addr_t bar;
    uint64_t size;
    char bdf[32];
    int kind = 0;

    check(find_device(0x1af4, 0x1110, bdf, sizeof(bdf)) == 0, "no ivshmem device");
    check(config_enable(bdf, 0x2) == 0, "cannot enable memory decode of %s", bdf);
    check(dmacoh_pci_open(bdf, NULL, &pci) == 0, "dmacoh_pci_open(%s)", bdf);
    check(dmacoh_pci_bar(pci, 2, &bar, &size, &kind) == 0, "no BAR2");
    say("ivshmem %s BAR2 at bus %#llx, %llu KiB, kind %d", bdf, (unsigned long long)bar,
        (unsigned long long)(size >> 10), kind);
    check(dmacoh_device_init(&dev, "ivshmem", NULL, dmacoh_pci_platform(pci)) == 0, "init");
    if (ivshmem_fill(&dev, bar, size, "pci", "ivshmem"))
        return 1;
    check(dmacoh_device_fini(&dev) == 0 && dmacoh_pci_close(pci) == 0, "close");
    return 0;
}

/* ---- proof: debug-mode IO cookies on a real BAR ------------------------------------------ */

/* 64 KiB of ivshmem BAR2 declared IO with the debug mode's IO cookies: the pointer is not the
 * BAR mapping, a child that loads through it dies of SIGSEGV, and memcpy_toio through it
 * lands in the BAR (the host checks the backing file). */
static int proof_io_cookies(void)
{
    static const char tag[] = "cookie-io.";
    struct dmacoh_pci *pci;
    struct dmacoh_device dev;
    dmacoh_phys_addr_t bar;
    dmacoh_dma_addr_t h;
    unsigned char buf[0x2000];
    uint32_t word;
    int granted = 0, status = 0;
    char bdf[32];
    void *p;
    pid_t pid;

    check(find_device(0x1af4, 0x1110, bdf, sizeof(bdf)) == 0, "no ivshmem device");
    check(config_enable(bdf, 0x2) == 0, "cannot enable memory decode of %s", bdf);
    check(dmacoh_pci_open(bdf, NULL, &pci) == 0, "dmacoh_pci_open(%s)", bdf);
    check(dmacoh_pci_bar(pci, 2, &bar, NULL, NULL) == 0, "no BAR2");
    check(dmacoh_debug_set(DMACOH_DEBUG_IO_COOKIES) == 0, "debug mode");
    check(dmacoh_device_init(&dev, "ivshmem", NULL, dmacoh_pci_platform(pci)) == 0, "init");
    check(dmacoh_declare_coherent_memory(&dev, bar + 0xc0000, 0xc0000, 0x10000, DMACOH_MEMORY_IO,
                                         NULL, &granted) == 0 &&
              granted == DMACOH_MEMORY_IO,
          "declare IO");
    check(dmacoh_alloc_coherent(&dev, sizeof(buf), 0, 0, &p, &h) == 0, "alloc");
    check((void *)dmacoh__io_resolve(p) != p, "the pointer is the mapping, not a cookie");
    say("cookie %p stands for the BAR mapping at %p (dma %#llx)", p, (void *)dmacoh__io_resolve(p),
        (unsigned long long)h);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        (void)*(volatile uint32_t *)p;
        _exit(0);
    }
    check(pid > 0 && waitpid(pid, &status, 0) == pid, "fork");
    check(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
          "a direct load through the cookie did not fault (status %#x)", status);
    say("a direct load through the cookie: child killed by SIGSEGV");
    fill_tag(buf, sizeof(buf), tag);
    dmacoh_memcpy_toio(p, buf, sizeof(buf));
    memcpy(&word, buf + 4, sizeof(word));
    check(dmacoh_ioread32((char *)p + 4) == word, "ioread32 through the cookie");
    printf("HOSTCHECK ivshmem %#llx %zu %s\n", (unsigned long long)h, sizeof(buf), tag);
    check(dmacoh_free_coherent(&dev, sizeof(buf), p, h) == 0, "free");
    check(dmacoh_release_coherent_memory(&dev, 0) == 0, "release");
    check(dmacoh_debug_set(0) == 0 && dmacoh_device_fini(&dev) == 0, "fini");
    check(dmacoh_pci_close(pci) == 0, "close pci");
    return 0;
}

/* ---- proof: hostmem in front of the PCI platform (declared memory first, then RAM) -------- */

static int proof_pci_fallback(void)
{
    struct dmacoh_pci *pci;
    struct dmacoh_hostmem *hm;
    struct dmacoh_hostmem_opts ho = {0};
    struct dmacoh_device dev;
    dmacoh_phys_addr_t bar, phys;
    dmacoh_dma_addr_t h1, h2;
    void *p1, *p2;
    char bdf[32];

    check(find_device(0x1af4, 0x1110, bdf, sizeof(bdf)) == 0, "no ivshmem device");
    check(config_enable(bdf, 0x2) == 0, "cannot enable memory decode of %s", bdf);
    check(dmacoh_pci_open(bdf, NULL, &pci) == 0, "dmacoh_pci_open(%s)", bdf);
    check(dmacoh_pci_bar(pci, 2, &bar, NULL, NULL) == 0, "no BAR2");
    ho.declared = dmacoh_pci_platform(pci);
    check(dmacoh_hostmem_open(&ho, &hm) == 0, "dmacoh_hostmem_open");
    check(dmacoh_device_init(&dev, "ivshmem", NULL, dmacoh_hostmem_platform(hm)) == 0, "init");
    /* The last 64 KiB of BAR2, not exclusive: when it is full, RAM serves. */
    check(dmacoh_declare_coherent_memory(&dev, bar + 0xf0000, 0xf0000, 0x10000, DMACOH_MEMORY_MAP,
                                         NULL, NULL) == 0,
          "declare through hostmem in front of pci");
    check(dmacoh_alloc_coherent(&dev, 0x10000, 0, 0, &p1, &h1) == 0, "alloc from the BAR");
    fill_tag(p1, 0x10000, "fallback-bar.");
    printf("HOSTCHECK ivshmem %#llx %u %s\n", (unsigned long long)h1, 0x10000u, "fallback-bar.");
    check(dmacoh_origin_of(&dev, p1) == DMACOH_ORIGIN_REGION, "p1 from the region");
    check(dmacoh_alloc_coherent(&dev, 0x3000, 0, 0, &p2, &h2) == 0, "alloc from RAM");
    check(dmacoh_origin_of(&dev, p2) == DMACOH_ORIGIN_SYSTEM, "p2 from system memory");
    check(dmacoh_hostmem_phys(hm, p2, &phys) == 0 && phys == h2, "p2's handle is physical");
    say("region full (dma %#llx in BAR2); the next 12 KiB came from RAM at physical %#llx",
        (unsigned long long)h1, (unsigned long long)h2);
    check(dmacoh_free_coherent(&dev, 0x3000, p2, h2) == 0, "free p2");
    check(dmacoh_free_coherent(&dev, 0x10000, p1, h1) == 0, "free p1");
    check(dmacoh_release_coherent_memory(&dev, 0) == 0, "release");
    check(dmacoh_device_fini(&dev) == 0 && dmacoh_hostmem_close(hm) == 0, "close hostmem");
    check(dmacoh_pci_close(pci) == 0, "close pci");
    return 0;
}

/* ---- proof: qxl VRAM (a 32-bit BAR) through uio_pci_generic ------------------------------- */

/* The uioN whose device is bdf. */
static int uio_of(const char *bdf, unsigned *n)
{
    for (unsigned i = 0; i < 16; i++) {
        char path[PATH_MAX], target[PATH_MAX];
        ssize_t len;

        snprintf(path, sizeof(path), "/sys/class/uio/uio%u/device", i);
        len = readlink(path, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (strstr(target, bdf)) {
            *n = i;
            return 0;
        }
    }
    return -1;
}

static int proof_uio(void)
{
    static const size_t sizes[] = {4096, 16384, 200};
    struct dmacoh_uio *uio;
    struct dmacoh_device dev;
    dmacoh_phys_addr_t addr = 0;
    uint64_t msize = 0, size;
    void *cpu[3];
    dmacoh_dma_addr_t h[3];
    char bdf[32], tag[32];
    unsigned n = 0, m;
    int granted = 0;

    check(find_device(0x1b36, 0x0100, bdf, sizeof(bdf)) == 0, "no qxl device");
    check(uio_of(bdf, &n) == 0, "qxl %s is not bound to uio_pci_generic", bdf);
    check(dmacoh_uio_open(n, NULL, &uio) == 0, "dmacoh_uio_open(%u)", n);
    for (m = 0; dmacoh_uio_map(uio, m, &addr, &msize) == 0; m++)
        say("uio%u map%u: addr %#llx size %#llx", n, m, (unsigned long long)addr,
            (unsigned long long)msize);
    /* qxl's map0 is its RAM BAR (BAR0, 32-bit, not prefetchable: uio_pci_generic maps only
     * those); declare its first 1 MiB. */
    check(dmacoh_uio_map(uio, 0, &addr, &msize) == 0, "no map0");
    size = msize < (1u << 20) ? msize : (1u << 20);
    check(dmacoh_device_init(&dev, "qxl", NULL, dmacoh_uio_platform(uio)) == 0, "init");
    check(dmacoh_declare_coherent_memory(&dev, addr, 0, size,
                                         DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL,
                                         &granted) == 0,
          "declare");
    say("declared uio%u map0 bus %#llx (%llu KiB) as device 0x0, granted %s", n,
        (unsigned long long)addr, (unsigned long long)(size >> 10),
        granted == DMACOH_MEMORY_MAP ? "MAP" : "IO");
    for (int i = 0; i < 3; i++) {
        check(dmacoh_alloc_coherent(&dev, sizes[i], 0, 0, &cpu[i], &h[i]) == 0, "alloc");
        snprintf(tag, sizeof(tag), "uio-%d-%05zx.", i, sizes[i]);
        fill_tag(cpu[i], sizes[i], tag);
        say("alloc %zu bytes: dma %#llx (bus %#llx) cpu %p, filled with '%s'", sizes[i],
            (unsigned long long)h[i], (unsigned long long)(addr + h[i]), cpu[i], tag);
        printf("HOSTDUMP %#llx %zu %s\n", (unsigned long long)(addr + h[i]), sizes[i], tag);
    }
    for (int i = 0; i < 3; i++)
        check(dmacoh_free_coherent(&dev, sizes[i], cpu[i], h[i]) == 0, "free");
    check(dmacoh_release_coherent_memory(&dev, 0) == 0, "release");
    check(dmacoh_device_fini(&dev) == 0 && dmacoh_uio_close(uio) == 0, "close");
    return 0;
}

/* ---- proof: the edu device's DMA engine on hostmem memory (pagemap physical addresses) --- */

#define EDU_BUF     0x40000u /* the device's own 4 KiB buffer, as its DMA engine addresses it */
#define EDU_SRC     0x80
#define EDU_DST     0x88
#define EDU_CNT     0x90
#define EDU_CMD     0x98
#define EDU_TO_RAM  0x2u
#define EDU_START   0x1u
#define EDU_XFER    4095u /* QEMU 7.2 aborts on a 4096-byte transfer */
#define EDU_MASK_28 0x0fffffffull

struct edu {
    volatile unsigned char *regs;
};

static void edu_w64(struct edu *e, unsigned off, uint64_t v)
{
    *(volatile uint64_t *)(e->regs + off) = v;
}

static uint64_t edu_r64(struct edu *e, unsigned off)
{
    return *(volatile uint64_t *)(e->regs + off);
}

/* One DMA between RAM at `ram` and the device buffer; waits for the engine (timer driven). */
static int edu_dma(struct edu *e, uint64_t ram, bool to_ram)
{
    struct timespec ts = {0, 1000000};

    edu_w64(e, EDU_SRC, to_ram ? EDU_BUF : ram);
    edu_w64(e, EDU_DST, to_ram ? ram : EDU_BUF);
    edu_w64(e, EDU_CNT, EDU_XFER);
    edu_w64(e, EDU_CMD, EDU_START | (to_ram ? EDU_TO_RAM : 0));
    for (int i = 0; i < 20000; i++) { /* 20 s at least: the engine runs on a timer */
        if (!(edu_r64(e, EDU_CMD) & EDU_START))
            return 0;
        nanosleep(&ts, NULL);
    }
    return -1;
}

static int edu_open(const char *bdf, struct edu *e)
{
    char path[PATH_MAX];
    int fd;
    void *p;

    snprintf(path, sizeof(path), SYS_PCI "/%s/resource0", bdf);
    fd = open(path, O_RDWR | O_SYNC);
    if (fd < 0)
        return -1;
    p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return -1;
    e->regs = p;
    return 0;
}

/* Copies into the device from src (at offset so) and back out to dst (at offset doff). */
static int edu_round_trip(struct edu *e, dmacoh_dma_addr_t src, dmacoh_dma_addr_t dst)
{
    if (edu_dma(e, src, false) != 0)
        return -1;
    return edu_dma(e, dst, true);
}

/* Without root the page map hides frame numbers: a child that drops to nobody must get
 * -DMACOH_EPERM (and the log line saying what to do), never a wrong handle. */
static int hostmem_as_nobody(void)
{
    int status = 0;
    pid_t pid = fork();

    if (pid == 0) {
        struct dmacoh_hostmem *hm;
        struct dmacoh_device dev;
        dmacoh_dma_addr_t h;
        void *p;
        int r;

        /* Changing the user id makes a process undumpable, which closes its own page map to
         * it; a program started as nobody is dumpable, so be like one. */
        if (setgid(65534) != 0 || setuid(65534) != 0 || prctl(PR_SET_DUMPABLE, 1) != 0)
            _exit(2);
        if (dmacoh_hostmem_open(NULL, &hm) ||
            dmacoh_device_init(&dev, "edu", NULL, dmacoh_hostmem_platform(hm)))
            _exit(3);
        r = dmacoh_alloc_coherent(&dev, 4096, 0, 0, &p, &h);
        say("as uid 65534: alloc returns %d (%s)", r, dmacoh_err_name(r));
        _exit(r == DMACOH_EPERM ? 0 : 1);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int proof_hostmem(void)
{
    struct dmacoh_hostmem *hm;
    struct dmacoh_device dev;
    struct edu e;
    char bdf[32];
    unsigned char *a, *b, *big;
    dmacoh_dma_addr_t ha, hb, hbig;
    dmacoh_phys_addr_t phys;

    check(find_device(0x1234, 0x11e8, bdf, sizeof(bdf)) == 0, "no edu device");
    check(config_enable(bdf, 0x2 | 0x4) == 0, "cannot enable decode and bus master");
    check(edu_open(bdf, &e) == 0, "cannot map edu BAR0");
    say("edu %s: id %#x, bus master enabled", bdf, *(volatile uint32_t *)e.regs);
    check(dmacoh_hostmem_open(NULL, &hm) == 0, "dmacoh_hostmem_open");
    check(dmacoh_device_init(&dev, "edu", NULL, dmacoh_hostmem_platform(hm)) == 0, "init");
    check(dmacoh_device_set_dma_mask(&dev, 0xfffff) == 0, "mask");
    check(dmacoh_alloc_coherent(&dev, EDU_XFER, 0, 0, (void **)&a, &ha) == DMACOH_ERANGE,
          "an allocation for a 20-bit mask must be refused (RAM below 1 MiB is the firmware's)");
    say("with a 20-bit DMA mask: refused with -ERANGE");
    check(dmacoh_device_set_dma_mask(&dev, EDU_MASK_28) == 0, "mask");
    check(dmacoh_alloc_coherent(&dev, EDU_XFER, 0, 0, (void **)&a, &ha) == 0, "alloc a");
    check(dmacoh_alloc_coherent(&dev, EDU_XFER, 0, 0, (void **)&b, &hb) == 0, "alloc b");
    check(dmacoh_alloc_coherent(&dev, 0x10000, 0, 0, (void **)&big, &hbig) == 0, "alloc big");
    check(dmacoh_hostmem_phys(hm, a + 123, &phys) == 0 && phys == ha + 123, "a's page map");
    check(dmacoh_hostmem_phys(hm, big + 0x8000, &phys) == 0 && phys == hbig + 0x8000,
          "big's page map");
    say("a: %u bytes dma %#llx (mlocked page), b: dma %#llx, big: 64 KiB dma %#llx (huge page)",
        EDU_XFER, (unsigned long long)ha, (unsigned long long)hb, (unsigned long long)hbig);
    say("all below the 28-bit mask %#llx; page map agrees with the handles", EDU_MASK_28);
    fill_tag(a, EDU_XFER, "edu-in-a.");
    check(edu_round_trip(&e, ha, hb) == 0, "edu DMA a -> device -> b timed out");
    check(memcmp(a, b, EDU_XFER) == 0, "b differs from a after DMA a -> device -> b");
    say("DMA a -> device -> b: %u bytes equal ('%.9s...')", EDU_XFER, (char *)b);
    fill_tag(big + 0x8000, EDU_XFER, "edu-in-big.");
    memset(a, 0, EDU_XFER);
    check(edu_round_trip(&e, hbig + 0x8000, ha) == 0, "edu DMA big -> device -> a timed out");
    check(memcmp(a, big + 0x8000, EDU_XFER) == 0, "a differs from big+0x8000");
    check(edu_dma(&e, hbig + 0xf000, true) == 0, "edu DMA device -> big+0xf000 timed out");
    check(memcmp(big + 0xf000, a, EDU_XFER) == 0, "big+0xf000 differs");
    say("DMA big+0x8000 -> device -> a and -> big+0xf000: %u bytes equal ('%.11s...')", EDU_XFER,
        (char *)a);
    check(dmacoh_free_coherent(&dev, 0x10000, big, hbig) == 0, "free big");
    check(dmacoh_free_coherent(&dev, EDU_XFER, b, hb) == 0, "free b");
    check(dmacoh_free_coherent(&dev, EDU_XFER, a, ha) == 0, "free a");
    check(dmacoh_free_coherent(&dev, EDU_XFER, a, ha) == DMACOH_EFAULT, "double free caught");
    say("frees checked: a second free of a is refused");
    check(dmacoh_device_fini(&dev) == 0 && dmacoh_hostmem_close(hm) == 0, "close");
    check(hostmem_as_nobody() == 0, "not root: expected -DMACOH_EPERM");
    return 0;
}

/* ---- proofs through VFIO: a second ivshmem and a second edu, bound to vfio-pci by /init -- */

/* Opening a device that is not bound to vfio-pci must fail with -ENXIO, saying so. */
static int vfio_refuses_unbound(void)
{
    struct dmacoh_vfio *v = NULL;
    char bdf[32];
    int r;

    if (find_device(0x1af4, 0x1110, bdf, sizeof(bdf)) != 0)
        return -1;
    r = dmacoh_vfio_open(bdf, NULL, &v);
    say("dmacoh_vfio_open(%s), a device with no driver: %d (%s)", bdf, r, dmacoh_err_name(r));
    return r == DMACOH_ENXIO && v == NULL ? 0 : -1;
}

static int proof_vfio_bar(void)
{
    struct dmacoh_vfio *v;
    struct dmacoh_device dev;
    dmacoh_phys_addr_t bar;
    uint64_t size;
    char bdf[32];

    check(find_vfio_device(0x1af4, 0x1110, bdf, sizeof(bdf)) == 0, "no ivshmem on vfio-pci");
    check(dmacoh_vfio_open(bdf, NULL, &v) == 0, "dmacoh_vfio_open(%s)", bdf);
    check(dmacoh_vfio_bar(v, 2, &bar, &size, NULL) == 0, "no BAR2");
    say("ivshmem %s through VFIO (type1 container, its IOMMU group): BAR2 at bus %#llx, "
        "%llu KiB",
        bdf, (unsigned long long)bar, (unsigned long long)(size >> 10));
    check(dmacoh_device_init(&dev, "ivshmem2", NULL, dmacoh_vfio_platform(v)) == 0, "init");
    if (ivshmem_fill(&dev, bar, size, "vfio", "ivshmem2"))
        return 1;
    check(dmacoh_device_fini(&dev) == 0 && dmacoh_vfio_close(v) == 0, "close");
    check(vfio_refuses_unbound() == 0, "an unbound device must be refused with -ENXIO");
    return 0;
}

/* The edu bound to vfio-pci: its registers mapped through the VFIO region of BAR0, bus master
 * on through the library, a device with a 28-bit mask on the VFIO platform. */
struct vfio_edu {
    struct dmacoh_vfio *v;
    struct dmacoh_device dev;
    struct edu e;
};

static int vfio_edu_open(struct vfio_edu *x, bool hugetlb)
{
    struct dmacoh_vfio_opts o = {.hugetlb = hugetlb};
    uint64_t off = 0, size = 0;
    uint32_t flags = 0;
    char bdf[32];
    void *p;

    check(find_vfio_device(0x1234, 0x11e8, bdf, sizeof(bdf)) == 0, "no edu bound to vfio-pci");
    check(dmacoh_vfio_open(bdf, &o, &x->v) == 0, "dmacoh_vfio_open(%s)", bdf);
    check(dmacoh_vfio_set_bus_master(x->v, true) == 0, "bus master");
    check(dmacoh_vfio_region(x->v, 0, &off, &size, &flags) == 0, "BAR0 region info");
    p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, dmacoh_vfio_device_fd(x->v),
             (off_t)off);
    check(p != MAP_FAILED, "mmap of BAR0 through VFIO");
    x->e.regs = p;
    say("edu %s through VFIO: id %#x, bus master on (dmacoh_vfio_set_bus_master)", bdf,
        *(volatile uint32_t *)x->e.regs);
    check(dmacoh_device_init(&x->dev, "edu2", NULL, dmacoh_vfio_platform(x->v)) == 0, "init");
    check(dmacoh_device_set_dma_mask(&x->dev, EDU_MASK_28) == 0, "mask");
    return 0;
}

static int vfio_edu_close(struct vfio_edu *x)
{
    munmap((void *)x->e.regs, 4096);
    check(dmacoh_device_fini(&x->dev) == 0 && dmacoh_vfio_close(x->v) == 0, "close");
    return 0;
}

static int proof_vfio_iova(void)
{
    struct vfio_edu x;
    unsigned char *a, *b, *big, *huge;
    dmacoh_dma_addr_t ha, hb, hbig, hhuge;

    if (vfio_edu_open(&x, true))
        return 1;
    check(dmacoh_alloc_coherent(&x.dev, EDU_XFER, 0, 0, (void **)&a, &ha) == 0, "alloc a");
    check(dmacoh_alloc_coherent(&x.dev, EDU_XFER, 0, 0, (void **)&b, &hb) == 0, "alloc b");
    check(dmacoh_alloc_coherent(&x.dev, 0x10000, 0, 0, (void **)&big, &hbig) == 0, "alloc big");
    check(dmacoh_virt_to_dma(&x.dev, a + 123) == ha + 123, "a translates to its IOVA");
    say("system memory at IOVAs: a %#llx, b %#llx, big (64 KiB) %#llx, below the 28-bit mask",
        (unsigned long long)ha, (unsigned long long)hb, (unsigned long long)hbig);
    fill_tag(a, EDU_XFER, "iova-in-a.");
    check(edu_round_trip(&x.e, ha, hb) == 0, "edu DMA a -> device -> b timed out");
    check(memcmp(a, b, EDU_XFER) == 0, "b differs from a after DMA a -> device -> b");
    say("DMA a -> device -> b through the IOMMU: %u bytes equal ('%.10s...')", EDU_XFER, (char *)b);
    fill_tag(big + 0x8000, EDU_XFER, "iova-in-big.");
    memset(a, 0, EDU_XFER);
    check(edu_round_trip(&x.e, hbig + 0x8000, ha) == 0, "edu DMA big -> device -> a timed out");
    check(memcmp(a, big + 0x8000, EDU_XFER) == 0, "a differs from big+0x8000");
    say("DMA big+0x8000 -> device -> a: %u bytes equal ('%.12s...')", EDU_XFER, (char *)a);
    check(dmacoh_alloc_coherent(&x.dev, 2u << 20, 0, 0, (void **)&huge, &hhuge) == 0,
          "alloc 2 MiB (a hugetlb page)");
    check(edu_dma(&x.e, hhuge + 0x100000, true) == 0, "edu DMA device -> huge+1MiB timed out");
    check(memcmp(huge + 0x100000, a, EDU_XFER) == 0, "huge+1MiB differs");
    say("2 MiB on a hugetlb page at IOVA %#llx: DMA device -> huge+1MiB: %u bytes equal",
        (unsigned long long)hhuge, EDU_XFER);
    check(dmacoh_free_coherent(&x.dev, 2u << 20, huge, hhuge) == 0, "free huge");
    check(dmacoh_free_coherent(&x.dev, 0x10000, big, hbig) == 0, "free big");
    check(dmacoh_free_coherent(&x.dev, EDU_XFER, b, hb) == 0, "free b");
    check(dmacoh_free_coherent(&x.dev, EDU_XFER, a, ha) == 0, "free a");
    check(dmacoh_free_coherent(&x.dev, EDU_XFER, a, ha) == DMACOH_EFAULT, "double free caught");
    say("frees unmapped the IOVAs; a second free of a is refused");
    return vfio_edu_close(&x);
}

/* Kernel log lines with "DMAR" and "fault addr <addr>" (the IOMMU driver's fault report). */
static int dmar_faults_at(uint64_t addr)
{
    static char buf[1 << 17];
    char want[64];
    int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, (int)sizeof(buf) - 1), found = 0;

    if (n <= 0)
        return 0;
    buf[n] = '\0';
    snprintf(want, sizeof(want), "fault addr 0x%llx", (unsigned long long)addr);
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (strstr(line, "DMAR") && strstr(line, want)) {
            say("kernel log: %s", line);
            found++;
        }
    }
    return found;
}

static int proof_vfio_fault(void)
{
    const uint64_t never = 0x0ff00000; /* below the mask, never mapped */
    struct vfio_edu x;
    unsigned char *a, *b, *c;
    dmacoh_dma_addr_t ha, hb, hc;
    struct timespec ts = {0, 200000000};

    if (vfio_edu_open(&x, false))
        return 1;
    check(dmacoh_alloc_coherent(&x.dev, EDU_XFER, 0, 0, (void **)&a, &ha) == 0, "alloc a");
    check(dmacoh_alloc_coherent(&x.dev, EDU_XFER, 0, 0, (void **)&b, &hb) == 0, "alloc b");
    check(dmacoh_alloc_coherent(&x.dev, EDU_XFER, 0, 0, (void **)&c, &hc) == 0, "alloc c");
    fill_tag(a, EDU_XFER, "known-a.");
    fill_tag(b, EDU_XFER, "secret-b.");
    check(edu_dma(&x.e, ha, false) == 0, "DMA a -> device");
    check(dmacoh_free_coherent(&x.dev, EDU_XFER, b, hb) == 0, "free b");
    say("device buffer holds a's bytes; b (IOVA %#llx) held 'secret-b.' and is freed",
        (unsigned long long)hb);
    check(edu_dma(&x.e, hb, false) == 0, "DMA freed b -> device did not finish");
    check(edu_dma(&x.e, hc, true) == 0, "DMA device -> c");
    check(memcmp(c, "secret-b.", 9) != 0, "the device read freed memory through the IOMMU");
    say("DMA from the freed IOVA %#llx: the device got no data from it (c now starts "
        "%02x %02x %02x %02x, not 'secret-b.')",
        (unsigned long long)hb, c[0], c[1], c[2], c[3]);
    check(edu_dma(&x.e, never, true) == 0, "DMA device -> never-mapped IOVA did not finish");
    nanosleep(&ts, NULL);
    check(dmar_faults_at(hb) > 0, "no DMAR fault logged at the freed IOVA %#llx",
          (unsigned long long)hb);
    check(dmar_faults_at(never) > 0, "no DMAR fault logged at the never-mapped IOVA %#llx",
          (unsigned long long)never);
    say("the IOMMU refused both DMAs and the kernel logged the faults");
    check(dmacoh_free_coherent(&x.dev, EDU_XFER, a, ha) == 0, "free a");
    check(dmacoh_free_coherent(&x.dev, EDU_XFER, c, hc) == 0, "free c");
    return vfio_edu_close(&x);
}

/* ---- proof: a DMA handle names one memory on the VFIO platform ------------------------- */

static char one_owner_log[4096]; /* what the library logged during vfio-one-owner */

static void one_owner_log_fn(void *user, int level, const char *msg)
{
    size_t n = strlen(one_owner_log);

    snprintf(one_owner_log + n, sizeof(one_owner_log) - n, "%s\n", msg);
    log_fn(user, level, msg);
}

/* Two pages of edu's BAR0 (far past its registers), not exclusive, declared at device address
 * 0x100000 - the VFIO platform's lowest IOVA - and filled; then two fallback allocations.
 * Their IOVAs must differ from the region's handles (0.2 gave them 0x100000 and 0x101000),
 * every handle must translate to its own memory, edu's DMA must work through the fallback
 * IOVAs, and a declare over a live IOVA must be refused with a log line naming the holder. */
static int proof_vfio_one_owner(void)
{
    struct vfio_edu x;
    struct dmacoh_device other;
    dmacoh_phys_addr_t bar;
    dmacoh_dma_addr_t hr[2], hf[2];
    unsigned char *r[2], *f[2];
    uint64_t size = 0;
    char want[64];
    int granted = 0, rc;

    if (vfio_edu_open(&x, false))
        return 1;
    check(dmacoh_vfio_bar(x.v, 0, &bar, &size, NULL) == 0 && size >= 0x100000, "edu BAR0");
    check(dmacoh_declare_coherent_memory(&x.dev, bar + 0x80000, 0x100000, 0x2000,
                                         DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL, &granted) == 0,
          "declare 2 pages of BAR0 at device address 0x100000");
    for (int i = 0; i < 2; i++)
        check(dmacoh_alloc_coherent(&x.dev, 4096, 0, 0, (void **)&r[i], &hr[i]) == 0 &&
                  dmacoh_origin_of(&x.dev, r[i]) == DMACOH_ORIGIN_REGION,
              "region block %d", i);
    for (int i = 0; i < 2; i++)
        check(dmacoh_alloc_coherent(&x.dev, EDU_XFER, 0, 0, (void **)&f[i], &hf[i]) == 0 &&
                  dmacoh_origin_of(&x.dev, f[i]) == DMACOH_ORIGIN_SYSTEM,
              "fallback block %d", i);
    say("region (BAR0 + 0x80000, %s): handles %#llx %#llx; full, so fallback: IOVAs %#llx %#llx",
        granted == DMACOH_MEMORY_MAP ? "MAP" : "IO", (unsigned long long)hr[0],
        (unsigned long long)hr[1], (unsigned long long)hf[0], (unsigned long long)hf[1]);
    check(hr[0] == 0x100000 && hr[1] == 0x101000, "region handles");
    for (int i = 0; i < 2; i++)
        check(hf[i] >= 0x102000 && hf[i] != hr[0] && hf[i] != hr[1],
              "fallback IOVA %#llx inside the region's device range", (unsigned long long)hf[i]);
    for (int i = 0; i < 2; i++) {
        check(dmacoh_dma_to_virt(&x.dev, hr[i]) == r[i], "dma_to_virt of region handle %d", i);
        check(dmacoh_dma_to_virt(&x.dev, hf[i]) == f[i], "dma_to_virt of fallback IOVA %d", i);
        check(dmacoh_virt_to_dma(&x.dev, f[i]) == hf[i], "virt_to_dma of fallback block %d", i);
    }
    say("each handle translates to its own memory (dma_to_virt(0x100000) is the region's)");
    fill_tag(f[0], EDU_XFER, "one-owner.");
    check(edu_round_trip(&x.e, hf[0], hf[1]) == 0, "edu DMA f0 -> device -> f1 timed out");
    check(memcmp(f[0], f[1], EDU_XFER) == 0, "f1 differs from f0 after DMA");
    say("DMA through the fallback IOVAs: %u bytes equal", EDU_XFER);
    /* A second device on the same container declares over f1's IOVA: refused, naming f1. */
    check(dmacoh_device_init(&other, "edu2-other", NULL, dmacoh_vfio_platform(x.v)) == 0, "init");
    one_owner_log[0] = '\0';
    dmacoh_set_log_fn(one_owner_log_fn, NULL, 2);
    rc = dmacoh_declare_coherent_memory(&other, bar + 0x90000, hf[1], 0x1000,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL, NULL);
    dmacoh_set_log_fn(log_fn, NULL, 2);
    snprintf(want, sizeof(want), "fallback memory at IOVA %#llx", (unsigned long long)hf[1]);
    check(rc == DMACOH_EBUSY, "declare over a live IOVA: %d (%s)", rc, dmacoh_err_name(rc));
    check(strstr(one_owner_log, want) != NULL, "the refusal does not name '%s'", want);
    say("a declare over live IOVA %#llx: -EBUSY, the log names the fallback block there",
        (unsigned long long)hf[1]);
    for (int i = 0; i < 2; i++) {
        check(dmacoh_free_coherent(&x.dev, EDU_XFER, f[i], hf[i]) == 0, "free fallback");
        check(dmacoh_free_coherent(&x.dev, 4096, r[i], hr[i]) == 0, "free region block");
    }
    check(dmacoh_release_coherent_memory(&x.dev, 0) == 0, "release");
    check(dmacoh_device_fini(&other) == 0, "fini other");
    return vfio_edu_close(&x);
}

/* ---- proof: a second process drives the device from passed descriptors ------------------- */

struct sec_iovas {
    uint64_t a, b; /* the primary's fallback IOVAs: source and destination of one DMA */
};

/* The secondary, in a child: builds its VFIO instance from the descriptors the primary sent,
 * maps edu's BAR0 through its own device descriptor, reads the identification register and
 * checks the liveness register, finds no fallback memory, declares a page of BAR0 only where
 * the primary's IOVAs cannot be, drives one DMA a -> device -> b at the primary's IOVAs, and
 * closes. Returns 0 when every step went as expected. */
static int sec_child(int sock)
{
    struct dmacoh_vfio *s;
    struct dmacoh_device dev;
    struct sec_iovas io;
    struct edu e;
    dmacoh_phys_addr_t bar;
    dmacoh_dma_addr_t h;
    uint64_t off = 0;
    uint32_t id, live;
    void *p, *blk;
    int r;

    r = dmacoh_vfio_attach_fds(sock, NULL, &s);
    check(r == 0, "dmacoh_vfio_attach_fds: %d (%s)", r, dmacoh_err_name(r));
    check(dmacoh_vfio_is_attached(s), "not marked attached");
    check(recv(sock, &io, sizeof(io), 0) == (ssize_t)sizeof(io), "no IOVAs from the primary");
    check(dmacoh_vfio_region(s, 0, &off, NULL, NULL) == 0, "BAR0 region info (secondary)");
    p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, dmacoh_vfio_device_fd(s), (off_t)off);
    check(p != MAP_FAILED, "mmap of BAR0 through the passed device descriptor");
    e.regs = p;
    id = *(volatile uint32_t *)e.regs;
    *(volatile uint32_t *)(e.regs + 4) = 0x5ec0dd00u;
    live = *(volatile uint32_t *)(e.regs + 4);
    say("secondary (pid %ld): attached to %s by descriptor %d; edu id %#x, liveness "
        "~0x5ec0dd00 = %#x",
        (long)getpid(), "edu", dmacoh_vfio_device_fd(s), id, live);
    check((id & 0xffff) == 0x00ed && live == ~0x5ec0dd00u, "edu registers through BAR0");
    check(dmacoh_device_init(&dev, "edu2-secondary", NULL, dmacoh_vfio_platform(s)) == 0, "init");
    r = dmacoh_alloc_coherent(&dev, 4096, 0, 0, &blk, &h);
    check(r == DMACOH_ENOTSUP, "fallback in the secondary: %d (%s)", r, dmacoh_err_name(r));
    check(dmacoh_vfio_bar(s, 0, &bar, NULL, NULL) == 0, "edu BAR0");
    r = dmacoh_declare_coherent_memory(&dev, bar + 0x90000, 0x100000, 0x1000, DMACOH_MEMORY_IO,
                                       NULL, NULL);
    check(r == DMACOH_EBUSY, "declare at the primary's IOVA 0x100000: %d (%s)", r,
          dmacoh_err_name(r));
    r = dmacoh_declare_coherent_memory(&dev, bar + 0x90000, 0x80000, 0x1000, DMACOH_MEMORY_IO, NULL,
                                       NULL);
    check(r == 0, "declare below the primary's IOVAs: %d (%s)", r, dmacoh_err_name(r));
    check(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &blk, &h) == 0 && h == 0x80000,
          "a block of the secondary's region");
    say("secondary: no fallback (-ENOTSUP); a page of BAR0 declared at device address 0x80000 "
        "(below the primary's IOVAs) maps, at 0x100000 it is refused (-EBUSY)");
    check(dmacoh_free_coherent(&dev, 4096, blk, h) == 0 &&
              dmacoh_release_coherent_memory(&dev, 0) == 0,
          "release");
    check(edu_round_trip(&e, io.a, io.b) == 0, "edu DMA a -> device -> b timed out");
    say("secondary: drove edu DMA %#llx -> device -> %#llx (the primary's IOVAs)",
        (unsigned long long)io.a, (unsigned long long)io.b);
    munmap(p, 4096);
    check(dmacoh_device_fini(&dev) == 0 && dmacoh_vfio_close(s) == 0, "close (secondary)");
    return 0;
}

/* The primary opens edu through VFIO and allocates a and b (fallback memory, IOVAs); it hands
 * the container and device descriptors and then the two IOVAs to a child over a Unix socket.
 * The child's DMA must copy a into b; after the child has closed and exited, the primary's
 * IOMMU mappings, registers and DMA still work. */
static int proof_vfio_secondary(void)
{
    struct vfio_edu x;
    struct sec_iovas io;
    unsigned char *a, *b;
    int sv[2], st = 0;
    pid_t child;

    if (vfio_edu_open(&x, false))
        return 1;
    check(dmacoh_alloc_coherent(&x.dev, EDU_XFER, 0, 0, (void **)&a, &io.a) == 0, "alloc a");
    check(dmacoh_alloc_coherent(&x.dev, EDU_XFER, 0, 0, (void **)&b, &io.b) == 0, "alloc b");
    fill_tag(a, EDU_XFER, "secondary-dma.");
    memset(b, 0, EDU_XFER);
    check(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0, "socketpair");
    fflush(stdout);
    child = fork();
    check(child >= 0, "fork");
    if (child == 0) {
        close(sv[0]);
        _exit(sec_child(sv[1]));
    }
    close(sv[1]);
    check(dmacoh_vfio_send_fds(x.v, sv[0]) == 0, "dmacoh_vfio_send_fds");
    check(send(sv[0], &io, sizeof(io), 0) == (ssize_t)sizeof(io), "send the IOVAs");
    say("primary: sent container and device descriptors, then IOVAs a %#llx and b %#llx",
        (unsigned long long)io.a, (unsigned long long)io.b);
    check(waitpid(child, &st, 0) == child, "waitpid");
    close(sv[0]);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the secondary failed (status %#x)", st);
    check(memcmp(a, b, EDU_XFER) == 0, "b differs from a after the secondary's DMA");
    say("primary: b holds a's %u bytes ('%.14s...'), written by the DMA the secondary drove",
        EDU_XFER, (char *)b);
    /* The secondary closed and exited: nothing of the primary's went with it. */
    check((*(volatile uint32_t *)x.e.regs & 0xffff) == 0x00ed, "edu id after the secondary");
    fill_tag(b, EDU_XFER, "after-secondary.");
    memset(a, 0, EDU_XFER);
    check(edu_round_trip(&x.e, io.b, io.a) == 0, "primary's DMA b -> device -> a timed out");
    check(memcmp(a, b, EDU_XFER) == 0, "a differs from b: the primary's IOVAs went away");
    say("primary: after the secondary's close and exit, its own DMA b -> device -> a still "
        "works at the same IOVAs");
    check(dmacoh_free_coherent(&x.dev, EDU_XFER, b, io.b) == 0, "free b");
    check(dmacoh_free_coherent(&x.dev, EDU_XFER, a, io.a) == 0, "free a");
    return vfio_edu_close(&x);
}

/* ---- proof: one owner per physical range across platform instances ----------------------- */

/* The library's log lines of the proof, kept to look for the holder each refusal names. */
static char ti_log[8192];

static void ti_log_fn(void *user, int level, const char *msg)
{
    size_t have = strlen(ti_log);

    log_fn(user, level, msg);
    snprintf(ti_log + have, sizeof(ti_log) - have, "%s\n", msg);
}

static int ti_declare(struct dmacoh_device *dev, dmacoh_phys_addr_t bus, uint64_t off,
                      uint64_t size)
{
    ti_log[0] = '\0';
    return dmacoh_declare_coherent_memory(dev, bus + off, off, size, DMACOH_MEMORY_MAP, NULL, NULL);
}

/* dev's declaration of [bar + off, +size) is refused with -EBUSY, naming `holder`. */
static int ti_refused(struct dmacoh_device *dev, dmacoh_phys_addr_t bar, uint64_t off,
                      uint64_t size, const char *holder)
{
    int r = ti_declare(dev, bar, off, size);

    say("'%s' declares BAR2+%#llx..+%#llx: %d (%s)", dmacoh_device_name(dev),
        (unsigned long long)off, (unsigned long long)size, r, dmacoh_err_name(r));
    check(r == DMACOH_EBUSY, "not refused with -EBUSY");
    check(strstr(ti_log, holder) != NULL, "the log does not name the holder '%s'", holder);
    return 0;
}

/* One 4 KiB allocation of dev, filled with tag, for the host to find at its handle. */
static int ti_fill(struct dmacoh_device *dev, const char *tag)
{
    dmacoh_dma_addr_t h;
    void *p;

    check(dmacoh_alloc_coherent(dev, 4096, 0, 0, &p, &h) == 0, "alloc on '%s'",
          dmacoh_device_name(dev));
    fill_tag(p, 4096, tag);
    say("'%s' wrote '%s' at dma %#llx", dmacoh_device_name(dev), tag, (unsigned long long)h);
    printf("HOSTCHECK ivshmem %#llx 4096 %s\n", (unsigned long long)h, tag);
    check(dmacoh_free_coherent(dev, 4096, p, h) == 0, "free");
    return 0;
}

/* Two dmacoh_pci_open of the first ivshmem, and /dev/mem, over BAR2 (offsets 0x40000..
 * 0x90000, which no other proof writes). */
static int ti_pci_and_devmem(const char *bdf)
{
    struct dmacoh_pci *p1, *p2;
    struct dmacoh_devmem *dm;
    struct dmacoh_device a, b, c;
    dmacoh_phys_addr_t bar;
    char pci_holder[64];

    check(config_enable(bdf, 0x2) == 0, "cannot enable memory decode of %s", bdf);
    check(dmacoh_pci_open(bdf, NULL, &p1) == 0 && dmacoh_pci_open(bdf, NULL, &p2) == 0,
          "two dmacoh_pci_open(%s)", bdf);
    check(dmacoh_devmem_open(NULL, &dm) == 0, "dmacoh_devmem_open(/dev/mem)");
    check(dmacoh_pci_bar(p1, 2, &bar, NULL, NULL) == 0, "no BAR2");
    check(dmacoh_device_init(&a, "pci-a", NULL, dmacoh_pci_platform(p1)) == 0 &&
              dmacoh_device_init(&b, "pci-b", NULL, dmacoh_pci_platform(p2)) == 0 &&
              dmacoh_device_init(&c, "devmem-c", NULL, dmacoh_devmem_platform(dm)) == 0,
          "init");
    snprintf(pci_holder, sizeof(pci_holder), "through pci %s BAR 2", bdf);
    check(ti_declare(&a, bar, 0x40000, 0x40000) == 0, "declare through the first instance");
    say("'pci-a' (first dmacoh_pci_open) declared BAR2+0x40000..+0x40000");
    if (ti_refused(&b, bar, 0x40000, 0x40000, pci_holder))
        return 1;
    check(dmacoh_debug_set(DMACOH_DEBUG_ALL) == 0, "debug mode on");
    if (ti_refused(&b, bar, 0x60000, 0x40000, pci_holder)) /* partly, in the debug mode */
        return 1;
    check(dmacoh_debug_set(0) == 0, "debug mode off");
    if (ti_refused(&c, bar, 0x50000, 0x1000, pci_holder)) /* /dev/mem inside it */
        return 1;
    check(ti_declare(&b, bar, 0x80000, 0x10000) == 0, "a disjoint range through the second");
    if (ti_fill(&a, "two-a.") || ti_fill(&b, "two-b."))
        return 1;
    check(dmacoh_release_coherent_memory(&a, 0) == 0, "release a");
    say("'pci-a' released: /dev/mem may have its bytes now");
    check(ti_declare(&c, bar, 0x50000, 0x1000) == 0, "declare through /dev/mem after release");
    if (ti_fill(&c, "two-mem.") || ti_refused(&a, bar, 0x40000, 0x40000, "through devmem /dev/mem"))
        return 1;
    check(dmacoh_release_coherent_memory(&b, 0) == 0 && dmacoh_release_coherent_memory(&c, 0) == 0,
          "release");
    check(dmacoh_device_fini(&a) == 0 && dmacoh_device_fini(&b) == 0 && dmacoh_device_fini(&c) == 0,
          "fini");
    check(dmacoh_pci_close(p1) == 0 && dmacoh_pci_close(p2) == 0 && dmacoh_devmem_close(dm) == 0,
          "close");
    return 0;
}

/* VFIO and PCI sysfs over the second ivshmem's BAR2 (bound to vfio-pci). */
static int ti_vfio_and_pci(void)
{
    struct dmacoh_vfio *v;
    struct dmacoh_pci *pci;
    struct dmacoh_device d, e;
    dmacoh_phys_addr_t bar;
    char bdf[32], holder[64];
    int r;

    check(find_vfio_device(0x1af4, 0x1110, bdf, sizeof(bdf)) == 0, "no ivshmem on vfio-pci");
    check(dmacoh_vfio_open(bdf, NULL, &v) == 0 && dmacoh_pci_open(bdf, NULL, &pci) == 0,
          "dmacoh_vfio_open and dmacoh_pci_open(%s)", bdf);
    check(dmacoh_vfio_bar(v, 2, &bar, NULL, NULL) == 0, "no BAR2");
    check(dmacoh_device_init(&d, "vfio-d", NULL, dmacoh_vfio_platform(v)) == 0 &&
              dmacoh_device_init(&e, "pci-e", NULL, dmacoh_pci_platform(pci)) == 0,
          "init");
    check(ti_declare(&d, bar, 0x40000, 0x10000) == 0, "declare through VFIO");
    say("'vfio-d' declared BAR2+0x40000..+0x10000 of %s through VFIO", bdf);
    snprintf(holder, sizeof(holder), "through vfio %s BAR 2", bdf);
    if (ti_refused(&e, bar, 0x40000, 0x10000, holder))
        return 1;
    check(dmacoh_release_coherent_memory(&d, 0) == 0, "release d");
    /* Unclaimed now, but vfio-pci holds the BAR (it requested the region for the mapping,
     * and keeps it while the device is open): the kernel refuses resource2 with EINVAL under
     * strict iomem, and the log names the bound driver. */
    r = ti_declare(&e, bar, 0x40000, 0x10000);
    say("after release, through sysfs while vfio-pci holds the device: %d (%s)", r,
        dmacoh_err_name(r));
    check(r == DMACOH_EBUSY && strstr(ti_log, "kernel driver 'vfio-pci' is bound") != NULL,
          "the kernel's refusal does not name vfio-pci");
    check(dmacoh_device_fini(&d) == 0 && dmacoh_device_fini(&e) == 0, "fini");
    check(dmacoh_pci_close(pci) == 0 && dmacoh_vfio_close(v) == 0, "close");
    return 0;
}

static int proof_two_instances(void)
{
    char bdf[32];
    int r;

    check(find_device(0x1af4, 0x1110, bdf, sizeof(bdf)) == 0, "no ivshmem device");
    dmacoh_set_log_fn(ti_log_fn, NULL, 2);
    r = ti_pci_and_devmem(bdf);
    if (r == 0)
        r = ti_vfio_and_pci();
    dmacoh_set_log_fn(log_fn, NULL, 2);
    return r;
}

/* ---- proof: one authority over device memory on the machine --------------------------- */

/* A child process, named "registry-holder", declares BAR2+0xa0000..+0x20000 of the first
 * ivshmem through its own PCI instance and waits; this process is refused naming the child's
 * pid and command, in the machine-wide registry /run/dmacoh/registry (the default); after the
 * child is killed with SIGKILL, the kernel has dropped its lock and this process declares and
 * writes a page for the host to check. */
static int reg_child(const char *bdf, dmacoh_phys_addr_t bar, int res)
{
    struct dmacoh_pci *pci;
    struct dmacoh_device dev;
    int r;

    (void)prctl(PR_SET_NAME, "registry-holder", 0, 0, 0);
    r = dmacoh_pci_open(bdf, NULL, &pci);
    if (r == 0)
        r = dmacoh_device_init(&dev, "held", NULL, dmacoh_pci_platform(pci));
    if (r == 0)
        r = ti_declare(&dev, bar, 0xa0000, 0x20000);
    if (write(res, &r, sizeof(r)) != (ssize_t)sizeof(r))
        return 2;
    for (;;)
        pause(); /* until killed: no release, no close, no exit handler */
}

static int proof_registry(void)
{
    struct dmacoh_pci *pci;
    struct dmacoh_device dev;
    dmacoh_phys_addr_t bar;
    struct stat st;
    char bdf[32], holder[64];
    int res[2], r = 1, st_child;
    pid_t child;

    check(find_device(0x1af4, 0x1110, bdf, sizeof(bdf)) == 0, "no ivshmem device");
    check(config_enable(bdf, 0x2) == 0, "cannot enable memory decode of %s", bdf);
    check(dmacoh_pci_open(bdf, NULL, &pci) == 0, "dmacoh_pci_open(%s)", bdf);
    check(dmacoh_pci_bar(pci, 2, &bar, NULL, NULL) == 0, "no BAR2");
    check(dmacoh_device_init(&dev, "second", NULL, dmacoh_pci_platform(pci)) == 0, "init");
    check(pipe(res) == 0, "pipe");
    fflush(stdout);
    child = fork();
    check(child >= 0, "fork");
    if (child == 0)
        _exit(reg_child(bdf, bar, res[1]));
    close(res[1]); /* a child that dies before answering ends the read */
    if (read(res[0], &r, sizeof(r)) != (ssize_t)sizeof(r) || r != 0) {
        say("FAIL: the child's declaration failed: %d", r);
        r = 1;
    } else if (stat("/run/dmacoh/registry", &st) != 0 || !S_ISREG(st.st_mode) ||
               (st.st_mode & 0777) != 0644) {
        say("FAIL: no registry file /run/dmacoh/registry of mode 0644");
        r = 1;
    } else {
        say("child %ld (registry-holder) declared BAR2+0xa0000..+0x20000 and waits", (long)child);
        dmacoh_set_log_fn(ti_log_fn, NULL, 2);
        snprintf(holder, sizeof(holder), "by process %ld (registry-holder)", (long)child);
        r = ti_refused(&dev, bar, 0xb0000, 0x20000, holder);
        dmacoh_set_log_fn(log_fn, NULL, 2);
    }
    kill(child, SIGKILL); /* on every path: it must not hold the range for later proofs */
    check(waitpid(child, &st_child, 0) == child && WIFSIGNALED(st_child), "the child lived on");
    close(res[0]);
    if (r)
        return 1;
    say("child killed with SIGKILL, nothing released");
    r = ti_declare(&dev, bar, 0xa0000, 0x20000);
    say("'second' declares BAR2+0xa0000..+0x20000: %d (%s)", r, dmacoh_err_name(r));
    check(r == 0, "the dead child's range is still held");
    if (ti_fill(&dev, "registry."))
        return 1;
    check(dmacoh_release_coherent_memory(&dev, 0) == 0, "release");
    check(dmacoh_device_fini(&dev) == 0 && dmacoh_pci_close(pci) == 0, "close");
    return 0;
}

/* ---- proof: one shared region over ivshmem BAR2, two processes, deaths, reap --------------- */

/* Two processes share BAR2+0xd0000..+0x20000 (which no other proof writes) of the first
 * ivshmem as one shared region: each opens the PCI platform itself and declares the same
 * range with dmacoh_declare_shared_memory (one creates, one attaches), so each maps the BAR
 * through sysfs on its own. Device addresses are bus addresses: a handle's offset in BAR2 is
 * handle - BAR base. The proof's process only forks and kills:
 *   - "survivor" creates the region and takes 4 pages;
 *   - "victim1" attaches and fills the rest of the region, then is killed with SIGKILL while
 *     holding its blocks; the survivor finds the region full (quarantined blocks are not handed
 *     out), sees them quarantined, reaps them, and gets every reaped byte back;
 *   - the survivor frees half of that; "victim2" attaches, fills it, frees a page and is
 *     killed with SIGKILL inside the region lock, at the test hook's step 84 of allocating that
 *     page again (granules changed, owner not yet recorded); the survivor's next call repairs
 *     the state, sees victim2's blocks (not the interrupted one) quarantined, reaps them and
 *     allocates 2 pages of victim2's memory.
 * After every step each page is accounted for (free + live + quarantined + occupied = size)
 * and dmacoh_check passes. Every block written is reported, after the write, as
 *   HWSHARED <role> <phase> <pid> <handle> <bar base> <length> <tag>
 * and run.sh checks, in the ivshmem file, that each page holds its last writer's tag. */

#define SB_OFF  0xd0000u
#define SB_SIZE 0x20000u
#define SB_PAGE 4096u
#define SB_NAME "hw-shared-bar"
#define SB_MAX  64
#define SB_STEP 84u /* pages.c: an allocation's granules changed, its owner not yet recorded */

struct sb_blk {
    void *cpu;
    dmacoh_dma_addr_t h;
    size_t len;
};

/* One process's attachment and the blocks it holds. */
struct sb {
    const char *role;
    struct dmacoh_pci *pci;
    struct dmacoh_device dev;
    dmacoh_phys_addr_t bar;
    int granted;
    struct sb_blk blk[SB_MAX];
    unsigned n;
    unsigned written; /* blocks written, for tags */
};

/* What the processes tell each other over pipes. */
struct sb_msg {
    char what;
    unsigned blocks;
    uint64_t bytes;
};

static int sb_send(int fd, char what, unsigned blocks, uint64_t bytes)
{
    struct sb_msg m = {what, blocks, bytes};

    return write(fd, &m, sizeof(m)) == (ssize_t)sizeof(m) ? 0 : -1;
}

/* The next message, which must be `what`; -1 on anything else (a dead writer ends it). */
static int sb_recv(int fd, char what, struct sb_msg *m)
{
    return read(fd, m, sizeof(*m)) == (ssize_t)sizeof(*m) && m->what == what ? 0 : -1;
}

/* Opens the PCI platform and declares the shared region, in this process. */
static int sb_attach(struct sb *s, const char *role, const char *bdf, unsigned share_flags)
{
    struct dmacoh_share_opts share = {SB_NAME, share_flags, 0};
    int r;

    s->role = role;
    s->n = s->written = 0;
    (void)prctl(PR_SET_NAME, role, 0, 0, 0);
    check(dmacoh_pci_open(bdf, NULL, &s->pci) == 0, "%s: dmacoh_pci_open(%s)", role, bdf);
    check(dmacoh_pci_bar(s->pci, 2, &s->bar, NULL, NULL) == 0, "%s: no BAR2", role);
    check(dmacoh_device_init(&s->dev, role, NULL, dmacoh_pci_platform(s->pci)) == 0, "%s: init",
          role);
    r = dmacoh_declare_shared_memory(&s->dev, s->bar + SB_OFF, s->bar + SB_OFF, SB_SIZE,
                                     DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL, &share,
                                     &s->granted);
    check(r == 0, "%s: dmacoh_declare_shared_memory: %d (%s)", role, r, dmacoh_err_name(r));
    say("%s (pid %ld): %s '%s' over bus %#llx..+%#x through its own sysfs mapping, granted %s",
        role, (long)getpid(), share_flags & DMACOH_SHARE_CREATE ? "created" : "attached to",
        SB_NAME, (unsigned long long)(s->bar + SB_OFF), SB_SIZE,
        s->granted == DMACOH_MEMORY_MAP ? "MAP" : "IO");
    return 0;
}

/* Allocates len bytes, writes "<role>-<phase>-b<NN>." over them and reports the block: 0,
 * or the allocation's error. */
static int sb_alloc(struct sb *s, const char *phase, size_t len)
{
    struct sb_blk *b = &s->blk[s->n];
    char tag[48];
    int r;

    if (s->n == SB_MAX)
        return DMACOH_ENOMEM;
    r = dmacoh_alloc_coherent(&s->dev, len, 0, 0, &b->cpu, &b->h);
    if (r)
        return r;
    b->len = len;
    snprintf(tag, sizeof(tag), "%s-%s-b%02u.", s->role, phase, s->written++);
    if (s->granted == DMACOH_MEMORY_MAP)
        fill_tag(b->cpu, len, tag);
    else
        for (size_t k = 0; k < len; k++)
            dmacoh_iowrite8((uint8_t)tag[k % strlen(tag)], (char *)b->cpu + k);
    printf("HWSHARED %s %s %ld %#llx %#llx %zu %s\n", s->role, phase, (long)getpid(),
           (unsigned long long)b->h, (unsigned long long)s->bar, len, tag);
    fflush(stdout);
    s->n++;
    return 0;
}

/* Allocates blocks of 2, 1 and 3 pages in turn, then single pages, until the region is full:
 * the bytes taken in *bytes. Fails on any error but -ENOMEM. */
static int sb_fill(struct sb *s, const char *phase, uint64_t *bytes)
{
    static const unsigned pages[] = {2, 1, 3};
    unsigned i = 0;
    int r;

    *bytes = 0;
    for (;;) {
        size_t len = (size_t)pages[i % 3] * SB_PAGE;

        r = sb_alloc(s, phase, len);
        if (r == 0) {
            *bytes += len;
            i++;
        } else if (r == DMACOH_ENOMEM && len > SB_PAGE) {
            i = 1; /* single pages from now on */
            while (pages[i % 3] != 1)
                i++;
        } else {
            break;
        }
    }
    check(r == DMACOH_ENOMEM, "%s: alloc: %d (%s)", s->role, r, dmacoh_err_name(r));
    return 0;
}

/* Frees s->blk[k] and forgets it. */
static int sb_free(struct sb *s, unsigned k)
{
    struct sb_blk *b = &s->blk[k];

    check(dmacoh_free_coherent(&s->dev, b->len, b->cpu, b->h) == 0, "%s: free %#llx", s->role,
          (unsigned long long)b->h);
    s->blk[k] = s->blk[--s->n];
    return 0;
}

/* Every page accounted for, the invariant checker clean; the statistics in *st. */
static int sb_accounted(struct sb *s, struct dmacoh_shared_stats *st, const char *when)
{
    check(dmacoh_shared_get_stats(&s->dev, st) == 0, "%s: stats", s->role);
    say("%s %s: procs %u dead %u, live %llu blocks %#llx B, quarantined %llu blocks %#llx B, "
        "free %#llx B, occupied %#llx B; recoveries %llu deaths %llu reaped %llu",
        s->role, when, st->procs, st->dead, (unsigned long long)st->live_blocks,
        (unsigned long long)st->live_bytes, (unsigned long long)st->quarantined_blocks,
        (unsigned long long)st->quarantined_bytes, (unsigned long long)st->free_bytes,
        (unsigned long long)st->occupied_bytes, (unsigned long long)st->recoveries,
        (unsigned long long)st->deaths, (unsigned long long)st->reaped_blocks);
    check(st->free_bytes + st->live_bytes + st->quarantined_bytes + st->occupied_bytes == SB_SIZE,
          "%s %s: pages unaccounted for", s->role, when);
    check(dmacoh_check(&s->dev), "%s %s: dmacoh_check failed", s->role, when);
    return 0;
}

/* Bytes s holds. */
static uint64_t sb_held(const struct sb *s)
{
    uint64_t n = 0;

    for (unsigned k = 0; k < s->n; k++)
        n += s->blk[k].len;
    return n;
}

/* A victim: attaches, fills the region, tells the proof what it holds and waits to be killed.
 * victim2 then frees one page and dies inside the lock allocating it again. */
static int sb_victim_fd = -1;

static void sb_step(unsigned step)
{
    if (step != SB_STEP)
        return;
    (void)sb_send(sb_victim_fd, 'l', 0, 0); /* inside the lock: kill me */
    for (;;)
        pause();
}

static int sb_victim(const char *role, const char *bdf, int ack)
{
    struct sb s;
    uint64_t bytes;
    void *cpu;
    dmacoh_dma_addr_t h;
    int r;

    if (sb_attach(&s, role, bdf, DMACOH_SHARE_ATTACH) || sb_fill(&s, "held", &bytes))
        return 1;
    say("%s holds %u blocks, %#llx bytes: the region is full", role, s.n,
        (unsigned long long)bytes);
    if (strcmp(role, "victim2") == 0) {
        unsigned k = 0;

        while (k < s.n && s.blk[k].len != SB_PAGE)
            k++;
        check(k < s.n, "%s holds no single page", role);
        check(sb_free(&s, k) == 0, "free");
        check(sb_send(ack, 'h', s.n, sb_held(&s)) == 0, "ack");
        sb_victim_fd = ack;
        dmacoh__step_fn = sb_step;
        r = dmacoh_alloc_coherent(&s.dev, SB_PAGE, 0, 0, &cpu, &h);
        dmacoh__step_fn = NULL;
        say("%s: the allocation returned %d without reaching step %u", role, r, SB_STEP);
        return 1;
    }
    check(sb_send(ack, 'h', s.n, sb_held(&s)) == 0, "ack");
    for (;;)
        pause(); /* until killed: no free, no release, no exit handler */
}

/* The survivor: runs the proof's checks as the proof tells it of each death. */
static int sb_survivor(const char *bdf, int cmd, int ack)
{
    struct sb s;
    struct dmacoh_shared_stats st;
    struct sb_msg m;
    uint64_t bytes = 0, blocks = 0, freed = 0, recov;
    void *cpu;
    dmacoh_dma_addr_t h;
    unsigned half;
    int r;

    if (sb_attach(&s, "survivor", bdf, DMACOH_SHARE_CREATE))
        return 1;
    for (int i = 0; i < 3; i++)
        check(sb_alloc(&s, "start", (size_t)(i == 1 ? 2 : 1) * SB_PAGE) == 0, "alloc");
    check(sb_send(ack, 'r', s.n, sb_held(&s)) == 0, "ack");

    /* victim1 killed holding blocks. */
    check(sb_recv(cmd, 'k', &m) == 0, "no word of victim1's death");
    r = dmacoh_alloc_coherent(&s.dev, SB_PAGE, 0, 0, &cpu, &h);
    say("survivor: alloc of one page while victim1's blocks are quarantined: %d (%s)", r,
        dmacoh_err_name(r));
    check(r == DMACOH_ENOMEM, "a dead owner's block was handed out before the reap");
    if (sb_accounted(&s, &st, "after victim1's death"))
        return 1;
    check(st.procs == 1 && st.dead == 1 && st.quarantined_blocks == m.blocks &&
              st.quarantined_bytes == m.bytes && st.free_bytes == 0,
          "victim1's %u blocks (%#llx bytes) are not what is quarantined", m.blocks,
          (unsigned long long)m.bytes);
    check(dmacoh_shared_reap(&s.dev, &blocks, &bytes) == 0, "reap");
    say("survivor: reaped %llu blocks, %#llx bytes", (unsigned long long)blocks,
        (unsigned long long)bytes);
    check(blocks == m.blocks && bytes == m.bytes, "the reap freed something else");
    if (sb_accounted(&s, &st, "after the reap"))
        return 1;
    check(st.dead == 0 && st.quarantined_bytes == 0 && st.free_bytes == m.bytes, "after reap");
    check(sb_fill(&s, "reap1", &bytes) == 0, "refill");
    check(bytes == m.bytes, "the survivor got %#llx bytes back, not %#llx",
          (unsigned long long)bytes, (unsigned long long)m.bytes);
    if (sb_accounted(&s, &st, "after taking the reaped memory"))
        return 1;
    check(st.free_bytes == 0 && st.live_bytes == SB_SIZE, "not all taken back");
    recov = st.recoveries;

    /* Room for victim2: half of the blocks taken back (those after the first 3). */
    half = (s.n - 3) / 2;
    for (unsigned k = 0; k < half; k++) {
        freed += s.blk[s.n - 1].len;
        check(sb_free(&s, s.n - 1) == 0, "free");
    }
    say("survivor: freed %u blocks, %#llx bytes, for victim2", half, (unsigned long long)freed);
    check(sb_send(ack, 'f', half, freed) == 0, "ack");

    /* victim2 killed inside the lock. */
    check(sb_recv(cmd, 'K', &m) == 0, "no word of victim2's death");
    if (sb_accounted(&s, &st, "after victim2's death inside the lock"))
        return 1;
    check(st.recoveries == recov + 1, "no repair after a death inside the lock");
    check(st.dead == 1 && st.quarantined_blocks == m.blocks && st.quarantined_bytes == m.bytes &&
              st.free_bytes == SB_PAGE,
          "victim2's %u blocks (%#llx bytes) are not what is quarantined, or its interrupted "
          "allocation was not undone",
          m.blocks, (unsigned long long)m.bytes);
    check(dmacoh_shared_reap(&s.dev, &blocks, &bytes) == 0, "reap");
    check(blocks == m.blocks && bytes == m.bytes, "the reap freed something else");
    if (sb_accounted(&s, &st, "after the second reap"))
        return 1;
    check(st.free_bytes == freed && st.deaths == 2, "after the second reap");
    for (int i = 0; i < 2; i++)
        check(sb_alloc(&s, "reap2", SB_PAGE) == 0, "alloc after the second reap");
    if (sb_accounted(&s, &st, "at the end"))
        return 1;
    while (s.n)
        check(sb_free(&s, s.n - 1) == 0, "free");
    check(dmacoh_release_coherent_memory(&s.dev, 0) == 0, "release");
    check(dmacoh_device_fini(&s.dev) == 0, "fini");
    check(dmacoh_shared_unlink(dmacoh_pci_platform(s.pci), SB_NAME) == 0, "unlink");
    check(dmacoh_pci_close(s.pci) == 0, "close");
    return 0;
}

/* Forks a victim: its pid, and in *rd the pipe it speaks on (its first word read into *m). */
static pid_t sb_spawn_victim(const char *role, const char *bdf, int *rd, struct sb_msg *m)
{
    int p[2];
    pid_t pid;

    if (pipe(p))
        return -1;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        _exit(sb_victim(role, bdf, p[1]));
    }
    close(p[1]);
    *rd = p[0];
    if (pid > 0 && sb_recv(p[0], 'h', m) != 0)
        say("%s did not attach and fill the region", role);
    return pid;
}

/* Kills pid with SIGKILL and waits for it: 0 when it died of that. */
static int sb_kill(pid_t pid)
{
    int st = 0;

    kill(pid, SIGKILL);
    return waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : -1;
}

/* The proof's side: starts each victim, kills it, tells the survivor. v[] receives the
 * victims' pids and rd[] their pipes, for the caller to reap and close on every path. */
static int sb_run(const char *bdf, int cmd, int ack, pid_t v[2], int rd[2])
{
    struct sb_msg m;

    check(sb_recv(ack, 'r', &m) == 0, "the survivor did not create the region");
    v[0] = sb_spawn_victim("victim1", bdf, &rd[0], &m);
    check(v[0] > 0 && m.what == 'h', "victim1");
    check(sb_kill(v[0]) == 0, "victim1 did not die of SIGKILL");
    say("victim1 (pid %ld) killed with SIGKILL holding %u blocks, %#llx bytes", (long)v[0],
        m.blocks, (unsigned long long)m.bytes);
    v[0] = 0;
    check(sb_send(cmd, 'k', m.blocks, m.bytes) == 0 && sb_recv(ack, 'f', &m) == 0,
          "the survivor's checks after victim1's death failed");
    m.what = 0;
    v[1] = sb_spawn_victim("victim2", bdf, &rd[1], &m);
    check(v[1] > 0 && m.what == 'h', "victim2");
    {
        struct sb_msg l;

        check(sb_recv(rd[1], 'l', &l) == 0, "victim2 did not reach step %u", SB_STEP);
    }
    check(sb_kill(v[1]) == 0, "victim2 did not die of SIGKILL");
    say("victim2 (pid %ld) killed with SIGKILL inside the region lock (step %u of an "
        "allocation), holding %u blocks, %#llx bytes",
        (long)v[1], SB_STEP, m.blocks, (unsigned long long)m.bytes);
    v[1] = 0;
    check(sb_send(cmd, 'K', m.blocks, m.bytes) == 0, "the survivor is gone");
    return 0;
}

static int proof_shared_bar(void)
{
    char bdf[32];
    int cmd[2], ack[2], rd[2] = {-1, -1}, st = 0, r;
    pid_t surv, v[2] = {0, 0};

    check(find_device(0x1af4, 0x1110, bdf, sizeof(bdf)) == 0, "no ivshmem device");
    check(config_enable(bdf, 0x2) == 0, "cannot enable memory decode of %s", bdf);
    check(pipe(cmd) == 0, "pipe");
    check(pipe(ack) == 0, "pipe");
    fflush(NULL);
    surv = fork();
    check(surv >= 0, "fork");
    if (surv == 0) {
        close(cmd[1]);
        close(ack[0]);
        _exit(sb_survivor(bdf, cmd[0], ack[1]));
    }
    close(cmd[0]);
    close(ack[1]);
    r = sb_run(bdf, cmd[1], ack[0], v, rd);
    for (int i = 0; i < 2; i++) { /* on every path: no victim outlives the proof */
        if (v[i] > 0)
            (void)sb_kill(v[i]);
        if (rd[i] >= 0)
            close(rd[i]);
    }
    close(cmd[1]); /* a survivor still waiting for a word reads the end and fails */
    check(waitpid(surv, &st, 0) == surv, "waitpid");
    close(ack[0]);
    check(r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the survivor failed (status %#x)", st);
    return 0;
}

/* ---- proof: one shared region over edu's BAR0 through VFIO, two processes ----------------- */

/* The primary opens the edu bound to vfio-pci, declares BAR0+0x80000..+0x80000 as a shared
 * region and hands the container and device descriptors to a child forked before anything was
 * opened (it inherits no mapping or claim); the child builds its own VFIO instance from them
 * (dmacoh_vfio_attach_fds) and attaches to the region by name with the same declaration. edu
 * decodes nothing there: its registers end at 0x98, its DMA buffer (0x40000..0x40fff) is
 * reached by its engine only, and an access to any other offset reads all ones and writes
 * nothing. So the bytes are no memory: both sides declare IO, allocate with
 * DMACOH_ALLOC_NOZERO and never write a block; the proof is about who holds which bytes. (And
 * with DMACOH_ALLOC_NOFALLBACK: a full region fails with -ENOMEM, where the child, which has no
 * system memory for DMA, would fail with -ENOTSUP.)
 * Device addresses are offsets in BAR0 (the primary's fallback IOVAs lie above them, and the
 * device range travels in the hand-over). The primary takes 4 pages; the child fills the rest
 * and reports its handles and its statistics; the primary checks that no handle of the child
 * overlaps one of its own, that both count the child's blocks live, and that the registry
 * lists the range as shared by both processes; then it kills the child with SIGKILL, finds
 * its blocks quarantined (not handed out), reaps them and takes every reaped byte back. Every
 * page is accounted for, and dmacoh_check passes, at each step. */

#define VS_OFF  0x80000u
#define VS_SIZE 0x80000u
#define VS_PAGE 4096u
#define VS_NAME "hw-vfio-shared"
#define VS_MAX  128u

struct vs_blk {
    void *cpu;
    uint64_t h, len;
};

/* One process's side: its VFIO instance, its attachment, the blocks it holds. */
struct vs {
    const char *role;
    struct dmacoh_vfio *v;
    struct dmacoh_device dev;
    dmacoh_phys_addr_t bar;
    struct vs_blk blk[VS_MAX];
    unsigned n;
};

/* What the child reports: its blocks and what its statistics said. */
struct vs_report {
    uint32_t n, procs;
    uint64_t h[VS_MAX], len[VS_MAX];
    uint64_t own_bytes, own_blocks, live_bytes, live_blocks, free_bytes;
};

/* Declares (creates or attaches to) the shared region through s->v. */
static int vs_declare(struct vs *s, unsigned share_flags)
{
    struct dmacoh_share_opts share = {VS_NAME, share_flags, 0};
    uint64_t size = 0;
    int granted = 0, r;

    check(dmacoh_vfio_bar(s->v, 0, &s->bar, &size, NULL) == 0 && size >= VS_OFF + VS_SIZE,
          "%s: edu BAR0 (%#llx bytes)", s->role, (unsigned long long)size);
    check(dmacoh_device_init(&s->dev, s->role, NULL, dmacoh_vfio_platform(s->v)) == 0 &&
              dmacoh_device_set_dma_mask(&s->dev, EDU_MASK_28) == 0,
          "%s: init", s->role);
    r = dmacoh_declare_shared_memory(&s->dev, s->bar + VS_OFF, VS_OFF, VS_SIZE, DMACOH_MEMORY_IO,
                                     NULL, &share, &granted);
    check(r == 0 && granted == DMACOH_MEMORY_IO, "%s: dmacoh_declare_shared_memory: %d (%s)",
          s->role, r, dmacoh_err_name(r));
    say("%s (pid %ld): %s '%s' over bus %#llx..+%#x (device addresses %#x..) through its VFIO "
        "instance (%s), granted IO",
        s->role, (long)getpid(), share_flags & DMACOH_SHARE_CREATE ? "created" : "attached to",
        VS_NAME, (unsigned long long)(s->bar + VS_OFF), VS_SIZE, VS_OFF,
        dmacoh_vfio_is_attached(s->v) ? "descriptors received" : "opened");
    return 0;
}

/* Allocates len bytes, untouched: 0 or the allocation's error. */
static int vs_alloc(struct vs *s, uint64_t len)
{
    struct vs_blk *b = &s->blk[s->n];
    dmacoh_dma_addr_t h;
    int r;

    if (s->n == VS_MAX)
        return DMACOH_ENOMEM;
    r = dmacoh_alloc_coherent(&s->dev, (size_t)len, DMACOH_ALLOC_NOZERO | DMACOH_ALLOC_NOFALLBACK,
                              0, &b->cpu, &h);
    if (r)
        return r;
    b->h = h;
    b->len = len;
    s->n++;
    return 0;
}

/* Blocks of 16 pages, then single pages, until the region is full (-ENOMEM). */
static int vs_fill(struct vs *s)
{
    uint64_t len = 16 * VS_PAGE;
    int r;

    for (;;) {
        r = vs_alloc(s, len);
        if (r == DMACOH_ENOMEM && len > VS_PAGE && s->n < VS_MAX)
            len = VS_PAGE;
        else if (r)
            break;
    }
    check(r == DMACOH_ENOMEM && s->n < VS_MAX, "%s: alloc: %d (%s), %u blocks", s->role, r,
          dmacoh_err_name(r), s->n);
    return 0;
}

/* Every page accounted for and the invariant checker clean; the statistics in *st. */
static int vs_accounted(struct vs *s, struct dmacoh_shared_stats *st, const char *when)
{
    check(dmacoh_shared_get_stats(&s->dev, st) == 0, "%s: stats", s->role);
    say("%s %s: procs %u dead %u, live %llu blocks %#llx B (own %#llx B), quarantined %llu "
        "blocks %#llx B, free %#llx B, occupied %#llx B",
        s->role, when, st->procs, st->dead, (unsigned long long)st->live_blocks,
        (unsigned long long)st->live_bytes, (unsigned long long)st->own_bytes,
        (unsigned long long)st->quarantined_blocks, (unsigned long long)st->quarantined_bytes,
        (unsigned long long)st->free_bytes, (unsigned long long)st->occupied_bytes);
    check(st->free_bytes + st->live_bytes + st->quarantined_bytes + st->occupied_bytes == VS_SIZE,
          "%s %s: pages unaccounted for", s->role, when);
    check(dmacoh_check(&s->dev), "%s %s: dmacoh_check failed", s->role, when);
    return 0;
}

static uint64_t vs_held(const struct vs *s)
{
    uint64_t n = 0;

    for (unsigned k = 0; k < s->n; k++)
        n += s->blk[k].len;
    return n;
}

/* The child: attaches, fills the region, reports, and waits to be killed holding it all. */
static int vs_child(int sock)
{
    struct vs s = {.role = "vfio-shared-2"};
    struct vs_report rep;
    struct dmacoh_shared_stats st;
    int r;

    (void)prctl(PR_SET_NAME, s.role, 0, 0, 0);
    r = dmacoh_vfio_attach_fds(sock, NULL, &s.v);
    check(r == 0, "dmacoh_vfio_attach_fds: %d (%s)", r, dmacoh_err_name(r));
    if (vs_declare(&s, DMACOH_SHARE_ATTACH) || vs_fill(&s) ||
        vs_accounted(&s, &st, "after filling the region"))
        return 1;
    memset(&rep, 0, sizeof(rep));
    rep.n = s.n;
    rep.procs = st.procs;
    for (unsigned k = 0; k < s.n; k++) {
        rep.h[k] = s.blk[k].h;
        rep.len[k] = s.blk[k].len;
    }
    rep.own_bytes = st.own_bytes;
    rep.own_blocks = st.own_blocks;
    rep.live_bytes = st.live_bytes;
    rep.live_blocks = st.live_blocks;
    rep.free_bytes = st.free_bytes;
    say("%s holds %u blocks, %#llx bytes: the region is full", s.role, s.n,
        (unsigned long long)vs_held(&s));
    check(send(sock, &rep, sizeof(rep), 0) == (ssize_t)sizeof(rep), "report");
    for (;;)
        pause(); /* until killed: no free, no release, no close */
}

/* [a, a + al) and [b, b + bl) share a byte. */
static bool vs_overlap(uint64_t a, uint64_t al, uint64_t b, uint64_t bl)
{
    return a < b + bl && b < a + al;
}

/* Registry entries over the region's bus range: how many shared ones, and whether pid's is
 * among them. */
struct vs_reg {
    dmacoh_phys_addr_t lo;
    long pid[2];
    unsigned found[2], other;
};

static int vs_reg_fn(void *ctx, const struct dmacoh__registry_entry *e)
{
    struct vs_reg *g = (struct vs_reg *)ctx;

    if (!vs_overlap(e->bus, e->size, g->lo, VS_SIZE))
        return 0;
    say("registry: %#llx+%#llx held %s by process %ld (%s)", (unsigned long long)e->bus,
        (unsigned long long)e->size, e->shared ? "shared" : "exclusively", e->pid, e->comm);
    for (int i = 0; i < 2; i++)
        if (g->pid[i] > 0 && e->shared && e->pid == g->pid[i] && e->bus == g->lo &&
            e->size == VS_SIZE) {
            g->found[i]++;
            return 0;
        }
    g->other++;
    return 0;
}

/* The registry holds the range shared by exactly the processes named (0: none). */
static int vs_registry(dmacoh_phys_addr_t lo, long a, long b, const char *when)
{
    struct vs_reg g = {lo, {a, b}, {0, 0}, 0};

    check(dmacoh__linux_registry_walk(vs_reg_fn, &g) == 0, "registry walk");
    check(g.found[0] == (a ? 1u : 0u) && g.found[1] == (b ? 1u : 0u) && g.other == 0,
          "%s: the registry does not list the range as shared by exactly %ld and %ld", when, a, b);
    say("registry %s: the range is shared by %s", when,
        a && b ? "both processes"
        : a    ? "the primary alone"
               : "nobody");
    return 0;
}

/* The primary's side once the child has reported. */
static int vs_primary(struct vs *s, int sock, pid_t *pchild)
{
    struct vs_report rep;
    struct dmacoh_shared_stats st;
    uint64_t held = 0, blocks = 0, bytes = 0, mine = vs_held(s), in_child;
    unsigned own = s->n;
    pid_t child = *pchild;
    int r, status = 0;

    check(recv(sock, &rep, sizeof(rep), 0) == (ssize_t)sizeof(rep) && rep.n <= VS_MAX,
          "no report from the child");
    for (unsigned k = 0; k < rep.n; k++) {
        held += rep.len[k];
        check(rep.h[k] >= VS_OFF && rep.h[k] + rep.len[k] <= VS_OFF + VS_SIZE,
              "child's handle %#llx outside the region", (unsigned long long)rep.h[k]);
        for (unsigned j = 0; j < s->n; j++)
            check(!vs_overlap(rep.h[k], rep.len[k], s->blk[j].h, s->blk[j].len),
                  "child's block %#llx+%#llx overlaps the primary's %#llx+%#llx",
                  (unsigned long long)rep.h[k], (unsigned long long)rep.len[k],
                  (unsigned long long)s->blk[j].h, (unsigned long long)s->blk[j].len);
        for (unsigned j = 0; j < k; j++)
            check(!vs_overlap(rep.h[k], rep.len[k], rep.h[j], rep.len[j]),
                  "two of the child's blocks overlap");
    }
    say("primary: the child's %u blocks (%#llx bytes, handles %#llx..) overlap none of its own "
        "%u (%#llx bytes)",
        rep.n, (unsigned long long)held, (unsigned long long)(rep.n ? rep.h[0] : 0), s->n,
        (unsigned long long)mine);
    check(rep.procs == 2 && rep.own_blocks == rep.n && rep.own_bytes == held &&
              rep.live_bytes == held + mine && rep.live_blocks == rep.n + own &&
              rep.free_bytes == 0,
          "the child's statistics do not count both processes' blocks live");
    if (vs_accounted(s, &st, "after the child filled the region"))
        return 1;
    check(st.procs == 2 && st.live_bytes == held + mine && st.live_blocks == rep.n + own &&
              st.own_bytes == mine && st.free_bytes == 0,
          "the primary does not see the child's blocks live");
    if (vs_registry(s->bar + VS_OFF, (long)getpid(), (long)child, "both attached"))
        return 1;

    kill(child, SIGKILL);
    check(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
          "the child did not die of SIGKILL");
    *pchild = 0;
    say("primary: child %ld killed with SIGKILL holding %u blocks, %#llx bytes", (long)child, rep.n,
        (unsigned long long)held);
    if (vs_registry(s->bar + VS_OFF, (long)getpid(), 0, "after the child's death"))
        return 1;
    r = vs_alloc(s, VS_PAGE);
    say("primary: alloc of one page while the child's blocks are quarantined: %d (%s)", r,
        dmacoh_err_name(r));
    check(r == DMACOH_ENOMEM, "a dead owner's block was handed out before the reap");
    if (vs_accounted(s, &st, "after the child's death"))
        return 1;
    check(st.procs == 1 && st.dead == 1 && st.quarantined_blocks == rep.n &&
              st.quarantined_bytes == held && st.live_bytes == mine && st.free_bytes == 0,
          "the child's %u blocks (%#llx bytes) are not what is quarantined", rep.n,
          (unsigned long long)held);
    check(dmacoh_shared_reap(&s->dev, &blocks, &bytes) == 0, "reap");
    say("primary: reaped %llu blocks, %#llx bytes", (unsigned long long)blocks,
        (unsigned long long)bytes);
    check(blocks == rep.n && bytes == held, "the reap freed something else");
    if (vs_accounted(s, &st, "after the reap"))
        return 1;
    check(st.dead == 0 && st.quarantined_bytes == 0 && st.free_bytes == held, "after the reap");

    /* Every reaped byte back, and only those: the child's blocks again, in its sizes. */
    for (unsigned k = 0; k < rep.n; k++)
        check(vs_alloc(s, rep.len[k]) == 0, "alloc of %#llx after the reap",
              (unsigned long long)rep.len[k]);
    check(vs_alloc(s, VS_PAGE) == DMACOH_ENOMEM, "more than the child held came back");
    in_child = 0;
    for (unsigned j = own; j < s->n; j++)
        for (unsigned k = 0; k < rep.n; k++)
            if (vs_overlap(s->blk[j].h, s->blk[j].len, rep.h[k], rep.len[k]))
                in_child += (s->blk[j].h + s->blk[j].len < rep.h[k] + rep.len[k]
                                 ? s->blk[j].h + s->blk[j].len
                                 : rep.h[k] + rep.len[k]) -
                            (s->blk[j].h > rep.h[k] ? s->blk[j].h : rep.h[k]);
    check(in_child == held, "the blocks taken back lie outside the child's (%#llx of %#llx)",
          (unsigned long long)in_child, (unsigned long long)held);
    if (vs_accounted(s, &st, "after taking the reaped memory"))
        return 1;
    check(st.free_bytes == 0 && st.live_bytes == VS_SIZE && st.own_bytes == VS_SIZE &&
              st.deaths == 1 && st.reaped_bytes == held,
          "not all taken back");
    say("primary: allocated the child's %u blocks again (%#llx bytes, exactly its bytes)", rep.n,
        (unsigned long long)held);
    for (; s->n; s->n--) {
        struct vs_blk *b = &s->blk[s->n - 1];

        check(dmacoh_free_coherent(&s->dev, (size_t)b->len, b->cpu, b->h) == 0, "free %#llx",
              (unsigned long long)b->h);
    }
    return 0;
}

static int proof_vfio_shared(void)
{
    struct vs s = {.role = "vfio-shared-1"};
    char bdf[32];
    int sv[2], r, status = 0;
    pid_t child;

    check(find_vfio_device(0x1234, 0x11e8, bdf, sizeof(bdf)) == 0, "no edu bound to vfio-pci");
    check(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0, "socketpair");
    fflush(NULL);
    child = fork(); /* before anything is opened: the child inherits no mapping or claim */
    check(child >= 0, "fork");
    if (child == 0) {
        close(sv[0]);
        _exit(vs_child(sv[1]));
    }
    close(sv[1]);
    r = dmacoh_vfio_open(bdf, NULL, &s.v);
    if (r == 0)
        r = vs_declare(&s, DMACOH_SHARE_CREATE);
    for (unsigned i = 0; r == 0 && i < 3; i++)
        r = vs_alloc(&s, (i == 1 ? 2 : 1) * VS_PAGE);
    if (r == 0)
        r = dmacoh_vfio_send_fds(s.v, sv[0]);
    if (r == 0) {
        say("primary: took %u blocks (%#llx bytes), sent the container and device descriptors", s.n,
            (unsigned long long)vs_held(&s));
        r = vs_primary(&s, sv[0], &child);
    } else {
        say("primary: open, declare, alloc or send failed: %d (%s)", r, dmacoh_err_name(r));
    }
    if (child > 0) { /* on every path: the child must not outlive the proof */
        kill(child, SIGKILL);
        (void)waitpid(child, &status, 0);
    }
    close(sv[0]);
    if (r)
        return 1;
    check(dmacoh_release_coherent_memory(&s.dev, 0) == 0, "release");
    if (vs_registry(s.bar + VS_OFF, 0, 0, "after the release"))
        return 1;
    check(dmacoh_shared_unlink(dmacoh_vfio_platform(s.v), VS_NAME) == 0, "unlink");
    check(dmacoh_device_fini(&s.dev) == 0 && dmacoh_vfio_close(s.v) == 0, "close");
    return 0;
}

/* ---- tool-show: the `dmacoh` command on a shared region two guest processes hold ---- */

#define TS_NAME "hw-tool-show"
#define TS_OFF  0x20000u /* in ivshmem's BAR2: the 128 KiB no other proof writes or checks */
#define TS_SIZE 0x20000u
#define TS_TOOL "/bin/dmacoh"
#define TS_OUT  65536

/* A process of the region: declares it (creating it or attaching), allocates `sizes`, sends
 * each handle on `wr`, then holds everything until `rd` ends; it never frees. */
static int ts_child(const char *role, const char *bdf, unsigned flags, const size_t *sizes,
                    unsigned n, int wr, int rd)
{
    struct dmacoh_share_opts share = {TS_NAME, flags, 0};
    struct dmacoh_device dev;
    struct dmacoh_pci *pci;
    dmacoh_phys_addr_t bar;
    int granted;
    char c;

    (void)prctl(PR_SET_NAME, role, 0, 0, 0);
    if (dmacoh_pci_open(bdf, NULL, &pci) || dmacoh_pci_bar(pci, 2, &bar, NULL, NULL) ||
        dmacoh_device_init(&dev, role, NULL, dmacoh_pci_platform(pci)) ||
        dmacoh_declare_shared_memory(&dev, bar + TS_OFF, bar + TS_OFF, TS_SIZE,
                                     DMACOH_MEMORY_MAP | DMACOH_MEMORY_EXCLUSIVE, NULL, &share,
                                     &granted))
        return 1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t msg[2];
        dmacoh_dma_addr_t h;
        void *cpu;

        if (dmacoh_alloc_coherent(&dev, sizes[i], 0, 0, &cpu, &h))
            return 1;
        msg[0] = h - (bar + TS_OFF);
        msg[1] = sizes[i];
        if (write(wr, msg, sizeof(msg)) != (ssize_t)sizeof(msg))
            return 1;
    }
    while (read(rd, &c, 1) > 0)
        ;
    return 0;
}

/* Starts a region process; *got receives the offsets it allocated. 0, or -1. */
static int ts_spawn(const char *role, const char *bdf, unsigned flags, const size_t *sizes,
                    unsigned n, pid_t *pid, int *hold, uint64_t got[][2])
{
    int up[2], down[2];

    if (pipe(up) || pipe(down))
        return -1;
    *pid = fork();
    if (*pid == 0) {
        close(up[0]);
        close(down[1]);
        _exit(ts_child(role, bdf, flags, sizes, n, up[1], down[0]));
    }
    close(up[1]);
    close(down[0]);
    *hold = down[1];
    for (unsigned i = 0; i < n; i++)
        if (read(up[0], got[i], sizeof(got[i])) != (ssize_t)sizeof(got[i])) {
            close(up[0]);
            return -1;
        }
    close(up[0]);
    return *pid > 0 ? 0 : -1;
}

/* Runs `dmacoh ARGS` (stderr too) into out: its exit status, or -1. */
static int ts_tool(const char *args, char *out)
{
    char cmd[256];
    size_t n = 0;
    FILE *f;
    int st;

    snprintf(cmd, sizeof(cmd), TS_TOOL " %s 2>&1", args);
    f = popen(cmd, "r");
    if (!f)
        return -1;
    while (n < TS_OUT - 1 && !feof(f)) {
        size_t k = fread(out + n, 1, TS_OUT - 1 - n, f);

        if (k == 0)
            break;
        n += k;
    }
    out[n] = '\0';
    st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Whether the JSON of `dmacoh show --json` holds the span at off of len bytes, allocated by
 * owner `owner`, quarantined or not (the writer's layout is fixed: dmacoh(1)). */
static bool ts_span(const char *json, uint64_t off, uint64_t len, unsigned owner, bool q)
{
    char want[200];

    snprintf(want, sizeof(want),
             "\"offset\": \"0x%llx\",\n      \"size\": %llu,\n      \"kind\": \"allocated\",\n"
             "      \"owner\": %u,\n      \"quarantined\": %s",
             (unsigned long long)off, (unsigned long long)len, owner, q ? "true" : "false");
    return strstr(json, want) != NULL;
}

static unsigned ts_count(const char *s, const char *what)
{
    unsigned n = 0;

    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

static int proof_tool_show(void)
{
    static const size_t a_sizes[] = {16384, 32768, 8192}, b_sizes[] = {12288, 12288, 12288, 12288};
    static char out[TS_OUT], svg[TS_OUT];
    uint64_t a_got[3][2], b_got[4][2];
    char bdf[32], want[160];
    pid_t a, b;
    int a_hold, b_hold, r, fd;
    ssize_t n;

    check(find_device(0x1af4, 0x1110, bdf, sizeof(bdf)) == 0, "no ivshmem-plain outside VFIO");
    check(access(TS_TOOL, X_OK) == 0, "%s is not in the guest", TS_TOOL);
    check(ts_spawn("ts-a", bdf, DMACOH_SHARE_CREATE, a_sizes, 3, &a, &a_hold, a_got) == 0,
          "the creating process failed");
    check(ts_spawn("ts-b", bdf, DMACOH_SHARE_ATTACH, b_sizes, 4, &b, &b_hold, b_got) == 0,
          "the attaching process failed");
    say("ts-a (pid %ld) and ts-b (pid %ld) hold 3 and 4 blocks of '%s' over %s BAR2+%#x", (long)a,
        (long)b, TS_NAME, bdf, TS_OFF);

    /* The picture, as a person sees it. */
    r = ts_tool("show " TS_NAME " --color never --width 32", out);
    printf("%s", out);
    check(r == 0, "dmacoh show exits %d", r);
    snprintf(want, sizeof(want), "A/a  owner 1: pid %ld (ts-a) live, 3 blocks, 56 KiB", (long)a);
    check(strstr(out, want), "the legend lacks '%s'", want);
    snprintf(want, sizeof(want), "B/b  owner 2: pid %ld (ts-b) live, 4 blocks, 48 KiB", (long)b);
    check(strstr(out, want), "the legend lacks '%s'", want);

    /* Every block where its process put it, with its owner. */
    r = ts_tool("show " TS_NAME " --json", out);
    check(r == 0 && strstr(out, "\"consistent\": true"), "dmacoh show --json: %d %s", r, out);
    check(ts_count(out, "\"kind\": \"allocated\"") == 7, "not 7 allocated spans:\n%s", out);
    for (unsigned i = 0; i < 3; i++)
        check(ts_span(out, a_got[i][0], a_got[i][1], 1, false), "ts-a's block at %#llx",
              (unsigned long long)a_got[i][0]);
    for (unsigned i = 0; i < 4; i++)
        check(ts_span(out, b_got[i][0], b_got[i][1], 2, false), "ts-b's block at %#llx",
              (unsigned long long)b_got[i][0]);
    say("dmacoh show --json: 7 allocated spans at the offsets and with the owners the processes "
        "report");

    /* The SVG: one span group per span of the JSON. */
    r = ts_tool("show " TS_NAME " --svg /run/ts.svg", svg);
    check(r == 0, "dmacoh show --svg exits %d: %s", r, svg);
    fd = open("/run/ts.svg", O_RDONLY);
    check(fd >= 0, "no /run/ts.svg");
    n = read(fd, svg, sizeof(svg) - 1);
    close(fd);
    check(n > 0, "empty SVG");
    svg[n] = '\0';
    check(!strncmp(svg, "<?xml", 5) && strstr(svg, "</svg>\n"), "not an SVG document");
    check(ts_count(svg, "class=\"span\"") == ts_count(out, "\"kind\":"),
          "the SVG has %u spans, the JSON %u", ts_count(svg, "class=\"span\""),
          ts_count(out, "\"kind\":"));
    say("dmacoh show --svg: %zd bytes, the %u spans of the JSON", n, ts_count(out, "\"kind\":"));

    /* status: the region with two live owners, and the BAR range held shared by both. */
    r = ts_tool("status --json", out);
    check(r == 0 && strstr(out, "\"name\": \"" TS_NAME "\""), "status --json: %d %s", r, out);
    for (int k = 0; k < 2; k++) {
        snprintf(want, sizeof(want),
                 "\"pid\": %ld,\n      \"comm\": \"%s\",\n      \"hold\": \"shared\",\n"
                 "      \"region\": \"" TS_NAME "\"",
                 (long)(k ? b : a), k ? "ts-b" : "ts-a");
        check(strstr(out, want), "status --json lacks the registry entry '%s':\n%s", want, out);
    }
    say("dmacoh status --json: both processes hold the BAR range shared, as region '%s'", TS_NAME);

    /* ts-b dies: its blocks are quarantined until a reap. */
    kill(b, SIGKILL);
    check(waitpid(b, NULL, 0) == b, "wait ts-b");
    close(b_hold);
    r = ts_tool("show " TS_NAME " --json", out);
    check(r == 0, "show after the death: %d", r);
    for (unsigned i = 0; i < 4; i++)
        check(ts_span(out, b_got[i][0], b_got[i][1], 2, true),
              "ts-b's block at %#llx not "
              "quarantined",
              (unsigned long long)b_got[i][0]);
    r = ts_tool("reap " TS_NAME, out);
    check(r == 0 && strstr(out, "4 quarantined blocks freed (48 KiB)"), "reap: %d %s", r, out);
    r = ts_tool("check " TS_NAME, out);
    check(r == 0 && strstr(out, "consistent"), "check: %d %s", r, out);
    r = ts_tool("show " TS_NAME " --json", out);
    check(r == 0 && ts_count(out, "\"kind\": \"allocated\"") == 3, "after the reap: %s", out);
    say("ts-b killed: its 4 blocks shown quarantined, reaped by dmacoh reap, dmacoh check clean");

    close(a_hold);
    check(waitpid(a, NULL, 0) == a, "wait ts-a");
    r = ts_tool("reap " TS_NAME, out);
    check(r == 0, "last reap: %d %s", r, out);
    {
        struct dmacoh_sim *sim;

        check(dmacoh_sim_create(NULL, &sim) == 0, "sim");
        check(dmacoh_shared_unlink(dmacoh_sim_platform(sim), TS_NAME) == 0, "unlink");
        dmacoh_sim_destroy(sim);
    }
    return 0;
}

/* tool-list: the `dmacoh` command (a static binary in /bin) lists the machine's device
 * memory. Its JSON goes to the console between HW-LIST-BEGIN and HW-LIST-END for run.sh,
 * which checks it against the devices and sizes it gave QEMU; the table follows, for people.
 *
 * The NVMe controller (00:12.0) has a CMB of HW_CMB_MB MiB. Debian's kernel has no
 * CONFIG_PCI_P2PDMA: its nvme driver cannot register the CMB and then hides cmbloc/cmbsz, and
 * it holds BAR0, so nothing can read the registers while it is bound. The proof unbinds it
 * and lists the controller through its registers. QEMU 7.2's controller shows CMBLOC/CMBSZ
 * only once CMBMSC.CRE is set (NVMe 1.4): the proof first checks that the listing reports the
 * CMB hidden, if it is, then sets CRE itself, as the nvme driver does (a listing never
 * writes a register), and checks that the library's own walk finds HW_CMB_MB MiB. */
#define HW_CMB_MB   16
#define HW_NVME     "0000:00:12.0"
#define NVME_CMBMSC 0x50

static int print_file(const char *path, const char *begin, const char *end)
{
    char line[1024];
    FILE *f = fopen(path, "r");

    if (!f)
        return 1;
    printf("%s\n", begin);
    while (fgets(line, sizeof(line), f))
        fputs(line, stdout);
    printf("%s\n", end);
    fflush(stdout);
    fclose(f);
    return 0;
}

struct cmb_seen {
    bool found, hidden;
    char problem[256]; /* the record's, when it has one */
};

static int find_cmb(void *user, const struct dmacoh_found *f)
{
    struct cmb_seen *c = user;

    if (f->kind != DMACOH_FOUND_NVME)
        return 0;
    c->hidden |= (f->flags & DMACOH_FOUND_HIDDEN) != 0;
    if (f->problem[0])
        snprintf(c->problem, sizeof(c->problem), "%s", f->problem);
    c->found |= !f->problem[0] && f->size == (uint64_t)HW_CMB_MB << 20 && f->bus != 0;
    return 0;
}

/* Unbinds the controller from the nvme driver (after its set-up work is done) and sets
 * CMBMSC.CRE through resource0 if the CMB is hidden. */
static int nvme_prepare(void)
{
    struct dmacoh_discover_opts o = {NULL, NULL, HW_NVME, DMACOH_FOUND_NVME};
    struct cmb_seen c = {false, false, ""};
    volatile uint32_t *regs;
    int fd, rc;

    char state[128] = "";

    /* Already unbound (by an earlier proof: tool-list and nvme-pci both need it so, in
     * whichever order they run): only the CMB's visibility is left to see to. */
    if (access(SYS_PCI "/" HW_NVME "/driver", F_OK) != 0)
        goto unbound;
    /* The controller's nvme instance (nvmeN: N in probe order, which is not fixed while
     * other controllers probe at the same time). */
    for (int i = 0; i < 300 && !state[0]; i++) {
        DIR *d = opendir(SYS_PCI "/" HW_NVME "/nvme");
        struct dirent *e;

        while (d && (e = readdir(d)) != NULL) {
            if (!strncmp(e->d_name, "nvme", 4))
                snprintf(state, sizeof(state), SYS_PCI "/" HW_NVME "/nvme/%.20s/state", e->d_name);
        }
        if (d)
            closedir(d);
        if (!state[0])
            usleep(100000);
    }
    for (int i = 0; i < 300 && state[0]; i++) {
        char buf[16] = "";
        FILE *f = fopen(state, "r");

        if (f) {
            if (!fgets(buf, sizeof(buf), f))
                buf[0] = '\0';
            fclose(f);
        }
        if (!strncmp(buf, "live", 4))
            break;
        usleep(100000);
    }
    rc = system("echo " HW_NVME " >/sys/bus/pci/drivers/nvme/unbind");
    check(rc == 0, "unbinding " HW_NVME " from nvme: status %#x", rc);
unbound:
    /* An unbound function may be left with memory decoding off, or be put to sleep by
     * runtime power management: the listing then reads no register (and says why). Keep it
     * awake and enabled, as a user-space driver does before using it. */
    rc = system("echo on >/sys/bus/pci/devices/" HW_NVME "/power/control && "
                "echo 1 >/sys/bus/pci/devices/" HW_NVME "/enable");
    check(rc == 0, "waking and enabling " HW_NVME ": status %#x", rc);
    rc = dmacoh_discover(&o, find_cmb, &c);
    check(rc == 0 || rc == DMACOH_ENOENT, "dmacoh_discover: %d", rc);
    say("unbound from nvme: CMB %s", c.found    ? "visible"
                                     : c.hidden ? "hidden (CAP.CMBS, CRE clear)"
                                                : "not listed");
    if (c.found)
        return 0;
    check(c.hidden, "the controller's CMB is neither visible nor listed as hidden (%s)",
          c.problem[0] ? c.problem : "no problem given");
    fd = open("/sys/bus/pci/devices/" HW_NVME "/resource0", O_RDWR | O_SYNC);
    check(fd >= 0, "open resource0: %s", strerror(errno));
    regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    check(regs != MAP_FAILED, "mmap resource0: %s", strerror(errno));
    regs[NVME_CMBMSC / 4] = 1; /* CRE */
    say("set CMBMSC.CRE: CMBSZ now %#x", regs[0x3c / 4]);
    munmap((void *)regs, 4096);
    return 0;
}

static int proof_tool_list(void)
{
    struct dmacoh_discover_opts o = {NULL, NULL, HW_NVME, DMACOH_FOUND_NVME};
    struct cmb_seen c = {false, false, ""};
    int st;

    if (nvme_prepare())
        return 1;
    st = system("/bin/dmacoh list --json >/run/list.json 2>/run/list.err");
    check(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "dmacoh list --json: status %#x", st);
    check(print_file("/run/list.json", "HW-LIST-BEGIN", "HW-LIST-END") == 0, "no /run/list.json");
    print_file("/run/list.err", "HW-LIST-STDERR-BEGIN", "HW-LIST-STDERR-END");
    st = system("/bin/dmacoh list >/run/list.txt 2>/dev/null");
    check(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "dmacoh list: status %#x", st);
    check(print_file("/run/list.txt", "HW-TABLE-BEGIN", "HW-TABLE-END") == 0, "no /run/list.txt");
    check(dmacoh_discover(&o, find_cmb, &c) == 0, "dmacoh_discover");
    check(c.found, "no NVMe CMB of %d MiB at " HW_NVME, HW_CMB_MB);
    say("dmacoh_discover: " HW_NVME " has a CMB of %d MiB, read from its registers", HW_CMB_MB);
    return 0;
}

/* ---- proofs: examples/nvme_cmb, a user-space NVMe driver, on two more controllers --------
 *
 * 00:13.0 has a CMB of 2 MiB, 00:14.0 none; /init binds both to vfio-pci, and run.sh backs
 * their namespaces with the host files nvme-cmb.bin and nvme-sys.bin (8 MiB, fresh each boot).
 * The proofs run the example program (/bin/nvme_cmb, static) with the same writes on both,
 * check what it printed, and ask the host (HOSTCHECK) for the bytes at each LBA in each file:
 * the CMB path and the system-memory path must leave the same bytes. HOSTWRONG lines are
 * controls the host must find different. */
#define NVME_WITH_CMB "0000:00:13.0"
#define NVME_NO_CMB   "0000:00:14.0"
#define NVME_LBA      512u

struct nvme_write {
    unsigned lba, blocks;
    const char *tag;
    bool cmb; /* --write-cmb: data buffers in the CMB where the controller allows it */
};

/* One page (PRP1), two pages (PRP1 + PRP2), six pages (PRP list); then data in the CMB. */
static const struct nvme_write nvme_writes[] = {
    {16, 8, "one-page.", false},           {40, 16, "two-pages.", false},
    {100, 48, "prp-list-in-ram.", false},  {300, 8, "data-in-cmb.", true},
    {400, 24, "cmb-data-prp-list.", true},
};
#define NVME_NWRITES (sizeof(nvme_writes) / sizeof(nvme_writes[0]))

static char nvme_out[16384]; /* what the last nvme_cmb run printed */

/* Runs /bin/nvme_cmb with the writes (LBAs moved by base) and extra arguments; prints its
 * output; returns its exit status (-1 if it did not exit). */
static int nvme_cmb(const char *env, const char *bdf, bool writes, unsigned base, const char *extra)
{
    char cmd[2048];
    size_t n = 0;
    FILE *f;
    int st;

    n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "%s /bin/nvme_cmb %s", env, bdf);
    for (size_t i = 0; writes && i < NVME_NWRITES && n < sizeof(cmd); i++)
        n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " --write%s %u:%u:%s",
                              nvme_writes[i].cmb ? "-cmb" : "", base + nvme_writes[i].lba,
                              nvme_writes[i].blocks, nvme_writes[i].tag);
    if (n < sizeof(cmd))
        snprintf(cmd + n, sizeof(cmd) - n, " %s >/run/nvme.out 2>&1", extra);
    say("running: %.*s", (int)(strstr(cmd, " >/run") ? strstr(cmd, " >/run") - cmd : 0), cmd);
    st = system(cmd);
    nvme_out[0] = '\0';
    f = fopen("/run/nvme.out", "r");
    if (f) {
        n = fread(nvme_out, 1, sizeof(nvme_out) - 1, f);
        nvme_out[n] = '\0';
        fclose(f);
    }
    for (char *line = nvme_out, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            nl = line + strlen(line) - 1;
        say("| %.*s", (int)(nl - line), line);
    }
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void nvme_hostchecks(const char *file, unsigned base)
{
    for (size_t i = 0; i < NVME_NWRITES; i++)
        printf("HOSTCHECK %s %u %u %s\n", file, (base + nvme_writes[i].lba) * NVME_LBA,
               nvme_writes[i].blocks * NVME_LBA, nvme_writes[i].tag);
    /* A control: another write's tag at the first LBA must be seen as wrong. */
    printf("HOSTWRONG %s %u %u %s\n", file, (base + nvme_writes[0].lba) * NVME_LBA,
           nvme_writes[0].blocks * NVME_LBA, nvme_writes[1].tag);
}

static bool has(const char *what)
{
    return strstr(nvme_out, what) != NULL;
}

static int proof_nvme_cmb(void)
{
    int st;

    /* CBA deliberately not the BAR's bus address: the controller knows its CMB at a device
     * address of the driver's choosing (the RFC's bus_addr vs device_addr). */
    st = nvme_cmb("DMACOH_DEBUG=all", NVME_WITH_CMB, true, 0, "--cba 0x4000000000");
    check(st == 0, "nvme_cmb on " NVME_WITH_CMB ": exit status %d", st);
    check(has("CMB: 2048 KiB in BAR2") && has("controller address (CBA) 0x4000000000"),
          "the CMB was not declared at CBA 0x4000000000");
    check(has("admin SQ in the CMB at 0x40000"), "admin SQ not in the CMB");
    check(has("I/O SQ in the CMB at 0x40000") && has("(CMBSZ.SQS set)"), "I/O SQ not in the CMB");
    check(has("PRP1, buffers in system memory") && has("PRP1+PRP2, buffers in system memory") &&
              has("PRP1+PRP list, buffers in system memory"),
          "not every PRP form was used with system memory");
    check(has("PRP1, buffers in the CMB") && has("PRP1+PRP list, buffers in the CMB"),
          "no transfer with data buffers in the CMB");
    check(!has("DIFFERENT"), "data read back differ");
    check(has("debug mode: 0 misuse reports, 0 poison errors"), "debug mode not clean");
    check(has("shut down: queues deleted"), "no clean shutdown");
    say("CMB run: admin and I/O SQs in the CMB, %zu writes read back equal, debug mode clean",
        NVME_NWRITES);
    nvme_hostchecks("nvme-cmb", 0);
    /* The figures of docs/performance.md: out of the debug mode, as a program runs. */
    st = nvme_cmb("", NVME_WITH_CMB, false, 0, "--bench 1000");
    check(st == 0, "nvme_cmb --bench on " NVME_WITH_CMB ": exit status %d", st);
    check(has("bench: I/O SQ in the CMB") && has("bench: I/O SQ in system memory") &&
              has("in the CMB / in system memory: "),
          "no figures");
    /* The same controller with its CMB left off: everything in system memory. */
    st = nvme_cmb("", NVME_WITH_CMB, true, 1000, "--no-cmb");
    check(st == 0, "nvme_cmb --no-cmb on " NVME_WITH_CMB ": exit status %d", st);
    check(has("CMB: not used (--no-cmb)") && has("admin SQ in system memory") &&
              has("I/O SQ in system memory") && !has("buffers in the CMB"),
          "--no-cmb used the CMB");
    say("--no-cmb run: every queue and buffer in system memory, writes read back equal");
    nvme_hostchecks("nvme-cmb", 1000);
    return 0;
}

static int proof_nvme_sysmem(void)
{
    int st = nvme_cmb("DMACOH_DEBUG=all", NVME_NO_CMB, true, 0, "");

    check(st == 0, "nvme_cmb on " NVME_NO_CMB ": exit status %d", st);
    check(has("CMB: none") && has("admin SQ in system memory") &&
              has("I/O SQ in system memory at") && has("(CMBSZ.SQS n/a: no CMB)"),
          "queues not in system memory");
    check(has("buffers in system memory (CMB data not available)"), "CMB writes not redirected");
    check(!has("DIFFERENT") && has("debug mode: 0 misuse reports"), "not clean");
    say("no CMB: the same writes through system memory (the host compares the bytes)");
    nvme_hostchecks("nvme-sys", 0);
    /* Blocks past the namespace's end (8 MiB: 16384 blocks) are refused by the driver before
     * anything is sent, for --write and --bad-prp alike, and it still shuts down cleanly. */
    st = nvme_cmb("", NVME_NO_CMB, false, 0, "--write 16383:2:past-the-end. --bad-prp 16382");
    check(st == 1, "nvme_cmb with blocks past the end: exit status %d, not 1", st);
    check(has("2 blocks at LBA 16383 from ") && has(": outside the namespace (16384 blocks)") &&
              has("--bad-prp 16382: 24 blocks there are not inside namespace 1") &&
              has("shut down: queues deleted"),
          "blocks past the end not refused, or no clean shutdown");
    printf("HOSTWRONG nvme-sys %u %u past-the-end.\n", 16383 * NVME_LBA, NVME_LBA);
    say("blocks past the namespace's end refused by the driver, nothing written there");
    return 0;
}

static int proof_nvme_bad_prp(void)
{
    struct timespec ts = {0, 200000000};
    unsigned long long iova = 0;
    const char *p;
    int st = nvme_cmb("", NVME_NO_CMB, false, 0, "--bad-prp 2000 --timeout 3000");

    check(st == 0, "nvme_cmb --bad-prp: exit status %d", st);
    check(has("bad PRP: refused by the controller: SCT 0h SC 04h: data transfer error"),
          "the controller did not fail the command with a data transfer error");
    p = strstr(nvme_out, "BAD-PRP-IOVA ");
    check(p && sscanf(p, "BAD-PRP-IOVA %llx", &iova) == 1, "no IOVA printed");
    nanosleep(&ts, NULL);
    check(dmar_faults_at(iova) > 0, "no DMAR fault logged at the freed IOVA %#llx", iova);
    say("a PRP list in freed memory (IOVA %#llx): the IOMMU refused the controller's read, the "
        "driver reported a data transfer error and went on to a clean shutdown",
        iova);
    /* The write must not have reached the medium. */
    printf("HOSTWRONG nvme-sys %u %u bad-prp.\n", 2000 * NVME_LBA, 3 * 4096);
    return 0;
}

/* The PCI sysfs platform with hostmem's physical-address fallback on the first controller
 * (00:12.0, 16 MiB CMB), unbound from the nvme driver (by tool-list, or here): no VFIO, and
 * the IOMMU in pass-through for it (iommu=pt), so the controller reaches RAM at physical
 * addresses. Its namespace is run.sh's nvme.img. */
static int proof_nvme_pci(void)
{
    int st;

    if (access(SYS_PCI "/" HW_NVME "/driver", F_OK) == 0 && nvme_prepare())
        return 1;
    /* IO only: in the debug mode the CMB's pointers are then cookies that fault when
     * dereferenced, so every access the driver makes to it must be an accessor. */
    st = nvme_cmb("DMACOH_DEBUG=all", HW_NVME " --platform pci --cmb-io", true, 0, "");
    check(st == 0, "nvme_cmb --platform pci on " HW_NVME ": exit status %d", st);
    check(has("CMB: 16384 KiB in BAR2") && has("declared IO") && has("admin SQ in the CMB") &&
              has("I/O SQ in the CMB") && has("buffers in the CMB") && !has("DIFFERENT") &&
              has("debug mode: 0 misuse reports"),
          "queues or data not in the CMB, or not clean");
    say("PCI platform: CMB (IO access) at its bus address, system memory at physical addresses");
    nvme_hostchecks("nvme.img", 0);
    return 0;
}

struct proof {
    const char *name;
    const char *what;
    int (*run)(void);
};

static const struct proof proofs[] = {
    {"pci", "ivshmem-plain BAR2 declared through the PCI sysfs platform", proof_pci},
    {"pci-fallback", "hostmem in front of the PCI platform: BAR2 first, then RAM",
     proof_pci_fallback},
    {"io-cookies", "debug-mode IO cookies over ivshmem BAR2: direct loads fault", proof_io_cookies},
    {"uio", "qxl RAM BAR declared through uio_pci_generic", proof_uio},
    {"hostmem", "edu DMA engine on hostmem memory (page-map physical addresses)", proof_hostmem},
    {"vfio-bar", "ivshmem-plain BAR2 declared through the VFIO platform", proof_vfio_bar},
    {"vfio-iova", "edu DMA engine on VFIO fallback memory (IOVAs in the IOMMU)", proof_vfio_iova},
    {"vfio-fault", "edu DMA to freed and never-mapped IOVAs refused by the IOMMU",
     proof_vfio_fault},
    {"vfio-one-owner", "VFIO fallback IOVAs never inside a declared region's device range",
     proof_vfio_one_owner},
    {"vfio-secondary", "a second process drives edu from VFIO descriptors passed to it",
     proof_vfio_secondary},
    {"two-instances", "one owner per physical range: two PCI instances, /dev/mem, VFIO",
     proof_two_instances},
    {"registry", "one authority on the machine: another process's BAR range, then its death",
     proof_registry},
    {"shared-bar", "two processes share ivshmem BAR2 as one region; deaths, quarantine, reap",
     proof_shared_bar},
    {"vfio-shared", "two processes share edu's BAR0 through VFIO descriptors passed over a socket",
     proof_vfio_shared},
    {"tool-list", "dmacoh list --json names every emulated device's memory", proof_tool_list},
    {"tool-show", "dmacoh show/status/reap/check on a region two guest processes hold",
     proof_tool_show},
    {"nvme-cmb", "examples/nvme_cmb on VFIO: SQs and data in the CMB, then --no-cmb",
     proof_nvme_cmb},
    {"nvme-sysmem", "examples/nvme_cmb on a controller without a CMB: all in system memory",
     proof_nvme_sysmem},
    {"nvme-bad-prp", "examples/nvme_cmb: a PRP list in freed memory, refused by the IOMMU",
     proof_nvme_bad_prp},
    {"nvme-pci", "examples/nvme_cmb on the PCI platform with physical addresses (00:12.0)",
     proof_nvme_pci},
};

int main(int argc, char **argv)
{
    int failed = 0, passed = 0;

    dmacoh_set_log_fn(log_fn, NULL, 2);
    for (int i = 1; i < argc; i++) {
        for (size_t p = 0; p < sizeof(proofs) / sizeof(proofs[0]); p++) {
            if (strcmp(argv[i], "all") != 0 && strcmp(argv[i], proofs[p].name) != 0)
                continue;
            cur = proofs[p].name;
            say("%s", proofs[p].what);
            if (proofs[p].run() == 0) {
                say("PASS");
                passed++;
            } else {
                say("FAIL");
                failed++;
            }
        }
    }
    cur = "summary";
    say("%d passed, %d failed", passed, failed);
    return failed || !passed;
}
