/* SPDX-License-Identifier: MIT */
/*
 * pthread.h - the part of POSIX threads the test runner (tests/harness/t.c) uses: a mutex
 * around its log capture, for a target without threads. picolibc has no <pthread.h>
 * (newlib's declares nothing without POSIX threads), so the firmware puts this folder first
 * on the runner's include path. The lock is a real spinlock (exclusive byte access: LDREXB/STREXB);
 * the firmware runs its tests from one context, where it never spins.
 */
#ifndef DMACOH_FW_PTHREAD_H
#define DMACOH_FW_PTHREAD_H

typedef struct {
    unsigned char locked;
} pthread_mutex_t;

#define PTHREAD_MUTEX_INITIALIZER                                                                  \
    {                                                                                              \
        0                                                                                          \
    }

static inline int pthread_mutex_lock(pthread_mutex_t *m)
{
    while (__atomic_test_and_set(&m->locked, __ATOMIC_ACQUIRE))
        ;
    return 0;
}

static inline int pthread_mutex_unlock(pthread_mutex_t *m)
{
    __atomic_clear(&m->locked, __ATOMIC_RELEASE);
    return 0;
}

#endif /* DMACOH_FW_PTHREAD_H */
