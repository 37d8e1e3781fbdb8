#!/usr/bin/env bash
# Pack benchmark: both fixtures and a synthetic 100k-node payload, against
# memvid-sdk writing the same frames in the same run. Prints a table and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh -DMVX_BUILD_BENCH=ON
MEMVID_TELEMETRY=0 .venv/bin/python bench/pack_bench.py "$@"
