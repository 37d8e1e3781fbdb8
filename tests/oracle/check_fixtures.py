"""Capsules packed from both GitNexus fixtures, read back by memvid-sdk."""
import collections
import json
import os
import random
import sqlite3

import memvid_sdk

from common import check, finish, load_fixture, node_track, node_uri, pack, tmpdir, FIXTURES

META_KEYS = ["id", "label", "name", "filePath", "startLine", "endLine", "language", "isExported", "heuristicLabel",
             "cohesion", "symbolCount", "keywords", "description", "enrichedBy", "processType", "stepCount",
             "communities", "entryPointId", "terminalId", "entryPointScore", "entryPointReason"]


def expected_node_metadata(n):
    p = n["properties"]
    m = {k: p.get(k) for k in META_KEYS}
    m["id"], m["label"] = n["id"], n["label"]
    for k in ("cohesion", "entryPointScore"):
        if m[k] is not None:
            m[k] = float(m[k])
    return json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def run(fixture):
    print(f"== {fixture}")
    payload = load_fixture(fixture)
    work = tmpdir()
    ppath = os.path.join(work, "payload.json")
    with open(ppath, "w") as f:
        json.dump(payload, f)
    res = pack(ppath, os.path.join(work, "out"))
    cap = res["artifactPath"]
    opts = payload["options"]
    nodes, rels = payload["nodes"], payload["relationships"]
    n_nodes = min(opts["maxNodeFrames"], len(nodes))
    n_rels = min(opts["maxRelationFrames"], len(rels))
    expected_frames = n_nodes + n_rels + 5

    mem = memvid_sdk.use("basic", cap, read_only=True)
    v = mem.verify(cap, deep=True)
    check(v["overall_status"] == "passed", f"memvid verify --deep passes ({[c['name'] + ':' + c['status'] for c in v['checks']]})")
    st = mem.stats()
    check(st["frame_count"] == expected_frames, f"frame count {st['frame_count']} == nodes + relations + 5 = {expected_frames}")
    check(res["frames"] == expected_frames, "pack reports the same frame count")
    check(st["has_lex_index"] and st["has_time_index"], "lexical and time indexes present")

    # Lexical search: 50 sampled node names -> the node's URI in the top 8. Names
    # shared by several nodes (e.g. "new"), shorter than 3 characters, or equal to a
    # node label (every frame of that label contains the word) cannot single out one node.
    labels = {n["label"].lower() for n in nodes}
    counts = collections.Counter(n["properties"]["name"] for n in nodes)
    cands = [n for n in nodes[:n_nodes] if counts[n["properties"]["name"]] == 1 and len(n["properties"]["name"]) >= 3
             and n["properties"]["name"].lower() not in labels]
    sample = random.Random(42).sample(cands, 50)
    found, misses = 0, []
    for n in sample:
        hits = mem.find(n["properties"]["name"], k=8, mode="lex")["hits"]
        if node_uri(n) in [h["uri"] for h in hits]:
            found += 1
        else:
            misses.append((n["properties"]["name"], [h["uri"] for h in hits[:3]]))
    print(f"  lexical: {found}/50 sampled node names find their node in the top 8; misses: {misses}")
    check(found >= 49, f"lexical search finds >= 49/50 sampled nodes by name (got {found})")

    # Read-back: title/uri/track/tags/labels against the original's layout (computed
    # here from the payload), text against what the writer recorded in the sidecar and
    # against the layout.
    db = sqlite3.connect(res["sidecar"]["sidecarPath"])
    written = {uri: text for uri, text in db.execute("SELECT uri, text FROM fulltext_lexical_index")}
    check(len(written) == expected_frames, "sidecar fulltext rows == frames")
    by_id = {n["id"]: n for n in nodes}
    rng = random.Random(7)
    ok = 0
    picks = rng.sample(range(n_nodes), 20)
    for i in picks:
        n = nodes[i]
        uri = node_uri(n)
        fr = mem.frame(uri)
        text = mem.blob(uri).decode("utf-8")
        p = n["properties"]
        sid = payload["sessionId"]
        good = (fr["title"] == f"{n['label']}: {p['name']}" and fr["uri"] == uri and fr["track"] == node_track(n["label"])
                and fr["tags"] == [f"track={node_track(n['label'])}", f"label={n['label']}", "semantic=false",
                                   "source=gitnexus", f"nodeLabel={n['label']}", f"sessionId={sid}"]
                and fr["labels"] == [n["label"]]
                and text == written[uri]
                and text.startswith(f"Node {n['label']}\nid={n['id']}\nname={p['name']}\nfilePath={p['filePath']}\n\nsnippet:\n")
                and text.endswith("\n\nmetadata=" + expected_node_metadata(n)))
        ok += good
        if not good:
            print("   node mismatch:", uri, fr, text[-300:])
    check(ok == len(picks), f"{ok}/{len(picks)} sampled node frames read back as written")
    ok = 0
    picks = rng.sample(range(n_rels), 20)
    for i in picks:
        r = rels[i]
        uri = "mv2://relations/" + r["id"]
        fr = mem.frame(uri)
        text = mem.blob(uri).decode("utf-8")
        s, t = by_id[r["sourceId"]], by_id[r["targetId"]]
        sn, tn = s["properties"]["name"], t["properties"]["name"]
        step = f" step={r['step']}" if r.get("step") is not None else ""
        head = (f"Relationship {r['type']}\nsource={sn} ({s['label']})\ntarget={tn} ({t['label']})\n"
                f"confidence={r['confidence']:.3f}\nreason={r['reason']}{step}\n\nmetadata=")
        meta = json.dumps({"id": r["id"], "type": r["type"], "sourceId": r["sourceId"], "targetId": r["targetId"],
                           "sourceName": sn, "targetName": tn, "sourceLabel": s["label"], "targetLabel": t["label"],
                           "confidence": float(r["confidence"]), "reason": r["reason"], "step": r.get("step")},
                          sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        good = (fr["title"] == f"{sn} {r['type']} {tn}" and fr["track"] == f"relations/{r['type']}"
                and fr["labels"] == ["relation"] and f"relationType={r['type']}" in fr["tags"]
                and text == written[uri] and text == head + meta)
        ok += good
        if not good:
            print("   relation mismatch:", uri, fr["title"], text[:300])
    check(ok == len(picks), f"{ok}/{len(picks)} sampled relation frames read back as written")
    for uri, title in [("mv2://meta/manifest", f"GitNexus manifest: {payload['projectName']}"),
                       ("mv2://meta/ai-bible/manifest", "AI Bible Manifest"),
                       ("mv2://meta/ai-bible/tool-matrix", "AI Bible Tool Matrix"),
                       ("mv2://meta/ai-bible/retrieval-ladder", "AI Bible Retrieval Ladder"),
                       ("mv2://meta/ai-bible/playbooks/core", "AI Bible Playbooks")]:
        fr = mem.frame(uri)
        check(fr["title"] == title and fr["track"] == "meta" and mem.blob(uri).decode() == written[uri], f"{uri} reads back")
    manifest = json.loads(mem.blob("mv2://meta/manifest").decode().split("\n\nmetadata=", 1)[1])
    check(manifest["totals"] == {"nodes": len(nodes), "relationships": len(rels), "exportedNodeFrames": n_nodes,
                                 "exportedRelationFrames": n_rels, "fileCount": len(payload["fileContents"])},
          "manifest totals")
    check(manifest["generatedAt"] == "2026-01-01T00:00:00Z", "manifest generatedAt comes from --created-at")
    check(manifest["nodeLabels"] == dict(collections.Counter(n["label"] for n in nodes)), "manifest nodeLabels")


if __name__ == "__main__":
    for fx in ("hexyl.json.zst", "memvid.json.zst"):
        run(fx)
    finish("oracle fixtures")
