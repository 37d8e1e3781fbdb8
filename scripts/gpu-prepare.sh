#!/usr/bin/env bash
# Prepares .cache/gpu for scripts/gpu-check.sh (the GPU machine has no network
# and no Boost): all-MiniLM-L6-v2 in fp16 (~45 MB) and 4,000 frame texts of the
# two fixtures (the real length mix). Then, on the GPU machine:
#   run(command="scripts/gpu-check.sh", carry=[".cache/gpu"])
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/fetch-models.sh
mkdir -p .cache/gpu
build/bin/mvx-embed convert --model .cache/models/all-MiniLM-L6-v2 --dtype f16 --out .cache/gpu/all-MiniLM-L6-v2 >/dev/null
rm -f .cache/gpu/all-MiniLM-L6-v2/README.md .cache/gpu/all-MiniLM-L6-v2/data_config.json .cache/gpu/all-MiniLM-L6-v2/vocab.txt
.venv/bin/python - <<'PY'
import sys
sys.path.insert(0, "tests/oracle")
import embed_common as ec
texts = []
for fx in ec.FIXTURES:
    texts += [f["text"] for f in ec.frames_of(fx)]
step = len(texts) / 4000
ec.write_texts(".cache/gpu/fixture-texts.bin", [texts[int(i * step)] for i in range(4000)])
PY
du -sh .cache/gpu
