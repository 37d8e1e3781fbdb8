"""runpod_queue mode against a local server playing the Runpod endpoint API
(fake_runpod.py): 5xx, timeouts, 429, garbage and unknown statuses are injected;
every job must end in its right state with the right message, the /run body
must carry the snake_case pointer input and policy, and a long IN_PROGRESS
still gives a heartbeat at least every 5 s."""
import json
import os
import tempfile
import time

from apilib import Api, Sse, check, finish, fixture_bytes, open_capsule
from fake_runpod import RP_KEY, FakeRunpod
from check_admission import minimal

SCRIPTS = {
    "faults": ["IN_QUEUE", "500", "429", "IN_PROGRESS+", "timeout", "garbage", "RUNNING", "COMPLETED"],
    "unknown": ["THROTTLED", "IN_QUEUE", "SOMETHING_NEW", "COMPLETED"],
    "failed": ["IN_PROGRESS", "FAILED"],
    "timed_out": ["IN_QUEUE", "TIMED_OUT"],
    "platform_cancel": ["IN_PROGRESS", "CANCELLED"],
    "no_output": ["COMPLETED_EMPTY"],
    "outside": ["COMPLETED_OUTSIDE"],
    "missing": ["COMPLETED_MISSING"],
    "foreign": ["COMPLETED_FOREIGN"],
    "user_cancel": ["IN_PROGRESS"],
    "gone": ["IN_QUEUE", "404"],
    "rejected": ["COMPLETED"],
    "long": ["IN_PROGRESS"] * 8 + ["COMPLETED"],
}
RUN_FAULTS = {"faults": ["500", "timeout"], "unknown": ["429"], "rejected": ["400"]}
EXPECT = {
    "faults": ("completed", None),
    "unknown": ("completed", None),
    "failed": ("failed", "Runpod job failed: boom: CUDA out of memory"),
    "timed_out": ("failed", "Runpod job timed out"),
    "platform_cancel": ("failed", "Runpod job was cancelled"),
    "no_output": ("failed", "Runpod completed without output"),
    "outside": ("failed", "artifact path is outside the staging root: /etc/passwd"),
    "missing": ("failed", "Failed to stat artifact: "),
    "foreign": ("failed", "artifact path is outside the job's output folder"),
    "user_cancel": ("canceled", None),
    "gone": ("failed", "not found"),
    "rejected": ("failed", "Runpod submission failed: run answered HTTP 400"),
    "long": ("completed", None),
}


