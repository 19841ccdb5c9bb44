/* SPDX-License-Identifier: MIT */
/*
 * export.c - handing a block to another process over a Unix socket (dmacoh/linux_export.h).
 *
 * The sender asks the core which file holds the block (dmacoh_block_file) and sends one
 * message: a fixed header and the file's descriptor as SCM_RIGHTS. The receiver trusts
 * nothing in it. It reads into a buffer of exactly the header's size (a longer datagram is
 * flagged MSG_TRUNC; on a stream socket the bytes after it belong to the next message), with
 * room for several descriptors so that a message carrying more than one is seen and every
 * one of them closed rather than silently cut off; descriptors arrive close-on-exec
 * (MSG_CMSG_CLOEXEC), so a fork+exec in another thread cannot inherit them. The header's
 * numbers are checked for wrap-around before anything is computed from them, the file's kind
 * and size with fstat (a file the sender could shrink under the mapping is refused: SIGBUS in
 * the receiver), and only then is the block mapped, at an address aligned to the header's
 * align (device DAX refuses misaligned mappings). One failure path per step, and every
 * received descriptor is closed on every path.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "../../core/internal.h" /* dmacoh__err: a backend's errors reach the same log */

#include <dmacoh/linux_export.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FDS     8            /* descriptors a message may carry before MSG_CTRUNC */
#define ALIGN_MAX   (1ull << 30) /* the largest mapping unit accepted (1 GiB pages) */
#define SYSFS_MAGIC 0x62656572u  /* statfs f_type of sysfs (linux/magic.h) */
#define MEM_MAJOR   1u           /* the kernel's memory devices: mem, kmem, port, ... */

_Static_assert(sizeof(struct dmacoh_block_msg) == 56, "the header has no padding");

static int send_msg(int sock, struct dmacoh_block_msg *h, int fd)
{
    int r = dmacoh__linux_send_fds(sock, h, sizeof(*h), &fd, 1);

    if (r)
        dmacoh__err("block send: sending on socket %d failed: %s", sock, dmacoh_strerror(r));
    return r;
}

int dmacoh_block_send(int sock, struct dmacoh_device *dev, void *cpu, size_t size,
                      dmacoh_dma_addr_t handle)
{
    struct dmacoh_file_range fr;
    struct dmacoh_block_msg h;
    int r;

    if (sock < 0) {
        dmacoh__err("block send: socket %d is not a descriptor", sock);
        return DMACOH_EINVAL;
    }
    r = dmacoh_block_file(dev, cpu, size, handle, &fr);
    if (r)
        return r;
    memset(&h, 0, sizeof(h));
    h.magic = DMACOH_BLOCK_MSG_MAGIC;
    h.version = DMACOH_BLOCK_MSG_VERSION;
    h.mode = (uint32_t)fr.mode;
    h.size = size;
    h.handle = handle;
    h.offset = fr.offset;
    h.delta = fr.delta;
    h.align = fr.align;
    r = send_msg(sock, &h, fr.fd);
    if (fr.close_fd)
        close(fr.fd);
    return r;
}

static void close_fds(const int *fds, unsigned n)
{
    for (unsigned i = 0; i < n && i < MAX_FDS; i++)
        dmacoh__linux_close_received(fds[i]);
}

/* Receives one message into h: its one descriptor in *fd, or an error with none left open. */
static int recv_msg(int sock, struct dmacoh_block_msg *h, int *fd)
{
    union {
        /* Room for a credential and a pidfd too (SO_PASSCRED, SO_PASSPIDFD on the socket),
         * so that the descriptors are not cut off behind them. */
        char buf[CMSG_SPACE(MAX_FDS * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred)) +
                 CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {h, sizeof(*h)};
    struct msghdr msg;
    int fds[MAX_FDS];
    unsigned nfds;
    ssize_t n;

    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof(ctl.buf);
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        int r = -errno;

        dmacoh__err("block receive: recvmsg on socket %d failed: %s", sock, dmacoh_strerror(r));
        return r;
    }
    nfds = dmacoh__linux_take_fds(&msg, fds, MAX_FDS);
    if (n != (ssize_t)sizeof(*h) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || nfds != 1) {
        close_fds(fds, nfds);
        if (n == 0 && nfds == 0) {
            dmacoh__err("block receive: the peer closed socket %d", sock);
            return DMACOH_EIO;
        }
        dmacoh__err("block receive: malformed message on socket %d: %zu bytes (the header is "
                    "%zu)%s, %u descriptor(s)%s (exactly one expected)",
                    sock, (size_t)n, sizeof(*h), (msg.msg_flags & MSG_TRUNC) ? " and more" : "",
                    nfds, (msg.msg_flags & MSG_CTRUNC) ? " and more" : "");
        return DMACOH_EINVAL;
    }
    *fd = fds[0];
    return 0;
}

