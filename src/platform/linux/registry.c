/* SPDX-License-Identifier: MIT */
/*
 * registry.c - the machine-wide registry of declared physical ranges: one file, never
 * written, on which each process holds a POSIX record lock (F_SETLK) over the bytes of each
 * range it has declared, at the range's physical address as file offset: F_WRLCK for an
 * exclusive range, F_RDLCK for a shared region's, which other processes' shared claims can
 * take too. The kernel drops a process's locks when it dies, so the registry forgets dead
 * holders with no clean-up step, and F_GETLK names a holder's pid (its command comes from
 * /proc/<pid>/comm).
 *
 * Shared holders and foreign readers. Anyone who can read the file can take a read lock on
 * it, and a read lock tells nothing of its taker. So a shared holder also takes a write lock
 * (which needs the file open for writing, as every process that enters ranges has it) over
 * the same range in a mirror slot: offsets [2^62, 2^63) are 64 slots of 2^56 bytes, slot s
 * mirroring address a at 2^62 + s * 2^56 + a; each shared holder takes the first slot free
 * over its range. Queries ask with F_RDLCK, which only write locks answer, so no reader can
 * hide a holder from them: an exclusive claim refused by read locks is refused by dmacoh's
 * shared holders when a mirror slot holds part of the range (each of them named, from the
 * mirrors), by foreign readers otherwise (which refuse nothing: see refused_by). Order: a
 * shared claim takes its mirror before its read lock and drops it after, so a read lock of a
 * shared holder is never seen without its mirror. Ranges therefore end at 2^62 - 1 and
 * shared ones at 2^56 - 1 (physical addresses are 52 bits on x86-64 and arm64, 56 on
 * RISC-V); at most 64 processes share one byte.
 *
 * Why POSIX record locks and not open-file-description ones: an OFD lock's query reports no
 * pid, and a per-holder record beside it would need its own liveness proof; POSIX locks give
 * the pid for free. Their two traps are handled here: locks of one process never conflict
 * with each other (the process-wide register in common.c checks within the process first),
 * and closing any descriptor of the file drops all the process's locks (the library keeps
 * one descriptor while it holds any lock and the walk reuses it; a program must not open and
 * close the registry file itself while it has regions declared). A forked child inherits no
 * lock: its inherited mappings are not entered in the registry.
 *
 * docs/design.md, "Machine-wide registry", gives the decisions (path, fallback, limits).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* secure_getenv, F_OFD_GETLK */
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err, dmacoh__warn */
#include <dmacoh/registry.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_DIR  "/run/dmacoh"
#define DEFAULT_PATH DEFAULT_DIR "/registry"
#define OFF_LAST     ((uint64_t)INT64_MAX)     /* the last byte a lock can cover */
#define RANGE_LAST   (((uint64_t)1 << 62) - 1) /* the last byte of a range: mirrors above */
#define SLOT_BITS    56
#define SLOT_LAST    (((uint64_t)1 << SLOT_BITS) - 1) /* the last byte of a shared range */
#define NSLOTS       64                               /* 64 slots of 2^56 bytes fill [2^62, 2^63) */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static int reg_fd = -1;         /* open while nheld > 0 (and briefly around each use) */
static bool reg_rdonly;         /* opened read-only: consulted, nothing entered */
static unsigned long nheld;     /* ranges this process has entered */
static char reg_path[PATH_MAX]; /* the path reg_fd was opened at */
static dev_t reg_dev;           /* and what it was: a descriptor closed by the program and */
static ino_t reg_ino;           /* reused for another file is not taken for the registry */
/* Entries carry the generation they were made in; a lost descriptor (closed by the program,
 * or a fork: the child inherits no lock) starts a new one, and older entries are left alone
 * rather than unlocked through a descriptor that is now something else. Never 0. */
static unsigned reg_gen = 1;
static bool forked; /* this process is a child of one that may have held entries */

