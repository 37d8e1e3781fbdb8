#!/usr/bin/env python3
"""Embedding oracles (CI; light: tokenizers, numpy, memvid-sdk):
1. tokenizer: our ids == Hugging Face `tokenizers` for every frame text of both
   fixtures (untruncated, and truncated at 256 and 512) plus edge cases;
2. vectors: cosine >= 0.9999 against the sentence-transformers goldens for each
   model, worst case printed;
3. capsule search: hexyl packed through the native engine; memvid-sdk vector
   search with the reference query vector of a node's own text returns that node
   first, for 50 nodes;
4. identity: a bge-small-en-v1.5 folder is written as memvid's own default model.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import embed_common as ec  # noqa: E402
from common import check, finish  # noqa: E402

EMBED = os.path.join(ec.BIN, "mvx-embed")
MINILM = os.path.join(ec.MODELS, "all-MiniLM-L6-v2")

EDGE = [
    "", " ", "\t\n\r ", "Héllò hôw are ü? Ça va, naïve café résumé Ångström",
    "İstanbul ǅemal ß ﬁ Ⅻ ① ｆｕｌｌｗｉｄｔｈ", "中文字符测试，混合English和数字123。", "日本語のテキストとカタカナ、한국어 텍스트",
    "emoji 🥰🚀👨‍👩‍👧‍👦 🇺🇸 ☃ ✓", "control\x00chars\x01\x02\x7f\x85 here\u200b\u200d\ufeff\ufffd",
    "a" * 200, "x" * 99 + " " + "y" * 100 + " " + "z" * 101, "word " * 600,
    "[CLS] [SEP] [MASK] [PAD] [UNK] literal specials [MASK]ed", "fn main() { println!(\"{}\", x->y::<T>); } // ~`^|$",
    "\u0301\u0301 leading marks e\u0301\u0327", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐛𝐨𝐥𝐝 ℌ", "Ελληνικά ΣΊΣΥΦΟΣ кириллица ЁЖ",
    "\u3000ideographic\u00a0nbsp\u2028line\u2029para", "tab\tseparated\tvalues\n\nnew lines", "ＡＢＣ ａｂｃ ｶﾀｶﾅ",
]


def run_tokenize(texts, max_length):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(ec.pack_texts(texts))
        path = f.name
    out = subprocess.run([EMBED, "tokenize", "--model", MINILM, "--texts", path, "--max-length", str(max_length)],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(path)
    return [[int(x) for x in line.split()] for line in out.split("\n")[:len(texts)]]


FULL = os.environ.get("MVX_EMBED_ORACLE_FULL") == "1"
SUBSET_STRIDE = 5


def check_tokenizer():
    print("tokenizer vs Hugging Face tokenizers (all-MiniLM-L6-v2 tokenizer.json, bert-base-uncased vocabulary)")
    texts = []
    for fx in ec.FIXTURES:
        texts += [f["text"] for f in ec.frames_of(fx)]
    texts += EDGE
    ref = Tokenizer.from_file(os.path.join(MINILM, "tokenizer.json"))
    ref.no_padding()
    for max_len in (0, 256, 512):
        if max_len:
            ref.enable_truncation(max_length=max_len)
        else:
            ref.no_truncation()
        t0 = time.time()
        want = [e.ids for e in ref.encode_batch(texts)]
        t1 = time.time()
        got = run_tokenize(texts, max_len if max_len else 1 << 30)
        bad = [i for i in range(len(texts)) if got[i] != want[i]]
        toks = sum(len(w) for w in want)
        check(not bad, f"max_length {max_len or 'none'}: {len(texts) - len(bad)}/{len(texts)} texts identical "
                       f"({toks} tokens; {len(EDGE)} edge cases)")
        for i in bad[:3]:
            print(f"    text {i!r}: {texts[i][:80]!r}\n      ours {got[i][:20]}\n      ref  {want[i][:20]}")


def embed(model_dir, texts):
    with tempfile.TemporaryDirectory() as d:
        ec.write_texts(os.path.join(d, "t.bin"), texts)
        r = subprocess.run([EMBED, "embed", "--model", model_dir, "--texts", os.path.join(d, "t.bin"), "--out",
                            os.path.join(d, "v.f32"), "--device", os.environ.get("MVX_EMBED_DEVICE", "cpu")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"mvx-embed embed failed: {r.stderr}")
        stats = json.loads(r.stdout)
        return np.fromfile(os.path.join(d, "v.f32"), dtype=np.float32).reshape(len(texts), -1), stats


def check_vectors(chosen, search):
    texts = [c["text"] for c in chosen] + [s["text"] for s in search]
    # CI checks every FULL_STRIDE-th golden text (still the whole length range);
    # MVX_EMBED_ORACLE_FULL=1 checks all of them.
    keep = list(range(0, len(texts), 1 if FULL else SUBSET_STRIDE))
    for name in ec.GOLDEN_MODELS:
        meta = json.load(open(os.path.join(ec.GOLDEN_DIR, name + ".json")))
        folder = os.path.join(ec.MODELS, name)
        check(meta["weightsSha256"] == ec.model_sha(folder), f"{name}: weights are the ones the goldens were made with")
        shas = [t["sha256"] for t in meta["texts"]] + [s["sha256"] for s in meta["search"]]
        check(shas == [ec.sha(t) for t in texts], f"{name}: the selected fixture texts are the goldens' texts")
        gold = np.fromfile(os.path.join(ec.GOLDEN_DIR, name + ".f32"), dtype=np.float32).reshape(len(texts), -1)[keep]
        t0 = time.time()
        ours, stats = embed(folder, [texts[i] for i in keep])
        dt = time.time() - t0
        cos = (ours * gold).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(gold, axis=1))
        worst = keep[int(np.argmin(cos))]
        lens = sorted(len(texts[i]) for i in keep)
        print(f"  {name}: {len(keep)} of {len(texts)} golden texts ({lens[0]}..{lens[-1]} chars, median {lens[len(lens) // 2]}), "
              f"{stats['tokens']} tokens, {stats['truncatedTexts']} truncated, {dt:.1f}s on {stats['backend']}")
        print(f"  {name}: cosine min {cos.min():.7f} mean {cos.mean():.7f}; worst text #{worst} "
              f"({len(texts[worst])} chars): {texts[worst][:60]!r}")
        check(cos.min() >= 0.9999, f"{name}: every cosine >= 0.9999 against sentence-transformers (min {cos.min():.7f})")


def check_capsule_search(search):
    import memvid_sdk
    name = "random-bge-small"
    meta = json.load(open(os.path.join(ec.GOLDEN_DIR, name + ".json")))
    gold = np.fromfile(os.path.join(ec.GOLDEN_DIR, name + ".f32"), dtype=np.float32).reshape(-1, meta["dimension"])
    queries = gold[len(meta["texts"]):]
    d = tempfile.mkdtemp(prefix="mvx-embed-capsule-")
    payload = json.loads(subprocess.run(["zstd", "-dc", os.path.join(ec.FIXTURES_DIR, "hexyl.json.zst")],
                                        capture_output=True, check=True).stdout)
    payload.setdefault("options", {})["semanticEnabled"] = True
    if not FULL:
        # Every node (the 50 reference nodes among their distractors; node
        # texts depend on the whole node set through the compacted file
        # contents) but only the first 40 relation frames.
        payload["options"]["maxRelationFrames"] = 40
    with open(os.path.join(d, "payload.json"), "w") as f:
        json.dump(payload, f)
    t0 = time.time()
    r = subprocess.run([os.path.join(ec.BIN, "memvid-export-worker"), "pack", "--payload-ref", os.path.join(d, "payload.json"),
                        "--output-prefix", d, "--created-at", "2026-01-01T00:00:00Z", "--no-sidecar",
                        "--embedding-mode", "runpod_gpu", "--embedding-provider", "native",
                        "--embedding-model", os.path.join(ec.MODELS, name), "--embedding-device",
                        os.environ.get("MVX_EMBED_DEVICE", "cpu")], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"pack failed: {r.stdout} {r.stderr}")
    res = json.loads(r.stdout)
    print(f"  packed hexyl with {name} in {time.time() - t0:.1f}s: {res['vectors']} vectors, "
          f"embedding {json.dumps(res['embedding'])}")
    check(res["vectors"] == res["frames"], "every frame has a vector")
    mem = memvid_sdk.use("basic", res["artifactPath"], read_only=True, enable_vec=True)
    hits = 0
    for s, q in zip(search, queries):
        found = mem.find("", k=3, mode="sem", query_embedding=[float(x) for x in q])
        top = found.get("hits", []) if isinstance(found, dict) else found
        first = top[0].get("uri") if top else None
        hits += first == s["uri"]
        if first != s["uri"]:
            print(f"    miss: {s['uri']} -> {first}")
    check(hits == len(search), f"memvid-sdk vector search puts the node first for {hits}/{len(search)} reference queries")


def check_identity():
    """A bge-small-en-v1.5 folder is written with memvid's own identity for its
    default model; stats() reads it back as one identity for the whole capsule."""
    import memvid_sdk
    d = tempfile.mkdtemp(prefix="mvx-embed-identity-")
    folder = os.path.join(d, "bge-small-en-v1.5")
    os.symlink(os.path.join(ec.MODELS, "random-bge-small"), folder)
    payload = json.loads(subprocess.run(["zstd", "-dc", os.path.join(ec.FIXTURES_DIR, "hexyl.json.zst")],
                                        capture_output=True, check=True).stdout)
    keep = {n["id"] for n in payload["nodes"][:40]}
    payload["nodes"] = payload["nodes"][:40]
    payload["relationships"] = [r for r in payload["relationships"] if r["sourceId"] in keep and r["targetId"] in keep]
    payload.setdefault("options", {})["semanticEnabled"] = True
    with open(os.path.join(d, "payload.json"), "w") as f:
        json.dump(payload, f)
    r = subprocess.run([os.path.join(ec.BIN, "memvid-export-worker"), "pack", "--payload-ref", os.path.join(d, "payload.json"),
                        "--output-prefix", d, "--no-sidecar", "--embedding-mode", "runpod_gpu", "--embedding-provider", "native",
                        "--embedding-model", folder, "--embedding-device", "cpu"], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"pack failed: {r.stdout} {r.stderr}")
    res = json.loads(r.stdout)
    stats = memvid_sdk.use("basic", res["artifactPath"], read_only=True, enable_vec=True).stats()
    ident = stats.get("embedding_identity_summary", {})
    print(f"  identity read by memvid-sdk: {json.dumps(ident)}")
    check(ident.get("kind") == "single" and ident.get("identity", {}).get("provider") == "fastembed"
          and ident["identity"].get("model") == "BAAI/bge-small-en-v1.5" and ident["identity"].get("dimension") == 384
          and ident["identity"].get("normalized") is True,
          "a bge-small-en-v1.5 folder gives memvid's identity fastembed / BAAI/bge-small-en-v1.5 / 384 / normalized")


def main():
    check_tokenizer()
    if os.environ.get("MVX_TOKENIZER_ONLY"):
        return finish("tokenizer")
    chosen, search = ec.select_texts()
    check_vectors(chosen, search)
    check_capsule_search(search)
    check_identity()
    finish("embeddings")


if __name__ == "__main__":
    main()
