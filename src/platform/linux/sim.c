/* SPDX-License-Identifier: MIT */
/*
 * sim.c - the simulated platform: a physical address space of memfd-backed memories.
 *
 * Every placed memory is one memfd. Its "bus view" (a mapping made when it is placed) is what
 * dmacoh_sim_bus_read/write use, as a device's DMA engine would; each declared region gets its
 * own mapping of the same pages, placed so that CPU pointers are congruent to device
 * addresses. MAP and IO views differ only in what the region promises the driver; IO cookies
 * are real addresses here (as __iomem pointers are on x86), distinct from any MAP pointer.
 *
 * A memory can be shown to another process: dmacoh_sim_memory_fd gives its memfd, and the
 * other process's simulator places it with dmacoh_sim_add_memory_fd, so both see the same bytes
 * (a shared region's device memory, include/dmacoh/shared.h). The other process is not trusted
 * with the memory's size, as memfd.c explains: every memory this file makes is sealed
 * (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), and a received descriptor that is not sealed
 * against shrinking is refused.
 *
 * Simulated RAM, the fallback's system memory, is one more memfd memory at opts.ram_base,
 * handed out by the library itself through a dmacoh_window (platform.h): DMA handles are
 * identity (device address == bus address), carry the same alignment promise as declared
 * memory, and every free is checked by the same allocator.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create, MAP_NORESERVE */
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err: a backend's errors reach the same log */

#include <dmacoh/sim.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIM_MAX_MEMORIES 64
#define SIM_PAGE         4096u

struct sim_memory {
    struct dmacoh_sim_memory desc;
    int fd;
    unsigned char *view; /* the bus side: the whole memory */
};

struct dmacoh_sim {
    struct dmacoh_platform plat;
    struct dmacoh_window ram_win; /* hands out simulated RAM */
    void *ram_cpu, *ram_meta;     /* its congruent mapping and allocator state */
    size_t ram_meta_size;
    struct dmacoh_sim_opts opts;
    struct sim_memory *ram; /* NULL with no_ram */
    struct sim_memory mem[SIM_MAX_MEMORIES];
    unsigned nmem;
};

static struct sim_memory *find(struct dmacoh_sim *sim, uint64_t bus, uint64_t len)
{
    for (unsigned i = 0; i < sim->nmem; i++) {
        struct sim_memory *m = &sim->mem[i];

        if (bus >= m->desc.bus && bus - m->desc.bus < m->desc.size &&
            len <= m->desc.size - (bus - m->desc.bus))
            return m;
    }
    return NULL;
}

static int pick_mode(int offered, int want)
{
    int both = offered & want;

    if (both & DMACOH_MEMORY_MAP)
        return DMACOH_MEMORY_MAP;
    return both & DMACOH_MEMORY_IO;
}

static int sim_map(void *ctx, dmacoh_phys_addr_t bus, uint64_t size, dmacoh_dma_addr_t device_addr,
                   uint64_t congruence, int want, struct dmacoh_mapping *out)
{
    struct dmacoh_sim *sim = (struct dmacoh_sim *)ctx;
    struct sim_memory *m;
    uint64_t file_off, aligned, delta, len;
    int err = 0;

    if (sim->opts.no_declare)
        return DMACOH_ENODEV;
    m = find(sim, bus, size);
    if (!m || m == sim->ram)
        return DMACOH_ENXIO; /* nothing there, or system RAM */
    /* Only the mode bits: DMACOH_MAP_MULTIPROCESS claims nothing here (a simulated memory
     * is a file every process can map). */
    out->mode = pick_mode(m->desc.modes, want & (DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO));
    if (!out->mode)
        return DMACOH_ENOTSUP;
    file_off = bus - m->desc.bus;
    aligned = file_off & ~(uint64_t)(SIM_PAGE - 1);
    delta = file_off - aligned;
    len = (delta + size + SIM_PAGE - 1) & ~(uint64_t)(SIM_PAGE - 1);
    err = dmacoh__linux_map_fd(m->fd, aligned, len, delta, device_addr, congruence, out);
    if (err)
        return err;
    out->shared = m->desc.shared;
    out->io_width = m->desc.io_width;
    out->ram = true; /* a memfd view: sanitizers may track blocks in it */
    return 0;
}

static int sim_sys_alloc(void *ctx, const struct dmacoh_device *dev, uint64_t size, uint64_t align,
                         void **cpu, dmacoh_dma_addr_t *handle)
{
    struct dmacoh_sim *sim = (struct dmacoh_sim *)ctx;

    (void)align; /* the window aligns every allocation to pow2(size) already */
    if (!sim->ram)
        return DMACOH_ENOMEM;
    return dmacoh_window_alloc(&sim->ram_win, size, dmacoh_device_dma_mask(dev), cpu, handle);
}

