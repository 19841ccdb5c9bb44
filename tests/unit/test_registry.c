/* SPDX-License-Identifier: MIT */
/*
 * test_registry.c - one authority over device memory on the machine.
 *
 * Over a fake PCI sysfs tree and a registry file in a temporary folder, with real processes:
 * a range another process has declared is refused with -EBUSY and a log line naming its pid,
 * command and range; once that process is killed with SIGKILL (no clean-up of any kind) the
 * range can be declared; disjoint ranges in two processes are fine; a release in one process
 * lets the other declare; overlap inside one process is still refused by the process-wide
 * register; the walk lists every held range with its holder, this process's own included.
 * Then where the registry cannot be had: off, unopenable (one warning, declarations go on),
 * read-only to the process (refused what others hold, its own not entered), and ranges past
 * the last lockable offset. Then shared claims (a shared region's map): several processes
 * share a range while exclusive claims over it are refused naming the sharers, and a shared
 * claim over an exclusive range is refused; killed sharers free it; a foreign reader (a plain
 * fcntl read lock of a process that claims nothing) blocks nothing and hides no holder; the
 * walk lists every sharer; the mirror slots; and the same through the PCI platform's map.
 */
#include "fixture.h"
#include "t.h"

#include <dmacoh/dmacoh.h>
#include <dmacoh/pci.h>

#include "platform/linux/internal.h" /* dmacoh__linux_registry_walk */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BDF     "0000:03:00.0"
#define BAR2    0x800000000ull /* 4 MiB prefetchable memory BAR */
#define BAR2_SZ 0x400000ull
#define MIB     0x100000ull
#define MODES   (DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO)

static char root[64], sysfs[128], regpath[128];

