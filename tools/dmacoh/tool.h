/* SPDX-License-Identifier: MIT */
/*
 * tool.h - what the verbs of the `dmacoh` command share: exit codes, option parsing, the JSON
 * writer and number formatting (out.c). The command uses the public API only (include/dmacoh).
 *
 * Exit codes (documented in dmacoh(1)); a verb that stops with an error writes one line on
 * stderr, `dmacoh <verb>: ...`, naming what went wrong (and for TOOL_NOPERM the file and the
 * permission missing).
 */
#ifndef DMACOH_TOOL_H
#define DMACOH_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum {
    TOOL_OK = 0,       /* done; `check`: the region is consistent */
    TOOL_FAIL = 1,     /* an operation failed (the line on stderr says which) */
    TOOL_USAGE = 2,    /* bad command line */
    TOOL_NOPERM = 3,   /* a file needed cannot be read or written by this user */
    TOOL_NOTFOUND = 4, /* no such region or device */
    TOOL_DAMAGED = 5,  /* `check`: the region's state is inconsistent */
};

/* One verb: its name, a line for `dmacoh --help`, its runner (argv[0] is the verb). */
struct tool_verb {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

int cmd_list(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_reap(int argc, char **argv);

/* Prints "dmacoh <verb>: <message>" on stderr; returns code. */
int tool_err(int code, const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The exit code of a library error (-DMACOH_EACCES: TOOL_NOPERM, -DMACOH_ENOENT: TOOL_NOTFOUND,
 * else TOOL_FAIL). */
int tool_code(int err);

/* Command-line options: each verb lists its own; an option with an argument takes it as
 * `--opt VALUE` or `--opt=VALUE`. tool_opts returns the index of the first operand, or -1 after
 * a usage error (written on stderr), or -2 after --help (its text written on stdout). */
struct tool_opt {
    const char *name; /* without the dashes */
    bool has_arg;
    const char **value; /* receives the argument, or "" for a flag that is present */
};
int tool_opts(int argc, char **argv, struct tool_opt *opts, const char *help);

/* A JSON writer onto a stream: objects and arrays nest up to 16 deep, keys and strings are
 * escaped (control characters as \u00XX, bytes >= 0x80 passed through: the input is UTF-8 or
 * is a kernel's file name). Output is indented by two spaces per level. */
struct json {
    FILE *f;
    int depth;
    bool first[16];
    bool after_key;
};
void json_init(struct json *j, FILE *f);
void json_begin(struct json *j, const char *key, char bracket); /* '{' or '[' */
void json_end(struct json *j, char bracket); /* '}' or ']'; after the last, a newline */
void json_str(struct json *j, const char *key, const char *s); /* s NULL: null */
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);

/* Sizes as people read them: "64 KiB", "1.5 MiB", "4096 B" (exact below 1 KiB; one decimal
 * unless exact). buf holds at least 32 bytes. */
const char *tool_size(uint64_t bytes, char *buf);

/* ---- shared by status, show, check and reap ---- */

struct dmacoh_platform;
struct dmacoh_shared_entry;

/* The library's log lines are kept, not printed: a verb puts the last one in context
 * (tool_last_log: "" when none since tool_log_reset). Installed by main. */
void tool_log_capture(void);
void tool_log_reset(void);
const char *tool_last_log(void);

/* A platform through which shared regions are looked at (a simulator with no memory); NULL
 * after an error line. tool_platform_done frees it. */
struct dmacoh_platform *tool_platform(const char *verb);
void tool_platform_done(void);

/* Where the shared regions' objects are (DMACOH_SHM_DIR, else /dev/shm). */
const char *tool_shm_dir(void);

/* Acting for the owner of a region's object: as root, the effective uid becomes `uid` (the
 * library maps only objects of the caller's own uid) until tool_as_self; otherwise nothing.
 * 0, or -errno of seteuid. */
int tool_as_owner(uint64_t uid);
void tool_as_self(void);

/* Looks up region `name` among the objects: 0 with *uid and *mode, TOOL_NOTFOUND, or another
 * TOOL_* code after an error line. */
int tool_find_region(const char *verb, struct dmacoh_platform *p, const char *name, uint64_t *uid,
                     unsigned *mode);

/* Why a region's object cannot be used by this user, as a sentence naming the file and the
 * permission missing (buf of at least 512 bytes). */
const char *tool_noperm(const char *name, uint64_t uid, unsigned mode, char *buf);

/* /proc/<pid>/comm, or "?" (buf of at least 17 bytes). */
const char *tool_comm(uint64_t pid, char *buf);

/* "0x%llx" into buf (at least 24 bytes). */
const char *tool_hex(uint64_t v, char *buf);

#endif /* DMACOH_TOOL_H */
