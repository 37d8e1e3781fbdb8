"""golden1.json written by our writer decodes field by field like the reference
golden1_min.mv2 / golden1_default.mv2 (../shared/tools/mv2/mv2dump.py decoder),
and memvid-sdk reads our files."""
import os
import subprocess
import sys

import memvid_sdk

from common import SHARED, WRITE_DOCS, check, finish, tmpdir

sys.path.insert(0, os.path.join(SHARED, "tools", "mv2"))
import mv2dump  # noqa: E402


def decode(path):
    data = open(path, "rb").read()
    header = mv2dump.parse_header(data)
    import struct
    toc_len, = struct.unpack_from("<Q", data, len(data) - 48)
    toc = mv2dump.dec_struct(mv2dump.R(data[len(data) - 56 - toc_len: len(data) - 56]), "Toc")
    return header, toc, data


def diff(a, b, path="Toc"):
    out = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            out += diff(a.get(k), b.get(k), f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            out += diff(x, y, f"{path}[{i}]")
    elif a != b:
        out.append(f"{path}: ours={a!r} golden={b!r}")
    return out


def main():
    gdir = os.path.join(SHARED, "fixtures", "mv2-golden")
    work = tmpdir()
    for name, flags in (("golden1_min.mv2", ["--no-search-text", "--no-native-lex"]), ("golden1_default.mv2", [])):
        ours = os.path.join(work, name)
        subprocess.run([WRITE_DOCS, os.path.join(gdir, "golden1.json"), ours] + flags, check=True, capture_output=True)
        h1, t1, d1 = decode(ours)
        h2, t2, d2 = decode(os.path.join(gdir, name))
        fields = diff(t1, t2)
        fields += diff({k: v for k, v in h1.items()}, {k: v for k, v in h2.items()}, "header")
        for f in fields:
            print("   ", f)
        check(not fields, f"{name}: every TOC and header field decodes equal")
        check(d1 == d2, f"{name}: byte-identical ({len(d1)} bytes)")
        mem = memvid_sdk.use("basic", ours, read_only=True, enable_vec=True)
        check(mem.verify(ours, deep=True)["overall_status"] == "passed", f"{name}: memvid verify passes on ours")
        hits = mem.find("uniqtok0", k=3, mode="lex")["hits"]
        check(bool(hits) and hits[0]["uri"] == "mv2://corpus/astronomy/0", f"{name}: lexical find")
        vh = mem.find("", mode="sem", query_embedding=[0.01211, -0.069759, 0.036044, 0.025891], k=1)["hits"]
        check(bool(vh) and vh[0]["frame_id"] == 0, f"{name}: vector search")


if __name__ == "__main__":
    main()
    finish("oracle golden")