/* The header's fields on their own; *len receives the bytes to map. */
static int check_header(const struct dmacoh_block_msg *h, uint64_t *len)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), end;

    if (h->magic != DMACOH_BLOCK_MSG_MAGIC || h->version != DMACOH_BLOCK_MSG_VERSION ||
        (h->mode != DMACOH_MEMORY_MAP && h->mode != DMACOH_MEMORY_IO) || h->flags != 0 ||
        h->size == 0 || !dmacoh__is_pow2(h->align) || h->align < page || h->align > ALIGN_MAX ||
        (h->offset & (h->align - 1))) {
        dmacoh__err("block receive: not a valid header: magic %#x version %u mode %#x flags %#x "
                    "size %#llx align %#llx offset %#llx",
                    h->magic, h->version, h->mode, h->flags, (unsigned long long)h->size,
                    (unsigned long long)h->align, (unsigned long long)h->offset);
        return DMACOH_EINVAL;
    }
    /* delta + size rounded up to align, then offset + that: each step checked for wrap, and
     * the result must fit a size_t and an off_t. */
    if (h->delta > UINT64_MAX - h->size || h->delta + h->size > UINT64_MAX - (h->align - 1) ||
        ((h->delta + h->size + h->align - 1) & ~(h->align - 1)) > SIZE_MAX ||
        h->offset > (uint64_t)INT64_MAX ||
        ((h->delta + h->size + h->align - 1) & ~(h->align - 1)) > (uint64_t)INT64_MAX - h->offset ||
        h->handle > UINT64_MAX - (h->size - 1)) {
        dmacoh__err("block receive: offset %#llx + delta %#llx + size %#llx (handle %#llx) "
                    "overflows",
                    (unsigned long long)h->offset, (unsigned long long)h->delta,
                    (unsigned long long)h->size, (unsigned long long)h->handle);
        return DMACOH_EOVERFLOW;
    }
    end = (h->delta + h->size + h->align - 1) & ~(h->align - 1);
    *len = end;
    return 0;
}

/* A regular file the sender cannot shrink under the mapping: sealed, or sysfs. */
static bool fixed_size(int fd)
{
    struct statfs sf;
    int seals = fcntl(fd, F_GET_SEALS);

    if (seals >= 0)
        return (seals & F_SEAL_SHRINK) != 0;
    if (fstatfs(fd, &sf) == 0 && (uint64_t)sf.f_type == SYSFS_MAGIC)
        return true;
    return dmacoh__linux_fake_nodes; /* the unit tests' stand-ins for resourceN and nodes */
}

/* What the descriptor is, and whether [offset, offset + len) may be mapped from it. */
/* A character device is taken only when it is a device DAX node or a UIO node (their
 * drivers answer a mapping past the memory with an error, or, for DAX, the size is checked
 * here: a fault past a DAX device's end is SIGBUS): which, sysfs says. */
static int check_node(const struct stat *st, uint64_t offset, uint64_t len)
{
    char path[96], link[PATH_MAX];
    const char *sub;
    ssize_t n;
    uint64_t size;

    (void)snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/subsystem", major(st->st_rdev),
                   minor(st->st_rdev));
    n = readlink(path, link, sizeof(link) - 1);
    if (n <= 0) {
        dmacoh__err("block receive: the descriptor is character device %u:%u, which sysfs does "
                    "not name: refused (a device DAX or UIO node is expected)",
                    major(st->st_rdev), minor(st->st_rdev));
        return DMACOH_EINVAL;
    }
    link[n] = '\0';
    sub = strrchr(link, '/');
    sub = sub ? sub + 1 : link;
    if (strcmp(sub, "uio") == 0)
        return 0; /* the UIO driver refuses a mapping larger than its map */
    if (strcmp(sub, "dax") != 0) {
        dmacoh__err("block receive: the descriptor is a %s device: refused (a device DAX or UIO "
                    "node is expected)",
                    sub);
        return DMACOH_EINVAL;
    }
    (void)snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/size", major(st->st_rdev),
                   minor(st->st_rdev));
    if (dmacoh__linux_read_u64(path, &size) != 0 || size < offset || size - offset < len) {
        dmacoh__err("block receive: the mapping %#llx+%#llx is not inside the DAX device (%s)",
                    (unsigned long long)offset, (unsigned long long)len, path);
        return DMACOH_ERANGE;
    }
    return 0;
}

static bool on_hugetlbfs(int fd)
{
    struct statfs fs;

    return fstatfs(fd, &fs) == 0 && (unsigned long)fs.f_type == 0x958458f6ul; /* HUGETLBFS_MAGIC */
}

