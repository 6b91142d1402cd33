#!/usr/bin/env bash
# Regenerates io/onnx/onnx_pb.ts from the onnx wheel's onnx.proto with buf + protoc-gen-es
# (both from npm, installed into the git-ignored .cache/onnx-gen). Deterministic: the output is
# formatted with `deno fmt`, so a rerun on the same onnx.proto leaves the file unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${APRENDER_PYTHON:-.venv-ref/bin/python}"
gen=.cache/onnx-gen
if [ ! -x "$gen/node_modules/.bin/protoc-gen-es" ] || [ ! -x "$gen/node_modules/.bin/buf" ]; then
  mkdir -p "$gen"
  [ -f "$gen/package.json" ] || echo '{"name":"onnx-gen","private":true}' > "$gen/package.json"
  (cd "$gen" && npm install --no-audit --no-fund @bufbuild/buf@1.75.0 \
    @bufbuild/protoc-gen-es@2.17.0 @bufbuild/protobuf@2.17.0 >/dev/null)
fi
proto="$("$py" -c 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "onnx.proto"))')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/proto/onnx"
cp "$proto" "$work/proto/onnx/onnx.proto"
cat > "$work/buf.gen.yaml" <<YAML
version: v2
plugins:
  - local: $PWD/$gen/node_modules/.bin/protoc-gen-es
    out: out
    opt: [target=ts, import_extension=ts]
YAML
(cd "$work" && PATH="$PWD/../$gen/node_modules/.bin:$PATH" \
  "$OLDPWD/$gen/node_modules/.bin/buf" generate proto --template buf.gen.yaml)
cp "$work/out/onnx/onnx_pb.ts" io/onnx/onnx_pb.ts
deno fmt -q io/onnx/onnx_pb.ts
echo "io/onnx/onnx_pb.ts from $proto ($(wc -l < io/onnx/onnx_pb.ts) lines)"
