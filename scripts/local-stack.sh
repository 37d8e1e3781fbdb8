#!/usr/bin/env bash
# The docker-compose.yml stack without Docker: memvid-export-api and N
# memvid-export-worker processes on this machine.
#
#   scripts/local-stack.sh [--workers N] [--port P] [--root DIR] [--bin DIR] [--model DIR] [--gpu] [--detach]
#   scripts/local-stack.sh stop [--root DIR]
#   scripts/local-stack.sh env <api|worker|worker-gpu> [--port P] [--root DIR] [--model DIR]
#
# Defaults: 1 worker, port 8080, root .local-stack and bin build/bin in the
# repository (paths given on the command line are relative to the current folder).
#
# Environment. Each process gets, in rising precedence: this shell's environment;
# the variables of the repository's .env (compose's env_file); the `environment:`
# map of its compose service (api; worker, or worker-gpu with --gpu), read from
# docker-compose.yml and interpolated as Compose does (${VAR}, ${VAR:-default},
# ${VAR-default}, ${VAR:?error}, nested, $$ for $) against this shell's
# environment over .env; then rewritten by two rules for running outside containers:
#   1. a value that is /data or starts with /data/ has that /data replaced by <root>/data;
#   2. api:8080, 0.0.0.0:8080 and 127.0.0.1:8080, not preceded by [A-Za-z0-9_.-],
#      become 127.0.0.1:<port>.
# Workers also get RUNPOD_POD_ID=local-worker-<i> and MEMVID_EMBED_MODEL_DIR (the
# worker image's ENV): --model, else $MEMVID_EMBED_MODEL_DIR, else the first of
# .cache/models/BAAI/bge-small-en-v1.5 and .cache/models/all-MiniLM-L6-v2.
# `env` prints the compose-derived and added variables a service gets (KEY=VALUE,
# sorted; worker as worker 1).
#
# API key: MEMVID_EXPORT_API_KEY from this shell or .env, else <root>/api-key
# (a random key written on first use). Logs and pids: <root>/logs. In the
# foreground the stack stops on Ctrl-C, TERM, or when any process exits: workers
# first (so they can post their last results), then the api; each gets TERM, then
# KILL after 10 s. --detach leaves it running and writes <root>/stack.pids for `stop`.
# Needs python3 with PyYAML (Debian: python3-yaml) and curl or python3 for the health check.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
compose_file=$repo/docker-compose.yml
dotenv_file=$repo/.env
stop_timeout=10

abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
die() { echo "local-stack: $*" >&2; exit 1; }

# ---- compose environment: parse, interpolate, rewrite (one implementation for every mode) ----
read -r -d '' helper <<'PY' || true
import os, re, sys

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HOSTPORT = re.compile(r"(?<![A-Za-z0-9_.-])(?:api|0\.0\.0\.0|127\.0\.0\.1):8080(?![0-9])")


class Failure(Exception):
    pass


