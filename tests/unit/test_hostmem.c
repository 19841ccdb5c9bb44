/* SPDX-License-Identifier: MIT */
/*
 * test_hostmem.c - the hostmem platform against a fake page map in a temporary folder.
 *
 * The test seam of hostmem.c is called with each chunk just mapped; the test writes page-map
 * entries for exactly those pages into a sparse file, with frame numbers it chooses: one
 * contiguous run (the handle must be that physical address), a gap (refused as not
 * contiguous), zeros (a process that is not root), frames above a DMA mask (refused with
 * -ERANGE). Ordinary pages stand in for huge pages (no_hugetlb, 64 KiB chunks), which takes
 * the same paths apart from the mmap flag. Also: checked frees, the reverse translations,
 * composition in front of the memfd platform, and many threads at once.
 */
#include "t.h"
#include "platform/linux/internal.h"

#include <dmacoh/dmacoh.h>
#include <dmacoh/hostmem.h>
#include <dmacoh/memfd.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK   0x10000u /* a fake "huge page" of 16 ordinary pages */
#define PM_PRES (1ull << 63)

static char dir[64], pagemap[PATH_MAX];
static uint64_t next_pfn; /* frame of the next page the fake kernel hands out */
static long gap_at;       /* page index in a chunk after which frames jump; -1: none */
static bool hide_pfn;     /* write frame 0, as for a process that is not root */
static unsigned chunks_made;

static void fake_entries(const void *cpu, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = len / page;
    int fd = open(pagemap, O_WRONLY);

    T_ASSERT(fd >= 0);
    for (size_t i = 0; i < n; i++) {
        uint64_t e = PM_PRES | (hide_pfn ? 0 : next_pfn++);
        off_t off = (off_t)(((uintptr_t)cpu / page + i) * sizeof(e));

        if (gap_at >= 0 && i == (size_t)gap_at)
            next_pfn += 7;
        T_EQ_INT(pwrite(fd, &e, sizeof(e), off), (long)sizeof(e));
    }
    close(fd);
    chunks_made++;
}

static void setup(uint64_t first_pfn)
{
    int fd;

    snprintf(dir, sizeof(dir), "/tmp/dmacoh-hostmem-XXXXXX");
    T_ASSERT(mkdtemp(dir) != NULL);
    snprintf(pagemap, sizeof(pagemap), "%s/pagemap", dir);
    fd = open(pagemap, O_RDWR | O_CREAT, 0600);
    T_ASSERT(fd >= 0);
    close(fd);
    next_pfn = first_pfn;
    gap_at = -1;
    hide_pfn = false;
    chunks_made = 0;
    dmacoh__hostmem_mapped_hook = fake_entries;
}

static void teardown(void)
{
    char cmd[128];

    dmacoh__hostmem_mapped_hook = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    T_EQ_INT(system(cmd), 0);
}

static struct dmacoh_hostmem *open_hm(struct dmacoh_platform *declared)
{
    struct dmacoh_hostmem_opts o = {
        .pagemap_path = pagemap, .declared = declared, .no_hugetlb = true, .chunk_size = CHUNK};
    struct dmacoh_hostmem *hm = NULL;

    T_EQ_INT(dmacoh_hostmem_open(&o, &hm), 0);
    return hm;
}

