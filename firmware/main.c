/* SPDX-License-Identifier: MIT */
/*
 * main.c - the test image: takes NAME=VALUE words of its semihosting command line into the
 * environment (QEMU: -append "DMACOH_DEBUG=all"), prints what the platform costs in RAM, runs
 * each suite (the demo's scenarios on the board's memories, then the core's unit tests that
 * need no operating system), and exits with 0 when every suite passed, 1 otherwise.
 * Built with _POSIX_C_SOURCE (strtok_r, setenv; see CMakeLists.txt).
 */
#include "firmware.h"
#include "semihost.h"

#include <dmacoh/baremetal.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void environment_from_cmdline(void)
{
    static char line[256];
    char *save = NULL;

    if (semihost_cmdline(line, sizeof(line)) != 0)
        return;
    for (char *w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(w, '=');

        if (eq && eq != w) {
            *eq = '\0';
            setenv(w, eq + 1, 1);
        }
    }
}

static void print_costs(void)
{
    printf("# metadata of a 64 KiB region: %zu bytes with 4 KiB pages, %zu bytes with a 16-byte "
           "granule\n",
           dmacoh_region_meta_size(64 * 1024, 4096), dmacoh_region_meta_size(64 * 1024, 16));
    printf("# struct dmacoh_device %zu bytes, struct dmacoh_baremetal %zu bytes\n",
           sizeof(struct dmacoh_device), sizeof(struct dmacoh_baremetal));
}

int main(void)
{
    static const struct {
        const char *name;
        int (*run)(void);
    } suites[] = {
        {"scenarios", fw_scenarios_main},
        {"test_pages", fw_test_pages_main},
        {"test_window", fw_test_window_main},
    };
    unsigned failed = 0;
    const char *debug;

    environment_from_cmdline();
    debug = getenv("DMACOH_DEBUG");
    printf("# dmacoh firmware on a Cortex-M3 (mps2-an385)%s%s\n", debug ? ", DMACOH_DEBUG=" : "",
           debug ? debug : "");
    print_costs();
    for (unsigned i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
        int r;

        printf("# suite %s\n", suites[i].name);
        r = suites[i].run();
        if (r != 0 && r != 77) /* 77: every case skipped */
            failed++;
    }
    printf("firmware: %u of %u suites failed\n", failed,
           (unsigned)(sizeof(suites) / sizeof(suites[0])));
    return failed ? 1 : 0;
}