/* Why the registry is not used for a claim, for one warning per distinct reason. */
enum { FINE, READ_ONLY, NO_OPEN, NOT_FILE, NO_LOCK, LOST, UNLINKED, FOREIGN, FORKED };
struct why {
    int what, err;
    char path[256]; /* enough to tell paths apart in a log line, which shows less */
};
static struct why warned; /* the last reason warned about */

/* The registry's path: DMACOH_REGISTRY, else the default; NULL when turned off ("none" or
 * empty). Read with secure_getenv, so a set-user-ID program ignores its caller's choice. */
static const char *registry_path(void)
{
    const char *v = secure_getenv("DMACOH_REGISTRY");

    if (!v)
        return DEFAULT_PATH;
    if (!*v || !strcmp(v, "none"))
        return NULL;
    return v;
}

/* Opens path read-write, creating it 0644 (and the default's folder 0755) when missing:
 * the descriptor, or -errno. */
static int open_rw(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
                  0644);

    if (fd >= 0) {
        (void)fchmod(fd, 0644); /* whatever the umask: others must be able to consult it */
        return fd;
    }
    if (errno == EEXIST)
        fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    else if (errno == ENOENT && !strcmp(path, DEFAULT_PATH) && mkdir(DEFAULT_DIR, 0755) == 0) {
        (void)chmod(DEFAULT_DIR, 0755);
        return open_rw(path);
    }
    return fd >= 0 ? fd : -errno;
}

static void set_why(struct why *why, int what, int err, const char *path)
{
    why->what = what;
    why->err = err;
    snprintf(why->path, sizeof(why->path), "%.*s", (int)sizeof(why->path) - 1, path);
}

/* Whether reg_fd is still the registry this process opened (lock held). When the program
 * closed it (closefrom, close_range), the kernel dropped every entry with it and the number
 * may now be another file's: it is forgotten without a close, and the entries made through it
 * are left alone (a new generation). A registry file someone unlinked still works for the
 * processes that have it open, but newcomers create another: said once. */
static bool still_ours(struct why *why)
{
    struct stat st;

    if (fstat(reg_fd, &st) != 0 || st.st_dev != reg_dev || st.st_ino != reg_ino) {
        reg_fd = -1;
        nheld = 0;
        reg_gen++;
        set_why(why, LOST, 0, reg_path);
        return false;
    }
    if (st.st_nlink == 0)
        set_why(why, UNLINKED, 0, reg_path);
    return true;
}

/* Opens the registry if it is not open. 0 with reg_fd set (*why says READ_ONLY when it
 * could only be opened so); 1 when the registry is off or unavailable (*why says why, FINE
 * when it is off). Lock held. */
static int reg_open(struct why *why)
{
    const char *path = registry_path();
    struct stat st;
    int fd, err;

    why->what = FINE;
    if (forked) {
        forked = false;
        set_why(why, FORKED, 0, reg_path);
    }
    if (reg_fd >= 0 && still_ours(why))
        return 0;
    if (!path)
        return 1; /* turned off: no warning */
    reg_rdonly = false;
    fd = err = open_rw(path);
    if (fd == -EACCES || fd == -EROFS || fd == -EPERM) {
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd >= 0) {
            reg_rdonly = true;
            set_why(why, READ_ONLY, -err, path);
        } else {
            err = -errno;
        }
    }
    if (fd < 0) {
        set_why(why, NO_OPEN, -err, path);
        return 1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        set_why(why, NOT_FILE, 0, path);
        return 1;
    }
    reg_fd = fd;
    reg_dev = st.st_dev;
    reg_ino = st.st_ino;
    snprintf(reg_path, sizeof(reg_path), "%s", path);
    return 0;
}

/* Closes the registry when this process holds nothing in it (closing drops every POSIX lock
 * of the process on the file, so never before). The next use opens it again and reads
 * DMACOH_REGISTRY again. Lock held. */
static void reg_idle(void)
{
    if (nheld == 0 && reg_fd >= 0) {
        close(reg_fd);
        reg_fd = -1;
    }
}

