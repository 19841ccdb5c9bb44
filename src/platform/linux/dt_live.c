/* SPDX-License-Identifier: MIT */
/*
 * dt_live.c - the devicetree reader's Linux loaders, part two: the kernel's unflattened live
 * tree (/sys/firmware/devicetree/base: a directory per node, a file per property, values as
 * in the blob) turned back into a flattened blob with libfdt's sequential-write functions, so
 * that one reader (src/dt) serves a DTB file, firmware's blob and the running system alike.
 * The live tree matters because it shows what the kernel decided at boot: a dynamically
 * placed reserved-memory node (`size`, no `reg` in the DTB) carries a `reg` there.
 *
 * A node's properties come first in a blob, then its subnodes, so each directory is listed
 * once (in name order, dmacoh__linux_list_dir) and walked twice: regular files, then
 * directories. Symbolic links and other entries are skipped; the `name` files the kernel
 * adds to every node are left out (a blob keeps names in its nodes), and so, with a warning,
 * is a property this process may not read (`security-*` ones are root's only). A property
 * is read to its end: sysfs gives at most a page per read(2). The walk goes at most
 * DMACOH_DT_MAX_DEPTH levels deep and uses one path buffer grown and cut back in place, so a
 * level costs little stack. The blob starts at 64 KiB and doubles (fdt_resize) whenever
 * libfdt says it is full.
 */
#include <dmacoh/devicetree.h>
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err */

#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROP_MAX (1u << 20)  /* bytes of one property file */
#define BLOB_MAX (64u << 20) /* bytes of the whole blob */

struct walk {
    void *blob; /* 8-byte aligned (aligned_alloc) */
    int cap;
    char path[PATH_MAX];
};

/* Doubles the blob after libfdt said NOSPACE; 0 or a negative code. */
static int grow(struct walk *w)
{
    void *nb;
    int rc;

    if ((unsigned)w->cap >= BLOB_MAX) {
        dmacoh__err("devicetree: the live tree makes a blob larger than 64 MiB");
        return DMACOH_ENOMEM;
    }
    nb = aligned_alloc(8, (size_t)w->cap * 2);
    if (!nb)
        return DMACOH_ENOMEM;
    rc = fdt_resize(w->blob, nb, w->cap * 2);
    if (rc != 0) {
        free(nb);
        dmacoh__err("devicetree: fdt_resize: %s", fdt_strerror(rc));
        return DMACOH_EINVAL;
    }
    free(w->blob);
    w->blob = nb;
    w->cap *= 2;
    return 0;
}

enum op { BEGIN, PROP, END };

/* One sequential-write call, retried after growing the blob while libfdt says NOSPACE. */
static int sw(struct walk *w, enum op op, const char *name, const void *val, int len)
{
    int rc;

    for (;;) {
        if (op == BEGIN)
            rc = fdt_begin_node(w->blob, name);
        else if (op == PROP)
            rc = fdt_property(w->blob, name, val, len);
        else
            rc = fdt_end_node(w->blob);
        if (rc != -FDT_ERR_NOSPACE)
            break;
        if ((rc = grow(w)) != 0)
            return rc;
    }
    if (rc != 0) {
        dmacoh__err("devicetree: %s: %s", w->path, fdt_strerror(rc));
        return DMACOH_EINVAL;
    }
    return 0;
}

