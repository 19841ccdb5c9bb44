/* SPDX-License-Identifier: MIT */
/* out.c - errors, option parsing, the JSON writer and sizes for the verbs (tool.h). */
#include "tool.h"

#include <dmacoh/device.h>
#include <dmacoh/errno.h>
#include <dmacoh/shared.h>
#include <dmacoh/sim.h>

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int tool_err(int code, const char *verb, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "dmacoh %s: ", verb);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int tool_code(int err)
{
    if (err == DMACOH_EACCES || err == DMACOH_EPERM)
        return TOOL_NOPERM;
    if (err == DMACOH_ENOENT || err == DMACOH_ENODEV)
        return TOOL_NOTFOUND;
    return TOOL_FAIL;
}

/* Options and operands may come in any order (as with GNU getopt): operands are moved after
 * the options, in their order, and the index of the first is returned. */
int tool_opts(int argc, char **argv, struct tool_opt *opts, const char *help)
{
    char **operands = calloc((size_t)argc + 1, sizeof(char *));
    int i, nops = 0, nopt = 1;

    if (!operands) {
        tool_err(TOOL_FAIL, argv[0], "out of memory");
        return -1;
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *eq;
        size_t len;
        struct tool_opt *o;

        if (!strcmp(a, "--")) {
            argv[nopt++] = argv[i];
            while (++i < argc)
                operands[nops++] = argv[i];
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            operands[nops++] = argv[i];
            continue;
        }
        argv[nopt++] = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            free(operands);
            return -2;
        }
        if (a[1] != '-') {
            tool_err(TOOL_USAGE, argv[0], "unknown option '%s' (try 'dmacoh %s --help')", a,
                     argv[0]);
            free(operands);
            return -1;
        }
        a += 2;
        eq = strchr(a, '=');
        len = eq ? (size_t)(eq - a) : strlen(a);
        for (o = opts; o && o->name; o++)
            if (strlen(o->name) == len && !strncmp(o->name, a, len))
                break;
        if (!o || !o->name) {
            tool_err(TOOL_USAGE, argv[0], "unknown option '--%.*s' (try 'dmacoh %s --help')",
                     (int)len, a, argv[0]);
            free(operands);
            return -1;
        }
        if (!o->has_arg) {
            if (eq) {
                tool_err(TOOL_USAGE, argv[0], "option '--%s' takes no value", o->name);
                free(operands);
                return -1;
            }
            *o->value = "";
        } else if (eq) {
            *o->value = eq + 1;
        } else if (i + 1 < argc) {
            *o->value = argv[++i];
            argv[nopt++] = argv[i];
        } else {
            tool_err(TOOL_USAGE, argv[0], "option '--%s' needs a value", o->name);
            free(operands);
            return -1;
        }
    }
    for (int k = 0; k < nops; k++)
        argv[nopt + k] = operands[k];
    free(operands);
    return nopt;
}

/* ---- JSON ---- */

void json_init(struct json *j, FILE *f)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
    j->first[0] = true;
}

static void indent(struct json *j)
{
    for (int d = 0; d < j->depth; d++)
        fputs("  ", j->f);
}

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = tool_utf8(p);

        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)
            fprintf(f, "\\u%04x", p[1]); /* a C1 control: escaped, as C0 ones are */
        else if (n == 0)
            fputs("\\ufffd", f); /* not UTF-8: the replacement character */
        else
            fwrite(p, 1, (size_t)n, f);
        p += n ? n : 1;
    }
    fputc('"', f);
}

/* Starts a member: the comma, the line, the key. */
static void member(struct json *j, const char *key)
{
    if (j->depth > 0) {
        fputs(j->first[j->depth] ? "\n" : ",\n", j->f);
        j->first[j->depth] = false;
        indent(j);
    }
    if (key) {
        put_string(j->f, key);
        fputs(": ", j->f);
    }
}

void json_begin(struct json *j, const char *key, char bracket)
{
    member(j, key);
    fputc(bracket, j->f);
    if (j->depth < 15)
        j->depth++;
    j->first[j->depth] = true;
}

