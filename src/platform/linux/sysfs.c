/* SPDX-License-Identifier: MIT */
/*
 * sysfs.c - sysfs reading shared by the PCI backends (pci_sysfs.c, vfio.c): the name behind a
 * `driver` or `iommu_group` link, PCI addresses as sysfs spells them, and the BAR table of a
 * device's `resource` file (start, end, flags per line; the kernel's IORESOURCE_* bits).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RES_IO       0x100u  /* IORESOURCE_IO */
#define RES_MEM      0x200u  /* IORESOURCE_MEM */
#define RES_PREFETCH 0x2000u /* IORESOURCE_PREFETCH */

int dmacoh__linux_link_name(const char *link, char *name, size_t len)
{
    char target[PATH_MAX];
    const char *base;
    ssize_t n = readlink(link, target, sizeof(target) - 1);

    if (n <= 0)
        return n < 0 ? -errno : DMACOH_EIO;
    target[n] = '\0';
    base = strrchr(target, '/');
    base = base ? base + 1 : target;
    if (strlen(base) >= len)
        return DMACOH_ERANGE;
    memcpy(name, base, strlen(base) + 1);
    return 0;
}

static bool lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* "DDDD:BB:DD.F": lower-case hex, a domain of 4 to 8 digits (VMD domains have 5), function
 * 0-7; nothing else. */
bool dmacoh__pci_bdf_ok(const char *s)
{
    static const char tail[] = ":xx:xx.f";
    size_t n = s ? strlen(s) : 0, dom = n > sizeof(tail) - 1 ? n - (sizeof(tail) - 1) : 0;

    if (dom < 4 || dom > 8)
        return false;
    for (size_t i = 0; i < dom; i++)
        if (!lower_hex(s[i]))
            return false;
    for (size_t i = 0; tail[i]; i++) {
        char c = s[dom + i];

        if (tail[i] == 'x' ? !lower_hex(c) : tail[i] == 'f' ? (c < '0' || c > '7') : c != tail[i])
            return false;
    }
    return true;
}

/* One line of a sysfs resource file: three hexadecimal numbers. False at the end of the file
 * or on a line that is not that (strtoull reports what fscanf's %llx would not: overflow). */
static bool read_resource_line(FILE *f, unsigned long long *start, unsigned long long *end,
                               unsigned long long *flags)
{
    unsigned long long v[3];
    char line[128], *p = line, *next;

    if (!fgets(line, sizeof(line), f))
        return false;
    for (int i = 0; i < 3; i++) {
        errno = 0;
        v[i] = strtoull(p, &next, 16);
        if (next == p || errno == ERANGE)
            return false;
        p = next;
    }
    *start = v[0];
    *end = v[1];
    *flags = v[2];
    return true;
}

int dmacoh__pci_read_bars(const char *dir, const char *who,
                          struct dmacoh__pci_bar bar[DMACOH_PCI_NBARS])
{
    char path[PATH_MAX + 16];
    unsigned long long start, end, flags;
    FILE *f;
    int n = 0;

    snprintf(path, sizeof(path), "%s/resource", dir);
    f = fopen(path, "re");
    if (!f) {
        int e = errno;

        dmacoh__err("%s: cannot read %s: %s", who, path, strerror(e));
        return (e == EACCES || e == EPERM) ? DMACOH_EACCES : -e;
    }
    while (n < (int)DMACOH_PCI_NBARS && read_resource_line(f, &start, &end, &flags)) {
        struct dmacoh__pci_bar *b = &bar[n++];

        b->start = start;
        b->size = (end > start) ? end - start + 1 : 0;
        b->kind = !b->size                 ? DMACOH_PCI_BAR_UNUSED
                  : (flags & RES_IO)       ? DMACOH_PCI_BAR_IO
                  : !(flags & RES_MEM)     ? DMACOH_PCI_BAR_UNUSED
                  : (flags & RES_PREFETCH) ? DMACOH_PCI_BAR_MEM_PREF
                                           : DMACOH_PCI_BAR_MEM;
    }
    fclose(f);
    if (n < (int)DMACOH_PCI_NBARS) {
        dmacoh__err("%s: %s has %d BAR lines, expected at least %u", who, path, n,
                    DMACOH_PCI_NBARS);
        return DMACOH_EIO;
    }
    return 0;
}

int dmacoh__pci_bar_for(const struct dmacoh__pci_bar bar[DMACOH_PCI_NBARS], uint64_t bus,
                        uint64_t size)
{
    for (int i = 0; i < (int)DMACOH_PCI_NBARS; i++) {
        const struct dmacoh__pci_bar *b = &bar[i];

        if ((b->kind == DMACOH_PCI_BAR_MEM || b->kind == DMACOH_PCI_BAR_MEM_PREF) &&
            bus >= b->start && bus - b->start < b->size && size <= b->size - (bus - b->start))
            return i;
    }
    return -1;
}

int dmacoh__pci_bar_get(const struct dmacoh__pci_bar bar[DMACOH_PCI_NBARS], unsigned n,
                        dmacoh_phys_addr_t *bus, uint64_t *size, int *kind)
{
    if (n >= DMACOH_PCI_NBARS)
        return DMACOH_EINVAL;
    if (bar[n].kind == DMACOH_PCI_BAR_UNUSED)
        return DMACOH_ENOENT;
    if (bus)
        *bus = bar[n].start;
    if (size)
        *size = bar[n].size;
    if (kind)
        *kind = bar[n].kind;
    return 0;
}