static void make_tree(void)
{
    char dir[PATH_MAX], cmd[PATH_MAX + 16];

    snprintf(root, sizeof(root), "/tmp/dmacoh-registry-XXXXXX");
    T_ASSERT(mkdtemp(root) != NULL);
    snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
    snprintf(dir, sizeof(dir), "%s/bus/pci/devices/" BDF, sysfs);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
    T_EQ_INT(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/resource", dir);
    t_put_file(cmd, "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                    "0x0000000800000000 0x00000008003fffff 0x000000000014220c\n"
                    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
    snprintf(cmd, sizeof(cmd), "%s/resource2", dir);
    t_sparse_file(cmd, BAR2_SZ);
    snprintf(regpath, sizeof(regpath), "%s/run/registry", root);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/run'", root);
    T_EQ_INT(system(cmd), 0);
    T_EQ_INT(setenv("DMACOH_REGISTRY", regpath, 1), 0);
}

static void remove_tree(void)
{
    char cmd[128];

    T_EQ_INT(setenv("DMACOH_REGISTRY", "none", 1), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    T_EQ_INT(system(cmd), 0);
}

/* One PCI platform instance and a device on it. */
struct card {
    struct dmacoh_pci *pci;
    struct dmacoh_device dev;
};

static int card_open(struct card *c, const char *name)
{
    struct dmacoh_pci_opts o = {sysfs, false};
    int r = dmacoh_pci_open(BDF, &o, &c->pci);

    return r ? r : dmacoh_device_init(&c->dev, name, NULL, dmacoh_pci_platform(c->pci));
}

static void card_close(struct card *c)
{
    T_OK(dmacoh_device_fini(&c->dev));
    T_OK(dmacoh_pci_close(c->pci));
}

static int declare(struct card *c, uint64_t bus, uint64_t size)
{
    return dmacoh_declare_coherent_memory(&c->dev, bus, bus - BAR2, size, MODES, NULL, NULL);
}

/* A shared claim of [bus, +size), as a shared region's map makes it. */
static int claim_shared(const void *owner, uint64_t bus, uint64_t size)
{
    struct dmacoh__phys_claim cl = {
        bus, size, owner, "test", "shared claim", DMACOH_MEMORY_MAP | DMACOH_MAP_MULTIPROCESS};

    return dmacoh__linux_phys_claim(&cl);
}

/* Through the PCI platform's own map op, as the core maps a shared region. */
static int map_shared(struct card *c, uint64_t bus, uint64_t size, struct dmacoh_mapping *m)
{
    struct dmacoh_platform *p = dmacoh_pci_platform(c->pci);

    memset(m, 0, sizeof(*m));
    /* MAP or IO: where device memory is granted IO only (arm), MAP alone is refused. */
    return p->ops->map(p->ctx, bus, size, bus - BAR2, 0x1000,
                       DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO | DMACOH_MAP_MULTIPROCESS, m);
}

static void unmap_shared(struct card *c, uint64_t size, struct dmacoh_mapping *m)
{
    struct dmacoh_platform *p = dmacoh_pci_platform(c->pci);

    p->ops->unmap(p->ctx, m, size);
}

/*
 * Another process, named "holder" (its /proc/<pid>/comm), that takes [bus, +size) through
 * its own PCI instance - 'x' declared (exclusive), 's' claimed shared, 'm' mapped shared by
 * the platform's map op - then obeys one-byte commands: 'r' release, 'd' take again; each
 * result (the first one's too) comes back as an int. It never returns to the runner.
 */
struct holder {
    pid_t pid;
    int cmd, res; /* the parent's ends of the two pipes */
};

static int holder_take(struct card *c, struct dmacoh_mapping *m, char how, uint64_t bus,
                       uint64_t size)
{
    if (how == 's')
        return claim_shared(c, bus, size);
    if (how == 'm')
        return map_shared(c, bus, size, m);
    return declare(c, bus, size);
}

static int holder_give(struct card *c, struct dmacoh_mapping *m, char how, uint64_t bus,
                       uint64_t size)
{
    if (how == 's')
        dmacoh__linux_phys_release(bus, size);
    else if (how == 'm')
        unmap_shared(c, size, m);
    else
        return dmacoh_release_coherent_memory(&c->dev, 0);
    return 0;
}

static void holder_main(int cmd, int res, char how, uint64_t bus, uint64_t size)
{
    struct dmacoh_mapping m;
    struct card c;
    char op;
    int r;

    (void)prctl(PR_SET_NAME, "holder", 0, 0, 0);
    r = card_open(&c, "held");
    if (r == 0)
        r = holder_take(&c, &m, how, bus, size);
    if (write(res, &r, sizeof(r)) != (ssize_t)sizeof(r))
        _exit(2);
    while (read(cmd, &op, 1) == 1) {
        r = op == 'r' ? holder_give(&c, &m, how, bus, size) : holder_take(&c, &m, how, bus, size);
        if (write(res, &r, sizeof(r)) != (ssize_t)sizeof(r))
            _exit(2);
    }
    _exit(0);
}

static int holder_result(const struct holder *h)
{
    int r = 1;

    T_EQ_INT((int)read(h->res, &r, sizeof(r)), (int)sizeof(r));
    return r;
}

/* Starts a holder taking its range as `how` says; returns the result. */
static int holder_start_as(struct holder *h, char how, uint64_t bus, uint64_t size)
{
    int cmd[2], res[2];

    T_EQ_INT(pipe(cmd), 0);
    T_EQ_INT(pipe(res), 0);
    h->pid = fork();
    T_ASSERT(h->pid >= 0);
    if (h->pid == 0) {
        close(cmd[1]);
        close(res[0]);
        holder_main(cmd[0], res[1], how, bus, size);
    }
    close(cmd[0]);
    close(res[1]);
    h->cmd = cmd[1];
    h->res = res[0];
    return holder_result(h);
}

/* Starts a holder that declares its range (exclusive). */
static int holder_start(struct holder *h, uint64_t bus, uint64_t size)
{
    return holder_start_as(h, 'x', bus, size);
}

static int holder_do(const struct holder *h, char op)
{
    T_EQ_INT((int)write(h->cmd, &op, 1), 1);
    return holder_result(h);
}

/* SIGKILL: the holder gets no chance to release anything. */
static void holder_kill(struct holder *h)
{
    int st;

    T_EQ_INT(kill(h->pid, SIGKILL), 0);
    T_EQ_INT((int)waitpid(h->pid, &st, 0), (int)h->pid);
    T_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    close(h->cmd);
    close(h->res);
}

/* Closes its command pipe; it exits normally. */
static void holder_stop(struct holder *h)
{
    int st;

    close(h->cmd);
    T_EQ_INT((int)waitpid(h->pid, &st, 0), (int)h->pid);
    T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(h->res);
}

/* The second process is refused naming the first (pid, command, range); after the first is
 * killed, the second declares. */
static void other_process_refused_until_killed(void)
{
    struct holder h;
    struct card c;
    char text[96];

    make_tree();
    T_OK(holder_start(&h, BAR2, MIB));
    T_OK(card_open(&c, "second"));
    t_log_reset();
    T_ERR(declare(&c, BAR2, MIB), DMACOH_EBUSY);
    snprintf(text, sizeof(text), "by process %ld (holder)", (long)h.pid);
    T_ASSERT(t_log_find(text));
    T_ASSERT(t_log_find("holds 0x800000000+0x100000 in the machine-wide registry"));
    T_ASSERT(t_log_find("pci " BDF " BAR 2")); /* the refused claimant */
    T_ASSERT(!dmacoh_device_has_region(&c.dev));
    /* A partial overlap, one page at the holder's end, is refused too. */
    T_ERR(declare(&c, BAR2 + MIB - 0x1000, 0x2000), DMACOH_EBUSY);
    holder_kill(&h);
    T_OK(declare(&c, BAR2, MIB)); /* the kernel dropped the dead holder's lock */
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    card_close(&c);
    remove_tree();
}

/* Disjoint ranges in two processes are both declared, down to neighbouring pages. */
static void disjoint_ranges_in_two_processes(void)
{
    struct holder h;
    struct card c;

    make_tree();
    T_OK(holder_start(&h, BAR2, MIB));
    T_OK(card_open(&c, "second"));
    T_OK(declare(&c, BAR2 + MIB, MIB));
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    T_OK(declare(&c, BAR2 + 2 * MIB, 0x1000));
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    T_ERR(declare(&c, BAR2 + MIB - 0x1000, 0x1000), DMACOH_EBUSY); /* its last page */
    holder_stop(&h);
    card_close(&c);
    remove_tree();
}

/* A release in one process lets the other declare, and then the first is refused in turn,
 * naming this process. */
static void release_hands_over(void)
{
    struct holder h;
    struct card c;

    make_tree();
    T_OK(holder_start(&h, BAR2, 2 * MIB));
    T_OK(card_open(&c, "second"));
    T_ERR(declare(&c, BAR2 + MIB, MIB), DMACOH_EBUSY);
    T_OK(holder_do(&h, 'r'));
    T_OK(declare(&c, BAR2 + MIB, MIB));
    T_ERR(holder_do(&h, 'd'), DMACOH_EBUSY);
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    T_OK(holder_do(&h, 'd'));
    holder_stop(&h);
    T_OK(declare(&c, BAR2, MIB)); /* the holder exited: its locks went with it */
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    card_close(&c);
    remove_tree();
}

/* Inside one process the process-wide register still decides (the registry's locks of one
 * process never conflict with each other). */
static void overlap_inside_one_process(void)
{
    struct card a, b;

    make_tree();
    T_OK(card_open(&a, "a"));
    T_OK(card_open(&b, "b"));
    T_OK(declare(&a, BAR2, MIB));
    t_log_reset();
    T_ERR(declare(&b, BAR2, MIB), DMACOH_EBUSY);
    T_ASSERT(t_log_find("another platform instance"));
    T_OK(declare(&b, BAR2 + MIB, MIB)); /* adjacent: one merged lock in the kernel */
    T_OK(dmacoh_release_coherent_memory(&a.dev, 0));
    T_OK(declare(&a, BAR2, MIB)); /* released the first half only */
    T_ERR(declare(&b, BAR2 + MIB, MIB), DMACOH_EBUSY);
    T_OK(dmacoh_release_coherent_memory(&a.dev, 0));
    T_OK(dmacoh_release_coherent_memory(&b.dev, 0));
    card_close(&b);
    card_close(&a);
    remove_tree();
}

/* ---- the walk ---- */

#define MAX_SEEN 8

struct seen {
    unsigned n;
    struct dmacoh__registry_entry e[MAX_SEEN];
};

static int note(void *ctx, const struct dmacoh__registry_entry *e)
{
    struct seen *s = (struct seen *)ctx;

    if (s->n < MAX_SEEN)
        s->e[s->n] = *e;
    s->n++;
    return 0;
}

static struct seen walk(void)
{
    struct seen s;

    memset(&s, 0, sizeof(s));
    T_OK(dmacoh__linux_registry_walk(note, &s));
    return s;
}

static void expect(const struct dmacoh__registry_entry *e, uint64_t bus, uint64_t size, long pid,
                   const char *comm)
{
    T_EQ_U64(e->bus, bus);
    T_EQ_U64(e->size, size);
    T_EQ_INT((int)e->pid, (int)pid);
    T_ASSERT(strcmp(e->comm, comm) == 0);
}

static int stop_at_first(void *ctx, const struct dmacoh__registry_entry *e)
{
    (void)e;
    ++*(unsigned *)ctx;
    return 7;
}

/* The walk lists every held range, in order, with its holder: another process's and this
 * one's; a dead holder's range is gone from it; fn's non-zero return stops it. */
static void walk_lists_what_is_held(void)
{
    char self[17] = {0};
    struct holder h;
    struct card c;
    struct seen s;
    unsigned calls = 0;

    make_tree();
    T_EQ_INT(prctl(PR_GET_NAME, self, 0, 0, 0), 0);
    s = walk();
    T_EQ_INT((int)s.n, 0);
    T_OK(holder_start(&h, BAR2 + 2 * MIB, MIB));
    T_OK(card_open(&c, "mine"));
    T_OK(declare(&c, BAR2, 0x2000));
    s = walk();
    T_EQ_INT((int)s.n, 2);
    expect(&s.e[0], BAR2, 0x2000, (long)getpid(), self);
    expect(&s.e[1], BAR2 + 2 * MIB, MIB, (long)h.pid, "holder");
    T_EQ_INT(dmacoh__linux_registry_walk(stop_at_first, &calls), 7);
    T_EQ_INT((int)calls, 1);
    holder_kill(&h);
    s = walk();
    T_EQ_INT((int)s.n, 1);
    expect(&s.e[0], BAR2, 0x2000, (long)getpid(), self);
    /* Walking did not drop this process's locks (it used the library's own descriptor). */
    T_ERR(holder_start(&h, BAR2, 0x1000), DMACOH_EBUSY);
    holder_stop(&h);
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    s = walk();
    T_EQ_INT((int)s.n, 0);
    card_close(&c);
    remove_tree();
}

/* ---- where the registry cannot be had ---- */

/* Created when missing, 0644 whatever the umask, and left empty: locks need no data. */
static void created_empty_and_readable(void)
{
    struct card c;
    struct stat st;
    mode_t old = umask(077);

    make_tree();
    T_OK(card_open(&c, "c"));
    T_OK(declare(&c, BAR2, MIB));
    umask(old);
    T_EQ_INT(stat(regpath, &st), 0);
    T_EQ_INT((int)(st.st_mode & 0777), 0644);
    T_EQ_U64((uint64_t)st.st_size, 0);
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    card_close(&c);
    remove_tree();
}

/* A registry that cannot be opened (a missing folder, a FIFO, a symbolic link): one warning
 * each, and declarations are checked within the process only; "none" turns it off without a word; the walk says it has nothing to read. */
static void unavailable_or_off(void)
{
    struct card c;
    char path[PATH_MAX];

    make_tree();
    snprintf(path, sizeof(path), "%s/no-such-folder/registry", root);
    T_EQ_INT(setenv("DMACOH_REGISTRY", path, 1), 0);
    T_OK(card_open(&c, "c"));
    t_log_reset();
    T_OK(declare(&c, BAR2, MIB));
    T_ASSERT(t_log_find("cannot be opened"));
    T_ASSERT(t_log_find("within this process only"));
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    t_log_reset();
    T_OK(declare(&c, BAR2, MIB));
    T_ASSERT(!t_log_find("registry")); /* warned once */
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    /* A FIFO, and a symbolic link to a good registry, are not taken for the registry. */
    snprintf(path, sizeof(path), "%s/fifo", root);
    T_EQ_INT(mkfifo(path, 0644), 0);
    T_EQ_INT(setenv("DMACOH_REGISTRY", path, 1), 0);
    t_log_reset();
    T_OK(declare(&c, BAR2, MIB));
    T_ASSERT(t_log_find("is not a regular file"));
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    snprintf(path, sizeof(path), "%s/link", root);
    T_EQ_INT(symlink(regpath, path), 0);
    T_EQ_INT(setenv("DMACOH_REGISTRY", path, 1), 0);
    t_log_reset();
    T_OK(declare(&c, BAR2, MIB));
    T_ASSERT(t_log_find("cannot be opened"));
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    T_EQ_INT(setenv("DMACOH_REGISTRY", "none", 1), 0);
    t_log_reset();
    T_OK(declare(&c, BAR2, MIB));
    T_ASSERT(!t_log_find("registry"));
    T_ERR(dmacoh__linux_registry_walk(note, NULL), DMACOH_ENOENT);
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    card_close(&c);
    remove_tree();
}

/* What a process that may only read the registry does, in a child: as root it becomes
 * nobody first (root may write any file). Exit codes say which check failed. */
static int read_only_child(pid_t holder)
{
    struct dmacoh__registry_entry other;
    struct dmacoh__registry_mark mark = {1, 0};

    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        return 10;
    t_log_reset();
    if (dmacoh__linux_registry_enter(BAR2 + 0x1000, BAR2 + 0x1fff, false, &mark, &other) !=
        DMACOH_EBUSY)
        return 11; /* what another process holds is still refused */
    if (other.pid != (long)holder || other.bus != BAR2 || other.size != MIB || other.shared)
        return 12;
    if (dmacoh__linux_registry_enter(BAR2 + MIB, BAR2 + 2 * MIB - 1, false, &mark, &other) != 0 ||
        mark.gen)
        return 13; /* its own range goes through but is not entered */
    if (!t_log_find("is read-only to this process"))
        return 14;
    /* Shared: refused by the exclusive holder all the same; its own not entered either. */
    if (dmacoh__linux_registry_enter(BAR2, BAR2 + 0xfff, true, &mark, &other) != DMACOH_EBUSY ||
        other.pid != (long)holder)
        return 15;
    if (dmacoh__linux_registry_enter(BAR2 + MIB, BAR2 + 2 * MIB - 1, true, &mark, &other) != 0 ||
        mark.gen)
        return 16;
    return 0;
}

/* A registry a process can open read-only: it is refused what others hold, and its own
 * declarations go on without being entered, with a warning. The holder is another process:
 * a child of a holder inherits its descriptor (read-write) along with its regions. */
static void read_only_registry(void)
{
    struct holder h;
    pid_t pid;
    int st;

    make_tree();
    T_EQ_INT(chmod(root, 0755), 0);    /* nobody must reach the registry's folder */
    T_OK(holder_start(&h, BAR2, MIB)); /* creates the registry, 0644 */
    if (geteuid() != 0)
        T_EQ_INT(chmod(regpath, 0444), 0);
    fflush(stdout);
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0)
        _exit(read_only_child(h.pid));
    T_EQ_INT((int)waitpid(pid, &st, 0), (int)pid);
    T_ASSERT(WIFEXITED(st));
    T_EQ_INT(WEXITSTATUS(st), 0);
    holder_stop(&h);
    remove_tree();
}

/* A range past 2^62 - 1 (the offsets above hold the mirrors of shared ranges) stays out of
 * the registry with a warning, and so does a shared range past 2^56 - 1 (a mirror slot's
 * size); ranges ending exactly there are entered. */
static void past_the_last_lockable_offset(void)
{
    struct dmacoh__registry_entry other;
    struct dmacoh__registry_mark mark = {1, 0}, smark = {1, 0};
    const uint64_t last = 0x3fffffffffffffffull, slast = 0xffffffffffffffull;
    struct seen s;

    make_tree();
    t_log_reset();
    T_OK(dmacoh__linux_registry_enter(last - 0xfff, last + 0x1000, false, &mark, &other));
    T_ASSERT(!mark.gen);
    T_ASSERT(t_log_find("past 2^62 - 1"));
    T_OK(dmacoh__linux_registry_enter(0x7ffffffffffff000ull, 0x7fffffffffffffffull, false, &mark,
                                      &other));
    T_ASSERT(!mark.gen);
    t_log_reset();
    T_OK(dmacoh__linux_registry_enter(slast - 0xfff, slast + 0x1000, true, &smark, &other));
    T_ASSERT(!smark.gen);
    T_ASSERT(t_log_find("past 2^56 - 1"));
    T_OK(dmacoh__linux_registry_enter(last - 0xfff, last, false, &mark, &other));
    T_ASSERT(mark.gen);
    T_EQ_INT(mark.slot, -1);
    T_OK(dmacoh__linux_registry_enter(slast - 0xfff, slast, true, &smark, &other));
    T_ASSERT(smark.gen);
    T_EQ_INT(smark.slot, 0);
    s = walk();
    T_EQ_INT((int)s.n, 2);
    T_EQ_U64(s.e[0].bus, slast - 0xfff);
    T_EQ_U64(s.e[0].size, 0x1000);
    T_ASSERT(s.e[0].shared);
    T_EQ_U64(s.e[1].bus, last - 0xfff);
    T_EQ_U64(s.e[1].size, 0x1000);
    T_ASSERT(!s.e[1].shared);
    dmacoh__linux_registry_leave(last - 0xfff, last, &mark);
    dmacoh__linux_registry_leave(slast - 0xfff, slast, &smark);
    s = walk();
    T_EQ_INT((int)s.n, 0);
    remove_tree();
}

/* A lock no dmacoh process takes (a reader's F_RDLCK, here through an open-file-description
 * lock of another process, which hides its pid) cannot keep a declaration out: it goes
 * through, not entered, with a warning naming the foreign lock. */
static void foreign_read_locks_refuse_nothing(void)
{
    int go[2], done[2], fd;
    struct card c;
    pid_t pid;
    char ok;

    make_tree();
    T_OK(card_open(&c, "card")); /* creates nothing yet: the file comes with the first claim */
    fd = open(regpath, O_RDWR | O_CREAT, 0644);
    T_ASSERT(fd >= 0);
    close(fd);
    T_EQ_INT(pipe(go), 0);
    T_EQ_INT(pipe(done), 0);
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) { /* the hostile reader: a read lock over the whole file, then waits */
        struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
        int rfd = open(regpath, O_RDONLY);

        close(go[1]);
        close(done[0]);
        if (rfd < 0 || fcntl(rfd, F_OFD_SETLK, &fl) != 0 || write(done[1], "y", 1) != 1)
            _exit(1);
        (void)read(go[0], &ok, 1);
        _exit(0);
    }
    close(go[0]);
    close(done[1]);
    T_EQ_INT((int)read(done[0], &ok, 1), 1);
    t_log_reset();
    T_OK(declare(&c, BAR2, MIB));
    T_ASSERT(t_log_find("a lock that no dmacoh process takes"));
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    close(go[1]);
    T_EQ_INT((int)waitpid(pid, NULL, 0), (int)pid);
    close(done[0]);
    card_close(&c);
    remove_tree();
}

/* ---- shared claims ---- */

#define SLOT(s, a) (0x4000000000000000ull + ((uint64_t)(s) << 56) + (a)) /* a mirror's offset */

/* Another process that is no dmacoh holder: it opens the registry itself (read-only unless
 * `rw`) and takes the given plain POSIX locks (or OFD ones), then waits until stopped. */
struct locker {
    pid_t pid;
    int go; /* closing it lets the process end */
};

static void locker_start(struct locker *k, const struct flock *fl, int n, bool rw, bool ofd)
{
    int go[2], done[2];
    char ok;

    T_EQ_INT(pipe(go), 0);
    T_EQ_INT(pipe(done), 0);
    k->pid = fork();
    T_ASSERT(k->pid >= 0);
    if (k->pid == 0) {
        int fd = open(regpath, (rw ? O_RDWR : O_RDONLY) | O_CREAT, 0644);

        (void)prctl(PR_SET_NAME, "locker", 0, 0, 0);
        close(go[1]);
        close(done[0]);
        for (int i = 0; i < n; i++) {
            struct flock f = fl[i];

            if (fd < 0 || fcntl(fd, ofd ? F_OFD_SETLK : F_SETLK, &f) != 0)
                _exit(1);
        }
        if (write(done[1], "y", 1) != 1)
            _exit(1);
        (void)read(go[0], &ok, 1);
        _exit(0);
    }
    close(go[0]);
    close(done[1]);
    T_EQ_INT((int)read(done[0], &ok, 1), 1);
    close(done[0]);
    k->go = go[1];
}

static void locker_stop(struct locker *k)
{
    int st;

    close(k->go);
    T_EQ_INT((int)waitpid(k->pid, &st, 0), (int)k->pid);
    T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static struct flock lock_of(short type, uint64_t off, uint64_t len)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)off;
    fl.l_len = (off_t)len;
    return fl;
}

