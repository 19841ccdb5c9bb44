/* SPDX-License-Identifier: MIT */
/*
 * semihost.c - the semihosting operations the firmware uses (Arm's "Semihosting for AArch32
 * and AArch64" specification): SYS_OPEN of ":tt" for the console, SYS_WRITE, SYS_GET_CMDLINE
 * and SYS_EXIT_EXTENDED. Each takes its arguments as a block of words whose address goes in
 * r1, the operation number in r0; the result comes back in r0.
 */
#include "semihost.h"

#include <stdint.h>

enum {
    SYS_OPEN = 0x01,
    SYS_WRITE = 0x05,
    SYS_GET_CMDLINE = 0x15,
    SYS_EXIT = 0x18,
    SYS_EXIT_EXTENDED = 0x20,
    ADP_STOPPED_APPLICATION_EXIT = 0x20026,
    OPEN_MODE_W = 4, /* ":tt" opened for writing is stdout, "a" (8) is stderr */
    OPEN_MODE_A = 8,
};

static uintptr_t call(uintptr_t op, const void *args)
{
    register uintptr_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = args;

    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static long console(int fd)
{
    static long handle[2] = {-1, -1};
    long *h = &handle[fd == 2];

    if (*h < 0) {
        uintptr_t a[3] = {(uintptr_t) ":tt", fd == 2 ? OPEN_MODE_A : OPEN_MODE_W, 3};

        *h = (long)call(SYS_OPEN, a);
    }
    return *h;
}

size_t semihost_write(int fd, const char *buf, size_t len)
{
    long h = console(fd);
    uintptr_t a[3] = {(uintptr_t)h, (uintptr_t)buf, len};

    if (h < 0)
        return 0;
    return len - call(SYS_WRITE, a); /* the call returns the bytes it did not write */
}

int semihost_cmdline(char *buf, size_t size)
{
    uintptr_t a[2] = {(uintptr_t)buf, size};

    if (size == 0 || call(SYS_GET_CMDLINE, a) != 0)
        return -1;
    buf[a[1] < size ? a[1] : size - 1] = '\0';
    return 0;
}

void semihost_exit(int status)
{
    uintptr_t a[2] = {ADP_STOPPED_APPLICATION_EXIT, (uintptr_t)status};

    call(SYS_EXIT_EXTENDED, a);
    /* A host without SYS_EXIT_EXTENDED: the classic call can only say success or failure. */
    call(SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT : 0));
    for (;;)
        __asm__ volatile("wfi");
}
