"""Helpers for the control-plane tests: the real memvid-export-api and
memvid-export-worker binaries on loopback, plain HTTP from the standard library,
an SSE reader, and memvid's own reader (memvid-sdk) for the capsules."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "oracle"))
from common import check, finish, load_fixture, FIXTURES  # noqa: E402,F401

os.environ.setdefault("MEMVID_TELEMETRY", "0")
BIN = os.environ.get("MVX_BIN", os.path.join(HERE, "../../build/bin"))
API = os.path.join(BIN, "memvid-export-api")
WORKER = os.path.join(BIN, "memvid-export-worker")
KEY = "test-key-0123456789abcdef"
# Under ASan + UBSan the native embedder is ~20x slower: semantic exports shrink.
SANITIZED = os.environ.get("MVX_SANITIZED") in ("1", "ON", "TRUE")


def fixture_bytes(name):
    return subprocess.run(["zstd", "-dc", os.path.join(FIXTURES, name)], check=True, capture_output=True).stdout


def terminate(proc, grace):
    """SIGTERM, then SIGKILL after `grace` seconds; the exit code."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Api:
    """One memvid-export-api process; root persists across restart()."""

    def __init__(self, root=None, env=None, port=0, max_fds=None):
        self.root = root or tempfile.mkdtemp(prefix="mvx-api-")
        self.extra = dict(env or {})
        self.port = port
        self.max_fds = max_fds  # RLIMIT_NOFILE for the server (ulimit -n)
        self.proc = None
        self.log = open(os.path.join(self.root, "api.log"), "ab")
        self.start()

    def env(self):
        e = dict(os.environ)
        e.update({"MEMVID_EXPORT_API_KEY": KEY, "MEMVID_EXPORT_BIND_ADDR": f"127.0.0.1:{self.port}",
                  "MEMVID_EXPORT_ROOT": os.path.join(self.root, "exports"), "MEMVID_EXPORT_THREADS": "2"})
        e.update(self.extra)
        return e

    def start(self):
        def limit():
            if self.max_fds:
                import resource
                resource.setrlimit(resource.RLIMIT_NOFILE, (self.max_fds, self.max_fds))
        self.proc = subprocess.Popen([API], env=self.env(), stdout=subprocess.PIPE, stderr=self.log, preexec_fn=limit)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("{"):
            self.proc.wait(5)
            raise SystemExit("memvid-export-api did not start: " + open(os.path.join(self.root, "api.log")).read()[-2000:])
        self.port = json.loads(line)["listening"]
        self.url = f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self):
        """utime + stime of the server so far."""
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_bytes(self):
        self.log.flush()
        return os.path.getsize(os.path.join(self.root, "api.log"))

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        return terminate(self.proc, 10)

    def request(self, method, path, body=None, headers=None, key=KEY, timeout=60):
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = "Bearer " + key
        if body is not None and "Content-Type" not in h:
            h["Content-Type"] = "application/json"
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def json(self, method, path, body=None, **kw):
        st, h, data = self.request(method, path, body, **kw)
        try:
            return st, json.loads(data) if data else None
        except ValueError:
            return st, data

    def create(self, payload_bytes, idem=None):
        h = {"Idempotency-Key": idem} if idem else {}
        return self.json("POST", "/v1/exports", payload_bytes, headers=h)

    def wait(self, job, states=("completed", "failed", "canceled"), timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            st, s = self.json("GET", f"/v1/exports/{job}")
            if st == 200 and s["status"] in states:
                return s
            time.sleep(0.2)
        raise SystemExit(f"job {job} did not reach {states} in {timeout}s: {s}")

    def events(self, job, since=0):
        st, e = self.json("GET", f"/v1/exports/{job}/events?sinceSeq={since}&limit=2000")
        return e["events"] if st == 200 else None

    def worker_env(self, pod):
        e = dict(os.environ)
        out = subprocess.run([API, "worker-env"], env=self.env(), capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line and not line.startswith("#"):
                k, v = line.split("=", 1)
                e[k] = v.strip("'")
        e["RUNPOD_POD_ID"] = pod
        e["RUNPOD_PING_INTERVAL"] = "1000"
        return e


class Worker:
    def __init__(self, api, pod, env=None, log_dir=None):
        e = api.worker_env(pod)
        e.update(env or {})
        self.log = open(os.path.join(log_dir or api.root, f"worker-{pod}.log"), "ab")
        self.proc = subprocess.Popen([WORKER], env=e, stdout=self.log, stderr=self.log)

    def stop(self):
        return terminate(self.proc, 15)


class Sse:
    """Reads /events/stream in a thread; reconnects with Last-Event-ID when
    told to; keeps every event it received (with duplicates, to count them)."""

    def __init__(self, api, job, since=0):
        self.api, self.job = api, job
        self.events = []
        self.pings = 0
        self.connections = 0
        self.done = threading.Event()
        self.last = since
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                self.connections += 1
                s = socket.create_connection(("127.0.0.1", self.api.port), timeout=30)
                req = (f"GET /v1/exports/{self.job}/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                       f"Accept: text/event-stream\r\nLast-Event-ID: {self.last}\r\n\r\n")
                s.sendall(req.encode())
                f = s.makefile("rb")
                status = f.readline()
                if b" 200 " not in status:
                    time.sleep(0.3)
                    continue
                while f.readline() not in (b"\r\n", b""):
                    pass
                block = {}
                for raw in f:
                    line = raw.decode().rstrip("\n")
                    if line == "":
                        if "data" in block:
                            ev = json.loads(block["data"])
                            self.events.append(ev)
                            self.last = ev["seq"]
                            if block.get("id") != str(ev["seq"]) or block.get("event") != ev["type"]:
                                self.events.append({"bad_frame": block})
                            if ev["type"] in ("job_completed", "job_failed", "job_canceled"):
                                self.done.set()
                        block = {}
                        continue
                    if line.startswith(":"):
                        self.pings += 1
                        continue
                    k, _, v = line.partition(":")
                    v = v[1:] if v.startswith(" ") else v
                    block[k] = block.get(k, "") + v if k == "data" else v
                    if self.stop:
                        break
            except (OSError, ValueError):
                pass
            if self.done.is_set():
                return
            time.sleep(0.2)

    def seqs(self):
        return [e.get("seq") for e in self.events]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def open_capsule(path):
    import memvid_sdk
    mem = memvid_sdk.use("basic", path, read_only=True)
    return mem.stats(), mem.verify(path, deep=True)
