/* SPDX-License-Identifier: MIT */
/*
 * shared_card.c - one card's memory shared by three processes, and what a crash leaves. A
 * driver process declares the card's 1 MiB of on-card memory (simulated: bus 0xfe000000,
 * device address 0) as a shared region (<dmacoh/shared.h>), takes a 64 KiB command ring and
 * forks two workers, which allocate through the same region with the RFC's
 * dma_alloc_coherent: "rx" takes eight 16 KiB receive buffers and keeps them; "tx" takes
 * three transmit buffers and crashes without freeing them. The driver then sees the death:
 * tx's buffers are quarantined, not free (the card may still be writing into them), until it
 * says the card is quiet and reaps them. Every step prints the region's statistics and owner
 * table, and checks them. With --hold, the program stops after the crash, region "card0"
 * held by two live processes and one dead one, until its standard input ends: `make demo`
 * shows it with `dmacoh status` and `dmacoh show card0` meanwhile.
 */
#define _POSIX_C_SOURCE 200809L /* fork, pipe, nanosleep in strict C11 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dmacoh/dma-mapping.h>
#include <dmacoh/shared.h>
#include <dmacoh/sim.h>

#define CARD_BUS  0xfe000000u
#define CARD_SIZE (1024u * 1024u)

static unsigned nfail;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(bool ok, const char *fmt, ...)
{
    va_list ap;

    if (ok)
        return;
    fflush(stdout);
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    nfail++;
}

/* Library messages, one per line; the "dmacoh: " the library puts first is dropped. */
static void log_line(void *user, int level, const char *msg)
{
    (void)user;
    (void)level;
    if (strncmp(msg, "dmacoh: ", 8) == 0)
        msg += 8;
    printf("  [dmacoh] %s\n", msg);
    fflush(stdout);
}

static int print_owner(void *user, const struct dmacoh_shared_owner *o)
{
    (void)user;
    printf("    owner %u: pid %" PRIu64 " %-4s %2" PRIu64 " blocks %7" PRIu64 " bytes%s\n",
           o->index, o->pid, o->state == DMACOH_OWNER_LIVE ? "live" : "dead", o->blocks, o->bytes,
           o->self ? "  (the driver)" : "");
    return 0;
}

static void show(struct device *card, const char *when, struct dmacoh_shared_stats *st)
{
    printf("\n%s:\n", when);
    check(dmacoh_shared_get_stats(&card->dmacoh, st) == 0, "stats");
    printf("    %u live, %u dead; live %" PRIu64 " bytes in %" PRIu64
           " blocks, quarantined %" PRIu64 " bytes in %" PRIu64 " blocks, free %" PRIu64 " bytes\n",
           st->procs, st->dead, st->live_bytes, st->live_blocks, st->quarantined_bytes,
           st->quarantined_blocks, st->free_bytes);
    check(dmacoh_shared_walk_owners(&card->dmacoh, print_owner, NULL) == 0, "owners");
    check(dmacoh_check(&card->dmacoh), "invariants");
    fflush(stdout);
}

/* A worker: `count` buffers of `size`; then waits for the driver's word on `go` (rx), or
 * dies holding them (tx). */
static void worker(struct device *card, const char *name, unsigned count, size_t size, int go)
{
    dma_addr_t h;
    void *cpu[8];
    char c;

    for (unsigned i = 0; i < count; i++) {
        cpu[i] = dma_alloc_coherent(card, size, &h, 0);
        if (!cpu[i])
            _exit(1);
        memset(cpu[i], name[0], size);
        printf("  %s (pid %d): buffer %u at DMA handle %#" PRIx64 "\n", name, (int)getpid(), i,
               (uint64_t)h);
    }
    fflush(stdout);
    if (go < 0) {
        raise(SIGKILL); /* a crash: nothing freed, nothing said */
        _exit(1);
    }
    if (read(go, &c, 1) != 1)
        _exit(1);
    _exit(0); /* rx ends normally, still holding its buffers: they are quarantined too */
}

