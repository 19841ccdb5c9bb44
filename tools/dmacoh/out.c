/* SPDX-License-Identifier: MIT */
/* out.c - errors, option parsing, the JSON writer and sizes for the verbs (tool.h). */
#include "tool.h"

#include <dmacoh/errno.h>

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

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

int tool_opts(int argc, char **argv, struct tool_opt *opts, const char *help)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *eq;
        size_t len;
        struct tool_opt *o;

        if (!strcmp(a, "--"))
            return i + 1;
        if (a[0] != '-' || a[1] == '\0')
            return i;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return -2;
        }
        if (a[1] != '-') {
            tool_err(TOOL_USAGE, argv[0], "unknown option '%s' (try 'dmacoh %s --help')", a,
                     argv[0]);
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
            return -1;
        }
        if (!o->has_arg) {
            if (eq) {
                tool_err(TOOL_USAGE, argv[0], "option '--%s' takes no value", o->name);
                return -1;
            }
            *o->value = "";
        } else if (eq) {
            *o->value = eq + 1;
        } else if (i + 1 < argc) {
            *o->value = argv[++i];
        } else {
            tool_err(TOOL_USAGE, argv[0], "option '--%s' needs a value", o->name);
            return -1;
        }
    }
    return i;
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
