"""The control plane's HTTP answers, byte for byte: a fixed script of requests
(every route, its errors, auth, CORS, uploads, the worker protocol, downloads
with ranges, SSE) against the real memvid-export-api, each answer written as
status line, headers in order and body, with what changes from run to run
(job ids, times, ETags, temp paths) replaced by placeholders.

    http_transcript.py --check tests/api/golden/http_transcript.txt   (CTest)
    http_transcript.py --write FILE                                    (after an intended change)

The golden file was first recorded from the build before the control plane was
split into one structure per concern, and the split's build gave the same
bytes; it differs from that recording only by what the split added (the SSE
stream of an unknown job answers 404 — the old server crashed on it — and the
`routes` command in --help). MVX_BIN names the folder with memvid-export-api.
"""
import json
import os
import re
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from apilib import API, KEY, Api, fixture_bytes  # noqa: E402

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")


class Transcript:
    def __init__(self):
        self.lines = []
        self.ids = {}
        self.roots = []

    def norm(self, text):
        for r in self.roots:
            text = text.replace(r, "<root>")
        text = UUID.sub(lambda m: self.ids.setdefault(m.group(0), f"<job{len(self.ids) + 1}>"), text)
        text = TS.sub("<ts>", text)
        # Histogram buckets and sums of durations depend on timing; counts do not.
        text = re.sub(r"^(memvid_export_\w+_seconds_(?:bucket\{[^}]*\}|sum(?:\{[^}]*\})?)) \S+$", r"\1 <n>", text, flags=re.M)
        text = re.sub(r'"elapsedMs":\d+', '"elapsedMs":<n>', text)
        text = re.sub(r'"(createdMs|updatedMs|expiresMs|lastEventMs)":\d+', r'"\1":<n>', text)
        text = re.sub(r'"[0-9a-f]+-[0-9a-f]+-<job\d+>"|"[0-9a-f]+-[0-9a-f]+-[0-9a-f-]{1,8}"', "<etag>", text)
        return text

    def add(self, title, raw_head, body):
        self.lines.append(f"### {title}")
        head = raw_head.decode("latin-1").split("\r\n")
        body_text = body.decode("utf-8", "replace")
        normed = self.norm(body_text)
        for h in head:
            name, _, value = h.partition(":")
            if name.lower() == "content-length" and normed != body_text:
                ok = int(value) == len(body)
                h = f"{name}: <len {'ok' if ok else 'WRONG'}>"
            elif name.lower() == "x-ratelimit-reset":
                h = f"{name}: <n>"
            self.lines.append(self.norm(h))
        self.lines.append("")
        if body:
            self.lines.append(normed)
        self.lines.append("")


