"""The official runpod SDK (PyPI `runpod`, the original system's worker was
such a handler) against our local queue, configured only from
`memvid-export-api worker-env`: its handler calls `memvid-export-worker
runpod-execute`, reports progress with `runpod.serverless.progress_update`, and
returns the result. The export completes, the progress note is an event, and
memvid-sdk opens the capsule. Twice: with worker-env's templates as printed
(they carry a query, as Runpod's do) and with the query removed (the SDK then
appends its parameters with '&', which the local queue also accepts)."""
import json
import os
import subprocess
import sys
import tempfile
import time

from apilib import API, WORKER, Api, check, finish, fixture_bytes, open_capsule, terminate

HANDLER = """
import json, subprocess, sys
import runpod

WORKER = sys.argv[1]

def handler(job):
    i = job["input"]
    runpod.serverless.progress_update(job, "packing with memvid-export-worker runpod-execute")
    r = subprocess.run([WORKER, "runpod-execute", "--payload-ref", i["payload_ref"], "--output-prefix", i["output_prefix"],
                        "--job-id", i["job_id"]], capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": json.loads(r.stdout)["error"]["message"]}
    return json.loads(r.stdout)

runpod.serverless.start({"handler": handler})
"""


def sdk_env(api, strip_query):
    out = subprocess.run([API, "worker-env"], env=api.env(), capture_output=True, text=True, check=True).stdout
    e = {k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_")}
    for line in out.splitlines():
        if line and not line.startswith("#"):
            k, v = line.split("=", 1)
            v = v.strip("'")
            if strip_query and k.startswith("RUNPOD_WEBHOOK_"):
                v = v.split("?", 1)[0]
            e[k] = v
    return e


def one_export(api, strip_query, tmp):
    st, body = api.json("POST", "/v1/exports", fixture_bytes("hexyl.json.zst"))
    job = body["jobId"]
    handler = os.path.join(tmp, "handler.py")
    with open(handler, "w") as f:
        f.write(HANDLER)
    log = open(os.path.join(tmp, f"sdk-{int(strip_query)}.log"), "wb")
    sdk = subprocess.Popen([sys.executable, handler, WORKER], env=sdk_env(api, strip_query), cwd=tmp, stdout=log, stderr=log)
    label = "templates without a query" if strip_query else "worker-env's templates"
    try:
        s = api.wait(job, timeout=120)
    finally:
        terminate(sdk, 10)
    check(s["status"] == "completed", f"{label}: the SDK worker completed the export ({s['status']}: {s.get('error')})")
    if s["status"] != "completed":
        print(open(os.path.join(tmp, f"sdk-{int(strip_query)}.log")).read()[-3000:])
        return
    events = api.events(job)
    check(any("packing with memvid-export-worker runpod-execute" in e["message"] for e in events),
          f"{label}: the SDK's progress_update is a job event")
    st, h, data = api.request("GET", f"/v1/exports/{job}/download")
    path = os.path.join(tmp, f"c{int(strip_query)}.mv2")
    with open(path, "wb") as f:
        f.write(data)
    stats, verify = open_capsule(path)
    check(st == 200 and verify["overall_status"] == "passed" and stats["frame_count"] == 1249,
          f"{label}: memvid-sdk opens and verifies the downloaded capsule ({stats.get('frame_count')} frames)")


def main():
    tmp = tempfile.mkdtemp(prefix="mvx-sdk-")
    api = Api()
    try:
        one_export(api, False, tmp)
        one_export(api, True, tmp)
    finally:
        api.stop()


if __name__ == "__main__":
    main()
    finish("api runpod sdk")
