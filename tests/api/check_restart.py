"""kill -9 of the control plane mid-job, then a restart on the same root:
the job completes, its events continue with no gap in seq, and an SSE client
that reconnects with Last-Event-ID sees each event exactly once.
  1. runpod_queue: the Runpod job is IN_PROGRESS when the control plane dies;
     the new process re-attaches to it (no second /run) and resumes polling.
  2. local_queue: a worker is embedding when the control plane dies; its
     progress posts fail meanwhile, its result lands after the restart."""
import json
import os
import time

from apilib import SANITIZED, Api, Sse, Worker, check, finish, fixture_bytes, open_capsule
from fake_runpod import RP_KEY, FakeRunpod

MODELS = os.environ.get("MVX_MODELS", os.path.join(os.path.dirname(__file__), "../../.cache/models"))


def events_ok(api, job, sse, label):
    stored = api.events(job)
    seqs = [e["seq"] for e in stored]
    check(seqs == list(range(1, len(seqs) + 1)), f"{label}: events 1..{len(seqs)} with no gap across the restart")
    got = sse.seqs()
    check(got == seqs, f"{label}: the SSE client ({sse.connections} connections) saw each event exactly once "
                       f"({len(got)} received, {len(seqs)} stored)")
    return stored


def runpod_case():
    print("restart: runpod_queue, kill -9 while the Runpod job is IN_PROGRESS")
    fake = FakeRunpod({"held": ["IN_QUEUE", "HOLD", "COMPLETED"]})
    env = {"MEMVID_EXPORT_BACKEND_MODE": "runpod_queue", "RUNPOD_API_BASE": fake.base, "RUNPOD_ENDPOINT_ID": "ep-test",
           "RUNPOD_API_KEY": RP_KEY, "RUNPOD_POLL_INTERVAL_SECONDS": "1", "MEMVID_EXPORT_HEARTBEAT_SECONDS": "1"}
    api = Api(env=env)
    payload = json.loads(fixture_bytes("hexyl.json.zst"))
    payload["projectName"] = "held"
    st, a = api.create(json.dumps(payload).encode())
    job = a["jobId"]
    sse = Sse(api, job)
    end = time.time() + 20
    while time.time() < end:
        st, s = api.json("GET", f"/v1/exports/{job}")
        if s["metadata"].get("runpodJobId") and any(e["meta"] and e["meta"].get("runpodStatus") == "IN_PROGRESS"
                                                    for e in api.events(job)):
            break
        time.sleep(0.2)
    time.sleep(1.5)
    before = api.events(job)[-1]["seq"]
    api.kill9()
    time.sleep(1.0)
    api.start()  # same root, same port
    fake.hold.set()
    s = api.wait(job, timeout=60)
    check(s["status"] == "completed", f"the job completes after the restart ({s['status']})")
    check(len(fake.runs) == 1, f"the new process re-attached to the Runpod job (/run called {len(fake.runs)} time)")
    sse.done.wait(15)
    sse.stop = True
    stored = events_ok(api, job, sse, "runpod")
    check(stored[-1]["seq"] > before + 1 and sse.connections >= 2, f"events continued after seq {before}")
    api.stop()
    fake.close()


def local_case():
    print("restart: local_queue, kill -9 while a worker is embedding")
    model = os.path.join(MODELS, "all-MiniLM-L6-v2")
    env = {"MEMVID_EMBEDDING_MODE": "runpod_gpu", "MEMVID_EMBED_PROVIDER": "native", "MEMVID_EXPORT_HEARTBEAT_SECONDS": "1",
           "MEMVID_LOCAL_QUEUE_LEASE_SECONDS": "20"}
    api = Api(env=env)
    payload = json.loads(fixture_bytes("hexyl.json.zst"))
    nodes = 40 if SANITIZED else 200
    payload["options"].update({"semanticEnabled": True, "maxNodeFrames": nodes, "maxRelationFrames": 0})
    st, a = api.create(json.dumps(payload).encode())
    job = a["jobId"]
    sse = Sse(api, job)
    w = Worker(api, "wr", env={"MEMVID_EMBED_PROVIDER": "native", "MEMVID_EMBED_MODEL_DIR": model, "MEMVID_EMBED_DEVICE": "cpu"})
    end = time.time() + 60
    while time.time() < end and not any(e["type"] == "job_started" for e in api.events(job)):
        time.sleep(0.1)
    time.sleep(0.5)
    api.kill9()
    time.sleep(0.5)
    api.start()
    s = api.wait(job, timeout=120)
    check(s["status"] == "completed" and s["metadata"]["attempt"] == 1,
          f"the worker's result lands after the restart: {s['status']}, attempt {s['metadata'].get('attempt')}")
    sse.done.wait(15)
    sse.stop = True
    events_ok(api, job, sse, "local")
    st, h, data = api.request("GET", f"/v1/exports/{job}/download")
    path = os.path.join(api.root, "restart.mv2")
    open(path, "wb").write(data)
    stats, verify = open_capsule(path)
    check(verify["overall_status"] == "passed" and stats["frame_count"] == nodes + 5, f"memvid-sdk opens it ({stats['frame_count']} frames)")
    w.stop()
    api.stop()


def main():
    runpod_case()
    local_case()
    finish("api restart")


if __name__ == "__main__":
    main()
