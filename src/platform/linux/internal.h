/* SPDX-License-Identifier: MIT */
/*
 * internal.h - helpers shared by the Linux platform backends (common.c).
 */
#ifndef DMACOH_LINUX_INTERNAL_H
#define DMACOH_LINUX_INTERNAL_H

#include <dmacoh/dmacoh.h>
#include <dmacoh/pci.h>
#include <dmacoh/vfio.h>
#include <dmacoh/discover.h>

/* Metadata memory from the C heap, zeroed. */
void *dmacoh__linux_meta_alloc(void *ctx, size_t size);
void dmacoh__linux_meta_free(void *ctx, void *p, size_t size);

/* Sleeping on a word with a futex, monotonic time, and a yield while spinning. */
int dmacoh__linux_wait(void *ctx, const uint32_t *word, uint32_t expected, uint64_t timeout_ns);
void dmacoh__linux_wake(void *ctx, uint32_t *word);
uint64_t dmacoh__linux_now_ns(void *ctx);
void dmacoh__linux_relax(void *ctx);
unsigned dmacoh__linux_thread_slot(void *ctx);
int dmacoh__linux_thread_id(void *ctx); /* thread_id.c */
/* Address space that faults on every access, for IO cookies (platform op reserve). */
int dmacoh__linux_reserve(void *ctx, uint64_t size, dmacoh_dma_addr_t device_addr,
                          uint64_t congruence, void **out);
void dmacoh__linux_unreserve(void *ctx, void *addr, uint64_t size);
/* Applies DMACOH_LOG (the default stderr log) and DMACOH_DEBUG, once, at load (env.c; called
 * by the constructor in common.c, which every Linux platform links). */
void dmacoh__linux_env_init(void);
/* Installs the valgrind block-bounds hook when running under valgrind (common.c). */
void dmacoh__linux_track_init(void);

/*
 * Reading what the kernel exposes in files (sysfs.c). Every such file is opened with
 * O_NOFOLLOW and O_NONBLOCK and checked with fstat before use:
 *  - DMACOH__FILE_REGULAR: a sysfs attribute or a PCI resourceN file, a regular file of at
 *    least min_size bytes (resourceN: the BAR's size, so no mapped page lies past its end);
 *  - DMACOH__FILE_NODE: a device node (/dev/uioN, /dev/daxX.Y), a character device; O_NONBLOCK
 *    is cleared again once it is checked.
 * Returns the descriptor, or -DMACOH_ENOENT, -DMACOH_EACCES, -errno (not logged: the caller
 * says what it was looking for), or -DMACOH_EIO when the file is a symbolic link or not what
 * the kernel makes (logged, naming the file).
 */
enum { DMACOH__FILE_REGULAR, DMACOH__FILE_NODE };
int dmacoh__linux_open_checked(const char *path, int flags, int kind, uint64_t min_size);
/* 0 when the node open at fd is the device whose sysfs directory is sysdir: its device number
 * equals sysdir/dev ("major:minor"). A character device is not enough: under a caller-given
 * /dev root, /dev/mem (1:1) renamed uio0 would map physical page 0. -DMACOH_EIO (logged) when
 * it is another device or the number cannot be read. A test's regular-file stand-in passes
 * while dmacoh__linux_fake_nodes is set. */
int dmacoh__linux_node_is(int fd, const char *node, const char *sysdir);

/* Test seam: when set, a regular file of at least min_size bytes is accepted where a device
 * node should be (the unit tests' fake /dev trees, whose nodes are files so that what the
 * library writes can be read back). Never set in real use. */
extern bool dmacoh__linux_fake_nodes;

/* Reads one number from a sysfs attribute file, exactly as the kernel writes one: decimal, or
 * hexadecimal after 0x, then at most a newline (no sign, blank, leading zero or overflow).
 * Returns 0, -DMACOH_ENOENT (no file), -DMACOH_EACCES, -DMACOH_EIO (not such a number, or not
 * a regular file: logged with the path) or another -errno. */
