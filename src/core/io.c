/* SPDX-License-Identifier: MIT */
/*
 * io.c - block copies to and from IO memory, and the registry of IO regions that need more
 * than an address: a width cap, or IO cookies.
 *
 * memcpy_toio() keeps the kernel's signature (no region argument), so the cap of a region
 * that takes only narrow accesses is found from the address: declare registers every capped
 * mapping here, and each block copy looks its destination up. In debug mode with IO cookies
 * (dmacoh/debug.h) a region's pointers lie in a reserved range that faults on access; its
 * slot maps [cookie start, end) to the mapping by a delta, which the accessors add. A capped
 * region with cookies has one slot, keyed by the cookie range, and its mapping is not
 * registered: an address inside a mapping is taken as it is, with the default width.
 *
 * The registry is a fixed table (no heap), written under a spinlock by declare/release and
 * read without a lock through a sequence count per slot (odd while a writer changes it): a
 * reader that sees the count change retries, so it never pairs one region's start with
 * another's width or delta. A copy racing with the release of its own region is a use after
 * release, undefined anyway.
 *
 * Copies use naturally aligned accesses no wider than the cap: narrow accesses until the IO
 * address is aligned, the widest allowed for the bulk, narrow again for the tail. The normal
 * memory side may have any alignment; it is read and written a byte at a time into a local,
 * which compilers turn into one unaligned load or store where the CPU allows it. A block is
 * translated once, from its first byte: a block spans one region.
 */
#include "internal.h"

#define IO_SLOTS 64

struct io_slot {
    uint32_t seq; /* odd while being written */
    unsigned width;
    uintptr_t start;
    uintptr_t end;   /* 0: slot unused */
    uintptr_t delta; /* mapping - cookie (modulo 2^N); 0 when the range is the mapping */
};

static struct io_slot slots[IO_SLOTS];
static uint32_t slots_lock;
static unsigned slots_hi; /* slots [0, slots_hi) may be in use */
unsigned dmacoh__io_cookies;

/* Writes a slot (slots_lock held): the count is odd while the fields change. */
static void slot_write(struct io_slot *s, uintptr_t start, uintptr_t end, unsigned width,
                       uintptr_t delta)
{
    __atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&s->start, start, __ATOMIC_RELAXED);
    __atomic_store_n(&s->width, width, __ATOMIC_RELAXED);
    __atomic_store_n(&s->delta, delta, __ATOMIC_RELAXED);
    __atomic_store_n(&s->end, end, __ATOMIC_RELAXED);
    __atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELEASE);
}

int dmacoh__io_register(const void *start, uint64_t size, unsigned width, const void *real)
{
    uintptr_t lo = (uintptr_t)start, hi = lo + (uintptr_t)size, delta = (uintptr_t)real - lo;
    int r = DMACOH_ENOMEM;

    dmacoh__lock(&slots_lock, NULL);
    /* A cookie range must be the only one at its addresses: a lookup takes the first slot
     * that covers an address. */
    for (unsigned i = 0; delta && i < IO_SLOTS; i++) {
        if (slots[i].end != 0 && lo < slots[i].end && slots[i].start < hi) {
            dmacoh__unlock(&slots_lock);
            return DMACOH_EBUSY;
        }
    }
    for (unsigned i = 0; i < IO_SLOTS; i++) {
        if (slots[i].end != 0)
            continue;
        slot_write(&slots[i], lo, hi, width, delta);
        if (i + 1 > slots_hi)
            __atomic_store_n(&slots_hi, i + 1, __ATOMIC_RELEASE);
        if (delta)
            __atomic_add_fetch(&dmacoh__io_cookies, 1u, __ATOMIC_RELEASE);
        r = (int)i;
        break;
    }
    dmacoh__unlock(&slots_lock);
    return r;
}

void dmacoh__io_unregister(int slot)
{
    if (slot < 0 || slot >= IO_SLOTS)
        return;
    dmacoh__lock(&slots_lock, NULL);
    if (slots[slot].end != 0) {
        if (slots[slot].delta)
            __atomic_sub_fetch(&dmacoh__io_cookies, 1u, __ATOMIC_RELEASE);
        slot_write(&slots[slot], 0, 0, 0, 0);
    }
    dmacoh__unlock(&slots_lock);
}

/* Whether slot s covers a, with its width and delta; retries while a writer changes it. */
static bool slot_read(const struct io_slot *s, uintptr_t a, unsigned *width, uintptr_t *delta)
{
    for (;;) {
        uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        uintptr_t start = __atomic_load_n(&s->start, __ATOMIC_RELAXED);
        uintptr_t end = __atomic_load_n(&s->end, __ATOMIC_RELAXED);
        unsigned w = __atomic_load_n(&s->width, __ATOMIC_RELAXED);
        uintptr_t d = __atomic_load_n(&s->delta, __ATOMIC_RELAXED);

        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if ((seq & 1u) == 0 && __atomic_load_n(&s->seq, __ATOMIC_RELAXED) == seq) {
            if (end == 0 || a < start || a >= end)
                return false;
            *width = w;
            *delta = d;
            return true;
        }
    }
}

/* The registered region at a: its width cap (8 when none) and a translated to its mapping. */
static uintptr_t lookup(uintptr_t a, unsigned *width)
{
    unsigned hi = __atomic_load_n(&slots_hi, __ATOMIC_ACQUIRE);
    uintptr_t delta;

    for (unsigned i = 0; i < hi; i++) {
        if (slot_read(&slots[i], a, width, &delta))
            return a + delta;
    }
    *width = 8;
    return a;
}