def main():
    fake = FakeRunpod(SCRIPTS, RUN_FAULTS)
    api = Api(env={"MEMVID_EXPORT_BACKEND_MODE": "runpod_queue", "RUNPOD_API_BASE": fake.base, "RUNPOD_ENDPOINT_ID": "ep-test",
                   "RUNPOD_API_KEY": RP_KEY, "RUNPOD_POLL_INTERVAL_SECONDS": "1", "RUNPOD_REQUEST_TIMEOUT_MS": "1000",
                   "RUNPOD_SUBMIT_CONFIRM_SECONDS": "3",
                   "RUNPOD_EXECUTION_TIMEOUT_MS": "900000", "RUNPOD_TTL_MS": "3600000", "MEMVID_EXPORT_RATE_LIMIT_PER_MINUTE": "0"})
    hexyl = json.loads(fixture_bytes("hexyl.json.zst"))
    jobs = {}
    for name in SCRIPTS:
        if name == "faults":
            hexyl["projectName"] = name
            body = json.dumps(hexyl).encode()
        else:
            body = minimal(projectName=name)
        st, a = api.create(body)
        check(st == 202, f"{name}: accepted ({st})")
        jobs[name] = a["jobId"]
    sse = Sse(api, jobs["faults"])
    time.sleep(2.5)
    st, s = api.json("DELETE", f"/v1/exports/{jobs['user_cancel']}")
    check(st == 200 and s["status"] == "canceled", "user_cancel: DELETE -> canceled")
    print("runpod: every job ends in its right state")
    final = {}
    for name, job in jobs.items():
        final[name] = api.wait(job, timeout=90)
        want, msg = EXPECT[name]
        s = final[name]
        got_msg = (s.get("error") or {}).get("message", "")
        ok = s["status"] == want and (msg is None or msg in got_msg)
        check(ok, f"{name}: {s['status']}{' - ' + got_msg if got_msg else ''}")
        if want == "failed":
            check(s["error"]["code"] == "EXPORT_FAILED", f"{name}: error code EXPORT_FAILED")
    time.sleep(1.5)
    check(any(c for c in fake.cancels), f"user_cancel: the control plane called /cancel ({fake.cancels})")
    check(fake.bad_auth == 0, "every call carried Authorization: Bearer RUNPOD_API_KEY")

    print("runpod: the pointer job and the completed export")
    run = next(r for r in fake.runs if r["input"]["job_id"] == jobs["faults"])
    inp = run["input"]
    check(set(inp) >= {"job_id", "payload_ref", "output_prefix", "embedding_mode", "embedding_provider"}
          and inp["payload_ref"].startswith("file://") and inp["payload_ref"].endswith(f"/payloads/{jobs['faults']}.json")
          and inp["output_prefix"].endswith(f"/outputs/{jobs['faults']}"),
          f"/run input is the snake_case pointer job ({sorted(inp)})")
    check(run["policy"] == {"executionTimeout": 900000, "ttl": 3600000}, f"/run policy from the environment ({run['policy']})")
    s = final["faults"]
    md = s["metadata"]
    check(md["backend"] == "runpod_queue" and md["runpodJobId"].startswith("rp-") and md["workerMetrics"]["runpodStatus"] == "COMPLETED",
          f"metadata: backend, runpodJobId, workerMetrics ({md['runpodJobId']})")
    ev = api.events(jobs["faults"])
    statuses = [e["meta"].get("runpodStatus") for e in ev if e["type"] == "stage_heartbeat" and e["meta"]]
    check("IN_QUEUE" in statuses and "IN_PROGRESS" in statuses and "RUNNING" in statuses,
          f"heartbeats follow the Runpod status ({sorted(set(x for x in statuses if x))})")
    check(any(e["stage"] == "write_capsule" and e["progress"] >= 45 for e in ev), "worker progress is mapped into the events")
    check(ev[-1]["type"] == "job_completed" and ev[-1]["meta"]["runpodJobId"] == md["runpodJobId"], "job_completed carries the Runpod id")
    st, h, data = api.request("GET", f"/v1/exports/{jobs['faults']}/download")
    path = os.path.join(tempfile.mkdtemp(), s["artifact"]["fileName"])
    open(path, "wb").write(data)
    stats, verify = open_capsule(path)
    check(st == 200 and verify["overall_status"] == "passed" and stats["frame_count"] == len(hexyl["nodes"]) + len(hexyl["relationships"]) + 5,
          "the capsule Runpod made downloads and memvid-sdk deep-verifies it")
    sse.done.wait(10)
    sse.stop = True
    check(sse.seqs() == [e["seq"] for e in ev], "SSE saw every event of the faulty job exactly once")
    lev = api.events(jobs["long"])
    times = [time.mktime(time.strptime(e["ts"][:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + e["ts"][19:-1]) for e in lev]
    gaps = [b - a for a, b in zip(times, times[1:])]
    check(max(gaps) <= 5.9, f"long IN_PROGRESS: the largest gap between events is {max(gaps):.1f}s (<= 5 s + tick)")
    st, h, m = api.request("GET", "/metrics", key=None)
    m = m.decode()
    check('memvid_export_backend_errors_total{op="status",kind="5xx"}' in m and 'kind="timeout"' in m and
          'memvid_export_backend_request_seconds_count{op="run"}' in m, "/metrics counts backend latency and errors")
    check(api.stop() == 0, "the control plane exits 0 on SIGTERM")
    fake.close()
    finish("api runpod")


if __name__ == "__main__":
    main()