static int sim_sys_free(void *ctx, const struct dmacoh_device *dev, void *cpu, uint64_t size,
                        dmacoh_dma_addr_t handle)
{
    struct dmacoh_sim *sim = (struct dmacoh_sim *)ctx;

    (void)dev;
    return sim->ram ? dmacoh_window_free(&sim->ram_win, cpu, size, handle) : DMACOH_EFAULT;
}

static dmacoh_dma_addr_t sim_virt_to_dma(void *ctx, const struct dmacoh_device *dev,
                                         const void *cpu)
{
    struct dmacoh_sim *sim = (struct dmacoh_sim *)ctx;

    (void)dev;
    return sim->ram ? dmacoh_window_virt_to_dma(&sim->ram_win, cpu) : DMACOH_BAD_DMA_ADDR;
}

static void *sim_dma_to_virt(void *ctx, const struct dmacoh_device *dev, dmacoh_dma_addr_t dma)
{
    struct dmacoh_sim *sim = (struct dmacoh_sim *)ctx;

    (void)dev;
    return sim->ram ? dmacoh_window_dma_to_virt(&sim->ram_win, dma) : NULL;
}

/* Exporting a block: the memfd of the memory holding it, at the block's offset in it. */
static int sim_file_of(void *ctx, const struct dmacoh_mapping *map, dmacoh_phys_addr_t bus,
                       uint64_t size, struct dmacoh_file_range *out)
{
    struct dmacoh_sim *sim = (struct dmacoh_sim *)ctx;
    struct sim_memory *m = find(sim, bus, size);
    uint64_t off;

    (void)map;
    if (!m || m == sim->ram) {
        dmacoh__err("sim export: no declared memory holds bus %#llx+%#llx", (unsigned long long)bus,
                    (unsigned long long)size);
        return DMACOH_ENXIO;
    }
    off = bus - m->desc.bus;
    /* A copy of its own for the caller: the platform's descriptor could be closed by a
     * release on another thread, and its number reused, before the caller is done. */
    out->fd = fcntl(m->fd, F_DUPFD_CLOEXEC, 0);
    if (out->fd < 0)
        return -errno;
    out->close_fd = true;
    out->align = (uint64_t)sysconf(_SC_PAGESIZE);
    out->offset = off & ~(out->align - 1);
    out->delta = off - out->offset;
    return 0;
}

static const struct dmacoh_platform_ops sim_ops = {
    .name = "sim",
    .map = sim_map,
    .file_of = sim_file_of,
    .sys_alloc = sim_sys_alloc,
    .sys_free = sim_sys_free,
    .sys_virt_to_dma = sim_virt_to_dma,
    .sys_dma_to_virt = sim_dma_to_virt,
    DMACOH__LINUX_COMMON_OPS,
};

static bool overlaps(const struct dmacoh_sim *sim, uint64_t bus, uint64_t size)
{
    for (unsigned i = 0; i < sim->nmem; i++) {
        const struct dmacoh_sim_memory *d = &sim->mem[i].desc;

        if (!(bus + (size - 1) < d->bus || d->bus + (d->size - 1) < bus))
            return true;
    }
    return false;
}

/* A new memfd of `size` bytes, sealed so that its size never changes: the descriptor, or a
 * negative code (logged). */
static int new_memfd(uint64_t size)
{
    int fd = memfd_create("dmacoh-sim", MFD_CLOEXEC | MFD_ALLOW_SEALING), r;

    if (fd < 0) {
        r = -errno;
        dmacoh__err("sim: memfd_create failed: %s", dmacoh_strerror(r));
        return r;
    }
    if (ftruncate(fd, (off_t)size) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        r = -errno;
        dmacoh__err("sim: cannot size a memory to %#llx bytes and seal it: %s",
                    (unsigned long long)size, dmacoh_strerror(r));
        close(fd);
        return r;
    }
    return fd;
}