void json_end(struct json *j, char bracket)
{
    bool empty = j->first[j->depth];

    if (j->depth > 0)
        j->depth--;
    if (!empty) {
        fputc('\n', j->f);
        indent(j);
    }
    fputc(bracket, j->f);
    if (j->depth == 0)
        fputc('\n', j->f);
}

void json_str(struct json *j, const char *key, const char *s)
{
    member(j, key);
    if (s)
        put_string(j->f, s);
    else
        fputs("null", j->f);
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
    member(j, key);
    fprintf(j->f, "%" PRIu64, v);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
    member(j, key);
    fprintf(j->f, "%" PRId64, v);
}

void json_bool(struct json *j, const char *key, bool v)
{
    member(j, key);
    fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
    member(j, key);
    fputs("null", j->f);
}

/* ---- sizes ---- */

const char *tool_size(uint64_t bytes, char *buf)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    unsigned u = 0;
    uint64_t whole = bytes, rem = 0;

    while (whole >= 1024 && u < 6) {
        rem = whole & 1023;
        whole >>= 10;
        u++;
    }
    if (u == 0 || (rem == 0 && (bytes & ((UINT64_C(1) << (10 * u)) - 1)) == 0))
        snprintf(buf, 32, "%" PRIu64 " %s", whole, unit[u]);
    else
        snprintf(buf, 32, "%" PRIu64 ".%u %s", whole, (unsigned)(rem * 10 / 1024), unit[u]);
    return buf;
}

/* ---- the library's log, a platform, looking at regions ---- */

static char first_log[512];

static void keep_log(void *user, int level, const char *msg)
{
    (void)user;
    if (level > DMACOH_LOG_WARN || first_log[0])
        return;
    if (!strncmp(msg, "dmacoh: ", 8)) /* the verb's own line says it */
        msg += 8;
    snprintf(first_log, sizeof(first_log), "%s", msg);
}

void tool_log_capture(void)
{
    dmacoh_set_log_fn(keep_log, NULL, DMACOH_LOG_WARN);
}

void tool_log_reset(void)
{
    first_log[0] = '\0';
}

const char *tool_first_log(void)
{
    return first_log;
}

static struct dmacoh_sim *sim;

struct dmacoh_platform *tool_platform(const char *verb)
{
    struct dmacoh_sim_opts o;
    int r;

    if (sim)
        return dmacoh_sim_platform(sim);
    memset(&o, 0, sizeof(o));
    o.no_ram = true;
    r = dmacoh_sim_create(&o, &sim);
    if (r) {
        tool_err(TOOL_FAIL, verb, "cannot set up: %s", dmacoh_strerror(r));
        return NULL;
    }
    return dmacoh_sim_platform(sim);
}

void tool_platform_done(void)
{
    (void)dmacoh_sim_destroy(sim);
    sim = NULL;
}

const char *tool_shm_dir(void)
{
    const char *d = getenv("DMACOH_SHM_DIR");

    return d && *d ? d : "/dev/shm";
}

struct find {
    const char *name;
    struct tool_region *r;
    bool found;
};

static int find_fn(void *user, const struct dmacoh_shared_entry *e)
{
    struct find *f = user;

    if (strcmp(e->name, f->name) != 0)
        return 0;
    snprintf(f->r->name, sizeof(f->r->name), "%s", e->name);
    f->r->uid = e->uid;
    f->r->gid = e->gid;
    f->r->mode = e->mode;
    f->found = true;
    return 1;
}

int tool_find_region(struct dmacoh_platform *p, const char *name, struct tool_region *r, char *why)
{
    struct find f = {name, r, false};
    int e;

    tool_log_reset();
    e = dmacoh_shared_list(p, find_fn, &f);
    if (e < 0) {
        snprintf(why, 512, "cannot read %.150s: %.300s", tool_shm_dir(),
                 *tool_first_log() ? tool_first_log() : dmacoh_strerror(e));
        return tool_code(e);
    }
    if (!f.found) {
        snprintf(why, 512, "no shared region '%s' (no %.150s/dmacoh.%s)", name, tool_shm_dir(),
                 name);
        return TOOL_NOTFOUND;
    }
    return 0;
}

