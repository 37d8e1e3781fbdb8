"""scripts/local-stack.sh (the docker-compose stack without Docker) with two
workers: both fixtures and a third, semantic export submitted at once give
three capsules memvid-sdk opens; the environment each process really got
(/proc/<pid>/environ) is the compose file's, parsed and interpolated here
independently, after the script's two documented rewrites."""
import json
import os
import re
import subprocess
import tempfile
import threading
import time

import yaml

from apilib import HERE, KEY, SANITIZED, check, finish, fixture_bytes, free_port, open_capsule
import apilib

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SCRIPT = os.path.join(REPO, "scripts", "local-stack.sh")
HOSTPORT = re.compile(r"(?<![A-Za-z0-9_.-])(?:api|0\.0\.0\.0|127\.0\.0\.1):8080(?![0-9])")


def compose_env(service, root, port):
    """The service's environment as docker compose would give it with only
    MEMVID_EXPORT_API_KEY set, then the /data and api:8080 rewrites."""
    doc = yaml.safe_load(open(os.path.join(REPO, "docker-compose.yml")))
    env = doc["services"][service]["environment"]
    given = {"MEMVID_EXPORT_API_KEY": KEY}

    def interp(v):
        v = str(v)
        for _ in range(4):  # nested ${A:-${B}}: innermost first
            v2 = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^${}]*))?\}",
                        lambda m: given.get(m.group(1)) or (m.group(3) if m.group(2) in (":-", "-") else ""), v)
            if v2 == v:
                break
            v = v2
        return v.replace("$$", "$")

    out = {}
    for k, v in env.items():
        v = interp(v)
        if v == "/data" or v.startswith("/data/"):
            v = root + "/data" + v[len("/data"):]
        out[k] = HOSTPORT.sub(f"127.0.0.1:{port}", v)
    return out


def proc_env(pid):
    raw = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    return dict(x.decode().split("=", 1) for x in raw if b"=" in x)


def main():
    root = tempfile.mkdtemp(prefix="mvx-stack-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEMVID_", "RUNPOD_"))}
    env["MEMVID_EXPORT_API_KEY"] = KEY
    model = os.path.join(os.environ.get("MVX_MODELS", os.path.join(REPO, ".cache", "models")), "all-MiniLM-L6-v2")
    r = subprocess.run([SCRIPT, "--workers", "2", "--port", str(port), "--root", root, "--bin", apilib.BIN, "--model", model,
                        "--detach"], env=env, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"scripts/local-stack.sh --workers 2 --detach starts ({r.stderr.strip()[-300:]})")
    check(KEY not in r.stdout + r.stderr, "the script does not print the API key")
    pids = {}
    for line in open(os.path.join(root, "stack.pids")):
        name, pid, _ = line.rstrip("\n").split("\t")
        pids[name] = int(pid)
    check(sorted(pids) == ["api", "worker-1", "worker-2"], f"an api and two workers run ({sorted(pids)})")
    try:
        api = apilib.Api.__new__(apilib.Api)
        api.port, api.url, api.root = port, f"http://127.0.0.1:{port}", root
        end = time.time() + 30
        while time.time() < end:
            st, ready = api.json("GET", "/readyz", key=None)
            if st == 200 and ready.get("workers") == 2:
                break
            time.sleep(0.2)
        check(ready.get("workers") == 2, f"/readyz sees both workers ({ready})")

        print("local stack: three exports at once")
        hexyl = json.loads(fixture_bytes("hexyl.json.zst"))
        semantic = dict(hexyl, projectName="hexyl-semantic")
        n_nodes, n_rels = (30, 10) if SANITIZED else (120, 40)
        semantic["options"] = dict(hexyl["options"], semanticEnabled=True, maxNodeFrames=n_nodes, maxRelationFrames=n_rels)
        bodies = {"hexyl": json.dumps(hexyl).encode(), "memvid": fixture_bytes("memvid.json.zst"),
                  "semantic": json.dumps(semantic).encode()}
        jobs = {}

        def submit(name):
            st, a = api.create(bodies[name])
            jobs[name] = (st, a)
        threads = [threading.Thread(target=submit, args=(n,)) for n in bodies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(all(st == 202 for st, _ in jobs.values()), f"all three accepted ({[st for st, _ in jobs.values()]})")
        final = {n: api.wait(a["jobId"], timeout=300) for n, (st, a) in jobs.items()}
        workers = {s["metadata"].get("worker") for s in final.values()}
        check(all(s["status"] == "completed" for s in final.values()),
              f"all three completed ({[(n, s['status'], (s.get('error') or {}).get('message')) for n, s in final.items()]})")
        check(workers == {"local-worker-1", "local-worker-2"}, f"both workers ran jobs ({sorted(w or '' for w in workers)})")
        for n, s in final.items():
            st, h, data = api.request("GET", f"/v1/exports/{s['jobId']}/download")
            path = os.path.join(root, f"{n}.mv2")
            open(path, "wb").write(data)
            stats, verify = open_capsule(path)
            check(st == 200 and verify["overall_status"] == "passed", f"{n}: memvid-sdk opens and deep-verifies the capsule "
                                                                      f"({stats['frame_count']} frames)")
        emb = final["semantic"]["metadata"]["workerMetrics"].get("embedding", {})
        want = n_nodes + n_rels + 5
        check(emb.get("texts", 0) == want and emb.get("dimension") == 384 and final["semantic"]["metadata"]["workerMetrics"]["vectors"] == want,
              f"the semantic export was embedded by the workers' native model ({emb.get('model')}, {emb.get('texts')} texts)")

        print("local stack: the processes' environment is the compose file's")
        for service, names in (("api", ["api"]), ("worker", ["worker-1", "worker-2"])):
            want = compose_env(service, root, port)
            for name in names:
                got = proc_env(pids[name])
                diff = {k: (v, got.get(k)) for k, v in want.items() if got.get(k) != v}
                check(not diff, f"{name}: the {len(want)} variables of compose service {service} with the same values"
                                f"{'' if not diff else ' - differs: ' + str(diff)}")
        for i in (1, 2):
            got = proc_env(pids[f"worker-{i}"])
            check(got.get("RUNPOD_POD_ID") == f"local-worker-{i}" and got.get("MEMVID_EMBED_MODEL_DIR") == model,
                  f"worker-{i}: its own RUNPOD_POD_ID and the model folder (the image's ENV)")
    finally:
        r = subprocess.run([SCRIPT, "stop", "--root", root], env=env, capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "scripts/local-stack.sh stop stops the stack")
        time.sleep(0.5)
        check(not any(os.path.exists(f"/proc/{p}") and open(f"/proc/{p}/stat").read().split()[2] != "Z" for p in pids.values()),
              "no process of the stack is left")
    finish("local stack")


if __name__ == "__main__":
    main()
