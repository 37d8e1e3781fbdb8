"""What upstream GitNexus sends today, derived from both fixtures (its
`gitnexus-shared` graph types and `/api/graph` dump): Community and Process
nodes without filePath, null confidence/reason/step, relationship ids made as
`${sourceId}_${type}_${targetId}` (so parallel edges collide), node properties
beyond the original's model, relationships with `evidence`, new labels and
relation types. Every node and relationship becomes a frame, the extra members
are in the frames' metadata, the result counts what was filled in, and
memvid-sdk verifies the capsules."""
import copy
import json
import os
import random
import subprocess

import memvid_sdk

from common import WORKER, check, finish, load_fixture, pack, tmpdir


def upstream(payload, rnd):
    p = copy.deepcopy(payload)
    for n in p["nodes"]:
        props = n["properties"]
        if n["label"] in ("Community", "Process"):
            props.pop("filePath", None)
        if n["label"] in ("Function", "Method"):
            props.update({"returnType": "Result<()>", "visibility": "pub", "parameterCount": rnd.randint(0, 5),
                          "isStatic": rnd.random() < 0.5, "annotations": ["#[inline]"],
                          "middleware": {"z": 1, "a": [None, 2.5]}})
    p["nodes"].append({"id": "Decorator:src/lib.rs:trace", "label": "Decorator",
                       "properties": {"name": "trace", "filePath": "src/lib.rs", "startLine": 1, "endLine": 1}})
    first = p["nodes"][0]["id"]
    p["relationships"].append({"id": "", "sourceId": "Decorator:src/lib.rs:trace", "targetId": first, "type": "DECORATES",
                               "confidence": 0.5, "reason": "attribute"})
    for r in p["relationships"]:
        r["id"] = f"{r['sourceId']}_{r['type']}_{r['targetId']}"
        x = rnd.random()
        if x < 0.1:
            r["confidence"] = None
        elif x < 0.2:
            r["reason"] = None
        elif x < 0.3:
            r["step"] = None
        if rnd.random() < 0.1:
            r["evidence"] = [{"line": rnd.randint(1, 900), "text": "call site"}]
    for r in list(p["relationships"][:5]):  # parallel edges: the same synthesized id
        twin = dict(r)
        twin["reason"] = "parallel"
        p["relationships"].append(twin)
    opts = p["options"]
    opts["maxNodeFrames"] = max(opts["maxNodeFrames"], len(p["nodes"]))
    opts["maxRelationFrames"] = max(opts["maxRelationFrames"], len(p["relationships"]))
    return p


def metadata(text):
    return json.loads(text[text.rindex("\n\nmetadata=") + len("\n\nmetadata="):])


def run(fixture):
    print(f"== {fixture}, upstream-shaped")
    payload = upstream(load_fixture(fixture), random.Random(7))
    work = tmpdir()
    ppath = os.path.join(work, "payload.json")
    with open(ppath, "w") as f:
        json.dump(payload, f)
    res = pack(ppath, os.path.join(work, "out"))
    nodes, rels = payload["nodes"], payload["relationships"]
    expected = len(nodes) + len(rels) + 5
    check(res["frames"] == expected, f"every node and relationship is a frame ({res['frames']} == {expected})")
    len_ = res["lenient"]
    check(len_["missingFilePath"] == sum(1 for n in nodes if "filePath" not in n["properties"]),
          f"nodes without filePath counted ({len_['missingFilePath']})")
    check(len_["duplicateRelationshipIds"] == len(rels) - len({r["id"] for r in rels}),
          f"colliding relationship ids counted ({len_['duplicateRelationshipIds']})")
    check(len_["defaultConfidence"] == sum(1 for r in rels if r.get("confidence") is None), "null confidence counted")
    check(len_["nullStep"] == sum(1 for r in rels if "step" in r and r["step"] is None), "null step counted")

    dump = json.loads(subprocess.run([WORKER, "inspect", res["artifactPath"], "--all"], capture_output=True, text=True,
                                     check=True).stdout)
    frames = dump["framesDetail"]
    rel_uris = [f["uri"] for f in frames if f["uri"].startswith("mv2://relations/")]
    check(len(rel_uris) == len(rels) and len(set(rel_uris)) == len(rels),
          f"each relationship has its own frame and URI ({len(set(rel_uris))} distinct of {len(rels)})")
    fn = next(n for n in nodes if n["label"] == "Function")
    fmeta = metadata(next(f for f in frames if f["uri"] == "mv2://nodes/" + fn["id"])["text"])
    check(fmeta.get("returnType") == "Result<()>" and fmeta.get("middleware") == {"a": [None, 2.5], "z": 1}
          and fmeta["id"] == fn["id"], "extra node properties are in the node's metadata (nested members sorted)")
    ev = next(r for r in rels if "evidence" in r)
    ev_frames = [metadata(f["text"]) for f in frames if f["uri"].startswith("mv2://relations/" + ev["id"])]
    check(any(m.get("evidence") == ev["evidence"] for m in ev_frames), "relationship evidence is in its metadata")
    check(any(f["uri"] == "mv2://nodes/Decorator:src/lib.rs:trace" and f["track"] == "nodes/Decorator" for f in frames),
          "a new label gets its frame and track")

    mem = memvid_sdk.use("basic", res["artifactPath"], read_only=True)
    v = mem.verify(res["artifactPath"], deep=True)
    check(v["overall_status"] == "passed", "memvid verify --deep passes")
    check(mem.stats()["frame_count"] == expected, "memvid reads every frame")


if __name__ == "__main__":
    run("hexyl.json.zst")
    run("memvid.json.zst")
    finish("oracle upstream")
