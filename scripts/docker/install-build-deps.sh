#!/usr/bin/env bash
# Installs the packages that build memvid-export-worker and memvid-export-api:
# the build stages of Dockerfile.worker (Ubuntu 24.04, the CUDA devel image)
# and Dockerfile.api (Debian 12), and scripts/check-images.sh on a Debian 12
# machine. Installs only what is missing; root, or sudo. Leaves the apt lists
# in place: a Dockerfile removes them in the same RUN.
set -euo pipefail

# shellcheck source=/dev/null
. /etc/os-release
case "${VERSION_CODENAME:-}" in
  # Debian 12's default Boost is 1.74, which has no Boost.JSON: take 1.81.
  bookworm) boost=(libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev) ;;
  noble | trixie) boost=(libboost1.83-dev libboost-json1.83-dev libboost-url1.83-dev) ;;
  *)
    echo "install-build-deps: ${PRETTY_NAME:-this system} is not one the images use; trying its default Boost (needs >= 1.81)" >&2
    boost=(libboost-dev libboost-json-dev libboost-url-dev)
    ;;
esac

# librust-blake3-dev carries the official BLAKE3 C sources that cmake/blake3.cmake
# compiles (/usr/share/cargo/registry/blake3-*/c).
pkgs=(build-essential cmake pkg-config "${boost[@]}"
      libzstd-dev libssl-dev libsqlite3-dev libopenblas-dev librust-blake3-dev)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "install-build-deps: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-build-deps: all ${#pkgs[@]} packages present"
fi

if ! compgen -G "/usr/share/cargo/registry/blake3-*/c/blake3.h" >/dev/null; then
  echo "install-build-deps: librust-blake3-dev is installed but has no c/blake3.h under /usr/share/cargo/registry/blake3-*;" \
       "point CMake at the BLAKE3 C sources with -DMVX_BLAKE3_DIR=<dir>" >&2
  exit 1
fi
