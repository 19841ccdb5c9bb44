/* SPDX-License-Identifier: MIT */
/* out.c - errors, option parsing, the JSON writer and sizes for the verbs (tool.h). */
#include "tool.h"

#include <dmacoh/device.h>
#include <dmacoh/errno.h>
#include <dmacoh/shared.h>
#include <dmacoh/sim.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
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
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
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

/* ---- the library's log, a platform, region owners ---- */

static char last_log[1024];

static void keep_log(void *user, int level, const char *msg)
{
    (void)user;
    if (level > DMACOH_LOG_WARN)
        return;
    if (!strncmp(msg, "dmacoh: ", 8)) /* the verb's own line says it */
        msg += 8;
    snprintf(last_log, sizeof(last_log), "%s", msg);
}

void tool_log_capture(void)
{
    dmacoh_set_log_fn(keep_log, NULL, DMACOH_LOG_WARN);
}

void tool_log_reset(void)
{
    last_log[0] = '\0';
}

const char *tool_last_log(void)
{
    return last_log;
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

static bool became;

int tool_as_owner(uint64_t uid)
{
    if (geteuid() != 0 || uid == 0 || uid > UINT32_MAX)
        return 0;
    if (seteuid((uid_t)uid) != 0)
        return -errno;
    became = true;
    return 0;
}

void tool_as_self(void)
{
    if (became && seteuid(0) == 0)
        became = false;
}

struct find {
    const char *name;
    uint64_t uid;
    unsigned mode;
    bool found;
};

static int find_fn(void *user, const struct dmacoh_shared_entry *e)
{
    struct find *f = user;

    if (strcmp(e->name, f->name) != 0)
        return 0;
    f->uid = e->uid;
    f->mode = e->mode;
    f->found = true;
    return 1;
}

int tool_find_region(const char *verb, struct dmacoh_platform *p, const char *name, uint64_t *uid,
                     unsigned *mode)
{
    struct find f = {name, 0, 0, false};
    int r = dmacoh_shared_list(p, find_fn, &f);

    if (r < 0)
        return tool_err(tool_code(r), verb, "cannot read %s: %s", tool_shm_dir(),
                        dmacoh_strerror(r));
    if (!f.found)
        return tool_err(TOOL_NOTFOUND, verb, "no shared region '%s' (no %s/dmacoh.%s)", name,
                        tool_shm_dir(), name);
    *uid = f.uid;
    *mode = f.mode;
    return 0;
}

const char *tool_noperm(const char *name, uint64_t uid, unsigned mode, char *buf)
{
    snprintf(buf, 512,
             "permission denied: %s/dmacoh.%s belongs to uid %llu (mode %03o) and only its "
             "owner may read and write it: run as uid %llu or as root",
             tool_shm_dir(), name, (unsigned long long)uid, mode, (unsigned long long)uid);
    return buf;
}

const char *tool_comm(uint64_t pid, char *buf)
{
    char path[64];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%llu/comm", (unsigned long long)pid);
    strcpy(buf, "?");
    f = fopen(path, "re");
    if (!f)
        return buf;
    if (fgets(buf, 17, f))
        buf[strcspn(buf, "\n")] = '\0';
    else
        strcpy(buf, "?");
    fclose(f);
    return buf;
}

const char *tool_hex(uint64_t v, char *buf)
{
    snprintf(buf, 24, "0x%" PRIx64, v);
    return buf;
}
