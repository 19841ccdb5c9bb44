/* SPDX-License-Identifier: MIT */
/*
 * fakesys.h - a whole fake machine in a folder, as sysfs and /dev show it: PCI functions
 * (ivshmem, edu bound to vfio-pci, qxl bound to uio_pci_generic, NVMe controllers bound and
 * unbound, a broken one, a symbolic-link loop), UIO devices, device DAX and a devicetree with
 * reserved memory and SRAM. test_discover and the `dmacoh list` golden test walk it; what
 * each device is lives in fakesys.c and is listed in tests/tools/golden/list.txt.
 */
#ifndef DMACOH_FAKESYS_H
#define DMACOH_FAKESYS_H

#include <stddef.h>
#include <stdint.h>

/** Creates <root>/sys and <root>/dev (root exists). Fails the test on any error. */
void t_fake_machine(const char *root);

/** Writes len bytes to <root>/<rel>, creating the folders above it. */
void t_put_bytes(const char *root, const char *rel, const void *data, size_t len);

/** Writes a string (without its NUL) to <root>/<rel>, creating the folders above it. */
void t_put_text(const char *root, const char *rel, const char *text);

/** Makes <root>/<rel> a symbolic link to target, creating the folders above it. */
void t_put_link(const char *root, const char *rel, const char *target);

/** Removes the tree (rm -rf root). */
void t_remove_tree(const char *root);

#endif /* DMACOH_FAKESYS_H */
