#!/usr/bin/env bash
# Checks the container images without Docker: lints Dockerfile.worker and
# Dockerfile.api, then runs every build step of theirs this machine can run,
# with the same scripts:
#
#   lint         every FROM pinned to a tag other than latest (or a digest); every
#                RUN that installs packages uses --no-install-recommends and removes
#                /var/lib/apt/lists in the same RUN; no ADD of URLs; COPY sources
#                exist; the final stage has a non-root USER and an exec-form
#                ENTRYPOINT; Dockerfile.api has a HEALTHCHECK; apt-get install in
#                scripts/docker/*.sh uses --no-install-recommends
#   deps         scripts/docker/install-build-deps.sh
#   fetch-model  scripts/docker/fetch-model.sh against a Hugging Face stand-in on
#                127.0.0.1 (full model, "none", a model without weights)
#   build        scripts/docker/build.sh worker build-docker-worker (skipped without
#                nvcc) and scripts/docker/build.sh api build-docker-api
#   start        both binaries answer --version
#   runtime      scripts/docker/runtime-packages.sh resolves every library they load
#                (the worker's CUDA module included)
#   compose      scripts/local-stack.sh resolves docker-compose.yml's api and worker environment
#
#   scripts/check-images.sh [--lint-only | --no-build] [--skip-worker] [--skip-deps]
#                           [--worker-build DIR] [--api-build DIR]
#   (--no-build: lint, fetch-model and compose only; --worker-build/--api-build: a tree
#   scripts/docker/build.sh already made with the image's flags, checked instead of
#   building again — scripts/test.sh passes its release tree)
set -euo pipefail
cd "$(dirname "$0")/.."

lint_only=0 no_build=0 skip_worker=0 skip_deps=0 worker_build="" api_build=""
while [ $# -gt 0 ]; do
  case "$1" in
    --lint-only) lint_only=1 ;;
    --no-build) no_build=1 ;;
    --skip-worker) skip_worker=1 ;;
    --skip-deps) skip_deps=1 ;;
    --worker-build) worker_build=$2; shift ;;
    --api-build) api_build=$2; shift ;;
    *) echo "usage: $0 [--lint-only | --no-build] [--skip-worker] [--skip-deps] [--worker-build DIR] [--api-build DIR]" >&2; exit 2 ;;
  esac
  shift
done

passed=0 failed=0 skipped=0
failures=()
# check <name> <command>...: runs it under set -e (so a function stops at its
# first failing command), output indented, and records the result.
check() {
  local name=$1 rc
  shift
  echo "== $name"
  set +e
  (set -e; "$@") 2>&1 | sed 's/^/   /'
  rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1)); echo "   ok"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "   FAILED"
  fi
}
skip() { skipped=$((skipped + 1)); echo "== $1"; echo "   skipped: $2"; }