int dmacoh__linux_read_u64(const char *path, uint64_t *v);

/*
 * The mode a mapping of device memory (a BAR, a UIO map, /dev/mem) may be granted. On x86 an
 * uncached mapping takes any access, so MAP (plain loads, stores, memset) is safe. On other
 * CPUs (arm64 maps such memory as Device memory) unaligned accesses and cache-zeroing
 * instructions fault, and memset/memcpy use both: only IO (the width-aware accessors) is
 * granted there. Returns 0 when none of `want` can be granted.
 */
static inline int dmacoh__linux_device_mode(int want)
{
#if defined(__x86_64__) || defined(__i386__)
    if (want & DMACOH_MEMORY_MAP)
        return DMACOH_MEMORY_MAP;
#endif
    return want & DMACOH_MEMORY_IO;
}

/* Maps len bytes of fd at file offset off (page aligned) so that the address plus `delta` is
 * congruent to `target` modulo `cong` (a power of two). Returns the mapping or NULL with
 * *err set. */
void *dmacoh__linux_map_congruent(int fd, uint64_t off, uint64_t len, uint64_t delta,
                                  uint64_t target, uint64_t cong, int *err);

/*
 * Maps len bytes of fd from file offset off (page aligned) for a region whose first byte is
 * delta bytes in, congruent as map_congruent places it, and fills out->cpu and out->priv;
 * out->mode, shared and io_width are the caller's. Undone by dmacoh__linux_unmap. Returns 0 or
 * a negative code (-DMACOH_ENOMEM, mapping errors).
 */
int dmacoh__linux_map_fd(int fd, uint64_t off, uint64_t len, uint64_t delta,
                         dmacoh_dma_addr_t device_addr, uint64_t congruence,
                         struct dmacoh_mapping *out);
void dmacoh__linux_unmap(void *ctx, struct dmacoh_mapping *m, uint64_t size);

/*
 * Physical ranges claimed process-wide (common.c). Overlap is a property of the physical
 * range, not of a platform instance: two instances (two dmacoh_pci_open of one function, or
 * PCI sysfs and UIO, /dev/mem, device DAX or VFIO over the same BAR) each keep their own
 * allocator, so two declarations over the same bytes would hand them out twice. Every Linux
 * platform that maps physical memory claims the exact bytes of a region in its map op,
 * before mapping, and its mapping keeps the claim until unmap. A claim that overlaps any
 * other - from another instance, or the same one - is refused. A range a platform marks
 * shared (dmacoh_mapping.shared) is shared among the declarers of one instance: they join
 * the instance's pool and never reach map, so they need no second claim; across instances
 * it is refused like any other overlap, as the instances' allocators are separate.
 * A claim whose `want` has DMACOH_MAP_MULTIPROCESS is a shared region's (shared claim): in
 * this process it is refused on overlap like any other (a process attaches a shared region
 * once), but in the machine-wide registry it coexists with other processes' shared claims of
 * the same bytes; exclusive and shared claims of different processes refuse each other.
 * Thread-safe (one mutex); claims are kept sorted, so a claim or release costs a binary
 * search plus the move of the entries above it.
 */
struct dmacoh__phys_claim {
    dmacoh_phys_addr_t bus; /* first byte */
    uint64_t size;          /* bytes: > 0, bus + size - 1 does not wrap */
    const void *owner;      /* the platform instance, to tell it apart in the log */
    const char *kind;       /* the platform's name: "pci", "uio", "devmem", "dax", "vfio" */
    const char *who;        /* through what it is mapped: device folder and BAR, node, ... */
    int want;               /* map's `want`: DMACOH_MAP_MULTIPROCESS makes the claim shared
                               (other processes' shared claims coexist with it); the mode bits
                               are ignored */
};

