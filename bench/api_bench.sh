#!/usr/bin/env bash
# Control-plane benchmark: wrk on GET /v1/exports/{id} against nginx serving the
# same JSON (same run), and a ~100 MB POST (MB/s, peak RSS). Installs wrk and
# nginx from Debian when missing. Arguments go to bench/api_bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"
./scripts/build.sh
MEMVID_TELEMETRY=0 .venv/bin/python bench/api_bench.py build/bin "$@"
