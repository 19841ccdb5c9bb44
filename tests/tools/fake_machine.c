/* SPDX-License-Identifier: MIT */
/*
 * fake_machine.c - builds the fake machine of tests/harness/fakesys.c in the folder named by
 * the first argument (which exists), for the `dmacoh list` golden test (list_golden.sh).
 */
#include "fakesys.h"
#include "t.h"

#include <stdio.h>

static const char *root;

static void build(void)
{
    t_fake_machine(root);
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {T_CASE(build)};

    if (argc != 2) {
        fputs("usage: fake_machine DIR\n", stderr);
        return 2;
    }
    root = argv[1];
    return t_run(cases, 1);
}