/* Claims c's range, in this process and then in the machine-wide registry (below): 0,
 * -DMACOH_EBUSY (any byte already claimed in this process, or held by another process in a
 * way that excludes c: exclusively, or shared when c is exclusive; logged with both the
 * claimant and the holder: platform kind, device or path, range; for another process its pid
 * and command, and for a shared range how many processes share it) or -DMACOH_ENOMEM. */
int dmacoh__linux_phys_claim(const struct dmacoh__phys_claim *c);

/* Drops the claim of exactly [bus, bus + size); nothing when there is none. */
void dmacoh__linux_phys_release(dmacoh_phys_addr_t bus, uint64_t size);

/*
 * The machine-wide registry (registry.c): a file, DMACOH_REGISTRY or /run/dmacoh/registry,
 * on which each process holds a POSIX record lock over each range it has declared, at the
 * physical address as offset: a write lock for an exclusive range, a read lock for a shared
 * one. A shared holder also holds a write lock over the same range in one of 64 mirror slots
 * above 2^62 (offset 2^62 + slot * 2^56 + address): a reader with no right to write the file
 * cannot take one, so the mirrors tell dmacoh's shared holders apart from foreign readers,
 * and name every one of them. dmacoh__linux_phys_claim enters a range there after the
 * process-wide check, and dmacoh__linux_phys_release leaves it before the process-wide
 * entry goes, so that no other thread of the process can claim the range in between.
 * Thread-safe (one mutex; no log line is written while it is held).
 */
struct dmacoh__registry_entry {
    dmacoh_phys_addr_t bus; /* first byte */
    uint64_t size;          /* bytes (adjacent ranges of one holder come merged) */
    long pid;               /* the holder, as this process's pid namespace numbers it; 0 or -1
                               when the kernel cannot say (another namespace, an OFD lock) */
    char comm[17];          /* its /proc/<pid>/comm, or "?" */
    bool shared;            /* held as a shared region's range (other holders may share it) */
    unsigned holders;       /* processes holding what refused a claim (pid is the first of
                               them; more than 1 only when shared); 1 in a walk's entries */
};

/* How a range was entered, for dmacoh__linux_registry_leave. */
struct dmacoh__registry_mark {
    unsigned gen; /* the generation it was entered in; 0: not entered */
    int slot;     /* its mirror slot when shared, else -1 */
};

/* Enters [lo, hi] (inclusive), shared or exclusive: 0 with mark->gen the entry's generation
 * (non-zero); 0 with mark->gen 0 when the range stays out of the registry (turned off,
 * unavailable or read-only, a lock no dmacoh process takes over it: one warning per reason;
 * past offset 2^62 - 1, or a shared range past 2^56 - 1: a warning); -DMACOH_EBUSY, with
 * *holder filled (pid 0 when it cannot be named; not logged: the caller names both sides),
 * when another process holds any byte of it exclusively, when it is exclusive and other
 * processes share any byte of it (holder->shared, holder->holders of them), or when it is
 * shared and 64 processes already share its bytes (holder->shared too). */
int dmacoh__linux_registry_enter(uint64_t lo, uint64_t hi, bool shared,
                                 struct dmacoh__registry_mark *mark,
                                 struct dmacoh__registry_entry *holder);
/* Leaves a range entered with dmacoh__linux_registry_enter as *mark says (an entry of an
 * older generation went with the descriptor it was made through: nothing is done). */
void dmacoh__linux_registry_leave(uint64_t lo, uint64_t hi,
                                  const struct dmacoh__registry_mark *mark);
/* Around fork (common.c's pthread_atfork handlers): take and give back the registry's lock;
 * in the child, forget the descriptor and start a new generation. */
