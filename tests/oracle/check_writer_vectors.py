"""Writer level: 1,000 frames with supplied 384-d vectors; memvid's vector search
with a frame's own vector returns that frame first (100 sampled frames)."""
import json
import os
import random
import subprocess

import memvid_sdk

from common import WRITE_DOCS, check, finish, tmpdir


def main():
    rng = random.Random(2026)
    docs = []
    for i in range(1000):
        docs.append({"title": f"Doc {i}", "text": f"Document {i} about topic{i % 17} with marker uniq{i}.",
                     "uri": f"mv2://docs/{i}", "track": f"t{i % 5}", "tags": [f"g={i % 3}"], "labels": ["doc"],
                     "extra_metadata": {"memvid.embedding.provider": "fastembed",
                                        "memvid.embedding.model": "BAAI/bge-small-en-v1.5"},
                     "embedding": [rng.gauss(0.0, 1.0) for _ in range(384)], "timestamp": 1767225600 + i})
    work = tmpdir()
    src = os.path.join(work, "docs.json")
    with open(src, "w") as f:
        json.dump(docs, f)
    for variant in ([], ["--zstd"]):
        cap = os.path.join(work, "v%s.mv2" % ("z" if variant else ""))
        out = subprocess.run([WRITE_DOCS, src, cap] + variant, capture_output=True, text=True, check=True).stdout
        print(" ", variant or "plain", out.strip())
        mem = memvid_sdk.use("basic", cap, read_only=True, enable_vec=True)
        check(mem.verify(cap, deep=True)["overall_status"] == "passed", "verify --deep passes")
        st = mem.stats()
        check(st["frame_count"] == 1000 and st["has_vec_index"], "1,000 frames with a vector index")
        firsts = 0
        for i in random.Random(5).sample(range(1000), 100):
            hits = mem.find("", mode="sem", query_embedding=docs[i]["embedding"], k=3)["hits"]
            firsts += bool(hits) and hits[0]["frame_id"] == i and hits[0]["uri"] == docs[i]["uri"]
        check(firsts == 100, f"vector search: own vector ranks the frame first for {firsts}/100 sampled frames")
        lex = sum(mem.find(f"uniq{i}", k=1, mode="lex")["hits"][0]["uri"] == docs[i]["uri"] for i in range(0, 1000, 50))
        check(lex == 20, f"lexical search finds 20/20 unique markers (got {lex})")
        fr = mem.frame("mv2://docs/7")
        check(fr["title"] == "Doc 7" and fr["track"] == "t2" and fr["tags"] == ["g=1"] and fr["labels"] == ["doc"],
              "frame fields read back")
        check(mem.blob("mv2://docs/7").decode() == docs[7]["text"], "payload text reads back (zstd too)")


if __name__ == "__main__":
    main()
    finish("oracle writer vectors")
