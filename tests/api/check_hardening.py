"""The control plane under hostile load and bad input, on loopback:

- descriptor exhaustion: `ulimit -n 256` and 300 idle connections — the server
  neither spins nor floods its log, a busy stream stays open, and /healthz
  answers at once (the connection idle longest makes room);
- a download whose folder was swapped for a link after the job completed is
  refused (covered in C++: test_handlers.cpp), and sinceSeq=2^64-1 replays nothing.
"""
import json
import socket
import time

from apilib import KEY, Api, check, finish, fixture_bytes


def healthz_seconds(port, timeout=5):
    t0 = time.time()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return time.time() - t0, data.split(b"\r\n", 1)[0]


def descriptor_exhaustion():
    api = Api(env={"MEMVID_EXPORT_RATE_LIMIT_PER_MINUTE": "0"}, max_fds=256)
    try:
        st, body = api.json("POST", "/v1/exports", fixture_bytes("hexyl.json.zst"))
        job = body["jobId"]
        # A busy connection: an SSE stream (it must survive the flood).
        stream = socket.create_connection(("127.0.0.1", api.port), timeout=10)
        stream.sendall(f"GET /v1/exports/{job}/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\r\n".encode())
        first = stream.recv(65536)
        check(b" 200 " in first.split(b"\r\n", 1)[0], "an SSE stream is open before the flood")
        idle = []
        for _ in range(300):
            try:
                idle.append(socket.create_connection(("127.0.0.1", api.port), timeout=5))
            except OSError:
                break
        check(len(idle) == 300, f"300 idle connections opened ({len(idle)})")
        time.sleep(1)
        cpu0, log0 = api.cpu_seconds(), api.log_bytes()
        time.sleep(10)
        cpu, logged = api.cpu_seconds() - cpu0, api.log_bytes() - log0
        check(cpu <= 1.0, f"server CPU over 10 s of 300 idle connections: {cpu:.2f} s (limit 1 s)")
        check(logged <= 100_000, f"log written meanwhile: {logged} bytes (limit 100 kB)")
        secs, status = healthz_seconds(api.port)
        check(status.endswith(b"200 OK") and secs < 1.0, f"/healthz under the flood: {status.decode(errors='replace')} in {secs:.3f} s")
        stream.settimeout(5)
        try:
            more = stream.recv(65536)
            alive = bool(more)
        except OSError:
            alive = False
        check(alive, "the busy SSE stream was not closed to make room (it still gets data)")
        closed = 0
        for s in idle:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    closed += 1
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        check(closed > 0, f"idle connections closed first under pressure: {closed} of 300")
        for s in idle:
            s.close()
        stream.close()
        secs, status = healthz_seconds(api.port)
        check(status.endswith(b"200 OK") and secs < 1.0, f"/healthz after the flood: {secs:.3f} s")
    finally:
        api.stop()


def hostile_queries():
    api = Api()
    try:
        st, body = api.json("POST", "/v1/exports", fixture_bytes("hexyl.json.zst"))
        job = body["jobId"]
        st, page = api.json("GET", f"/v1/exports/{job}/events?sinceSeq=18446744073709551615")
        check(st == 200 and page["events"] == [], "sinceSeq=2^64-1 replays nothing (it used to wrap to seq 1)")
    finally:
        api.stop()


def take_by_departed_poller():
    """A worker that closes its long poll does not take the next job: another
    worker gets it at once, as attempt 1."""
    api = Api(env={"MEMVID_LOCAL_QUEUE_WAIT_MS": "4000"})
    try:
        gone = socket.create_connection(("127.0.0.1", api.port), timeout=5)
        gone.sendall(f"GET /v2/local/job-take/gone HTTP/1.1\r\nHost: x\r\nAuthorization: {KEY}\r\n\r\n".encode())
        time.sleep(0.3)
        gone.close()  # as a worker does on SIGTERM
        time.sleep(0.2)
        st, body = api.json("POST", "/v1/exports", fixture_bytes("hexyl.json.zst"))
        job = body["jobId"]
        time.sleep(1.5)  # the departed poll would have taken it by now
        t0 = time.time()
        st, h, data = api.request("GET", "/v2/local/job-take/w2", headers={"Authorization": KEY}, key=None)
        took = time.time() - t0
        got = json.loads(data) if st == 200 else {}
        check(st == 200 and got.get("id") == f"{job}-a1" and took < 1.0,
              f"the next worker takes it at once as attempt 1 ({st}, {got.get('id')}, {took:.2f} s)")
        st, s = api.json("GET", f"/v1/exports/{job}")
        check(s["metadata"].get("worker") == "w2", f"leased to w2, not to the departed poller ({s['metadata'].get('worker')})")
    finally:
        api.stop()


if __name__ == "__main__":
    descriptor_exhaustion()
    hostile_queries()
    take_by_departed_poller()
    finish("api hardening")
