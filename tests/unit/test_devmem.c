/* SPDX-License-Identifier: MIT */
/*
 * test_devmem.c - the /dev/mem platform with a sparse plain file standing in for physical
 * memory: a region at a physical address is mapped at that file offset, so what an
 * allocation writes is read back from outside at the physical address; refusals.
 */
/* The fake /dev/mem reaches past 2 GiB: 64-bit file offsets in -m32 builds too, as the
 * library itself is built. */
#define _FILE_OFFSET_BITS 64

#include "t.h"

#include <dmacoh/devmem.h>
#include <dmacoh/dmacoh.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    T_OK(dmacoh_declare_coherent_memory(&dev, SRAM, 0x0, 0x10000, DMACOH_MEMORY_MAP, NULL, NULL));
    T_OK(dmacoh_alloc_coherent(&dev, 0x4000, 0, 0, &a, &h));
    T_OK(dmacoh_alloc_coherent(&dev, 0x4000, 0, 0, &a, &h));
    T_EQ_U64(h, 0x4000);
    T_EQ_U64((uintptr_t)a % 0x4000, 0);
    memcpy(a, "phys", 5);
    T_EQ_INT(pread(fd, buf, 5, (off_t)(SRAM + 0x4000)), 5);
    T_ASSERT(strcmp(buf, "phys") == 0);
    T_ERR(dmacoh_devmem_close(dm), DMACOH_EBUSY);
    T_OK(dmacoh_release_coherent_memory(&dev, DMACOH_RELEASE_FORCE));
    T_OK(dmacoh_device_fini(&dev));
    T_OK(dmacoh_devmem_close(dm));
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
    T_CASE(refusals),
};

T_MAIN(cases)
