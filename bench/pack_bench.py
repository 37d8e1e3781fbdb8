#!/usr/bin/env python3
"""Pack benchmark (run through bench/run.sh).

For each payload (hexyl and memvid fixtures, a synthetic 100k-node export from
bench/gen_payload.py): wall time, frames/s, capsule MB/s and peak RSS of
`memvid-export-worker pack` (best of --runs), and memvid-sdk's put_many writing
the same frames (dumped from our capsule) on a subset of --peer-frames, in the
same run. Then the writer alone with 384-d vectors: mvx-write-docs against
put_many(embeddings=...). Ratios are frames/s ours / frames/s memvid-sdk."""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
FIXTURES = os.environ.get("MVX_FIXTURES_DIR", os.path.join(ROOT, "tests", "fixtures"))


def measure(cmd):
    """Runs cmd; returns (wall seconds, peak RSS bytes, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed: {out.decode()} {err.decode()}")
    return wall, ru.ru_maxrss * 1024, out.decode()


def peer_write(docs, embeddings=None, batch=100, timeout=240):
    """memvid-sdk put_many of docs into a fresh file, in a child process, batch by batch.

    memvid can hang inside put_many (threads parked in futex waits, as the mv2 spec
    records for the CLI); the child reports after each batch, and the parent stops it
    after `timeout` seconds and rates the batches that finished."""
    work = tempfile.mkdtemp(prefix="mvx-peer-")
    src = os.path.join(work, "docs.json")
    with open(src, "w") as f:
        json.dump({"docs": docs, "embeddings": embeddings}, f)
    code = r'''
import json, os, sys, time
os.environ["MEMVID_TELEMETRY"] = "0"
import memvid_sdk
d = json.load(open(sys.argv[1]))
path, batch = sys.argv[2], int(sys.argv[3])
t0 = time.perf_counter()
mem = memvid_sdk.use("basic", path, mode="create", enable_vec=d["embeddings"] is not None, enable_lex=True)
docs, emb = d["docs"], d["embeddings"]
for i in range(0, len(docs), batch):
    kw = {"embeddings": emb[i:i + batch]} if emb is not None else {}
    mem.put_many(docs[i:i + batch], opts={"compression_level": 0}, **kw)
    print(json.dumps({"frames": min(i + batch, len(docs)), "seconds": time.perf_counter() - t0}), flush=True)
mem.close()
print(json.dumps({"frames": len(docs), "seconds": time.perf_counter() - t0, "done": True}), flush=True)
'''
    p = subprocess.Popen([sys.executable, "-c", code, src, os.path.join(work, "peer.mv2"), str(batch)],
                         stdout=subprocess.PIPE, text=True)
    last = {"frames": 0, "seconds": 0.0}
    deadline = time.monotonic() + timeout
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    hung = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            hung = True
            p.kill()
            break
        if not sel.select(timeout=left):
            continue
        line = p.stdout.readline()
        if not line:
            break
        last = json.loads(line)
        if last.get("done"):
            break
    p.wait()
    last["hung"] = hung
    return last


def fmt_mb(b):
    return f"{b / 1e6:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--peer-frames", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=100_000)
    a = ap.parse_args()
    data = os.path.join(ROOT, "build", "bench-data")
    os.makedirs(data, exist_ok=True)
    payloads = []
    for name in ("hexyl", "memvid"):
        dst = os.path.join(data, f"{name}.json")
        if not os.path.exists(dst):
            with open(dst, "wb") as f:
                subprocess.run(["zstd", "-dc", os.path.join(FIXTURES, f"{name}.json.zst")], stdout=f, check=True)
        payloads.append((name, dst))
    synth = os.path.join(data, f"synthetic-{a.nodes}.json")
    if not os.path.exists(synth):
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_payload.py"), synth, str(a.nodes)], check=True)
    payloads.append((f"synthetic {a.nodes // 1000}k", synth))

    rows = []
    for name, path in payloads:
        out_dir = tempfile.mkdtemp(prefix="mvx-bench-")
        best = None
        for _ in range(a.runs):
            wall, rss, out = measure([os.path.join(BIN, "memvid-export-worker"), "pack", "--payload-ref", path,
                                      "--output-prefix", out_dir, "--created-at", "2026-01-01T00:00:00Z"])
            res = json.loads(out)
            if best is None or wall < best[0]:
                best = (wall, rss, res)
        wall, rss, res = best
        size = os.path.getsize(path)
        frames = res["frames"]
        dump = subprocess.run([os.path.join(BIN, "mvx-dump-frames"), res["artifactPath"], str(a.peer_frames)],
                              check=True, capture_output=True, text=True).stdout
        docs = json.loads(dump)
        peer = peer_write(docs)
        ours_fps = frames / wall
        peer_fps = peer["frames"] / peer["seconds"] if peer["frames"] else float("nan")
        rows.append({"payload": name, "payloadMB": size / 1e6, "frames": frames, "seconds": wall,
                     "framesPerSec": ours_fps, "capsuleMB": res["sizeBytes"] / 1e6,
                     "capsuleMBps": res["sizeBytes"] / 1e6 / wall,
                     "writerMBps": res["sizeBytes"] / 1e6 / (res["timings"]["writeMs"] / 1000),
                     "peakRssMB": rss / 1e6, "rssOverPayload": rss / size, "timings": res["timings"],
                     "peerFrames": peer["frames"], "peerSeconds": peer["seconds"], "peerFramesPerSec": peer_fps,
                     "peerHung": peer["hung"],
                     "ratio": ours_fps / peer_fps})
        for f in os.listdir(out_dir):
            os.remove(os.path.join(out_dir, f))

    # Writer alone with 384-d vectors: the memvid fixture's frames, random unit vectors.
    rng = random.Random(1)
    wdir = tempfile.mkdtemp(prefix="mvx-bench-vec-")
    pack_out = json.loads(subprocess.run([os.path.join(BIN, "memvid-export-worker"), "pack", "--payload-ref",
                                          payloads[1][1], "--output-prefix", wdir, "--created-at", "1767225600"],
                                         check=True, capture_output=True, text=True).stdout)
    docs = json.loads(subprocess.run([os.path.join(BIN, "mvx-dump-frames"), pack_out["artifactPath"], "20000"],
                                     check=True, capture_output=True, text=True).stdout)
    vecs = []
    for d in docs:
        v = [rng.gauss(0, 1) for _ in range(384)]
        n = sum(x * x for x in v) ** 0.5
        vecs.append([x / n for x in v])
    wdocs = [{"title": d["title"], "text": d["text"], "uri": d["uri"], "track": d["track"], "tags": d["tags"],
              "labels": d["labels"], "extra_metadata": d["metadata"], "embedding": v, "timestamp": d["timestamp"]}
             for d, v in zip(docs, vecs)]
    src = os.path.join(wdir, "docs.json")
    with open(src, "w") as f:
        json.dump(wdocs, f)
    wall, rss, out = measure([os.path.join(BIN, "mvx-write-docs"), src, os.path.join(wdir, "w.mv2")])
    wres = json.loads(out)
    peer = peer_write([{"title": d["title"], "label": d["label"], "text": d["text"], "uri": d["uri"], "tags": d["tags"],
                        "labels": d["labels"]} for d in docs[:a.peer_frames]], vecs[:a.peer_frames])
    vec_row = {"frames": wres["frames"], "seconds": wall, "framesPerSec": wres["frames"] / wall,
               "capsuleMB": wres["bytes"] / 1e6, "capsuleMBps": wres["bytes"] / 1e6 / wall,
               "peerFrames": peer["frames"], "peerHung": peer["hung"],
               "peerFramesPerSec": peer["frames"] / peer["seconds"] if peer["frames"] else float("nan")}
    vec_row["ratio"] = vec_row["framesPerSec"] / vec_row["peerFramesPerSec"]

    print()
    print(f"{'payload':<16}{'JSON MB':>9}{'frames':>9}{'pack s':>8}{'frames/s':>10}{'capsule MB':>11}{'MB/s':>8}"
          f"{'writer MB/s':>12}{'peak RSS MB':>12}{'RSS/JSON':>9}{'sdk frames/s':>13}{'ratio':>8}")
    for r in rows:
        print(f"{r['payload']:<16}{r['payloadMB']:>9.1f}{r['frames']:>9}{r['seconds']:>8.2f}{r['framesPerSec']:>10.0f}"
              f"{r['capsuleMB']:>11.1f}{r['capsuleMBps']:>8.0f}{r['writerMBps']:>12.0f}{r['peakRssMB']:>12.0f}"
              f"{r['rssOverPayload']:>9.2f}{r['peerFramesPerSec']:>13.1f}{r['ratio']:>7.0f}x"
              + (f"  (memvid-sdk hung after {r['peerFrames']} frames; rate of the batches it finished)" if r["peerHung"] else ""))
    print(f"{'writer+384d vec':<16}{'':>9}{vec_row['frames']:>9}{vec_row['seconds']:>8.2f}{vec_row['framesPerSec']:>10.0f}"
          f"{vec_row['capsuleMB']:>11.1f}{vec_row['capsuleMBps']:>8.0f}{'':>12}{rss / 1e6:>12.0f}{'':>9}"
          f"{vec_row['peerFramesPerSec']:>13.1f}{vec_row['ratio']:>7.0f}x"
          + (f"  (memvid-sdk hung after {vec_row['peerFrames']} frames)" if vec_row["peerHung"] else ""))
    print("\nmemvid-sdk wrote the first", a.peer_frames, "frames of each capsule (put_many in batches of 100,",
          "compression off, stopped after 240 s);",
          "pack timings are whole-process wall time (parse, frames, capsule, sidecar).")
    print(json.dumps({"pack": rows, "writerWithVectors": vec_row}, indent=1))


if __name__ == "__main__":
    main()
