#!/usr/bin/env bash
# Every GPU test and benchmark in one go, on a machine with an NVIDIA GPU, nvcc
# and CMake but no network and no Boost (the engine builds with MVX_ENGINE_ONLY).
# Needs .cache/gpu from scripts/gpu-prepare.sh (carried with the work tree).
#   1. kernel tests: each CUDA op against the CPU backend's op (fp32/fp16/bf16),
#      then the whole CUDA backend against the CPU backend (MiniLM, real weights);
#   2. benchmark: tokens/s for bge-small and bge-base (random weights of their
#      exact shape, made here) at the fixtures' real length mix and at fixed
#      128 and 512 tokens, batch-1 latency, and cosine against the CPU backend.
set -euo pipefail
cd "$(dirname "$0")/.."
data=.cache/gpu
[ -d "$data" ] || { echo "gpu-check: $data missing: run scripts/gpu-prepare.sh first and carry it"; exit 2; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
arch=$( (nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null || true) | head -1 | tr -d .)
arch=${arch:-90}
jobs=$(nproc)
t0=$(date +%s)
cmake -S . -B build-gpu -DMVX_ENGINE_ONLY=ON -DMVX_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
      -DCMAKE_BUILD_TYPE=Release -DMVX_BUILD_BENCH=OFF >/dev/null
cmake --build build-gpu -j"$jobs" >/dev/null
echo "gpu-check: built for sm_$arch in $(( $(date +%s) - t0 ))s"
bin=build-gpu/bin
models=$data/models
mkdir -p "$models"
for shape in bge-small bge-base; do
  [ -f "$models/random-$shape/model.safetensors" ] ||
    "$bin/mvx-embed" random-model --shape "$shape" --tokenizer-from "$data/all-MiniLM-L6-v2" --seed 1 --dtype f16 \
      --out "$models/random-$shape" >/dev/null
done

echo "== kernel tests"
"$bin/mvx-kernel-tests" "$data/all-MiniLM-L6-v2" "$models/random-bge-small"

echo "== benchmark (JSON per line)"
texts=$data/fixture-texts.bin
for m in "$models/random-bge-small" "$models/random-bge-base" "$data/all-MiniLM-L6-v2"; do
  for prec in fp16 bf16; do
    "$bin/mvx-embed" bench --model "$m" --texts "$texts" --device cuda --precision "$prec" --repeat 3
  done
  "$bin/mvx-embed" bench --model "$m" --texts "$texts" --device cuda --precision fp16 --repeat 3 --max-batch-tokens 65536
  for len in 128 512; do
    "$bin/mvx-embed" bench --model "$m" --device cuda --precision fp16 --repeat 3 --fixed-len "$len" \
      --count $(( 4194304 / len ))
  done
  "$bin/mvx-embed" compare --model "$m" --texts "$texts" --count 200 --device cuda --precision fp16
done
echo "gpu-check: done in $(( $(date +%s) - t0 ))s"
