/* SPDX-License-Identifier: MIT */
/*
 * log.c - the library's only way to speak: a line handed to the caller's callback.
 *
 * The core is freestanding, so formatting is done here with a small subset of printf
 * (%s %c %d %u %x %llu %lld %llx %zu %zx %p %%, with optional '#'), into a stack buffer of 512
 * bytes; a longer line is cut and ends in "...". Each string argument takes at most 96
 * characters of the line, control characters escaped (putarg). The callback and cap are set once, before other threads use the library
 * (documented on dmacoh_set_log_fn), and read with relaxed atomics. A hosted platform may
 * install a default callback (the Linux build: stderr) that stands only until the program
 * installs its own or none.
 */
#include "internal.h"

/* The compiler's own varargs builtins: <stdarg.h> is not in the core's header set. */
typedef __builtin_va_list va_list_;

static void (*log_fn)(void *, int, const char *);
static void *log_user;
static bool set_by_caller; /* dmacoh_set_log_fn was called: a default no longer applies */
int dmacoh__log_max = -1;

static void install(void (*fn)(void *, int, const char *), void *user, int max_level)
{
    __atomic_store_n(&log_user, user, __ATOMIC_RELAXED);
    __atomic_store_n(&dmacoh__log_max, fn ? max_level : -1, __ATOMIC_RELAXED);
    __atomic_store_n(&log_fn, fn, __ATOMIC_RELEASE);
}

void dmacoh_set_log_fn(void (*fn)(void *user, int level, const char *msg), void *user,
                       int max_level)
{
    __atomic_store_n(&set_by_caller, true, __ATOMIC_RELAXED);
    install(fn, user, max_level);
}

void dmacoh__log_default(void (*fn)(void *user, int level, const char *msg), void *user,
                         int max_level)
{
    if (!__atomic_load_n(&set_by_caller, __ATOMIC_RELAXED))
        install(fn, user, max_level);
}

static bool enabled(int level)
{
    return __atomic_load_n(&log_fn, __ATOMIC_ACQUIRE) != NULL &&
           level <= __atomic_load_n(&dmacoh__log_max, __ATOMIC_RELAXED);
}

struct out {
    char *buf;
    size_t len, cap;
    bool cut; /* something did not fit */
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len++] = c;
    else
        o->cut = true;
}

static void puts_(struct out *o, const char *s)
{
    if (!s)
        s = "(null)";
    while (*s)
        put(o, *s++);
}

/* A %s argument: often the caller's (a device name, a path), so at most STR_MAX characters
 * of output for it, with control characters and bytes that are not printable ASCII written as
 * \\xNN (counted as the four characters they take), and "..." when it was cut. A name can then
 * neither forge a second log line nor push the real message out of the line. */
#define STR_MAX   96
#define LINE_MAX_ 512 /* bytes of a line with its NUL: several strings fit whole */

static void putarg(struct out *o, const char *s)
{
    size_t used = 0;

    if (!s) {
        puts_(o, "(null)");
        return;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = c >= 0x20 && c < 0x7f && c != '\\';

        if (used + (plain ? 1u : 4u) > STR_MAX) {
            puts_(o, "...");
            return;
        }
        used += plain ? 1u : 4u;
        if (plain) {
            put(o, (char)c);
        } else {
            put(o, '\\');
            put(o, 'x');
            put(o, "0123456789abcdef"[c >> 4]);
            put(o, "0123456789abcdef"[c & 15]);
        }
    }
}

static void putu(struct out *o, unsigned long long v, unsigned base, bool alt)
{
    char tmp[24];
    int n = 0;

    if (alt && base == 16)
        puts_(o, "0x");
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n)
        put(o, tmp[--n]);
}

static void puti(struct out *o, long long v)
{
    if (v < 0) {
        put(o, '-');
        putu(o, 0ull - (unsigned long long)v, 10, false);
    } else {
        putu(o, (unsigned long long)v, 10, false);
    }
}

/* One conversion; returns the format position after it. */
static const char *conv(struct out *o, const char *f, va_list_ *ap)
{
    bool alt = false;
    int lng = 0;

    if (*f == '#') {
        alt = true;
        f++;
    }
    while (*f == 'l') {
        lng++;
        f++;
    }
    if (*f == 'z') {
        lng = 3;
        f++;
    }
    switch (*f) {
    case 's':
        putarg(o, __builtin_va_arg(*ap, const char *));
        break;
    case 'c':
        put(o, (char)__builtin_va_arg(*ap, int));
        break;
    case 'd':
        puti(o, lng >= 2 ? __builtin_va_arg(*ap, long long)
                         : (lng == 1 ? __builtin_va_arg(*ap, long)
                                     : (long long)__builtin_va_arg(*ap, int)));
        break;
    case 'u':
    case 'x': {
        unsigned long long v = lng == 3   ? __builtin_va_arg(*ap, size_t)
                               : lng >= 2 ? __builtin_va_arg(*ap, unsigned long long)
                               : lng == 1 ? __builtin_va_arg(*ap, unsigned long)
                                          : __builtin_va_arg(*ap, unsigned);
        putu(o, v, *f == 'x' ? 16u : 10u, alt);
        break;
    }
    case 'p':
        putu(o, (unsigned long long)(uintptr_t) __builtin_va_arg(*ap, void *), 16, true);
        break;
    case '%':
        put(o, '%');
        break;
    default:
        put(o, '?');
        return *f ? f + 1 : f;
    }
    return f + 1;
}

void dmacoh__log(int level, const char *fmt, ...)
{
    void (*fn)(void *, int, const char *);
    char buf[LINE_MAX_];
    struct out o = {.buf = buf, .len = 0, .cap = sizeof(buf), .cut = false};
    va_list_ ap;

    if (!enabled(level))
        return;
    fn = __atomic_load_n(&log_fn, __ATOMIC_ACQUIRE);
    puts_(&o, "dmacoh: ");
    __builtin_va_start(ap, fmt);
    while (*fmt) {
        if (*fmt == '%')
            fmt = conv(&o, fmt + 1, &ap);
        else
            put(&o, *fmt++);
    }
    __builtin_va_end(ap);
    if (o.cut) /* a cut line says so: never a silently shortened message */
        __builtin_memcpy(buf + o.len - 3, "...", 3);
    buf[o.len] = '\0';
    if (fn)
        fn(__atomic_load_n(&log_user, __ATOMIC_RELAXED), level, buf);
}