unsigned dmacoh_io_width_at(const volatile void *addr)
{
    unsigned w;

    (void)lookup((uintptr_t)addr, &w);
    return w;
}

volatile void *dmacoh__io_resolve(const volatile void *addr)
{
    unsigned w;

    return (volatile void *)lookup((uintptr_t)addr, &w);
}

static unsigned clamp_width(unsigned w)
{
    return (w == 2 || w == 4 || w == 8) ? w : 1u;
}

/* Widest access <= cap that the IO address a allows for at least `left` bytes. */
static unsigned step(uintptr_t a, size_t left, unsigned cap)
{
    unsigned w = cap;

    while (w > 1 && ((a & (w - 1)) != 0 || left < w))
        w >>= 1;
    return w;
}

/* Native-endian value of w bytes at p, and the inverse: device memory is written with raw
 * accesses, so bytes land in the order they have in normal memory, as with memcpy_toio. */
static uint64_t load_n(const unsigned char *p, unsigned w)
{
    union {
        uint64_t u64;
        uint32_t u32;
        uint16_t u16;
        unsigned char b[8];
    } v = {0};

    for (unsigned i = 0; i < w; i++)
        v.b[i] = p[i];
    return w == 8 ? v.u64 : w == 4 ? v.u32 : w == 2 ? v.u16 : v.b[0];
}

static void store_n(unsigned char *p, uint64_t x, unsigned w)
{
    union {
        uint64_t u64;
        uint32_t u32;
        uint16_t u16;
        unsigned char b[8];
    } v;

    if (w == 8)
        v.u64 = x;
    else if (w == 4)
        v.u32 = (uint32_t)x;
    else if (w == 2)
        v.u16 = (uint16_t)x;
    else
        v.b[0] = (unsigned char)x;
    for (unsigned i = 0; i < w; i++)
        p[i] = v.b[i];
}

static void raw_write(volatile unsigned char *d, uint64_t x, unsigned w)
{
    if (w == 8)
        dmacoh__raw_write64(x, d);
    else if (w == 4)
        dmacoh__raw_write32((uint32_t)x, d);
    else if (w == 2)
        dmacoh__raw_write16((uint16_t)x, d);
    else
        dmacoh__raw_write8((uint8_t)x, d);
}

static uint64_t raw_read(const volatile unsigned char *s, unsigned w)
{
    if (w == 8)
        return dmacoh__raw_read64(s);
    if (w == 4)
        return dmacoh__raw_read32(s);
    if (w == 2)
        return dmacoh__raw_read16(s);
    return dmacoh__raw_read8(s);
}

/* The copies, on addresses already translated. */
static void toio(uintptr_t dst, const void *src, size_t n, unsigned width)
{
    volatile unsigned char *d = (volatile unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    unsigned cap = clamp_width(width);

    dmacoh_io_barrier_before_write();
    while (n) {
        unsigned w = step((uintptr_t)d, n, cap);

        raw_write(d, load_n(s, w), w);
        d += w;
        s += w;
        n -= w;
    }
}

static void fromio(void *dst, uintptr_t src, size_t n, unsigned width)
{
    unsigned char *d = (unsigned char *)dst;
    const volatile unsigned char *s = (const volatile unsigned char *)src;
    unsigned cap = clamp_width(width);

    while (n) {
        unsigned w = step((uintptr_t)s, n, cap);

        store_n(d, raw_read(s, w), w);
        d += w;
        s += w;
        n -= w;
    }
    dmacoh_io_barrier_after_read();
}

static void setio(uintptr_t dst, int c, size_t n, unsigned width)
{
    volatile unsigned char *d = (volatile unsigned char *)dst;
    uint64_t pattern = 0x0101010101010101ull * (unsigned char)c;
    unsigned cap = clamp_width(width);

    dmacoh_io_barrier_before_write();
    while (n) {
        unsigned w = step((uintptr_t)d, n, cap);

        raw_write(d, pattern, w);
        d += w;
        n -= w;
    }
}

void dmacoh_memcpy_toio_width(volatile void *dst, const void *src, size_t n, unsigned width)
{
    toio((uintptr_t)dmacoh__io_addr(dst), src, n, width);
}

void dmacoh_memcpy_fromio_width(void *dst, const volatile void *src, size_t n, unsigned width)
{
    fromio(dst, (uintptr_t)dmacoh__io_addr(src), n, width);
}

void dmacoh_memset_io_width(volatile void *dst, int c, size_t n, unsigned width)
{
    setio((uintptr_t)dmacoh__io_addr(dst), c, n, width);
}

void dmacoh_memcpy_toio(volatile void *dst, const void *src, size_t n)
{
    unsigned w;
    uintptr_t d = lookup((uintptr_t)dst, &w);

    toio(d, src, n, w);
}

void dmacoh_memcpy_fromio(void *dst, const volatile void *src, size_t n)
{
    unsigned w;
    uintptr_t s = lookup((uintptr_t)src, &w);

    fromio(dst, s, n, w);
}

void dmacoh_memset_io(volatile void *dst, int c, size_t n)
{
    unsigned w;
    uintptr_t d = lookup((uintptr_t)dst, &w);

    setio(d, c, n, w);
}