/* Logs *why once per distinct reason (not under the lock: the log function is the
 * program's code). */
static void warn_once(const struct why *why)
{
    bool again;

    if (why->what == FINE)
        return;
    pthread_mutex_lock(&reg_lock);
    again =
        why->what != warned.what || why->err != warned.err || strcmp(why->path, warned.path) != 0;
    if (again)
        warned = *why;
    pthread_mutex_unlock(&reg_lock);
    if (!again)
        return;
    if (why->what == READ_ONLY)
        dmacoh__warn("the machine-wide registry %s is read-only to this process (%s): its "
                     "declarations are checked against other processes' but not entered",
                     why->path, strerror(why->err));
    else if (why->what == NO_OPEN)
        dmacoh__warn("the machine-wide registry %s cannot be opened (%s): declarations are "
                     "checked within this process only",
                     why->path, strerror(why->err));
    else if (why->what == LOST)
        dmacoh__warn("the machine-wide registry %s: its descriptor was closed by the program "
                     "(closefrom or close_range?), which dropped this process's entries: its "
                     "regions declared so far are no longer in it",
                     why->path);
    else if (why->what == UNLINKED)
        dmacoh__warn("the machine-wide registry %s was removed while this process holds "
                     "entries in it: processes that open it now use another file and are not "
                     "checked against these entries",
                     why->path);
    else if (why->what == FOREIGN)
        dmacoh__warn("the machine-wide registry %s: a lock that no dmacoh process takes (a "
                     "read lock, or an open-file-description lock, by process %ld) covers "
                     "part of a declared range or of its mirror: the range is not entered, "
                     "and is checked within this process only",
                     why->path, (long)why->err);
    else if (why->what == FORKED)
        dmacoh__warn("this process was forked: regions it inherited are not in the "
                     "machine-wide registry (the locks stay with the parent, and go when it "
                     "ends)");
    else if (why->what == NOT_FILE)
        dmacoh__warn("the machine-wide registry %s is not a regular file: declarations are "
                     "checked within this process only",
                     why->path);
    else
        dmacoh__warn("the machine-wide registry %s refused a lock (%s): declarations are "
                     "checked within this process only",
                     why->path, strerror(why->err));
}

static void fill_lock(struct flock *fl, short type, uint64_t lo, uint64_t hi)
{
    memset(fl, 0, sizeof(*fl));
    fl->l_type = type;
    fl->l_whence = SEEK_SET;
    fl->l_start = (off_t)lo;
    fl->l_len = hi >= OFF_LAST ? 0 : (off_t)(hi - lo + 1); /* 0: to the last offset */
}

/* /proc/<pid>/comm into comm[len] without its newline; "?" when it cannot be read. */
static void read_comm(long pid, char *comm, size_t len)
{
    char path[64];
    ssize_t n = -1;
    int fd;

    snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    fd = pid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        n = read(fd, comm, len - 1);
        close(fd);
    }
    if (n <= 0) {
        snprintf(comm, len, "?");
        return;
    }
    comm[n] = '\0';
    comm[strcspn(comm, "\n")] = '\0';
}

/* The first offset of mirror slot s. */
static uint64_t slot_base(int s)
{
    return ((uint64_t)1 << 62) + ((uint64_t)s << SLOT_BITS);
}

/* The holder of a lock reported by a query, as an entry: its part of [base, last] (offsets),
 * numbered from base (0 for the ranges, a slot's base for its mirrors). */
static void to_entry(const struct flock *fl, uint64_t base, uint64_t last,
                     struct dmacoh__registry_entry *e)
{
    uint64_t lo = (uint64_t)fl->l_start;
    uint64_t hi = fl->l_len > 0 ? lo + (uint64_t)fl->l_len - 1 : OFF_LAST;

