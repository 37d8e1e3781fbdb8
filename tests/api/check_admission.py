"""Admission and error paths of the real control plane on loopback: the key on
every /v1 route, the body limit before reading, JSON errors with their path,
ids that are not ids, download before ready, query errors, CORS, rate limit,
queue capacity, configuration errors at start, and no secret in the logs."""
import json
import os
import socket
import subprocess
import time

from apilib import API, Api, KEY, check, finish, fixture_bytes

UUID = "0b5a3f7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"


def minimal(nodes=1, rels=1, **over):
    p = {"sessionId": "s1", "projectName": "p", "source": {"type": "folder", "baseName": "tiny", "displayName": "tiny"},
         "nodes": [{"id": f"n{i}", "label": "File", "properties": {"name": f"f{i}.rs", "filePath": f"src/f{i}.rs"}} for i in range(nodes)],
         "relationships": [{"id": f"r{i}", "sourceId": "n0", "targetId": "n0", "type": "CALLS", "confidence": 1.0, "reason": "x"}
                           for i in range(rels)],
         "fileContents": {}, "options": {"semanticEnabled": False, "maxSnippetChars": 1400, "maxNodeFrames": 50000,
                                         "maxRelationFrames": 120000}}
    p.update(over)
    return json.dumps(p).encode()


def raw(api, data, read_timeout=5):
    s = socket.create_connection(("127.0.0.1", api.port), timeout=read_timeout)
    t0 = time.time()
    s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        pass
    s.close()
    return out, time.time() - t0


