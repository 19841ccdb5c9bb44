/* SPDX-License-Identifier: MIT */
/*
 * atomic64.c - 64-bit atomic operations for ARMv7-M, which has exclusive loads and stores of
 * 8, 16 and 32 bits but none of 64 (no LDREXD): gcc compiles the core's __atomic builtins on
 * uint64_t counters into calls to __atomic_*_8, which a hosted toolchain finds in libatomic
 * and a bare-metal one leaves to the firmware. On a single-core Cortex-M, masking interrupts
 * (PRIMASK) around the plain 64-bit access makes it atomic against everything else that can
 * run; a multi-core part would need a spinlock as well. The memory-order arguments are
 * satisfied by the interrupt mask's barriers (cpsid/msr are followed by a compiler barrier,
 * and a single core sees its own accesses in order).
 *
 * The C names differ from the symbols, which are given with asm labels: gcc knows the
 * __atomic_* names as built-ins and would refuse definitions under them.
 */
#include <stdbool.h>
#include <stdint.h>

static uint32_t irq_save(void)
{
    uint32_t primask;

    __asm__ volatile("mrs %0, primask\n"
                     "cpsid i"
                     : "=r"(primask)
                     :
                     : "memory");
    return primask;
}

static void irq_restore(uint32_t primask)
{
    __asm__ volatile("msr primask, %0" : : "r"(primask) : "memory");
}

uint64_t fw_load_8(const volatile void *p, int mo) __asm__("__atomic_load_8");
void fw_store_8(volatile void *p, uint64_t v, int mo) __asm__("__atomic_store_8");
uint64_t fw_exchange_8(volatile void *p, uint64_t v, int mo) __asm__("__atomic_exchange_8");
/* The library-call form (libatomic's): no `weak` argument, unlike the builtin. */
bool fw_compare_exchange_8(volatile void *p, void *expected, uint64_t desired, int success,
                           int failure) __asm__("__atomic_compare_exchange_8");

uint64_t fw_load_8(const volatile void *p, int mo)
{
    uint32_t s = irq_save();
    uint64_t v = *(const volatile uint64_t *)p;

    (void)mo;
    irq_restore(s);
    return v;
}

void fw_store_8(volatile void *p, uint64_t v, int mo)
{
    uint32_t s = irq_save();

    (void)mo;
    *(volatile uint64_t *)p = v;
    irq_restore(s);
}

uint64_t fw_exchange_8(volatile void *p, uint64_t v, int mo)
{
    uint32_t s = irq_save();
    uint64_t old = *(volatile uint64_t *)p;

    (void)mo;
    *(volatile uint64_t *)p = v;
    irq_restore(s);
    return old;
}

bool fw_compare_exchange_8(volatile void *p, void *expected, uint64_t desired, int success,
                           int failure)
{
    uint32_t s = irq_save();
    uint64_t cur = *(volatile uint64_t *)p, *exp = (uint64_t *)expected;
    bool same = cur == *exp;

    (void)success;
    (void)failure;
    if (same)
        *(volatile uint64_t *)p = desired;
    else
        *exp = cur;
    irq_restore(s);
    return same;
}

/* The read-modify-write family: fetch_OP returns the old value, OP_fetch the new one. */
#define RMW(name, sym, op, ret)                                                                    \
    uint64_t name(volatile void *p, uint64_t v, int mo) __asm__(sym);                              \
    uint64_t name(volatile void *p, uint64_t v, int mo)                                            \
    {                                                                                              \
        uint32_t s = irq_save();                                                                   \
        uint64_t old = *(volatile uint64_t *)p, new = old op v;                                    \
                                                                                                   \
        (void)mo;                                                                                  \
        *(volatile uint64_t *)p = new;                                                             \
        irq_restore(s);                                                                            \
        return ret;                                                                                \
    }

RMW(fw_fetch_add_8, "__atomic_fetch_add_8", +, old)
RMW(fw_fetch_sub_8, "__atomic_fetch_sub_8", -, old)
RMW(fw_fetch_and_8, "__atomic_fetch_and_8", &, old)
RMW(fw_fetch_or_8, "__atomic_fetch_or_8", |, old)
RMW(fw_add_fetch_8, "__atomic_add_fetch_8", +, new)
RMW(fw_sub_fetch_8, "__atomic_sub_fetch_8", -, new)