void dmacoh__linux_registry_prefork(void);
void dmacoh__linux_registry_postfork(bool child);
/*
 * Calls fn with every range held in the registry, by every process including this one, in
 * ascending order (by first byte, then pid), after the registry's lock is dropped (fn may
 * call into the library); a shared range comes once per holder, each entry marked shared.
 * Read locks of processes that are no dmacoh holders are not listed. Stops at fn's first
 * non-zero return, which is returned. Errors (logged): -DMACOH_ENOENT (off or cannot be
 * opened), -DMACOH_ENOMEM, -errno (a lock query failed; Linux >= 3.15 needed). A process that
 * holds ranges must not open and close the registry file itself (closing any descriptor of it
 * drops all the process's locks): this walk uses the library's descriptor.
 */
/* Closes a descriptor received from another process (SCM_RIGHTS), unless it is one of the
 * registry file: closing any descriptor of a file drops every POSIX lock the process holds
 * on it, so a hostile peer that sends one would silently remove this process's entries. Such
 * a descriptor is left open (a warning says so). */
void dmacoh__linux_close_received(int fd);
/* The descriptors of every SCM_RIGHTS message in m, in order: how many came (up to max are
 * stored; the others are closed here, with dmacoh__linux_close_received). A pidfd the kernel
 * adds (SO_PASSPIDFD) is closed. */
struct msghdr;
unsigned dmacoh__linux_take_fds(struct msghdr *m, int *fds, unsigned max);
/* Sends len bytes of buf with nfds (1..DMACOH__SEND_FDS_MAX) descriptors (SCM_RIGHTS) on
 * sock, all of it (a stream socket may take it in parts; the descriptors go with the first):
 * 0, -DMACOH_EINVAL (nfds), -errno of sendmsg, or -DMACOH_EIO when it takes nothing. */
#define DMACOH__SEND_FDS_MAX 4
int dmacoh__linux_send_fds(int sock, const void *buf, size_t len, const int *fds, unsigned nfds);
/* The control message in which Linux 6.5 and later pass the sender's pidfd (SO_PASSPIDFD). */
#define DMACOH__SCM_PIDFD 0x04

int dmacoh__linux_registry_walk(int (*fn)(void *ctx, const struct dmacoh__registry_entry *e),
                                void *ctx);

/* dmacoh__linux_map_fd for a range the caller has claimed: on success the mapping owns the
 * claim and dmacoh__linux_unmap drops it; on failure the claim is dropped here. */
int dmacoh__linux_map_claimed(int fd, uint64_t off, uint64_t len, uint64_t delta,
                              dmacoh_dma_addr_t device_addr, uint64_t congruence,
                              dmacoh_phys_addr_t bus, uint64_t size, struct dmacoh_mapping *out);

/* Test seam: the mmap with which dmacoh__linux_map_congruent places a mapping over its
 * reservation (MAP_FIXED), as mmap(2) but with a 64-bit offset whatever off_t is where the
 * caller is compiled. Calls mmap unless a unit test replaces it to inject a failure. */
extern void *(*dmacoh__linux_mmap_fn)(void *addr, size_t len, int prot, int flags, int fd,
                                      int64_t off);

/* The basename of a symbolic link's target (a sysfs `driver` or `iommu_group` link) into
 * name[len]: 0, or -errno (-DMACOH_ENOENT when there is no link). */
int dmacoh__linux_link_name(const char *link, char *name, size_t len);

/* Up to len - 1 bytes of a regular file (an attribute, a devicetree property), opened as
 * dmacoh__linux_open_checked does, NUL-terminated: the byte count, or a negative code as
 * dmacoh__linux_open_checked's; -DMACOH_ERANGE (logged) when the file holds len - 1 bytes or
 * more. */
long dmacoh__linux_read_file(const char *path, char *buf, size_t len);

/* The entries of directory `path` but "." and "..", names of at most 255 bytes (longer ones
 * are skipped with a warning), sorted so that digit runs compare as numbers (uio2 before
 * uio10). *names is one allocation of *n rows, freed by the caller with free(). Errors:
 * -DMACOH_ENOENT, -DMACOH_EACCES, -DMACOH_ENOMEM, -errno. */
