#!/usr/bin/env python3
"""Prints the medians of the last `cargo bench` run, one table per group,
with each peer's time divided by threadkit's (above 1.00: threadkit faster).

Usage: python3 benches/report.py [target/criterion]
"""
import json
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
groups = {}
for dirpath, _dirs, files in os.walk(root):
    if "estimates.json" in files and dirpath.endswith(os.sep + "new"):
        rel = os.path.relpath(os.path.dirname(dirpath), root)
        group, _, bench = rel.partition(os.sep)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            median = json.load(f)["median"]["point_estimate"]
        groups.setdefault(group, {})[bench] = median


def fmt(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def is_threadkit(name):
    return name.startswith("threadkit") or name.startswith("acquire")


for group in sorted(groups):
    benches = groups[group]
    ours = [b for b in benches if is_threadkit(b)]
    base = benches[ours[0]] if ours else None
    cells = []
    for bench in sorted(benches, key=lambda b: (not is_threadkit(b), b)):
        t = benches[bench]
        ratio = f" ({t / base:.2f}x)" if base and not is_threadkit(bench) else ""
        cells.append(f"{bench.replace(os.sep, '/')} {fmt(t)}{ratio}")
    print(f"| {group} | " + " · ".join(cells) + " |")