/* Whether a log line names process pid as "holder". */
static bool log_names(pid_t pid)
{
    char text[64];

    snprintf(text, sizeof(text), "process %ld (holder)", (long)pid);
    return t_log_find(text);
}

/* Two processes claim the same range shared: both succeed (and this one a third time); an
 * exclusive declaration overlapping it is refused naming a sharer and how many others there
 * are; it succeeds once every sharer was killed. */
static void shared_claims_coexist(void)
{
    struct holder h1, h2;
    struct card c;

    make_tree();
    T_OK(holder_start_as(&h1, 's', BAR2, MIB));
    T_OK(holder_start_as(&h2, 's', BAR2, MIB));
    T_OK(card_open(&c, "third"));
    T_OK(claim_shared(&c, BAR2 + 0x1000, 0x1000)); /* a third sharer, inside the range */
    dmacoh__linux_phys_release(BAR2 + 0x1000, 0x1000);
    t_log_reset();
    T_ERR(declare(&c, BAR2 + MIB - 0x1000, 0x2000), DMACOH_EBUSY);
    T_ASSERT(t_log_find("is already declared as a shared region by process"));
    T_ASSERT(log_names(h1.pid) || log_names(h2.pid));
    T_ASSERT(t_log_find("and 1 other process, sharing 0x800000000+0x100000"));
    holder_kill(&h1);
    t_log_reset();
    T_ERR(declare(&c, BAR2, MIB), DMACOH_EBUSY); /* the second sharer is still there */
    T_ASSERT(log_names(h2.pid));
    T_ASSERT(!t_log_find("other process"));
    holder_kill(&h2);
    T_OK(declare(&c, BAR2, MIB)); /* both killed: their locks and mirrors went with them */
    /* And now a shared claim is refused by this process's exclusive one (in this process:
     * the process-wide register), and by another process's (the registry). */
    T_ERR(claim_shared(&c, BAR2, MIB), DMACOH_EBUSY);
    T_ERR(holder_start_as(&h1, 's', BAR2 + MIB - 0x1000, 0x1000), DMACOH_EBUSY);
    holder_stop(&h1);
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    card_close(&c);
    remove_tree();
}

