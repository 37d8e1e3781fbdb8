#!/usr/bin/env python3
"""Deterministic synthetic GitNexus export: gen_payload.py <out.json> [nodes] [seed].

Shaped like the fixtures: File/Folder/Function/Method/Class/Property/Community/
Process nodes with 0-based line ranges into generated source files, and
CONTAINS/DEFINES/CALLS/HAS_METHOD/ACCESSES/MEMBER_OF/STEP_IN_PROCESS relations
(~2.7 per node, as in the memvid fixture). File contents are whole files."""
import json
import random
import sys

out = sys.argv[1]
n_nodes = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
words = ("alpha beta gamma delta index frame vector token writer reader parse build load store cache query "
         "search render print buffer stream batch limit option config session export import graph node edge").split()

nodes, rels, files = [], [], {}
per_file = 25  # a File node and 24 functions/methods
n_files = max(1, (n_nodes - 2 * 60) // per_file)
fid = 0
for f in range(n_files):
    path = f"src/{words[f % len(words)]}/{words[(f // 7) % len(words)]}_{f}.rs"
    file_id = f"File:{path}"
    nodes.append({"id": file_id, "label": "File", "properties": {"name": path.rsplit('/', 1)[1], "filePath": path}})
    lines, members = [], []
    for k in range(per_file - 1):
        name = f"{rng.choice(words)}_{rng.choice(words)}_{f}_{k}"
        start = len(lines)
        body = rng.randint(3, 25)
        lines.append(f"pub fn {name}(input: &str, limit: usize) -> Result<usize> {{")
        for b in range(body):
            lines.append(f"    let {rng.choice(words)}_{b} = {rng.choice(words)}(input, limit + {b}); // {rng.choice(words)}")
        lines.append("}")
        lines.append("")
        label = "Method" if k % 5 == 0 else "Function"
        nid = f"{label}:{path}:{name}"
        nodes.append({"id": nid, "label": label,
                      "properties": {"name": name, "filePath": path, "startLine": start, "endLine": start + body + 1,
                                     "language": "rust", "isExported": k % 3 == 0}})
        members.append(nid)
        rels.append({"id": f"DEFINES:{file_id}->{nid}", "sourceId": file_id, "targetId": nid, "type": "DEFINES",
                     "confidence": 1.0, "reason": ""})
    files[path] = "\n".join(lines) + "\n"
    for a in members:
        for _ in range(2):
            b = rng.choice(members)
            rels.append({"id": f"CALLS:{a}->{b}#{len(rels)}", "sourceId": a, "targetId": b, "type": "CALLS",
                         "confidence": round(rng.uniform(0.5, 1.0), 3), "reason": "import-resolved"})
# Communities and processes tie the graph together.
fn_ids = [n["id"] for n in nodes if n["label"] in ("Function", "Method")]
for c in range(60):
    cid = f"comm_{c}"
    nodes.append({"id": cid, "label": "Community", "properties": {"name": f"Cluster_{c}", "filePath": "",
                  "heuristicLabel": f"Cluster_{c}", "cohesion": round(rng.random(), 3), "symbolCount": 40,
                  "enrichedBy": "heuristic"}})
    for m in rng.sample(fn_ids, 40):
        rels.append({"id": f"MEMBER_OF:{m}->{cid}", "sourceId": m, "targetId": cid, "type": "MEMBER_OF",
                     "confidence": 1.0, "reason": "leiden"})
for p in range(60):
    pid = f"proc_{p}_{rng.choice(words)}"
    steps = rng.sample(fn_ids, 5)
    nodes.append({"id": pid, "label": "Process", "properties": {"name": f"Process {p}", "filePath": "",
                  "processType": "cross_community", "stepCount": 5, "communities": [f"comm_{p % 60}"],
                  "entryPointId": steps[0], "terminalId": steps[-1]}})
    for i, s in enumerate(steps):
        rels.append({"id": f"{s}_step_{i + 1}_{pid}", "sourceId": s, "targetId": pid, "type": "STEP_IN_PROCESS",
                     "confidence": 1.0, "reason": "trace", "step": i + 1})
payload = {"sessionId": "bench-session", "projectName": "synthetic",
           "source": {"type": "folder", "baseName": "synthetic", "displayName": "synthetic", "folderName": "synthetic"},
           "nodes": nodes, "relationships": rels, "fileContents": files,
           "options": {"semanticEnabled": False, "maxSnippetChars": 1400, "maxNodeFrames": 50000 * 4,
                       "maxRelationFrames": 120000}}
with open(out, "w") as f:
    json.dump(payload, f, separators=(",", ":"))
print(json.dumps({"nodes": len(nodes), "relationships": len(rels), "files": len(files)}))
