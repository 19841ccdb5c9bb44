/* SPDX-License-Identifier: MIT */
/*
 * dt_file.c - the devicetree reader's Linux loaders, part one: a DTB file read whole into an
 * 8-byte aligned heap buffer and handed to dmacoh_dt_init (which validates it), and the
 * close that frees what a loader allocated (also the live tree's, dt_live.c).
 */
#include <dmacoh/devicetree.h>
#include "../../core/internal.h" /* dmacoh__err */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define DTB_MAX (64u << 20) /* no devicetree comes near; a larger file is not one */

static int fail(const char *path, const char *what, int code)
{
    dmacoh__err("devicetree: %s: %s (%s)", path, what, dmacoh_err_name(code));
    return code;
}

int dmacoh_dt_open_file(struct dmacoh_dt *dt, const char *path)
{
    struct stat sb;
    size_t got = 0;
    void *buf;
    int fd, rc;

    if (!dt || !path)
        return fail("(null)", "NULL argument", DMACOH_EINVAL);
    /* O_NONBLOCK: a FIFO in place of the file must be refused, not waited on. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return fail(path, "cannot open", -errno);
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
        (uint64_t)sb.st_size > DTB_MAX) {
        close(fd);
        return fail(path, "not a regular file of 1 byte to 64 MiB", DMACOH_EINVAL);
    }
    buf = aligned_alloc(8, ((size_t)sb.st_size + 7) & ~(size_t)7);
    if (!buf) {
        close(fd);
        return fail(path, "no memory for the blob", DMACOH_ENOMEM);
    }
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, (char *)buf + got, (size_t)sb.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : DMACOH_EIO;
            close(fd);
            free(buf);
            return fail(path, "cannot read", rc);
        }
        got += (size_t)n;
    }
    close(fd);
    if ((rc = dmacoh_dt_init(dt, buf, got)) != 0) {
        free(buf);
        return fail(path, "not a valid devicetree blob", rc);
    }
    dt->owned = buf;
    return 0;
}

void dmacoh_dt_close(struct dmacoh_dt *dt)
{
    if (!dt)
        return;
    free(dt->owned);
    *dt = (struct dmacoh_dt){0};
}
