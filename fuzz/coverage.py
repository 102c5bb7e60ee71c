#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Edges covered per source file, from libFuzzer's -print_coverage=1 output (docs/fuzzing.md).

    build-fuzz/fuzz/fuzz_vfio_user -runs=0 -print_coverage=1 CORPUS... 2>&1 | fuzz/coverage.py

Prints "file covered/total (percent)" for every file under src/, then the total over them.
"""
import collections
import re
import sys

LINE = re.compile(r"(?:UN)?COVERED_FUNC: hits: \d+ edges: (\d+)/(\d+) \S+ (\S+):\d+")

covered = collections.Counter()
total = collections.Counter()
for line in sys.stdin:
    m = LINE.search(line)
    if not m:
        continue
    path = m.group(3)
    i = path.rfind("/src/")
    if i < 0:
        continue
    name = path[i + 1:]
    covered[name] += int(m.group(1))
    total[name] += int(m.group(2))
for name in sorted(total):
    print("%-28s %5d/%-5d (%d%%)" % (name, covered[name], total[name],
                                     100 * covered[name] // max(total[name], 1)))
c, t = sum(covered.values()), sum(total.values())
print("%-28s %5d/%-5d (%d%%)" % ("all of src/", c, t, 100 * c // max(t, 1)))