int dmacoh__linux_list_dir(const char *path, char (**names)[256], size_t *n);

/* PCI pieces shared by pci_sysfs.c and vfio.c (both find BARs in sysfs `resource`). */
struct dmacoh__pci_bar {
    uint64_t start, size; /* CPU physical address and length; size 0 when unused */
    int kind;             /* enum dmacoh_pci_bar_kind */
    bool is64;            /* IORESOURCE_MEM_64: a 64-bit memory BAR */
};

/* True for "DDDD:BB:DD.F" as sysfs spells it (the name becomes part of a path). */
bool dmacoh__pci_bdf_ok(const char *s);

/* Reads the six BARs from <dir>/resource (its first six lines, each exactly as the kernel
 * prints it; a BAR flagged IORESOURCE_UNSET or _DISABLED is unused, with a warning naming the
 * line). Errors (each logged with `who` as prefix, the file and the line): -DMACOH_EACCES,
 * -DMACOH_EIO (fewer than six lines; a line too long, with a sign, a field that is not a
 * number or anything after the third; not a regular file), -errno. */
int dmacoh__pci_read_bars(const char *dir, const char *who,
                          struct dmacoh__pci_bar bar[DMACOH_PCI_NBARS]);

/* The memory BAR that holds all of [bus, bus + size), or -1. */
int dmacoh__pci_bar_for(const struct dmacoh__pci_bar bar[DMACOH_PCI_NBARS], uint64_t bus,
                        uint64_t size);

/* BAR n's start, size and kind for the public dmacoh_*_bar calls: 0, -DMACOH_EINVAL (n too
 * large), -DMACOH_ENOENT (unused). Any out-pointer may be NULL. */
int dmacoh__pci_bar_get(const struct dmacoh__pci_bar bar[DMACOH_PCI_NBARS], unsigned n,
                        dmacoh_phys_addr_t *bus, uint64_t *size, int *kind);

/*
 * The system calls of the VFIO platform, so that a test can put a fake VFIO kernel behind it.
 * Each behaves as its libc namesake: a result >= 0, or -1 with errno set. The descriptors open
 * and ioctl(VFIO_GROUP_GET_DEVICE_FD) return must be real ones: the platform mmaps the device
 * descriptor and reads/writes its config space with pread/pwrite (a fake hands out a regular
 * file laid out as the regions it reports).
 */
struct dmacoh__vfio_sys {
    int (*open)(void *ctx, const char *path, int flags);
    int (*close)(void *ctx, int fd);
    int (*ioctl)(void *ctx, int fd, unsigned long request, void *arg);
    void *ctx;
};

/* dmacoh_vfio_open() with the system calls given (NULL: the real ones). */
int dmacoh__vfio_open_sys(const char *bdf, const struct dmacoh_vfio_opts *opts,
                          const struct dmacoh__vfio_sys *sys, struct dmacoh_vfio **out);
/* dmacoh_vfio_attach_fds() with the system calls given (NULL: the real ones); the socket
 * calls are always the real ones. */
int dmacoh__vfio_attach_sys(int sock, const struct dmacoh_vfio_opts *opts,
                            const struct dmacoh__vfio_sys *sys, struct dmacoh_vfio **out);

/*
 * An IOVA space (iova.c): the usable IOVA ranges, a table of live blocks sorted by IOVA, and
 * the held ranges: device-address ranges that already name other memory (the declared regions
 * of the devices sharing the container), which no block may overlap, so that a DMA handle
 * names one memory only. For platforms that choose the device addresses of system memory
 * themselves (VFIO). First fit from the lowest address; linear scans (fallback blocks and
 * regions are few and large). All arithmetic is wrap-safe up to IOVA 2^64 - 1. Not locked:
 * the caller serialises.
 */
#define DMACOH__IOVA_MAX_RANGES 16