/* Places desc backed by fd (owned: closed on failure). */
static int place_fd(struct dmacoh_sim *sim, const struct dmacoh_sim_memory *desc, int fd)
{
    struct sim_memory *m;
    void *view = mmap(NULL, (size_t)desc->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    if (view == MAP_FAILED) {
        int e = -errno;

        dmacoh__err("sim: cannot map a memory of %#llx bytes: %s", (unsigned long long)desc->size,
                    dmacoh_strerror(e));
        close(fd);
        return e;
    }
    m = &sim->mem[sim->nmem++];
    m->desc = *desc;
    m->fd = fd;
    m->view = view;
    return 0;
}

static int place(struct dmacoh_sim *sim, const struct dmacoh_sim_memory *desc)
{
    int fd;

    if (sim->nmem == SIM_MAX_MEMORIES)
        return DMACOH_ENOMEM;
    if (desc->size > SIZE_MAX)
        return DMACOH_EOVERFLOW;
    fd = new_memfd(desc->size);
    return fd < 0 ? fd : place_fd(sim, desc, fd);
}

/* What dmacoh_sim_add_memory and _add_memory_fd check of a description: 0, or a code. */
static int desc_ok(struct dmacoh_sim *sim, const struct dmacoh_sim_memory *mem)
{
    if (!sim || !mem || mem->size == 0 || ((mem->bus | mem->size) & (SIM_PAGE - 1)) ||
        !(mem->modes & (DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO)) ||
        (mem->modes & ~(DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO)) ||
        (mem->io_width != 0 && mem->io_width != 1 && mem->io_width != 2 && mem->io_width != 4 &&
         mem->io_width != 8))
        return DMACOH_EINVAL;
    if (mem->bus + (mem->size - 1) < mem->bus)
        return DMACOH_ERANGE;
    if (overlaps(sim, mem->bus, mem->size))
        return DMACOH_EBUSY;
    return 0;
}

int dmacoh_sim_add_memory(struct dmacoh_sim *sim, const struct dmacoh_sim_memory *mem)
{
    int r = desc_ok(sim, mem);

    return r ? r : place(sim, mem);
}

/* A received descriptor must be a file of at least `size` bytes that cannot shrink under the
 * mappings: 0, or -DMACOH_EINVAL (logged). The seal first: once it is there, the size checked
 * after it cannot shrink any more. */
static int fd_ok(int fd, uint64_t size)
{
    struct stat st;
    int seals;

    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        dmacoh__err("sim: descriptor %d is not a file", fd);
        return DMACOH_EINVAL;
    }
    seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
        dmacoh__err("sim: descriptor %d is not sealed against shrinking (F_SEAL_SHRINK%s): the "
                    "other process could truncate it and crash this one with SIGBUS; pass a "
                    "memory from dmacoh_sim_memory_fd, or seal it (fcntl F_ADD_SEALS)",
                    fd, seals < 0 ? ": not a memfd" : " missing");
        return DMACOH_EINVAL;
    }
    if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size < size) {
        dmacoh__err("sim: descriptor %d holds fewer than the memory's %#llx bytes", fd,
                    (unsigned long long)size);
        return DMACOH_EINVAL;
    }
    return 0;
}

int dmacoh_sim_add_memory_fd(struct dmacoh_sim *sim, const struct dmacoh_sim_memory *mem, int fd)
{
    int r = desc_ok(sim, mem), own;

    if (r) {
        dmacoh__err("sim: a memory at %#llx+%#llx cannot be placed: %s",
                    mem ? (unsigned long long)mem->bus : 0ull,
                    mem ? (unsigned long long)mem->size : 0ull, dmacoh_strerror(r));
        return r;
    }
    if (sim->nmem == SIM_MAX_MEMORIES || mem->size > SIZE_MAX) {
        dmacoh__err("sim: a memory at %#llx+%#llx cannot be placed: %s",
                    (unsigned long long)mem->bus, (unsigned long long)mem->size,
                    sim->nmem == SIM_MAX_MEMORIES ? "64 memories are placed already"
                                                  : "larger than the address space");
        return sim->nmem == SIM_MAX_MEMORIES ? DMACOH_ENOMEM : DMACOH_EOVERFLOW;
    }
    r = fd_ok(fd, mem->size);
    if (r)
        return r;
    own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0)
        return -errno;
    return place_fd(sim, mem, own);
}

int dmacoh_sim_memory_fd(struct dmacoh_sim *sim, dmacoh_phys_addr_t bus)
{
    struct sim_memory *m;

    if (!sim) {
        dmacoh__err("sim: memory fd of a NULL sim");
        return DMACOH_EINVAL;
    }
    m = find(sim, bus, 1);
    if (!m || m == sim->ram) {
        dmacoh__err("sim: no placed memory at bus %#llx%s", (unsigned long long)bus,
                    m ? " (the simulated RAM is not shown to other processes)" : "");
        return DMACOH_ENXIO;
    }
    return m->fd;
}

/* Congruence of the RAM mapping: the smallest power of two >= its size, capped at 1 TiB. */
static uint64_t ram_congruence(uint64_t size)
{
    uint64_t c = 1;

    while (c < size && c < ((uint64_t)1 << 40))
        c <<= 1;
    return c;
}

