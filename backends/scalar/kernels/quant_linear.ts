/**
 * Scalar kernel of `quantLinear` (contract in core/ops/quant_linear.ts): `y = x · wᵀ` with `w`
 * read in its storage type (f32, f16, bf16 or any GGUF block type), one weight row at a time.
 *
 * Each weight row is decoded to f32 with llama.cpp's decoders (core/quant) once per call and dotted
 * with every activation row in float64, rounded once to f32 on store. With `activations: "ggml"`
 * the activations are first rounded the way llama.cpp's CPU path rounds them before its dot
 * products (the weight type's `vec_dot_type`: Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL, Q8_1 for
 * Q4_1/Q5_1, Q8_K for the K- and most IQ-quants, f16 for f16 weights, bf16 for bf16), so that
 * logits follow llama.cpp's to within its own f32 accumulation order.
 *
 * @module
 */
import type { KernelCall, KernelFn } from "../../../core/backend/plugin.ts";
import type { QuantLinearAttrs } from "../../../core/backend/attrs.ts";
import type { HostStorage } from "../../../core/backend/host.ts";
import { type BlockDType, byteLength, byteOffset } from "../../../core/dtype.ts";
import { BLOCK_CODECS } from "../../../core/quant/mod.ts";
import { bf16ToF32Row, f16ToF32Row, f32ToBF16Row, f32ToF16Row } from "../../../core/quant/half.ts";

/** The type llama.cpp's CPU path converts activations to for a weight type (`vec_dot_type`). */
export function ggmlActivationType(w: string): BlockDType | "f16" | "bf16" | "f32" {
  switch (w) {
    case "f32":
      return "f32";
    case "f16":
      return "f16";
    case "bf16":
      return "bf16";
    case "q4_1":
    case "q5_1":
      return "q8_1";
    case "q4_0":
    case "q5_0":
    case "q8_0":
    case "iq4_nl":
    case "mxfp4":
      return "q8_0";
    default:
      return "q8_k";
  }
}

/** Decode `n` elements of storage type `d` from `src` into `dst`. */
function decodeRow(d: string, src: Uint8Array, dst: Float32Array): void {
  if (d === "f32") new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength).set(src);
  else if (d === "f16") f16ToF32Row(src, dst);
  else if (d === "bf16") bf16ToF32Row(src, dst);
  else BLOCK_CODECS[d as BlockDType].dequantize(src, dst);
}

/** Round `row` in place through type `t` (quantize, then decode). */
function roundThrough(t: string, row: Float32Array): void {
  if (t === "f32") return;
  const bytes = new Uint8Array(byteLength(t as BlockDType, row.length));
  if (t === "f16") f32ToF16Row(row, bytes);
  else if (t === "bf16") f32ToBF16Row(row, bytes);
  else BLOCK_CODECS[t as BlockDType].quantize!(row, bytes);
  decodeRow(t, bytes, row);
}

const quantLinear: KernelFn = (call: KernelCall<QuantLinearAttrs>) => {
  const [x, w] = call.inputs;
  const y = call.outputs[0];
  const m = x.shape[0], k = x.shape[1], n = w.shape[0];
  const xs = x.storage as HostStorage, ys = y.storage as HostStorage;
  const xa = new Float32Array(xs.buffer, xs.byteOffset + x.offset * 4, m * k);
  const ya = new Float32Array(ys.buffer, ys.byteOffset + y.offset * 4, m * n);
  let acts = xa;
  if (call.attrs.activations === "ggml") {
    const t = ggmlActivationType(w.dtype);
    if (t !== "f32") {
      acts = xa.slice();
      for (let i = 0; i < m; i++) roundThrough(t, acts.subarray(i * k, (i + 1) * k));
    }
  }
  const ws = (w.storage as HostStorage).bytes();
  const rowBytes = byteLength(w.dtype, k);
  const base = byteOffset(w.dtype, w.offset);
  const row = new Float32Array(k);
  for (let j = 0; j < n; j++) {
    const at = base + j * rowBytes;
    decodeRow(w.dtype, ws.subarray(at, at + rowBytes), row);
    for (let i = 0; i < m; i++) {
      const xo = i * k;
      let s = 0;
      for (let c = 0; c < k; c++) s += row[c] * acts[xo + c];
      ya[i * n + j] = s;
    }
  }
};

/** The scalar backend's quantized-linear kernels. */
export const kernels: Record<string, KernelFn> = { quantLinear };
