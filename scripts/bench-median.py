#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Median across runs of a benchmark's name=value lines: scripts/bench-median.py run1 run2 ...
import re
import statistics
import sys

runs = [dict(re.findall(r'^(\S+)=(\S+)$', open(f).read(), re.M)) for f in sys.argv[1:]]
for key in runs[0]:
    vals = [float(r[key]) for r in runs if key in r]
    print(f"{key}={statistics.median(vals):g}  runs={vals}")
