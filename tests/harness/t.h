/* SPDX-License-Identifier: MIT */
/*
 * t.h - dmacoh's test harness (libuv test/task.h in spirit, much smaller).
 *
 * A test file defines `static void name(void)` functions, lists them once in an array of
 * struct t_case built with T_CASE(), and ends with T_MAIN(cases). The runner prints TAP-like
 * lines (`ok N - name`, `not ok N - name`, `ok N - name # SKIP why`) and closes with the line
 * `N passed, N failed, N skipped`; it exits 1 on any failure, 77 when every test skipped.
 * Assertions print file, line and both operands, and are not disabled by NDEBUG. A failed
 * assertion ends the current test (longjmp) and the runner goes on to the next one.
 *
 * Log capture: the runner installs a dmacoh log callback for every test; t_log_count() and
 * t_log_last() let a test assert that a failure was reported (and t_log_find() that some
 * message mentioned a word). Set DMACOH_TEST_VERBOSE=1 to see every log line.
 */
#ifndef DMACOH_T_H
#define DMACOH_T_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Valgrind's client requests (RUNNING_ON_VALGRIND, VALGRIND_GET_VBITS, ...), where its
 * headers are installed: HAVE_MEMCHECK is then defined. */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define HAVE_MEMCHECK 1
#endif
#endif

struct t_case {
    const char *name;
    void (*fn)(void);
};

#define T_CASE(fn)                                                                                 \
    {                                                                                              \
#fn, fn                                                                                    \
    }
#define T_MAIN(cases)                                                                              \
    int main(void)                                                                                 \
    {                                                                                              \
        return t_run(cases, sizeof(cases) / sizeof((cases)[0]));                                   \
    }

int t_run(const struct t_case *cases, size_t n);

void t_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
void t_skip(const char *why) __attribute__((noreturn));

/** Number of library log lines during the current test, and the last one ("" if none). */
unsigned t_log_count(void);
const char *t_log_last(void);
/** True if any log line of the current test contains `needle`. */
bool t_log_find(const char *needle);
/** Forget the log lines captured so far in this test. */
void t_log_reset(void);

/** A deterministic PRNG for property tests (xorshift64*); seed 0 is replaced by a constant. */
uint64_t t_rand(uint64_t *state);

#define T_ASSERT(c)                                                                                \
    do {                                                                                           \
        if (!(c))                                                                                  \
            t_fail(__FILE__, __LINE__, "assertion failed: %s", #c);                                \
    } while (0)

#define T_EQ_INT(a, b)                                                                             \
    do {                                                                                           \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                                    \
        if (t_a_ != t_b_)                                                                          \
            t_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, t_a_, t_b_);              \
    } while (0)

#define T_EQ_U64(a, b)                                                                             \
    do {                                                                                           \
        uint64_t t_a_ = (uint64_t)(a), t_b_ = (uint64_t)(b);                                       \
        if (t_a_ != t_b_)                                                                          \
            t_fail(__FILE__, __LINE__, "%s == %s: 0x%" PRIx64 " != 0x%" PRIx64, #a, #b, t_a_,      \
                   t_b_);                                                                          \
    } while (0)

#define T_EQ_PTR(a, b)                                                                             \
    do {                                                                                           \
        const void *t_a_ = (const void *)(a), *t_b_ = (const void *)(b);                           \
        if (t_a_ != t_b_)                                                                          \
            t_fail(__FILE__, __LINE__, "%s == %s: %p != %p", #a, #b, t_a_, t_b_);                  \
    } while (0)

/** Asserts a dmacoh call returned 0, naming the error otherwise. */
#define T_OK(expr) T_ERR(expr, 0)

/** Asserts a dmacoh call returned the given code, printing both names otherwise. */
#define T_ERR(expr, code)                                                                          \
    do {                                                                                           \
        int t_r_ = (expr), t_c_ = (code);                                                          \
        if (t_r_ != t_c_)                                                                          \
            t_fail(__FILE__, __LINE__, "%s: got %d (%s), want %d (%s)", #expr, t_r_,               \
                   dmacoh_err_name(t_r_), t_c_, dmacoh_err_name(t_c_));                            \
    } while (0)

#define T_SKIP(why) t_skip(why)

#endif /* DMACOH_T_H */
