/* SPDX-License-Identifier: MIT */
/*
 * t.c - the runner behind t.h: runs each case under setjmp, counts, captures library logs.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200112L /* setenv */
#endif
#include "t.h"

#include <dmacoh/dmacoh.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jmp_buf t_jmp;
static int t_outcome; /* 0 pass, 1 fail, 2 skip */
static char t_reason[512];
static char t_last[512];
static unsigned t_nlog;
static char t_logbuf[16384];
static size_t t_loglen;
static bool t_verbose;
static pthread_mutex_t t_log_mu = PTHREAD_MUTEX_INITIALIZER; /* library logs come from any thread */

static void t_log_fn(void *user, int level, const char *msg)
{
    size_t n = strlen(msg);

    (void)user;
    pthread_mutex_lock(&t_log_mu);
    t_nlog++;
    snprintf(t_last, sizeof(t_last), "%s", msg);
    if (t_loglen + n + 2 < sizeof(t_logbuf)) {
        memcpy(t_logbuf + t_loglen, msg, n);
        t_loglen += n;
        t_logbuf[t_loglen++] = '\n';
        t_logbuf[t_loglen] = '\0';
    }
    if (t_verbose)
        fprintf(stderr, "  # log[%d] %s\n", level, msg);
    pthread_mutex_unlock(&t_log_mu);
}

unsigned t_log_count(void)
{
    return t_nlog;
}

const char *t_log_last(void)
{
    return t_last;
}

bool t_log_find(const char *needle)
{
    return strstr(t_logbuf, needle) != NULL;
}

void t_log_reset(void)
{
    t_nlog = 0;
    t_last[0] = '\0';
    t_loglen = 0;
    t_logbuf[0] = '\0';
}

uint64_t t_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

void t_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(t_reason, sizeof(t_reason), "%s:%d: ", file, line);

    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(t_reason))
        vsnprintf(t_reason + n, sizeof(t_reason) - (size_t)n, fmt, ap);
    va_end(ap);
    t_outcome = 1;
    longjmp(t_jmp, 1);
}

void t_skip(const char *why)
{
    snprintf(t_reason, sizeof(t_reason), "%s", why);
    t_outcome = 2;
    longjmp(t_jmp, 1);
}

int t_run(const struct t_case *cases, size_t n)
{
    unsigned passed = 0, failed = 0, skipped = 0;
    const char *v = getenv("DMACOH_TEST_VERBOSE");

    t_verbose = v && *v && *v != '0';
    /* Test binaries run side by side over the same fake physical addresses: unless asked
     * otherwise, each keeps to its own process-wide register (test_registry sets its own). */
    setenv("DMACOH_REGISTRY", "none", 1);
    /* DMACOH_DEBUG=all runs every test in the debug mode (dmacoh/debug.h). */
    if (dmacoh_debug_from_env() != 0)
        fprintf(stderr, "DMACOH_DEBUG: value not understood, ignored\n");
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("1..%zu\n", n);
    for (size_t i = 0; i < n; i++) {
        t_outcome = 0;
        t_reason[0] = '\0';
        t_log_reset();
        dmacoh_set_log_fn(t_log_fn, NULL, DMACOH_LOG_DEBUG);
        if (setjmp(t_jmp) == 0)
            cases[i].fn();
        dmacoh_set_log_fn(NULL, NULL, 0);
        if (t_outcome == 0) {
            passed++;
            printf("ok %zu - %s\n", i + 1, cases[i].name);
        } else if (t_outcome == 2) {
            skipped++;
            printf("ok %zu - %s # SKIP %s\n", i + 1, cases[i].name, t_reason);
        } else {
            failed++;
            printf("not ok %zu - %s\n  # %s\n", i + 1, cases[i].name, t_reason);
            if (t_nlog)
                printf("  # last log: %s\n", t_last);
        }
    }
    printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
    if (failed)
        return 1;
    return (skipped == n && n > 0) ? 77 : 0;
}