lint() {
  python3 - "$@" <<'PY'
import glob, json, os, re, sys

def logical_lines(text):
    """Dockerfile instructions with continuations joined: (line number, text)."""
    out, cur, start = [], "", None
    for n, raw in enumerate(text.splitlines(), 1):
        s = raw.rstrip()
        if not s.strip() or s.lstrip().startswith("#"):
            continue
        if start is None:
            start = n
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        out.append((start, (cur + s).strip()))
        cur, start = "", None
    if cur:
        out.append((start, cur.strip()))
    return out

def substitute(s, args):
    def rep(m):
        name = m.group(1) or m.group(2)
        return args.get(name, m.group(0))
    return re.sub(r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)", rep, s)

def sources(rest):
    """COPY/ADD sources (flags dropped, destination dropped)."""
    rest = rest.strip()
    if rest.startswith("["):
        parts = json.loads(rest)
    else:
        parts = rest.split()
    parts = [p for p in parts if not p.startswith("--")]
    return parts[:-1], [p for p in rest.split() if p.startswith("--")]

def lint_dockerfile(path, need_healthcheck):
    errs = []
    text = open(path, encoding="utf-8").read()
    global_args, stages = {}, []
    for n, line in logical_lines(text):
        instr, _, rest = line.partition(" ")
        instr = instr.upper()
        where = f"{path}:{n}"
        if instr == "ARG" and not stages:
            name, eq, val = rest.strip().partition("=")
            if eq:
                global_args[name] = val.strip().strip('"')
            continue
        if instr == "FROM":
            toks = [t for t in rest.split() if not t.startswith("--")]
            image = substitute(toks[0], global_args)
            alias = toks[2] if len(toks) >= 3 and toks[1].upper() == "AS" else None
            stages.append({"name": alias, "user": None, "healthcheck": None, "entrypoint": None})
            if "$" in image:
                errs.append(f"{where}: FROM {toks[0]}: a variable without a default")
            elif image == "scratch" or image in [s["name"] for s in stages[:-1]]:
                pass
            elif "@sha256:" not in image:
                last = image.rsplit("/", 1)[-1]
                tag = last.split(":", 1)[1] if ":" in last else ""
                if not tag or tag == "latest":
                    errs.append(f"{where}: FROM {image}: pin a tag other than latest")
            continue
        if not stages:
            continue
        st = stages[-1]
        if instr == "RUN":
            installs = re.search(r"\bapt-get\s+(?:-\S+\s+)*install\b", rest) or "install-build-deps.sh" in rest
            if re.search(r"\bapt\s+(?:-\S+\s+)*install\b", rest):
                errs.append(f"{where}: use apt-get (stable CLI), not apt")
            if re.search(r"\bapt-get\s+(?:-\S+\s+)*install\b", rest) and "--no-install-recommends" not in rest:
                errs.append(f"{where}: apt-get install without --no-install-recommends")
            if installs and not re.search(r"rm -rf /var/lib/apt/lists/\*?", rest):
                errs.append(f"{where}: a RUN that installs packages must rm -rf /var/lib/apt/lists/* too")
            if re.search(r"\bapt-get\s+update\b", rest) and not installs:
                errs.append(f"{where}: apt-get update without an install in the same RUN")
        elif instr in ("ADD", "COPY"):
            srcs, flags = sources(rest)
            if instr == "ADD" and any(re.match(r"(?i)https?://", s) for s in srcs):
                errs.append(f"{where}: ADD of a URL; download with curl in a RUN (checked, cached layers)")
            if not any(f.startswith("--from") for f in flags):
                for s in srcs:
                    if not re.match(r"(?i)[a-z]+://", s) and not glob.glob(s):
                        errs.append(f"{where}: {instr} source {s} does not exist")
        elif instr == "USER":
            st["user"] = rest.strip()
        elif instr == "HEALTHCHECK":
            st["healthcheck"] = rest.strip()
        elif instr == "ENTRYPOINT":
            st["entrypoint"] = rest.strip()
    if not stages:
        return [f"{path}: no FROM"]
    final = stages[-1]
    user = (final["user"] or "").split(":")[0]
    if user in ("", "root", "0"):
        errs.append(f"{path}: the final stage must switch to a non-root USER")
    if not final["entrypoint"] or not final["entrypoint"].startswith("["):
        errs.append(f"{path}: the final stage needs an exec-form (JSON) ENTRYPOINT")
    if need_healthcheck and (not final["healthcheck"] or final["healthcheck"].upper().startswith("NONE")):
        errs.append(f"{path}: the final stage needs a HEALTHCHECK")
    return errs

errors = []
for path in sys.argv[1:]:
    errors += lint_dockerfile(path, need_healthcheck=os.path.basename(path) == "Dockerfile.api")
    print(f"{path}: {len(logical_lines(open(path).read()))} instructions")
for script in sorted(glob.glob("scripts/docker/*.sh")):
    for n, line in enumerate(open(script, encoding="utf-8"), 1):
        if re.search(r"\bapt-get\b.*\binstall\b", line) and not line.lstrip().startswith("#") \
                and "--no-install-recommends" not in line:
            errors.append(f"{script}:{n}: apt-get install without --no-install-recommends")
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY
}

