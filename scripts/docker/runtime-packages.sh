#!/usr/bin/env bash
# Prints the Debian/Ubuntu packages that provide the shared libraries the given
# binaries load (per ldd), one per line, sorted: the list a Dockerfile's runtime
# stage installs, computed in its build stage on the same distribution, so the
# names are right for that release (Ubuntu 24.04's t64 renames included).
# Libraries under /usr/local/cuda* are left out: the CUDA runtime image has them.
# Fails when a library is not found or belongs to no package.
#   scripts/docker/runtime-packages.sh <binary>...
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 <binary>..." >&2; exit 2; }

# dpkg knows a file under the path it shipped it at: try the path, its target,
# and the /lib <-> /usr/lib spellings of both (merged-/usr systems).
owner() {
  local path=$1 real cand out
  real=$(readlink -f "$path")
  for cand in "$path" "$real" "/usr$path" "/usr$real" "${path#/usr}" "${real#/usr}"; do
    if out=$(dpkg-query -S "$cand" 2>/dev/null); then
      out=${out%%: /*}        # "pkg:arch[, pkg2:arch]: /path" -> package part
      out=${out%%,*}
      echo "${out%%:*}"
      return 0
    fi
  done
  return 1
}

list_packages() {
  local bin line lib status=0
  for bin in "$@"; do
    [ -x "$bin" ] || { echo "runtime-packages: $bin is not an executable" >&2; exit 2; }
    while read -r line; do
      case "$line" in
        *"=> not found"*) echo "runtime-packages: $bin: ${line%% *} not found" >&2; status=1; continue ;;
        *"=> /"*) lib=${line#*=> }; lib=${lib%% (*} ;;
        /*) lib=${line%% (*} ;;
        *) continue ;;                       # linux-vdso and friends
      esac
      case "$(readlink -f "$lib")" in /usr/local/cuda*) continue ;; esac
      case "$lib" in /usr/local/cuda*) continue ;; esac
      if ! owner "$lib"; then
        echo "runtime-packages: $bin: no package owns $lib" >&2
        status=1
      fi
    done < <(ldd "$bin")
  done
  return "$status"
}

# pipefail: a failure above fails the script after sort has printed the rest.
list_packages "$@" | sort -u