static int check_file(int fd, uint64_t offset, uint64_t len)
{
    struct stat st;

    if (fstat(fd, &st) != 0) {
        int r = -errno;

        dmacoh__err("block receive: fstat of the received descriptor failed: %s",
                    dmacoh_strerror(r));
        return r;
    }
    if (S_ISCHR(st.st_mode) && major(st.st_rdev) == MEM_MAJOR) {
        dmacoh__err("block receive: the descriptor is the memory device %u:%u (/dev/mem, "
                    "/dev/kmem, ...): refused, it is not memory of one block",
                    major(st.st_rdev), minor(st.st_rdev));
        return DMACOH_EPERM;
    }
    if (S_ISCHR(st.st_mode))
        return check_node(&st, offset, len);
    if (S_ISREG(st.st_mode) && on_hugetlbfs(fd)) {
        dmacoh__err("block receive: the descriptor is a file of hugetlbfs: refused (its "
                    "sender can punch holes that a later fault here cannot fill: SIGBUS)");
        return DMACOH_EINVAL;
    }
    if (!S_ISREG(st.st_mode) || !fixed_size(fd)) {
        dmacoh__err("block receive: the descriptor is %s: refused (a memfd sealed against "
                    "shrinking, a sysfs resource file or a character device is expected; "
                    "a file the sender can shrink would crash this process with SIGBUS)",
                    S_ISREG(st.st_mode) ? "a regular file that is not sealed against shrinking"
                                        : "not a file or device");
        return DMACOH_EINVAL;
    }
    if ((uint64_t)st.st_size < offset || (uint64_t)st.st_size - offset < len) {
        dmacoh__err("block receive: the mapping %#llx+%#llx reaches past the file's end (%#llx)",
                    (unsigned long long)offset, (unsigned long long)len,
                    (unsigned long long)st.st_size);
        return DMACOH_ERANGE;
    }
    return 0;
}

/* Maps len bytes of fd from offset at an address aligned to align: *base, or an error. */
static int map_aligned(int fd, uint64_t offset, size_t len, uint64_t align, void **base)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), span = len + (size_t)align - page;
    char *res, *at, *p;

    if (span < len)
        return DMACOH_EOVERFLOW; /* 32-bit: no room to slide a large unit in */
    /* Reserve room to slide to an aligned address, then map over the reservation there. */
    res = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED)
        return -errno;
    at = (char *)(((uintptr_t)res + (uintptr_t)(align - 1)) & ~(uintptr_t)(align - 1));
    p = dmacoh__linux_mmap_fn(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
                              (int64_t)offset);
    if (p == MAP_FAILED) {
        int r = -errno;

        munmap(res, span);
        return r;
    }
    if (at > res)
        munmap(res, (size_t)(at - res));
    if (res + span > at + len)
        munmap(at + len, (size_t)(res + span - (at + len)));
    *base = at;
    return 0;
}

int dmacoh_block_receive(int sock, struct dmacoh_imported_block *out)
{
    struct dmacoh_block_msg h;
    uint64_t len = 0;
    void *base = NULL;
    int fd = -1, r;

    if (sock < 0 || !out) {
        dmacoh__err("block receive: %s", sock < 0 ? "socket is not a descriptor" : "out is NULL");
        return DMACOH_EINVAL;
    }
    memset(&h, 0, sizeof(h)); /* recvmsg may fill less of it: refused then, never read */
    r = recv_msg(sock, &h, &fd);
    if (r)
        return r;
    r = check_header(&h, &len);
    if (!r)
        r = check_file(fd, h.offset, len);
    if (!r) {
        r = map_aligned(fd, h.offset, (size_t)len, h.align, &base);
        if (r)
            dmacoh__err("block receive: mmap of %#llx bytes at file offset %#llx failed: %s",
                        (unsigned long long)len, (unsigned long long)h.offset, dmacoh_strerror(r));
    }
    dmacoh__linux_close_received(fd);
    if (r)
        return r;
    out->base = base;
    out->len = (size_t)len;
    out->cpu = (char *)base + h.delta;
    out->size = (size_t)h.size;
    out->handle = h.handle;
    out->mode = (int)h.mode;
    dmacoh__dbg("block receive: %zu bytes, handle %#llx, at %p", out->size,
                (unsigned long long)out->handle, out->cpu);
    return 0;
}

int dmacoh_block_unmap(struct dmacoh_imported_block *b)
{
    if (!b || !b->base || !b->len) {
        dmacoh__err("block unmap: %s", b ? "not a mapped block" : "NULL block");
        return DMACOH_EINVAL;
    }
    munmap(b->base, b->len);
    memset(b, 0, sizeof(*b));
    return 0;
}
