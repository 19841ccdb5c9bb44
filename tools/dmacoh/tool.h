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
    TOOL_DAMAGED = 5,  /* show, check, reap: the region's object is damaged or its state
                          inconsistent */
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
 * escaped (control characters as \u00XX; a byte that is not valid UTF-8 as \ufffd, so the
 * output is valid JSON whatever a kernel file held). Output is indented by two spaces per
 * level. */
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

#include <dmacoh/shared.h>

/* The library's log lines are kept, not printed: a verb puts the first since tool_log_reset
 * (the most precise: later lines give context) in its own line (tool_first_log: "" when
 * none). */
void tool_log_capture(void);
void tool_log_reset(void);
const char *tool_first_log(void);

/* A platform through which shared regions are looked at (a simulator with no memory); NULL
 * after an error line. tool_platform_done frees it. */
struct dmacoh_platform *tool_platform(const char *verb);
void tool_platform_done(void);

/* Where the shared regions' objects are (DMACOH_SHM_DIR, else /dev/shm). */
const char *tool_shm_dir(void);

/* One region's object, as dmacoh_shared_list reports it. */
struct tool_region {
    char name[DMACOH_SHARE_NAME_MAX + 1];
    uint64_t uid, gid;
    unsigned mode;
};

/* Looks up region `name` among the objects: 0 with *r filled, or a TOOL_* code with the
 * reason in why (at least 512 bytes; TOOL_NOTFOUND: no such region). */
int tool_find_region(struct dmacoh_platform *p, const char *name, struct tool_region *r, char *why);

/* What a look at one region found. */
#define TOOL_MAX_OWNERS 254
struct tool_look {
    int err;       /* 0, or the library's error (-DMACOH_EIO with info.size 0: the object is
                      unusable; with info.size set: the allocator state is inconsistent) */
    char why[512]; /* when err: the sentence that says why */
    struct dmacoh_shared_info info;
    struct dmacoh_shared_owner owners[TOOL_MAX_OWNERS];
    char comm[TOOL_MAX_OWNERS][17]; /* each owner's command, or "?" */
    unsigned nowners;
    struct dmacoh_shared_span *spans; /* TOOL_LOOK_SPANS: every span (free with tool_look_done) */
    size_t nspans;
    uint64_t reaped_blocks, reaped_bytes; /* TOOL_LOOK_REAP */
};
enum { TOOL_LOOK_INFO, TOOL_LOOK_SPANS, TOOL_LOOK_REAP };

/* Looks at (or reaps) region r in a child process, so that a damaged or hostile object can
 * crash only the child, and, as root, with the rights of the object's owner only (its uid
 * and gid, no other group, for good: the child cannot become root again). Fills *l (l->err
 * says how it went, l->why why not); returns l->err. */
int tool_look(struct dmacoh_platform *p, const struct tool_region *r, int what,
              struct tool_look *l);
void tool_look_done(struct tool_look *l);
/* The exit code of a look that failed (TOOL_DAMAGED for -DMACOH_EIO). */
int tool_look_code(const struct tool_look *l);

/* s made safe to print on a terminal: control characters (C0, DEL, C1) and bytes that are
 * not UTF-8 become '?' (one of 8 rotating buffers of 1 KiB: several in one printf). */
const char *tool_shown(const char *s);

/* /proc/<pid>/comm, or "?", made printable: bytes that are not valid UTF-8 or are control
 * characters become '?' (buf of at least 17 bytes). */
const char *tool_comm(uint64_t pid, char *buf);

/* "0x%llx" into buf (at least 24 bytes). */
const char *tool_hex(uint64_t v, char *buf);

/* The length of the valid UTF-8 sequence at s (1 to 4), or 0 when s does not start one. */
int tool_utf8(const unsigned char *s);

/* Flushes standard output: TOOL_OK, or TOOL_FAIL with a line when it could not be written
 * (a full disk, a closed pipe). */
int tool_flush(const char *verb, int code);

#endif /* DMACOH_TOOL_H */