/* Copies the property file at w->path into the blob as `name`. */
static int property(struct walk *w, const char *name, const struct stat *sb)
{
    char *val;
    ssize_t n = 0;
    int fd, rc;

    if (sb->st_size < 0 || (uint64_t)sb->st_size > PROP_MAX) {
        dmacoh__err("devicetree: %s: a property larger than 1 MiB", w->path);
        return DMACOH_EINVAL;
    }
    fd = open(w->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    /* The kernel shows `security-*` properties to root only (mode 0400): a reader without
     * that right leaves them out, as it would any property it may not read, rather than
     * losing the whole tree. A `reg` left out makes its region refused, never misplaced. */
    if (fd < 0 && (errno == EACCES || errno == EPERM)) {
        dmacoh__warn("devicetree: %s: not readable here (%s), left out", w->path,
                     dmacoh_err_name(-errno));
        return 0;
    }
    if (fd < 0) {
        rc = -errno;
        dmacoh__err("devicetree: %s: cannot open (%s)", w->path, dmacoh_err_name(rc));
        return rc;
    }
    val = malloc((size_t)sb->st_size + 1);
    rc = val ? 0 : DMACOH_ENOMEM;
    /* sysfs hands a property over at most a page per read(2): read to the end (one byte past
     * the size stat gave, to see a file that grew). */
    while (rc == 0 && n <= sb->st_size) {
        ssize_t got = read(fd, val + n, (size_t)(sb->st_size + 1 - n));

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = -errno;
        else if (got == 0)
            break;
        else
            n += got;
    }
    close(fd);
    if (rc == 0 && n != sb->st_size) {
        dmacoh__err("devicetree: %s: read %zd bytes of %lld", w->path, n, (long long)sb->st_size);
        rc = DMACOH_EIO;
    }
    if (rc == 0)
        rc = sw(w, PROP, name, val, (int)n);
    free(val);
    return rc;
}

static int node(struct walk *w, int depth);

/* Entry `name` of the directory at w->path, in pass 0 (properties) or 1 (subnodes). */
static int one(struct walk *w, const char *name, int pass, int depth)
{
    size_t len = strlen(w->path), nlen = strlen(name);
    struct stat sb;
    int rc = 0;

    if (len + 1 + nlen >= sizeof(w->path)) {
        dmacoh__warn("devicetree: %s/%s: path too long, left out", w->path, name);
        return 0;
    }
    w->path[len] = '/';
    memcpy(w->path + len + 1, name, nlen + 1);
    if (lstat(w->path, &sb) != 0)
        rc = -errno;
    else if (pass == 0 && S_ISREG(sb.st_mode) && strcmp(name, "name") != 0)
        rc = property(w, name, &sb);
    else if (pass == 1 && S_ISDIR(sb.st_mode) && depth >= DMACOH_DT_MAX_DEPTH)
        dmacoh__warn("devicetree: %s: deeper than %d levels, left out", w->path,
                     DMACOH_DT_MAX_DEPTH);
    else if (pass == 1 && S_ISDIR(sb.st_mode)) {
        if ((rc = sw(w, BEGIN, name, NULL, 0)) == 0 && (rc = node(w, depth + 1)) == 0)
            rc = sw(w, END, NULL, NULL, 0);
    }
    if (rc < 0 && rc != DMACOH_ENOMEM && rc != DMACOH_EINVAL && rc != DMACOH_EIO)
        dmacoh__err("devicetree: %s: %s", w->path, dmacoh_err_name(rc));
    w->path[len] = '\0';
    return rc;
}

/* The properties, then the subnodes, of the node whose directory is w->path. */
static int node(struct walk *w, int depth)
{
    char(*names)[256];
    size_t n;
    int rc = dmacoh__linux_list_dir(w->path, &names, &n);

    if (rc != 0) {
        dmacoh__err("devicetree: %s: cannot list (%s)", w->path, dmacoh_err_name(rc));
        return rc;
    }
    for (int pass = 0; pass < 2 && rc == 0; pass++)
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = one(w, names[i], pass, depth);
    free(names);
    return rc;
}

int dmacoh_dt_open_live(struct dmacoh_dt *dt, const char *dir)
{
    struct walk *w;
    int rc;

    if (!dt) {
        dmacoh__err("devicetree: NULL argument");
        return DMACOH_EINVAL;
    }
    dir = dir ? dir : DMACOH_DT_LIVE_ROOT;
    w = calloc(1, sizeof(*w));
    if (!w || strlen(dir) >= sizeof(w->path) || !(w->blob = aligned_alloc(8, 64u << 10))) {
        free(w);
        return DMACOH_ENOMEM;
    }
    w->cap = 64 << 10;
    memcpy(w->path, dir, strlen(dir) + 1);
    rc = fdt_create(w->blob, w->cap);
    rc = rc ? rc : fdt_finish_reservemap(w->blob);
    if (rc != 0) {
        dmacoh__err("devicetree: fdt_create: %s", fdt_strerror(rc));
        rc = DMACOH_EINVAL;
    } else if ((rc = sw(w, BEGIN, "", NULL, 0)) == 0 && (rc = node(w, 0)) == 0 &&
               (rc = sw(w, END, NULL, NULL, 0)) == 0) {
        rc = fdt_finish(w->blob);
        if (rc != 0)
            dmacoh__err("devicetree: fdt_finish: %s", fdt_strerror(rc));
        rc = rc ? DMACOH_EINVAL : dmacoh_dt_init(dt, w->blob, fdt_totalsize(w->blob));
    }
    if (rc == 0) {
        dt->live = true;
        dt->owned = w->blob;
    } else
        free(w->blob);
    free(w);
    return rc;
}
