/* SPDX-License-Identifier: MIT */
/*
 * startup.c - reset and fault handling of the Cortex-M3 image: the vector table (initial
 * stack pointer, then the handlers), the reset handler that copies .data from its load
 * address, clears .bss, runs the C constructors and calls main, and a fault handler that
 * prints the fault status registers and the faulting PC through semihosting and ends the
 * run with status 3, so that a trap (DMACOH_ASSERT compiles to one) fails the test rather
 * than hanging QEMU.
 */
#include "semihost.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void);
void dmacoh_fw_reset(void);
void dmacoh_fw_fault(const uint32_t *frame);

/* From the linker script. */
extern unsigned char __stack_top[], __data_start[], __data_end[], __data_load[];
extern unsigned char __bss_start[], __bss_end[];
extern void (*__init_array_start[])(void), (*__init_array_end[])(void);

#define SCB_CFSR (*(volatile uint32_t *)0xe000ed28u) /* configurable fault status */
#define SCB_HFSR (*(volatile uint32_t *)0xe000ed2cu) /* hard fault status */
#define SCB_BFAR (*(volatile uint32_t *)0xe000ed38u) /* bus fault address */

void dmacoh_fw_reset(void)
{
    memcpy(__data_start, __data_load, (size_t)(__data_end - __data_start));
    memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
    for (void (**f)(void) = __init_array_start; f < __init_array_end; f++)
        (*f)();
    exit(main()); /* runs the atexit handlers, then _exit (syscalls.c) ends the run */
}

/* The exception frame the CPU pushed: r0-r3, r12, lr, pc, xpsr. */
void dmacoh_fw_fault(const uint32_t *frame)
{
    char line[160];
    uint32_t ipsr;
    int n;

    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    n = snprintf(line, sizeof(line),
                 "firmware: exception %lu at pc 0x%08lx lr 0x%08lx (CFSR 0x%08lx HFSR 0x%08lx "
                 "BFAR 0x%08lx)\n",
                 (unsigned long)(ipsr & 0x1ffu), (unsigned long)frame[6], (unsigned long)frame[5],
                 (unsigned long)SCB_CFSR, (unsigned long)SCB_HFSR, (unsigned long)SCB_BFAR);
    if (n > 0)
        semihost_write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    semihost_exit(3);
}

/* Finds the frame on whichever stack was in use (EXC_RETURN bit 2) and reports it. */
__attribute__((naked)) static void fault_entry(void)
{
    __asm__ volatile("tst lr, #4\n"
                     "ite eq\n"
                     "mrseq r0, msp\n"
                     "mrsne r0, psp\n"
                     "b dmacoh_fw_fault\n");
}

struct vector_table {
    void *stack_top;
    void (*handler[15])(void); /* reset, NMI, the four faults, ..., SysTick */
};

__attribute__((section(".vectors"), used)) static const struct vector_table vectors = {
    __stack_top,
    {
        dmacoh_fw_reset, /* 1 reset */
        fault_entry,     /* 2 NMI */
        fault_entry,     /* 3 HardFault */
        fault_entry,     /* 4 MemManage */
        fault_entry,     /* 5 BusFault */
        fault_entry,     /* 6 UsageFault (a trap instruction, an unaligned LDRD...) */
        0, 0, 0, 0,      /* 7-10 reserved */
        fault_entry,     /* 11 SVCall: nothing here calls svc */
        fault_entry,     /* 12 debug monitor */
        0,               /* 13 reserved */
        fault_entry,     /* 14 PendSV */
        fault_entry,     /* 15 SysTick: never enabled */
    },
};
