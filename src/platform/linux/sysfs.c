/* SPDX-License-Identifier: MIT */
/*
 * sysfs.c - reading what the kernel exposes in files, shared by the Linux platforms: numbers
 * from sysfs attributes (UIO maps, device DAX), the BAR table of a PCI device's `resource`
 * file (start, end, flags per line; the kernel's IORESOURCE_* bits), the name behind a
 * `driver` or `iommu_group` link, PCI addresses as sysfs spells them, and the checked opening
 * of attribute files, resourceN files and device nodes.
 *
 * Those files are input the library does not control (a tree under a sysfs root given by the
 * caller, a node under a /dev root). None is followed through a symbolic link where the kernel
 * never makes one (O_NOFOLLOW), no open blocks (O_NONBLOCK: a FIFO in place of an attribute
 * would block a plain open forever), and each is checked with fstat to be what the kernel
 * makes before it is read or mapped. Numbers are read exactly as the kernel writes them; a
 * sign, a blank, trailing bytes or a line too long is refused, with the file (and line) in
 * the log, rather than read as something else.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define RES_IO       0x100u      /* IORESOURCE_IO */
#define RES_MEM      0x200u      /* IORESOURCE_MEM */
#define RES_PREFETCH 0x2000u     /* IORESOURCE_PREFETCH */
#define RES_MEM_64   0x100000u   /* IORESOURCE_MEM_64 */
#define RES_DISABLED 0x10000000u /* IORESOURCE_DISABLED */
#define RES_UNSET    0x20000000u /* IORESOURCE_UNSET: no address assigned */

bool dmacoh__linux_fake_nodes;

/* An open(2) failure as the library's code. */
static int open_error(int e)
{
    return (e == EACCES || e == EPERM) ? DMACOH_EACCES : -e;
}

/* Why st is not what the kernel makes (NULL when it is). */
static const char *mismatch(const struct stat *st, int kind, uint64_t min_size)
{
    if (kind == DMACOH__FILE_NODE) {
        if (S_ISCHR(st->st_mode))
            return NULL;
        if (!dmacoh__linux_fake_nodes || !S_ISREG(st->st_mode))
            return "is not a character device";
    } else if (!S_ISREG(st->st_mode)) {
        return "is not a regular file";
    }
    if ((uint64_t)st->st_size < min_size)
        return "is shorter than the memory it stands for (a mapping of it would fault)";
    return NULL;
}