/* A shared claim over another process's exclusive range is refused naming it; once that
 * process is killed, the shared claim succeeds. */
static void shared_refused_by_exclusive(void)
{
    struct holder h;
    struct card c, keep;
    char text[96];

    make_tree();
    T_OK(holder_start(&h, BAR2 + MIB, MIB));
    T_OK(card_open(&c, "sharer"));
    T_OK(card_open(&keep, "keep")); /* an entry that keeps the descriptor open */
    T_OK(declare(&keep, BAR2 + 3 * MIB, 0x1000));
    t_log_reset();
    T_ERR(claim_shared(&c, BAR2, MIB + 0x1000), DMACOH_EBUSY);
    snprintf(text, sizeof(text),
             "(shared) is already declared by process %ld (holder), which "
             "holds 0x800100000+0x100000",
             (long)h.pid);
    T_ASSERT(t_log_find(text));
    T_EQ_INT((int)walk().n, 2);        /* the refused claim left no mirror behind */
    T_OK(claim_shared(&c, BAR2, MIB)); /* its neighbour is fine */
    dmacoh__linux_phys_release(BAR2, MIB);
    holder_kill(&h);
    T_OK(claim_shared(&c, BAR2, MIB + 0x1000));
    dmacoh__linux_phys_release(BAR2, MIB + 0x1000);
    T_OK(dmacoh_release_coherent_memory(&keep.dev, 0));
    card_close(&keep);
    card_close(&c);
    remove_tree();
}