    lo = lo < base ? base : lo;
    hi = hi > last ? last : hi;
    e->bus = lo - base;
    e->size = hi - lo + 1;
    e->shared = base != 0;
    e->holders = 1;
    e->pid = (long)fl->l_pid;
    if (e->pid > 0)
        read_comm(e->pid, e->comm, sizeof(e->comm));
    else /* another pid namespace (0), or an open-file-description lock (-1) */
        snprintf(e->comm, sizeof(e->comm), "?");
}

/* A write lock of another process over offsets [lo, hi]: the query asks for a read lock,
 * which only write locks refuse, so no reader hides one. 1 with *fl set, 0 when there is
 * none, or -errno. Lock held. */
static int writer_over(uint64_t lo, uint64_t hi, struct flock *fl)
{
    fill_lock(fl, F_RDLCK, lo, hi);
    if (fcntl(reg_fd, F_GETLK, fl) != 0)
        return -errno;
    return fl->l_type != F_UNLCK;
}

/* The lowest-addressed write lock that overlaps offsets [lo, hi], found with queries `cmd`
 * for a read lock (which readers do not answer): F_GETLK sees other processes' locks only,
 * F_OFD_GETLK this process's own POSIX locks too (Linux >= 3.15). 1 with *fl set, 0 when
 * there is none, or -errno. A query reports some conflicting lock, not the lowest, so the
 * range below it is asked again until nothing lies below. Lock held. */
static int lowest_writer(int cmd, uint64_t lo, uint64_t hi, struct flock *fl)
{
    struct flock q;
    bool found = false;

    for (;;) {
        fill_lock(&q, F_RDLCK, lo, hi);
        if (fcntl(reg_fd, cmd, &q) != 0)
            return -errno;
        if (q.l_type == F_UNLCK)
            return found;
        *fl = q;
        found = true;
        if ((uint64_t)q.l_start <= lo)
            return 1;
        hi = (uint64_t)q.l_start - 1;
    }
}

/* The end (inclusive offset) of a lock a query reported. */
static uint64_t lock_end(const struct flock *fl)
{
    return fl->l_len > 0 ? (uint64_t)fl->l_start + (uint64_t)fl->l_len - 1 : OFF_LAST;
}

/* The other processes that share any byte of addresses [lo, hi] (at most SLOT_LAST), from
 * their mirrors: how many (those in another pid namespace, pid 0, each counted), with *first the
 * first of them (one that can be named preferred), and *used the number of slots any of
 * them holds part of the range in; or -errno, DMACOH_ENOMEM. Lock held. */
static int sharers(uint64_t lo, uint64_t hi, struct dmacoh__registry_entry *first, unsigned *used)
{
    long *pid = NULL, *grown;
    size_t n = 0, cap = 0, i;
    struct flock fl, best;
    uint64_t base = 0;
    int r = 0, s;

    *used = 0;
    memset(&best, 0, sizeof(best));
    for (s = 0; s < NSLOTS && r >= 0; s++) {
        uint64_t at = lo, b = slot_base(s);
        bool in = false;

        while ((r = lowest_writer(F_GETLK, b + at, b + hi, &fl)) == 1) {
            if (fl.l_pid >= 0) { /* an open-file-description lock (-1) is no holder's */
                in = true;
                for (i = 0; i < n && (fl.l_pid == 0 || pid[i] != (long)fl.l_pid); i++)
                    ;
                if (i == n) {
                    if (n == cap) {
                        cap = cap ? 2 * cap : 16;
                        grown = (long *)realloc(pid, cap * sizeof(*pid));
                        if (!grown) {
                            r = DMACOH_ENOMEM;
                            break;
                        }
                        pid = grown;
                    }
                    if (n == 0 || (best.l_pid == 0 && fl.l_pid > 0)) {
                        best = fl;
                        base = b;
                    }
                    pid[n++] = (long)fl.l_pid;
                }
            }
            if (lock_end(&fl) >= b + hi)
                break;
            at = lock_end(&fl) - b + 1;
        }
        *used += in;
    }
    free(pid);
    if (r < 0)
        return r;
    if (n) {
        to_entry(&best, base, base + SLOT_LAST, first);
        first->holders = (unsigned)n;
    }
    return (int)n;
}

