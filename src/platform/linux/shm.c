/* SPDX-License-Identifier: MIT */
/*
 * shm.c - what shared regions need of Linux (include/dmacoh/shared.h): the state object, and
 * a process identity that survives pid reuse, with which the core's lock tells a dead holder.
 *
 *  - The object is the file dmacoh.<name> in DMACOH_SHM_DIR (read with secure_getenv; default
 *    /dev/shm, where shm_open would put it), created 0600 with O_EXCL, opened with
 *    O_NOFOLLOW, checked to be a regular file, and mapped MAP_SHARED.
 *  - A process is its pid and its start time (field 22 of /proc/<pid>/task/<pid>/stat, clock
 *    ticks after boot): a pid reused by a later process has a later start. A zombie counts as
 *    dead. The task file, not /proc/<pid>/stat: qemu-user answers a process's reads of its
 *    own /proc/<pid>/stat with made-up fields (start time, thread count) that other
 *    processes reading the real file would not match; it leaves the task file alone.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* secure_getenv */
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err */

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *shm_dir(void)
{
    const char *dir = secure_getenv("DMACOH_SHM_DIR");

    return dir && *dir ? dir : "/dev/shm";
}

static int path_of(const char *name, char *buf, size_t len)
{
    const char *dir = shm_dir();
    int n;

    n = snprintf(buf, len, "%s/dmacoh.%s", dir, name);
    if (n < 0 || (size_t)n >= len) {
        dmacoh__err("shared region '%s': the path in DMACOH_SHM_DIR is too long", name);
        return DMACOH_EINVAL;
    }
    return 0;
}

int dmacoh__linux_shm_open(void *ctx, const char *name, uint64_t size, bool create, void **out,
                           uint64_t *actual)
{
    char path[PATH_MAX];
    struct stat st;
    void *m;
    int fd, r = path_of(name, path, sizeof(path));

    (void)ctx;
    if (r)
        return r;
    if (create && (size == 0 || size > (uint64_t)INT64_MAX || size > SIZE_MAX))
        return DMACOH_EOVERFLOW;
    fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | (create ? O_CREAT | O_EXCL : 0),
              0600);
    if (fd < 0) {
        r = -errno;
        if (r != DMACOH_EEXIST && r != DMACOH_ENOENT)
            dmacoh__err("shared region: open %s: %s", path, strerror(-r));
        return r;
    }
    if (create && ftruncate(fd, (off_t)size) != 0) {
        r = -errno;
        dmacoh__err("shared region: sizing %s to %#llx bytes: %s", path, (unsigned long long)size,
                    strerror(-r));
        (void)unlink(path);
        (void)close(fd);
        return r;
    }
    /* An object just created is sized by its creator right after: an attach (size 0) waits
     * up to 1 s for it; a look from outside (size 1) does not. */
    if (!create && size == 0) {
        uint64_t until = dmacoh__linux_now_ns(NULL) + 1000000000ull;

        while (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 &&
               dmacoh__linux_now_ns(NULL) < until) {
            struct timespec ms = {0, 1000000};

            (void)nanosleep(&ms, NULL);
        }
    }
    if (fstat(fd, &st) == 0 && (st.st_uid != geteuid() || (st.st_mode & 022))) {
        dmacoh__err("shared region: %s belongs to uid %u or others may write it (mode %03o): "
                    "refused, it could have been made to mislead this process",
                    path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777));
        (void)close(fd);
        return DMACOH_EACCES;
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
        dmacoh__err("shared region: %s is still empty: its creator died setting it up; "
                    "remove it and declare again",
                    path);
        (void)close(fd);
        return DMACOH_EIO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (uint64_t)st.st_size > SIZE_MAX) {
        dmacoh__err("shared region: %s is not a regular, non-empty file", path);
        (void)close(fd);
        return DMACOH_EINVAL;
    }
    m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    r = -errno;
    (void)close(fd);
    if (m == MAP_FAILED) {
        dmacoh__err("shared region: mapping %s: %s", path, strerror(-r));
        if (create)
            (void)unlink(path);
        return r == -ENOMEM ? DMACOH_ENOMEM : r;
    }
    *out = m;
    *actual = (uint64_t)st.st_size;
    return 0;
}

void dmacoh__linux_shm_close(void *ctx, void *addr, uint64_t size)
{
    (void)ctx;
    (void)munmap(addr, (size_t)size);
}

int dmacoh__linux_shm_unlink(void *ctx, const char *name)
{
    char path[PATH_MAX];
    int r = path_of(name, path, sizeof(path));

    (void)ctx;
    if (r)
        return r;
    return unlink(path) == 0 ? 0 : -errno;
}

/* The folder's dmacoh.<name> files whose name a region may have. An entry that is not a
 * regular file (a link, a folder) is no region's and is left out; so is one gone between the
 * read of the folder and its lstat. */