/* A foreign reader (a plain fcntl read lock of a process that claims nothing, taken first so
 * that a query for a write lock would meet it first) blocks nothing and hides no holder:
 * shared claims under it are entered; an exclusive declaration over it alone goes through
 * (not entered, with a warning); over it and a shared or exclusive holder it is refused,
 * naming the holder. */
static void foreign_reader_hides_no_holder(void)
{
    struct flock rd = lock_of(F_RDLCK, BAR2, 2 * MIB);
    struct holder hs, hx;
    struct locker k;
    struct card c;
    struct seen s;

    make_tree();
    locker_start(&k, &rd, 1, false, false);
    T_OK(holder_start_as(&hs, 's', BAR2 + MIB, 0x1000)); /* under the reader: entered */
    T_OK(holder_start(&hx, BAR2 + 2 * MIB, MIB));        /* beside it */
    T_OK(card_open(&c, "claimant"));
    t_log_reset();
    T_ERR(declare(&c, BAR2, 2 * MIB), DMACOH_EBUSY); /* the reader, then the sharer */
    T_ASSERT(t_log_find("as a shared region by process"));
    T_ASSERT(log_names(hs.pid));
    t_log_reset();
    T_ERR(declare(&c, BAR2 + MIB, 2 * MIB), DMACOH_EBUSY); /* reader, sharer and exclusive */
    T_ASSERT(log_names(hs.pid) || log_names(hx.pid));
    t_log_reset();
    T_ERR(declare(&c, BAR2 + 0x1000, 2 * MIB), DMACOH_EBUSY); /* the reader and hx only */
    T_ASSERT(log_names(hx.pid));
    t_log_reset();
    T_OK(declare(&c, BAR2, MIB)); /* the reader alone refuses nothing */
    T_ASSERT(t_log_find("a lock that no dmacoh process takes"));
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    T_OK(claim_shared(&c, BAR2, MIB)); /* and a shared claim under it is entered */
    s = walk();
    T_EQ_INT((int)s.n, 3);
    T_EQ_U64(s.e[0].bus, BAR2);
    T_ASSERT(s.e[0].shared && s.e[0].pid == (long)getpid());
    T_ASSERT(s.e[1].shared && s.e[1].pid == (long)hs.pid);
    T_ASSERT(!s.e[2].shared && s.e[2].pid == (long)hx.pid);
    dmacoh__linux_phys_release(BAR2, MIB);
    holder_kill(&hs); /* killed: each child holds copies of the others' pipe ends */
    holder_kill(&hx);
    locker_stop(&k);
    card_close(&c);
    remove_tree();
}