/* What refused a lock over addresses [lo, hi]: 1 when dmacoh processes hold it in a way that
 * excludes the claim (*holder set: a write lock over the range; for an exclusive claim also
 * the shared holders, from their mirrors), 0 when what holds it is no dmacoh lock (a read
 * lock no mirror stands behind, or an open-file-description lock, which hides its pid: only a
 * hostile or unrelated reader takes those; *foreign is its pid), -1 when nothing holds it any
 * more, or -errno when a query failed. Lock held. */
static int refused_by(uint64_t lo, uint64_t hi, bool shared, struct dmacoh__registry_entry *holder,
                      long *foreign)
{
    struct flock fl;
    unsigned used;
    int r = writer_over(lo, hi, &fl);

    if (r < 0)
        return r;
    if (r == 1 && fl.l_pid < 0) {
        *foreign = (long)fl.l_pid;
        return 0;
    }
    if (r == 1) {
        to_entry(&fl, 0, RANGE_LAST, holder);
        return 1;
    }
    if (shared)
        return -1; /* read locks do not refuse a read lock */
    /* Read locks first, then the mirrors: a shared holder takes its mirror before its read
     * lock, so a read lock seen here has its mirror in place by now if it is dmacoh's. */
    fill_lock(&fl, F_WRLCK, lo, hi);
    if (fcntl(reg_fd, F_GETLK, &fl) != 0)
        return -errno;
    if (fl.l_type != F_RDLCK)
        return -1; /* gone, or a writer came: asked again */
    *foreign = (long)fl.l_pid;
    /* Shared ranges end at or below SLOT_LAST: only that part can overlap one. */
    r = lo <= SLOT_LAST ? sharers(lo, hi < SLOT_LAST ? hi : SLOT_LAST, holder, &used) : 0;
    if (r != 0)
        return r < 0 ? r : 1;
    /* No mirror: a foreign reader, or a sharer that left between the two looks (it drops its
     * read lock, then its mirror). Foreign only if the read lock is still there. */
    fill_lock(&fl, F_WRLCK, lo, hi);
    if (fcntl(reg_fd, F_GETLK, &fl) != 0)
        return -errno;
    return fl.l_type == F_RDLCK ? 0 : -1;
}

/* Takes the first mirror slot free over addresses [lo, hi]: the slot, -1 when none is, or
 * -errno when the kernel refused a lock for another reason. Lock held. */
static int take_slot(uint64_t lo, uint64_t hi)
{
    struct flock fl;

    for (int s = 0; s < NSLOTS; s++) {
        fill_lock(&fl, F_WRLCK, slot_base(s) + lo, slot_base(s) + hi);
        if (fcntl(reg_fd, F_SETLK, &fl) == 0)
            return s;
        if (errno != EAGAIN && errno != EACCES)
            return -errno;
    }
    return -1;
}

static void drop_slot(uint64_t lo, uint64_t hi, int s)
{
    struct flock fl;

    fill_lock(&fl, F_UNLCK, slot_base(s) + lo, slot_base(s) + hi);
    (void)fcntl(reg_fd, F_SETLK, &fl); /* ENOLCK only: see dmacoh__linux_registry_leave */
}

/* No mirror slot was free over [lo, hi] for a shared claim: 1 when dmacoh processes hold
 * part of it in every slot (*holder set: NSLOTS processes share it already), 0 when a lock
 * no dmacoh process takes fills some slot (*foreign its pid), -1 when a slot came free, or
 * -errno. Lock held. */