int main(int argc, char **argv)
{
    struct dmacoh_sim_memory mem = {CARD_BUS, CARD_SIZE, DMACOH_MEMORY_MAP, false, 0};
    struct dmacoh_share_opts share;
    struct dmacoh_shared_stats st;
    struct dmacoh_sim *sim;
    struct device card;
    bool hold = argc > 1 && strcmp(argv[1], "--hold") == 0;
    char name[32];
    dma_addr_t ring_h = 0; /* set by dma_alloc_coherent; checked before use */
    void *ring;
    int go[2], granted, status;
    pid_t rx, tx;
    uint64_t blocks = 0, bytes = 0;

    dmacoh_set_log_fn(log_line, NULL, DMACOH_LOG_WARN);
    if (dmacoh_sim_create(NULL, &sim) || dmacoh_sim_add_memory(sim, &mem) ||
        dmacoh_device_init(&card.dmacoh, "card", NULL, dmacoh_sim_platform(sim))) {
        fprintf(stderr, "FAIL: simulator\n");
        return 1;
    }
    /* Under --hold the name `make demo` shows; else one of this run's own. */
    snprintf(name, sizeof(name), hold ? "card0" : "card0-%d", (int)getpid());
    memset(&share, 0, sizeof(share));
    share.name = name;
    share.flags = DMACOH_SHARE_CREATE;
    if (dmacoh_declare_shared_memory(&card.dmacoh, CARD_BUS, 0, CARD_SIZE, DMACOH_MEMORY_MAP, NULL,
                                     &share, &granted) != 0) {
        fprintf(stderr, "FAIL: declare shared region %s\n", name);
        return 1;
    }
    printf("driver (pid %d): shared region %s, 1 MiB of the card at bus %#x\n", (int)getpid(), name,
           CARD_BUS);
    ring = dma_alloc_coherent(&card, 64 * 1024, &ring_h, 0);
    check(ring != NULL, "ring");
    printf("  driver: command ring at DMA handle %#" PRIx64 "\n", (uint64_t)ring_h);
    fflush(stdout);
    if (pipe(go) != 0)
        return 1;
    rx = fork();
    if (rx == 0)
        worker(&card, "rx", 8, 16 * 1024, go[0]);
    tx = fork();
    if (tx == 0)
        worker(&card, "tx", 3, 24 * 1024, -1);
    check(rx > 0 && tx > 0, "fork");
    check(waitpid(tx, &status, 0) == tx && WIFSIGNALED(status), "tx crashed");
    printf("  tx (pid %d) crashed holding its buffers\n", (int)tx);
    /* rx has its eight buffers once the region says so. */
    for (int i = 0; i < 500; i++) {
        check(dmacoh_shared_get_stats(&card.dmacoh, &st) == 0, "stats");
        if (st.live_blocks >= 9)
            break;
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    show(&card, "after the crash", &st);
    check(st.procs == 2 && st.dead == 1, "two live owners, one dead: %u, %u", st.procs, st.dead);
    check(st.quarantined_blocks == 3 && st.quarantined_bytes == 3 * 24576,
          "tx's three 24 KiB buffers quarantined: %" PRIu64 " blocks, %" PRIu64 " bytes",
          st.quarantined_blocks, st.quarantined_bytes);
    if (hold) {
        char line[16];

        printf("\nholding region %s (end standard input to go on)\n", name);
        fflush(stdout);
        while (fgets(line, sizeof(line), stdin))
            ;
    }
    /* rx finishes without freeing: its buffers are quarantined as well. */
    check(write(go[1], "x", 1) == 1, "wake rx");
    check(waitpid(rx, &status, 0) == rx && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "rx ended");
    show(&card, "after rx ended holding its buffers", &st);
    check(st.procs == 1 && st.quarantined_blocks == 11, "rx's eight quarantined too");
    /* The card is reset: nothing can be in flight into memory of a dead process. */
    check(dmacoh_shared_reap(&card.dmacoh, &blocks, &bytes) == 0, "reap");
    printf("\nthe card is reset; reaped %" PRIu64 " blocks, %" PRIu64 " bytes\n", blocks, bytes);
    show(&card, "after the reap", &st);
    check(blocks == 11 && st.quarantined_blocks == 0 && st.live_blocks == 1, "reaped all 11");
    dma_free_coherent(&card, 64 * 1024, ring, ring_h);
    check(dmacoh_release_coherent_memory(&card.dmacoh, 0) == 0, "release");
    check(dmacoh_shared_unlink(dmacoh_sim_platform(sim), name) == 0, "unlink");
    check(dmacoh_device_fini(&card.dmacoh) == 0, "fini");
    check(dmacoh_sim_destroy(sim) == 0, "sim destroy");
    printf("\n%s\n", nfail ? "FAILED" : "all checks passed");
    return nfail ? 1 : 0;
}
