#!/usr/bin/env bash
# Runs each libFuzzer target (build-fuzz/, see scripts/test.sh) for N seconds
# (default 60) from the seeds in fuzz/corpus/; a crash fails the script and
# leaves the input in build-fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
mkdir -p build-fuzz/crashes
for t in ${MVX_FUZZ_TARGETS:-payload roundtrip reader tokenizer safetensors api_routing}; do
  corpus="build-fuzz/corpus/$t"
  mkdir -p "$corpus"
  cp -n fuzz/corpus/$t/* "$corpus/" 2>/dev/null || true
  echo "fuzz_$t: ${seconds}s"
  ./build-fuzz/bin/fuzz_$t -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 \
      -artifact_prefix=build-fuzz/crashes/ "$corpus" 2>&1 | grep -E "stat::number_of_executed_units|ERROR|SUMMARY" || true
  if ls build-fuzz/crashes/crash-* build-fuzz/crashes/leak-* build-fuzz/crashes/timeout-* >/dev/null 2>&1; then
    echo "fuzz_$t found a failing input: $(ls build-fuzz/crashes/)"
    exit 1
  fi
done
