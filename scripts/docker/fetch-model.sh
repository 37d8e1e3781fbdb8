#!/usr/bin/env bash
# Downloads a Hugging Face model folder for the native embedder:
#
#   scripts/docker/fetch-model.sh <hf-id> <dest> [revision]
#   scripts/docker/fetch-model.sh BAAI/bge-small-en-v1.5 /models/BAAI/bge-small-en-v1.5
#
# <hf-id> "none" does nothing. <dest> is the model folder itself; one that
# already has config.json and model.safetensors is left as it is. Required:
# config.json, model.safetensors and tokenizer.json or vocab.txt; the
# sentence-transformers files (pooling, maximum length) and the tokenizer side
# files are fetched when the repository has them. Files are downloaded into
# <dest>.partial and moved into place when all are there.
# Environment: HF_ENDPOINT (default https://huggingface.co); HF_TOKEN, or
# HF_TOKEN_FILE naming a file that holds it, for gated or private models.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then echo "usage: $0 <hf-id|none> <dest> [revision]" >&2; exit 2; fi
id=$1
dest=${2%/}
rev=${3:-main}
endpoint=${HF_ENDPOINT:-https://huggingface.co}
endpoint=${endpoint%/}

if [ "$id" = none ]; then
  echo "fetch-model: EMBED_MODEL=none, no model fetched"
  exit 0
fi
if ! [[ "$id" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$ ]]; then
  echo "fetch-model: \"$id\" is not a Hugging Face model id (org/name)" >&2
  exit 2
fi
if [ -f "$dest/config.json" ] && [ -f "$dest/model.safetensors" ]; then
  echo "fetch-model: $dest already has a model; remove it to fetch again"
  exit 0
fi

required=(config.json model.safetensors)
optional=(tokenizer.json vocab.txt tokenizer_config.json special_tokens_map.json
          modules.json 1_Pooling/config.json sentence_bert_config.json)

part="$dest.partial"
rm -rf "$part"
mkdir -p "$part"
headers=$(mktemp)
finished=0
trap 'rm -f "$headers"; [ "$finished" = 1 ] || rm -rf "$part"' EXIT
chmod 600 "$headers"
token=${HF_TOKEN:-}
if [ -z "$token" ] && [ -n "${HF_TOKEN_FILE:-}" ] && [ -s "$HF_TOKEN_FILE" ]; then
  token=$(tr -d '\r\n' <"$HF_TOKEN_FILE")
fi
# The token goes through a header file, never onto a command line.
[ -z "$token" ] || printf 'Authorization: Bearer %s\n' "$token" >"$headers"

# fetch <file> <required:0|1>: 0 when downloaded, 1 when absent and optional.
fetch() {
  local file=$1 need=$2 url code
  url="$endpoint/$id/resolve/$rev/$file"
  mkdir -p "$(dirname "$part/$file")"
  code=$(curl -sSL --proto '=https,http' --retry 5 --retry-delay 2 --retry-all-errors --connect-timeout 20 \
              -H "@$headers" -o "$part/$file" -w '%{http_code}' "$url") || {
    echo "fetch-model: $url: download failed (curl exit $?)" >&2
    exit 1
  }
  case "$code" in
    200) return 0 ;;
    404)
      rm -f "$part/$file"
      if [ "$need" = 1 ]; then
        echo "fetch-model: $id has no $file at revision $rev" \
             "(the native engine needs config.json, model.safetensors and tokenizer.json or vocab.txt)" >&2
        exit 1
      fi
      return 1
      ;;
    401 | 403)
      echo "fetch-model: $url answered HTTP $code: the model does not exist, or it is gated or private" \
           "(accept its terms on Hugging Face and pass a token: HF_TOKEN, or --secret id=hf_token for docker build)" >&2
      exit 1
      ;;
    *)
      echo "fetch-model: $url answered HTTP $code" >&2
      exit 1
      ;;
  esac
}

for f in "${required[@]}"; do fetch "$f" 1; done
for f in "${optional[@]}"; do fetch "$f" 0 || true; done
if [ ! -f "$part/tokenizer.json" ] && [ ! -f "$part/vocab.txt" ]; then
  echo "fetch-model: $id has neither tokenizer.json nor vocab.txt at revision $rev" >&2
  exit 1
fi

find "$part" -mindepth 1 -type d -empty -delete
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$part" "$dest"
finished=1
echo "fetch-model: $id@$rev -> $dest"
(cd "$dest" && find . -type f | sort | xargs sha256sum)
