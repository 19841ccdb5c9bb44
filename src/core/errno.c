/* SPDX-License-Identifier: MIT */
/*
 * errno.c - names and descriptions of the DMACOH_E* codes (a table, no libc).
 */
#include "internal.h"

struct errdesc {
    int code;
    const char *name;
    const char *text;
};

static const struct errdesc errtab[] = {
    {0, "0", "success"},
    {DMACOH_EPERM, "DMACOH_EPERM", "operation not permitted"},
    {DMACOH_ENOENT, "DMACOH_ENOENT", "no such file, device or address"},
    {DMACOH_EIO, "DMACOH_EIO", "input/output error"},
    {DMACOH_ENXIO, "DMACOH_ENXIO", "no memory at that bus address"},
    {DMACOH_ENOMEM, "DMACOH_ENOMEM", "out of memory"},
    {DMACOH_EACCES, "DMACOH_EACCES", "permission denied"},
    {DMACOH_EFAULT, "DMACOH_EFAULT", "address does not belong to a live allocation"},
    {DMACOH_EBUSY, "DMACOH_EBUSY", "busy: already declared, overlapping or in use"},
    {DMACOH_EEXIST, "DMACOH_EEXIST", "already exists"},
    {DMACOH_ENODEV, "DMACOH_ENODEV", "no such region, or declared memory not supported"},
    {DMACOH_EINVAL, "DMACOH_EINVAL", "invalid argument"},
    {DMACOH_ERANGE, "DMACOH_ERANGE", "address range out of bounds"},
    {DMACOH_EOVERFLOW, "DMACOH_EOVERFLOW", "size too large"},
    {DMACOH_ENOTSUP, "DMACOH_ENOTSUP", "not supported by the platform"},
    {DMACOH_ETIMEDOUT, "DMACOH_ETIMEDOUT", "timed out waiting for room"},
};

static const struct errdesc *find(int err)
{
    for (size_t i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
        if (errtab[i].code == err)
            return &errtab[i];
    return NULL;
}

const char *dmacoh_err_name(int err)
{
    const struct errdesc *d = find(err);

    return d ? d->name : "DMACOH_E?";
}

const char *dmacoh_strerror(int err)
{
    const struct errdesc *d = find(err);

    return d ? d->text : "unknown error";
}

unsigned dmacoh_version(void)
{
    return DMACOH_VERSION;
}