/* One page: the handle is the fake frame's physical address; checked frees. */
static void single_page_handle_is_physical(void)
{
    struct dmacoh_hostmem *hm;
    struct dmacoh_device dev;
    dmacoh_dma_addr_t h;
    dmacoh_phys_addr_t phys;
    void *p;

    setup(0x12345);
    hm = open_hm(NULL);
    T_EQ_INT(dmacoh_device_init(&dev, "dev", NULL, dmacoh_hostmem_platform(hm)), 0);
    T_EQ_INT(dmacoh_alloc_coherent(&dev, 100, 0, 0, &p, &h), 0);
    T_EQ_U64(h, 0x12345000ull);
    T_EQ_INT(dmacoh_hostmem_phys(hm, (char *)p + 8, &phys), 0);
    T_EQ_U64(phys, 0x12345008ull);
    T_EQ_U64(dmacoh_virt_to_dma(&dev, (char *)p + 16), 0x12345010ull);
    T_EQ_PTR(dmacoh_dma_to_virt(&dev, 0x12345020ull), (char *)p + 32);
    T_EQ_INT(((unsigned char *)p)[99], 0); /* zeroed by the core */
    T_EQ_INT(dmacoh_free_coherent(&dev, 100, p, h + 0x1000), DMACOH_EINVAL);
    T_EQ_INT(dmacoh_free_coherent(&dev, 100, (char *)p + 0x1000, h), DMACOH_EFAULT);
    T_EQ_INT(dmacoh_hostmem_close(hm), DMACOH_EBUSY);
    T_EQ_INT(dmacoh_free_coherent(&dev, 100, p, h), 0);
    T_EQ_INT(dmacoh_free_coherent(&dev, 100, p, h), DMACOH_EFAULT); /* double free */
    T_EQ_INT(dmacoh_device_fini(&dev), 0);
    T_EQ_INT(dmacoh_hostmem_close(hm), 0);
    teardown();
}

/* Several pages: one verified contiguous chunk, shared by allocations that fit, aligned, with
 * CPU pointers congruent to handles (the chunk is moved when the first mapping is not). */
static void chunk_is_contiguous_and_shared(void)
{
    struct dmacoh_hostmem *hm;
    struct dmacoh_device dev;
    dmacoh_dma_addr_t h1, h2, h3;
    void *p1, *p2, *p3;

    setup(0x40010); /* physical 0x40010000: aligned to the 64 KiB chunk */
    hm = open_hm(NULL);
    T_EQ_INT(dmacoh_device_init(&dev, "dev", NULL, dmacoh_hostmem_platform(hm)), 0);
    T_EQ_INT(dmacoh_alloc_coherent(&dev, 0x4000, 0, 0, &p1, &h1), 0);
    T_EQ_INT(dmacoh_alloc_coherent(&dev, 0x3000, 0, 0, &p2, &h2), 0);
    T_EQ_INT(chunks_made, 1);
    T_EQ_U64(h1, 0x40010000ull);
    T_EQ_U64(h2 & 0x3fff, 0); /* 12 KiB: aligned to 16 KiB */
    T_ASSERT(h2 >= h1 + 0x4000 && h2 < 0x40020000ull);
    T_EQ_U64(((uintptr_t)p1 - h1) & (CHUNK - 1), 0);
    T_EQ_U64((uintptr_t)p2 - (uintptr_t)p1, h2 - h1);
    memset(p1, 0xa5, 0x4000);
    memset(p2, 0x5a, 0x3000);
    T_EQ_INT(dmacoh_alloc_coherent(&dev, CHUNK + 1, 0, 0, &p3, &h3), 0); /* two chunks' worth */
    T_EQ_INT(chunks_made, 2);
    T_EQ_U64(h3 & (2 * CHUNK - 1), 0);
    T_EQ_INT(dmacoh_free_coherent(&dev, 0x3000, p2, h2), 0);
    T_EQ_INT(dmacoh_free_coherent(&dev, 0x4000, p1, h1), 0);
    T_EQ_INT(dmacoh_free_coherent(&dev, 0x4000, p1, h1), DMACOH_EFAULT); /* chunk is gone */
    T_EQ_INT(dmacoh_free_coherent(&dev, CHUNK + 1, p3, h3), 0);
    T_EQ_INT(dmacoh_device_fini(&dev), 0);
    T_EQ_INT(dmacoh_hostmem_close(hm), 0);
    teardown();
}