def exchange(port, raw, read_until=None, timeout=10.0):
    """Sends raw bytes; returns (head bytes, body bytes). read_until: a callable
    on the body read so far that says when to stop (for streams)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(raw)
        data = b""
        end = time.time() + timeout
        while b"\r\n\r\n" not in data and time.time() < end:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 100 Continue"):
            # The interim answer, then the real one.
            data = body
            while b"\r\n\r\n" not in data and time.time() < end:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            head2, _, body = data.partition(b"\r\n\r\n")
            head = head + b"\r\n(then)\r\n" + head2
        m = re.search(rb"\r\ncontent-length: *(\d+)", b"\r\n" + head.split(b"(then)")[-1], re.I)
        is_head = raw.startswith(b"HEAD ")
        if read_until:
            while not read_until(body) and time.time() < end:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                body += chunk
        elif m and not is_head:
            want = int(m.group(1))
            while len(body) < want and time.time() < end:
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
        elif not is_head and not re.match(rb"HTTP/1\.1 (204|304)", head.split(b"(then)")[-1].lstrip()):
            while time.time() < end:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                body += chunk
        return head, body
    finally:
        s.close()


def req(method, path, headers=(), body=b"", key=KEY, extra_head=b""):
    h = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if key is not None:
        h.append(f"Authorization: Bearer {key}")
    h += list(headers)
    if body and not any(x.lower().startswith(("content-length", "transfer-encoding")) for x in headers):
        h.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(h) + "\r\n").encode() + extra_head + b"\r\n" + body


def chunked(body, size=70000):
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


def run(bin_dir):
    t = Transcript()
    hexyl = fixture_bytes("hexyl.json.zst")
    small = json.loads(hexyl)
    rel = small["relationships"][0]
    small["nodes"] = [n for n in small["nodes"] if n["id"] in (rel["sourceId"], rel["targetId"])]
    small["relationships"] = [rel]
    small["fileContents"] = {}
    env = {"MEMVID_EXPORT_RATE_LIMIT_PER_MINUTE": "0", "MEMVID_EXPORT_HEARTBEAT_SECONDS": "14",
           "MEMVID_LOCAL_QUEUE_WAIT_MS": "300", "MEMVID_EXPORT_MAX_BODY_BYTES": str(len(hexyl) + 1000)}
    api = Api(env=env)
    t.roots.append(api.root)
    p = api.port

    def do(title, raw, **kw):
        head, body = exchange(p, raw, **kw)
        t.add(title, head, body)
        return head, body

    try:
        # ---- health, metrics, CORS
        do("GET /healthz", req("GET", "/healthz", key=None))
        do("HEAD /healthz", req("HEAD", "/healthz", key=None))
        do("GET /readyz", req("GET", "/readyz", key=None))
        do("OPTIONS preflight", req("OPTIONS", "/v1/exports", ["Origin: http://a.example"], key=None))
        do("OPTIONS preflight, asked headers", req("OPTIONS", "/v1/exports/x/download",
                                                    ["Origin: http://a.example", "Access-Control-Request-Headers: X-Thing"], key=None))
        do("OPTIONS unknown path", req("OPTIONS", "/nowhere", key=None))
        # ---- auth and routing errors
        do("POST /v1/exports no auth", req("POST", "/v1/exports", ["Content-Type: application/json"], b"{}", key=None))
        do("GET status no auth", req("GET", "/v1/exports/00000000-0000-4000-8000-000000000000", key=None))
        do("GET status basic scheme", req("GET", "/v1/exports/00000000-0000-4000-8000-000000000000", ["Authorization: Basic abc"], key=None))
        do("GET status wrong key", req("GET", "/v1/exports/00000000-0000-4000-8000-000000000000", key="wrong"))
        do("GET status empty bearer", req("GET", "/v1/exports/00000000-0000-4000-8000-000000000000", ["Authorization: Bearer   "], key=None))
        do("GET /v1/unknown no auth", req("GET", "/v1/unknown", key=None))
        do("GET /v1/unknown", req("GET", "/v1/unknown"))
        do("GET /nope", req("GET", "/nope", key=None))
        do("GET /nope?x=1 with origin", req("GET", "/nope?x=1", ["Origin: http://a.example"], key=None))
        do("GET bad id", req("GET", "/v1/exports/garbage"))
        do("GET upper-case id", req("GET", "/v1/exports/00000000-0000-4000-8000-00000000000A"))
        do("GET dotdot id", req("GET", "/v1/exports/%2e%2e/events"))
        do("GET unknown job", req("GET", "/v1/exports/00000000-0000-4000-8000-000000000000"))
        do("GET trailing slash unknown job", req("GET", "/v1/exports/00000000-0000-4000-8000-000000000000/"))
        do("PUT /v1/exports", req("PUT", "/v1/exports"))
        do("POST status route", req("POST", "/v1/exports/00000000-0000-4000-8000-000000000000", ["Content-Type: application/json"], b"{}"))
        do("DELETE /healthz", req("DELETE", "/healthz", key=None))
        do("POST /metrics", req("POST", "/metrics", key=None))
        do("PUT download", req("PUT", "/v1/exports/00000000-0000-4000-8000-000000000000/download"))
        do("events of unknown job", req("GET", "/v1/exports/00000000-0000-4000-8000-000000000000/events"))
        do("stream of unknown job", req("GET", "/v1/exports/00000000-0000-4000-8000-000000000000/events/stream"))
        do("download of unknown job", req("GET", "/v1/exports/00000000-0000-4000-8000-000000000000/download"))
        do("malformed request line", b"GARBAGE\r\n\r\n")
        # ---- admission errors
        do("POST text/plain", req("POST", "/v1/exports", ["Content-Type: text/plain"], b"hello"))
        do("POST bad idempotency key", req("POST", "/v1/exports", ["Content-Type: application/json", "Idempotency-Key: a b"], b"{}"))
        do("POST too large", req("POST", "/v1/exports", ["Content-Type: application/json", f"Content-Length: {len(hexyl) + 5000}"]))
        do("POST not JSON", req("POST", "/v1/exports", ["Content-Type: application/json"], b"{\"nodes\": [1,"))
        do("POST wrong type", req("POST", "/v1/exports", ["Content-Type: application/json"], b'{"nodes": 5, "relationships": []}'))
        empty = dict(small)
        empty["nodes"] = []
        do("POST no nodes", req("POST", "/v1/exports", ["Content-Type: application/json"], json.dumps(empty).encode()))
        do("POST chunked too large", req("POST", "/v1/exports", ["Content-Type: application/json", "Transfer-Encoding: chunked"],
                                         chunked(hexyl + b" " * 6000)))
        # ---- a job through the worker protocol
        _, body = do("POST hexyl", req("POST", "/v1/exports", ["Content-Type: application/json", "Idempotency-Key: k1"], hexyl))
        job1 = json.loads(body)["jobId"]
        do("POST hexyl replay", req("POST", "/v1/exports", ["Content-Type: application/json", "Idempotency-Key: k1"], hexyl))
        do("POST other body same key", req("POST", "/v1/exports", ["Content-Type: application/json", "Idempotency-Key: k1"],
                                           json.dumps(small).encode()))
        _, body = do("POST chunked small, expect 100-continue",
                     req("POST", "/v1/exports", ["Content-Type: application/json", "Transfer-Encoding: chunked", "Expect: 100-continue"],
                         chunked(json.dumps(small).encode(), 1000)))
        job2 = json.loads(body)["jobId"]
        do("status queued", req("GET", f"/v1/exports/{job1}"))
        do("events page", req("GET", f"/v1/exports/{job1}/events?sinceSeq=0&limit=5"))
        do("events bad sinceSeq", req("GET", f"/v1/exports/{job1}/events?sinceSeq=abc"))
        do("events bad limit", req("GET", f"/v1/exports/{job1}/events?limit=-1"))
        do("events bad escape", req("GET", f"/v1/exports/{job1}/events?sinceSeq=%zz"))
        do("events limit 0 clamps", req("GET", f"/v1/exports/{job1}/events?limit=0"))
        do("download before ready", req("GET", f"/v1/exports/{job1}/download"))
        do("stream bad sinceSeq", req("GET", f"/v1/exports/{job1}/events/stream?sinceSeq=x"))
        wk = KEY
        do("job-take no key", req("GET", "/v2/local/job-take/w1", key=None))
        do("job-take wrong key", req("GET", "/v2/local/job-take/w1", ["Authorization: nope"], key=None))
        do("job-take other endpoint", req("GET", "/v2/other/job-take/w1", [f"Authorization: {wk}"], key=None))
        do("worker unknown route", req("GET", "/v2/local/bogus/w1", [f"Authorization: {wk}"], key=None))
        do("worker bad worker id", req("GET", "/v2/local/job-take/a%20b", [f"Authorization: {wk}"], key=None))
        do("job-take POST", req("POST", "/v2/local/job-take/w1", [f"Authorization: {wk}"], key=None))
        _, body = do("job-take", req("GET", "/v2/local/job-take/w1?job_in_progress=0", [f"Authorization: {wk}"], key=None))
        q1 = json.loads(body)["id"]
        out_prefix = json.loads(body)["input"]["output_prefix"]
        do("status running", req("GET", f"/v1/exports/{job1}"))
        do("ping", req("GET", f"/v2/local/ping/w1?job_id={q1}&runpod_version=x", [f"Authorization: Bearer {wk}"], key=None))
        prog = json.dumps({"status": "IN_PROGRESS", "output": {"stage": "frame_prep", "progress": 40}}).encode()
        do("job-done progress", req("POST", f"/v2/local/job-done/w1/{q1}?isStream=false",
                                    [f"Authorization: {wk}", "Content-Type: application/json"], prog, key=None))
        do("job-done not JSON", req("POST", f"/v2/local/job-done/w1/{q1}", [f"Authorization: {wk}"], b"{nope", key=None))
        do("job-done wrong worker", req("POST", f"/v2/local/job-done/w2/{q1}", [f"Authorization: {wk}"], prog, key=None))
        do("job-done unknown job", req("POST", "/v2/local/job-done/w1/nothing-a1", [f"Authorization: {wk}"], prog, key=None))
        do("job-stop nothing", req("GET", "/v2/local/job-stop/w1", [f"Authorization: {wk}"], key=None))
        os.makedirs(out_prefix, exist_ok=True)
        art = os.path.join(out_prefix, "capsule été.mv2")
        with open(art, "wb") as f:
            f.write(bytes(range(256)) * 40)
        done = json.dumps({"output": {"artifactPath": art, "fileName": "capsule été.mv2", "backend": "native-cpp",
                                      "frames": 7, "vectors": 0, "sidecar": {"status": "disabled"},
                                      "workerMetrics": {"frames": 7}}}).encode()
        do("job-done output", req("POST", f"/v2/local/job-done/w1/{q1}", [f"Authorization: {wk}"], done, key=None))
        do("status completed", req("GET", f"/v1/exports/{job1}"))
        do("job-done after completion", req("POST", f"/v2/local/job-done/w1/{q1}", [f"Authorization: {wk}"], done, key=None))
        head, _ = do("download", req("GET", f"/v1/exports/{job1}/download"))
        etag = re.search(rb"\r\n[Ee][Tt]ag: *(\S+)", head).group(1).decode()
        do("download HEAD", req("HEAD", f"/v1/exports/{job1}/download"))
        do("download range", req("GET", f"/v1/exports/{job1}/download", ["Range: bytes=10-19"]))
        do("download suffix range", req("GET", f"/v1/exports/{job1}/download", ["Range: bytes=-5"]))
        do("download open range", req("GET", f"/v1/exports/{job1}/download", ["Range: bytes=10230-"]))
        do("download range past end", req("GET", f"/v1/exports/{job1}/download", ["Range: bytes=20000-"]))
        do("download two ranges", req("GET", f"/v1/exports/{job1}/download", ["Range: bytes=0-1,5-6"]))
        do("download If-None-Match", req("GET", f"/v1/exports/{job1}/download", [f"If-None-Match: {etag}"]))
        do("download If-None-Match weak list", req("GET", f"/v1/exports/{job1}/download", [f'If-None-Match: "x", W/{etag}']))
        do("download If-Range match", req("GET", f"/v1/exports/{job1}/download", ["Range: bytes=0-3", f"If-Range: {etag}"]))
        do("download If-Range stale", req("GET", f"/v1/exports/{job1}/download", ["Range: bytes=0-3", 'If-Range: "old"']))
        do("download with origin", req("GET", f"/v1/exports/{job1}/download", ["Range: bytes=0-0", "Origin: http://a.example"]))
        do("events all", req("GET", f"/v1/exports/{job1}/events?limit=2000"))
        do("events since 3", req("GET", f"/v1/exports/{job1}/events?sinceSeq=3&limit=2"))
        stop_at = b"event: job_completed"
        do("stream from start", req("GET", f"/v1/exports/{job1}/events/stream"),
           read_until=lambda b: stop_at in b and b.endswith(b"\n\n"))
        do("stream Last-Event-ID", req("GET", f"/v1/exports/{job1}/events/stream", ["Last-Event-ID: 4"]),
           read_until=lambda b: stop_at in b and b.endswith(b"\n\n"))
        # ---- the second job: taken, then canceled; the worker hears it on job-stop
        _, body = do("job-take 2", req("GET", "/v2/local/job-take/w1?job_in_progress=0", [f"Authorization: {wk}"], key=None))
        q2 = json.loads(body)["id"]
        do("cancel 2", req("DELETE", f"/v1/exports/{job2}"))
        do("cancel 2 again", req("DELETE", f"/v1/exports/{job2}"))
        do("job-stop after cancel", req("GET", "/v2/local/job-stop/w1", [f"Authorization: {wk}"], key=None))
        do("job-done of canceled", req("POST", f"/v2/local/job-done/w1/{q2}", [f"Authorization: {wk}"], done, key=None))
        do("events of canceled", req("GET", f"/v1/exports/{job2}/events"))
        do("download canceled", req("GET", f"/v1/exports/{job2}/download"))
        do("job-take empty", req("GET", "/v2/local/job-take/w1?job_in_progress=0", [f"Authorization: {wk}"], key=None))
        do("cancel unknown", req("DELETE", "/v1/exports/00000000-0000-4000-8000-000000000000"))
        # ---- keep-alive: two requests on one connection, then Connection: close
        do("keep-alive pair", req("GET", "/healthz", key=None) + req("GET", "/readyz", key=None),
           read_until=lambda b: b.count(b'"ok"') >= 2, timeout=3)
        do("connection close", req("GET", "/healthz", ["Connection: close"], key=None))
        do("HTTP/1.0", b"GET /readyz HTTP/1.0\r\n\r\n")
        do("metrics", req("GET", "/metrics", key=None))
    finally:
        api.stop()

    # ---- a second server: a queue of one, and a rate limit
    api2 = Api(env={"MEMVID_EXPORT_QUEUE_CAPACITY": "1", "MEMVID_EXPORT_RATE_LIMIT_PER_MINUTE": "1",
                    "MEMVID_EXPORT_RATE_LIMIT_BURST": "3", "MEMVID_EXPORT_BACKEND_MODE": "runpod_queue",
                    "RUNPOD_ENDPOINT_ID": "ep", "RUNPOD_API_KEY": "rk", "RUNPOD_API_BASE": "http://127.0.0.1:9",
                    "RUNPOD_REQUEST_TIMEOUT_MS": "100"})
    t.roots.append(api2.root)
    p = api2.port
    try:
        do("runpod: readyz", req("GET", "/readyz", key=None))
        do("runpod: worker route", req("GET", "/v2/local/job-take/w1", [f"Authorization: {KEY}"], key=None))
        do("runpod: POST small", req("POST", "/v1/exports", ["Content-Type: application/json"], json.dumps(small).encode()))
        do("runpod: queue full", req("POST", "/v1/exports", ["Content-Type: application/json"], json.dumps(small).encode()))
        do("runpod: rate limited", req("GET", "/v1/exports/00000000-0000-4000-8000-000000000000"))
        do("runpod: rate limited again", req("GET", "/v1/exports/00000000-0000-4000-8000-000000000000"))
    finally:
        api2.stop()

    # ---- the CLI
    for args in (["--version"], ["--help"], ["worker-env"], ["validate", "/nonexistent.json"], ["bogus"]):
        e = api.env()
        e["MEMVID_EXPORT_PUBLIC_URL"] = "http://control.example:8080"
        r = subprocess.run([API] + args, env=e, capture_output=True, text=True)
        t.lines += [f"### cli {' '.join(args)} -> {r.returncode}", t.norm(r.stdout), t.norm(r.stderr), ""]
    return "\n".join(t.lines) + "\n"


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("--check", "--write"):
        raise SystemExit(__doc__)
    text = run(os.environ.get("MVX_BIN", ""))
    if sys.argv[1] == "--write":
        with open(sys.argv[2], "w", newline="") as f:
            f.write(text)
        print(f"wrote {sys.argv[2]} ({len(text.splitlines())} lines)")
        return
    want = open(sys.argv[2], newline="").read()
    if text == want:
        print(f"http transcript: {want.count('### ')} exchanges, the same bytes as {os.path.basename(sys.argv[2])}")
        return
    import difflib
    sys.stdout.writelines(difflib.unified_diff(want.splitlines(True), text.splitlines(True), "golden", "now", n=2))
    raise SystemExit("http transcript: answers differ from the golden transcript (above); "
                     "if the change is intended, rerun with --write")


if __name__ == "__main__":
    main()
