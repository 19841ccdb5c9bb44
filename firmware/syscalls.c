/* SPDX-License-Identifier: MIT */
/*
 * syscalls.c - what picolibc asks of the system: the standard streams, here the semihosting
 * console (one SYS_WRITE per line, not per character: each semihosting call stops the CPU),
 * and _exit, which ends the run with the program's status. picolibc's malloc takes its heap
 * between the linker script's __heap_start and __heap_end itself.
 */
#include "semihost.h"

#include <stdio.h>
#include <stdlib.h>

void _exit(int status); /* picolibc declares it in <unistd.h>, for POSIX programs only */

struct console {
    FILE file; /* first: picolibc passes this back to put and flush */
    int fd;
    size_t len;
    char line[256];
};

static int flush(FILE *f)
{
    struct console *c = (struct console *)(void *)f;
    size_t done = semihost_write(c->fd, c->line, c->len);

    c->len = 0;
    return done ? 0 : EOF;
}

static int put(char ch, FILE *f)
{
    struct console *c = (struct console *)(void *)f;

    c->line[c->len++] = ch;
    if (ch == '\n' || c->len == sizeof(c->line))
        return flush(f) == 0 ? (unsigned char)ch : EOF;
    return (unsigned char)ch;
}

static struct console out = {FDEV_SETUP_STREAM(put, NULL, flush, _FDEV_SETUP_WRITE), 1, 0, {0}};
static struct console err = {FDEV_SETUP_STREAM(put, NULL, flush, _FDEV_SETUP_WRITE), 2, 0, {0}};

FILE *const stdin = NULL; /* no input */
FILE *const stdout = &out.file;
FILE *const stderr = &err.file;

void _exit(int status)
{
    fflush(stdout);
    fflush(stderr);
    semihost_exit(status);
}