# A stand-in for huggingface.co on 127.0.0.1 (python's http.server), then the three cases.
fetch_model_check() {
  local tmp srv port rc
  tmp=$(mktemp -d)
  mkdir -p "$tmp/hub/acme/tiny/resolve/main/1_Pooling" "$tmp/hub/acme/noweights/resolve/main"
  echo '{"model_type":"bert"}' >"$tmp/hub/acme/tiny/resolve/main/config.json"
  head -c 4096 /dev/urandom >"$tmp/hub/acme/tiny/resolve/main/model.safetensors"
  printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n' >"$tmp/hub/acme/tiny/resolve/main/vocab.txt"
  echo '{"pooling_mode_cls_token":true}' >"$tmp/hub/acme/tiny/resolve/main/1_Pooling/config.json"
  cp "$tmp/hub/acme/tiny/resolve/main/config.json" "$tmp/hub/acme/noweights/resolve/main/"
  python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$tmp/hub" >"$tmp/server.log" 2>&1 &
  srv=$!
  for _ in $(seq 50); do
    port=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$tmp/server.log" | head -n 1)
    [ -z "$port" ] || break
    sleep 0.1
  done
  # The cases run in a subshell so that the server is stopped whatever happens.
  set +e
  (
    set -e
    [ -n "$port" ] || { echo "the stand-in server did not start"; exit 1; }
    export HF_ENDPOINT=http://127.0.0.1:$port
    scripts/docker/fetch-model.sh acme/tiny "$tmp/models/acme/tiny"
    for f in config.json model.safetensors vocab.txt 1_Pooling/config.json; do
      cmp "$tmp/hub/acme/tiny/resolve/main/$f" "$tmp/models/acme/tiny/$f"
    done
    [ ! -e "$tmp/models/acme/tiny/tokenizer.json" ]
    scripts/docker/fetch-model.sh none "$tmp/models/none"
    [ ! -e "$tmp/models/none" ]
    if scripts/docker/fetch-model.sh acme/noweights "$tmp/models/acme/noweights"; then
      echo "a model without model.safetensors was accepted"; exit 1
    fi
    [ ! -e "$tmp/models/acme/noweights" ] && [ ! -e "$tmp/models/acme/noweights.partial" ]
  )
  rc=$?
  set -e
  kill "$srv" 2>/dev/null || true
  wait "$srv" 2>/dev/null || true
  rm -rf "$tmp"
  return "$rc"
}

version_check() {
  local bin=$1 out
  out=$("$bin" --version)
  echo "$out"
  [[ "$out" == "$(basename "$bin") "* ]]
}

runtime_check() {
  local pkgs p
  pkgs=$(scripts/docker/runtime-packages.sh "$@")
  echo "$pkgs" | tr '\n' ' '
  echo
  for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || { echo "$p is not installed"; return 1; }
  done
}

compose_check() {
  local tmp rc
  tmp=$(mktemp -d)
  set +e
  (
    set -e
    export MEMVID_EXPORT_API_KEY=check-images
    scripts/local-stack.sh env api --root "$tmp" --port 18080 >"$tmp/api.env"
    scripts/local-stack.sh env worker --root "$tmp" --port 18080 --model "$tmp" >"$tmp/worker.env"
    scripts/local-stack.sh env worker-gpu --root "$tmp" --port 18080 --model "$tmp" >"$tmp/worker-gpu.env"
    grep -x "MEMVID_EXPORT_BACKEND_MODE=local_queue" "$tmp/api.env"
    grep -x "MEMVID_EXPORT_STAGING_ROOT=$tmp/data/exports/staging" "$tmp/api.env" "$tmp/worker.env"
    # shellcheck disable=SC2016  # a literal $ID: the worker substitutes it
    grep -xF 'RUNPOD_WEBHOOK_GET_JOB=http://127.0.0.1:18080/v2/local/job-take/$ID?gpu=local' "$tmp/worker.env"
    grep -x "MEMVID_EMBED_DEVICE=cuda" "$tmp/worker-gpu.env"
  )
  rc=$?
  set -e
  rm -rf "$tmp"
  return "$rc"
}

# image_checks <api|worker> [tree]: build with the image's step (or reuse a tree it
# made), then the binary starts and its runtime libraries resolve.
image_checks() {
  local what=$1 tree=$2
  if [ -n "$tree" ]; then
    skip "build $what" "reusing $tree"
  else
    tree=build-docker-$what
    check "build $what" scripts/docker/build.sh "$what" "$tree"
  fi
  check "start $what" version_check "$tree/bin/memvid-export-$what"
  if [ "$what" = worker ]; then
    # The worker image also ships the CUDA backend module (Dockerfile.worker).
    check "runtime $what" runtime_check "$tree/bin/memvid-export-$what" "$tree/bin/libmvx-cuda.so"
  else
    check "runtime $what" runtime_check "$tree/bin/memvid-export-$what"
  fi
}

check lint lint Dockerfile.worker Dockerfile.api
if ((!lint_only)); then
  check fetch-model fetch_model_check
  check compose compose_check
fi
if ((!lint_only && !no_build)); then
  if ((skip_deps)); then skip deps "--skip-deps"; else check deps scripts/docker/install-build-deps.sh; fi
  image_checks api "$api_build"
  if ((skip_worker)); then
    skip "build worker" "--skip-worker"
  elif ! command -v "${CUDACXX:-nvcc}" >/dev/null && [ ! -x /usr/local/cuda/bin/nvcc ]; then
    skip "build worker" "no nvcc on this machine"
  else
    image_checks worker "$worker_build"
  fi
fi

echo "check-images: $passed passed, $failed failed, $skipped skipped"
if ((failed)); then
  echo "check-images: failed: ${failures[*]}" >&2
  exit 1
fi
