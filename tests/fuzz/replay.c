/* SPDX-License-Identifier: MIT */
/*
 * replay.c - runs a libFuzzer target without libFuzzer: every file named on the command line,
 * and every file in every directory named, is fed to LLVMFuzzerTestOneInput once (lz4's
 * ossfuzz/standaloneengine.c in spirit). A finding aborts, as under the fuzzer. Prints the
 * number of inputs and ends with the harness's closing line.
 */
/* 64-bit inode numbers and sizes on 32-bit hosts too: readdir() and stat() otherwise fail with
 * EOVERFLOW on file systems with large inode numbers. */
#define _FILE_OFFSET_BITS 64
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned ran;

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data;
    long n;

    if (!f) {
        perror(path);
        return 1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return 1;
    }
    data = (uint8_t *)malloc((size_t)n + 1);
    if (!data || fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        fclose(f);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(data, (size_t)n);
    free(data);
    ran++;
    return 0;
}

static int run_path(const char *path)
{
    struct stat sb;
    struct dirent *e;
    DIR *d;
    int bad = 0;

    if (stat(path, &sb) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(sb.st_mode))
        return run_file(path);
    d = opendir(path);
    if (!d) {
        perror(path);
        return 1;
    }
    while ((e = readdir(d)) != NULL) {
        char full[4096];

        if (e->d_name[0] == '.')
            continue;
        snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
        bad |= run_file(full);
    }
    closedir(d);
    return bad;
}

int main(int argc, char **argv)
{
    int bad = 0;

    for (int i = 1; i < argc; i++)
        bad |= run_path(argv[i]);
    printf("replayed %u inputs\n", ran);
    printf("%u passed, %d failed\n", ran, bad);
    return bad || ran == 0;
}