int dmacoh__linux_open_checked(const char *path, int flags, int kind, uint64_t min_size)
{
    struct stat st;
    const char *why;
    int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

    if (fd < 0) {
        struct stat ls;

        if (errno != ELOOP)
            return open_error(errno);
        if (lstat(path, &ls) == 0 && S_ISLNK(ls.st_mode))
            dmacoh__err("%s is a symbolic link, where the kernel makes none: refused", path);
        else
            dmacoh__err("%s lies behind a loop of symbolic links: refused", path);
        return DMACOH_EIO;
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;

        close(fd);
        dmacoh__err("%s: fstat: %s", path, strerror(e));
        return -e;
    }
    why = mismatch(&st, kind, min_size);
    if (why) {
        close(fd);
        dmacoh__err("%s %s: refused", path, why);
        return DMACOH_EIO;
    }
    /* The flag was for the open; a node keeps its descriptor, and reads on it should block
     * as they would without the check. */
    if (kind == DMACOH__FILE_NODE && (flags = fcntl(fd, F_GETFL)) >= 0 &&
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        flags = -1;
    if (flags < 0) {
        int e = errno;

        close(fd);
        dmacoh__err("%s: fcntl: %s", path, strerror(e));
        return -e;
    }
    return fd;
}

/* Up to len - 1 bytes of a file opened as a regular file, NUL-terminated: the byte count, or a
 * negative code. A file with len - 1 bytes or more reads as len - 1 (the callers refuse it). */
static ssize_t read_all(int fd, char *buf, size_t len)
{
    size_t n = 0;

    while (n < len - 1) {
        ssize_t r = read(fd, buf + n, len - 1 - n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

/* The first line of text, made printable, for a log line. */
static const char *printable(char *s, size_t max)
{
    size_t i;

    for (i = 0; s[i] && s[i] != '\n' && i < max; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            s[i] = '?';
    s[i] = '\0';
    return s;
}

static int hex_digit(char c)
{
    return (c >= '0' && c <= '9')   ? c - '0'
           : (c >= 'a' && c <= 'f') ? c - 'a' + 10
           : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                    : -1;
}

/*
 * A number as the kernel prints one: decimal ("%llu"; no leading zero, which strtoull would
 * read as octal) or hexadecimal after 0x ("%#llx", "%pa"). No sign, no blank, no overflow.
 * Returns the bytes consumed, or 0 when s does not start with such a number.
 */
static size_t parse_u64(const char *s, uint64_t *v)
{
    unsigned base = 10;
    size_t i = 0, first;
    uint64_t x = 0;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    } else if (s[0] == '0' && hex_digit(s[1]) >= 0 && hex_digit(s[1]) < 10) {
        return 0;
    }
    for (first = i;; i++) {
        int d = hex_digit(s[i]);

        if (d < 0 || (unsigned)d >= base)
            break;
        if (x > (UINT64_MAX - (unsigned)d) / base)
            return 0;
        x = x * base + (unsigned)d;
    }
    if (i == first)
        return 0;
    *v = x;
    return i;
}

int dmacoh__linux_read_u64(const char *path, uint64_t *v)
{
    char buf[64];
    ssize_t n;
    size_t used;
    int fd = dmacoh__linux_open_checked(path, O_RDONLY, DMACOH__FILE_REGULAR, 0);

    if (fd < 0)
        return fd;
    n = read_all(fd, buf, sizeof(buf));
    close(fd);
    if (n < 0)
        return (int)n;
    used = parse_u64(buf, v);
    /* Counted against n, not the NUL: a NUL byte in the file does not end it early. */
    if (!used || (size_t)n == sizeof(buf) - 1 ||
        !((size_t)n == used || ((size_t)n == used + 1 && buf[used] == '\n'))) {
        dmacoh__err("%s: '%s' is not a number as the kernel writes one (decimal, or hexadecimal "
                    "after 0x, alone on its line): refused",
                    path, printable(buf, 40));
        return DMACOH_EIO;
    }
    return 0;
}

/* "major:minor" as the kernel writes a `dev` attribute, alone on its line; false if not. */
static bool parse_devnum(const char *buf, uint64_t *maj, uint64_t *min)
{
    size_t a = parse_u64(buf, maj), b;

    if (!a || buf[a] != ':')
        return false;
    b = parse_u64(buf + a + 1, min);
    buf += a + 1 + b;
    return b && (!strcmp(buf, "") || !strcmp(buf, "\n"));
}

int dmacoh__linux_node_is(int fd, const char *node, const char *sysdir)
{
    char path[PATH_MAX], buf[32];
    uint64_t maj, min;
    struct stat st;
    ssize_t n;
    int afd;

    if (fstat(fd, &st) != 0)
        return -errno;
    if (S_ISREG(st.st_mode) && dmacoh__linux_fake_nodes)
        return 0; /* a test's stand-in: it has no number to compare */
    if ((size_t)snprintf(path, sizeof(path), "%s/dev", sysdir) >= sizeof(path))
        return DMACOH_EIO;
    afd = dmacoh__linux_open_checked(path, O_RDONLY, DMACOH__FILE_REGULAR, 0);
    n = afd < 0 ? afd : read_all(afd, buf, sizeof(buf));
    if (afd >= 0)
        close(afd);
    if (n < 0 || !parse_devnum(buf, &maj, &min)) {
        dmacoh__err("%s: cannot read the device number that %s must have: refused", path, node);
        return DMACOH_EIO;
    }
    if (major(st.st_rdev) != maj || minor(st.st_rdev) != min) {
        dmacoh__err("%s is character device %u:%u, not %llu:%llu as %s says: refused", node,
                    major(st.st_rdev), minor(st.st_rdev), (unsigned long long)maj,
                    (unsigned long long)min, path);
        return DMACOH_EIO;
    }
    return 0;
}

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

/* One line of a sysfs resource file as the kernel prints it ("0x%016llx 0x%016llx 0x%016llx\n":
 * start, end, flags) into v[3]: NULL, or why the line is not that. */
static const char *parse_resource_line(const char *line, unsigned long long v[3])
{
    const char *p = line;

    for (int i = 0; i < 3; i++) {
        uint64_t x;
        size_t n = (p[0] == '0' && p[1] == 'x') ? parse_u64(p, &x) : 0;

        if (!n)
            return i ? "a field is not a hexadecimal number after 0x"
                     : "the line does not start with a hexadecimal number after 0x";
        v[i] = x;
        p += n;
        if (*p != (i < 2 ? ' ' : '\n'))
            return i < 2 ? "fields are not separated by one space"
                         : "something follows the third number";
        p++;
    }
    return NULL;
}

/* One BAR from its line; an unset or disabled one is unused, with a warning. */
static void set_bar(struct dmacoh__pci_bar *b, const unsigned long long v[3], const char *path,
                    int line, const char *who)
{
    unsigned long long start = v[0], end = v[1], flags = v[2];

    b->start = start;
    b->size = (end > start) ? end - start + 1 : 0;
    if (b->size && (flags & (RES_UNSET | RES_DISABLED))) {
        /* The kernel keeps such a BAR's size but no address (start counts from 0). */
        dmacoh__warn("%s: %s line %d: BAR %d is flagged %s (flags %#llx): not usable", who, path,
                     line, line - 1, (flags & RES_UNSET) ? "unset" : "disabled", flags);
        b->size = 0;
    }
    b->kind = !b->size                 ? DMACOH_PCI_BAR_UNUSED
              : (flags & RES_IO)       ? DMACOH_PCI_BAR_IO
              : !(flags & RES_MEM)     ? DMACOH_PCI_BAR_UNUSED
              : (flags & RES_PREFETCH) ? DMACOH_PCI_BAR_MEM_PREF
                                       : DMACOH_PCI_BAR_MEM;
    b->is64 = (flags & RES_MEM_64) != 0;
}

/* The six BAR lines of buf (the file's first bytes, NUL-terminated). */
static int parse_bars(char *buf, const char *path, const char *who,
                      struct dmacoh__pci_bar bar[DMACOH_PCI_NBARS])
{
    /* The kernel's lines are 57 bytes; room for that and no more keeps a line that is too
     * long from being read as two. */
    enum { MAX_LINE = 3 * 18 + 2 + 1 };
    char *line = buf;

    for (int n = 0; n < (int)DMACOH_PCI_NBARS; n++) {
        char *nl = strchr(line, '\n');
        unsigned long long v[3];
        const char *why;

        if (!*line) {
            dmacoh__err("%s: %s has %d BAR lines, expected at least %u", who, path, n,
                        DMACOH_PCI_NBARS);
            return DMACOH_EIO;
        }
        why = (!nl || nl - line + 1 > MAX_LINE) ? "the line is longer than the kernel writes one"
                                                : parse_resource_line(line, v);
        if (why) {
            dmacoh__err("%s: %s line %d ('%s'): %s: refused", who, path, n + 1, printable(line, 60),
                        why);
            return DMACOH_EIO;
        }
        set_bar(&bar[n], v, path, n + 1, who);
        line = nl + 1;
    }
    return 0;
}

int dmacoh__pci_read_bars(const char *dir, const char *who,
                          struct dmacoh__pci_bar bar[DMACOH_PCI_NBARS])
{
    char path[PATH_MAX + 16], buf[DMACOH_PCI_NBARS * 64 + 1];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "%s/resource", dir);
    fd = dmacoh__linux_open_checked(path, O_RDONLY, DMACOH__FILE_REGULAR, 0);
    if (fd < 0) {
        if (fd != DMACOH_EIO)
            dmacoh__err("%s: cannot read %s: %s", who, path, dmacoh_strerror(fd));
        return fd;
    }
    n = read_all(fd, buf, sizeof(buf));
    close(fd);
    if (n < 0) {
        dmacoh__err("%s: cannot read %s: %s", who, path, dmacoh_strerror((int)n));
        return (int)n;
    }
    return parse_bars(buf, path, who, bar);
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

long dmacoh__linux_read_file(const char *path, char *buf, size_t len)
{
    ssize_t n;
    int fd = dmacoh__linux_open_checked(path, O_RDONLY, DMACOH__FILE_REGULAR, 0);

    if (fd < 0)
        return fd;
    n = read_all(fd, buf, len);
    close(fd);
    if (n >= 0 && (size_t)n == len - 1) {
        dmacoh__err("%s holds more than the %zu bytes such a file has: refused", path, len - 2);
        return DMACOH_ERANGE;
    }
    return (long)n;
}

/* strcmp, but runs of digits compare by value ("uio2" < "uio10"). */
static int natural_cmp(const void *pa, const void *pb)
{
    const char *a = pa, *b = pb;

    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            size_t la, lb;
            int c;

            while (*a == '0' && a[1] >= '0' && a[1] <= '9')
                a++;
            while (*b == '0' && b[1] >= '0' && b[1] <= '9')
                b++;
            la = strspn(a, "0123456789");
            lb = strspn(b, "0123456789");
            if (la != lb)
                return la < lb ? -1 : 1;
            c = strncmp(a, b, la);
            if (c)
                return c;
            a += la;
            b += lb;
            continue;
        }
        if (*a != *b)
            break;
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

int dmacoh__linux_list_dir(const char *path, char (**names)[256], size_t *n)
{
    char(*v)[256] = NULL;
    size_t cap = 0, used = 0;
    struct dirent *e;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);

    if (!d) {
        int err = open_error(errno);

        if (fd >= 0)
            close(fd);
        return err;
    }
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (strlen(e->d_name) >= 256) {
            dmacoh__warn("%s: an entry of %zu bytes: skipped", path, strlen(e->d_name));
            continue;
        }
        if (used == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char(*nv)[256] = realloc(v, ncap * sizeof(*v));

            if (!nv) {
                free(v);
                closedir(d);
                return DMACOH_ENOMEM;
            }
            v = nv;
            cap = ncap;
        }
        memcpy(v[used++], e->d_name, strlen(e->d_name) + 1);
    }
    closedir(d);
    if (used)
        qsort(v, used, sizeof(*v), natural_cmp);
    *names = v;
    *n = used;
    return 0;
}
