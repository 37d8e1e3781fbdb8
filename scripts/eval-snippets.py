#!/usr/bin/env python3
"""Checks node snippets in a packed sidecar against the real source files.

  eval-snippets.py <payload.json> <capsule.mv2.index.v1.sqlite> <source checkout>

For every node with line numbers: the snippet must equal lines startLine..endLine
(0-based) of the file in the checkout. Snippets cut by maxSnippetChars must be a
prefix; partial ones (the client cut the file) must match on the lines they have.
Prints counts; exits 1 on any mismatch. A development check: it needs a checkout of
the exported repository at (or near) the indexed commit, which the suite does not have.
"""
import json
import os
import sqlite3
import sys

payload, sidecar, root = sys.argv[1:4]
d = json.load(open(payload))
rows = dict(sqlite3.connect(sidecar).execute("SELECT node_id, search_text FROM nodes_by_id"))
stats = dict(exact=0, exact_cut=0, partial=0, mismatch=0, absent=0, no_lines=0, no_file=0)
bad = []
for n in d["nodes"]:
    p = n["properties"]
    s, e = p.get("startLine"), p.get("endLine")
    if n["id"] not in rows:
        continue
    if s is None:
        stats["no_lines"] += 1
        continue
    path = os.path.join(root, p["filePath"])
    if not os.path.isfile(path):
        stats["no_file"] += 1
        continue
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    want = [l.rstrip("\r") for l in lines[s:(e if e is not None else s) + 1]]
    snip = rows[n["id"]].split("\n\nsnippet:\n", 1)[1].rsplit("\n\nmetadata=", 1)[0]
    if snip == "<no source content available>":
        stats["absent"] += 1
        continue
    got = snip.split("\n")
    if got[-1].startswith("...[lines ") and got[-1].endswith("not in the export payload]"):
        key, got = "partial", got[:-1]
        ok = got == want[:len(got)]
    elif snip.endswith("\n...[truncated]"):
        key = "exact_cut"
        body = snip[:-len("\n...[truncated]")]
        ok = "\n".join(want).startswith(body)
    else:
        key = "exact"
        ok = got == want
    if ok:
        stats[key] += 1
    else:
        stats["mismatch"] += 1
        bad.append((n["id"], s, e))
print(json.dumps(stats))
for b in bad[:10]:
    print("mismatch:", b)
sys.exit(1 if bad else 0)
