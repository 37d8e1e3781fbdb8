#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. the suite (Catch2 unit tests + memvid-sdk oracle tests + embedding oracles) on a
#      Release build (with the CUDA kernels compiled when nvcc is present),
#   2. the same suite on an ASan + UBSan build (MVX_SANITIZE),
#   3. each libFuzzer target briefly (MVX_FUZZ_SECONDS, default 12; 0 skips).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
jobs="${JOBS:-2}"
summary=()

run_suite() {  # <build dir> <label>
  local log
  log=$(mktemp)
  (cd "$1" && ctest --output-on-failure -j"$jobs" 2>&1) | tee "$log"
  local status=${PIPESTATUS[0]}
  summary+=("$2: $(grep -E 'tests passed, [0-9]+ tests failed out of' "$log" | tail -1)")
  rm -f "$log"
  return "$status"
}

echo "== Release build + suite"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMVX_WARNINGS_AS_ERRORS=ON >/dev/null
cmake --build build -j"$jobs"
./scripts/fetch-models.sh   # the random bge-small-shape model needs the built mvx-embed
run_suite build release

echo "== ASan + UBSan build + suite"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMVX_SANITIZE=ON -DMVX_BUILD_BENCH=OFF -DMVX_CUDA=OFF >/dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite build-asan sanitizers
unset ASAN_OPTIONS UBSAN_OPTIONS

fuzz_seconds="${MVX_FUZZ_SECONDS:-12}"
if [ "$fuzz_seconds" != 0 ]; then
  echo "== libFuzzer targets, ${fuzz_seconds}s each"
  cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
        -DMVX_FUZZ=ON -DMVX_BUILD_TESTS=OFF -DMVX_BUILD_BENCH=OFF -DMVX_CUDA=OFF >/dev/null
  cmake --build build-fuzz -j"$jobs" --target fuzz_payload fuzz_roundtrip fuzz_reader fuzz_tokenizer fuzz_safetensors
  ./scripts/fuzz.sh "$fuzz_seconds"
  summary+=("fuzz: 5 targets ran ${fuzz_seconds}s each without a crash")
fi

echo "== summary"
printf '%s\n' "${summary[@]}"