/* ---- the look, in a child ---- */

struct collect {
    struct tool_look *l;
    size_t cap;
};

static int on_owner(void *user, const struct dmacoh_shared_owner *o)
{
    struct tool_look *l = ((struct collect *)user)->l;

    if (l->nowners < TOOL_MAX_OWNERS)
        l->owners[l->nowners++] = *o;
    return 0;
}

static int on_span(void *user, const struct dmacoh_shared_span *s)
{
    struct collect *c = user;
    struct tool_look *l = c->l;

    if (l->nspans == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        struct dmacoh_shared_span *n = realloc(l->spans, cap * sizeof(*n));

        if (!n)
            return DMACOH_ENOMEM;
        l->spans = n;
        c->cap = cap;
    }
    l->spans[l->nspans++] = *s;
    return 0;
}

/* Becomes the object's owner for good (as root, for another uid): 0 or -errno. */
static int become(const struct tool_region *r)
{
    if (geteuid() != 0 || r->uid == 0)
        return 0;
    if (r->uid > UINT32_MAX - 1 || r->gid > UINT32_MAX - 1)
        return -EINVAL;
    if (setgroups(0, NULL) != 0 || setresgid((gid_t)r->gid, (gid_t)r->gid, (gid_t)r->gid) != 0 ||
        setresuid((uid_t)r->uid, (uid_t)r->uid, (uid_t)r->uid) != 0)
        return -errno;
    return setuid(0) == 0 ? -EPERM : 0; /* for good: no way back */
}

static bool write_all(int fd, const void *buf, size_t len)
{
    const char *b = buf;

    while (len) {
        ssize_t n = write(fd, b, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        b += n;
        len -= (size_t)n;
    }
    return true;
}

static bool read_all(int fd, void *buf, size_t len)
{
    char *b = buf;

    while (len) {
        ssize_t n = read(fd, b, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        b += n;
        len -= (size_t)n;
    }
    return true;
}

/* The child: the look, its result down the pipe (the struct, then the spans). */
static void child(struct dmacoh_platform *p, const struct tool_region *r, int what, int fd)
{
    static struct tool_look l;
    struct collect c = {&l, 0};
    int e;

    signal(SIGINT, SIG_IGN); /* a ^C ends the command, never this child inside the lock */
    signal(SIGPIPE, SIG_IGN);
    memset(&l, 0, sizeof(l));
    tool_log_reset();
    e = become(r);
    if (e)
        snprintf(l.why, sizeof(l.why), "cannot act as uid %llu, the owner of %s/dmacoh.%s: %s",
                 (unsigned long long)r->uid, tool_shm_dir(), r->name, strerror(-e));
    else if (what == TOOL_LOOK_REAP)
        e = dmacoh_shared_reap_by_name(p, r->name, &l.reaped_blocks, &l.reaped_bytes);
    else
        e = dmacoh_shared_inspect(p, r->name, &l.info, on_owner,
                                  what == TOOL_LOOK_SPANS ? on_span : NULL, &c);
    l.err = e;
    if (e && !l.why[0])
        snprintf(l.why, sizeof(l.why), "%s",
                 *tool_first_log() ? tool_first_log() : dmacoh_strerror(e));
    if (!write_all(fd, &l, sizeof(l)) ||
        (l.nspans && !write_all(fd, l.spans, l.nspans * sizeof(*l.spans))))
        _exit(1);
    _exit(0);
}

int tool_look(struct dmacoh_platform *p, const struct tool_region *r, int what, struct tool_look *l)
{
    int fds[2], st = 0;
    bool got;
    pid_t pid;

    memset(l, 0, sizeof(*l));
    fflush(NULL);
    if (pipe(fds) != 0) {
        l->err = -errno;
        snprintf(l->why, sizeof(l->why), "pipe: %s", strerror(errno));
        return l->err;
    }
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child(p, r, what, fds[1]);
    }
    close(fds[1]);
    if (pid < 0) {
        l->err = -errno;
        snprintf(l->why, sizeof(l->why), "fork: %s", strerror(errno));
        close(fds[0]);
        return l->err;
    }
    got = read_all(fds[0], l, sizeof(*l));
    l->spans = NULL;
    if (got && l->nspans) {
        l->spans = calloc(l->nspans, sizeof(*l->spans));
        got = l->spans && read_all(fds[0], l->spans, l->nspans * sizeof(*l->spans));
    }
    close(fds[0]);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!got || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        tool_look_done(l);
        memset(l, 0, sizeof(*l));
        l->err = DMACOH_EIO;
        if (WIFSIGNALED(st))
            snprintf(l->why, sizeof(l->why),
                     "reading %s/dmacoh.%s stopped the reader (signal %d): the object is "
                     "damaged, or was changed or cut short while it was read",
                     tool_shm_dir(), r->name, WTERMSIG(st));
        else
            snprintf(l->why, sizeof(l->why), "reading %s/dmacoh.%s failed", tool_shm_dir(),
                     r->name);
        return l->err;
    }
    if (l->err == DMACOH_EACCES || l->err == DMACOH_EPERM) {
        char lib[sizeof(l->why)];

        snprintf(lib, sizeof(lib), "%s", l->why);
        if (geteuid() == 0)
            snprintf(l->why, sizeof(l->why),
                     "permission denied: uid %llu, owner of %.150s/dmacoh.%s, cannot open it "
                     "(%.200s)",
                     (unsigned long long)r->uid, tool_shm_dir(), r->name, lib);
        else
            snprintf(l->why, sizeof(l->why),
                     "permission denied: %s/dmacoh.%s belongs to uid %llu (mode %03o) and only "
                     "its owner may read and write it: run as uid %llu or as root",
                     tool_shm_dir(), r->name, (unsigned long long)r->uid, r->mode,
                     (unsigned long long)r->uid);
    }
    for (unsigned k = 0; k < l->nowners && k < TOOL_MAX_OWNERS; k++)
        tool_comm(l->owners[k].pid, l->comm[k]);
    return l->err;
}

