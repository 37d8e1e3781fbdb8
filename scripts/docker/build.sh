#!/usr/bin/env bash
# The CMake configure and build that the Docker images run, usable without Docker:
#
#   scripts/docker/build.sh worker <build-dir>   memvid-export-worker, CUDA kernels + CPU fallback
#   scripts/docker/build.sh api <build-dir>      memvid-export-api, no CUDA
#
# The binary lands in <build-dir>/bin. Environment:
#   CUDA_ARCHS  worker only: CMAKE_CUDA_ARCHITECTURES (default below). Entries this
#               nvcc cannot build (nvcc --list-gpu-code / --list-gpu-arch) are dropped
#               with a note; none left is an error.
#   CUDACXX     nvcc to use (default: nvcc on PATH, else /usr/local/cuda/bin/nvcc)
#   JOBS        parallel build jobs (default: nproc)
#   MVX_CMAKE_ARGS  extra CMake arguments after the image's own (scripts/test.sh
#               adds the tests: its release tree is this exact configuration)
#   BUILD_TARGET    what to build (default: the image's binary; "all" for everything)
set -euo pipefail

# sm_80 A100, sm_86 A40/A6000, sm_89 L4/L40S/RTX 6000 Ada, sm_90 H100/H200,
# sm_100 B200; compute_100 PTX for newer parts (RTX PRO 6000 Blackwell, sm_120,
# JIT-compiles it on first launch).
readonly default_archs="80-real;86-real;89-real;90-real;100-real;100-virtual"

usage() { echo "usage: $0 <worker|api> <build-dir>" >&2; exit 2; }
[ $# -eq 2 ] || usage
what=$1
build_dir=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
jobs=${JOBS:-$(nproc)}

# Keeps the entries of a ';' list that nvcc can build: "N-real" needs sm_N,
# "N-virtual" needs compute_N, a bare "N" needs both ("Na"/"Nf" count as N);
# "native"/"all*" pass.
supported_archs() {
  local nvcc=$1 list=$2 codes archs item num kind ok
  local -a kept=()
  codes=$("$nvcc" --list-gpu-code)
  archs=$("$nvcc" --list-gpu-arch)
  IFS=';' read -ra items <<<"$list"
  for item in "${items[@]}"; do
    [ -n "$item" ] || continue
    num=${item%%-*}
    kind=${item#"$num"}
    num=${num%[af]}
    case "$item" in
      native | all | all-major) kept+=("$item"); continue ;;
    esac
    case "$kind" in
      -real) grep -qx "sm_$num" <<<"$codes" && ok=1 || ok=0 ;;
      -virtual) grep -qx "compute_$num" <<<"$archs" && ok=1 || ok=0 ;;
      "") { grep -qx "sm_$num" <<<"$codes" && grep -qx "compute_$num" <<<"$archs"; } && ok=1 || ok=0 ;;
      *) ok=0 ;;
    esac
    if [ "$ok" = 1 ]; then
      kept+=("$item")
    else
      echo "build.sh: $nvcc cannot build CUDA architecture $item; dropped" >&2
    fi
  done
  local IFS=';'
  echo "${kept[*]}"
}

common=(-DCMAKE_BUILD_TYPE=Release -DMVX_BUILD_TESTS=OFF -DMVX_BUILD_BENCH=OFF)
read -ra extra <<<"${MVX_CMAKE_ARGS:-}"
target_args() { [ "${BUILD_TARGET:-}" = all ] || echo "--target ${BUILD_TARGET:-$1}"; }
case "$what" in
  worker)
    nvcc=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
    [ -x "$nvcc" ] || { echo "build.sh: nvcc not found (set CUDACXX or put the CUDA toolkit's bin on PATH)" >&2; exit 1; }
    archs=$(supported_archs "$nvcc" "${CUDA_ARCHS:-$default_archs}")
    [ -n "$archs" ] || { echo "build.sh: none of the CUDA architectures \"${CUDA_ARCHS:-$default_archs}\" can be built by $nvcc" >&2; exit 1; }
    echo "build.sh: worker, CUDA architectures $archs"
    cmake -S "$root" -B "$build_dir" "${common[@]}" -DMVX_CUDA=ON -DMVX_BLAS=ON \
      -DCMAKE_CUDA_COMPILER="$nvcc" "-DCMAKE_CUDA_ARCHITECTURES=$archs" "${extra[@]}"
    # shellcheck disable=SC2046  # target_args is one option or none
    cmake --build "$build_dir" $(target_args memvid-export-worker) -j "$jobs"
    ;;
  api)
    cmake -S "$root" -B "$build_dir" "${common[@]}" -DMVX_CUDA=OFF -DMVX_BLAS=OFF "${extra[@]}"
    # shellcheck disable=SC2046
    cmake --build "$build_dir" $(target_args memvid-export-api) -j "$jobs"
    ;;
  *) usage ;;
esac
