/* SPDX-License-Identifier: MIT */
/*
 * firmware.h - the test suites the image runs, one entry point each. The unit-test files of
 * tests/unit/ are compiled unchanged, their T_MAIN's main renamed by the build
 * (-Dmain=fw_<file>_main).
 */
#ifndef DMACOH_FW_FIRMWARE_H
#define DMACOH_FW_FIRMWARE_H

int fw_scenarios_main(void);
int fw_test_pages_main(void);
int fw_test_window_main(void);

#endif /* DMACOH_FW_FIRMWARE_H */