struct dmacoh__iova_range {
    uint64_t lo, hi; /* inclusive */
};

struct dmacoh__iova_blk {
    uint64_t iova, size, len; /* device address, size asked, bytes mapped (whole pages) */
    char *cpu;                /* CPU address of the first byte */
};

struct dmacoh__iova_held {
    uint64_t lo, hi; /* inclusive device-address range */
    const void *key; /* who holds it (the mapping's CPU address), for release */
};

struct dmacoh__iova_space {
    unsigned nranges;
    struct dmacoh__iova_range range[DMACOH__IOVA_MAX_RANGES]; /* ascending, disjoint */
    struct dmacoh__iova_blk *blk;                             /* live blocks by IOVA */
    size_t nblk, capblk;
    struct dmacoh__iova_held *held; /* held ranges, unordered */
    size_t nheld, capheld;
};

/* Narrows the ranges to [lo, hi], dropping those left empty. */
void dmacoh__iova_clip(struct dmacoh__iova_space *s, uint64_t lo, uint64_t hi);
/* An IOVA for len (> 0) bytes aligned to align (a power of two), ending at or below mask,
 * overlapping no live block and no held range: 0 with *iova set, -DMACOH_ERANGE (no usable
 * IOVA below the mask at all), -DMACOH_ENOMEM (no gap) or -DMACOH_EINVAL (len 0, align not a
 * power of two). */
int dmacoh__iova_pick(const struct dmacoh__iova_space *s, uint64_t len, uint64_t align,
                      uint64_t mask, uint64_t *iova);
/* Records a block (0 or -DMACOH_ENOMEM); removes block i; frees the tables. */
int dmacoh__iova_insert(struct dmacoh__iova_space *s, const struct dmacoh__iova_blk *b);
void dmacoh__iova_remove(struct dmacoh__iova_space *s, size_t i);
void dmacoh__iova_fini(struct dmacoh__iova_space *s);
/* The index of the first live block (by IOVA) that overlaps [lo, hi], or s->nblk. */
size_t dmacoh__iova_live_in(const struct dmacoh__iova_space *s, uint64_t lo, uint64_t hi);
/* Holds [lo, hi] (lo <= hi) for `key`: 0, -DMACOH_EBUSY (a live block overlaps it; nothing
 * changes) or -DMACOH_ENOMEM. Held ranges may overlap each other. */
int dmacoh__iova_hold(struct dmacoh__iova_space *s, uint64_t lo, uint64_t hi, const void *key);
/* Drops the held range of `key`; false when there is none. */
bool dmacoh__iova_unhold(struct dmacoh__iova_space *s, const void *key);
/* The index of the block starting at cpu, or s->nblk. */
size_t dmacoh__iova_find(const struct dmacoh__iova_space *s, const void *cpu);
/* Translations inside live blocks: DMACOH_BAD_DMA_ADDR / NULL outside them. */
dmacoh_dma_addr_t dmacoh__iova_virt_to_dma(const struct dmacoh__iova_space *s, const void *cpu);
void *dmacoh__iova_dma_to_virt(const struct dmacoh__iova_space *s, dmacoh_dma_addr_t dma);

/* len bytes (whole pages) of private anonymous memory at an address that is a multiple of
 * align (a power of two >= the page size); hugetlb pages when `huge` and len is whole 2 MiB
 * pages. NULL with *err set (-DMACOH_ENOMEM, logged) on failure; munmap to free. */
char *dmacoh__linux_alloc_anon(uint64_t len, uint64_t align, bool huge, int *err);

/* Shared regions (shm.c): state objects in DMACOH_SHM_DIR (default /dev/shm) named
 * dmacoh.<name>, and processes named by pid and start time. */
int dmacoh__linux_shm_open(void *ctx, const char *name, uint64_t size, bool create, void **out,
                           uint64_t *actual);
