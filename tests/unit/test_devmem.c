/* SPDX-License-Identifier: MIT */
/*
 * test_devmem.c - the /dev/mem platform with a sparse plain file standing in for physical
 * memory: a region at a physical address is mapped at that file offset, so what an
 * allocation writes is read back from outside at the physical address; a second instance
 * cannot declare the same bytes; refusals.
 */
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64 /* the physical-memory stand-in reaches 0xfe010000, past 2 GiB */
#endif
#include "fixture.h"
#include "t.h"
#include "platform/linux/internal.h"

#include <dmacoh/devmem.h>
#include <dmacoh/dmacoh.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The sparse file reaches past 4 GiB: on 32-bit hosts that needs _FILE_OFFSET_BITS=64, which
 * tests/CMakeLists.txt defines; without it this file does not compile. */
_Static_assert(sizeof(off_t) == 8, "a 64-bit off_t is needed (_FILE_OFFSET_BITS=64)");

#define SRAM 0xfe000000ull /* "physical" address of a 64 KiB on-chip SRAM */

static void region_at_a_physical_address(void)
{
    char path[] = "/tmp/dmacoh-devmem-XXXXXX", buf[8] = {0};
    struct dmacoh_devmem_opts o = {path, false};
    struct dmacoh_devmem *dm;
    struct dmacoh_device dev;
    void *a;
    dmacoh_dma_addr_t h;
    int fd = mkstemp(path);

    T_ASSERT(fd >= 0);
    T_EQ_INT(ftruncate(fd, (off_t)(SRAM + 0x10000)), 0); /* sparse: nothing is written */
    T_OK(dmacoh_devmem_open(&o, &dm));
    T_OK(dmacoh_device_init(&dev, "sram", NULL, dmacoh_devmem_platform(dm)));
    t_declare_device_memory(&dev, SRAM, 0x0, 0x10000, 0, NULL);
    T_OK(dmacoh_alloc_coherent(&dev, 0x4000, 0, 0, &a, &h));
    T_OK(dmacoh_alloc_coherent(&dev, 0x4000, 0, 0, &a, &h));
    T_EQ_U64(h, 0x4000);
    T_EQ_U64((uintptr_t)a % 0x4000, 0);
    dmacoh_memcpy_toio(a, "phys", 5);
    T_EQ_INT(pread(fd, buf, 5, (off_t)(SRAM + 0x4000)), 5);
    T_ASSERT(strcmp(buf, "phys") == 0);
    T_ERR(dmacoh_devmem_close(dm), DMACOH_EBUSY);
    T_OK(dmacoh_release_coherent_memory(&dev, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_devmem_close(dm));
    close(fd);
    unlink(path);
}

/* Two /dev/mem instances are two allocators: the second may not declare the same SRAM, nor
 * any byte of it, until the first releases; disjoint ranges are fine. */
static void second_instance_cannot_take_the_same_bytes(void)
{
    char path[] = "/tmp/dmacoh-devmem-XXXXXX";
    struct dmacoh_devmem_opts o = {path, false};
    struct dmacoh_devmem *d1, *d2;
    struct dmacoh_device a, b;
    int fd = mkstemp(path);

    T_ASSERT(fd >= 0);
    T_EQ_INT(ftruncate(fd, (off_t)(SRAM + 0x10000)), 0);
    T_OK(dmacoh_devmem_open(&o, &d1));
    T_OK(dmacoh_devmem_open(&o, &d2));
    T_OK(dmacoh_device_init(&a, "a", NULL, dmacoh_devmem_platform(d1)));
    T_OK(dmacoh_device_init(&b, "b", NULL, dmacoh_devmem_platform(d2)));
    T_OK(dmacoh_declare_coherent_memory(&a, SRAM, 0x0, 0x8000, DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO,
                                        NULL, NULL));
    T_ERR(dmacoh_declare_coherent_memory(&b, SRAM + 0x7000, 0x0, 0x2000,
                                         DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL, NULL),
          DMACOH_EBUSY);
    T_ASSERT(t_log_find("already declared through devmem"));
    T_ASSERT(t_log_find("0xfe000000+0x8000"));
    T_OK(dmacoh_declare_coherent_memory(&b, SRAM + 0x8000, 0x0, 0x8000,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL, NULL));
    T_OK(dmacoh_release_coherent_memory(&b, 0));
    T_OK(dmacoh_release_coherent_memory(&a, 0));
    T_OK(dmacoh_declare_coherent_memory(&b, SRAM, 0x0, 0x10000,
                                        DMACOH_MEMORY_MAP | DMACOH_MEMORY_IO, NULL, NULL));
    T_OK(dmacoh_release_coherent_memory(&b, 0));
    T_OK(dmacoh_device_fini(&a));
    T_OK(dmacoh_device_fini(&b));
    T_OK(dmacoh_devmem_close(d1));
    T_OK(dmacoh_devmem_close(d2));
    close(fd);
    unlink(path);
}

static void refusals(void)
{
    struct dmacoh_devmem_opts o = {"/nonexistent/dmacoh/mem", false};
    struct dmacoh_devmem *dm = NULL;

    T_ERR(dmacoh_devmem_open(&o, &dm), DMACOH_ENOENT);
    T_ASSERT(t_log_find("/nonexistent/dmacoh/mem"));
    T_ERR(dmacoh_devmem_open(&o, NULL), DMACOH_EINVAL);
    T_EQ_PTR(dm, NULL);
    if (geteuid() != 0) {
        o.path = "/dev/mem"; /* not root: refused, and the log says what is needed */
        T_ERR(dmacoh_devmem_open(&o, &dm), DMACOH_EACCES);
        T_ASSERT(t_log_find("CAP_SYS_RAWIO"));
    }
}

static const struct t_case cases[] = {
    T_CASE(region_at_a_physical_address),
    T_CASE(second_instance_cannot_take_the_same_bytes),
    T_CASE(refusals),
};

T_MAIN(cases)
