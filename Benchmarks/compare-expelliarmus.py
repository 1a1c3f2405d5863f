#!/usr/bin/env python3
"""Decode throughput of expelliarmus (a C decoder with a Python wrapper) on the shared Prophesee files.

Run beside `bisnn bench events` in the same session to compare on the same machine:
    pip install expelliarmus
    python3 Benchmarks/compare-expelliarmus.py ../shared/data
expelliarmus reads the file each time (from the page cache), so compare it with bisnn's "read" rows
(EventFileReader.read: file to events), not only with decoding from memory.
"""
import sys
import time

from expelliarmus import Wizard

data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
for encoding, name in [("evt2", "evt2_640x480.raw"), ("evt3", "evt3_1280x720.raw"), ("dat", "ncars_crop.dat")]:
    wizard = Wizard(encoding=encoding, fpath=f"{data}/formats/{name}")
    n = len(wizard.read())
    times = []
    deadline = time.perf_counter() + 1.0
    while time.perf_counter() < deadline or len(times) < 5:
        start = time.perf_counter()
        wizard.read()
        times.append(time.perf_counter() - start)
    times.sort()
    print(f"{n / times[len(times) // 2] / 1e6:8.1f} M events/s  expelliarmus read {encoding} {name} (median)")
