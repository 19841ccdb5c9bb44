/* SPDX-License-Identifier: MIT */
/*
 * smoke.c - proves the freestanding promise: src/core + src/platform/none built with
 * -ffreestanding -nostdlib, no libc at all, running a declare / alloc / free / fallback /
 * release cycle and a dma_pool on static arrays, metadata from a static arena. On Linux
 * (x86-64, 32-bit x86, 32-bit Arm, s390x: every CPU the checks build for) it is linked as a
 * static program with its own _start and exits through the exit system call (lz4's
 * tests/freestanding.c does the same); the other CPUs run it under QEMU user-mode emulation.
 * The exit status is the number of the failed step.
 */
#include <dmacoh/baremetal.h>

/* gcc may emit calls to these even in freestanding mode; a firmware supplies them too. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int smoke(void);

void *memset(void *d, int c, size_t n)
{
    volatile unsigned char *p = (volatile unsigned char *)d;

    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    volatile unsigned char *p = (volatile unsigned char *)d;
    const unsigned char *q = (const unsigned char *)s;

    while (n--)
        *p++ = *q++;
    return d;
}

#if defined(__ARM_EABI__)
/* The Arm run-time ABI calls these on an integer division by zero (libgcc's 64-bit division
 * refers to __aeabi_ldiv0). libgcc's Linux versions raise SIGFPE through libc, which a program
 * without libc lacks, so the program supplies them, as a firmware does: the quotient is the
 * value passed in. */
int __aeabi_idiv0(int r);
long long __aeabi_ldiv0(long long r);

int __aeabi_idiv0(int r)
{
    return r;
}

long long __aeabi_ldiv0(long long r)
{
    return r;
}
#endif

static _Alignas(65536) unsigned char sram[64 * 1024]; /* "on-chip SRAM" */
static _Alignas(65536) unsigned char ram[64 * 1024];  /* fallback RAM window */
static _Alignas(64) unsigned char sram_meta[4096];
static _Alignas(64) unsigned char ram_meta[4096];
static _Alignas(16) unsigned char arena[16 * 1024]; /* metadata for declares and pools */

/* A dma_pool of 32-byte descriptors in the SRAM: distinct, aligned, checked frees. */
static int pool_smoke(struct dmacoh_device *dev)
{
    struct dmacoh_pool *pool;
    void *b[40];
    dmacoh_dma_addr_t h[40];

    if (dmacoh_pool_create(&pool, "td", dev, 32, 32, 0, NULL))
        return 1;
    for (unsigned i = 0; i < 40; i++)
        if (dmacoh_pool_alloc(pool, DMACOH_POOL_ZERO, &b[i], &h[i]) || (h[i] & 31) ||
            (i && h[i] == h[i - 1]))
            return 2;
    if (dmacoh_pool_free(pool, b[0], h[0]) || dmacoh_pool_free(pool, b[0], h[0]) != DMACOH_EFAULT)
        return 3;
    if (dmacoh_pool_destroy(pool, 0) != DMACOH_EBUSY)
        return 4;
    for (unsigned i = 1; i < 40; i++)
        if (dmacoh_pool_free(pool, b[i], h[i]))
            return 5;
    return dmacoh_pool_destroy(pool, 0) ? 6 : 0;
}