/* The walk lists every holder of a shared range, each marked shared, beside exclusive
 * ones; a killed sharer leaves it. */
static void walk_lists_every_sharer(void)
{
    struct holder h1, h2, hx;
    struct card c;
    struct seen s;
    pid_t lo, hi;

    make_tree();
    T_OK(holder_start_as(&h1, 's', BAR2, MIB));
    T_OK(holder_start_as(&h2, 's', BAR2, MIB));
    T_OK(holder_start(&hx, BAR2 + 2 * MIB, MIB));
    T_OK(card_open(&c, "walker"));
    T_OK(claim_shared(&c, BAR2, MIB));
    s = walk();
    T_EQ_INT((int)s.n, 4);
    lo = h1.pid < h2.pid ? h1.pid : h2.pid;
    hi = h1.pid < h2.pid ? h2.pid : h1.pid;
    T_ASSERT(s.e[0].shared && s.e[1].shared && s.e[2].shared && !s.e[3].shared);
    T_EQ_U64(s.e[0].bus, BAR2);
    T_EQ_U64(s.e[0].size, MIB);
    T_EQ_U64(s.e[2].size, MIB);
    T_ASSERT(s.e[0].pid < s.e[1].pid && s.e[1].pid < s.e[2].pid); /* by pid */
    T_ASSERT((s.e[0].pid == (long)getpid() || s.e[0].pid == (long)lo) &&
             (s.e[2].pid == (long)getpid() || s.e[2].pid == (long)hi));
    for (unsigned i = 0; i < 3; i++)
        T_ASSERT(strcmp(s.e[i].comm, "holder") == 0 || s.e[i].pid == (long)getpid());
    expect(&s.e[3], BAR2 + 2 * MIB, MIB, (long)hx.pid, "holder");
    holder_kill(&h1);
    s = walk();
    T_EQ_INT((int)s.n, 3);
    for (unsigned i = 0; i < 3; i++)
        T_ASSERT(s.e[i].pid != (long)h1.pid);
    /* A release while the process holds another entry (the descriptor stays open): its
     * mirror goes with its read lock. */
    T_OK(declare(&c, BAR2 + 3 * MIB, 0x1000));
    dmacoh__linux_phys_release(BAR2, MIB);
    s = walk();
    T_EQ_INT((int)s.n, 3);
    T_ASSERT(s.e[0].shared && s.e[0].pid == (long)h2.pid);
    expect(&s.e[2], BAR2 + 3 * MIB, 0x1000, (long)getpid(), s.e[2].comm);
    T_ASSERT(!s.e[2].shared);
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    holder_kill(&h2);
    holder_kill(&hx);
    card_close(&c);
    remove_tree();
}

