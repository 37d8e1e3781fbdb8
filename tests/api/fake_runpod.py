"""A test peer playing a Runpod queue endpoint (/run, /status, /cancel) on
loopback. Each job follows a script chosen by the payload's projectName; a
COMPLETED step runs the real memvid-export-worker (--test_input) on the job's
input, as a Runpod worker would, and returns its output."""
import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from apilib import WORKER

RP_KEY = "rp-test-key-abcdef"


class FakeRunpod:
    def __init__(self, scripts, run_faults=None, endpoint="ep-test"):
        """scripts: projectName -> list of status steps; run_faults: projectName -> list of /run faults."""
        self.scripts = scripts
        self.run_faults = {k: list(v) for k, v in (run_faults or {}).items()}
        self.endpoint = endpoint
        self.jobs = {}          # rp id -> {"input", "project", "steps", "output"}
        self.runs = []          # every /run body
        self.cancels = []
        self.worker_results = []  # (rp id, the worker's final post) of auto-run jobs
        self.bad_auth = 0
        self.hold = threading.Event()  # a "HOLD" step repeats IN_PROGRESS until set
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, code, body=None, headers=None):
                data = json.dumps(body).encode() if body is not None else b""
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (an injected timeout)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n) if n else b""
                if self.headers.get("Authorization") != "Bearer " + RP_KEY:
                    fake.bad_auth += 1
                    return self.reply(401, {"error": "bad key"})
                base = f"/v2/{fake.endpoint}/"
                if self.path == base + "run":
                    req = json.loads(body)
                    with fake.lock:
                        fake.runs.append(req)
                    inp = req["input"]
                    project = json.load(open(inp["payload_ref"][len("file://"):]))["projectName"]
                    faults = fake.run_faults.get(project, [])
                    if faults and faults[0] in ("slow_accept", "duplicate"):
                        # Accepted, and a worker picks it up at once (as on Runpod); with
                        # "slow_accept" the answer comes too late for the client, with
                        # "duplicate" the platform delivers the job twice.
                        f = faults.pop(0)
                        rid = fake.accept(inp, project)
                        if f == "duplicate":
                            fake.accept(inp, project)
                        else:
                            time.sleep(1.5)
                        return self.reply(200, {"id": rid, "status": "IN_QUEUE"})
                    if faults and faults[0] == "drop":
                        faults.pop(0)
                        self.close_connection = True
                        self.connection.shutdown(2)  # the request is lost before the platform saw it
                        return None
                    if faults:
                        f = faults.pop(0)
                        return fake.fault(self, f)
                    with fake.lock:
                        rid = f"rp-{len(fake.jobs) + 1}"
                        fake.jobs[rid] = {"input": inp, "project": project, "steps": list(fake.scripts[project]), "output": None}
                    return self.reply(200, {"id": rid, "status": "IN_QUEUE"})
                if self.path.startswith(base + "cancel/"):
                    rid = self.path[len(base + "cancel/"):]
                    fake.cancels.append(rid)
                    if rid in fake.jobs:
                        fake.jobs[rid]["steps"] = ["CANCELLED"]
                    return self.reply(200, {"id": rid, "status": "CANCELLED"})
                return self.reply(404, {"error": "no route"})

            def do_GET(self):
                if self.headers.get("Authorization") != "Bearer " + RP_KEY:
                    fake.bad_auth += 1
                    return self.reply(401, {"error": "bad key"})
                base = f"/v2/{fake.endpoint}/status/"
                if not self.path.startswith(base):
                    return self.reply(404, {"error": "no route"})
                rid = self.path[len(base):]
                job = fake.jobs.get(rid)
                if not job:
                    return self.reply(404, {"error": "request does not exist"})
                with fake.lock:
                    step = job["steps"][0]
                    if step == "HOLD" and not fake.hold.is_set():
                        step = "IN_PROGRESS"  # held: the script does not advance
                    else:
                        if step == "HOLD":
                            job["steps"].pop(0)
                            step = job["steps"][0]
                        if len(job["steps"]) > 1:
                            job["steps"].pop(0)
                return fake.status(self, rid, job, step)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def accept(self, inp, project):
        """A job the platform accepted, run at once by a worker in the background."""
        with self.lock:
            rid = f"rp-{len(self.jobs) + 1}"
            job = {"input": inp, "project": project, "steps": list(self.scripts[project]), "output": None, "auto": True}
            self.jobs[rid] = job

        def work():
            r = subprocess.run([WORKER, "--test_input", json.dumps({"id": rid, "input": inp})], capture_output=True, text=True)
            last = json.loads(r.stdout.strip().splitlines()[-1])
            with self.lock:
                self.worker_results.append((rid, last))
                if "output" in last:
                    job["output"] = last["output"]
                else:
                    job["steps"] = ["FAILED_WITH:" + last.get("error", "")]
        threading.Thread(target=work, daemon=True).start()
        return rid

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}/v2"

    def fault(self, h, f):
        if f == "500":
            return h.reply(500, {"error": "internal"})
        if f == "503":
            return h.reply(503, {"error": "unavailable"})
        if f == "429":
            return h.reply(429, {"error": "rate limited"}, {"Retry-After": "1"})
        if f == "400":
            return h.reply(400, {"error": "input is not valid"})
        if f == "404":
            return h.reply(404, {"error": "request does not exist"})
        if f == "timeout":
            time.sleep(2.5)
            return h.reply(500, {"error": "late"})
        if f == "garbage":
            data = b"<html>gateway</html>"
            h.send_response(200)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return None
        raise AssertionError(f)

    def status(self, h, rid, job, step):
        if step in ("500", "503", "429", "timeout", "garbage", "404"):
            return self.fault(h, step)
        body = {"id": rid, "status": step, "delayTime": 12, "executionTime": 34}
        if step == "IN_PROGRESS+":
            body = {"id": rid, "status": "IN_PROGRESS", "output": {"stage": "write_capsule", "progress": 70}}
        elif step == "COMPLETED" and job.get("auto") and job["output"] is None:
            body = {"id": rid, "status": "IN_PROGRESS"}  # its worker is still at it
        elif step == "COMPLETED":
            if job["output"] is None:
                r = subprocess.run([WORKER, "--test_input", json.dumps({"id": rid, "input": job["input"]})],
                                   capture_output=True, text=True)
                job["output"] = json.loads(r.stdout.strip().splitlines()[-1])["output"]
            body["output"] = job["output"]
        elif step == "COMPLETED_EMPTY":
            body = {"id": rid, "status": "COMPLETED"}
        elif step == "COMPLETED_OUTSIDE":
            body = {"id": rid, "status": "COMPLETED", "output": {"artifactPath": "file:///etc/passwd", "fileName": "x.mv2"}}
        elif step == "COMPLETED_FOREIGN":  # under the staging root, but another file than this job's output
            body = {"id": rid, "status": "COMPLETED", "output": {"artifactPath": job["input"]["payload_ref"]}}
        elif step == "COMPLETED_MISSING":
            body = {"id": rid, "status": "COMPLETED", "output": {"artifactPath": job["input"]["output_prefix"] + "/gone.mv2"}}
        elif step.startswith("FAILED_WITH:"):
            body = {"id": rid, "status": "FAILED", "error": step[len("FAILED_WITH:"):]}
        elif step == "FAILED":
            body = {"id": rid, "status": "FAILED", "error": "boom: CUDA out of memory"}
        return h.reply(200, body)

    def close(self):
        self.server.shutdown()
