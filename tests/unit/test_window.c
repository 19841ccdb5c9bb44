/* SPDX-License-Identifier: MIT */
/*
 * test_window.c - dmacoh_window, the core helper platforms build fallback RAM and metadata
 * arenas on: identity handles, alignment, the mask, checked frees, live-only translation,
 * its own state carved from the window (also from an arena only 8-aligned), refusal to retire
 * while memory is out.
 */
#include "t.h"

#include <dmacoh/dmacoh.h>

#include <stdlib.h>

#define WSIZE (64u * 1024u)

static unsigned char *arena(void)
{
    unsigned char *p = aligned_alloc(WSIZE, WSIZE);

    T_ASSERT(p != NULL);
    return p;
}

static void window_hands_out_aligned_identity_memory(void)
{
    unsigned char *mem = arena();
    static uint64_t meta[256];
    struct dmacoh_window w;
    void *a, *b;
    dmacoh_dma_addr_t ha, hb;
    uint64_t bus = (uintptr_t)mem;

    T_OK(dmacoh_window_init(&w, "w", mem, bus, WSIZE, 0, meta, sizeof(meta)));
    T_EQ_U64(dmacoh_window_size(&w), WSIZE);
    T_OK(dmacoh_window_alloc(&w, 4096, ~0ull, &a, &ha));
    T_OK(dmacoh_window_alloc(&w, 3 * 4096, ~0ull, &b, &hb));
    T_EQ_U64(ha, (uintptr_t)a); /* identity: device address == bus address == CPU here */
    T_EQ_U64(hb % (4 * 4096), 0);
    T_EQ_U64(dmacoh_window_virt_to_dma(&w, (char *)b + 100), hb + 100);
    T_EQ_PTR(dmacoh_window_dma_to_virt(&w, ha), a);
    T_EQ_U64(dmacoh_window_live(&w), 2);
    T_ERR(dmacoh_window_free(&w, a, 8192, ha), DMACOH_EINVAL); /* wrong size */
    T_ERR(dmacoh_window_fini(&w), DMACOH_EBUSY);
    T_OK(dmacoh_window_free(&w, a, 4096, ha));
    T_ERR(dmacoh_window_free(&w, a, 4096, ha), DMACOH_EFAULT);       /* double free */
    T_EQ_U64(dmacoh_window_virt_to_dma(&w, a), DMACOH_BAD_DMA_ADDR); /* freed: no answer */
    T_EQ_PTR(dmacoh_window_dma_to_virt(&w, ha), NULL);
    T_OK(dmacoh_window_free(&w, b, 3 * 4096, hb));
    T_OK(dmacoh_window_fini(&w));
    free(mem);
}

static void window_respects_the_mask(void)
{
    unsigned char *mem = arena();
    static uint64_t meta[256];
    struct dmacoh_window w;
    void *a;
    dmacoh_dma_addr_t h;
    uint64_t bus = 0xffff8000u; /* straddles 4 GiB: 32 KiB below, 32 KiB above */

    /* cpu must be congruent to bus modulo 64 KiB: offset the CPU view to match. */
    T_ERR(dmacoh_window_init(&w, "w", mem, bus, WSIZE, 0, meta, sizeof(meta)), DMACOH_ENOTSUP);
    T_OK(dmacoh_window_init(&w, "w", mem + 0x8000, 0x100000000ull - 0x8000 + 0x10000, WSIZE / 2, 0,
                            meta, sizeof(meta)));
    T_ERR(dmacoh_window_alloc(&w, 4096, 0xffffffffu, &a, &h), DMACOH_ERANGE);
    T_OK(dmacoh_window_fini(&w));
    T_OK(dmacoh_window_init(&w, "w", mem, 0xffff0000u, WSIZE, 0, meta, sizeof(meta)));
    T_OK(dmacoh_window_alloc(&w, 4096, 0xffffffffu, &a, &h));
    T_ASSERT(h + 4095 <= 0xffffffffu);
    T_OK(dmacoh_window_free(&w, a, 4096, h));
    T_OK(dmacoh_window_fini(&w));
    free(mem);
}

/* With no metadata storage, the window keeps its state at its own start. */
static void window_carves_its_own_state(void)
{
    unsigned char *mem = arena();
    struct dmacoh_window w;
    void *a;
    dmacoh_dma_addr_t h;
    unsigned n = 0;

    T_OK(dmacoh_window_init(&w, "arena", mem, (uintptr_t)mem, WSIZE, 16, NULL, 0));
    T_ASSERT(dmacoh_window_size(&w) < WSIZE && dmacoh_window_size(&w) > WSIZE - 8192);
    while (dmacoh_window_alloc(&w, 16, ~0ull, &a, &h) == 0) {
        T_ASSERT((unsigned char *)a >= mem + (WSIZE - dmacoh_window_size(&w)));
        n++;
    }
    T_EQ_U64(n, dmacoh_window_size(&w) / 16);
    T_ERR(dmacoh_window_init(&w, "tiny", mem, (uintptr_t)mem, 32, 16, NULL, 0), DMACOH_EINVAL);
    free(mem);
}

/* An arena only 8-aligned (what the bare-metal platform's meta_arena asks for; a uint64_t
 * array on 32-bit Arm) still serves 16-byte granules at 16-aligned addresses. */
static void window_on_an_8_aligned_arena(void)
{
    unsigned char *mem = arena(), *at = mem + 8;
    struct dmacoh_window w;
    void *a;
    dmacoh_dma_addr_t h;

    T_OK(dmacoh_window_init(&w, "arena", at, (uintptr_t)at, WSIZE - 16, 16, NULL, 0));
    T_OK(dmacoh_window_alloc(&w, 16, ~0ull, &a, &h));
    T_EQ_U64(h, (uintptr_t)a);
    T_EQ_U64(h % 16, 0);
    T_ASSERT((unsigned char *)a >= at && (unsigned char *)a + 16 <= at + WSIZE - 16);
    T_OK(dmacoh_window_free(&w, a, 16, h));
    T_OK(dmacoh_window_fini(&w));
    free(mem);
}

static const struct t_case cases[] = {
    T_CASE(window_hands_out_aligned_identity_memory),
    T_CASE(window_respects_the_mask),
    T_CASE(window_carves_its_own_state),
    T_CASE(window_on_an_8_aligned_arena),
};

T_MAIN(cases)
