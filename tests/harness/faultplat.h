/* SPDX-License-Identifier: MIT */
/*
 * faultplat.h - a platform that wraps another one and fails its Nth fallible operation.
 *
 * Every op of the inner platform is forwarded. The fallible ones (map, sys_alloc, sys_free,
 * meta_alloc, reserve) are numbered from 1 in the order the core calls them; when the count
 * reaches fail_at, that call fails instead of reaching the inner platform (map -DMACOH_EIO,
 * sys_alloc -DMACOH_ENOMEM, sys_free -DMACOH_EIO, meta_alloc NULL, reserve -DMACOH_ENOMEM,
 * which a declare survives without IO cookies). Every later call succeeds, so a test
 * loops fail_at = 1, 2, ... until the operation under test succeeds: each iteration takes
 * one more step of it before failing, and every error path runs once (libuv's
 * test-loop-oom.c, SQLite's sqlite3_io_error_pending).
 *
 * The core's only metadata allocations are the platform's meta_alloc (region state, pools,
 * pool chunk headers and hash tables), so this platform is also the library's metadata
 * allocation failure hook. It counts what is outstanding (metadata bytes and blocks,
 * mappings, system memory) so that a test can assert that a failed call leaked nothing.
 *
 * It can also lie: a mapping or a reservation that breaks the congruence contract, or system
 * memory above the device's DMA mask, so the core's checks of its platform run too.
 */
#ifndef DMACOH_FAULTPLAT_H
#define DMACOH_FAULTPLAT_H

#include <dmacoh/dmacoh.h>

/** Which op failed (or lied) last. */
enum t_fault_op {
    T_FAULT_NONE = 0,
    T_FAULT_MAP,
    T_FAULT_SYS_ALLOC,
    T_FAULT_SYS_FREE,
    T_FAULT_META_ALLOC,
    T_FAULT_RESERVE,
};

struct t_faultplat {
    struct dmacoh_platform plat;      /**< what devices are initialised with */
    struct dmacoh_platform_ops ops;   /**< the inner ops with the fallible ones wrapped */
    const struct dmacoh_platform *in; /**< the wrapped platform */
    unsigned long calls;              /**< fallible calls so far */
    unsigned long fail_at;            /**< the call number that fails; 0 = none */
    unsigned long injected;           /**< faults injected so far */
    enum t_fault_op failed;           /**< the op of the last injected fault */
    bool lie_map;                     /**< map() returns a mapping off the congruence */
    bool lie_sys_alloc;               /**< sys_alloc() returns memory above the DMA mask */
    bool lie_reserve;                 /**< reserve() returns an address off the congruence */
    long meta_blocks, meta_bytes;     /**< metadata outstanding */
    long maps, sys_blocks;            /**< mappings and system blocks outstanding */
    long reserves;                    /**< reservations outstanding */
};

/** Wraps inner (which must outlive fp) and initialises fp->plat. */
void t_faultplat_init(struct t_faultplat *fp, const struct dmacoh_platform *inner);

/** Arms the fault: the nth fallible call from now fails, and `failed` is reset; 0 disarms
 * and keeps `failed`. */
void t_faultplat_arm(struct t_faultplat *fp, unsigned long nth);

/** The error the core is expected to return when op failed. */
int t_faultplat_expected(enum t_fault_op op);

#endif /* DMACOH_FAULTPLAT_H */