def main():
    api = Api(env={"MEMVID_EXPORT_MAX_BODY_BYTES": str(1 << 20), "MEMVID_EXPORT_RATE_LIMIT_PER_MINUTE": "0"})
    print("admission: the bearer key on every /v1 route")
    st, a = api.create(minimal())
    check(st == 202, f"a minimal valid export is accepted ({st})")
    job = a["jobId"]
    routes = [("POST", "/v1/exports"), ("GET", f"/v1/exports/{job}"), ("DELETE", f"/v1/exports/{job}"),
              ("GET", f"/v1/exports/{job}/events"), ("GET", f"/v1/exports/{job}/events/stream"),
              ("GET", f"/v1/exports/{job}/download"), ("GET", "/v1/exports/../../etc/passwd"), ("GET", "/v1/nothing")]
    for key, header, label in ((None, None, "no header"), ("wrong-key", None, "a wrong key"),
                               (None, "Basic dXNlcjpwYXNz", "Basic auth"), (None, "bearer " + KEY, "a lower-case scheme")):
        codes = []
        for m, p in routes:
            h = {"Authorization": header} if header else {}
            st, _, body = api.request(m, p, body=b"{}" if m == "POST" else None, headers=h, key=key)
            codes.append((st, json.loads(body)["error"]["code"] if body else None))
        check(all(c == (401, "UNAUTHORIZED") for c in codes), f"{label}: 401 UNAUTHORIZED on all {len(routes)} /v1 routes")
    st, _, body = api.request("GET", f"/v1/exports/{job}", key=None)
    check("Missing Authorization header" in json.loads(body)["error"]["message"], "the 401 message says what to send")

    print("admission: body limit, JSON errors, ids")
    out, dt = raw(api, (f"POST /v1/exports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
                        f"Content-Length: 2000000000\r\n\r\n").encode())
    check(out.startswith(b"HTTP/1.1 413") and b"PAYLOAD_TOO_LARGE" in out and dt < 3,
          f"Content-Length over MEMVID_EXPORT_MAX_BODY_BYTES -> 413 before any body byte ({dt:.2f}s)")
    chunk = b" " * 400000  # valid leading JSON whitespace: only the size is wrong
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
    out, dt = raw(api, (f"POST /v1/exports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
                        f"Transfer-Encoding: chunked\r\n\r\n").encode() + body)
    check(out.startswith(b"HTTP/1.1 413"), f"a chunked body that grows over the limit -> 413 ({out[:12]!r})")
    st, _, b = api.request("POST", "/v1/exports", b'{"sessionId": "s", "nodes": [')
    e = json.loads(b)["error"]
    check(st == 400 and e["code"] == "INVALID_EXPORT_REQUEST", f"truncated JSON -> 400 INVALID_EXPORT_REQUEST ({e['message'][:80]})")
    bad = json.loads(minimal())
    bad["nodes"][0]["id"] = 5
    st, _, b = api.request("POST", "/v1/exports", json.dumps(bad).encode())
    e = json.loads(b)["error"]
    check(st == 400 and "nodes[0].id" in e["message"], f"a wrong type -> 400 naming the path ({e['message'][:80]})")
    st, _, b = api.request("POST", "/v1/exports", minimal(rels=0))
    e = json.loads(b)["error"]
    check(st == 400 and "relationships" in e["message"], f"no relationships -> 400 ({e['message'][:60]})")
    st, _, b = api.request("POST", "/v1/exports", minimal(), headers={"Content-Type": "text/plain"})
    check(st == 415, f"Content-Type text/plain -> 415 ({st})")
    payloads = os.listdir(os.path.join(api.root, "exports", "staging", "payloads"))
    check(payloads == [job + ".json"], f"refused bodies leave nothing staged ({payloads})")
    for p in ["/v1/exports/..%2F..%2Fetc%2Fpasswd", "/v1/exports/../../etc/passwd", "/v1/exports/garbage",
              "/v1/exports/" + UUID.upper(), "/v1/exports/" + UUID, f"/v1/exports/{job}x/events", "/v1/exports/%00",
              f"/v1/exports/{UUID}/download"]:
        st, _, b = api.request("GET", p)
        check(st == 404, f"GET {p} -> 404 ({st} {json.loads(b)['error']['code'] if b else ''})")
    st, _, b = api.request("GET", f"/v1/exports/{job}/download")
    check(st == 409 and json.loads(b)["error"]["code"] == "ARTIFACT_NOT_READY", "download before ready -> 409 ARTIFACT_NOT_READY")
    st, _, b = api.request("GET", f"/v1/exports/{job}/events?sinceSeq=abc")
    check(st == 400 and json.loads(b)["error"]["code"] == "INVALID_QUERY", "sinceSeq=abc -> 400 INVALID_QUERY")
    st, _, b = api.request("GET", f"/v1/exports/{job}/events?sinceSeq=0&limit=0")
    check(st == 200 and len(json.loads(b)["events"]) == 1, "limit is clamped to 1..2000")
    st, h, b = api.request("PUT", f"/v1/exports/{job}")
    check(st == 405 and "GET" in h.get("allow", ""), f"PUT -> 405 with Allow ({h.get('allow')})")
    st, h, b = api.request("OPTIONS", "/v1/exports", key=None, headers={"Origin": "https://app.example",
                                                                         "Access-Control-Request-Method": "POST"})
    check(st == 204 and h.get("access-control-allow-origin") == "*" and "POST" in h.get("access-control-allow-methods", ""),
          "CORS preflight -> 204 with the allow headers")
    out, _ = raw(api, b"GARBAGE\r\n\r\n")
    check(out.startswith(b"HTTP/1.1 400"), "a malformed request line -> 400")
    st, _, b = api.request("GET", "/v2/local/job-take/w1", key="nope")
    check(st == 401, "the worker protocol refuses a wrong worker key")
    st, _, b = api.request("GET", "/healthz", key=None)
    check(st == 200 and json.loads(b)["ok"] is True, "/healthz needs no key")
    api.stop()

    print("admission: rate limit and queue capacity")
    api = Api(env={"MEMVID_EXPORT_RATE_LIMIT_PER_MINUTE": "60", "MEMVID_EXPORT_RATE_LIMIT_BURST": "5",
                   "MEMVID_EXPORT_QUEUE_CAPACITY": "1"})
    st, a = api.create(minimal())
    st, e = api.create(minimal(nodes=2))
    check(st == 503 and e["error"]["code"] == "QUEUE_FULL", f"a full queue -> 503 QUEUE_FULL ({st})")
    statuses = []
    for _ in range(6):
        st, h, _ = api.request("GET", f"/v1/exports/{a['jobId']}")
        statuses.append(st)
    check(statuses[-1] == 429 and h.get("x-ratelimit-limit") == "60" and h.get("x-ratelimit-remaining") == "0"
          and int(h.get("retry-after", "0")) >= 1, f"over the burst -> 429 with X-RateLimit-* and Retry-After ({statuses})")
    api.stop()
    log = open(os.path.join(api.root, "api.log"), "rb").read()
    check(KEY.encode() not in log, "the API key never appears in the log")

    print("admission: configuration errors at start")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MEMVID_", "RUNPOD_"))}
    cases = [({}, "MEMVID_EXPORT_API_KEY is not set"),
             ({"MEMVID_EXPORT_API_KEY": KEY, "MEMVID_EXPORT_BIND_ADDR": "nonsense"}, "MEMVID_EXPORT_BIND_ADDR"),
             ({"MEMVID_EXPORT_API_KEY": KEY, "MEMVID_EXPORT_BACKEND_MODE": "runpod_queue"}, "RUNPOD_ENDPOINT_ID is required"),
             ({"MEMVID_EXPORT_API_KEY": KEY, "MEMVID_EXPORT_BACKEND_MODE": "runpod_queue", "RUNPOD_ENDPOINT_ID": "e"},
              "RUNPOD_API_KEY is required"),
             ({"MEMVID_EXPORT_API_KEY": KEY, "MEMVID_EXPORT_RETENTION_SECONDS": "soon"}, "MEMVID_EXPORT_RETENTION_SECONDS"),
             ({"MEMVID_EXPORT_API_KEY": KEY, "MEMVID_EMBED_PROVIDER": "acme"}, "MEMVID_EMBED_PROVIDER"),
             ({"MEMVID_EXPORT_API_KEY_FILE": "/nonexistent/key"}, "MEMVID_EXPORT_API_KEY_FILE=/nonexistent/key cannot be read"),
             ({"MEMVID_EXPORT_API_KEY": KEY, "MEMVID_EXPORT_ROOT": "/proc/forbidden"}, "cannot create")]
    for env, want in cases:
        r = subprocess.run([API], env={**base, **env}, capture_output=True, text=True, timeout=20)
        check(r.returncode == 2 and want in r.stderr and KEY not in r.stderr,
              f"{want[:40]}: exit 2 with the variable named ({r.stderr.strip()[:110]})")
    finish("api admission")


if __name__ == "__main__":
    main()