static int no_slot(uint64_t lo, uint64_t hi, struct dmacoh__registry_entry *holder, long *foreign)
{
    struct flock fl;
    unsigned used;
    int r;

    for (int s = 0; s < NSLOTS; s++) {
        r = writer_over(slot_base(s) + lo, slot_base(s) + hi, &fl);
        if (r < 0)
            return r;
        if (r == 1 && fl.l_pid >= 0)
            continue; /* a holder's mirror */
        if (r == 0) {
            fill_lock(&fl, F_WRLCK, slot_base(s) + lo, slot_base(s) + hi);
            if (fcntl(reg_fd, F_GETLK, &fl) != 0)
                return -errno;
            if (fl.l_type != F_RDLCK)
                return -1; /* gone, or a writer came: asked again */
        }
        *foreign = (long)fl.l_pid;
        return 0;
    }
    r = sharers(lo, hi, holder, &used);
    return r < 0 ? r : r > 0 ? 1 : -1;
}

/* One attempt at entering [lo, hi]: 2 entered (*mark set), 1 held (*holder), 0 a foreign
 * lock (*foreign), -1 refused by a holder that let go since (try again), -2 nothing to do
 * (read-only: checked, not entered), or -errno (*locking when a lock, rather than a query,
 * failed). Lock held. */
static int try_enter(uint64_t lo, uint64_t hi, bool shared, struct dmacoh__registry_mark *mark,
                     struct dmacoh__registry_entry *holder, long *foreign, bool *locking)
{
    struct flock fl;
    int s = -1, q, err;

    *locking = false;
    if (reg_rdonly) {
        q = refused_by(lo, hi, shared, holder, foreign);
        return q == -1 ? -2 : q;
    }
    if (shared) {
        s = take_slot(lo, hi);
        if (s < -1) {
            *locking = true;
            return s;
        }
        if (s == -1)
            return no_slot(lo, hi, holder, foreign);
    }
    fill_lock(&fl, shared ? F_RDLCK : F_WRLCK, lo, hi);
    if (fcntl(reg_fd, F_SETLK, &fl) == 0) {
        mark->gen = reg_gen;
        mark->slot = s;
        return 2;
    }
    err = errno;
    if (s >= 0)
        drop_slot(lo, hi, s);
    if (err != EAGAIN && err != EACCES) {
        *locking = true; /* ENOLCK, ...: checked within the process only, with a warning */
        return -err;
    }
    return refused_by(lo, hi, shared, holder, foreign);
}

int dmacoh__linux_registry_enter(uint64_t lo, uint64_t hi, bool shared,
                                 struct dmacoh__registry_mark *mark,
                                 struct dmacoh__registry_entry *holder)
{
    struct why why = {FINE, 0, ""};
    int r = 0, tries, q = -1;
    bool locking = false;
    long foreign = 0;

    mark->gen = 0;
    mark->slot = -1;
    if (hi > RANGE_LAST || (shared && hi > SLOT_LAST)) {
        dmacoh__warn("physical %#llx-%#llx reaches past 2^%d - 1, the last address the "
                     "machine-wide registry keeps %s (the offsets above hold the mirrors of "
                     "shared ranges): it is checked within this process only",
                     (unsigned long long)lo, (unsigned long long)hi, hi > RANGE_LAST ? 62 : 56,
                     hi > RANGE_LAST ? "ranges at" : "shared ranges at");
        return 0;
    }
    pthread_mutex_lock(&reg_lock);
    if (reg_open(&why) != 0)
        goto out;
    /* A holder can let go between the refused lock and the query: try again then. */
    for (tries = 0; tries < 8; tries++) {
        q = try_enter(lo, hi, shared, mark, holder, &foreign, &locking);
        if (q != -1)
            break;
    }
    if (q == 2) {
        nheld++;
    } else if (q == 1) {
        r = DMACOH_EBUSY;
    } else if (q == 0) {
        set_why(&why, FOREIGN, (int)foreign, reg_path);
    } else if (locking) {
        set_why(&why, NO_LOCK, -q, reg_path);
    } else if (q < -2 || q == -1) {
        /* The lock was refused and the holder could not be asked (or was gone each time it
         * was): a range known to be held is not accepted on a guess. */
        holder->bus = lo;
        holder->size = hi - lo + 1;
        holder->pid = 0;
        holder->shared = false;
        holder->holders = 1;
        snprintf(holder->comm, sizeof(holder->comm), "?");
        r = DMACOH_EBUSY;
    }
    reg_idle();
out:
    pthread_mutex_unlock(&reg_lock);
    warn_once(&why);
    return r;
}

