#!/usr/bin/env python3
"""Control-plane benchmark (bench/api_bench.sh runs it):

1. GET /v1/exports/{id} on memvid-export-api against nginx (Debian) serving the
   same JSON as a static file, both driven by wrk in the same run with the same
   threads, connections and duration: req/s, p50, p99 and the ratio.
2. POST of a ~100 MB payload: MB/s (the body streamed to staging and validated
   by the contract parser before the 202) and the server's peak RSS (VmHWM)
   against the body size.

Usage: api_bench.py <bin dir> [--seconds S] [--connections C] [--post-mb N]"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "api"))
os.environ.setdefault("MVX_FIXTURES_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))


def wrk(url, seconds, conns, headers):
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def lat(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": lat(50), "p99": lat(99), "errors": int(non2xx.group(1)) if non2xx else 0}


def nginx(root, port):
    conf = os.path.join(root, "nginx.conf")
    open(conf, "w").write(f"""worker_processes auto;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path {root}/tmp;
  proxy_temp_path {root}/tmp;
  fastcgi_temp_path {root}/tmp;
  uwsgi_temp_path {root}/tmp;
  scgi_temp_path {root}/tmp;
  types {{ application/json json; }}
  server {{
    listen 127.0.0.1:{port};
    root {root}/www;
  }}
}}
""")
    os.makedirs(os.path.join(root, "tmp"), exist_ok=True)
    return subprocess.Popen(["nginx", "-c", conf, "-p", root], stderr=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--post-mb", type=int, default=100)
    args = ap.parse_args()
    os.environ["MVX_BIN"] = args.bin
    from apilib import Api, KEY, Worker, fixture_bytes, free_port

    api = Api(env={"MEMVID_EXPORT_RATE_LIMIT_PER_MINUTE": "0", "MEMVID_EXPORT_MAX_BODY_BYTES": str(1 << 30)})
    st, a = api.create(fixture_bytes("hexyl.json.zst"))
    job = a["jobId"]
    w = Worker(api, "bench")
    api.wait(job)
    w.stop()
    _, _, body = api.request("GET", f"/v1/exports/{job}")
    root = tempfile.mkdtemp(prefix="mvx-nginx-")
    os.chmod(root, 0o755)  # nginx's workers drop root: they must read the file
    os.makedirs(os.path.join(root, "www", "v1", "exports"), mode=0o755)
    open(os.path.join(root, "www", "v1", "exports", job + ".json"), "wb").write(body)
    port = free_port()
    ng = nginx(root, port)
    time.sleep(0.5)
    print(f"GET status JSON ({len(body)} bytes), wrk -t2 -c{args.connections} -d{args.seconds}s, same machine, same run")
    ours = wrk(f"{api.url}/v1/exports/{job}", args.seconds, args.connections, [f"Authorization: Bearer {KEY}"])
    ref = wrk(f"http://127.0.0.1:{port}/v1/exports/{job}.json", args.seconds, args.connections, [f"Authorization: Bearer {KEY}"])
    ng.send_signal(signal.SIGQUIT)
    ng.wait()
    if ref["errors"]:
        raise SystemExit(f"nginx answered {ref['errors']} non-2xx responses: see {root}/nginx-error.log")
    for name, r in (("memvid-export-api", ours), ("nginx static file", ref)):
        print(f"  {name:20s} {r['rps']:10.0f} req/s   p50 {r['p50']:.3f} ms   p99 {r['p99']:.3f} ms   non-2xx {r['errors']}")
    print(f"  ratio {ours['rps'] / ref['rps']:.2f}x nginx (goal >= 0.8x), p99 {ours['p99']:.2f} ms (goal < 5 ms)")

    print(f"POST /v1/exports of a ~{args.post_mb} MB payload")
    d = tempfile.mkdtemp(prefix="mvx-post-")
    payload = os.path.join(d, "big.json")
    nodes = int(args.post_mb * 1e6 / 1900)  # gen_payload.py writes ~1.9 KB per node with whole file contents
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen_payload.py"), payload, str(nodes)], check=True)
    size = os.path.getsize(payload)
    api.stop()
    api = Api(env={"MEMVID_EXPORT_RATE_LIMIT_PER_MINUTE": "0", "MEMVID_EXPORT_MAX_BODY_BYTES": str(1 << 30)})
    base = int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{api.proc.pid}/status").read()).group(1)) * 1024
    best = None
    for _ in range(3):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "-H", f"Authorization: Bearer {KEY}",
                              "-H", "Content-Type: application/json", "-H", "Expect:", "--data-binary", f"@{payload}",
                              f"{api.url}/v1/exports"], capture_output=True, text=True, check=True).stdout.split()
        assert out[0] == "202", out
        t = float(out[1])
        best = t if best is None else min(best, t)
    hwm = int(re.search(r"VmHWM:\s+(\d+)", open(f"/proc/{api.proc.pid}/status").read()).group(1)) * 1024
    api.stop()
    print(f"  body {size / 1e6:.1f} MB: {size / 1e6 / best:.0f} MB/s (best of 3, curl from memory; goal >= 200 MB/s)")
    print(f"  peak RSS {hwm / 1e6:.1f} MB = {hwm / size:.2f}x the body (idle {base / 1e6:.1f} MB; goal <= 1.5x)")
    shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