def interpolate(s, env):
    out, i, n = [], 0, len(s)
    while i < n:
        if s[i] != "$":
            out.append(s[i]); i += 1
        elif s.startswith("$$", i):
            out.append("$"); i += 2
        elif s.startswith("${", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if s.startswith("${", j):
                    depth += 1; j += 2; continue
                if s[j] == "}":
                    depth -= 1
                j += 1
            if depth:
                raise Failure(f'unterminated "${{" in "{s}"')
            out.append(expand(s[i + 2:j - 1], env)); i = j
        else:
            m = NAME.match(s, i + 1)
            if m:
                out.append(env.get(m.group(0), "")); i = m.end()
            else:
                out.append("$"); i += 1
    return "".join(out)


def expand(body, env):
    m = NAME.match(body)
    if not m:
        raise Failure(f"invalid interpolation ${{{body}}}")
    name, rest = m.group(0), body[m.end():]
    val = env.get(name)
    if not rest:
        return val or ""
    for op in (":-", ":?", ":+", "-", "?", "+"):
        if rest.startswith(op):
            arg = rest[len(op):]
            break
    else:
        raise Failure(f"invalid interpolation ${{{body}}}")
    present = val is not None and (val != "" or not op.startswith(":"))
    if op.endswith("-"):
        return val if present else interpolate(arg, env)
    if op.endswith("?"):
        if present:
            return val
        raise Failure(f"required variable {name} is missing a value: {interpolate(arg, env)}")
    return interpolate(arg, env) if present else ""


def read_dotenv(path):
    pairs = {}
    if not os.path.isfile(path):
        return pairs
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            if s.startswith("export "):
                s = s[7:].lstrip()
            key, eq, val = s.partition("=")
            key, val = key.strip(), val.strip()
            if not eq or not NAME.fullmatch(key):
                raise Failure(f"{path}:{lineno}: expected KEY=VALUE")
            lookup = {**pairs, **os.environ}
            if val[:1] == "'":
                end = val.find("'", 1)
                if end < 0:
                    raise Failure(f"{path}:{lineno}: unterminated quote")
                val = val[1:end]
            elif val[:1] == '"':
                j, buf = 1, []
                while j < len(val) and val[j] != '"':
                    if val[j] == "\\" and j + 1 < len(val):
                        buf.append({"n": "\n", "t": "\t", "r": "\r"}.get(val[j + 1], val[j + 1])); j += 2
                    else:
                        buf.append(val[j]); j += 1
                if j >= len(val):
                    raise Failure(f"{path}:{lineno}: unterminated quote")
                val = interpolate("".join(buf), lookup)
            else:
                val = interpolate(re.split(r"\s+#", val, maxsplit=1)[0].rstrip(), lookup)
            pairs[key] = val
    return pairs


def service_env(compose, service, env):
    try:
        import yaml
    except ImportError:
        raise Failure("needs PyYAML to read docker-compose.yml (Debian: apt-get install python3-yaml)")
    with open(compose, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    svc = (doc.get("services") or {}).get(service)
    if svc is None:
        raise Failure(f"{compose} has no service {service}")
    raw = svc.get("environment") or {}
    if isinstance(raw, list):
        raw = dict((e.split("=", 1) + [None])[:2] for e in raw)
    out = {}
    for key, val in raw.items():
        if val is None:  # "KEY:" takes the value from the environment, when set
            if key in env:
                out[key] = env[key]
            continue
        if isinstance(val, bool):
            val = "true" if val else "false"
        out[key] = interpolate(str(val), env)
    return out


def rewrite(val, root, port):
    if val == "/data" or val.startswith("/data/"):
        val = root + "/data" + val[len("/data"):]
    return HOSTPORT.sub(f"127.0.0.1:{port}", val)


def emit(pairs):
    for key in sorted(pairs):
        if "\n" in pairs[key]:
            raise Failure(f"{key}: values with line breaks are not supported")
        print(f"{key}={pairs[key]}")


def main(argv):
    mode = argv[0]
    if mode == "dotenv":  # dotenv <file>: its variables, interpolated
        emit(read_dotenv(argv[1]))
    elif mode == "get":  # get <dotenv> <name>: this shell's value, else the .env one
        print(os.environ.get(argv[2]) or read_dotenv(argv[1]).get(argv[2], ""))
    elif mode == "service":  # service <compose> <dotenv> <service> <root> <port>
        compose, dotenv, service, root, port = argv[1:6]
        env = {**read_dotenv(dotenv), **os.environ}
        emit({k: rewrite(v, root, port) for k, v in service_env(compose, service, env).items()})
    else:
        raise Failure(f"unknown helper mode {mode}")


try:
    main(sys.argv[1:])
except (Failure, OSError) as e:
    print(f"local-stack: {e}", file=sys.stderr)
    sys.exit(1)
PY

helper() { python3 -c "$helper" "$@"; }

# Reads "KEY=VALUE" lines from a helper call into the named array; fails when the helper does.
# shellcheck disable=SC2034  # "into" is a reference to the caller's array
load_env() {
  local -n into=$1
  shift
  local out
  out=$(helper "$@") || exit 1
  into=()
  [ -z "$out" ] || mapfile -t into <<<"$out"
}

# ---- arguments ----
cmd=run
case "${1:-}" in
  stop | env) cmd=$1; shift ;;
esac
service=
if [ "$cmd" = env ]; then
  service=${1:-}
  case "$service" in api | worker | worker-gpu) shift ;; *) die "usage: $0 env <api|worker|worker-gpu> [--port P] [--root DIR] [--model DIR]" ;; esac