static void not_contiguous_is_refused(void)
{
    struct dmacoh_hostmem *hm;
    struct dmacoh_device dev;
    dmacoh_dma_addr_t h;
    void *p;

    setup(0x40000);
    gap_at = 5;
    hm = open_hm(NULL);
    T_EQ_INT(dmacoh_device_init(&dev, "dev", NULL, dmacoh_hostmem_platform(hm)), 0);
    T_EQ_INT(dmacoh_alloc_coherent(&dev, 0x8000, 0, 0, &p, &h), DMACOH_ENOMEM);
    T_ASSERT(t_log_find("not physically contiguous"));
    gap_at = -1;
    T_EQ_INT(dmacoh_alloc_coherent(&dev, 0x8000, 0, 0, &p, &h), 0); /* the next one is */
    T_EQ_INT(dmacoh_free_coherent(&dev, 0x8000, p, h), 0);
    T_EQ_INT(dmacoh_device_fini(&dev), 0);
    T_EQ_INT(dmacoh_hostmem_close(hm), 0);
    teardown();
}

static void hidden_frames_need_root(void)
{
    struct dmacoh_hostmem *hm;
    struct dmacoh_device dev;
    dmacoh_dma_addr_t h;
    void *p;

    setup(0x40000);
    hide_pfn = true;
    hm = open_hm(NULL);
    T_EQ_INT(dmacoh_device_init(&dev, "dev", NULL, dmacoh_hostmem_platform(hm)), 0);
    T_EQ_INT(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &p, &h), DMACOH_EPERM);
    T_ASSERT(t_log_find("run as root"));
    T_EQ_INT(dmacoh_device_fini(&dev), 0);
    T_EQ_INT(dmacoh_hostmem_close(hm), 0);
    teardown();
}

static void dma_mask_is_respected(void)
{
    struct dmacoh_hostmem *hm;
    struct dmacoh_device dev;
    dmacoh_dma_addr_t h;
    void *p;

    setup(0x100000); /* physical 4 GiB */
    hm = open_hm(NULL);
    T_EQ_INT(dmacoh_device_init(&dev, "dev", NULL, dmacoh_hostmem_platform(hm)), 0);
    T_EQ_INT(dmacoh_device_set_dma_mask(&dev, 0xffffffffull), 0);
    T_EQ_INT(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &p, &h), DMACOH_ERANGE);
    T_ASSERT(t_log_find("DMA mask"));
    T_EQ_INT(dmacoh_device_set_dma_mask(&dev, 0xfffffffffull), 0);
    T_EQ_INT(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &p, &h), 0);
    T_EQ_INT(dmacoh_free_coherent(&dev, 4096, p, h), 0);
    T_EQ_INT(dmacoh_device_fini(&dev), 0);
    T_EQ_INT(dmacoh_hostmem_close(hm), 0);
    teardown();
}

static void missing_page_map_is_reported(void)
{
    struct dmacoh_hostmem_opts o = {.pagemap_path = "/nonexistent/pagemap", .no_hugetlb = true};
    struct dmacoh_hostmem *hm;
    struct dmacoh_device dev;
    dmacoh_dma_addr_t h;
    void *p;

    T_EQ_INT(dmacoh_hostmem_open(NULL, NULL), DMACOH_EINVAL);
    o.chunk_size = 3 * 4096;
    T_EQ_INT(dmacoh_hostmem_open(&o, &hm), DMACOH_EINVAL);
    o.chunk_size = 0;
    T_EQ_INT(dmacoh_hostmem_open(&o, &hm), 0);
    T_EQ_INT(dmacoh_device_init(&dev, "dev", NULL, dmacoh_hostmem_platform(hm)), 0);
    T_EQ_INT(dmacoh_alloc_coherent(&dev, 4096, 0, 0, &p, &h), DMACOH_ENOENT);
    T_ASSERT(t_log_find("/nonexistent/pagemap"));
    /* No platform for declared memory. */
    T_EQ_INT(dmacoh_declare_coherent_memory(&dev, 0x1000, 0, 4096, DMACOH_MEMORY_MAP, NULL, NULL),
             DMACOH_ENODEV);
    T_EQ_INT(dmacoh_device_fini(&dev), 0);
    T_EQ_INT(dmacoh_hostmem_close(hm), 0);
}

