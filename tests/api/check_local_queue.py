"""Local queue end to end: the real control plane and the real worker binary on
loopback. Fixtures go through POST -> events -> SSE -> download, memvid-sdk opens
the downloaded capsules; idempotency, cancel, leases (a worker that vanishes),
Range/ETag downloads and retention."""
import json
import os
import shutil
import tempfile
import time

from apilib import Api, Sse, Worker, KEY, check, finish, fixture_bytes, open_capsule
import http.client


def take_raw(api, worker, wait=True):
    """One job-take as a worker would (the raw key, no Bearer)."""
    c = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    c.request("GET", f"/v2/local/job-take/{worker}?job_in_progress=0", headers={"Authorization": KEY})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, (json.loads(body) if body else None)


def post_done(api, worker, qid, body):
    c = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    c.request("POST", f"/v2/local/job-done/{worker}/{qid}?isStream=false", body=json.dumps(body),
              headers={"Authorization": KEY, "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def main():
    hexyl, memvid = fixture_bytes("hexyl.json.zst"), fixture_bytes("memvid.json.zst")
    api = Api(env={"MEMVID_EXPORT_HEARTBEAT_SECONDS": "2", "MEMVID_LOCAL_QUEUE_LEASE_SECONDS": "3",
                   "MEMVID_LOCAL_QUEUE_WAIT_MS": "2000"})
    print("local queue: submit, idempotency, cancel")
    st, a = api.create(hexyl, idem="export-hexyl-1")
    check(st == 202 and a["status"] == "queued" and a["currentStage"] == "queued", f"POST hexyl -> 202 queued ({st})")
    job_a = a["jobId"]
    st, h, body = api.request("POST", "/v1/exports", hexyl, headers={"Idempotency-Key": "export-hexyl-1"})
    check(st == 202 and json.loads(body)["jobId"] == job_a and h.get("idempotent-replayed") == "true",
          "the same Idempotency-Key and body -> the same job")
    st, e = api.create(memvid, idem="export-hexyl-1")
    check(st == 409 and e["error"]["code"] == "IDEMPOTENCY_KEY_REUSED", f"the same key with another body -> 409 ({st})")
    st, c = api.create(hexyl)
    job_c = c["jobId"]
    st, s = api.json("DELETE", f"/v1/exports/{job_c}")
    check(st == 200 and s["status"] == "canceled" and s["currentStage"] == "canceled", "DELETE a queued job -> canceled")
    st, s2 = api.json("DELETE", f"/v1/exports/{job_c}")
    check(st == 200 and s2["status"] == "canceled" and s2["lastEventSeq"] == s["lastEventSeq"], "DELETE again is a no-op 200")
    ev = api.events(job_c)
    check(ev[-1]["type"] == "job_canceled" and ev[-1]["emoji"] == "\U0001F6D1", "the canceled job's last event is job_canceled")
    st, b = api.create(memvid)
    job_b = b["jobId"]

    print("local queue: a worker that takes a job and vanishes loses its lease")
    st, taken = take_raw(api, "ghost")
    check(st == 200 and taken["id"].startswith(job_a) and taken["input"]["job_id"] == job_a
          and taken["input"]["payload_ref"].startswith("file://") and "output_prefix" in taken["input"],
          f"job-take hands out the oldest job with a snake_case input ({taken and taken['id']})")
    st, e = api.json("GET", f"/v1/exports/{job_a}")
    check(e["status"] == "running", "the job is running while leased")
    sse_a, sse_b = Sse(api, job_a), Sse(api, job_b)
    time.sleep(4.5)  # lease (3 s) runs out without a ping; heartbeats every 2 s meanwhile
    st, e = api.json("GET", f"/v1/exports/{job_a}")
    check(e["status"] == "queued", f"after the lease runs out the job is queued again ({e['status']})")
    check(post_done(api, "ghost", taken["id"], {"output": {"artifactPath": "/etc/passwd"}}) == 409,
          "a late result from the lost worker is refused (409)")
    evb = api.events(job_b)
    check(any(x["type"] == "stage_heartbeat" and "ahead" in x["message"] for x in evb),
          "a queued job gets heartbeats while it waits")

    print("local queue: the real worker runs both fixtures")
    w = Worker(api, "w1")
    sa, sb = api.wait(job_a), api.wait(job_b)
    check(sa["status"] == "completed" and sb["status"] == "completed", f"both exports completed ({sa['status']}, {sb['status']})")
    check(sa["metadata"]["attempt"] == 2 and sa["metadata"]["worker"] == "w1", "hexyl ran as attempt 2 on w1")
    for sse in (sse_a, sse_b):
        sse.done.wait(20)
        sse.stop = True
    for job, sse in ((job_a, sse_a), (job_b, sse_b)):
        stored = api.events(job)
        seqs = [x["seq"] for x in stored]
        check(seqs == list(range(1, len(seqs) + 1)), f"{job[:8]}: stored events have seq 1..{len(seqs)} without a gap")
        got = sse.seqs()
        check(got == seqs, f"{job[:8]}: SSE delivered each event once, in order ({len(got)} of {len(seqs)})")
        check([json.dumps(x, sort_keys=True) for x in sse.events] == [json.dumps(x, sort_keys=True) for x in stored],
              f"{job[:8]}: SSE events equal the /events page")
        gaps = [b_["ts"] for b_ in stored]
        check(stored[-1]["type"] == "job_completed" and stored[-1]["stage"] == "download_ready" and stored[-1]["progress"] == 100,
              f"{job[:8]}: ends with job_completed at 100")
        del gaps

    print("local queue: downloads")
    d = tempfile.mkdtemp(prefix="mvx-dl-")
    for job, status, fx in ((job_a, sa, "hexyl"), (job_b, sb, "memvid")):
        st, h, data = api.request("GET", f"/v1/exports/{job}/download")
        art = status["artifact"]
        check(st == 200 and len(data) == art["sizeBytes"] and int(h["content-length"]) == len(data),
              f"{fx}: download is the whole capsule ({len(data)} bytes)")
        check(f'filename="{art["fileName"]}"' in h.get("content-disposition", "") and art["fileName"].startswith(fx),
              f"{fx}: Content-Disposition names {art['fileName']}")
        path = os.path.join(d, art["fileName"])
        open(path, "wb").write(data)
        stats, verify = open_capsule(path)
        payload = json.loads(fixture_bytes(fx + ".json.zst"))
        want = len(payload["nodes"]) + len(payload["relationships"]) + 5
        check(verify["overall_status"] == "passed" and stats["frame_count"] == want,
              f"{fx}: memvid-sdk opens and deep-verifies the download ({stats['frame_count']} frames)")
        if fx == "hexyl":
            etag = h["etag"]
            st, h2, part = api.request("GET", f"/v1/exports/{job}/download", headers={"Range": "bytes=0-15"})
            check(st == 206 and part == data[:16] and h2["content-range"] == f"bytes 0-15/{len(data)}", "Range bytes=0-15 -> 206")
            st, h2, part = api.request("GET", f"/v1/exports/{job}/download", headers={"Range": "bytes=-10"})
            check(st == 206 and part == data[-10:], "Range bytes=-10 -> the last 10 bytes")
            st, h2, part = api.request("GET", f"/v1/exports/{job}/download", headers={"Range": f"bytes={len(data)}-"})
            check(st == 416 and h2.get("content-range") == f"bytes */{len(data)}", "a range past the end -> 416")
            st, h2, part = api.request("GET", f"/v1/exports/{job}/download", headers={"If-None-Match": etag})
            check(st == 304 and not part, "If-None-Match with the ETag -> 304")
            st, h2, part = api.request("GET", f"/v1/exports/{job}/download", headers={"Range": "bytes=0-9", "If-Range": '"other"'})
            check(st == 200 and len(part) == len(data), "If-Range with another ETag -> the whole file")
            st, h2, part = api.request("HEAD", f"/v1/exports/{job}/download")
            check(st == 200 and int(h2["content-length"]) == len(data) and not part, "HEAD -> headers only")
    st, h, m = api.request("GET", "/metrics", key=None)
    m = m.decode()
    check(st == 200 and 'memvid_export_jobs{status="completed"} 2' in m and "memvid_export_queue_depth 0" in m
          and "memvid_export_stage_duration_seconds_bucket" in m, "/metrics: jobs by state, queue depth, stage durations")
    check(w.stop() == 0, "the worker exits 0 on SIGTERM")
    check(api.stop() == 0, "the control plane exits 0 on SIGTERM")

    print("retention: the sweeper expires capsules and removes every file of the job")
    api = Api(env={"MEMVID_EXPORT_RETENTION_SECONDS": "2", "MEMVID_EXPORT_SWEEP_INTERVAL_SECONDS": "1"})
    st, a = api.create(hexyl)
    job = a["jobId"]
    w = Worker(api, "w2")
    s = api.wait(job)
    staging = os.path.join(api.root, "exports", "staging")
    check(os.path.exists(os.path.join(staging, "payloads", job + ".json")) and os.path.isdir(os.path.join(staging, "outputs", job)),
          "while ready: the staged payload and the outputs exist")
    s = api.wait(job, states=("expired",), timeout=15)
    check(s["status"] == "expired" and s["artifact"] is None and s["message"] == "Artifact expired and removed",
          "after MEMVID_EXPORT_RETENTION_SECONDS the job is expired")
    check(not os.path.exists(os.path.join(staging, "payloads", job + ".json")) and not os.path.exists(os.path.join(staging, "outputs", job)),
          "capsule, sidecar, staged payload and outputs are removed")
    st, e = api.json("GET", f"/v1/exports/{job}/events")
    check(st == 410 and e["error"]["code"] == "JOB_EXPIRED", "events of an expired job -> 410 JOB_EXPIRED")
    st, e = api.json("GET", f"/v1/exports/{job}/download")
    check(st == 409 and e["error"]["code"] == "ARTIFACT_NOT_READY", "download of an expired job -> 409")
    w.stop()
    api.stop()
    shutil.rmtree(d, ignore_errors=True)
    finish("api local queue")


if __name__ == "__main__":
    main()
