/* SPDX-License-Identifier: MIT */
/*
 * dmacoh/config.h - knobs an integrator may override before including any dmacoh header,
 * or from a header named by DMACOH_CONFIG_HEADER (o1heap's O1HEAP_CONFIG_HEADER pattern).
 *
 *   DMACOH_ASSERT(x)   internal-corruption assertion; default: a trap when DMACOH_DEBUG >= 2,
 *                      nothing otherwise. Never used on caller input (that is a returned error).
 *   DMACOH_DEBUG       0 none; 1 cheap misuse checks; 2 internal assertions; 3 full checks
 *                      after every operation. Default 0 with NDEBUG, else 2.
 *   DMACOH_PAGE_SIZE   the page size of the RFC API (PAGE_SIZE); default 4096.
 */
#ifndef DMACOH_CONFIG_H
#define DMACOH_CONFIG_H

#ifdef DMACOH_CONFIG_HEADER
#include DMACOH_CONFIG_HEADER
#endif

#ifndef DMACOH_DEBUG
#ifdef NDEBUG
#define DMACOH_DEBUG 0
#else
#define DMACOH_DEBUG 2
#endif
#endif

#ifndef DMACOH_ASSERT
#if DMACOH_DEBUG >= 2
#define DMACOH_ASSERT(x)                                                                           \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)
#else
#define DMACOH_ASSERT(x) ((void)0)
#endif
#endif

#ifndef DMACOH_PAGE_SIZE
#define DMACOH_PAGE_SIZE 4096u
#endif

/** Smallest and largest granule (allocation unit) a region may have. */
#define DMACOH_GRANULE_MIN 16u
#define DMACOH_GRANULE_MAX 0x200000u /* 2 MiB */

#endif /* DMACOH_CONFIG_H */
