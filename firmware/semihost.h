/* SPDX-License-Identifier: MIT */
/*
 * semihost.h - Arm semihosting (the debugger's or QEMU's console and exit, reached with
 * `bkpt 0xab` on M-profile cores): what the firmware prints and how it reports its exit
 * status. QEMU serves it with `-semihosting-config enable=on,target=native`.
 */
#ifndef DMACOH_FW_SEMIHOST_H
#define DMACOH_FW_SEMIHOST_H

#include <stddef.h>

/** Writes len bytes to the host's stdout (fd 1) or stderr (fd 2); returns the bytes written. */
size_t semihost_write(int fd, const char *buf, size_t len);

/** Copies the command line given to the image (QEMU: the -kernel file name, then -append)
 * into buf, NUL-terminated; returns 0, or -1 when the host gives none. */
int semihost_cmdline(char *buf, size_t size);

/** Ends the run: the host exits with `status` (SYS_EXIT_EXTENDED, so the whole status
 * reaches QEMU's exit code, not only success or failure). */
void semihost_exit(int status) __attribute__((noreturn));

#endif /* DMACOH_FW_SEMIHOST_H */