void dmacoh__linux_shm_close(void *ctx, void *addr, uint64_t size);
int dmacoh__linux_shm_unlink(void *ctx, const char *name);
int dmacoh__linux_shm_list(void *ctx, int (*fn)(void *user, const struct dmacoh_shared_entry *e),
                           void *user);
int dmacoh__linux_proc_self(void *ctx, struct dmacoh_proc_id *id);
int dmacoh__linux_proc_alive(void *ctx, const struct dmacoh_proc_id *id);

/* The services every Linux platform shares: heap metadata, futex sleeping, thread slots,
 * address space for IO cookies, shared regions. */
#define DMACOH__LINUX_SERVICE_OPS                                                                  \
    .meta_alloc = dmacoh__linux_meta_alloc, .meta_free = dmacoh__linux_meta_free,                  \
    .wait = dmacoh__linux_wait, .wake = dmacoh__linux_wake, .now_ns = dmacoh__linux_now_ns,        \
    .relax = dmacoh__linux_relax, .thread_slot = dmacoh__linux_thread_slot,                        \
    .thread_id = dmacoh__linux_thread_id, .reserve = dmacoh__linux_reserve,                        \
    .unreserve = dmacoh__linux_unreserve, .shm_open = dmacoh__linux_shm_open,                      \
    .shm_close = dmacoh__linux_shm_close, .shm_unlink = dmacoh__linux_shm_unlink,                  \
    .proc_self = dmacoh__linux_proc_self, .proc_alive = dmacoh__linux_proc_alive,                  \
    .shm_list = dmacoh__linux_shm_list

/* Those plus unmap of what dmacoh__linux_map_fd mapped. */
#define DMACOH__LINUX_COMMON_OPS .unmap = dmacoh__linux_unmap, DMACOH__LINUX_SERVICE_OPS

/* Test seam of hostmem.c: when set, called with each chunk just mapped, populated and locked,
 * before its page-map entries are read, so a unit test can write fake entries for exactly
 * those pages into the file it named as the page map. NULL (never set) in real use. */
extern void (*dmacoh__hostmem_mapped_hook)(const void *cpu, size_t len);

/* Discovery (discover.c, discover_pci.c, discover_dt.c, discover_emit.c): one walk's parameters and state. */
struct dmacoh__walk {
    const char *sys, *dev, *want; /* roots; the device asked for, or NULL */
    unsigned kinds;               /* enum dmacoh_found_kind bits wanted */
    int (*fn)(void *user, const struct dmacoh_found *f);
    void *user;
    bool matched; /* a record matched `want` */
    bool denied;  /* a kind's directory could not be listed for want of permission */
};
/* Hands f to the caller when it is of a wanted kind and device: 0, or what fn returned. */
int dmacoh__discover_emit(struct dmacoh__walk *w, struct dmacoh_found *f);
/* Fills path p: via, file, offset, and its state from lstat and access(2) for read and write
 * (READY, DENIED naming what is missing, or ABSENT when the file does not exist). */
void dmacoh__discover_path(struct dmacoh_found_path *p, int via, const char *file, uint64_t offset);
/* A NUMA node attribute (decimal, "-1" for none) into *v; *v is left when it is not one. */
void dmacoh__discover_node(const char *path, int *v);
/* The PCI functions (their memory BARs and NVMe CMBs), and the devicetree nodes. */
int dmacoh__discover_pci(struct dmacoh__walk *w);
int dmacoh__discover_dt(struct dmacoh__walk *w);
/* Lists the directory of a kind (dmacoh__linux_list_dir): 0, or non-zero when there is none
 * to walk (absent: nothing logged; permission denied: logged and noted in w->denied). */
int dmacoh__discover_list(struct dmacoh__walk *w, const char *dir, char (**names)[256], size_t *n);
/* printf into a fixed field, cut if needed (the records' strings are bounded). */
void dmacoh__discover_fmt(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* DMACOH_LINUX_INTERNAL_H */
