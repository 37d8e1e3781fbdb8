"""golden1.json written by our writer equals the golden capsules memvid's own
writer made (tests/fixtures/mv2-golden/golden1_min.mv2, golden1_default.mv2):
byte for byte, and field by field as our validating reader decodes both files
(`memvid-export-worker inspect --all`: header, TOC, every frame, every payload);
and memvid-sdk verifies and searches ours. The layout is described in
docs/mv2-format.md."""
import json
import os
import subprocess

import memvid_sdk

from common import FIXTURES, WORKER, WRITE_DOCS, check, finish, tmpdir


def decode(path):
    """Our validating reader's full dump of a capsule (it checks every offset and checksum)."""
    r = subprocess.run([WORKER, "inspect", path, "--all"], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"inspect {path} failed ({r.returncode}): {r.stdout} {r.stderr}")
    d = json.loads(r.stdout)
    d.pop("path")
    return d


def diff(a, b, path="capsule"):
    out = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            out += diff(a.get(k), b.get(k), f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            out += diff(x, y, f"{path}[{i}]")
    elif a != b:
        out.append(f"{path}: ours={a!r} golden={b!r}")
    return out


def main():
    gdir = os.path.join(FIXTURES, "mv2-golden")
    work = tmpdir()
    for name, flags in (("golden1_min.mv2", ["--no-search-text", "--no-native-lex"]), ("golden1_default.mv2", [])):
        ours = os.path.join(work, name)
        golden = os.path.join(gdir, name)
        subprocess.run([WRITE_DOCS, os.path.join(gdir, "golden1.json"), ours] + flags, check=True, capture_output=True)
        d1, d2 = decode(ours), decode(golden)
        check(d2["frames"] > 0 and len(d2["framesDetail"]) == d2["frames"], f"{name}: our reader decodes the golden file ({d2['frames']} frames)")
        fields = diff(d1, d2)
        for f in fields[:40]:
            print("   ", f)
        check(not fields, f"{name}: every header, TOC and frame field decodes equal ({len(json.dumps(d1))} bytes of fields)")
        check(open(ours, "rb").read() == open(golden, "rb").read(), f"{name}: byte-identical ({os.path.getsize(golden)} bytes)")
        mem = memvid_sdk.use("basic", ours, read_only=True, enable_vec=True)
        check(mem.verify(ours, deep=True)["overall_status"] == "passed", f"{name}: memvid verify passes on ours")
        hits = mem.find("uniqtok0", k=3, mode="lex")["hits"]
        check(bool(hits) and hits[0]["uri"] == "mv2://corpus/astronomy/0", f"{name}: lexical find")
        vh = mem.find("", mode="sem", query_embedding=[0.01211, -0.069759, 0.036044, 0.025891], k=1)["hits"]
        check(bool(vh) and vh[0]["frame_id"] == 0, f"{name}: vector search")


if __name__ == "__main__":
    main()
    finish("oracle golden")
