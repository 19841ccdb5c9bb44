/* SPDX-License-Identifier: MIT */
/*
 * shm.c - what shared regions need of Linux (include/dmacoh/shared.h): the state object, a
 * lock that survives its holder's death, and a process identity that survives pid reuse.
 *
 *  - The object is the file dmacoh.<name> in DMACOH_SHM_DIR (read with secure_getenv; default
 *    /dev/shm, where shm_open would put it), created 0600 with O_EXCL, opened with
 *    O_NOFOLLOW, checked to be a regular file, and mapped MAP_SHARED.
 *  - The lock is a pthread mutex, process-shared and robust: when its holder dies, the kernel
 *    hands it to the next locker with EOWNERDEAD; it is made consistent at once (so a second
 *    death during the repair is reported again to the one after) and the core repairs. That
 *    needs the kernel to walk the dead thread's robust list, which the C library registers at
 *    start (set_robust_list). Where none is registered (QEMU user-mode emulation answers
 *    ENOSYS: the guest's list is not one the host kernel could walk), a robust mutex is
 *    accepted but a holder's death is never reported, and the next locker waits for ever; so
 *    no region is created or attached there (-DMACOH_ENOTSUP).
 *  - A process is its pid and its start time (field 22 of /proc/<pid>/stat, clock ticks after
 *    boot): a pid reused by a later process has a later start. A zombie counts as dead.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* secure_getenv */
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(sizeof(pthread_mutex_t) <= DMACOH_SHLOCK_BYTES, "pthread_mutex_t too large");

static int path_of(const char *name, char *buf, size_t len)
{
    const char *dir = secure_getenv("DMACOH_SHM_DIR");
    int n;

    if (!dir || !*dir)
        dir = "/dev/shm";
    n = snprintf(buf, len, "%s/dmacoh.%s", dir, name);
    if (n < 0 || (size_t)n >= len) {
        dmacoh__err("shared region '%s': the path in DMACOH_SHM_DIR is too long", name);
        return DMACOH_EINVAL;
    }
    return 0;
}

/* Whether the kernel will report this process's death inside a robust lock: its robust list
 * is registered. 0, or -DMACOH_ENOTSUP (logged). */
static int robust_ok(const char *name)
{
    void *head = NULL;
    size_t len = 0;
    long r = syscall(SYS_get_robust_list, 0, &head, &len);

    if (r == 0 && head != NULL)
        return 0;
    dmacoh__err("shared region '%s': this process has no robust futex list (get_robust_list: "
                "%s; QEMU user-mode emulation does not provide one), so a process dying inside "
                "the region's lock would never be reported and every other process would wait "
                "for ever: shared regions are not supported here",
                name, r == 0 ? "none registered" : strerror(errno));
    return DMACOH_ENOTSUP;
}

int dmacoh__linux_shm_open(void *ctx, const char *name, uint64_t size, bool create, void **out,
                           uint64_t *actual)
{
    char path[PATH_MAX];
    struct stat st;
    void *m;
    int fd, r = path_of(name, path, sizeof(path));

    (void)ctx;
    if (!r)
        r = robust_ok(name);
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

int dmacoh__linux_shlock_init(void *ctx, void *lock)
{
    pthread_mutexattr_t a;
    int r;

    (void)ctx;
    r = pthread_mutexattr_init(&a);
    if (r)
        return -r;
    r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!r)
        r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!r)
        r = pthread_mutex_init((pthread_mutex_t *)lock, &a);
    (void)pthread_mutexattr_destroy(&a);
    return -r;
}

int dmacoh__linux_shlock_lock(void *ctx, void *lock)
{
    int r = pthread_mutex_lock((pthread_mutex_t *)lock);

    (void)ctx;
    if (r == 0)
        return 0;
    if (r == EOWNERDEAD) {
        (void)pthread_mutex_consistent((pthread_mutex_t *)lock);
        return 1;
    }
    /* ENOTRECOVERABLE is reached only by a holder that unlocked without making the mutex
     * consistent, which this file never does: the object was written by something else.
     * Going on would let two processes update the state at once. */
    dmacoh__err("shared region: the lock is unusable (%s): the shared state was "
                "overwritten; stopping",
                strerror(r));
    abort();
}

void dmacoh__linux_shlock_unlock(void *ctx, void *lock)
{
    (void)ctx;
    (void)pthread_mutex_unlock((pthread_mutex_t *)lock);
}

/* State letter and start time of /proc/<pid>/stat: 0, or -1 when it cannot be read. */
static int stat_of(uint64_t pid, char *state, uint64_t *start)
{
    char path[64], buf[1024], *p;
    ssize_t n;
    int fd;

    (void)snprintf(path, sizeof(path), "/proc/%llu/stat", (unsigned long long)pid);
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
    *state = p[2];
    p += 3;
    /* Fields 4..21 follow the state; the start time is field 22. */
    for (int field = 4; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return -1;
        p++;
    }
    *start = strtoull(p, NULL, 10);
    return 0;
}

int dmacoh__linux_proc_self(void *ctx, struct dmacoh_proc_id *id)
{
    char state;

    (void)ctx;
    id->pid = (uint64_t)getpid();
    if (stat_of(id->pid, &state, &id->start) != 0) {
        dmacoh__err("shared region: /proc/%llu/stat cannot be read", (unsigned long long)id->pid);
        return DMACOH_EIO;
    }
    return 0;
}

int dmacoh__linux_proc_alive(void *ctx, const struct dmacoh_proc_id *id)
{
    char state;
    uint64_t start;

    (void)ctx;
    if (id->pid == 0 || id->pid > (uint64_t)INT_MAX)
        return 0;
    if (kill((pid_t)id->pid, 0) != 0 && errno == ESRCH)
        return 0;
    if (stat_of(id->pid, &state, &start) != 0)
        return 1; /* it exists, and nothing says it is another process */
    return start == id->start && state != 'Z' && state != 'X';
}
