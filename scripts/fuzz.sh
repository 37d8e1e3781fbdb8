#!/usr/bin/env bash
# Runs each libFuzzer target for N seconds (default 60) from the seeds in
# fuzz/corpus/; a crash fails the script and leaves the input in <build>/crashes/.
# The targets are in $MVX_FUZZ_BUILD (default build-asan, the sanitizer tree
# scripts/test.sh makes; any tree configured with clang and -DMVX_FUZZ=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
b="${MVX_FUZZ_BUILD:-build-asan}"
if [ ! -x "$b/bin/fuzz_payload" ]; then
  echo "fuzz.sh: no fuzz targets in $b/bin: run scripts/test.sh, or configure a tree with clang and -DMVX_FUZZ=ON" >&2
  exit 2
fi
mkdir -p "$b/crashes"
for t in ${MVX_FUZZ_TARGETS:-payload roundtrip reader tokenizer safetensors api_routing}; do
  corpus="$b/corpus/$t"
  mkdir -p "$corpus"
  cp -n fuzz/corpus/$t/* "$corpus/" 2>/dev/null || true
  echo "fuzz_$t: ${seconds}s"
  "$b/bin/fuzz_$t" -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 \
      -artifact_prefix="$b/crashes/" "$corpus" 2>&1 | grep -E "stat::number_of_executed_units|ERROR|SUMMARY" || true
  if ls "$b"/crashes/crash-* "$b"/crashes/leak-* "$b"/crashes/timeout-* >/dev/null 2>&1; then
    echo "fuzz_$t found a failing input: $(ls "$b/crashes/")"
    exit 1
  fi
done
