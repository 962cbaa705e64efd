#!/usr/bin/env python3
"""The usual Python scan, for the comparison: gunzip each object, parse it whole, test each record.

  Benchmarks/scan_python.py json|orjson PROCESSES FILE...   (file names also from stdin, NUL-separated)

Prints the eventID of every record that matches `filter.matches`, one per line.
"""

import gzip
import os
import sys
from multiprocessing import Pool

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import filter as shared  # noqa: E402

PARSER = sys.argv[1]
if PARSER == "orjson":
    import orjson
    loads = orjson.loads
else:
    import json
    loads = json.loads


def scan(path):
    with open(path, "rb") as f:
        document = loads(gzip.decompress(f.read()))
    return [r.get("eventID") for r in document.get("Records", []) if shared.matches(r)]


if __name__ == "__main__":
    processes = int(sys.argv[2])
    files = sys.argv[3:] or [p for p in sys.stdin.buffer.read().decode().split("\0") if p]
    with Pool(processes) as pool:
        for ids in pool.imap_unordered(scan, files, chunksize=32):
            for event_id in ids:
                print(event_id)
