#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Median across runs of a benchmark's name=value lines: scripts/bench-median.py run1 run2 ...
# Numeric values: the median and every run's value. Other values (ok, full, ...): the value
# when all runs agree, else each run's value. A key missing from some runs is reported over
# the runs that have it (runs= shows how many).
import re
import statistics
import sys

runs = [dict(re.findall(r'^(\S+)=(\S+)$', open(f).read(), re.M)) for f in sys.argv[1:]]
keys = []
for r in runs:
    keys += [k for k in r if k not in keys]
for key in keys:
    raw = [r[key] for r in runs if key in r]
    try:
        vals = [float(v) for v in raw]
    except ValueError:
        print(f"{key}={raw[0] if len(set(raw)) == 1 else '|'.join(raw)}  runs={raw}")
        continue
    print(f"{key}={statistics.median(vals):g}  runs={vals}")