fi
workers=1
port=8080
root=$repo/.local-stack
bin=$repo/build/bin
model=
gpu=0
detach=0
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) workers=${2:?--workers needs a number}; shift 2 ;;
    --port) port=${2:?--port needs a number}; shift 2 ;;
    --root) root=$(abspath "${2:?--root needs a folder}"); shift 2 ;;
    --bin) bin=$(abspath "${2:?--bin needs a folder}"); shift 2 ;;
    --model) model=$(abspath "${2:?--model needs a folder}"); shift 2 ;;
    --gpu) gpu=1; shift ;;
    --detach) detach=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument \"$1\" (see --help)" ;;
  esac
done
[[ "$workers" =~ ^[0-9]+$ ]] || die "--workers needs a number, got \"$workers\""
if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then die "--port needs a port number, got \"$port\""; fi
root=${root%/}
worker_service=worker
[ "$gpu" = 0 ] || worker_service=worker-gpu

# ---- stopping ----
# Processes are recorded as "name<TAB>pid<TAB>executable path as started".
# stop_group <label> <entry>...: TERM, then KILL what is left after $stop_timeout s.
# With verify_exe=1 (stopping a detached stack) a pid whose command line no
# longer has that path (a reused pid) is left alone.
verify_exe=0
stop_group() {
  local label=$1 entry name pid exe any
  shift
  local -a live=()
  for entry in "$@"; do
    IFS=$'\t' read -r name pid exe <<<"$entry"
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then continue; fi
    if ((verify_exe)) && ! tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -Fxq -- "$exe"; then
      echo "local-stack: pid $pid no longer runs $name; left alone" >&2
      continue
    fi
    kill -TERM "$pid" 2>/dev/null && live+=("$entry")
  done
  ((${#live[@]})) || return 0
  echo "local-stack: stopping $label"
  local deadline=$((SECONDS + stop_timeout))
  while ((SECONDS < deadline)); do
    any=0
    for entry in "${live[@]}"; do
      IFS=$'\t' read -r name pid exe <<<"$entry"
      if kill -0 "$pid" 2>/dev/null; then any=1; fi
    done
    ((any)) || return 0
    sleep 0.2
  done
  for entry in "${live[@]}"; do
    IFS=$'\t' read -r name pid exe <<<"$entry"
    if kill -0 "$pid" 2>/dev/null; then
      echo "local-stack: $name (pid $pid) did not stop in ${stop_timeout} s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

# stop_entries <entry>...: workers first, then the api.
stop_entries() {
  local entry
  local -a ws=() as=()
  for entry in "$@"; do
    case "$entry" in api$'\t'*) as+=("$entry") ;; *) ws+=("$entry") ;; esac
  done
  stop_group workers "${ws[@]}"
  stop_group api "${as[@]}"
}

pids_file=$root/stack.pids
entries=()
[ ! -f "$pids_file" ] || mapfile -t entries <"$pids_file"

if [ "$cmd" = stop ]; then
  verify_exe=1
  ((${#entries[@]})) || die "no detached stack in $root (no $pids_file)"
  stop_entries "${entries[@]}"
  rm -f "$pids_file" "$root"/logs/*.pid
  echo "local-stack: stopped"
  exit 0
fi

# ---- environment ----
key=$(helper get "$dotenv_file" MEMVID_EXPORT_API_KEY) || exit 1
key_source="MEMVID_EXPORT_API_KEY"
if [ -z "$key" ]; then
  key_file=$root/api-key
  if [ ! -s "$key_file" ]; then
    mkdir -p "$root"
    (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$key_file")
  fi
  key=$(<"$key_file")
  key_source=$key_file
fi
export MEMVID_EXPORT_API_KEY="$key"

if [ -z "$model" ]; then
  model=${MEMVID_EMBED_MODEL_DIR:-}
  if [ -z "$model" ]; then
    for cand in "$repo/.cache/models/BAAI/bge-small-en-v1.5" "$repo/.cache/models/all-MiniLM-L6-v2"; do
      if [ -f "$cand/config.json" ]; then model=$cand; break; fi
    done
  fi
fi

dotenv_env=() api_env=() worker_env=() svc_env=()
load_env dotenv_env dotenv "$dotenv_file"
load_env api_env service "$compose_file" "$dotenv_file" api "$root" "$port"
load_env worker_env service "$compose_file" "$dotenv_file" "$worker_service" "$root" "$port"

if [ "$cmd" = env ]; then
  case "$service" in
    api) printf '%s\n' "${api_env[@]}" ;;
    *)
      load_env svc_env service "$compose_file" "$dotenv_file" "$service" "$root" "$port"
      printf '%s\n' "${svc_env[@]}" "RUNPOD_POD_ID=local-worker-1" "MEMVID_EMBED_MODEL_DIR=$model" | sort
      ;;
  esac
  exit 0
fi

# ---- start ----
[ -x "$bin/memvid-export-api" ] || die "$bin/memvid-export-api not found: build first (scripts/build.sh) or pass --bin DIR"
((workers == 0)) || [ -x "$bin/memvid-export-worker" ] || die "$bin/memvid-export-worker not found: build first (scripts/build.sh) or pass --bin DIR"
if ((workers > 0)); then
  if [ -z "$model" ] || [ ! -f "$model/config.json" ]; then
    die "no embedding model for the workers (MEMVID_EMBED_PROVIDER=native loads one at start):" \
      "pass --model DIR or set MEMVID_EMBED_MODEL_DIR; to get one: scripts/docker/fetch-model.sh BAAI/bge-small-en-v1.5" \
      ".cache/models/BAAI/bge-small-en-v1.5 (or scripts/fetch-models.sh for all-MiniLM-L6-v2)"
  fi
fi
for entry in "${entries[@]}"; do
  IFS=$'\t' read -r _ pid _ <<<"$entry"
  if kill -0 "$pid" 2>/dev/null; then die "a detached stack is running from $root: scripts/local-stack.sh stop --root $root"; fi
done
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  die "port $port is in use; choose another with --port"
fi

logs=$root/logs
mkdir -p "$logs" "$root/data"
for kv in "${api_env[@]}"; do
  case "$kv" in MEMVID_EXPORT_ROOT=* | MEMVID_EXPORT_STAGING_ROOT=*) mkdir -p "${kv#*=}" ;; esac
done

running=()
stopped=0
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
  ((stopped)) && return 0
  stopped=1
  stop_entries "${running[@]}"
  rm -f "$logs"/*.pid
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Each process in its own session: the terminal's Ctrl-C and hang-up reach only
# this script, which stops workers before the api.
if command -v setsid >/dev/null; then
  launch=(setsid env)
elif ((detach)); then
  launch=(nohup env)
else
  launch=(env)
fi

# start <name> <binary> <KEY=VALUE>...: the process gets .env's variables, then the given ones.
start() {
  local name=$1 exe=$2 pid
  shift 2
  "${launch[@]}" "${dotenv_env[@]}" "$@" "$exe" >"$logs/$name.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$logs/$name.pid"
  running+=("$name"$'\t'"$pid"$'\t'"$exe")
}

healthy() {
  local url=$1
  if command -v curl >/dev/null; then
    curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null
  else
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$url" 2>/dev/null
  fi
}

url=http://127.0.0.1:$port
start api "$bin/memvid-export-api" "${api_env[@]}"
IFS=$'\t' read -r _ api_pid _ <<<"${running[0]}"
for ((t = 0; ; t++)); do
  healthy "$url/healthz" && break
  if ! kill -0 "$api_pid" 2>/dev/null; then
    tail -n 20 "$logs/api.log" >&2 || true
    die "memvid-export-api exited during start-up; log: $logs/api.log"
  fi
  ((t < 150)) || die "memvid-export-api did not answer $url/healthz within 30 s; log: $logs/api.log"
  sleep 0.2
done
for ((i = 1; i <= workers; i++)); do
  start "worker-$i" "$bin/memvid-export-worker" "${worker_env[@]}" \
    "RUNPOD_POD_ID=local-worker-$i" "MEMVID_EMBED_MODEL_DIR=$model"
done

echo "local-stack: API $url"
echo "local-stack: API key from $key_source"
echo "local-stack: $workers $worker_service process(es), model $model; logs and pids in $logs"
echo "local-stack: submit: curl -sS -H \"Authorization: Bearer \$MEMVID_EXPORT_API_KEY\" -H 'Content-Type: application/json' --data-binary @payload.json $url/v1/exports"

if ((detach)); then
  printf '%s\n' "${running[@]}" >"$pids_file"
  trap - EXIT
  echo "local-stack: detached; stop with: scripts/local-stack.sh stop --root $root"
  exit 0
fi

echo "local-stack: running; Ctrl-C stops it"
set +e
wait -n
status=$?
set -e
for entry in "${running[@]}"; do
  IFS=$'\t' read -r name pid _ <<<"$entry"
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "local-stack: $name exited (status $status); log: $logs/$name.log" >&2
    tail -n 5 "$logs/$name.log" >&2 || true
    break
  fi
done
exit 1