/* The mirror slots: a foreign reader over a slot only moves a sharer to the next one; when
 * every slot holds part of the range, a shared claim is refused, saying so; a reader over
 * every slot (the whole file) refuses nothing. */
static void mirror_slots(void)
{
    struct flock fl[65];
    struct locker k;
    struct card c;
    struct seen s;
    pid_t pid;
    int st;

    make_tree();
    T_OK(card_open(&c, "sharer"));
    fl[0] = lock_of(F_RDLCK, SLOT(0, BAR2), MIB);
    locker_start(&k, fl, 1, false, false);
    T_OK(claim_shared(&c, BAR2, MIB));
    fflush(stdout);
    pid = fork(); /* this process's mirror is in slot 1, as another process sees */
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        struct flock q = lock_of(F_RDLCK, SLOT(1, BAR2), MIB);
        int fd = open(regpath, O_RDONLY);

        _exit(fd >= 0 && fcntl(fd, F_GETLK, &q) == 0 && q.l_type == F_WRLCK && q.l_pid == getppid()
                  ? 0
                  : 1);
    }
    T_EQ_INT((int)waitpid(pid, &st, 0), (int)pid);
    T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    s = walk();
    T_EQ_INT((int)s.n, 1);
    T_ASSERT(s.e[0].shared && s.e[0].bus == BAR2 && s.e[0].size == MIB);
    dmacoh__linux_phys_release(BAR2, MIB);
    locker_stop(&k);
    /* A process that holds the last page as 64 sharers would (a read lock and a mirror in
     * every slot): no room for a 65th. */
    for (int i = 0; i < 64; i++)
        fl[i] = lock_of(F_WRLCK, SLOT(i, BAR2 + MIB - 0x1000), 0x1000);
    fl[64] = lock_of(F_RDLCK, BAR2 + MIB - 0x1000, 0x1000);
    locker_start(&k, fl, 65, true, false);
    t_log_reset();
    T_ERR(claim_shared(&c, BAR2, MIB), DMACOH_EBUSY);
    T_ASSERT(t_log_find("as many processes as the machine-wide registry records"));
    T_OK(claim_shared(&c, BAR2, MIB - 0x1000)); /* below it: all slots free */
    dmacoh__linux_phys_release(BAR2, MIB - 0x1000);
    t_log_reset();
    T_ERR(declare(&c, BAR2, MIB), DMACOH_EBUSY); /* and an exclusive one, naming it */
    T_ASSERT(t_log_find("as a shared region by process"));
    T_ASSERT(t_log_find("(locker)"));
    locker_stop(&k);
    /* A reader over the whole file fills every slot: the shared claim goes through, not
     * entered, with a warning. */
    fl[0] = lock_of(F_RDLCK, 0, 0);
    locker_start(&k, fl, 1, false, true);
    t_log_reset();
    T_OK(claim_shared(&c, BAR2, MIB));
    T_ASSERT(t_log_find("a lock that no dmacoh process takes"));
    s = walk();
    T_EQ_INT((int)s.n, 0);
    dmacoh__linux_phys_release(BAR2, MIB);
    locker_stop(&k);
    card_close(&c);
    remove_tree();
}

/* An exclusive range that reaches past 2^56 - 1, where shared ranges end, is still refused
 * by a sharer of its part below (here a process that locks as a sharer does). */
static void exclusive_across_the_shared_limit(void)
{
    const uint64_t slast = 0xffffffffffffffull;
    struct dmacoh__registry_mark mark;
    struct dmacoh__registry_entry other;
    struct flock fl[2];
    struct locker k;

    make_tree();
    fl[0] = lock_of(F_WRLCK, SLOT(0, slast - 0xfff), 0x1000);
    fl[1] = lock_of(F_RDLCK, slast - 0xfff, 0x1000);
    locker_start(&k, fl, 2, true, false);
    T_ERR(dmacoh__linux_registry_enter(slast - 0x1fff, slast + 0x1000, false, &mark, &other),
          DMACOH_EBUSY);
    T_ASSERT(other.shared);
    T_EQ_INT((int)other.pid, (int)k.pid);
    T_EQ_U64(other.bus, slast - 0xfff);
    T_EQ_U64(other.size, 0x1000);
    T_EQ_INT((int)other.holders, 1);
    locker_stop(&k);
    T_OK(dmacoh__linux_registry_enter(slast - 0x1fff, slast + 0x1000, false, &mark, &other));
    T_ASSERT(mark.gen);
    dmacoh__linux_registry_leave(slast - 0x1fff, slast + 0x1000, &mark);
    remove_tree();
}