void dmacoh__linux_registry_leave(uint64_t lo, uint64_t hi,
                                  const struct dmacoh__registry_mark *mark)
{
    struct why why = {FINE, 0, ""};
    struct flock fl;

    pthread_mutex_lock(&reg_lock);
    /* An entry of an older generation went with its descriptor: nothing to unlock, and the
     * number may be another file's now (still_ours checks that it is not). */
    if (reg_fd >= 0 && nheld > 0 && mark->gen == reg_gen && still_ours(&why)) {
        fill_lock(&fl, F_UNLCK, lo, hi);
        /* Fails only when splitting a merged lock finds no kernel memory (ENOLCK): the
         * range then stays held until the process releases a neighbour or ends. */
        (void)fcntl(reg_fd, F_SETLK, &fl);
        if (mark->slot >= 0) /* after the read lock: never a read lock without its mirror */
            drop_slot(lo, hi, mark->slot);
        nheld--;
        reg_idle();
    }
    pthread_mutex_unlock(&reg_lock);
    warn_once(&why);
}

/* fork: the caller (common.c) takes reg_lock in the parent before fork and releases it in
 * both after; the child holds no lock of the parent's, so what it inherited is a new
 * generation and its descriptor copy is closed (it holds no lock through it). */
void dmacoh__linux_registry_prefork(void)
{
    pthread_mutex_lock(&reg_lock);
}

void dmacoh__linux_registry_postfork(bool child)
{
    if (child) {
        if (reg_fd >= 0) {
            close(reg_fd);
            forked = nheld > 0;
        }
        reg_fd = -1;
        nheld = 0;
        reg_gen++;
    }
    pthread_mutex_unlock(&reg_lock);
}

/* Appends every write lock over offsets [base, last] to the array, as entries numbered
 * from base (mirror slots: only dmacoh's holders, not open-file-description locks). Lock
 * held. */
static int collect_from(uint64_t base, uint64_t last, struct dmacoh__registry_entry **e, size_t *n,
                        size_t *cap)
{
    struct dmacoh__registry_entry *grown;
    uint64_t at = base;
    struct flock fl;
    int r;

    memset(&fl, 0, sizeof(fl));
    while ((r = lowest_writer(F_OFD_GETLK, at, last, &fl)) == 1) {
        if (base == 0 || fl.l_pid >= 0) {
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 16;
                grown = (struct dmacoh__registry_entry *)realloc(*e, *cap * sizeof(**e));
                if (!grown)
                    return DMACOH_ENOMEM;
                *e = grown;
            }
            to_entry(&fl, base, last, &(*e)[(*n)++]);
        }
        if (lock_end(&fl) >= last)
            return 0;
        at = lock_end(&fl) + 1;
    }
    return r;
}

