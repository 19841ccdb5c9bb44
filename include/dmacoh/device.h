/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/device.h - devices: nodes of a tree with a name, a parent, a platform, a DMA mask and
 * an ordered list of declared regions (one through the RFC API, up to DMACOH_REGIONS_MAX
 * through dmacoh_declare_region).
 *
 * struct dmacoh_device is caller-owned storage (a static, a member of the driver's own state);
 * dmacoh_device_init() never allocates, so the core runs with no heap. Its fields are private
 * to the library: read them through the functions below.
 */
#ifndef DMACOH_DEVICE_H
#define DMACOH_DEVICE_H

#include <dmacoh/types.h>
#include <dmacoh/errno.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmacoh_platform; /* platform.h */
struct dmacoh__pool;

/** Regions a device may have declared at once (its list: dmacoh/region.h). */
#define DMACOH_REGIONS_MAX 8
/** Bytes of a region name, with its terminating NUL: names have 1 to 31 characters. */
#define DMACOH_REGION_NAME_MAX 32

/** A region of a device's list after the first (private). */
struct dmacoh__region_ref {
    struct dmacoh__pool *pool; /**< its allocator */
    int flags;                 /**< declare flags with the granted mode */
};

/** A device. All fields are private; the layout may change between versions. */
struct dmacoh_device {
    uint32_t magic;                   /**< set by init, cleared by fini */
    uint32_t nchildren;               /**< devices whose parent this is */
    const char *name;                 /**< for logs; caller-owned, must outlive the device */
    struct dmacoh_device *parent;     /**< NULL for a root */
    struct dmacoh_platform *platform; /**< never NULL after init */
    uint64_t dma_mask;                /**< highest device address the device can reach */
    struct dmacoh__pool *pool;        /**< the first region's allocator, NULL if none */
    int region_flags;                 /**< declare flags with the granted mode, 0 if none */
    uint32_t nregions;          /**< regions in the list, `pool` included (0..DMACOH_REGIONS_MAX) */
    uint64_t fallbacks;         /**< allocations served from system memory */
    uint64_t failures;          /**< allocations that failed */
    struct dmacoh_device *next; /**< next initialised device of the same platform */
    /* The rest of the region list (dmacoh_declare_region). The first region stays in `pool`
     * and `region_flags` above (nregions beside them, in the same cache line), so that a
     * device with one region is served as before without looking here. */
    struct dmacoh__region_ref more[DMACOH_REGIONS_MAX - 1]; /**< regions 2.. of the list */
    /** Slot of region_name[] holding the name of region i of the list. A name stays in its slot
     * while its region is declared (a pointer to it stays valid when earlier regions are
     * released and the list moves up). */
    uint8_t name_slot[DMACOH_REGIONS_MAX];
    char region_name[DMACOH_REGIONS_MAX][DMACOH_REGION_NAME_MAX]; /**< by slot; "" unnamed */
};

/** DMA_BIT_MASK(n) of the kernel: the mask of a device with n address bits (1 <= n <= 64). */
#define DMACOH_BIT_MASK(n) (((n) >= 64) ? ~(uint64_t)0 : (((uint64_t)1 << (n)) - 1))

/**
 * Initialises a device. The platform is inherited from the parent when `platform` is NULL.
 * The DMA mask starts at 64 bits (set a narrower one with dmacoh_device_set_dma_mask()).
 * The parent is set here and only here, so a device tree cannot form a cycle: a device's
 * ancestors are initialised before it and stay so while it is (fini refuses a parent).
 *
 * @param[out] dev       storage for the device (its previous contents are ignored)
 * @param[in]  name      a name for logs; NULL means "?"; must outlive the device
 * @param[in]  parent    an initialised device, or NULL for a root
 * @param[in]  platform  the platform, or NULL to take the parent's
 * Errors: -DMACOH_EINVAL if dev is NULL or its own parent, parent is not initialised, or
 *         both parent and platform are NULL (or platform is not initialised), or parent and
 *         platform are both given and differ (a tree lives on one platform);
 *         -DMACOH_EBUSY if dev is a live device of that platform (initialised and not
 *         finalised: re-initialising it would orphan its region and children), including
 *         when parent descends from dev (the chain would form a cycle). Nothing changes on
 *         any error, and a log line says which.
 * Guarantees: dev's storage is never read, as it may be uninitialised: a live device is
 * recognised by the platform's list of its devices. Not detected: re-initialising a device
 * that is live on another platform instance (fini it on that one first).
 * Context: not thread-safe with respect to calls on the same parent or dev; never blocks or
 * allocates; O(devices on the platform).
 */
int dmacoh_device_init(struct dmacoh_device *dev, const char *name, struct dmacoh_device *parent,
                       struct dmacoh_platform *platform);

/**
 * Retires a device (and takes it off its platform's list, O(devices on the platform)).
 * Errors: -DMACOH_EINVAL if dev is not initialised (in the debug mode,
 * dmacoh/debug.h, a device already retired is reported as such); -DMACOH_EBUSY if it still
 * has a declared region or children, or, in the debug mode only, memory allocated for it
 * (from an ancestor's region or system memory) is outstanding, each allocation then logged
 * with its site (nothing changes on any error). After it, every call on dev fails with
 * -DMACOH_EINVAL until it is initialised again.
 * Context: as dmacoh_device_init.
 */
int dmacoh_device_fini(struct dmacoh_device *dev);

/**
 * Sets the DMA mask: the device reaches device addresses 0..mask. Region memory above the mask
 * is never handed to the device, and system memory is allocated below it.
 * Errors: -DMACOH_EINVAL if dev is not initialised or mask is not of the form 2^n - 1 with
 * 12 <= n <= 64 (the kernel refuses such masks too). Context: as dmacoh_device_init.
 */
int dmacoh_device_set_dma_mask(struct dmacoh_device *dev, uint64_t mask);

/** The DMA mask; 0 if dev is NULL or not initialised. Context: any thread. */
uint64_t dmacoh_device_dma_mask(const struct dmacoh_device *dev);

/** The device's name ("?" when unnamed, "(null)" for NULL, "(not a device)" for storage that
 * is not an initialised device). Context: any thread. */
const char *dmacoh_device_name(const struct dmacoh_device *dev);

/** The parent, or NULL. Context: any thread. */
struct dmacoh_device *dmacoh_device_parent(const struct dmacoh_device *dev);

/** True if dev has at least one region of its own declared. Context: any thread. */
bool dmacoh_device_has_region(const struct dmacoh_device *dev);

/**
 * Counters of dev's own allocations (whatever region served them): how many came from system
 * memory and how many failed. Either out-pointer may be NULL. Context: any thread (the
 * counters are read without a lock and may be a moment old).
 */
void dmacoh_device_counters(const struct dmacoh_device *dev, uint64_t *fallbacks,
                            uint64_t *failures);

/** Log levels of dmacoh_set_log_fn. */
enum dmacoh_log_level {
    DMACOH_LOG_ERROR = 0, /**< a call failed; the message says why */
    DMACOH_LOG_WARN = 1,  /**< something was wrong but the call went on (e.g. forced release) */
    DMACOH_LOG_INFO = 2,  /**< declarations and releases */
    DMACOH_LOG_DEBUG = 3, /**< every allocation and free */
};

/**
 * Installs the log callback. `fn` receives one line without a trailing newline, e.g.
 * "dmacoh: declare on 'scsi0': size 0x1001 is not a multiple of the granule 0x1000"; the
 * string is valid only during the call. Strings the caller gave the library (device names,
 * paths) appear in lines cut at 96 bytes and with control characters written as \xNN, so a
 * line is always one line. `max_level` drops messages above it. NULL turns logging off.
 *
 * Default: on Linux (the hosted build) warnings and errors go to stderr through
 * dmacoh_log_stderr from the moment the library is loaded, shared or static, until the
 * program calls this function; the environment variable DMACOH_LOG sets that default's
 * level ("none" or "off", "error", "warn" (the default), "info", "debug", or 0-3), and is
 * ignored by set-user-ID programs. To silence the library call
 * dmacoh_set_log_fn(NULL, NULL, 0); to redirect, install your own fn. The freestanding
 * core alone logs nothing until a callback is installed.
 * DEVIATION from a library that never prints: a refused double free or a misuse report that
 * nobody sees is worse than a line on stderr that a program can turn off.
 * Context: call before other threads use the library; fn may be called from any thread that
 * calls into the library, with no library lock held, and must not call back into it.
 */
void dmacoh_set_log_fn(void (*fn)(void *user, int level, const char *msg), void *user,
                       int max_level);

/**
 * The Linux build's default log callback: writes msg and a newline to standard error with one
 * write(), so that lines of several threads do not interleave. Standard error is the one the
 * process had when the library was loaded (a duplicate of descriptor 2, close-on-exec, taken
 * then): descriptor 2 itself is never written later, because a program that closed it may
 * have had it reused for device memory (a memfd window, a VFIO device). Nothing is written
 * when descriptor 2 was closed at load. Lines are cut at 511 bytes. `user` and `level` are
 * ignored. Hosted (Linux) builds only.
 * Example: dmacoh_set_log_fn(dmacoh_log_stderr, NULL, DMACOH_LOG_INFO) logs declarations too.
 * Context: any thread; async-signal-safe.
 */
void dmacoh_log_stderr(void *user, int level, const char *msg);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_DEVICE_H */