static int make_ram(struct dmacoh_sim *sim)
{
    struct dmacoh_sim_memory d = {sim->opts.ram_base, sim->opts.ram_size, DMACOH_MEMORY_MAP, false,
                                  0};
    uint64_t cong = ram_congruence(d.size);
    int r = place(sim, &d);

    if (r)
        return r;
    sim->ram = &sim->mem[sim->nmem - 1];
    sim->ram_meta_size = dmacoh_region_meta_size(d.size, DMACOH_PAGE_SIZE);
    sim->ram_meta = calloc(1, sim->ram_meta_size);
    if (!sim->ram_meta)
        return DMACOH_ENOMEM;
    /* A mapping of the RAM congruent to its bus address, so CPU pointers share the handles'
     * alignment. */
    sim->ram_cpu = dmacoh__linux_map_congruent(sim->ram->fd, 0, d.size, 0, d.bus, cong, &r);
    if (!sim->ram_cpu)
        return r;
    return dmacoh_window_init(&sim->ram_win, "sim system RAM", sim->ram_cpu, d.bus, d.size, 0,
                              sim->ram_meta, sim->ram_meta_size);
}

static void destroy_all(struct dmacoh_sim *sim)
{
    if (sim->ram_win.dev.magic)
        (void)dmacoh_window_fini(&sim->ram_win);
    if (sim->ram_cpu)
        munmap(sim->ram_cpu, (size_t)sim->opts.ram_size);
    free(sim->ram_meta);
    for (unsigned i = 0; i < sim->nmem; i++) {
        munmap(sim->mem[i].view, (size_t)sim->mem[i].desc.size);
        close(sim->mem[i].fd);
    }
    free(sim);
}

int dmacoh_sim_create(const struct dmacoh_sim_opts *opts, struct dmacoh_sim **out)
{
    struct dmacoh_sim *sim;
    int r;

    if (!out) {
        dmacoh__err("sim create: out is NULL");
        return DMACOH_EINVAL;
    }
    dmacoh__linux_track_init();
    sim = calloc(1, sizeof(*sim));
    if (!sim)
        return DMACOH_ENOMEM;
    if (opts)
        sim->opts = *opts;
    if (!sim->opts.ram_base)
        sim->opts.ram_base = 0x40000000u;
    if (!sim->opts.ram_size)
        sim->opts.ram_size = 64u << 20;
    if (((sim->opts.ram_base | sim->opts.ram_size) & (SIM_PAGE - 1)) ||
        sim->opts.ram_base + (sim->opts.ram_size - 1) < sim->opts.ram_base) {
        free(sim);
        return DMACOH_EINVAL;
    }
    r = dmacoh_platform_init(&sim->plat, &sim_ops, sim);
    if (!r && !sim->opts.no_ram)
        r = make_ram(sim);
    if (r) {
        destroy_all(sim);
        return r;
    }
    *out = sim;
    return 0;
}

int dmacoh_sim_destroy(struct dmacoh_sim *sim)
{
    int r;

    if (!sim)
        return 0;
    if (sim->ram && dmacoh_window_live(&sim->ram_win))
        return DMACOH_EBUSY; /* system memory is still handed out: its pointers would dangle */
    r = dmacoh_platform_fini(&sim->plat);
    if (r)
        return r;
    destroy_all(sim);
    return 0;
}

struct dmacoh_platform *dmacoh_sim_platform(struct dmacoh_sim *sim)
{
    return sim ? &sim->plat : NULL;
}

static int bus_access(struct dmacoh_sim *sim, dmacoh_phys_addr_t bus, size_t len,
                      unsigned char **where)
{
    struct sim_memory *m;

    if (!sim)
        return DMACOH_EINVAL;
    m = find(sim, bus, len ? len : 1);
    if (!m)
        return DMACOH_ENXIO;
    *where = m->view + (bus - m->desc.bus);
    return 0;
}

int dmacoh_sim_bus_read(struct dmacoh_sim *sim, dmacoh_phys_addr_t bus, void *buf, size_t len)
{
    unsigned char *src;
    int r;

    if (!buf)
        return DMACOH_EINVAL;
    r = bus_access(sim, bus, len, &src);
    if (!r)
        memcpy(buf, src, len);
    return r;
}

int dmacoh_sim_bus_write(struct dmacoh_sim *sim, dmacoh_phys_addr_t bus, const void *buf,
                         size_t len)
{
    unsigned char *dst;
    int r;

    if (!buf)
        return DMACOH_EINVAL;
    r = bus_access(sim, bus, len, &dst);
    if (!r)
        memcpy(dst, buf, len);
    return r;
}