/* In front of the memfd platform: declared memory from the memfd, fallback from hostmem. */
static void falls_back_behind_declared_memory(void)
{
    struct dmacoh_memfd *mf;
    struct dmacoh_hostmem *hm;
    struct dmacoh_device dev;
    dmacoh_dma_addr_t h1, h2;
    void *p1, *p2;
    int granted = 0;

    setup(0x50000);
    T_EQ_INT(dmacoh_memfd_create(0xfe000000ull, 0x2000, &mf), 0);
    hm = open_hm(dmacoh_memfd_platform(mf));
    T_EQ_INT(dmacoh_device_init(&dev, "card", NULL, dmacoh_hostmem_platform(hm)), 0);
    T_EQ_INT(dmacoh_declare_coherent_memory(&dev, 0xfe000000ull, 0, 0x2000, DMACOH_MEMORY_MAP, NULL,
                                            &granted),
             0);
    T_EQ_INT(granted, DMACOH_MEMORY_MAP);
    T_EQ_INT(dmacoh_alloc_coherent(&dev, 0x2000, 0, 0, &p1, &h1), 0);
    T_EQ_U64(h1, 0);
    T_EQ_INT(dmacoh_origin_of(&dev, p1), DMACOH_ORIGIN_REGION);
    T_EQ_INT(dmacoh_alloc_coherent(&dev, 0x1000, 0, 0, &p2, &h2), 0); /* region full */
    T_EQ_U64(h2, 0x50000000ull);
    T_EQ_INT(dmacoh_origin_of(&dev, p2), DMACOH_ORIGIN_SYSTEM);
    T_EQ_INT(dmacoh_free_coherent(&dev, 0x1000, p2, h2), 0);
    T_EQ_INT(dmacoh_free_coherent(&dev, 0x2000, p1, h1), 0);
    T_EQ_INT(dmacoh_release_coherent_memory(&dev, 0), 0);
    T_EQ_INT(dmacoh_device_fini(&dev), 0);
    T_EQ_INT(dmacoh_hostmem_close(hm), 0);
    T_EQ_INT(dmacoh_memfd_close(mf), 0);
    teardown();
}

#define THREADS 4
#define ROUNDS  50

static struct dmacoh_device tdev;

static void *churn(void *arg)
{
    void *p[4];
    dmacoh_dma_addr_t h[4];
    size_t sz[4] = {4096, 0x2000, 100, 0x4000};

    (void)arg;
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < 4; i++)
            if (dmacoh_alloc_coherent(&tdev, sz[i], 0, 0, &p[i], &h[i]) != 0)
                return (void *)1;
        for (int i = 0; i < 4; i++) {
            if (dmacoh_virt_to_dma(&tdev, p[i]) != h[i])
                return (void *)2;
            memset(p[i], r, sz[i]);
        }
        for (int i = 3; i >= 0; i--)
            if (dmacoh_free_coherent(&tdev, sz[i], p[i], h[i]) != 0)
                return (void *)3;
    }
    return NULL;
}

static void many_threads(void)
{
    struct dmacoh_hostmem *hm;
    pthread_t th[THREADS];

    setup(0x80000);
    hm = open_hm(NULL);
    T_EQ_INT(dmacoh_device_init(&tdev, "dev", NULL, dmacoh_hostmem_platform(hm)), 0);
    for (int i = 0; i < THREADS; i++)
        T_EQ_INT(pthread_create(&th[i], NULL, churn, NULL), 0);
    for (int i = 0; i < THREADS; i++) {
        void *res;

        T_EQ_INT(pthread_join(th[i], &res), 0);
        T_EQ_PTR(res, NULL);
    }
    T_EQ_INT(dmacoh_device_fini(&tdev), 0);
    T_EQ_INT(dmacoh_hostmem_close(hm), 0);
    teardown();
}

static const struct t_case cases[] = {
    T_CASE(single_page_handle_is_physical),
    T_CASE(chunk_is_contiguous_and_shared),
    T_CASE(not_contiguous_is_refused),
    T_CASE(hidden_frames_need_root),
    T_CASE(dma_mask_is_respected),
    T_CASE(missing_page_map_is_reported),
    T_CASE(falls_back_behind_declared_memory),
    T_CASE(many_threads),
};

T_MAIN(cases)
