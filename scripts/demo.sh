#!/usr/bin/env bash
# Quick start: install what is missing, build, pack the bundled GitNexus export
# (samples/hexyl.json.zst, the hexyl repository) into a memvid capsule, check
# it, and search it with memvid's own reader.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
out=out/demo
rm -rf "$out"
mkdir -p "$out"
echo "== pack"
./build/bin/memvid-export-worker pack --payload-ref samples/hexyl.json.zst --output-prefix "$out" --job-id demo | tee "$out/result.json"
capsule=$(.venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["artifactPath"])' "$out/result.json")
echo "== inspect (our validating reader)"
./build/bin/memvid-export-worker inspect "$capsule" --frames 2
echo "== search (memvid's reader)"
MEMVID_TELEMETRY=0 .venv/bin/python scripts/search.py "$capsule" "${1:-border style}"
