"""Shared helpers for the oracle tests: memvid's own reader (memvid-sdk) checks our files."""
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("MEMVID_TELEMETRY", "0")

WORKER = os.environ.get("MVX_WORKER", "")
WRITE_DOCS = os.environ.get("MVX_WRITE_DOCS", "")
# The repository's own test data (tests/fixtures): GitNexus payloads and golden capsules.
FIXTURES = os.environ.get("MVX_FIXTURES_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))

failures = []


def check(cond, what):
    status = "ok  " if cond else "FAIL"
    print(f"  [{status}] {what}")
    if not cond:
        failures.append(what)


def finish(name):
    if failures:
        print(f"{name}: {len(failures)} check(s) failed")
        sys.exit(1)
    print(f"{name}: all checks passed")


def load_fixture(name):
    out = subprocess.run(["zstd", "-dc", os.path.join(FIXTURES, name)], check=True, capture_output=True).stdout
    return json.loads(out)


def pack(payload_path, out_dir, created_at="2026-01-01T00:00:00Z"):
    r = subprocess.run([WORKER, "pack", "--payload-ref", payload_path, "--output-prefix", out_dir,
                        "--created-at", created_at], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"pack failed ({r.returncode}): {r.stdout} {r.stderr}")
    return json.loads(r.stdout)


def node_uri(n):
    label = n["label"]
    if label == "Community":
        return "mv2://communities/" + n["id"]
    if label == "Process":
        return "mv2://processes/" + n["id"]
    return "mv2://nodes/" + n["id"]


def node_track(label):
    return {"Community": "communities", "Process": "processes", "File": "files"}.get(label, "nodes/" + label)


def tmpdir():
    return tempfile.mkdtemp(prefix="mvx-oracle-")
