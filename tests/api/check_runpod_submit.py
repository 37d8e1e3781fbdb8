"""At most one Runpod job does an export, whatever happens to /run: a peer
that accepts but answers after the client's timeout, one that drops the
request, and a platform that delivers a job twice. /run has no idempotency
key: the control plane never resends an unanswered /run until the claim its
worker writes into the job's output folder had time to appear, and a
duplicate finds the claim taken and stops before doing the work."""
import json

from apilib import Api, check, finish, fixture_bytes
from check_admission import minimal
from fake_runpod import RP_KEY, FakeRunpod

SCRIPTS = {"slow": ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"], "dropped": ["IN_QUEUE", "COMPLETED"],
           "twice": ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]}
RUN_FAULTS = {"slow": ["slow_accept"], "dropped": ["drop"], "twice": ["duplicate"]}


def main():
    fake = FakeRunpod(SCRIPTS, RUN_FAULTS)
    api = Api(env={"MEMVID_EXPORT_BACKEND_MODE": "runpod_queue", "RUNPOD_API_BASE": fake.base, "RUNPOD_ENDPOINT_ID": "ep-test",
                   "RUNPOD_API_KEY": RP_KEY, "RUNPOD_POLL_INTERVAL_SECONDS": "1", "RUNPOD_REQUEST_TIMEOUT_MS": "500",
                   "RUNPOD_SUBMIT_CONFIRM_SECONDS": "8", "MEMVID_EXPORT_RATE_LIMIT_PER_MINUTE": "0"})
    try:
        hexyl = json.loads(fixture_bytes("hexyl.json.zst"))
        jobs = {}
        for name in SCRIPTS:
            hexyl["projectName"] = name
            st, a = api.create(json.dumps(hexyl).encode())
            jobs[name] = a["jobId"]
        final = {name: api.wait(job, timeout=90) for name, job in jobs.items()}

        def runs(name):
            return [r for r in fake.runs if r["input"]["job_id"] == jobs[name]]

        def created(name):
            return [rid for rid, j in fake.jobs.items() if j["input"]["job_id"] == jobs[name]]

        s = final["slow"]
        check(s["status"] == "completed", f"slow answer: completed ({s['status']}: {s.get('error')})")
        check(len(runs("slow")) == 1, f"slow answer: one /run reached the peer ({len(runs('slow'))}; the old driver sent 6)")
        check(s["metadata"].get("runpodJobId") == created("slow")[0],
              f"slow answer: the Runpod job is found from its worker's claim ({s['metadata'].get('runpodJobId')})")

        s = final["dropped"]
        check(s["status"] == "completed", f"dropped /run: completed ({s['status']}: {s.get('error')})")
        check(len(created("dropped")) == 1 and len(runs("dropped")) == 2,
              f"dropped /run: submitted again only after the claim window, one Runpod job exists "
              f"({len(runs('dropped'))} /run, {len(created('dropped'))} job)")

        s = final["twice"]
        ids = created("twice")
        results = [res for rid, res in fake.worker_results if rid in ids]
        packed = [res for res in results if "output" in res]
        stopped = [res for res in results if "duplicate submission" in res.get("error", "")]
        check(s["status"] == "completed", f"delivered twice: completed ({s['status']}: {s.get('error')})")
        check(len(ids) == 2 and len(packed) == 1 and len(stopped) == 1,
              f"delivered twice: one Runpod job packed, the other stopped at the claim ({len(packed)} packed, {len(stopped)} stopped)")
        check(s["metadata"].get("runpodJobId") in ids and s["artifact"] is not None, "delivered twice: the export is the packing job's")
    finally:
        api.stop()
        fake.close()


if __name__ == "__main__":
    main()
    finish("api runpod submission")
