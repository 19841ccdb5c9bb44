/* SPDX-License-Identifier: MIT */
/* shmtest.c - the shared-region tests' folder, names and object words (shmtest.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, setenv, pread */
#endif
#include "shmtest.h"

#include "t.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static unsigned seq;

/* At exit: the folder, if every test removed its objects (else it stays, to look at). */
static void drop_dir(void)
{
    (void)rmdir(dir);
}

const char *t_shm_name(char prefix)
{
    static char name[32];

    if (!dir[0]) {
        strcpy(dir, "/tmp/dmacoh-shm-XXXXXX");
        T_ASSERT(mkdtemp(dir) != NULL);
        T_EQ_INT(atexit(drop_dir), 0);
    }
    T_EQ_INT(setenv("DMACOH_SHM_DIR", dir, 1), 0);
    (void)snprintf(name, sizeof(name), "%c%u", prefix, ++seq);
    return name;
}

const char *t_shm_dir(void)
{
    return dir;
}

void t_shm_path(char *buf, size_t len, const char *name)
{
    (void)snprintf(buf, len, "%s/dmacoh.%s", dir, name);
}

uint64_t t_read_u64(int fd, off_t at)
{
    uint64_t v = 0;

    T_EQ_INT(pread(fd, &v, sizeof(v), at), (int)sizeof(v));
    return v;
}

void t_write_u64(int fd, off_t at, uint64_t v)
{
    T_EQ_INT(pwrite(fd, &v, sizeof(v), at), (int)sizeof(v));
}

int t_shm_copy(const char *from, const char *to)
{
    char a[128], b[128], buf[65536];
    int in, out;
    ssize_t n;

    t_shm_path(a, sizeof(a), from);
    t_shm_path(b, sizeof(b), to);
    in = open(a, O_RDONLY);
    out = open(b, O_RDWR | O_CREAT | O_EXCL, 0600);
    T_ASSERT(in >= 0 && out >= 0);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        T_EQ_INT(write(out, buf, (size_t)n), (int)n);
    close(in);
    return out;
}
