/* SPDX-License-Identifier: MIT */
/*
 * bench.h - timing the I/O submission queue in the CMB against system memory.
 */
#ifndef NVME_CMB_BENCH_H
#define NVME_CMB_BENCH_H

#include "cmd.h"

/* Recreates I/O queue pair 1 for each placement and times n writes and n reads of three pages
 * (a PRP list each) per placement, in alternating rounds; prints commands/s, the share of the
 * time in dmacoh calls (IO accessors, PRP-list pool) and the ratio of the two rates. The
 * queue pair is left with its SQ in system memory. Returns 0, or -EIO after a failed command. */
int nvme_bench(struct nvme_ctrl *c, unsigned n);

#endif /* NVME_CMB_BENCH_H */