void tool_look_done(struct tool_look *l)
{
    free(l->spans);
    l->spans = NULL;
    l->nspans = 0;
}

int tool_look_code(const struct tool_look *l)
{
    return l->err == DMACOH_EIO ? TOOL_DAMAGED : tool_code(l->err);
}

/* ---- text ---- */

int tool_utf8(const unsigned char *s)
{
    int n;
    uint32_t c;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2, c = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3, c = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4, c = s[0] & 0x07;
    else
        return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return n;
}

const char *tool_shown(const char *s)
{
    static char ring[8][1024];
    static unsigned next;
    char *buf = ring[next++ % 8];
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p && o < sizeof(ring[0]) - 1;) {
        int n = tool_utf8(p);

        /* C0 controls, DEL, C1 controls (U+0080..U+009F) and bytes that are not UTF-8 */
        if (n == 0 || *p < 0x20 || *p == 0x7f || (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) ||
            o + (size_t)n > sizeof(ring[0]) - 1) {
            buf[o++] = '?';
            p++;
            continue;
        }
        memcpy(buf + o, p, (size_t)n);
        o += (size_t)n;
        p += n;
    }
    buf[o] = '\0';
    return buf;
}

const char *tool_comm(uint64_t pid, char *buf)
{
    char path[64], raw[32];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%llu/comm", (unsigned long long)pid);
    strcpy(buf, "?");
    f = fopen(path, "re");
    if (!f)
        return buf;
    if (!fgets(raw, sizeof(raw), f)) {
        fclose(f);
        return buf;
    }
    fclose(f);
    raw[strcspn(raw, "\n")] = '\0';
    snprintf(buf, 17, "%s", tool_shown(raw));
    if (!buf[0])
        strcpy(buf, "?");
    return buf;
}

const char *tool_hex(uint64_t v, char *buf)
{
    snprintf(buf, 24, "0x%" PRIx64, v);
    return buf;
}

int tool_flush(const char *verb, int code)
{
    if (fflush(stdout) != 0 || ferror(stdout))
        return tool_err(TOOL_FAIL, verb, "writing the output: %s", strerror(errno));
    return code;
}
