#!/usr/bin/env python3
"""Cold start of a Runpod queue worker: process start to its first job-take
request, against the same local job service (a Python test server answering
204), for our native worker and the official Python SDK (runpod from PyPI, a
trivial handler), in the same run; median of N starts. Also our worker with the
bge-small-shape model on CPU (start to first take includes loading and the
warm-up forward pass).

    .venv/bin/python bench/coldstart.py [N=10]      (installs `runpod` into .venv if missing)
"""
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
WORKER = os.environ.get("MVX_WORKER", os.path.join(ROOT, "build/bin/memvid-export-worker"))
MODELS = os.path.join(ROOT, ".cache/models")

first_take = threading.Event()
take_time = [0.0]


class Service(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        if "/job-take/" in self.path and not first_take.is_set():
            take_time[0] = time.monotonic()
            first_take.set()
        self.send_response(204)
        self.end_headers()

    def do_POST(self):
        self.send_response(200)
        self.end_headers()


def measure(cmd, env, cwd=None, timeout=120):
    first_take.clear()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = first_take.wait(timeout)
    dt = (take_time[0] - t0) * 1000 if ok else float("nan")
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    return dt


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    try:
        import runpod  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "runpod"], check=True)
        import runpod  # noqa: F401
    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    env = dict(os.environ,
               RUNPOD_WEBHOOK_GET_JOB=base + "/v2/ep/job-take/$ID?gpu=cpu",
               RUNPOD_WEBHOOK_POST_OUTPUT=base + "/v2/ep/job-done/$RUNPOD_POD_ID/$ID?gpu=cpu",
               RUNPOD_WEBHOOK_PING=base + "/v2/ep/ping/$RUNPOD_POD_ID?gpu=cpu",
               RUNPOD_AI_API_KEY="k", RUNPOD_POD_ID="pod-bench", RUNPOD_SKIP_AUTO_SYSTEM_CHECKS="true",
               RUNPOD_SKIP_GPU_CHECK="true", MEMVID_TELEMETRY="0")
    env.pop("MEMVID_EMBED_PROVIDER", None)
    tmp = tempfile.mkdtemp(prefix="mvx-coldstart-")
    handler = os.path.join(tmp, "handler.py")
    with open(handler, "w") as f:
        f.write("import runpod\n\ndef handler(job):\n    return job['input']\n\n"
                "runpod.serverless.start({'handler': handler})\n")
    rows = []
    ours = [measure([WORKER], env) for _ in range(n)]
    sdk = [measure([sys.executable, handler], env, cwd=tmp) for _ in range(n)]
    rows.append(("native worker, no model", ours))
    rows.append(("runpod SDK 1.12 (Python), trivial handler", sdk))
    model = os.path.join(MODELS, "random-bge-small")
    if os.path.exists(os.path.join(model, "model.safetensors")):
        e2 = dict(env, MEMVID_EMBED_PROVIDER="native", MEMVID_EMBED_MODEL_DIR=model, MEMVID_EMBED_DEVICE="cpu")
        rows.append(("native worker + bge-small shape, CPU warm-up", [measure([WORKER], e2) for _ in range(max(3, n // 3))]))
    print(f"\ncold start: process start -> first job-take request (median of {n}; same local job service)")
    for name, xs in rows:
        print(f"  {name:46} median {statistics.median(xs):8.1f} ms   min {min(xs):8.1f}   max {max(xs):8.1f}")
    print(f"  ratio SDK / native: {statistics.median(sdk) / statistics.median(ours):.0f}x (goals: native <= 30 ms, >= 50x)")
    server.shutdown()


if __name__ == "__main__":
    main()
