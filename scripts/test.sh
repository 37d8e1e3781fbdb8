#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. the suite (Catch2 unit tests, memvid-sdk oracles, embedding oracles, the
#      control plane on loopback) on a Release build made by the worker image's own
#      build step (scripts/docker/build.sh worker, CUDA kernels included when nvcc is
#      present) plus the tests,
#   2. the images' other steps without Docker (scripts/check-images.sh: lint, model
#      fetch, compose environment, the api image's build, runtime libraries),
#   3. the same suite on an ASan + UBSan build (clang, MVX_SANITIZE), whose tree
#      also holds the libFuzzer targets,
#   4. each libFuzzer target briefly (MVX_FUZZ_SECONDS, default 8; 0 skips),
#   and first, the format check (scripts/format.sh --check).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
jobs="${JOBS:-2}"
# Compiler cache for every tree (host, CUDA): a rebuild of unchanged sources,
# here or in the next CI run on this machine, costs seconds.
if command -v ccache >/dev/null; then
  export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_CUDA_COMPILER_LAUNCHER=ccache
  ccache --zero-stats >/dev/null || true
fi
summary=()

echo "== Format (.clang-format)"
./scripts/format.sh --check
summary+=("format: the tree follows .clang-format")

run_suite() {  # <build dir> <label>
  local log
  log=$(mktemp)
  (cd "$1" && ctest --output-on-failure -j"$jobs" 2>&1) | tee "$log"
  local status=${PIPESTATUS[0]}
  summary+=("$2: $(grep -E 'tests passed, [0-9]+ tests failed out of' "$log" | tail -1)")
  rm -f "$log"
  return "$status"
}

echo "== Release build (the worker image's build step, plus the tests) + suite"
release_args="-DMVX_BUILD_TESTS=ON -DMVX_BUILD_BENCH=ON -DMVX_WARNINGS_AS_ERRORS=ON"
if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  # CI compiles one real architecture (MVX_CI_CUDA_ARCHS); the image's full list is
  # the same script with its default.
  CUDA_ARCHS="${MVX_CI_CUDA_ARCHS:-90-real}" MVX_CMAKE_ARGS="$release_args" BUILD_TARGET=all JOBS="$jobs" \
    ./scripts/docker/build.sh worker build >/dev/null
  worker_tree=(--worker-build build)
else
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMVX_CUDA=OFF $release_args >/dev/null
  cmake --build build -j"$jobs"
  worker_tree=(--skip-worker)
fi
./scripts/fetch-models.sh   # the random bge-small-shape model needs the built mvx-embed
run_suite build release

echo "== Images without Docker (scripts/check-images.sh)"
# With the release tree's warning flags the compile lines equal the release
# tree's, so ccache serves the api's objects from it (the api links no CUDA or BLAS).
MVX_CMAKE_ARGS="-DMVX_WARNINGS_AS_ERRORS=ON" JOBS="$jobs" ./scripts/docker/build.sh api build-docker-api >/dev/null
./scripts/check-images.sh "${worker_tree[@]}" --api-build build-docker-api
summary+=("images: scripts/check-images.sh passed")

echo "== Sanitizer tree (clang: ASan + UBSan, and the libFuzzer targets) + suite"
# One tree for both: the suite runs on the fuzzers' instrumented libraries.
# -O1 -g1: the sanitizers' findings with line numbers, at a third of the compile
# time of -O2 -g (Beast and Asio dominate it).
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" \
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DMVX_SANITIZE=ON -DMVX_FUZZ=ON \
      -DMVX_BUILD_BENCH=OFF -DMVX_CUDA=OFF >/dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite build-asan sanitizers
unset ASAN_OPTIONS UBSAN_OPTIONS

fuzz_seconds="${MVX_FUZZ_SECONDS:-8}"
if [ "$fuzz_seconds" != 0 ]; then
  echo "== libFuzzer targets, ${fuzz_seconds}s each"
  MVX_FUZZ_BUILD=build-asan ./scripts/fuzz.sh "$fuzz_seconds"
  summary+=("fuzz: 6 targets ran ${fuzz_seconds}s each without a crash")
fi

if command -v ccache >/dev/null; then
  summary+=("ccache: $(ccache --print-stats 2>/dev/null | awk -F'\t' '$1=="direct_cache_hit"||$1=="preprocessed_cache_hit"{h+=$2} $1=="cache_miss"{m=$2} END{printf "%d hits, %d misses", h, m}')")
fi
echo "== summary"
printf '%s\n' "${summary[@]}"
