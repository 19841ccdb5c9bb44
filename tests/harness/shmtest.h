/* SPDX-License-Identifier: MIT */
/*
 * shmtest.h - what the shared-region tests share: a state folder of their own
 * (DMACOH_SHM_DIR, made at the first name and removed at exit once empty), fresh region
 * names, and the object's 64-bit words read and written by offset (the tests damage copies
 * of objects on purpose).
 */
#ifndef DMACOH_SHMTEST_H
#define DMACOH_SHMTEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A name not used before in this process, "<prefix><n>"; the first call makes the folder
 * and points DMACOH_SHM_DIR at it (again at every call: a test may have changed it). */
const char *t_shm_name(char prefix);
/* The folder (empty before the first t_shm_name). */
const char *t_shm_dir(void);
/* The path of region `name`'s object in the folder. */
void t_shm_path(char *buf, size_t len, const char *name);
/* Copies region `from`'s object to the name `to` (mode 0600, created): its descriptor,
 * open read-write, for damaging the copy. */
int t_shm_copy(const char *from, const char *to);
/* The 64-bit word at byte `at` of the file fd, read or written whole (a test failure
 * otherwise). */
uint64_t t_read_u64(int fd, off_t at);
void t_write_u64(int fd, off_t at, uint64_t v);

#endif /* DMACOH_SHMTEST_H */
