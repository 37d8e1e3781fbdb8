#!/usr/bin/env python3
"""CPU embedding benchmark: our engine against onnxruntime on the same model
(the same safetensors weights, as an ONNX graph built by bench/make_onnx.py),
the same fixture texts and the same number of threads, in one run.

    .venv/bin/python bench/embed_bench.py [--threads 2] [--texts 300] [--models all-MiniLM-L6-v2,random-bge-small]

Prints tokens/s for both and the ratio (goal >= 1.0x), tokenizer MB/s (ours,
one thread; HF tokenizers, one thread), model load time and peak RSS.
onnxruntime gets its best CPU setup: graph optimisation level ALL, texts sorted
by length and batched 16 at a time (little padding), intra-op threads = ours.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../tests/oracle"))
import embed_common as ec  # noqa: E402


def ours(model_dir, texts_path, threads, repeat):
    r = subprocess.run([os.path.join(ec.BIN, "mvx-embed"), "bench", "--model", model_dir, "--texts", texts_path,
                        "--threads", str(threads), "--device", "cpu", "--repeat", str(repeat)],
                       capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(r.stderr)
    return json.loads(r.stdout)


def ort_peer(model_dir, texts, threads, repeat, pooling, max_len):
    """Runs in a child process so that its load time and peak RSS are its own."""
    hidden = json.load(open(os.path.join(model_dir, "config.json")))["hidden_size"]
    code = f"""
import json, os, resource, sys, time
import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer
sys.path.insert(0, {os.path.join(HERE)!r})
import make_onnx
texts = json.load(open(sys.argv[1]))
t0 = time.time()
onnx_path = sys.argv[2]
so = ort.SessionOptions()
so.intra_op_num_threads = {threads}
so.inter_op_num_threads = 1
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
tok = Tokenizer.from_file({os.path.join(model_dir, "tokenizer.json")!r})
tok.no_padding()
tok.enable_truncation(max_length={max_len})
load_ms = (time.time() - t0) * 1000
rss_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def run():
    enc = tok.encode_batch(texts)
    order = sorted(range(len(texts)), key=lambda i: len(enc[i].ids))
    out = np.zeros((len(texts), {hidden}), np.float32)
    for b in range(0, len(order), 16):
        idx = order[b:b + 16]
        L = max(len(enc[i].ids) for i in idx)
        ids = np.zeros((len(idx), L), np.int64)
        mask = np.zeros((len(idx), L), np.int64)
        for r, i in enumerate(idx):
            n = len(enc[i].ids)
            ids[r, :n] = enc[i].ids
            mask[r, :n] = 1
        h = sess.run(None, {{"input_ids": ids, "attention_mask": mask}})[0]
        if {pooling == "cls"!r}:
            v = h[:, 0, :]
        else:
            m = mask[:, :, None].astype(np.float32)
            v = (h * m).sum(1) / m.sum(1)
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        out[idx] = v
    return out, sum(len(e.ids) for e in enc)

run()
best = 1e30
for _ in range({repeat}):
    a = time.time()
    vecs, ntok = run()
    best = min(best, time.time() - a)
np.save(sys.argv[3], vecs)
print(json.dumps({{"tokens": ntok, "bestMs": best * 1000, "tokensPerSec": ntok / best, "loadMs": load_ms,
                  "rssAfterLoadMB": rss_load, "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    import make_onnx  # needs onnx, installed by main() when missing
    with tempfile.TemporaryDirectory() as d:
        onnx_path = os.path.join(d, "model.onnx")
        make_onnx.build(model_dir, onnx_path)
        json.dump(texts, open(os.path.join(d, "texts.json"), "w"))
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        r = subprocess.run([sys.executable, "-c", code, os.path.join(d, "texts.json"), onnx_path, os.path.join(d, "v.npy")],
                           capture_output=True, text=True, env=env)
        if r.returncode:
            raise SystemExit(r.stderr[-2000:])
        res = json.loads(r.stdout.strip().splitlines()[-1])
        res["vectors"] = np.load(os.path.join(d, "v.npy"))
        return res


def hf_tokenizer_mbps(model_dir, texts):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    b = sum(len(t.encode()) for t in texts)
    a = time.time()
    for t in texts:
        tok.encode(t)
    return b / 1e6 / (time.time() - a)


def main():
    try:  # the CPU speed peer; not needed by the tests, so installed here
        import onnx, onnxruntime  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "onnxruntime==1.32.0", "onnx==1.23.2"], check=True)
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--texts", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--models", default=",".join(ec.GOLDEN_MODELS))
    args = ap.parse_args()
    chosen, _ = ec.select_texts()
    step = max(1, len(chosen) // args.texts)
    texts = [c["text"] for c in chosen][::step][:args.texts]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tp = os.path.join(d, "texts.bin")
        ec.write_texts(tp, texts)
        for name in args.models.split(","):
            folder = os.path.join(ec.MODELS, name)
            cfg = json.load(open(os.path.join(folder, "1_Pooling/config.json")))
            pooling = "cls" if cfg.get("pooling_mode_cls_token") else "mean"
            max_len = json.load(open(os.path.join(folder, "sentence_bert_config.json")))["max_seq_length"]
            a = ours(folder, tp, args.threads, args.repeat)
            b = ort_peer(folder, texts, args.threads, args.repeat, pooling, max_len)
            # Same vectors? (a sanity check, not the reference comparison)
            ev = subprocess.run([os.path.join(ec.BIN, "mvx-embed"), "embed", "--model", folder, "--texts", tp, "--out",
                                 os.path.join(d, "o.f32"), "--device", "cpu", "--threads", str(args.threads)],
                                capture_output=True, text=True, check=True)
            ov = np.fromfile(os.path.join(d, "o.f32"), dtype=np.float32).reshape(len(texts), -1)
            cos = float(((ov * b["vectors"]).sum(1)).min())
            rows.append((name, a, b, cos, hf_tokenizer_mbps(folder, texts)))
    print(f"\nCPU embedding, {len(texts)} fixture texts, {args.threads} threads, best of {args.repeat}")
    print(f"{'model':18} {'tokens':>7} {'ours tok/s':>11} {'ORT tok/s':>10} {'ratio':>6} {'min cos':>9} "
          f"{'load ms ours/ORT':>17} {'peak RSS MB ours/ORT':>21} {'tok MB/s ours/HF':>17} {'batch-1 ms':>10}")
    for name, a, b, cos, hf in rows:
        print(f"{name:18} {a['tokens']:>7} {a['tokensPerSec']:>11.0f} {b['tokensPerSec']:>10.0f} "
              f"{a['tokensPerSec'] / b['tokensPerSec']:>5.2f}x {cos:>9.6f} {a['loadMs']:>8.0f}/{b['loadMs']:<8.0f} "
              f"{a['peakRssMB']:>10.0f}/{b['peakRssMB']:<10.0f} {a['tokenizerMBps']:>8.1f}/{hf:<8.1f} {a['batch1MedianMs']:>10.2f}")


if __name__ == "__main__":
    main()
