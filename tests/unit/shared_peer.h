/* SPDX-License-Identifier: MIT */
/*
 * shared_peer.h - what tests/unit/test_shared_exec.c and the program it runs,
 * tests/unit/shared_peer.c, say to each other over their Unix socket (a SOCK_SEQPACKET pair:
 * one message each way, the first carrying the device memory's descriptor as SCM_RIGHTS).
 * Both are built for the same CPU, so the messages are plain structs.
 */
#ifndef DMACOH_TEST_SHARED_PEER_H
#define DMACOH_TEST_SHARED_PEER_H

#include <stddef.h>
#include <stdint.h>

#define PEER_MAGIC      0x70656572u /* "peer" */
#define PEER_MAX_BLOCKS 16
#define PEER_PAGE       0x1000u

/** Which platform the peer builds over the descriptor. */
enum peer_platform {
    PEER_SIM = 1,   /* dmacoh_sim_add_memory_fd */
    PEER_MEMFD = 2, /* dmacoh_memfd_attach */
};

/** The test to the peer, with the descriptor. */
struct peer_hello {
    uint32_t magic;
    uint32_t platform; /* enum peer_platform */
    uint64_t bus, dev, size;
    uint32_t nblocks; /* blocks the peer allocates, 1..PEER_MAX_BLOCKS */
    uint32_t probe_byte;
    /* A block of the test's, filled with probe_byte: the peer checks it through its own
     * mapping, then writes its pid into the first 8 bytes. */
    uint64_t probe_handle, probe_len;
    char name[72]; /* the shared region's name */
};

/** The peer to the test, once its blocks are written; it then waits to be killed. */
struct peer_report {
    uint32_t magic;
    int32_t status;     /* 0, or the error of the step that failed */
    uint32_t step;      /* which step failed (shared_peer.c numbers them) */
    uint32_t stray_fds; /* descriptors above 2, other than the socket, found open at start */
    uint32_t probe_ok;  /* the test's block held probe_byte in every byte */
    uint32_t n;         /* blocks allocated */
    uint64_t pid;       /* the peer's pid, as written into the probe block */
    uint64_t handle[PEER_MAX_BLOCKS];
    uint64_t len[PEER_MAX_BLOCKS];
};

/** Word k of the block at DMA handle h, as the peer writes it: it depends on where the word
 * is, so a block seen at the wrong place does not match. */
static inline uint32_t peer_word(uint64_t h, size_t k)
{
    return 0x9e3779b9u * (uint32_t)((h >> 12) * 1024u + k + 1u);
}

/** The length of the peer's block i. */
static inline uint64_t peer_len(uint32_t i)
{
    return (uint64_t)(1u + i % 3u) * PEER_PAGE;
}

#endif /* DMACOH_TEST_SHARED_PEER_H */