int smoke(void)
{
    struct dmacoh_baremetal bm;
    struct dmacoh_baremetal_config cfg = {0};
    struct dmacoh_declare_opts o = {0, sram_meta, sizeof(sram_meta), 0, 0, DMACOH_PLACE_BEST_FIT};
    struct dmacoh_device dev, child;
    void *a, *b, *c;
    dmacoh_dma_addr_t ha, hb, hc;
    int granted = 0;

    cfg.modes = DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO;
    cfg.ram_bus = (uintptr_t)ram;
    cfg.ram_size = sizeof(ram);
    cfg.ram_meta = ram_meta;
    cfg.ram_meta_size = sizeof(ram_meta);
    cfg.meta_arena = arena;
    cfg.meta_arena_size = sizeof(arena);
    if (dmacoh_baremetal_init(&bm, &cfg) || dmacoh_device_init(&dev, "usb", NULL, &bm.plat) ||
        dmacoh_device_init(&child, "ep0", &dev, NULL))
        return 1;
    /* The SRAM at its CPU address, seen by the device at 0: CPU and device agree mod 64 KiB. */
    if (dmacoh_declare_coherent_memory(&dev, (uintptr_t)sram, 0, sizeof(sram),
                                       DMACOH_MEMORY_MAP | DMACOH_MEMORY_INCLUDES_CHILDREN |
                                           DMACOH_MEMORY_EXCLUSIVE,
                                       &o, &granted) ||
        granted != DMACOH_MEMORY_MAP)
        return 2;
    if (dmacoh_alloc_coherent(&child, 3 * 4096, 0, 0, &a, &ha) || ha != 0 || a != sram)
        return 3;
    /* Only 3 granules were taken: the tail of the 4-aligned block serves the next request. */
    if (dmacoh_alloc_coherent(&dev, 4096, 0, 0, &b, &hb) || hb != 3 * 4096)
        return 4;
    if (dmacoh_alloc_coherent(&dev, 64 * 1024, 0, 0, &c, &hc) != DMACOH_ENOMEM)
        return 5; /* exclusive: no fallback */
    if (dmacoh_free_coherent(&child, 3 * 4096, a, ha) ||
        dmacoh_free_coherent(&child, 3 * 4096, a, ha) != DMACOH_EFAULT)
        return 6;
    if (!dmacoh_check(&dev) || dmacoh_free_coherent(&dev, 4096, b, hb))
        return 7;
    if (pool_smoke(&child))
        return 11;
    if (dmacoh_release_coherent_memory(&dev, 0) || dmacoh_device_fini(&child))
        return 8;
    /* No region now: system memory from the RAM window, identity handle. */
    if (dmacoh_alloc_coherent(&dev, 5000, 0, 0, &c, &hc) || hc != (uintptr_t)c || c < (void *)ram ||
        dmacoh_device_fini(&dev) || dmacoh_baremetal_fini(&bm) != DMACOH_EBUSY)
        return 9; /* the platform outlives the fallback memory it handed out */
    if (dmacoh_device_init(&dev, "usb", NULL, &bm.plat) || dmacoh_free_coherent(&dev, 5000, c, hc))
        return 12;
    /* A second declare with no caller metadata: the arena serves it. */
    if (dmacoh_declare_coherent_memory(&dev, (uintptr_t)sram, 0, sizeof(sram), DMACOH_MEMORY_IO,
                                       NULL, &granted) ||
        granted != DMACOH_MEMORY_IO || dmacoh_release_coherent_memory(&dev, 0))
        return 13;
    if (dmacoh_device_fini(&dev) || dmacoh_baremetal_fini(&bm))
        return 10;
    return 0;
}

#if defined(__x86_64__) && defined(__linux__)
/* The kernel enters _start with the stack 16-byte aligned and no return address: align it as
 * a call would expect, run the smoke test, exit with its result. */
__asm__(".globl _start\n"
        "_start:\n"
        "    andq $-16, %rsp\n"
        "    call smoke\n"
        "    movl %eax, %edi\n"
        "    movl $60, %eax\n"
        "    syscall\n"
        "    hlt\n");
#elif defined(__i386__) && defined(__linux__)
/* The same for 32-bit x86 (-m32 builds): exit through int 0x80, system call 1. */
__asm__(".globl _start\n"
        "_start:\n"
        "    andl $-16, %esp\n"
        "    call smoke\n"
        "    movl %eax, %ebx\n"
        "    movl $1, %eax\n"
        "    int $0x80\n"
        "    hlt\n");
#elif defined(__arm__) && defined(__linux__)
/* 32-bit Arm (Arm or Thumb-2 code alike): the stack 8-byte aligned as the procedure call
 * standard asks, exit is system call 1, its number in r7. */
__asm__(".text\n"
        ".syntax unified\n"
        ".globl _start\n"
        ".type _start, %function\n"
        "_start:\n"
        "    mov r0, sp\n"
        "    bic r0, r0, #7\n"
        "    mov sp, r0\n"
        "    bl smoke\n"
        "    movs r7, #1\n"
        "    svc #0\n");
#elif defined(__s390x__) && defined(__linux__)
/* s390x: a 160-byte frame for the callee to save registers in, a zero back chain; exit is
 * system call 1, given in the svc instruction, its argument in r2 (where smoke returns). */
__asm__(".text\n"
        ".globl _start\n"
        "_start:\n"
        "    aghi %r15, -160\n"
        "    xc 0(8,%r15), 0(%r15)\n"
        "    brasl %r14, smoke\n"
        "    svc 1\n");
#endif