int dmacoh__linux_shm_list(void *ctx, int (*fn)(void *user, const struct dmacoh_shared_entry *e),
                           void *user)
{
    const char *dir = shm_dir();
    struct dirent *d;
    DIR *dp;
    int fd, r = 0;

    (void)ctx;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        if (r == DMACOH_ENOENT)
            return 0;
        dmacoh__err("shared regions: open %s: %s", dir, strerror(-r));
        return r;
    }
    dp = fdopendir(fd);
    if (!dp) {
        r = -errno;
        (void)close(fd);
        dmacoh__err("shared regions: reading %s: %s", dir, strerror(-r));
        return r;
    }
    for (;;) {
        errno = 0;
        d = readdir(dp);
        if (!d) {
            if (errno) {
                r = -errno;
                dmacoh__err("shared regions: reading %s: %s", dir, strerror(-r));
            }
            break;
        }
        struct dmacoh_shared_entry e;
        struct stat st;

        if (strncmp(d->d_name, "dmacoh.", 7) != 0 || dmacoh__shm_name_ok(d->d_name + 7) != 0)
            continue;
        if (fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        e.name = d->d_name + 7;
        e.uid = st.st_uid;
        e.bytes = (uint64_t)st.st_size;
        e.mode = (unsigned)(st.st_mode & 0777);
        e.gid = st.st_gid;
        r = fn(user, &e);
        if (r)
            break;
    }
    (void)closedir(dp);
    return r;
}

/* What /proc/<pid>/stat says of a process: its state letter, thread count and start time.
 * 0, or -1 when it cannot be read. */
struct pstat {
    char state;
    long threads;
    uint64_t start;
};

static int stat_of(uint64_t pid, struct pstat *ps)
{
    char path[64], buf[1024], *p;
    ssize_t n;
    int fd;

    (void)snprintf(path, sizeof(path), "/proc/%llu/task/%llu/stat", (unsigned long long)pid,
                   (unsigned long long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    (void)close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
    if (!p || p[1] != ' ' || !p[2])
        return -1;
    ps->state = p[2];
    ps->threads = 0;
    if (p[3] != ' ')
        return -1;
    p += 4; /* field 4 */
    /* The thread count is field 20, the start time field 22. */
    for (int field = 4; field < 22; field++) {
        if (field == 20)
            ps->threads = strtol(p, NULL, 10);
        p = strchr(p, ' ');
        if (!p)
            return -1;
        p++; /* field + 1 */
    }
    ps->start = strtoull(p, NULL, 10);
    return 0;
}

/* The pid namespace a pid is numbered in: the inode of /proc/self/ns/pid, 0 if unknown. */
static uint64_t pid_ns(void)
{
    struct stat st;

    return stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* This process's identity, read once and again after a fork (a child is another process). */
static struct dmacoh_proc_id self;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_forget(void)
{
    __atomic_store_n(&self.pid, 0, __ATOMIC_RELAXED);
}

static void self_init(void)
{
    (void)pthread_atfork(NULL, NULL, self_forget);
}

int dmacoh__linux_proc_self(void *ctx, struct dmacoh_proc_id *id)
{
    struct pstat ps;
    uint64_t pid;

    (void)ctx;
    pid = __atomic_load_n(&self.pid, __ATOMIC_ACQUIRE);
    if (pid != 0) { /* asked at every lock: a load and a copy */
        *id = self;
        id->pid = pid;
        return 0;
    }
    (void)pthread_once(&self_once, self_init); /* before anything is cached */
    pid = (uint64_t)getpid();
    if (stat_of(pid, &ps) != 0) {
        dmacoh__err("shared region: /proc/%llu/stat cannot be read", (unsigned long long)pid);
        return DMACOH_EIO;
    }
    id->pid = pid;
    id->start = ps.start;
    id->ns = pid_ns();
    self.start = id->start; /* a race of two first calls writes the same values */
    self.ns = id->ns;
    __atomic_store_n(&self.pid, pid, __ATOMIC_RELEASE);
    return 0;
}

int dmacoh__linux_proc_alive(void *ctx, const struct dmacoh_proc_id *id)
{
    struct dmacoh_proc_id me;
    struct pstat ps;

    if (id->pid == 0 || id->pid > (uint64_t)INT_MAX)
        return 0;
    /* A pid of another namespace names another process here, or none: this process cannot
     * tell, and never calls it dead. */
    if (dmacoh__linux_proc_self(ctx, &me) != 0 || id->ns != me.ns || me.ns == 0)
        return 1;
    if (kill((pid_t)id->pid, 0) != 0 && errno == ESRCH)
        return 0;
    if (stat_of(id->pid, &ps) != 0)
        return 1; /* it exists, and nothing says it is another process (hidepid) */
    if (id->start && ps.start != id->start)
        return 0; /* the pid was reused */
    /* A zombie is dead; but the state is the main thread's, which may have exited while
     * other threads of the process run on. */
    return !((ps.state == 'Z' || ps.state == 'X') && ps.threads <= 1);
}
