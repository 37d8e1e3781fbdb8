#!/usr/bin/env python3
"""Searches a capsule with memvid's own reader (memvid-sdk): search.py <capsule.mv2> <query> [k]."""
import os
import sys

os.environ.setdefault("MEMVID_TELEMETRY", "0")
import memvid_sdk  # noqa: E402

path, query = sys.argv[1], sys.argv[2]
k = int(sys.argv[3]) if len(sys.argv) > 3 else 5
mem = memvid_sdk.use("basic", path, read_only=True)
stats = mem.stats()
print(f"{path}: {stats['frame_count']} frames, verify: {mem.verify(path)['overall_status']}")
print(f"find {query!r} (top {k}):")
for h in mem.find(query, k=k, mode="lex")["hits"]:
    print(f"  {h['rank']:>2}. {h['title']}  <{h['uri']}>")