/* By first byte, then pid: a shared range's holders come together. */
static int by_bus(const void *a, const void *b)
{
    const struct dmacoh__registry_entry *x = (const struct dmacoh__registry_entry *)a;
    const struct dmacoh__registry_entry *y = (const struct dmacoh__registry_entry *)b;

    if (x->bus != y->bus)
        return x->bus < y->bus ? -1 : 1;
    return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Collects every held range, the ranges' write locks and the mirrors' holders, into a
 * growing array, sorted. Lock held. */
static int collect(struct dmacoh__registry_entry **out, size_t *n)
{
    size_t cap = 0;
    int r;

    *out = NULL;
    *n = 0;
    r = collect_from(0, RANGE_LAST, out, n, &cap);
    for (int s = 0; r == 0 && s < NSLOTS; s++)
        r = collect_from(slot_base(s), slot_base(s) + SLOT_LAST, out, n, &cap);
    if (r == 0 && *n > 1)
        qsort(*out, *n, sizeof(**out), by_bus);
    return r;
}

int dmacoh__linux_registry_walk(int (*fn)(void *ctx, const struct dmacoh__registry_entry *e),
                                void *ctx)
{
    struct dmacoh__registry_entry *e = NULL;
    struct why why = {FINE, 0, ""};
    size_t n = 0;
    int r;

    pthread_mutex_lock(&reg_lock);
    if (reg_fd >= 0) { /* this process holds ranges: its own descriptor, never closed here */
        r = reg_open(&why) ? DMACOH_ENOENT : collect(&e, &n);
        reg_idle();
    } else {
        /* Holding nothing: a descriptor of its own, read-only, so that a walk (dmacoh status
         * as root) creates no file and no folder; closing it loses nothing. */
        const char *path = registry_path();
        struct stat st;
        int fd = path ? open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) : -1;

        r = DMACOH_ENOENT;
        if (path && fd < 0)
            set_why(&why, NO_OPEN, errno, path);
        else if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)))
            set_why(&why, NOT_FILE, 0, path);
        else if (fd >= 0) {
            reg_fd = fd;
            r = collect(&e, &n);
            reg_fd = -1;
        }
        if (fd >= 0)
            close(fd);
    }
    pthread_mutex_unlock(&reg_lock);
    if (r == DMACOH_ENOENT && why.what == NO_OPEN && why.err == ENOENT)
        return 0; /* no file: no process has entered a range since boot */
    if (r == DMACOH_ENOENT && why.what == FINE)
        dmacoh__err("registry walk: the machine-wide registry is off (DMACOH_REGISTRY=none)");
    else if (r == DMACOH_ENOENT)
        dmacoh__err("registry walk: the machine-wide registry %s cannot be read (%s)", why.path,
                    why.err ? strerror(why.err) : "not a regular file");
    else if (r < 0)
        dmacoh__err("registry walk: querying the locks failed (%s)", dmacoh_strerror(r));
    for (size_t i = 0; r == 0 && i < n; i++)
        r = fn(ctx, &e[i]);
    free(e);
    return r;
}

struct public_walk {
    int (*fn)(void *user, const struct dmacoh_registry_entry *e);
    void *user;
};

static int to_public(void *ctx, const struct dmacoh__registry_entry *e)
{
    const struct public_walk *w = (const struct public_walk *)ctx;
    struct dmacoh_registry_entry pe;

    memset(&pe, 0, sizeof(pe));
    pe.bus = e->bus;
    pe.size = e->size;
    pe.pid = e->pid > 0 ? (uint64_t)e->pid : 0;
    snprintf(pe.comm, sizeof(pe.comm), "%s", e->comm);
    pe.shared = e->shared;
    return w->fn(w->user, &pe);
}

int dmacoh_registry_walk(int (*fn)(void *user, const struct dmacoh_registry_entry *e), void *user)
{
    struct public_walk w = {fn, user};

    if (!fn) {
        dmacoh__err("registry walk: fn is NULL");
        return DMACOH_EINVAL;
    }
    return dmacoh__linux_registry_walk(to_public, &w);
}

const char *dmacoh_registry_path(void)
{
    return registry_path();
}

void dmacoh__linux_close_received(int fd)
{
    struct stat st;
    bool registry;

    if (fd < 0)
        return;
    pthread_mutex_lock(&reg_lock);
    registry = reg_fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == reg_dev && st.st_ino == reg_ino;
    pthread_mutex_unlock(&reg_lock);
    if (!registry) {
        (void)close(fd);
        return;
    }
    dmacoh__warn("registry: a peer sent a descriptor of the registry file %s itself; it is "
                 "kept open (descriptor %d), since closing it would drop every entry this "
                 "process holds there",
                 reg_path, fd);
}
