#!/usr/bin/env python3
"""Waits until every expected point is readable from its whisper file (carbon-cache's baseline in ingest.mjs).

Usage: whisper-wait.py EXPECT.json TIMEOUT_S. EXPECT.json maps a whisper file to [[time, value], ...]. Prints
"ready", waits for a line on stdin (the sender has started), then polls the files not yet complete and prints
one JSON line: {"seconds": time from the go line until all were readable, "lost": points missing or wrong}.
"""
import json
import struct
import sys
import time

import whisper

expect = json.load(open(sys.argv[1]))
timeout = float(sys.argv[2])
start = min(t for pts in expect.values() for t, _ in pts) - 60
end = max(t for pts in expect.values() for t, _ in pts) + 60


def missing(path, points):
    """Points of one file not (yet) there with their value."""
    try:
        (t0, _, step), values = whisper.fetch(path, start, end)
    except (IOError, OSError, struct.error, whisper.WhisperException):
        # struct.error: a file carbon is still creating (its archive not yet all there) reads short.
        return len(points)
    got = {t0 + i * step: v for i, v in enumerate(values)}
    return sum(1 for t, v in points if got.get(t) is None or abs(got[t] - v) > 1e-9)


print("ready", flush=True)
sys.stdin.readline()
t0 = time.monotonic()
todo = dict(expect)
while todo and time.monotonic() - t0 < timeout:
    todo = {p: pts for p, pts in todo.items() if missing(p, pts) > 0}
    if todo:
        time.sleep(0.05)
seconds = time.monotonic() - t0
lost = sum(missing(p, pts) for p, pts in todo.items())
print(json.dumps({"seconds": seconds, "lost": lost}), flush=True)