/* Through a real platform's map op: two processes map one BAR range with
 * MAP|IO|DMACOH_MAP_MULTIPROCESS and both succeed, getting the mode they would without the bit,
 * and see each other's bytes; an ordinary declaration in a third process is refused; in one
 * process a second shared map of the same bytes is refused (one attach per process). */
static void pci_map_multiprocess(void)
{
    struct dmacoh_mapping m, m2;
    struct holder h, x;
    struct card c, c2;
    int want = DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO | DMACOH_MAP_MULTIPROCESS;

    make_tree();
    T_OK(holder_start_as(&h, 'm', BAR2, MIB));
    T_OK(card_open(&c, "mapper"));
    T_OK(map_shared(&c, BAR2, MIB, &m));
    T_EQ_INT(m.mode, dmacoh__linux_device_mode(want));
    T_ASSERT(m.mode == DMACOH_MEMORY_MAP || m.mode == DMACOH_MEMORY_IO);
    T_ERR(holder_start(&x, BAR2 + MIB - 0x1000, 0x1000), DMACOH_EBUSY);
    holder_stop(&x);
    T_OK(card_open(&c2, "again"));
    T_ERR(map_shared(&c2, BAR2, MIB, &m2), DMACOH_EBUSY);
    T_ASSERT(t_log_find("another platform instance"));
    card_close(&c2);
    holder_kill(&h);
    T_ERR(holder_start(&x, BAR2, MIB), DMACOH_EBUSY); /* this process still shares it */
    holder_stop(&x);
    unmap_shared(&c, MIB, &m);
    T_OK(holder_start(&x, BAR2, MIB)); /* nobody shares it any more */
    holder_stop(&x);
    card_close(&c);
    remove_tree();
}

/* The program closes the registry's descriptor behind the library's back (closefrom in a
 * daemon) and opens a file of its own that gets the number: the library notices, says its
 * entries are gone, and its release does not unlock the program's file. */
static void a_descriptor_closed_by_the_program(void)
{
    char mine[PATH_MAX + 16];
    struct flock fl = {
        .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)BAR2, .l_len = (off_t)MIB};
    struct card c;
    int fd, other;

    make_tree();
    T_OK(card_open(&c, "card"));
    T_OK(declare(&c, BAR2, MIB));
    for (fd = 3; fd < 1024; fd++) { /* the registry's descriptor: the one open on regpath */
        char link[64], target[PATH_MAX];
        ssize_t n;

        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        n = readlink(link, target, sizeof(target) - 1);
        if (n > 0 && (target[n] = '\0', strcmp(target, regpath) == 0))
            break;
    }
    T_ASSERT(fd < 1024);
    close(fd);
    snprintf(mine, sizeof(mine), "%s/mine", root);
    other = open(mine, O_RDWR | O_CREAT, 0600);
    T_ASSERT(other >= 0);
    if (other != fd) { /* the program's own file gets the number (as the lowest free would) */
        T_EQ_INT(dup2(other, fd), fd);
        close(other);
        other = fd;
    }
    T_EQ_INT(fcntl(other, F_SETLK, &fl), 0);
    t_log_reset();
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0)); /* must not touch the program's file */
    T_ASSERT(t_log_find("its descriptor was closed by the program"));
    T_OK(declare(&c, BAR2 + MIB, MIB)); /* a fresh descriptor: entered again */
    T_OK(dmacoh_release_coherent_memory(&c.dev, 0));
    /* The program's lock is still there: another process is refused it. */
    if (fork() == 0) {
        struct flock q = fl;
        int qfd = open(mine, O_RDWR);

        _exit(qfd >= 0 && fcntl(qfd, F_GETLK, &q) == 0 && q.l_type == F_WRLCK ? 0 : 1);
    }
    {
        int st;

        T_ASSERT(wait(&st) > 0 && WIFEXITED(st));
        T_EQ_INT(WEXITSTATUS(st), 0);
    }
    close(other);
    card_close(&c);
    remove_tree();
}

static const struct t_case cases[] = {
    T_CASE(other_process_refused_until_killed),
    T_CASE(disjoint_ranges_in_two_processes),
    T_CASE(release_hands_over),
    T_CASE(overlap_inside_one_process),
    T_CASE(walk_lists_what_is_held),
    T_CASE(created_empty_and_readable),
    T_CASE(unavailable_or_off),
    T_CASE(read_only_registry),
    T_CASE(past_the_last_lockable_offset),
    T_CASE(foreign_read_locks_refuse_nothing),
    T_CASE(a_descriptor_closed_by_the_program),
    T_CASE(shared_claims_coexist),
    T_CASE(shared_refused_by_exclusive),
    T_CASE(foreign_reader_hides_no_holder),
    T_CASE(walk_lists_every_sharer),
    T_CASE(mirror_slots),
    T_CASE(exclusive_across_the_shared_limit),
    T_CASE(pci_map_multiprocess),
};

T_MAIN(cases)
