"""Texts for the embedding oracles: the frame texts pack embeds, read from
capsules packed from the real fixtures (selection is deterministic)."""
import hashlib
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../.."))
FIXTURES_DIR = os.environ.get("MVX_FIXTURES_DIR", os.path.join(ROOT, "tests", "fixtures"))
BIN = os.environ.get("MVX_BIN", os.path.join(ROOT, "build/bin"))
MODELS = os.environ.get("MVX_MODELS", os.path.join(ROOT, ".cache/models"))
GOLDEN_DIR = os.path.join(ROOT, "tests/data/embedding-goldens")
FIXTURES = ["hexyl.json.zst", "memvid.json.zst"]
PER_FIXTURE = 600
SEARCH_SAMPLES = 50


def sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def frames_of(fixture, semantic=False):
    """All frames of a fixture's capsule as dicts (title, uri, text, labels...)."""
    tmp = tempfile.mkdtemp(prefix="mvx-embed-")
    out = subprocess.run([os.path.join(BIN, "memvid-export-worker"), "pack", "--payload-ref",
                          os.path.join(FIXTURES_DIR, fixture), "--output-prefix", tmp,
                          "--created-at", "2026-01-01T00:00:00Z", "--no-sidecar"],
                         capture_output=True, text=True, check=True).stdout
    path = json.loads(out)["artifactPath"]
    dump = subprocess.run([os.path.join(BIN, "mvx-dump-frames"), path], capture_output=True, text=True, check=True).stdout
    return json.loads(dump)


def select_texts():
    """PER_FIXTURE texts per fixture spread over the length range, plus the
    SEARCH_SAMPLES node frames of hexyl used for the capsule search check."""
    chosen = []
    search = []
    for fx in FIXTURES:
        frames = frames_of(fx)
        items = sorted({(len(f["text"]), f["uri"], f["text"]) for f in frames})
        step = len(items) / PER_FIXTURE
        picked = [items[int(i * step)] for i in range(PER_FIXTURE)] if len(items) > PER_FIXTURE else items
        chosen += [{"fixture": fx, "uri": u, "text": t} for _, u, t in picked]
        if fx == "hexyl.json.zst":
            counts = {}
            for f in frames:
                counts[f["text"]] = counts.get(f["text"], 0) + 1
            nodes = sorted((f["uri"], f["text"]) for f in frames
                           if f["uri"].startswith("mv2://nodes/") and counts[f["text"]] == 1)
            step = len(nodes) / SEARCH_SAMPLES
            search = [{"uri": nodes[int(i * step)][0], "text": nodes[int(i * step)][1]} for i in range(SEARCH_SAMPLES)]
    return chosen, search


def pack_texts(texts):
    """mvx-embed's TEXTS format: per text a u32 LE byte length and the UTF-8 bytes."""
    out = bytearray()
    for t in texts:
        b = t.encode("utf-8")
        out += len(b).to_bytes(4, "little") + b
    return bytes(out)


def write_texts(path, texts):
    with open(path, "wb") as f:
        f.write(pack_texts(texts))


def model_sha(model_dir):
    h = hashlib.sha256()
    with open(os.path.join(model_dir, "model.safetensors"), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# The models with goldens: folder name under MODELS.
GOLDEN_MODELS = ["all-MiniLM-L6-v2", "random-bge-small"]
