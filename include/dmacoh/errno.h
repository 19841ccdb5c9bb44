/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/errno.h - error codes.
 *
 * Every action returns 0 or one of these negative codes. Their values are the Linux errno
 * numbers, negated, written out here so that the freestanding core needs no <errno.h>: on a
 * Linux host DMACOH_EINVAL == -EINVAL (a test checks every one), and a caller may compare
 * against either spelling.
 */
#ifndef DMACOH_ERRNO_H
#define DMACOH_ERRNO_H

#ifdef __cplusplus
extern "C" {
#endif

#define DMACOH_EPERM     (-1)   /**< operation not permitted (e.g. freeing an occupied range) */
#define DMACOH_ENOENT    (-2)   /**< a path, device or address does not exist */
#define DMACOH_EIO       (-5)   /**< the platform reported an I/O failure */
#define DMACOH_ENXIO     (-6)   /**< the bus range is not backed by any memory the platform knows */
#define DMACOH_ENOMEM    (-12)  /**< out of memory (region full, metadata, system memory) */
#define DMACOH_EACCES    (-13)  /**< permission denied by the OS */
#define DMACOH_EFAULT    (-14)  /**< a pointer or handle does not belong to any allocation */
#define DMACOH_EBUSY     (-16)  /**< already declared, overlapping, or allocations outstanding */
#define DMACOH_EEXIST    (-17)  /**< the object already exists */
#define DMACOH_ENODEV    (-19)  /**< no region, or the platform cannot declare memory at all */
#define DMACOH_EINVAL    (-22)  /**< an argument is invalid (size 0, misaligned, bad flags...) */
#define DMACOH_ERANGE    (-34)  /**< an address range wraps or exceeds a limit (DMA mask...) */
#define DMACOH_EOVERFLOW (-75)  /**< a size computation would overflow */
#define DMACOH_ENOTSUP   (-95)  /**< the platform does not support what was asked */
#define DMACOH_ETIMEDOUT (-110) /**< a wait for room in an exclusive region timed out */

/**
 * Returns the symbolic name of an error code ("DMACOH_EINVAL"), "0" for 0, or
 * "DMACOH_E?" for a code this library never returns. Never NULL; static storage.
 * Context: any thread, any context (a pure function).
 */
const char *dmacoh_err_name(int err);

/**
 * Returns a one-line English description of an error code, "success" for 0, or
 * "unknown error" for a code this library never returns. Never NULL; static storage.
 * Context: any thread, any context (a pure function).
 */
const char *dmacoh_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* DMACOH_ERRNO_H */
